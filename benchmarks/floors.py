"""How close each way of computing the statistics is to what it cannot go below, against
torch F.cross_entropy, in one process (issue 23's targets: the portable kernel at 2x torch
on float32 C >= 1000, the numpy path at 1x on 200,000 x 1000).

run.py's logits (seeded, trained-looking, float32), written to a temporary file and
memory-mapped as run.py's tools read them (warm page cache); every row of the table runs
on 2 threads (the rows split in two halves), timed in turns, medians of --reps:

- ``torch F.cross_entropy``: 2 threads, on the same mapped array (from_numpy, no copy);
- ``float64 exp, numpy``: ``np.exp`` of every value widened to float64, 128-row blocks
  into a reused buffer: the one pass an exact numpy path cannot skip;
- ``numpy passes``: the passes the row statistics need at the least, each one numpy call
  a block: exp (widened), argmax, argmin, |z| then its min, the sum;
- ``numpy path``: ``kernel._numpy_row_stats`` (LOGITCHECK_KERNEL=numpy's row statistics);
- ``kernel row pass``: ``kernel.row_stats`` (max, argmax, min, smallest |z|, exp sum:
  one fused read of each row) in the compiled code in use (LOGITCHECK_SIMD=portable: the
  portable C).

An exact path reads every value and takes one float64 exp of it (torch takes a float32
one): "float64 exp, numpy" is that floor alone for numpy, before any other statistic. Run::

    python benchmarks/floors.py [--rows 200000] [--classes 1000] [--reps 5]
    LOGITCHECK_SIMD=portable python benchmarks/floors.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import TORCH_THREADS, Case, write_case  # noqa: E402  (the same data as run.py)

BLOCK_ROWS = 128


def on_two_threads(work: Callable[[np.ndarray], None], x: np.ndarray) -> float:
    """Seconds for work() on each half of x's rows, on its own thread."""
    half = x.shape[0] // 2
    threads = [threading.Thread(target=work, args=(part,)) for part in (x[:half], x[half:])]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def blocks(x: np.ndarray):
    for start in range(0, x.shape[0], BLOCK_ROWS):
        yield x[start:start + BLOCK_ROWS]


def numpy_exp(x: np.ndarray) -> None:
    out = np.empty((BLOCK_ROWS, x.shape[1]))
    for z in blocks(x):
        np.exp(z, out=out[: len(z)], dtype=np.float64)


def numpy_passes(x: np.ndarray) -> None:
    out, mags = np.empty((BLOCK_ROWS, x.shape[1])), np.empty((BLOCK_ROWS, x.shape[1]), x.dtype)
    for z in blocks(x):
        d, a = out[: len(z)], mags[: len(z)]
        np.exp(z, out=d, dtype=np.float64)
        z.argmax(axis=1)
        z.argmin(axis=1)
        np.abs(z, out=a)
        a.min(axis=1)
        d.sum(axis=1)


def measure(logits: Path, labels: Path, reps: int) -> dict[str, float]:
    """Each row's median seconds, the rows timed in turns."""
    import torch
    import torch.nn.functional as F

    from logitcheck.compute import kernel

    # memory-mapped, as run.py's tools read the file (its pages in the page cache)
    x = np.load(logits, mmap_mode="r")
    y = np.load(labels)
    warnings.filterwarnings("ignore", message=".*non-writable.*")  # torch only reads it
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    rows: dict[str, Callable[[], float]] = {
        "torch F.cross_entropy": lambda: _timed(lambda: F.cross_entropy(xt, yt).item()),
        "float64 exp, numpy": lambda: on_two_threads(numpy_exp, x),
        "numpy passes (exp, argmax, argmin, abs then min, sum)":
            lambda: on_two_threads(numpy_passes, x),
        "numpy path (kernel._numpy_row_stats)":
            lambda: on_two_threads(lambda z: kernel._numpy_row_stats(z, False), x),
    }
    if kernel._COMPILED is not None:
        rows[f"kernel row pass ({kernel.SIMD})"] = lambda: on_two_threads(
            lambda z: [kernel.row_stats(b, False) for b in blocks(z)], x)
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(reps):
        for name, run in rows.items():
            samples[name].append(run())
    return {name: statistics.median(v) for name, v in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(TORCH_THREADS)
    torch.exp(torch.ones(1 << 16))  # the thread pool, outside the timing
    case = Case(args.rows, args.classes, "float32")
    with tempfile.TemporaryDirectory() as tmp:
        write_case(case, Path(tmp) / "z.npy", Path(tmp) / "y.npy")
        medians = measure(Path(tmp) / "z.npy", Path(tmp) / "y.npy", args.reps)
    base = medians["torch F.cross_entropy"]
    print(f"{case.shape} float32, memory-mapped, 2 threads, medians of {args.reps}")
    print("| what | s | × torch |\n|---|---:|---:|")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds:.4g} | {base / seconds:.2f} |")
    return 0


def _timed(call: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())
