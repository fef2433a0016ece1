"""logitcheck.check on 200,000 x 10 float32 in one call vs a Checker fed batches of 1,000
and 10,000 rows (the per-batch overhead), and a torch bfloat16 tensor in one call.

    PYTHONPATH=$PWD python benchmarks/api_stream.py
"""

from __future__ import annotations

import time

import numpy as np

import logitcheck


def main() -> None:
    rng = np.random.default_rng(0)
    n, c = 200_000, 10
    z = rng.normal(size=(n, c)).astype(np.float32)
    y = rng.integers(0, c, n)
    logitcheck.check(z[:1000], y[:1000])  # warm: imports, first calls
    t = time.perf_counter()
    one = logitcheck.check(z, y, threads=1)
    t_one = time.perf_counter() - t
    for b in (1000, 10000):
        checker = logitcheck.Checker(threads=1)
        t = time.perf_counter()
        for k in range(0, n, b):
            checker.update(z[k:k + b], y[k:k + b])
        streamed = checker.report()
        t_stream = time.perf_counter() - t
        print(f"batches of {b}: {t_stream:.3f} s ({n // b} batches) vs one call "
              f"{t_one:.3f} s; same loss: {streamed.loss == one.loss}")
    try:
        import torch
    except ImportError:
        return
    zt = torch.tensor(z).to(torch.bfloat16)
    t = time.perf_counter()
    logitcheck.check(zt, torch.tensor(y), threads=1)
    print(f"torch bfloat16, one call: {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    main()
