"""A lean install (issue 23): pyarrow is an extra, the compiled kernel optional; the report
says, in one line each, how a run that went without them could be faster."""

from __future__ import annotations

import sys

import pytest

from logitcheck.analyses import analyze as analysis
from logitcheck.io.delimited import FAST_MIN_BYTES
from logitcheck.report.model import InputInfo


def _csv(tmp_path, size: int) -> InputInfo:
    path = tmp_path / "big.csv"
    path.write_bytes(b"0" * size)
    return InputInfo("logits", str(path), (10, 3), "float64", 240, "csv")


def test_a_large_csv_read_without_pyarrow_gets_the_extra_as_a_hint(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "pyarrow", raising=False)  # not imported: not used
    monkeypatch.setattr(analysis, "KERNEL", "compiled")
    assert analysis.speed_hints([_csv(tmp_path, FAST_MIN_BYTES)]) == [
        f"{tmp_path / 'big.csv'} was read by the built-in CSV parser: "
        "pip install 'logitcheck[csv]' (pyarrow) reads it about 3x faster"]
    assert analysis.speed_hints([_csv(tmp_path, FAST_MIN_BYTES - 1)]) == []  # small: no


def test_no_csv_hint_where_pyarrow_read_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", object())
    monkeypatch.setattr(analysis, "KERNEL", "compiled")
    assert analysis.speed_hints([_csv(tmp_path, FAST_MIN_BYTES)]) == []


@pytest.mark.parametrize("nbytes", [analysis.NUMPY_HINT_BYTES - 1, analysis.NUMPY_HINT_BYTES])
def test_large_logits_computed_in_numpy_get_the_kernel_as_a_hint(monkeypatch, nbytes):
    monkeypatch.setattr(analysis, "KERNEL", "numpy")
    monkeypatch.setenv("LOGITCHECK_KERNEL", "numpy")
    info = InputInfo("logits", "x.npy", (nbytes // 4,), "float32", nbytes)
    got = analysis.speed_hints([info])
    if nbytes < analysis.NUMPY_HINT_BYTES:
        assert got == []
    else:
        assert got == ["computed in numpy (LOGITCHECK_KERNEL=numpy): the compiled kernel is "
                       "10-40x faster; install a logitcheck wheel, or reinstall with a C compiler"]
    monkeypatch.setattr(analysis, "KERNEL", "compiled")
    assert analysis.speed_hints([info]) == []


def test_the_report_carries_the_kernel_in_use(tmp_path):
    import numpy as np

    from logitcheck import analyze
    from logitcheck.compute import kernel

    np.save(tmp_path / "z.npy", np.zeros((4, 3), np.float32))
    m = analyze(tmp_path / "z.npy").metrics
    assert m["hints"] == []
    assert m["kernel_code"] == (f"compiled ({kernel.SIMD})" if kernel._COMPILED is not None
                                else m["kernel_code"])
    assert m["kernel_code"].split(" ")[0] == m["kernel"]
