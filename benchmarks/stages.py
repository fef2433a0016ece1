"""Where the time of a narrow file goes: each stage's cost per row on one core, and the
budget that 2x torch F.cross_entropy leaves (issue 9's target on 1,000,000 x 10).

The logits are run.py's (seeded, trained-looking, int64 labels), held in memory, so no
page faults or file reads are counted. Per row, on one thread, medians of --reps:

- ``row statistics``: the compiled kernel's max, argmax, min, smallest |z| and exp sum
  (``_kernel.row_stats`` into reused arrays): the float64 exps that the stable loss needs;
- ``row stage``: ``kernel.softmax_rows`` computing those itself (the fused mode the engine
  uses), plus the stable loss, the naive paths, the flags, exact sums, histograms and
  extremes;
- ``chunk``: ``numerics.chunk_stats`` on 262,144-row blocks: the row stage and the per-chunk
  Python that makes its Stats;
- ``torch F.cross_entropy``: on the same array (from_numpy, no copy), on 1 and on 2 threads.

The budget: 2x torch's throughput on 2 threads leaves, per row, half of torch's wall time
on each of the 2 cores, for everything (reading the file, every stage, the Python, the
merge and the checks). Run::

    python benchmarks/stages.py [--rows 1000000] [--classes 10] [--reps 9] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import logitcheck._process  # noqa: F401  the command's malloc settings: no page faults

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Case, write_case  # noqa: E402  (the same data as run.py)

BLOCK = 65536  # rows per kernel call: the arrays stay in the caches
CHUNK = 262144  # the engine's largest chunk


def per_row(fn, rows: int, reps: int) -> float:
    """ns per row of fn() on this thread (thread CPU time), the median of reps."""
    fn()
    times = []
    for _ in range(reps):
        t = time.thread_time()
        fn()
        times.append(time.thread_time() - t)
    return statistics.median(times) / rows * 1e9


def measure(z: np.ndarray, y: np.ndarray, reps: int, torch_too: bool) -> dict[str, float]:
    from logitcheck.compute import kernel, numerics
    from logitcheck.compute.losses import derived_thresholds, holds
    from logitcheck.compute.stats import LOGIT_EDGES, LOSS_EDGES, Plan, naive_dtypes

    if kernel.KERNEL != "compiled":
        raise SystemExit("stages.py: the compiled kernel is not available")
    n, c = z.shape
    k = kernel._COMPILED
    outs = [np.empty(BLOCK), np.empty(BLOCK, np.int64), np.empty(BLOCK),
            np.empty(BLOCK, np.int64), np.empty(BLOCK), np.empty(BLOCK)]
    kind = {"float32": 1, "float16": 2, "float64": 0}[z.dtype.name]
    blocks = [(s, min(n, s + BLOCK)) for s in range(0, n, BLOCK)]
    dtypes = [(d, *derived_thresholds(d, c)) for d in naive_dtypes(z.dtype.name)
              if holds(z.dtype.name, d)]
    eps = float(np.finfo(z.dtype).eps) / 2
    plan = Plan(naive_dtypes(z.dtype.name), z.dtype.name)

    def stats() -> None:
        for s, e in blocks:
            k.row_stats(z[s:e], kind, e - s, c, *(o[:e - s] for o in outs), False)

    def stage() -> None:
        for s, e in blocks:
            kernel.softmax_rows(z[s:e], None, y[s:e], eps, dtypes, LOSS_EDGES,
                                LOGIT_EDGES)

    def chunk() -> None:
        for s in range(0, n, CHUNK):
            numerics.chunk_stats(z[s:s + CHUNK], y[s:s + CHUNK], s, plan)

    got = {"row statistics": per_row(stats, n, reps), "row stage": per_row(stage, n, reps),
           "chunk": per_row(chunk, n, reps)}
    if torch_too:
        import torch
        import torch.nn.functional as F

        x, t = torch.from_numpy(z), torch.from_numpy(y)
        for threads in (1, 2):
            torch.set_num_threads(threads)

            def ce() -> None:
                F.cross_entropy(x.float() if z.dtype != np.float32 else x, t).item()

            ce()  # wall time: torch's own threads are not this thread's CPU time
            walls = []
            for _ in range(reps):
                w = time.perf_counter()
                ce()
                walls.append(time.perf_counter() - w)
            got[f"torch, {threads} thread{'s' if threads > 1 else ''} (wall)"] = (
                statistics.median(walls) / n * 1e9)
    return got


def table(got: dict[str, float], case: Case) -> str:
    lines = [f"{case.shape} {case.dtype}, ns per row (median):", "",
             "| stage | ns / row |", "|---|---:|"]
    lines += [f"| {name} | {v:.1f} |" for name, v in got.items()]
    torch2 = got.get("torch, 2 threads (wall)")
    if torch2 is not None:
        budget = torch2  # half of torch's wall time a row, on each of the 2 cores
        lines += ["", f"2x torch on 2 cores leaves {budget:.1f} ns of CPU a row for the whole "
                  f"analysis; the row stage alone takes {got['row stage']:.1f} "
                  f"({got['row stage'] / budget:.2f}x the budget), the row statistics "
                  f"{got['row statistics']:.1f} ({got['row statistics'] / budget:.2f}x)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    p.add_argument("--reps", type=int, default=9)
    p.add_argument("--no-torch", action="store_true", help="leave torch out")
    p.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = p.parse_args(argv)
    case = Case(args.rows, args.classes, args.dtype)
    with tempfile.TemporaryDirectory() as tmp:
        zp, yp = Path(tmp) / "z.npy", Path(tmp) / "y.npy"
        write_case(case, zp, yp)
        z, y = np.load(zp), np.load(yp)
    text = table(measure(z, y, args.reps, not args.no_torch), case)
    print(text, end="")
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
