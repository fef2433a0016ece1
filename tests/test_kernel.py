"""The row-statistics kernel (compiled and numpy) and the naive paths derived from it.

- the compiled exp is within 1 ulp of libm's on [-746, 0], subnormals included;
- compiled and numpy row statistics agree: max, min and their first indices exactly,
  the exp sum within a few ulp, on every storage dtype, with NaN, inf and ties;
- the derived naive paths equal a full simulation (losses.naive_softmax on every row) in
  which rows fail, overflow, underflow or leave p_y subnormal, on rows built to sit on each
  dtype's thresholds, and their losses are within a few ulp of it elsewhere;
- float16 and bfloat16 storage read natively equal the same values widened in numpy.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from logitcheck.compute import kernel
from logitcheck.compute.dtypes import facts, round_bfloat16
from logitcheck.compute.losses import (
    derived_thresholds,
    holds,
    naive_softmax,
    naive_softmax_derived,
    softmax_loss,
)
from logitcheck.compute.mergeable import ExactSum, _exact_int_sum
from logitcheck.compute.stats import LOGIT_EDGES, LOSS_EDGES, naive_dtypes
from tests.reference import exact_loss_shifted, simulate_naive

COMPILED = kernel._COMPILED
needs_compiled = pytest.mark.skipif(COMPILED is None, reason="the compiled kernel is not built")
NAIVE_PATHS = ("softmax_then_log", "no_max_shift")


def test_the_kernel_is_built_where_ci_requires_it():
    """The extension is optional (an install without a compiler still works), so a build
    that failed would only skip the compiled tests: .ci/run sets LOGITCHECK_REQUIRE_COMPILED."""
    if not os.environ.get("LOGITCHECK_REQUIRE_COMPILED"):
        pytest.skip("LOGITCHECK_REQUIRE_COMPILED is not set")
    from logitcheck import _kernel

    assert _kernel.available()  # always, since the portable code (issue 23)
    assert _kernel.simd() in ("avx512", "avx2", "portable", "portable-baseline")


@needs_compiled
def test_compiled_exp_is_within_one_ulp_of_libm():
    rng = np.random.default_rng(0)
    x = np.concatenate([
        -rng.random(400_000) * 746, -rng.random(100_000) * 2, -np.logspace(-300, 2.87, 5000),
        np.nextafter(-745.1332191019411, [-np.inf, 0]), [0.0, -0.0, -708.4, -709.1, -745.2],
    ])
    ours = kernel.exp_nonpositive(x)
    ref = np.exp(x)
    spacing = np.where(ref > 0, np.spacing(ref), 5e-324)
    assert np.max(np.abs(ours - ref) / spacing) <= 1.0
    assert kernel.exp_nonpositive(np.array([-np.inf, -800.0]))[0] == 0.0


def _blocks():
    rng = np.random.default_rng(1)
    for c in (1, 2, 3, 7, 8, 9, 15, 16, 17, 40, 333):
        z = rng.normal(0, 1, (64, c)) * rng.choice([0.1, 3, 30, 300], (64, 1))
        z[0] = 0.5  # ties: the first index wins
        if c > 2:
            z[1, 2] = np.nan
            z[2, 1] = np.inf
            z[3, :] = -np.inf
            z[4, 0] = -np.inf
            z[5, c // 2] = 1e-30  # z - max not exact in float64 for float32 storage
        for dtype in ("float64", "float32", "float16"):
            with np.errstate(over="ignore"):
                yield z.astype(dtype)


@needs_compiled
@pytest.mark.parametrize("z", list(_blocks()), ids=lambda z: f"{z.dtype}-{z.shape[1]}")
def test_compiled_and_numpy_row_statistics_agree(z):
    ours, ref = kernel.row_stats(z), kernel._numpy_row_stats(z)
    for name in ("max", "min", "top", "amin"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(ref, name), err_msg=name)
    finite = np.isfinite(ref.rest)
    assert (np.isfinite(ours.rest) == finite).all()
    np.testing.assert_allclose(ours.rest[finite], ref.rest[finite], rtol=2e-15, atol=0)
    clean = ~np.isnan(z).any(axis=1)
    np.testing.assert_array_equal(ours.min_abs[clean], ref.min_abs[clean])


@pytest.mark.parametrize("stats", [kernel.row_stats, kernel._numpy_row_stats],
                         ids=["configured", "numpy"])
def test_stable_loss_of_either_kernel_is_within_a_few_ulp(stats):
    rng = np.random.default_rng(2)
    z = rng.normal(0, 1, (300, 11)) * rng.choice([1, 20, 200, 2000], (300, 1))
    z[:50, 3] = 1e-12  # tiny values next to a large max: z - max rounds
    y = rng.integers(0, 11, 300)
    for dtype in ("float64", "float32", "float16"):
        zs = z.astype(dtype)
        zs = np.where(np.isfinite(zs), zs, 0).astype(dtype)
        loss = softmax_loss(zs, stats(zs), y)[0]
        for i in range(0, 300, 7):
            want = float(exact_loss_shifted(zs[i], int(y[i])))
            assert abs(loss[i] - want) <= 4 * np.spacing(want) + 11 * 5e-324, (dtype, i)


@needs_compiled
def test_compiled_exact_sum_is_the_same_integer():
    rng = np.random.default_rng(3)
    for v in (rng.normal(size=5000) * 10.0 ** rng.integers(-300, 300, 5000),
              np.array([5e-324, -5e-324, 1.7e308, 1.7e308, -1.7e308, -0.0]), rng.random(70000)):
        assert COMPILED.exact_sum(np.ascontiguousarray(v)) == _exact_int_sum(v)
    with pytest.raises(ValueError):
        ExactSum.of(np.array([1.0, np.nan]))


def _threshold_rows(storage: str, dtype: str, rng) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose naive sum, max or p_y sits on (and just beside) each threshold of dtype."""
    f = facts(dtype)
    c = 9
    rows, labels = [], []
    log_max, zero_at = np.log(f.max), -f.zero_range
    for k in range(400):
        jitter = rng.choice([0, 1, -1]) * rng.choice([0, f.eps, 4 * f.eps, 1e-3, 0.05])
        kind = k % 5
        base = rng.normal(0, 1, c) * rng.choice([0.1, 1, 3])
        if kind == 0:  # the sum at the overflow threshold
            lse = np.log(np.exp(base - base.max()).sum()) + base.max()
            z = base + (log_max - lse) * (1 + jitter)
        elif kind == 1:  # the max at exp's zero threshold
            z = base - base.max() + zero_at * (1 + jitter)
        elif kind == 2:  # p_y at the smallest subnormal / 2
            z = base.copy()
            z[0] = z[1:].max() - f.zero_range * (1 + jitter)
        elif kind == 3:  # p_y at the smallest normal
            z = base.copy()
            z[0] = z[1:].max() + np.log(f.tiny) * (1 + jitter)
        else:  # ordinary rows, some confident
            z = base * rng.choice([1, 10, 100])
        rows.append(z)
        labels.append(0 if kind in (2, 3) else int(rng.integers(0, c)))
    z = np.array(rows)
    with np.errstate(over="ignore"):
        zs = z.astype(np.float32 if storage == "bfloat16" else storage)
    if storage == "bfloat16":
        zs = round_bfloat16(zs)
    zs = np.where(np.isfinite(zs), zs, 0).astype(zs.dtype)
    return zs, np.array(labels)


