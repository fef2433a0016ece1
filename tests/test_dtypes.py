"""Every dtype threshold against an independent computation at the boundary: exp in that
dtype on the representable values either side of it."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli
from logitcheck.compute.dtypes import FACTS, cast, facts, round_bfloat16

from .conftest import SAMPLES, save

NUMPY = ("float16", "float32", "float64")


def exp_in(dtype: str, x: float) -> float:
    """exp(x) as computed in `dtype` (bfloat16: float32 exp, rounded)."""
    with np.errstate(over="ignore", under="ignore"):
        if dtype == "bfloat16":
            return float(round_bfloat16(np.exp(np.float32(x))))
        return float(np.exp(np.array(x, dtype=dtype)))


def neighbours(dtype: str, x: float) -> tuple[float, float]:
    """The representable values of `dtype` just below and just above x."""
    if dtype == "bfloat16":  # x > 0 here: dropping the low 16 bits rounds towards 0
        (bits,) = struct.unpack("<I", struct.pack("<f", x))
        lo, hi = bits & 0xFFFF0000, (bits & 0xFFFF0000) + 0x10000
        return tuple(struct.unpack("<f", struct.pack("<I", b))[0] for b in (lo, hi))
    v = np.array(x, dtype=dtype)
    lo = v if float(v) <= x else np.nextafter(v, np.array(-np.inf, dtype=dtype))
    return float(lo), float(np.nextafter(lo, np.array(np.inf, dtype=dtype)))


@pytest.mark.parametrize("dtype", list(FACTS))
def test_overflow_threshold_is_where_exp_becomes_inf(dtype):
    below, above = neighbours(dtype, facts(dtype).overflow_at)
    assert np.isfinite(exp_in(dtype, below)) and exp_in(dtype, above) == np.inf


@pytest.mark.parametrize("dtype", list(FACTS))
def test_zero_range_is_where_a_probability_becomes_0(dtype):
    below, above = neighbours(dtype, facts(dtype).zero_range)
    assert exp_in(dtype, -below) > 0 and exp_in(dtype, -above) == 0


@pytest.mark.parametrize("dtype", list(FACTS))
def test_subnormal_range_is_where_a_probability_leaves_the_normals(dtype):
    below, above = neighbours(dtype, facts(dtype).subnormal_range)
    tiny = facts(dtype).tiny
    assert exp_in(dtype, -below) >= tiny and 0 < exp_in(dtype, -above) < tiny


def test_the_figures_users_know():
    expected = {
        "float16": (11.09, 9.70, 17.33),
        "bfloat16": (88.72, 87.34, 92.86),
        "float32": (88.72, 87.34, 103.97),
        "float64": (709.78, 708.40, 745.13),
    }
    for dtype, (over, sub, zero) in expected.items():
        f = facts(dtype)
        assert (round(f.overflow_at, 2), round(f.subnormal_range, 2)) == (over, sub)
        assert round(f.zero_range, 2) == pytest.approx(zero, abs=0.02)


@pytest.mark.parametrize("dtype", NUMPY)
def test_facts_agree_with_numpy(dtype):
    info = np.finfo(dtype)
    f = facts(dtype)
    assert (f.max, f.tiny, f.smallest_subnormal, f.eps) == (
        float(info.max), float(info.smallest_normal), float(info.smallest_subnormal),
        float(info.eps))
    for x in (1.0, 1000.0, 3.7e-5, 1e-300 if dtype == "float64" else 1e-6):
        assert f.spacing(x) == float(np.spacing(np.array(x, dtype=dtype)))


def _bf16_reference(x: float) -> float:
    """Round a float32 to bfloat16 by hand: keep the top 16 bits, ties to even."""
    (bits,) = struct.unpack("<I", struct.pack("<f", x))
    low, high = bits & 0xFFFF, bits >> 16
    if low > 0x8000 or (low == 0x8000 and high & 1):
        high += 1
    return struct.unpack("<f", struct.pack("<I", (high << 16) & 0xFFFFFFFF))[0]


def test_bfloat16_rounding_is_round_to_nearest_even():
    rng = np.random.default_rng(3)
    x = np.concatenate([
        rng.normal(0, 1, 5000) * 10.0 ** rng.integers(-40, 38, 5000),
        [1.00390625, 1.01171875, -1.00390625, 3.3895314e38, 3.40e38, 1e-40, 0.0, -0.0],
    ]).astype(np.float32)
    got = round_bfloat16(x)
    expected = np.array([_bf16_reference(float(v)) for v in x], dtype=np.float32)
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(round_bfloat16(np.float32(np.nan)))
    assert cast(np.array([1e39]), "bfloat16")[0] == np.inf


def run_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["analyze", *args, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_zones_and_headroom_in_the_json():
    doc = run_json(str(SAMPLES / "fp16_overflow_logits.npy"))
    zones = doc["metrics"]["zones"]
    z = np.load(SAMPLES / "fp16_overflow_logits.npy").astype(np.float64)
    assert zones["max_logit"] == z.max()
    assert zones["max_range"] == (z.max(axis=1) - z.min(axis=1)).max()
    f16 = zones["dtypes"]["float16"]
    assert f16["max_logit_headroom"] == pytest.approx(facts("float16").overflow_at - z.max())
    assert f16["max_logit_headroom"] < 0 < zones["dtypes"]["float32"]["max_logit_headroom"]


def test_mixed_precision_is_info_by_default_and_a_warning_when_asked():
    healthy = str(SAMPLES / "healthy_logits.npy")
    labels = str(SAMPLES / "labels.npy")
    scaled = np.load(SAMPLES / "healthy_logits.npy") * 1.5  # max logit ~15: > 11.09
    path = save(SAMPLES.parent / ".pytest_scaled.npy", scaled.astype(np.float32))
    try:
        doc = run_json(path, "--labels", labels)
        assert [(f["code"], f["severity"]) for f in doc["findings"]] == [("LC104", "info")]
        assert doc["exit_code"] == 0
        doc = run_json(path, "--labels", labels, "--dtypes", "float16")
        [finding] = [f for f in doc["findings"] if f["code"] == "LC103"]
        with np.errstate(over="ignore"):
            s16 = np.exp(scaled.astype(np.float16)).sum(axis=1)
        assert finding["evidence"]["rows"] == int(np.isinf(s16).sum()) > 0
        assert "LC104" not in [f["code"] for f in doc["findings"] if f["evidence"].get(
            "dtype") == "float16"]
    finally:
        (SAMPLES.parent / ".pytest_scaled.npy").unlink()
    assert run_json(healthy, "--labels", labels)["findings"] == []


def test_subnormal_quantization_and_constant_rows(tmp_path):
    z = np.zeros((20, 5), dtype=np.float32)
    z[:, 0] = 30.0  # confident and correct: loss 4e^-30, p_y rounds to 1 in float32
    z[3] = [-40.0, 55.0, 0.0, 0.0, 0.0]  # label 0: p_0 = exp(-95), subnormal in float32
    z[4:7] = 0.0  # dead rows
    z[9, 0] = 1e6  # coarse: float32 spacing at 1e6 is 0.0625
    labels = np.zeros(20, dtype=np.int64)
    doc = run_json(save(tmp_path / "z.npy", z), "--labels", save(tmp_path / "y.npy", labels))
    by_code = {f["code"]: f for f in doc["findings"]}
    assert by_code["LC105"]["evidence"]["first_rows"] == [3]
    assert by_code["LC107"]["evidence"]["first_rows"] == [4, 5, 6]
    assert by_code["LC106"]["evidence"]["spacing"] == float(np.spacing(np.float32(1e6)))
    # confident and correct rows: p_y rounds to 1 in float32, the gradient vanishes
    saturated = [r for r in range(20) if r not in (3, 4, 5, 6)]
    assert doc["metrics"]["gradients"]["vanishing_first_rows"] == saturated[:10]
