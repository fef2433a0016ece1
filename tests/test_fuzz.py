"""The reader fuzz in CI: a slice of tests/fuzz/run.py (the long run: --cases 10000), and one
regression test per bug the fuzz found, each with the message the user now gets."""

from __future__ import annotations

import random
import signal
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli

from .conftest import save
from .fuzz import run as fuzz
from .fuzz.cases import adversarial_yaml
from .test_malformed import fails
from .writers import write_csv, write_safetensors

CI_CASES = 300


def test_fuzz_slice_ends_in_a_report_or_one_clean_line():
    """Mutated and lying files of every format, in workers capped at 2 GiB of address space
    and 20 s per case: exit 0/1 with a report or exit 2 with one line, nothing else."""
    summary = fuzz.run(CI_CASES, seed=20261122, workers=2, timeout=20.0)
    assert summary.cases == CI_CASES
    assert not summary.failures, "\n\n".join(
        f"case {f.index} ({f.kind}) {f.args}: {f.problem}" for f in summary.failures[:5])
    assert set(summary.exits) >= {"0", "2"}  # the slice reaches both outcomes


def test_yaml_configs_never_crash(tmp_path, monkeypatch):
    pytest.importorskip("logitcheck.batch.config")  # written on another branch
    monkeypatch.chdir(tmp_path)
    save(tmp_path / "a.npy", np.zeros((4, 3), np.float32))
    save(tmp_path / "y.npy", np.zeros(4, np.int64))
    rng = random.Random(8)

    def alarm(*_):
        raise TimeoutError("a YAML config took more than 20 s")

    old = signal.signal(signal.SIGALRM, alarm)
    try:
        for _ in range(60):
            (tmp_path / "c.yaml").write_bytes(adversarial_yaml(rng))
            signal.alarm(20)
            result = CliRunner().invoke(cli, ["config", "validate", "c.yaml"])
            signal.alarm(0)
            assert result.exit_code in (0, 2), result.output
            assert not isinstance(result.exception, TimeoutError)
            if result.exit_code == 2:
                line = result.stderr.strip()
                assert "\n" not in line and line.startswith("logitcheck: error: "), line
                assert "internal error" not in line and "Traceback" not in result.output
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# --- bugs the fuzz found ----------------------------------------------------------------------


def test_safetensors_header_nested_too_deeply(tmp_path):
    path = tmp_path / "deep.safetensors"
    raw = b"[" * 100_000 + b"]" * 100_000
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    fails(["analyze", str(path)], str(path), "JSON nested too deeply")
    fails(["inspect", str(path)], "JSON nested too deeply")


@pytest.mark.parametrize("dtype", [{"a": 1}, ["F32"], 7])
def test_safetensors_dtype_that_is_not_a_string(tmp_path, dtype):
    path = write_safetensors(tmp_path / "d.safetensors", {"logits": np.zeros((2, 3), np.float32)},
                             header_patch={"logits": {"dtype": dtype}})
    fails(["analyze", path], "tensor 'logits' has dtype")


def test_shapes_numpy_cannot_represent(tmp_path):
    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:  # zero bytes of data, but numpy refuses the shape itself
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (0, 2**62, 9)})
    fails(["analyze", str(path)], "(0, 4611686018427387904, 9) is too large for any array")
    fails(["inspect", str(path)], "too large for any array")
    st = write_safetensors(tmp_path / "h.safetensors", {"logits": np.zeros((0, 3), np.float32)},
                           header_patch={"logits": {"shape": [0, 10**30]}})
    fails(["analyze", st], "too large for any array")


def test_float128_logits_are_refused(tmp_path):
    if np.dtype(np.longdouble).itemsize == 8:
        pytest.skip("longdouble is float64 here")
    path = save(tmp_path / "q.npy", np.zeros((4, 3), np.longdouble))
    fails(["analyze", path], path, f"holds {np.dtype(np.longdouble).name} values",
          "float16, bfloat16, float32 or float64")


def test_csv_quoted_field_running_past_its_line(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('c0,c1,label\n0.1,0.2,0\n"1\n2",3,0\n0.3,0.4,1\n')
    fails(["analyze", str(path)], "line 3: a quoted field runs past the end of the line")
    path.write_text('c0,c1,label\n0.1,0.2,1\n0.1,"0.3\n')  # a quote never closed
    result = CliRunner().invoke(cli, ["analyze", str(path)])
    assert result.exit_code in (0, 1, 2) and "internal error" not in result.stderr


def test_csv_quoted_row_too_short_for_its_label(tmp_path):
    path = write_csv(tmp_path / "s.csv", ["c0", "c1", "label"],
                     [["0.1", "0.9", "1"], ['"0.5"', "0.5"]])
    fails(["analyze", path], "line 3: 2 fields where the header has 3")
    z = save(tmp_path / "z.npy", np.zeros((2, 2), np.float32))
    fails(["analyze", z, "--labels", path, "--label-column", "label"], "line 3: 2 fields")


def test_csv_field_above_the_csv_module_limit(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text('a,b\n0.5,0.5\n"' + "9" * 200_000 + '",1\n')
    fails(["analyze", str(path)], "line 3: field larger than field limit")


@pytest.mark.parametrize("label", ["999999999999999999999999999999", "1e30", "-1e300"])
def test_csv_label_ids_beyond_int64(tmp_path, label):
    path = write_csv(tmp_path / "l.csv", ["a", "b", "label"], [[0.5, 0.5, 0], [0.1, 0.9, label]])
    fails(["analyze", path], f"line 3, column label: label {label!r} is neither a class id")


@pytest.mark.parametrize("index", [15945, 33486])
def test_fuzz_987654_control_characters_in_column_names_stay_escaped(index, tmp_path,
                                                                      monkeypatch):
    """Bit flips put \\x0b and \\x17 in a CSV header: the error line quoting the columns was
    three lines (python tests/fuzz/run.py --seed 987654 --only 15945 / 33486)."""
    from .fuzz.cases import make_case

    case = make_case(987654, index, True)
    monkeypatch.chdir(tmp_path)
    for name, data in case["files"].items():
        (tmp_path / name).write_bytes(data)
    result = CliRunner().invoke(cli, case["args"])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "--label-column: no column 'y'" in line and "\\x0b" in line


def test_fuzz_987654_7535_signalling_nan_target_warns_nothing(tmp_path, monkeypatch):
    """A flipped bit made a one-hot label a signalling NaN: numpy's cast warning reached
    stderr before the one-line error (--seed 987654 --only 7535)."""
    from .fuzz.cases import make_case

    case = make_case(987654, 7535, True)
    monkeypatch.chdir(tmp_path)
    for name, data in case["files"].items():
        (tmp_path / name).write_bytes(data)
    result = CliRunner().invoke(cli, case["args"])
    assert result.exit_code == 2
    assert result.stderr == ("logitcheck: error: a.npy: row 0, column 1: target "
                             "1.3597475290298462 is not a probability in [0, 1]\n")