CASES = [(s, d) for s in ("float16", "float32", "float64") for d in naive_dtypes(s)] + [
    ("bfloat16", "bfloat16"), ("bfloat16", "float32"), ("float32", "float16")]


@pytest.mark.parametrize("storage,dtype", CASES)
@pytest.mark.parametrize("stats", [kernel.row_stats, kernel._numpy_row_stats],
                         ids=["configured", "numpy"])
def test_derived_naive_paths_equal_a_full_simulation(storage, dtype, stats):
    rng = np.random.default_rng(abs(hash((storage, dtype))) % 2**32)
    z, y = _threshold_rows(storage, dtype, rng)
    r = stats(z)
    loss, lse = softmax_loss(z, r, y)
    derived = naive_softmax_derived(z, r, lse, loss, y, dtype, storage)
    full = naive_softmax(z, dtype, y)
    np.testing.assert_array_equal(derived.subnormal, full.subnormal)
    for path in NAIVE_PATHS:
        d, s = derived.losses[path], full.losses[path]
        np.testing.assert_array_equal(np.isfinite(d), np.isfinite(s), err_msg=path)
        np.testing.assert_array_equal(derived.overflowed[path], full.overflowed[path])
        both = np.isfinite(d) & np.isfinite(s)
        eps = facts(dtype).eps
        tol = 8 * eps * np.maximum(np.abs(s[both]), 1.0)
        if path == "no_max_shift":  # log(s) rounds at the scale of lse: an ulp either way
            tol += 2 * eps * np.abs(lse[both])
        assert (np.abs(d[both] - s[both]) <= tol).all(), path
    # and the full simulation is the row-by-row one of tests/reference.py
    if storage != "bfloat16" and dtype != "bfloat16":
        simulated = simulate_naive(z, y, dtype)
        for path in NAIVE_PATHS:
            assert np.flatnonzero(~np.isfinite(full.losses[path])).tolist() == simulated[path]


