"""The reader fuzz: seeded cases (cases.py) run by worker processes (worker.py) under a
memory cap and a time limit per case; every answer is judged.

    python tests/fuzz/run.py --cases 10000 [--seed 0] [--workers 2] [--save-dir DIR]
    python tests/fuzz/run.py --seed 0 --only 1234        # replay one case, verbose

A case passes when the CLI exits 0 or 1 with a report, or 2 with exactly one line
`logitcheck: error: ...` that is not an internal error or out of memory; with no
traceback, within the time limit, within the memory cap, writing nothing into its working
directory and leaving nothing in its temp dir. tests/test_fuzz.py runs a slice in CI.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import queue
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):  # run as a script: make `tests.fuzz` importable
    sys.path.insert(0, str(ROOT))

from tests.fuzz.cases import Case, make_case  # noqa: E402

MEMORY_CAP = 2 << 30


@dataclass
class Failure:
    index: int
    kind: str
    args: list[str]
    problem: str


@dataclass
class Summary:
    cases: int = 0
    seconds: float = 0.0
    exits: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    slowest: float = 0.0


def yaml_available() -> bool:
    return importlib.util.find_spec("logitcheck.batch.config") is not None


def judge(case: Case, answer: dict) -> str | None:
    """What is wrong with this answer, or None."""
    if answer.get("exception"):
        return f"exception escaped the CLI:\n{answer['exception']}"
    code, out, err = answer["exit"], answer["stdout"], answer["stderr"]
    if answer.get("changed"):
        return f"an input was changed or removed: {answer['changed']}"
    if case["kind"] == "output-is-input" and code != 2:
        return f"an output naming an input (or two outputs one file) exited {code}, not 2"
    injected = injection(case, out, err)
    if injected:
        return injected
    if "Traceback" in out or "Traceback" in err:
        return f"traceback printed:\n{err[-2000:]}"
    if answer["written"]:
        return f"wrote files it was not asked to: {answer['written']}"
    if answer["tmp_left"]:
        return f"left files in the temp dir: {answer['tmp_left']}"
    if code == 2:
        lines = err.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("logitcheck: error: "):
            return f"exit 2 without a one-line message: {err[:500]!r}"
        message = lines[0].removeprefix("logitcheck: error: ")
        if message.startswith("internal error") or "internal error (" in message:
            return f"internal error: {lines[0]}"
        if "out of memory" in message:
            return f"memory beyond the cap: {lines[0]}"
        if out:
            return f"exit 2 with output on stdout: {out[:200]!r}"
        return None
    if code not in (0, 1):
        return f"exit code {code}: {err[:500]!r}"
    if case["args"][0] == "inspect" and code != 0:
        return f"inspect exited {code}"
    if "--format" in case["args"] and case["args"][case["args"].index("--format") + 1] == "json":
        try:
            json.loads(out)
        except ValueError:
            return f"exit {code} but stdout is not JSON: {out[:200]!r}"
    elif not (out or err):
        return f"exit {code} with no report"
    return None


_RAW = ("\x1b", "\x07", "\x00", "\x0b", "\x17", "\x85", "\u202e", "\u2028", "\r")


def injection(case: Case, out: str, err: str) -> str | None:
    """A control character, or a line that GitHub would read as a workflow command, that
    came from an input (the tool's own output has neither: no colour off a terminal)."""
    for name, text in (("stdout", out), ("stderr", err)):
        raw = sorted({repr(c) for c in _RAW if c in text})
        if raw:
            return f"raw control character(s) {', '.join(raw)} on {name}: {text[:300]!r}"
    args = case["args"]
    github = "--format" in args and args[args.index("--format") + 1] == "github"
    for ln in err.splitlines() + ([] if github else out.splitlines()):
        if ln.lstrip().startswith("::"):
            return f"a line that is a workflow command: {ln[:200]!r}"
    if github:
        import re

        for ln in out.splitlines():
            command = re.fullmatch(r"::(error|warning|notice) [^:]*::(.*)", ln)
            if not command or "::" in command.group(2):
                return f"a forged or broken workflow command: {ln[:200]!r}"
    return None


class Worker:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        env = dict(os.environ, TMPDIR=str(self.tmp), PYTHONPATH=str(ROOT),
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   LOGITCHECK_FUZZ_MEMORY=str(MEMORY_CAP))
        env.pop("LOGITCHECK_DEBUG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=str(self.root),
            text=True,
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # our own child, by its handle
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    pipe.close()
            self.proc = None

    def run(self, case: Case, timeout: float) -> dict | str:
        """The worker's answer, or what went wrong ('hang ...', 'died ...')."""
        if self.proc is None:
            self.start()
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        work = self.root / "case"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        for name, data in case["files"].items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_bytes(data)
        special = case.get("special", {})
        for name in special.get("fifos", []):
            os.mkfifo(work / name)
        for name, target in special.get("symlinks", {}).items():
            os.symlink(target, work / name)
        for name, target in special.get("hardlinks", {}).items():
            os.link(work / target, work / name)
        request = {"dir": str(work), "args": case["args"], "shrink": special.get("shrink")}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            ready = sel.select(timeout)
        if not ready:
            self.stop()
            return f"hang: no answer within {timeout:g} s"
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.stop()
            return f"died: worker exited with {code} (killed by the memory cap or a crash?)"
        return json.loads(line)


def run(cases: int, seed: int = 0, workers: int = 2, timeout: float = 20.0, first: int = 0,
        save_dir: Path | None = None, log=None) -> Summary:
    summary = Summary()
    with_yaml = yaml_available()
    todo: queue.Queue[int] = queue.Queue()
    for i in range(first, first + cases):
        todo.put(i)
    lock = threading.Lock()
    start = time.perf_counter()

    def slot(k: int, root: Path) -> None:
        worker = Worker(root / f"w{k}")
        try:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                with lock:  # warnings filters (cases.py) are process-wide: one at a time
                    case = make_case(seed, i, with_yaml)
                # the first case of a worker pays for its imports
                limit = timeout + (30 if worker.proc is None else 0)
                answer = worker.run(case, limit)
                problem = answer if isinstance(answer, str) else judge(case, answer)
                with lock:
                    summary.cases += 1
                    summary.kinds[case["kind"]] = summary.kinds.get(case["kind"], 0) + 1
                    if isinstance(answer, dict):
                        key = str(answer["exit"])
                        summary.exits[key] = summary.exits.get(key, 0) + 1
                        summary.slowest = max(summary.slowest, answer["seconds"])
                    if problem:
                        summary.failures.append(Failure(i, case["kind"], case["args"], problem))
                        if save_dir is not None:
                            _save(save_dir / f"case-{seed}-{i}", case, problem)
                    if log and summary.cases % 500 == 0:
                        log(f"{summary.cases} cases, {len(summary.failures)} failures, "
                            f"{time.perf_counter() - start:.0f} s")
        finally:
            worker.stop()

    with tempfile.TemporaryDirectory(prefix="logitcheck-fuzz-") as root:
        threads = [threading.Thread(target=slot, args=(k, Path(root))) for k in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    summary.seconds = time.perf_counter() - start
    summary.failures.sort(key=lambda f: f.index)
    return summary


def _save(where: Path, case: Case, problem: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    for name, data in case["files"].items():
        (where / name).write_bytes(data)
    (where / "case.json").write_text(json.dumps({"args": case["args"], "kind": case["kind"],
                                                 "special": case.get("special"),
                                                 "problem": problem}, indent=1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--first", type=int, default=0, help="index of the first case")
    p.add_argument("--only", type=int, default=None, help="replay one case and show it")
    p.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    p.add_argument("--save-dir", type=Path, default=None, help="keep failing cases here")
    args = p.parse_args(argv)
    if args.only is not None:
        case = make_case(args.seed, args.only, yaml_available())
        print(f"kind: {case['kind']}\nargs: {case['args']}")
        print(f"files: {[(n, len(d)) for n, d in case['files'].items()]}")
        args.cases, args.first, args.workers = 1, args.only, 1
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    s = run(args.cases, args.seed, args.workers, args.timeout, args.first, args.save_dir, log)
    print(f"cases: {s.cases}  seconds: {s.seconds:.1f}  slowest case: {s.slowest:.2f} s  "
          f"failures: {len(s.failures)}  yaml: {'yes' if yaml_available() else 'skipped'}")
    print("exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(s.exits.items())))
    print("kinds: " + ", ".join(f"{k}: {v}" for k, v in sorted(s.kinds.items())))
    for f in s.failures[:50]:
        print(f"\n--- case {f.index} ({f.kind}) {' '.join(f.args)}\n{f.problem}")
    return 1 if s.failures else 0


if __name__ == "__main__":
    sys.exit(main())
