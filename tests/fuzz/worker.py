"""Runs fuzz cases in-process, one after another, under a memory cap.

Protocol: one JSON request per line on stdin ({"dir", "args"}), one JSON answer per line
on the original stdout. The parent (run.py) enforces the time limit per case by killing
this process; the address-space cap (RLIMIT_AS) is set before numpy is imported, so a file
that makes logitcheck allocate beyond it ends in MemoryError, which the parent flags.
"""

from __future__ import annotations

import os
import resource
import sys


def snapshot(skip: str | None) -> dict[str, str]:
    """Every regular file under the case directory (not through links) -> its digest."""
    import hashlib
    import stat

    out = {}
    for root, _, names in os.walk("."):
        for n in names:
            path = os.path.join(root, n)
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or os.path.normpath(path) == skip:
                continue
            with open(path, "rb") as f:
                out[path] = hashlib.sha256(f.read()).hexdigest()
    return out


def run_with_shrink(args: list[str], shrink: dict) -> dict:
    """The CLI in its own process (its real main: the bus-error handler), with the file
    truncated `after` seconds into the run, as another process might."""
    import subprocess
    import threading
    import time

    proc = subprocess.Popen([sys.executable, "-m", "logitcheck", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cut = threading.Timer(shrink["after"], os.truncate, (shrink["file"], shrink["to"]))
    cut.start()
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        cut.cancel()
        time.sleep(0)
    return {"exit": proc.returncode, "stdout": out[:1_000_000], "stderr": err[:4000],
            "exception": None}


def main() -> None:
    cap = int(os.environ.get("LOGITCHECK_FUZZ_MEMORY", str(2 << 30)))
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything written to fd 1 directly cannot garble the protocol

    import json
    import tempfile
    import time
    import traceback

    from click.testing import CliRunner

    from logitcheck.cli.app import cli

    tmp = tempfile.gettempdir()  # the parent points TMPDIR at a directory of our own
    for line in sys.stdin:
        request = json.loads(line)
        os.chdir(request["dir"])
        before = sorted(os.listdir("."))
        shrink = request.get("shrink")
        digests = snapshot(shrink["file"] if shrink else None)
        start = time.perf_counter()
        try:
            if shrink:
                answer = run_with_shrink(request["args"], shrink)
                raise _Done
            result = CliRunner().invoke(cli, request["args"], catch_exceptions=True)
            exc = result.exception
            error = None
            if exc is not None and not isinstance(exc, SystemExit):
                error = "".join(traceback.format_exception(exc))[-3000:]
            answer = {"exit": result.exit_code, "stdout": result.stdout[:1_000_000],
                      "stderr": result.stderr[:4000], "exception": error}
        except _Done:
            pass
        except BaseException as exc:  # noqa: BLE001 - report anything, the parent judges
            answer = {"exit": None, "stdout": "", "stderr": "",
                      "exception": "".join(traceback.format_exception(exc))[-3000:]}
        answer["seconds"] = time.perf_counter() - start
        answer["written"] = sorted(set(os.listdir(".")) - set(before))
        answer["tmp_left"] = sorted(os.listdir(tmp))
        after = snapshot(shrink["file"] if shrink else None)
        answer["changed"] = sorted(p for p, d in digests.items() if after.get(p) != d)
        os.chdir("/")
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


class _Done(Exception):
    """The answer is complete (a subprocess ran the case)."""


if __name__ == "__main__":
    main()