def test_threshold_rows_do_reach_every_outcome():
    z, y = _threshold_rows("float32", "float32", np.random.default_rng(5))
    full = naive_softmax(z, "float32", y)
    a = full.losses["softmax_then_log"]
    assert full.overflowed["softmax_then_log"].any() and (~np.isfinite(a)
                                                          & ~full.overflowed["no_max_shift"]).any()
    assert full.subnormal.any() and np.isfinite(a).any()


@needs_compiled
@pytest.mark.parametrize("storage", ["float16", "bfloat16"])
def test_narrow_storage_read_natively_equals_widened(storage):
    """The kernel reads float16 itself; bfloat16 arrives widened to float32 (exact)."""
    rng = np.random.default_rng(6)
    z = rng.normal(0, 4, (200, 37)).astype(np.float32)
    narrow = z.astype(np.float16) if storage == "float16" else round_bfloat16(z)
    wide = narrow.astype(np.float32)
    a, b = kernel.row_stats(narrow), kernel.row_stats(wide)
    for name in ("max", "min", "top", "amin", "rest", "min_abs"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@needs_compiled
def test_compiled_histogram_counts_equal_searchsorted():
    from logitcheck.compute.mergeable import log_edges

    edges = np.array(log_edges(-8, 3, 5))
    rng = np.random.default_rng(8)
    v = np.concatenate([10.0 ** rng.uniform(-10, 5, 20000), edges, np.nextafter(edges, 0),
                        [np.nan, np.inf, -np.inf, -1.0, 0.0]])
    counts = np.zeros(edges.size + 1, dtype=np.int64)
    COMPILED.bin_counts(v, edges, counts)
    finite = v[np.isfinite(v)]
    want = np.bincount(np.searchsorted(edges, finite, side="right"), minlength=edges.size + 1)
    np.testing.assert_array_equal(counts, want)


@needs_compiled
def test_compiled_log_and_log1p_are_within_one_ulp_of_libm():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.random(200_000) * 10, np.exp(rng.uniform(-745, 709, 200_000)),
                        [5e-324, 1e-310, 2.2250738585072014e-308, 0.5, 1.0, 2.0, 1.7e308]])
    for one_plus, ref in ((False, np.log), (True, np.log1p)):
        ours = kernel.log1p_nonnegative(x) if one_plus else kernel.log_positive(x)
        want = ref(x)
        spacing = np.where(want != 0, np.spacing(np.abs(want)), 5e-324)
        assert np.max(np.abs(ours - want) / spacing) <= 1.0, ref.__name__
    assert kernel.log1p_nonnegative(np.array([0.0]))[0] == 0.0
    assert np.isnan(kernel.log_positive(np.array([np.nan, -1.0]))).all()


def _compiled_stage_blocks():
    """Blocks softmax_rows takes: finite logits with a negative value, labelled or not."""
    rng = np.random.default_rng(11)
    for storage in ("float16", "bfloat16", "float32", "float64"):
        held = np.float32 if storage == "bfloat16" else storage  # bfloat16 is read widened
        for extra in ((), ("bfloat16",), ("float16",)):
            dtypes = naive_dtypes(storage, extra)
            z, y = _threshold_rows(storage, dtypes[0], rng)  # every threshold of one dtype
            yield storage, dtypes, z, y
            for c in (2, 10, 16, 17, 300):
                with np.errstate(over="ignore"):
                    z = (rng.normal(0, 3, (500, c)) * rng.choice([1, 10, 40], (500, 1)))
                    z = np.clip(z, -6e4, 6e4).astype(held)
                if storage == "bfloat16":
                    z = round_bfloat16(z)
                z[7] = z[7, 0]  # a constant row
                yield storage, dtypes, z, rng.integers(0, c, 500)
    # row maxima and ranges on the histograms' edges and one ulp below (the compiled code
    # bins from a guess and one step each way)
    from logitcheck.compute.stats import LOGIT_EDGES
    e = np.array(LOGIT_EDGES)
    tops = np.concatenate([e, np.nextafter(e, 0), np.nextafter(e, np.inf), [-1.0]])
    z = np.zeros((tops.size, 3))
    z[:, 0] = tops
    yield "float64", naive_dtypes("float64"), z, rng.integers(0, 3, tops.size)


