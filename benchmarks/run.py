"""Speed and memory of ``logitcheck analyze`` against torch, scipy and the exp limit.

Generates seeded logits and labels (.npy, written block by block into a temporary
directory that is removed at the end, also on Ctrl-C), then measures, each run in a fresh
subprocess whose peak RSS is its own (GNU time's ``%M``; see run_measured), with the
tools interleaved rep by rep so that machine noise hits them alike:

- ``read``: the file's raw read speed (``readinto`` a 16 MiB buffer; warm page cache);
- ``logitcheck (process)``: ``logitcheck analyze F --labels L --format json -o R``
  (R a file in the temporary directory), wall time including interpreter start (exit 0
  and 1 are fine, anything else aborts);
- ``logitcheck.analyze``: a child imports logitcheck, then times ``analyze()`` alone;
- ``logitcheck.analyze, portable kernel``: the same with ``LOGITCHECK_SIMD=portable``: the
  kernel's portable C (what ARM and other compilers run; on x86-64 built for AVX2+FMA, as
  compilers build it for NEON), not its x86 SIMD code;
- ``logitcheck.analyze, numpy path``: the same with ``LOGITCHECK_KERNEL=numpy``: no compiled
  kernel (an install without a compiler or a wheel);
- ``torch F.cross_entropy``: 2 threads, ``np.load(mmap_mode="r")`` -> ``torch.from_numpy``
  -> ``F.cross_entropy(x, y)``, load included; float16 is upcast with ``x.float()``
  (what autocast does for cross_entropy; on half directly torch's mean overflows to inf);
- ``scipy log_softmax``: ``scipy.special.log_softmax(x, axis=1)``, gather, mean; load included;
- ``exp limit``: ``torch.exp`` on 2 threads over the array already in memory, one exp per
  element, compute only: the faster of 4 MiB row chunks into one reused buffer (the input
  read once, nothing written back) and one call into a prefaulted full-size output. No
  streaming loss can go faster.

Each time is the median of ``--reps`` runs (default 5) after one warm-up read of the file.
GB/s is logits bytes (1 GB = 1e9 B) over the median time. The targets (issue 9) are
judged on ``logitcheck.analyze`` (in-process, like the torch, scipy and limit timings,
which exclude their imports) and on the peak RSS of the ``logitcheck`` process:

- at least 2x torch's throughput on every float32 shape, at least 1x on float16;
- at least 50 % of the exp limit on the float32 shapes with C >= 1000;
- peak RSS at most 256 MiB for a file of any size (``--big``: a float32 (N, 1000) file
  larger than 55 % of RAM and 12 GiB, run once);
- the portable kernel (issue 23): at least 2x torch on the float32 shapes with C >= 1000,
  at least 1x on 1M x 10; the numpy path: at least 1x torch on 200k x 1000 float32;
- ``logitcheck analyze`` on a 100 x 10 file starts in under 2x the time of
  ``python -c "import numpy, rich, click"`` (medians of ``--startup-reps``, default 10).

Run it from anywhere; it measures whichever ``logitcheck`` the interpreter imports::

    python benchmarks/run.py [--reps 5] [--quick] [--big] [--markdown FILE] [--json FILE]

Exit status: 0 when the run completed (whatever the targets say), 2 when a tool failed,
130 when interrupted; the tables are written after every shape, so a cut-short run keeps
what finished.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = 20240901
BLOCK_BYTES = 64 * 1024 * 1024  # generator and writer block: big writes, bounded memory
READ_BYTES = 16 * 1024 * 1024
EXP_CHUNK_BYTES = 4 * 1024 * 1024  # fits the caches of 2 cores; measured best of 1-64 MiB
TORCH_THREADS = 2
RSS_TARGET_MIB = 256
BIG_MIN_BYTES = 14 * 10**9
MiB = 1024 * 1024

TOOLS = {  # key -> label in the tables
    "read": "read (raw bytes)",
    "cli": "logitcheck (process)",
    "api": "logitcheck.analyze",
    "api_portable": "logitcheck.analyze, portable kernel",
    "api_numpy": "logitcheck.analyze, numpy path",
    "torch": "torch F.cross_entropy",
    "scipy": "scipy log_softmax",
    "limit": "exp limit (torch.exp)",
}
NEEDS = {"torch": "torch", "limit": "torch", "scipy": "scipy"}


@dataclass(frozen=True)
class Case:
    rows: int
    classes: int
    dtype: str

    @property
    def itemsize(self) -> int:
        return 2 if self.dtype == "float16" else 4

    @property
    def nbytes(self) -> int:
        return self.rows * self.classes * self.itemsize

    @property
    def name(self) -> str:
        return f"{self.rows}x{self.classes}-{self.dtype}"

    @property
    def shape(self) -> str:
        return f"{self.rows:,} × {self.classes:,}"


FULL = [Case(1_000_000, 10, "float32"), Case(200_000, 1_000, "float32"),
        Case(20_000, 32_000, "float32"), Case(200_000, 1_000, "float16")]
QUICK = [Case(20_000, 10, "float32"), Case(2_000, 1_000, "float32"),
         Case(100, 32_000, "float32"), Case(2_000, 1_000, "float16")]


# --------------------------------------------------------------------------- data


def _header(f: Any, shape: tuple[int, ...], dtype: str) -> None:
    import numpy as np

    np.lib.format.write_array_header_1_0(f, {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False, "shape": shape})


def write_case(case: Case, logits: Path, labels: Path, seed: int = SEED) -> None:
    """Trained-looking logits, written block by block: a pool of standard normal rows
    (generating normals runs at ~50 M/s here, far too slow for 14 GB), each row drawn
    from it scaled by a per-row temperature in [0.5, 3] and shifted by N(0, 1), plus a
    margin at the label: U(0, 4), and U(6, 12) more on a fifth of the rows (confident
    ones). float16 is rounded from float32 (it then overflows the naive softmax: realistic)."""
    import numpy as np

    rng = np.random.default_rng([seed, case.rows, case.classes])
    c = case.classes
    pool = rng.standard_normal((max(1, (4 * MiB) // c), c), dtype=np.float32)
    block = max(1, BLOCK_BYTES // (4 * c))
    with open(logits, "wb") as fz, open(labels, "wb") as fy:
        _header(fz, (case.rows, c), case.dtype)
        _header(fy, (case.rows,), "int64")
        for start in range(0, case.rows, block):
            n = min(block, case.rows - start)
            z = pool[rng.integers(0, pool.shape[0], n)]
            z *= rng.uniform(0.5, 3.0, (n, 1)).astype(np.float32)
            z += rng.standard_normal((n, 1), dtype=np.float32)
            y = rng.integers(0, c, n, dtype=np.int64)
            margin = rng.uniform(0.0, 4.0, n)
            sure = rng.random(n) < 0.2
            margin[sure] += rng.uniform(6.0, 12.0, int(sure.sum()))
            z[np.arange(n), y] += margin.astype(np.float32)
            (z if case.dtype == "float32" else z.astype(case.dtype)).tofile(fz)
            y.tofile(fy)


def read_through(path: Path) -> float:
    """Seconds to read the whole file; also the warm-up that fills the page cache."""
    buf = bytearray(READ_BYTES)
    view = memoryview(buf)
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(view):
            pass
    return time.perf_counter() - t0


def cached_fraction(path: Path) -> float | None:
    """Share of the file's pages in the page cache (mincore on a mapping never touched);
    None where that cannot be asked (not Linux, no libc)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int, ctypes.c_long]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        size = path.stat().st_size
        page = os.sysconf("SC_PAGE_SIZE")
        pages = (size + page - 1) // page
        with open(path, "rb") as f:
            addr = libc.mmap(None, size, 1, 1, f.fileno(), 0)  # PROT_READ, MAP_SHARED
            if addr in (None, ctypes.c_void_p(-1).value):
                return None
            try:
                vec = (ctypes.c_ubyte * pages)()
                if libc.mincore(ctypes.c_void_p(addr), size, vec) != 0:
                    return None
                return sum(v & 1 for v in bytes(vec)) / pages
            finally:
                libc.munmap(ctypes.c_void_p(addr), size)
    except (OSError, AttributeError):
        return None


