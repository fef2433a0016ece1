"""Settings for the command line's own process, applied on import, before numpy loads."""

import os

# logitcheck never calls numpy's BLAS, and OpenBLAS starts a thread per core that spins for
# about 0.1 s after numpy is imported, on the cores the analysis runs on: 8 % of the whole
# `logitcheck analyze` process on a 1M x 10 file on 2 cores. A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
