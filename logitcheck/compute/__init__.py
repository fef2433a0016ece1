"""Row statistics: the engines (local threads, dask), the kernel (C or numpy),
numerics (per-chunk Stats and their merge), losses, mergeable sums, dtypes."""