# --------------------------------------------------------------------------- children


def child(tool: str, logits: str, labels: str, threads: int | None, out: str) -> None:
    """One measurement inside a fresh interpreter; writes {"seconds": ..., ...} to out."""
    import warnings

    import numpy as np

    info: dict[str, Any] = {}
    if tool == "read":
        seconds = read_through(Path(logits))
    elif tool in ("api", "api_portable", "api_numpy"):
        import logitcheck
        from logitcheck.compute import kernel

        want = {"api_portable": "portable", "api_numpy": None}.get(tool, kernel.SIMD)
        if kernel.SIMD != want:  # the environment did not select the code asked for
            raise SystemExit(f"{tool}: the kernel runs {kernel.SIMD}, not {want}")

        settings = logitcheck.Settings(threads=threads) if threads else logitcheck.Settings()
        # logitcheck imports what an analysis needs on its first call: load it outside the
        # timing (as `import torch` is), with a 4 x 3 file beside the input
        warm = Path(out).with_suffix(".warm.npy")
        np.save(warm, np.array([[1.0, -2.0, 0.5]] * 4, dtype=np.float32))
        logitcheck.analyze(str(warm), None, settings)
        warm.unlink()
        t0 = time.perf_counter()
        report = logitcheck.analyze(logits, labels, settings)
        seconds = time.perf_counter() - t0
        info = {"kind": report.kind.name, "findings": [f.code for f in report.findings],
                "timings": report.timings, "kernel": report.metrics.get("kernel_code")}
    elif tool in ("torch", "limit"):
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(TORCH_THREADS)
        torch.exp(torch.ones(1 << 16))  # start the thread pool outside the timing
        # a read-only mmap gives a non-writable tensor; torch warns, we only read it
        warnings.filterwarnings("ignore", message=".*non-writable.*")
        if tool == "torch":
            t0 = time.perf_counter()
            x = torch.from_numpy(np.load(logits, mmap_mode="r"))
            y = torch.from_numpy(np.load(labels))
            loss = F.cross_entropy(x.float() if x.dtype == torch.float16 else x, y).item()
            seconds = time.perf_counter() - t0
            info = {"loss": loss}
        else:
            # the faster of two ways to do one exp per element: 4 MiB row chunks into one
            # reused buffer (nothing written back to memory; fastest on a quiet machine),
            # and one call into a prefaulted full-size output (one parallel region: on a
            # busy machine the chunks' many short regions wait on preempted threads)
            x = torch.from_numpy(np.load(logits))
            rows = max(1, EXP_CHUNK_BYTES // (x.shape[1] * x.element_size()))
            buf = torch.empty((rows, x.shape[1]), dtype=x.dtype)
            t0 = time.perf_counter()
            for start in range(0, x.shape[0], rows):
                part = x[start:start + rows]
                torch.exp(part, out=buf[: part.shape[0]])
            chunked = time.perf_counter() - t0
            del buf
            full = torch.zeros_like(x)  # zeros: its pages faulted in before the timing
            t0 = time.perf_counter()
            torch.exp(x, out=full)
            whole = time.perf_counter() - t0
            seconds = min(chunked, whole)
            info = {"chunked_s": chunked, "whole_s": whole}
    elif tool == "scipy":
        import scipy.special

        t0 = time.perf_counter()
        x = np.load(logits, mmap_mode="r")
        y = np.load(labels)
        lp = scipy.special.log_softmax(x, axis=1)
        loss = float(-lp[np.arange(len(y)), y].mean())
        seconds = time.perf_counter() - t0
        info = {"loss": loss}
    else:
        raise SystemExit(f"unknown tool {tool}")
    Path(out).write_text(json.dumps({"seconds": seconds, **info}))


# --------------------------------------------------------------------------- running

class ToolFailed(RuntimeError):
    pass


#: Every child's environment. numpy's OpenBLAS starts a thread per core that spins for
#: about 0.1 s after numpy is imported, taking a core from whichever tool runs first (the
#: in-process logitcheck.analyze, whose imports take 0.2 s; torch's take 3 s); none of the
#: tools timed calls numpy's BLAS, and the logitcheck command sets the same for itself.
CHILD_ENV = {**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
for _var in ("LOGITCHECK_SIMD", "LOGITCHECK_KERNEL"):  # the default code unless a tool asks
    CHILD_ENV.pop(_var, None)
#: the code each logitcheck.analyze tool runs
TOOL_ENV = {"api_portable": {"LOGITCHECK_SIMD": "portable"},
            "api_numpy": {"LOGITCHECK_KERNEL": "numpy"}}

#: GNU time, which reports its child's own peak RSS (see run_measured), where installed
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").is_file() else None


def run_measured(cmd: list[str], cwd: Path, ok: tuple[int, ...] = (0,),
                 stdout: Any = subprocess.DEVNULL,
                 env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run cmd; (wall seconds, peak RSS in MiB of that process). Raises ToolFailed.

    A child forked from this script inherits its resident size in ``ru_maxrss`` (Linux
    keeps the larger of the image it leaves at exec and the one it runs), so the peak is
    taken by GNU time (``%M``), a small process the command is forked from; without it,
    ``ru_maxrss`` from ``os.wait4``: an upper bound."""
    err = cwd / "stderr.txt"
    rss_file = cwd / "rss.txt"
    if GNU_TIME:
        cmd = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *cmd]
    with open(err, "wb") as ferr:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=stdout, stderr=ferr,
                             env={**CHILD_ENV, **(env or {})})
        try:
            _, status, usage = os.wait4(p.pid, 0)
        except BaseException:  # Ctrl-C, SIGTERM: the child must not outlive its files
            p.kill()
            p.wait()
            raise
        wall = time.perf_counter() - t0
    p.returncode = rc = os.waitstatus_to_exitcode(status)
    if rc not in ok:
        tail = err.read_text(errors="replace")[-2000:]
        raise ToolFailed(f"{' '.join(cmd)} exited {rc}:\n{tail}")
    if GNU_TIME:  # its last line; a first one says when the command exited non-zero
        return wall, int(rss_file.read_text().split()[-1]) / 1024  # KiB
    return wall, usage.ru_maxrss / 1024  # Linux: KiB


def logitcheck_command() -> list[str]:
    """The console script next to this interpreter (what a user runs), else -m."""
    exe = shutil.which("logitcheck", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "logitcheck"]


@dataclass
class Runner:
    work: Path
    threads: int | None
    samples: dict[str, dict[str, dict[str, list[Any]]]] = field(default_factory=dict)

    @property
    def report(self) -> Path:
        # a file of our own, not -o /dev/null: logitcheck before b03f985 wrote -o atomically
        # (temp file + rename), which, run as root, replaced /dev/null with a regular file
        return self.work / "report.json"

    def measure(self, case: Case, tool: str, logits: Path, labels: Path) -> None:
        if tool == "cli":
            cmd = logitcheck_command() + ["analyze", str(logits), "--labels", str(labels),
                                          "--format", "json", "-o", str(self.report)]
            if self.threads:
                cmd += ["--threads", str(self.threads)]
            seconds, rss = run_measured(cmd, self.work, ok=(0, 1))
            info: dict[str, Any] = {}
        else:
            out = self.work / "child.json"
            out.unlink(missing_ok=True)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", tool,
                   str(logits), str(labels), str(self.threads or 0), str(out)]
            _, rss = run_measured(cmd, self.work, env=TOOL_ENV.get(tool))
            info = json.loads(out.read_text())
            seconds = info.pop("seconds")
        s = self.samples.setdefault(case.name, {}).setdefault(
            tool, {"seconds": [], "rss_mib": [], "info": []})
        s["seconds"].append(seconds)
        s["rss_mib"].append(rss)
        s["info"].append(info)


def summarize(case: Case, samples: dict[str, dict[str, list[Any]]]) -> dict[str, Any]:
    tools: dict[str, Any] = {}
    for tool, s in samples.items():
        med = statistics.median(s["seconds"])
        tools[tool] = {"median_s": med, "gbps": case.nbytes / med / 1e9,
                       "min_s": min(s["seconds"]), "max_s": max(s["seconds"]),
                       "peak_rss_mib": max(s["rss_mib"]), **s}
    for t in tools.values():
        t["x_torch"] = t["gbps"] / tools["torch"]["gbps"] if "torch" in tools else None
        t["x_limit"] = t["gbps"] / tools["limit"]["gbps"] if "limit" in tools else None
    return {"shape": [case.rows, case.classes], "dtype": case.dtype,
            "gb": case.nbytes / 1e9, "tools": tools, "targets": targets(case, tools)}


def targets(case: Case, tools: dict[str, Any]) -> dict[str, Any]:
    """name -> {"want", "got", "pass"}; pass None when it could not be judged."""
    out: dict[str, Any] = {}
    api = tools.get("api")
    need = 2.0 if case.dtype == "float32" else 1.0
    got = api["x_torch"] if api else None
    out["x_torch"] = {"want": f">= {need:g}x", "got": got,
                      "pass": None if got is None else got >= need}
    if case.dtype == "float32" and case.classes >= 1000:
        got = api["x_limit"] if api else None
        out["x_limit"] = {"want": ">= 0.5x", "got": got,
                          "pass": None if got is None else got >= 0.5}
    if case.dtype == "float32" and (case.classes >= 1000 or case.classes == 10):
        need = 2.0 if case.classes >= 1000 else 1.0
        got = tools["api_portable"]["x_torch"] if "api_portable" in tools else None
        out["portable_x_torch"] = {"want": f">= {need:g}x", "got": got,
                                   "pass": None if got is None else got >= need}
    if case.dtype == "float32" and case.classes == 1000:
        got = tools["api_numpy"]["x_torch"] if "api_numpy" in tools else None
        out["numpy_x_torch"] = {"want": ">= 1x", "got": got,
                                "pass": None if got is None else got >= 1.0}
    if "cli" in tools:
        got = tools["cli"]["peak_rss_mib"]
        out["rss"] = {"want": f"<= {RSS_TARGET_MIB} MiB", "got": got,
                      "pass": got <= RSS_TARGET_MIB}
    return out


def run_cases(cases: list[Case], tools: list[str], reps: int, runner: Runner,
              log: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, summary) per shape, as each one finishes."""
    for case in cases:
        logits, labels = runner.work / f"{case.name}.npy", runner.work / f"{case.name}_labels.npy"
        t0 = time.perf_counter()
        write_case(case, logits, labels)
        log(f"{case.name}: {case.nbytes / 1e9:.2f} GB written in {time.perf_counter() - t0:.1f} s")
        load = [os.getloadavg()[0]]  # other work on the machine skews every column
        try:
            read_through(logits)  # warm-up: every timing below reads from the page cache
            read_through(labels)
            for rep in range(reps):
                for tool in tools:
                    runner.measure(case, tool, logits, labels)
                log(f"  rep {rep + 1}/{reps}: " + ", ".join(
                    f"{t} {runner.samples[case.name][t]['seconds'][-1]:.3f}s" for t in tools))
        finally:
            logits.unlink(missing_ok=True)
            labels.unlink(missing_ok=True)
        load.append(os.getloadavg()[0])
        yield case.name, {**summarize(case, runner.samples[case.name]), "load": load}


def run_startup(reps: int, runner: Runner) -> dict[str, Any]:
    """python -c 'import numpy, rich, click' against logitcheck analyze on 100 x 10."""
    tiny, tiny_labels = runner.work / "tiny.npy", runner.work / "tiny_labels.npy"
    write_case(Case(100, 10, "float32"), tiny, tiny_labels)
    base_cmd = [sys.executable, "-c", "import numpy, rich, click"]
    lc_cmd = logitcheck_command() + ["analyze", str(tiny), "--labels", str(tiny_labels)]
    # an installed package has its bytecode, as numpy, rich and click do; an editable
    # checkout under PYTHONDONTWRITEBYTECODE (set on some machines) would recompile every
    # module on every start: compile it once, beside the sources (__pycache__, ignored by git)
    import compileall

    import logitcheck

    compiled = compileall.compile_dir(Path(logitcheck.__file__).parent, quiet=1)
    load = [os.getloadavg()[0]]
    run_measured(base_cmd, runner.work)  # warm-up: the interpreter's files in the cache
    run_measured(lc_cmd, runner.work, ok=(0, 1))
    base: list[float] = []
    lc: list[float] = []
    for _ in range(reps):
        base.append(run_measured(base_cmd, runner.work)[0])
        lc.append(run_measured(lc_cmd, runner.work, ok=(0, 1))[0])
    b, m = statistics.median(base), statistics.median(lc)
    load.append(os.getloadavg()[0])
    return {"load": load, "bytecode_compiled": bool(compiled), "import_s": base,
            "logitcheck_s": lc, "import_median_s": b,
            "logitcheck_median_s": m, "ratio": m / b, "want": "< 2x", "pass": m / b < 2.0}


def run_big(runner: Runner, log: Any, cold: bool) -> dict[str, Any]:
    """One logitcheck run on a float32 (N, 1000) file larger than 55 % of RAM (>= 14 GB)."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    rows = max(BIG_MIN_BYTES, int(0.55 * ram)) // 4000
    case = Case(rows, 1000, "float32")
    free = shutil.disk_usage(runner.work).free
    if free < case.nbytes * 1.05:
        raise ToolFailed(f"--big needs {case.nbytes / 1e9:.1f} GB in {runner.work}, "
                         f"{free / 1e9:.1f} GB free (use --tmp DIR)")
    logits, labels = runner.work / "big.npy", runner.work / "big_labels.npy"
    try:
        t0 = time.perf_counter()
        write_case(case, logits, labels)
        with open(logits, "rb") as f:
            os.fsync(f.fileno())  # no writeback competing with the run below
        gen_s = time.perf_counter() - t0
        log(f"big: {case.nbytes / 1e9:.2f} GB written in {gen_s:.1f} s")
        if cold:
            with open(logits, "rb") as f:
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        cached = cached_fraction(logits)
        load = [os.getloadavg()[0]]
        seconds, rss = run_measured(logitcheck_command() + [
            "analyze", str(logits), "--labels", str(labels), "--format", "json", "-o",
            str(runner.report)] + (["--threads", str(runner.threads)] if runner.threads else []),
            runner.work, ok=(0, 1))
        load.append(os.getloadavg()[0])
        log(f"big: logitcheck {seconds:.1f} s, peak RSS {rss:.0f} MiB")
        cached_after = cached_fraction(logits)
        read_s = read_through(logits)
    finally:
        logits.unlink(missing_ok=True)
        labels.unlink(missing_ok=True)
    return {"shape": [case.rows, case.classes], "dtype": case.dtype, "gb": case.nbytes / 1e9,
            "ram_gb": ram / 1e9, "generate_s": gen_s, "load": load, "cold": cold,
            "cached_before": cached, "cached_after": cached_after,
            "seconds": seconds, "gbps": case.nbytes / seconds / 1e9, "peak_rss_mib": rss,
            "read_after_s": read_s, "read_after_gbps": case.nbytes / read_s / 1e9,
            "want": f"<= {RSS_TARGET_MIB} MiB", "pass": rss <= RSS_TARGET_MIB}


# --------------------------------------------------------------------------- report


def cpu_model() -> str:
    """", CPU <model> (family F), kernel SIMD <width>": the machines this runs on change
    between runs, and the kernel's vector width with them (logitcheck.compute.kernel.SIMD, asked
    in a child: this script does not import logitcheck)."""
    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    simd = subprocess.run(
        [sys.executable, "-c", "from logitcheck.compute import kernel; print(kernel.SIMD)"],
        capture_output=True, text=True, cwd=tempfile.gettempdir()).stdout.strip() or "?"
    model = info.get("model name", platform.processor() or "unknown")
    family = f" (family {info['cpu family']})" if "cpu family" in info else ""
    return f", CPU {model}{family}, kernel SIMD {simd}"


def environment(threads: int | None) -> dict[str, Any]:
    import numpy as np

    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    env: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(), "numpy": np.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {ram / 2**30:.1f} GiB RAM"
                   f"{cpu_model()}",
        "logitcheck_command": " ".join(logitcheck_command()),
        "threads": threads or "logitcheck's default",
        "peak_rss": "GNU time %M" if GNU_TIME else "ru_maxrss from os.wait4 (an upper bound)",
    }
    for mod in ("torch", "scipy"):
        try:
            from importlib.metadata import version
            env[mod] = version(mod)
        except Exception:  # not installed: reported as such
            env[mod] = None
    spec = importlib.util.find_spec("logitcheck")  # finds without importing
    where = Path(spec.origin).parent if spec and spec.origin else None
    env["logitcheck_path"] = str(where) if where else None
    env["commit"] = env["package_commit"] = None
    if where is not None:
        def git(*a: str) -> str | None:
            r = subprocess.run(["git", "-C", str(where), *a], capture_output=True, text=True)
            return r.stdout.strip() if r.returncode == 0 else None

        head = git("rev-parse", "HEAD")
        if head:
            # the package's own last commit and edits: a checkout's other files do not count
            dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".")
            env["commit"] = head
            env["package_commit"] = git("log", "-1", "--format=%h", "--", ".")
            env["package_subject"] = git("log", "-1", "--format=%s", "--", ".")
            env["package_dirty"] = bool(dirty)
            env["branch"] = git("rev-parse", "--abbrev-ref", "HEAD")
    return env


def _f(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def _verdict(p: bool | None) -> str:
    return "n/a" if p is None else ("PASS" if p else "FAIL")


def shape_tables(cases: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "| shape | dtype | GB | tool | median s | best s | GB/s | × torch | × limit "
        "| peak RSS MiB |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases.values():
        shape = f"{c['shape'][0]:,} × {c['shape'][1]:,}"
        for tool, t in c["tools"].items():
            lines.append(
                f"| {shape} | {c['dtype']} | {c['gb']:.3g} | {TOOLS[tool]} | "
                f"{t['median_s']:.3f} | {t['min_s']:.3f} | {t['gbps']:.2f} | "
                f"{_f(t['x_torch'], '.2f')} | "
                f"{_f(t['x_limit'], '.2f')} | {t['peak_rss_mib']:.0f} |")
    lines += [
        "",
        "Targets: logitcheck.analyze's throughput (in-process) against torch and the exp "
        f"limit; peak RSS of the `logitcheck analyze` process (target {RSS_TARGET_MIB} MiB); "
        f"load: the 1-minute load average at the shape's start → end ({os.cpu_count()} CPUs).",
        "",
        "| shape | dtype | × torch | target | verdict | × limit | target | verdict "
        "| peak RSS MiB | verdict | load |",
        "|---|---|---:|---|---|---:|---|---|---:|---|---|",
    ]
    for c in cases.values():
        shape = f"{c['shape'][0]:,} × {c['shape'][1]:,}"
        t = c["targets"]
        xt, xl, rss = t.get("x_torch", {}), t.get("x_limit"), t.get("rss", {})
        lines.append(
            f"| {shape} | {c['dtype']} | {_f(xt.get('got'), '.2f')} | {xt.get('want', '')} | "
            f"{_verdict(xt.get('pass'))} | "
            + (f"{_f(xl['got'], '.2f')} | {xl['want']} | {_verdict(xl['pass'])} | "
               if xl else "– | – | – | ")
            + f"{_f(rss.get('got'), '.0f')} | {_verdict(rss.get('pass'))} | "
            + " → ".join(f"{x:.1f}" for x in c["load"]) + " |")
    extra = [(c, k) for c in cases.values() for k in ("portable_x_torch", "numpy_x_torch")
             if k in c["targets"]]
    if extra:
        lines += ["", "Without the x86 SIMD code (issue 23): the portable kernel "
                  "(LOGITCHECK_SIMD=portable) and the numpy path (LOGITCHECK_KERNEL=numpy), "
                  "in-process, against torch in the same run.", "",
                  "| code | shape | dtype | × torch | target | verdict |",
                  "|---|---|---|---:|---|---|"]
        for c, k in extra:
            t = c["targets"][k]
            code = "portable kernel" if k.startswith("portable") else "numpy path"
            lines.append(f"| {code} | {c['shape'][0]:,} × {c['shape'][1]:,} | {c['dtype']} | "
                         f"{_f(t['got'], '.2f')} | {t['want']} | {_verdict(t['pass'])} |")
    return lines


def markdown(res: dict[str, Any]) -> str:
    env = res["environment"]
    lines = [
        "## Results",
        "",
        f"- date: {env['date']}; wall time of the run: {res['wall_s'] / 60:.1f} min",
        *([f"- **incomplete run**: {res['incomplete']}; the tables hold what finished"]
          if res.get("incomplete") else []),
        f"- logitcheck from `{env['logitcheck_path']}` at commit `{env['commit']}` "
        f"(branch `{env.get('branch')}`); the package last changed in "
        f"`{env['package_commit']}`"
        + (", **with uncommitted changes**" if env.get("package_dirty") else
           ", no uncommitted changes")
        + f"; run as `{env['logitcheck_command']}`, threads: {env['threads']}; "
        f"peak RSS: {env.get('peak_rss', 'ru_maxrss')}; OPENBLAS_NUM_THREADS="
        f"{CHILD_ENV['OPENBLAS_NUM_THREADS']} in every child",
        f"- machine: {env['machine']}; Python {env['python']}, numpy {env['numpy']}, "
        f"torch {env['torch']}, scipy {env['scipy']}",
        f"- reps per tool and shape: {res['reps']} (median), warm page cache"
        + ("; **--quick shapes**" if res["quick"] else ""),
    ]
    if res["cases"]:
        lines += shape_tables(res["cases"])
    s = res.get("startup")
    if s:
        lines += [
            "",
            f"Startup ({len(s['import_s'])} runs each, median; load "
            + " → ".join(f"{x:.1f}" for x in s["load"]) + "):",
            "",
            "| command | median s |",
            "|---|---:|",
            f"| `python -c \"import numpy, rich, click\"` | {s['import_median_s']:.3f} |",
            f"| `logitcheck analyze tiny.npy --labels tiny_labels.npy` (100 × 10) | "
            f"{s['logitcheck_median_s']:.3f} |",
            f"| ratio (target {s['want']}) | {s['ratio']:.2f}× {_verdict(s['pass'])} |",
        ]
    b = res.get("big")
    if b:
        cached = "unknown" if b["cached_before"] is None else f"{b['cached_before']:.0%}"
        lines += [
            "",
            f"Big file (one run{', page cache dropped first' if b['cold'] else ''}): "
            f"float32 {b['shape'][0]:,} × {b['shape'][1]:,}, {b['gb']:.1f} GB "
            f"({b['gb'] * 1e9 / 2**30:.1f} GiB) on a machine with {b['ram_gb']:.1f} GB RAM; "
            f"{cached} of it was in the page cache when logitcheck started; generated in "
            f"{b['generate_s']:.0f} s; load " + " → ".join(f"{x:.1f}" for x in b["load"]) + ".",
            "",
            "| tool | s | GB/s | peak RSS MiB | target | verdict |",
            "|---|---:|---:|---:|---|---|",
            f"| logitcheck (process) | {b['seconds']:.1f} | {b['gbps']:.2f} | "
            f"{b['peak_rss_mib']:.0f} | {b['want']} | {_verdict(b['pass'])} |",
            f"| read (raw bytes, afterwards) | {b['read_after_s']:.1f} | "
            f"{b['read_after_gbps']:.2f} | | | |",
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)  # clean up as on Ctrl-C


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        tool, logits, labels, threads, out = argv[1:6]
        child(tool, logits, labels, int(threads) or None, out)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="runs per tool and shape (median)")
    ap.add_argument("--startup-reps", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="small shapes: a smoke run")
    ap.add_argument("--big", action=argparse.BooleanOptionalAction, default=False,
                    help="also the > 12 GiB peak-RSS run (writes ~14 GB; off by default)")
    ap.add_argument("--big-cold", action="store_true",
                    help="drop the big file from the page cache before its run")
    ap.add_argument("--tmp", type=Path, default=None, help="where the files go (default: TMPDIR)")
    ap.add_argument("--threads", type=int, default=None,
                    help="pass --threads N to logitcheck (default: its own default)")
    ap.add_argument("--tools", default=",".join(TOOLS),
                    help=f"comma-separated subset of {','.join(TOOLS)}")
    ap.add_argument("--cases", default=None,
                    help="comma-separated subset of the shapes, by name (e.g. 2000x1000-float16); "
                    "'' for none (--big alone)")
    ap.add_argument("--skip-missing", "--skip-torch-if-missing", action="store_true",
                    help="leave out the tools whose package (torch, scipy) is not installed")
    ap.add_argument("--no-startup", action="store_true")
    ap.add_argument("--markdown", type=Path, help="write the tables to FILE")
    ap.add_argument("--json", type=Path, help="write every sample to FILE")
    args = ap.parse_args(argv)

    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown or args.reps < 1:
        ap.error(f"unknown tools {sorted(unknown)}" if unknown else "--reps must be >= 1")
    missing = sorted({NEEDS[t] for t in tools if t in NEEDS
                      and importlib.util.find_spec(NEEDS[t]) is None})
    if missing and not args.skip_missing:
        print(f"{sys.executable} has no {', '.join(missing)}: pip install torch==2.13.0 "
              "scipy (or --skip-missing)", file=sys.stderr)
        return 2
    tools = [t for t in tools if NEEDS.get(t) not in missing]
    cases = QUICK if args.quick else FULL
    if args.cases is not None:  # "" runs no shape: with --big, the big file alone
        wanted = [w for w in args.cases.split(",") if w]
        names = [c.name for c in cases]
        if set(wanted) - set(names):
            ap.error(f"--cases: choose from {','.join(names)}")
        cases = [c for c in cases if c.name in wanted]

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="logitcheck-bench-", dir=args.tmp))
    runner = Runner(work, args.threads)
    res: dict[str, Any] = {"environment": environment(args.threads), "reps": args.reps,
                           "quick": args.quick, "tools": tools, "skipped": missing,
                           "cases": {}}

    def save() -> str:
        """The tables so far: written after every part, so a run cut short keeps them."""
        res["wall_s"] = time.perf_counter() - started
        text = markdown(res)
        if args.markdown:
            args.markdown.write_text(text)
        if args.json:
            args.json.write_text(json.dumps(res, indent=1))
        return text

    status = 0
    try:
        env = res["environment"]
        log(f"logitcheck from {env['logitcheck_path']} ({env['package_commit']}"
            f"{', with uncommitted changes' if env.get('package_dirty') else ''}); "
            f"files in {work}")
        if not args.no_startup:
            res["startup"] = run_startup(args.startup_reps, runner)
            log(f"startup: {res['startup']['ratio']:.2f}x")
            save()
        for name, summary in run_cases(cases, tools, args.reps, runner, log):
            res["cases"][name] = summary
            save()
        if args.big:
            res["big"] = run_big(runner, log, args.big_cold)
    except ToolFailed as e:
        log(f"error: {e}")
        res["incomplete"], status = f"a tool failed: {str(e).splitlines()[0]}", 2
    except KeyboardInterrupt as e:
        log(f"interrupted ({e.args[0] if e.args else 'SIGINT'}): removing the generated files")
        res["incomplete"] = f"interrupted ({e.args[0] if e.args else 'SIGINT'})"
        status = 130
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = save()
    print(text)
    return status

if __name__ == "__main__":
    sys.exit(main())
