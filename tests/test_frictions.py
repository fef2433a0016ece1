"""Issue 20's small frictions: inspect on several files, GitHub annotations with CSV lines,
CSV row-id columns left out of the class columns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from logitcheck.cli.app import cli

from .conftest import save


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# --- inspect a b c ---------------------------------------------------------------------------


def test_inspect_describes_every_valid_file_and_names_the_bad_one(tmp_path):
    a = save(tmp_path / "a.npy", np.zeros((3, 4), np.float32))
    bad = tmp_path / "b.npy"
    bad.write_bytes(b"not an npy file")
    c = tmp_path / "c.csv"
    c.write_text("x,y\n1,2\n3,4\n")
    result = run("inspect", a, str(bad), str(c))
    assert result.exit_code == 2
    assert result.stdout.splitlines()[0] == f"{a}: npy, 176 bytes"
    assert f"{c}: csv, 12 bytes" in result.stdout
    assert str(bad) not in result.stdout
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"logitcheck: error: {bad}: ")


def test_inspect_json_lists_the_errors_beside_the_files(tmp_path):
    a = save(tmp_path / "a.npy", np.zeros((3, 4), np.float32))
    missing = str(tmp_path / "missing.npy")
    result = run("inspect", missing, a, "--format", "json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert [f["path"] for f in doc["files"]] == [a]
    assert doc["errors"] == [{"path": missing, "error": f"{missing}: no such file"}]


def test_inspect_all_good_exits_0(tmp_path):
    a = save(tmp_path / "a.npy", np.zeros((3, 4), np.float32))
    b = save(tmp_path / "b.npy", np.zeros(3, np.int64))
    result = run("inspect", a, b, "--format", "json")
    assert result.exit_code == 0
    assert "errors" not in json.loads(result.stdout)
    assert result.stderr == ""


# --- GitHub annotations on CSV inputs --------------------------------------------------------


def test_github_annotation_carries_the_csv_line_of_the_row(tmp_path):
    path = tmp_path / "out.csv"
    # header on line 1; data row r on line r + 2; the NaN sits in row 2, line 4
    path.write_text("a,b,c,label\n1.0,2.0,0.5,2\n0.3,0.3,0.4,0\nnan,0.5,0.3,1\n1,2,3,1\n")
    result = run("analyze", str(path), "--format", "github")
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"::error file={path},line=4,title=LC001 non-finite-values::")


def test_github_annotation_line_without_header_and_after_blank_lines(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("\n\n1.0,2.0,0.5\n0.3,0.3,0.4\n0.2,inf,0.3\n")  # row 2 is line 5
    result = run("analyze", str(path), "--format", "github")
    assert result.exit_code == 1
    assert ",line=5,title=LC001 " in result.stdout.splitlines()[0]


def test_github_annotation_has_no_line_for_npy(tmp_path):
    z = np.ones((4, 3), np.float32)
    z[2, 1] = np.nan
    result = run("analyze", save(tmp_path / "z.npy", z), "--format", "github")
    assert result.exit_code == 1
    assert "line=" not in result.stdout


# --- CSV id columns ----------------------------------------------------------------------------


def _pandas_style(path: Path, z: np.ndarray, start: int = 0) -> None:
    """What pandas' DataFrame.to_csv(path) writes: an unnamed index column first."""
    with open(path, "w") as f:
        f.write("," + ",".join(f"c{i}" for i in range(z.shape[1])) + "\n")
        for i, row in enumerate(z):
            f.write(f"{start + i}," + ",".join(repr(float(v)) for v in row) + "\n")


def _logits(rows: int = 400, classes: int = 3) -> np.ndarray:
    return np.random.default_rng(7).normal(size=(rows, classes)) * 2


def test_pandas_index_column_is_left_out_and_said(tmp_path):
    z = _logits()
    path = tmp_path / "export.csv"
    _pandas_style(path, z, start=1318)  # the index runs up to 1717
    result = run("analyze", str(path), "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    logits = doc["inputs"][0]
    assert logits["shape"] == [400, 3]
    assert logits["columns"] == ["c0", "c1", "c2"]
    assert logits["left_out_columns"] == ["(unnamed)"]
    assert logits["first_line"] == 2
    assert doc["metrics"]["health"]["max"] == z.max()  # 1717 would be the index
    assert doc["findings"] == []
    assert "class columns: c0, c1, c2" in result.stderr
    assert "left out as row ids: (unnamed)" in result.stderr


def test_named_id_column_and_increasing_first_column(tmp_path):
    z = _logits()
    named = tmp_path / "named.csv"
    with open(named, "w") as f:
        f.write("p0,p1,sample_id,p2,label\n")  # an id column by name, anywhere
        for i, row in enumerate(z):
            f.write(f"{float(row[0])!r},{float(row[1])!r},{9000 - i},{float(row[2])!r},"
                    f"{int(row.argmax())}\n")
    result = run("analyze", str(named), "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["inputs"][0]["columns"] == ["p0", "p1", "p2"]
    assert doc["inputs"][0]["left_out_columns"] == ["sample_id"]
    assert doc["metrics"]["accuracy"] == 1.0
    unnamed = tmp_path / "ids.csv"  # no header: a first column 5, 6, 7, ... is an index
    with open(unnamed, "w") as f:
        for i, row in enumerate(z):
            f.write(f"{5 + i}," + ",".join(repr(float(v)) for v in row) + "\n")
    doc = json.loads(run("analyze", str(unnamed), "--format", "json").stdout)
    assert doc["inputs"][0]["columns"] == ["2", "3", "4"]
    assert doc["inputs"][0]["left_out_columns"] == ["1"]
    assert doc["inputs"][0]["first_line"] == 1


def test_explicit_class_columns_win_over_the_id_rule(tmp_path):
    z = _logits()
    path = tmp_path / "export.csv"
    _pandas_style(path, z)
    result = run("analyze", str(path), "--class-columns", "*", "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["inputs"][0]["columns"] == ["", "c0", "c1", "c2"]
    assert doc["inputs"][0]["left_out_columns"] == []
    assert doc["metrics"]["health"]["max"] == 399.0  # the index, read as asked
    assert result.exit_code == 0


def test_a_first_column_that_is_not_increasing_is_kept(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("0,1,2\n1,2,0\n2,0,1\n")  # 0, 1, 2: too few rows to call it an index
    doc = json.loads(run("analyze", str(path), "--format", "json").stdout)
    assert doc["inputs"][0]["columns"] == ["1", "2", "3"]
    path.write_text("".join(f"{i},1,2\n" for i in (0, 1, 2, 3, 5, 4, 6, 7, 8)))
    doc = json.loads(run("analyze", str(path), "--format", "json").stdout)
    assert doc["inputs"][0]["left_out_columns"] == []


def test_labels_csv_with_a_pandas_index(tmp_path):
    z = _logits()
    labels = tmp_path / "labels.csv"
    with open(labels, "w") as f:
        f.write(",0\n" + "".join(f"{i},{int(r.argmax())}\n" for i, r in enumerate(z)))
    result = run("analyze", save(tmp_path / "z.npy", z), "--labels", str(labels),
                 "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metrics"]["accuracy"] == 1.0