@needs_compiled
@pytest.mark.parametrize("labelled", [True, False])
@pytest.mark.parametrize("case", list(_compiled_stage_blocks()),
                         ids=lambda c: f"{c[0]}-{'+'.join(c[1])}-{c[2].shape[1]}")
def test_compiled_row_stage_gives_the_numpy_codes_stats_bit_for_bit(case, labelled, monkeypatch):
    from logitcheck.compute import numerics
    from logitcheck.compute.stats import Plan

    storage, dtypes, z, y = case
    y = y if labelled else None
    plan = Plan(dtypes, storage)
    for offset in (40, np.arange(z.shape[0]) * 3 + 1):  # consecutive rows, or row numbers
        fast = numerics.chunk_stats(z, y, offset, plan)
        r = kernel.row_stats(z)
        from_rows = numerics._softmax_compiled(z, r, y, offset, plan)
        # the fused mode (the kernel computes the row statistics): the same Stats
        assert from_rows is not None
        assert numerics._softmax_compiled(z, None, y, offset, plan) == from_rows
        with monkeypatch.context() as m:
            m.setattr(numerics, "_softmax_compiled", lambda *a: None)
            reference = numerics.chunk_stats(z, y, offset, plan)
        assert fast == reference


@needs_compiled
@pytest.mark.parametrize("c", [3, 10, 17, 300])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_fused_row_stage_equals_the_one_from_row_stats_across_its_blocks(c, dtype):
    """softmax_rows without row statistics computes them FUSED_ROWS (512) rows at a time:
    1,300 rows cross two block edges; every output, the argmin of unlabelled rows and the
    block's extremes are those of row_stats' route."""
    rng = np.random.default_rng(c)
    z = (rng.normal(0, 4, (1300, c)) * rng.choice([1, 8], (1300, 1))).astype(dtype)
    z[511] = z[511, 0]  # a constant row at a block's last row
    z[512, 0] = -1e4 if dtype != "float16" else -6e4  # a wide row at the next one's first
    derived = [(d, *derived_thresholds(d, c)) for d in naive_dtypes(dtype)
               if holds(dtype, d)]
    for y in (rng.integers(0, c, 1300), None):
        r = kernel.row_stats(z, least_likely=y is None)
        args = (y, np.finfo(dtype).eps / 2, derived, LOSS_EDGES, LOGIT_EDGES)
        a, b = kernel.softmax_rows(z, r, *args), kernel.softmax_rows(z, None, *args)
        for name in ("loss", "flags", "floats", "ints", "loss_counts", "max_counts",
                     "range_counts"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert a.sums == b.sums and a.sums[0] != 0
        assert b.agg == (r.min.min(), r.max.max(), r.min_abs.min())
        if y is None:
            assert np.array_equal(b.amin, r.amin)
        else:
            assert np.array_equal(a.label_counts, b.label_counts) and b.amin is None


@needs_compiled
def test_chunk_stats_routes_a_block_by_its_first_row(monkeypatch):
    """A negative value in the first row: the fused row stage. None there (a block of
    probabilities is then not read twice): row_stats first, and a negative value further
    down still takes the compiled stage from those statistics. Either way the Stats are
    the numpy code's."""
    from logitcheck.compute import numerics
    from logitcheck.compute.stats import Plan

    rng = np.random.default_rng(5)
    y = rng.integers(0, 10, 700)
    plan = Plan(naive_dtypes("float32"), "float32")
    real = numerics._softmax_compiled
    for first_row_negative in (True, False):
        z = rng.normal(0, 3, (700, 10)).astype(np.float32)
        z[0] = -np.abs(z[0]) if first_row_negative else np.abs(z[0])
        calls: list[bool] = []

        def spy(z, r, *args, calls=calls, **kwargs):
            calls.append(r is None)
            return real(z, r, *args, **kwargs)

        monkeypatch.setattr(numerics, "_softmax_compiled", spy)
        got = numerics.chunk_stats(z, y, 0, plan)
        assert calls == [first_row_negative]  # fused, or from row_stats
        monkeypatch.setattr(numerics, "_softmax_compiled", lambda *a, **k: None)
        assert got == numerics.chunk_stats(z, y, 0, plan)


_WIDTH_SCRIPT = """
import sys
import numpy as np
from logitcheck.compute import kernel
from logitcheck.compute.losses import derived_thresholds, holds
from logitcheck.compute.stats import LOGIT_EDGES, LOSS_EDGES, naive_dtypes

def outputs(blocks):
    got = {}
    for name, z in blocks.items():
        if name.startswith("values/"):  # exp, log and log1p of float64 values
            x = np.abs(z)
            got[f"{name}/exp"] = kernel.exp_nonpositive(-x)
            for one_plus in (False, True):
                out = np.empty_like(x)
                kernel._COMPILED.log_values(x, out, one_plus)
                got[f"{name}/log{one_plus}"] = out
            got[f"{name}/exact_sum"] = np.array([str(kernel._COMPILED.exact_sum(z))])
            continue
        n, c = z.shape
        if z.dtype == np.uint16:  # bfloat16's bits: the kernel reads them (kind 3)
            out = [np.empty(n), np.empty(n, np.int64), np.empty(n), np.empty(n, np.int64),
                   np.empty(n), np.empty(n)]
            kernel._COMPILED.row_stats(z, 3, n, c, *out, True)
            for field, value in zip(("max", "top", "min", "amin", "rest", "min_abs"), out):
                got[f"{name}/{field}"] = value
            continue
        r = kernel.row_stats(z)
        for field in ("max", "top", "min", "amin", "rest", "min_abs"):
            got[f"{name}/{field}"] = getattr(r, field)
        if np.isfinite(z).all():
            derived = [(d, *derived_thresholds(d, c)) for d in naive_dtypes(z.dtype.name)
                       if holds(z.dtype.name, d)]
            y = np.arange(z.shape[0]) % c
            for labels in (y, None):
                s = kernel.softmax_rows(z, None, labels, np.finfo(z.dtype).eps / 2, derived,
                                        LOSS_EDGES, LOGIT_EDGES)
                tag = "softmax" if labels is not None else "softmax-unlabelled"
                for field in ("loss", "flags", "floats", "ints", "loss_counts", "max_counts",
                              "range_counts"):
                    got[f"{name}/{tag}/{field}"] = getattr(s, field)
                got[f"{name}/{tag}/sums"] = np.array([str(v) for v in s.sums])
                got[f"{name}/{tag}/agg"] = np.array(s.agg)
    return got

if __name__ == "__main__":
    blocks = dict(np.load(sys.argv[1]))
    assert kernel.SIMD == sys.argv[3], kernel.SIMD
    np.savez(sys.argv[2], **outputs(blocks))
"""


def _code_path_blocks() -> dict[str, np.ndarray]:
    """Blocks for every path of the kernel: short rows (one row per lane) across the 8- and
    16-row steps and their padded tails, wide rows across the vector groups and the
    portable code's 1024-column chunks, every storage dtype, NaN, +-inf, tiny values,
    rows whose z - max is inexact, wide ranges (the exp without the narrow shortcut)."""
    rng = np.random.default_rng(16)
    blocks = {}
    for c, ns in ((1, (1, 17)), (2, (15, 71)), (5, (16, 1030)), (10, (17, 71)),
                  (15, (71,)), (16, (1, 71)), (17, (17, 71)), (40, (33,)), (333, (21,)),
                  (1100, (9,)), (2049, (5,))):
        for n in ns:
            z = rng.normal(0, 3, (n, c)) * rng.choice([0.01, 1, 30, 700], (n, 1))
            if c > 2 and n > 20:
                z[3, 1], z[5, 0], z[7, :], z[9, c // 2] = np.nan, np.inf, -np.inf, 1e-30
                z[11, -1] = -np.inf
            with np.errstate(over="ignore"):
                for dtype in ("float64", "float32", "float16"):
                    blocks[f"{dtype}-{n}x{c}"] = z.astype(dtype)
                blocks[f"bfloat16-{n}x{c}"] = (
                    z.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    blocks["values/a"] = np.concatenate([
        rng.random(5000) * 746, rng.random(1000) * 2,
        np.ldexp(rng.random(3000) + 0.5, rng.integers(-1070, 1000, 3000)),  # exact: no libm
        [0.0, 708.4, 709.1, 745.2, 1e-310]])
    return blocks


def _in_a_child(env: dict, code: str) -> str:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                          capture_output=True, text=True, check=True).stdout.strip()


@needs_compiled
def test_numpy_computes_where_the_kernels_fma_is_a_library_call():
    """The x86-64 build for any CPU (LOGITCHECK_SIMD=portable-baseline, as on CPUs without
    FMA) calls libm's fma() 14 times a value, some 15x slower than numpy: numpy computes,
    --version says why, no hint asks to install a kernel, and LOGITCHECK_KERNEL=compiled
    uses the build anyway. The other codes have fma as an instruction."""
    if not kernel.SIMD.startswith("avx"):
        pytest.skip(f"this machine runs {kernel.SIMD} only")
    code = ("from logitcheck import _kernel; from logitcheck.about import kernel_description;"
            "from logitcheck.compute import kernel; "
            "print(_kernel.fast_fma(), kernel.KERNEL, kernel.SIMD, kernel_description(), sep='|')")
    for simd in ("avx2", "portable"):
        assert _in_a_child({"LOGITCHECK_SIMD": simd}, code) == \
            f"True|compiled|{simd}|compiled ({simd})"
    from logitcheck.about import NO_FMA

    assert _in_a_child({"LOGITCHECK_SIMD": "portable-baseline"}, code) == \
        f"False|numpy|None|numpy ({NO_FMA}; LOGITCHECK_KERNEL=compiled uses it)"
    assert _in_a_child({"LOGITCHECK_SIMD": "portable-baseline", "LOGITCHECK_KERNEL": "compiled"},
                       code) == "False|compiled|portable-baseline|compiled (portable-baseline)"
    hint = ("import logitcheck.analyses.analyze as a; "
            "from logitcheck.report.model import InputInfo; "
            "print(a.speed_hints([InputInfo('logits', 'x.npy', (1,), 'float32', "
            "a.NUMPY_HINT_BYTES)]))")
    assert _in_a_child({"LOGITCHECK_SIMD": "portable-baseline"}, hint) == "[]"


def test_an_extension_older_than_the_package_is_not_used(monkeypatch):
    """An in-place build from older sources lacks fast_fma: numpy computes, and --version
    says to reinstall (not an AttributeError at import)."""
    import types

    import logitcheck
    from logitcheck import about

    old = types.ModuleType("logitcheck._kernel")
    monkeypatch.setitem(sys.modules, "logitcheck._kernel", old)
    monkeypatch.setattr(logitcheck, "_kernel", old, raising=False)
    monkeypatch.delenv("LOGITCHECK_KERNEL", raising=False)
    assert about.kernel_choice() == (
        None, "numpy (the compiled kernel is older than this logitcheck: reinstall)")


@needs_compiled
@pytest.mark.parametrize("other", ["avx2", "portable", "portable-baseline"])
def test_every_code_path_gives_the_same_bits(tmp_path, other):
    """The AVX-512 code (short rows 16 at a time), the AVX2 code (LOGITCHECK_SIMD=avx2) and
    the portable C (LOGITCHECK_SIMD=portable: on x86-64 built for AVX2+FMA, as compilers
    build it for NEON; portable-baseline: built for any x86-64 CPU, as on other compilers)
    do the same arithmetic per row: every statistic, every exp and log, the same bits.
    Each runs in a subprocess (the code is chosen at import) and is compared with this
    process's."""
    import subprocess
    import sys

    if not kernel.SIMD.startswith("avx"):  # ARM, or x86-64 without AVX2: one code
        pytest.skip(f"this machine runs {kernel.SIMD} only")  # (.ci/aarch64.sh compares
    if other == kernel.SIMD:  # ARM's bits with x86-64's)
        pytest.skip(f"this process runs {other} already")
    blocks = _code_path_blocks()
    script = tmp_path / "width.py"
    script.write_text(_WIDTH_SCRIPT)
    np.savez(tmp_path / "in.npz", **blocks)
    # (portable-baseline's fma() is a libm call: by default numpy would compute instead)
    env = {**os.environ, "LOGITCHECK_SIMD": other, "LOGITCHECK_KERNEL": "compiled"}
    subprocess.run([sys.executable, str(script), str(tmp_path / "in.npz"),
                    str(tmp_path / "other.npz"), other], check=True, env=env)
    ns: dict = {}
    exec(compile(_WIDTH_SCRIPT, "width", "exec"), ns)
    ours, theirs = ns["outputs"](blocks), dict(np.load(tmp_path / "other.npz"))
    assert sorted(ours) == sorted(theirs) and any("/softmax/" in k for k in ours)
    for key, value in ours.items():
        if value.dtype.kind == "f":  # the same bits, NaN payloads aside
            same = value.view(np.uint64) == theirs[key].view(np.uint64)
            assert np.all(same | (np.isnan(value) & np.isnan(theirs[key]))), key
        else:
            assert np.array_equal(value, theirs[key]), key
