"""Every input format: the values read and the loss computed from them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli
from logitcheck.io import open_inputs, open_logits
from logitcheck.settings import Settings

from .conftest import save as save_npy
from .reference import exact_losses
from .writers import write_csv, write_safetensors

RNG = np.random.default_rng(5)
Z = RNG.normal(scale=3.0, size=(64, 5)).astype(np.float32)
Y = RNG.integers(0, 5, size=64)
CLASSES = ["cat", "dog", "bird", "fish", "frog"]


def analyze_json(*args: str):
    result = CliRunner().invoke(cli, ["analyze", *args, "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def read_all(logits, labels=None, **settings):
    source, lab = open_inputs(logits, labels, Settings(**settings))
    z = source.read(0, source.shape[0])
    return source, lab, z, (lab.read(0, source.shape[0]) if lab is not None else None)


def assert_loss(doc, z, y):
    expected = exact_losses(np.asarray(z, dtype=np.float64), y).mean()
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-12)


def test_npz_stored_is_memory_mapped_and_labels_come_from_the_same_file(tmp_path):
    path = tmp_path / "out.npz"
    np.savez(path, logits=Z, labels=Y)
    source, lab, z, y = read_all(path)
    assert isinstance(source.array, np.memmap)
    np.testing.assert_array_equal(z, Z)
    np.testing.assert_array_equal(y, Y)
    doc = analyze_json(str(path))
    assert [(i["role"], i["format"], i["key"]) for i in doc["inputs"]] == [
        ("logits", "npz", "logits"), ("labels", "npz", "labels")]
    assert_loss(doc, Z, Y)


def test_npz_compressed_with_default_and_explicit_keys(tmp_path):
    path = tmp_path / "out.npz"
    np.savez_compressed(path, predictions=Z, targets=Y, other=Z[:3])
    source, lab, z, y = read_all(path)
    assert source.stored.key == "predictions" and lab.stored.key == "targets"
    np.testing.assert_array_equal(z, Z)
    other = open_logits(path, Settings(logits_key="other"))
    np.testing.assert_array_equal(other.read(0, 3), Z[:3])
    assert_loss(analyze_json(str(path)), Z, Y)


def test_npz_single_array_and_labels_from_another_npz(tmp_path):
    np.savez(tmp_path / "z.npz", Z)  # stored as arr_0
    np.savez_compressed(tmp_path / "y.npz", y=Y)
    doc = analyze_json(str(tmp_path / "z.npz"), "--labels", str(tmp_path / "y.npz"))
    assert doc["inputs"][0]["key"] == "arr_0" and doc["inputs"][1]["key"] == "y"
    assert_loss(doc, Z, Y)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_safetensors_floats(tmp_path, dtype):
    z = Z.astype(dtype)
    path = write_safetensors(tmp_path / "o.safetensors", {"labels": Y, "logits": z})
    source, lab, got, y = read_all(path)
    assert source.dtype == dtype and isinstance(source.array, np.memmap)
    np.testing.assert_array_equal(got, z)
    np.testing.assert_array_equal(y, Y)
    assert_loss(analyze_json(path), z, Y)


def test_safetensors_bfloat16_is_exact(tmp_path):
    zb = (Z.view(np.uint32) & 0xFFFF0000).view(np.float32)  # exact bfloat16 values
    path = write_safetensors(tmp_path / "o.safetensors", {"outputs": zb, "targets": Y},
                             bf16=("outputs",))
    source, _, got, _ = read_all(path)
    assert source.dtype == "bfloat16"
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, zb)
    doc = analyze_json(path)
    assert doc["inputs"][0]["dtype"] == "bfloat16"
    assert "bfloat16" in doc["metrics"]["naive"]
    assert_loss(doc, zb, Y)


def test_safetensors_labels_in_a_separate_file(tmp_path):
    z = write_safetensors(tmp_path / "z.safetensors", {"logits": Z})
    y = write_safetensors(tmp_path / "y.safetensors", {"ids": Y.astype(np.int32)})
    doc = analyze_json(z, "--labels", y, "--labels-key", "ids")
    assert doc["inputs"][1]["key"] == "ids"
    assert_loss(doc, Z, Y)


def _probs(decimals: int) -> np.ndarray:
    p = np.exp(Z.astype(np.float64))
    return np.round(p / p.sum(axis=1, keepdims=True), decimals)


@pytest.mark.parametrize("decimals", [3, 4])
def test_csv_of_rounded_probabilities_is_read_as_probabilities(tmp_path, decimals):
    p = _probs(decimals)
    rows = [[f"{v:.{decimals}f}" for v in r] + [CLASSES[c]] for r, c in zip(p, Y, strict=True)]
    path = write_csv(tmp_path / "p.csv", CLASSES + ["label"], rows)
    source, lab, got, y = read_all(path, label_column="label")
    np.testing.assert_array_equal(got, p)
    np.testing.assert_array_equal(y, Y)  # class names map to their column's index
    doc = analyze_json(path, "--label-column", "label", "--expects", "probabilities")
    assert doc["kind"]["name"] == "probabilities"
    assert doc["kind"]["evidence"]["decimals"] == decimals
    # rounding left some labels' probability at exactly 0: Keras and sklearn clip those
    zero = int((p[np.arange(len(Y)), Y] == 0).sum())
    assert [f["code"] for f in doc["findings"]] == (["LC108"] if zero else [])
    if zero:
        assert doc["findings"][0]["evidence"]["rows_with_zero_probability"] == zero
    assert_loss(doc, p, Y)


def test_tsv_gz_with_bom_crlf_globbed_columns_and_an_index_column(tmp_path):
    header = ["", "id"] + [f"p_{c}" for c in CLASSES] + ["y"]
    rows = [[i, f"s{i}"] + [repr(float(v)) for v in r] + [int(c)]
            for i, (r, c) in enumerate(zip(Z, Y, strict=True))]
    path = write_csv(tmp_path / "z.tsv.gz", header, rows, delimiter="\t", newline="\r\n",
                     bom=True)
    source, lab, got, y = read_all(path, label_column="y")
    assert source.stored.class_names == tuple(f"p_{c}" for c in CLASSES)  # no index, no id
    np.testing.assert_array_equal(got, Z.astype(np.float64))
    np.testing.assert_array_equal(y, Y)
    _, _, got2, _ = read_all(path, label_column="y", class_columns="p_*")
    np.testing.assert_array_equal(got2, got)
    assert_loss(analyze_json(path, "--label-column", "y"), Z, Y)


def test_csv_labels_by_stem_of_the_glob_and_nan_tokens_feed_lc001(tmp_path):
    rows = [[repr(float(v)) for v in r] + [CLASSES[c]] for r, c in zip(Z, Y, strict=True)]
    rows[3][1], rows[5][0], rows[6][4] = "nan", "inf", "-inf"
    path = write_csv(tmp_path / "z.csv", [f"p_{c}" for c in CLASSES] + ["label"], rows)
    doc = analyze_json(path, "--label-column", "label", "--class-columns", "p_*")
    lc001 = next(f for f in doc["findings"] if f["code"] == "LC001")
    assert lc001["evidence"]["nan"]["first_rows"] == [3]
    assert lc001["evidence"]["posinf"]["first_rows"] == [5]
    assert lc001["evidence"]["neginf"]["first_rows"] == [6]


def test_headerless_csv_and_labels_from_a_one_column_csv(tmp_path):
    z = write_csv(tmp_path / "z.csv", None, [[repr(float(v)) for v in r] for r in Z])
    y = write_csv(tmp_path / "y.csv", ["label"], [[int(c)] for c in Y])
    source, lab, got, yy = read_all(z, y)
    assert source.shape == (64, 5)
    np.testing.assert_array_equal(got, Z.astype(np.float64))
    np.testing.assert_array_equal(yy, Y)
    assert_loss(analyze_json(z, "--labels", y), Z, Y)


def test_csv_labels_as_names_in_a_separate_file(tmp_path):
    z = write_csv(tmp_path / "z.csv", CLASSES, [[repr(float(v)) for v in r] for r in Z])
    y = write_csv(tmp_path / "y.csv", ["name"], [[CLASSES[c]] for c in Y])
    _, _, _, yy = read_all(z, y)
    np.testing.assert_array_equal(yy, Y)


def test_large_csv_is_read_in_blocks(tmp_path, monkeypatch):
    from logitcheck.io import delimited

    monkeypatch.setattr(delimited, "BLOCK_LINES", 7)  # many blocks, a partial last one
    rows = [[repr(float(v)) for v in r] + [int(c)] for r, c in zip(Z, Y, strict=True)]
    rows[10:10] = []
    path = tmp_path / "z.csv"
    text = "a,b,c,d,e,y\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n\n\n"
    path.write_text(text)
    calls = []
    source, lab = open_inputs(path, None, Settings(label_column="y"),
                              lambda done, total: calls.append((done, total)))
    np.testing.assert_array_equal(source.read(0, 64), Z.astype(np.float64))
    np.testing.assert_array_equal(lab.read(0, 64), Y)
    assert len(calls) == 10 and calls[-1][0] == calls[-1][1] == path.stat().st_size


def test_gzip_csv_row_estimate_in_inspect(tmp_path):
    path = tmp_path / "z.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(10)))
    result = CliRunner().invoke(cli, ["inspect", str(path), "--format", "json"])
    [doc] = json.loads(result.stdout)["files"]
    assert doc["format"] == "csv" and doc["rows"] == 10 and doc["rows_exact"] is True
    assert doc["columns"] == ["a", "b"]


def test_csv_label_column_found_by_name_and_never_a_class(tmp_path):
    rows = [[repr(float(v)) for v in r] + [int(c)] for r, c in zip(Z, Y, strict=True)]
    path = write_csv(tmp_path / "z.csv", CLASSES + ["target"], rows)
    doc = analyze_json(path)
    assert [(i["role"], i["key"]) for i in doc["inputs"]] == [
        ("logits", "cat..frog"),
        ("labels", "target")]
    assert_loss(doc, Z, Y)
    y = save_npy(tmp_path / "y.npy", Y)
    doc = analyze_json(path, "--labels", y)  # separate labels: the column is still no class
    assert doc["inputs"][0]["shape"] == [64, 5]


def test_inspect_reads_headers_only(tmp_path):
    lie = tmp_path / "huge.npy"
    with open(lie, "wb") as f:  # declares 240 GB; inspect must not need the data
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (20_000_000_000, 3)})
    np.savez_compressed(tmp_path / "c.npz", logits=Z, labels=Y)
    st = write_safetensors(tmp_path / "s.safetensors", {"logits": Z.astype(np.float16)})
    csv = write_csv(tmp_path / "p.csv", None, [[0.25, 0.75]] * 3)
    result = CliRunner().invoke(cli, ["inspect", str(lie), str(tmp_path / "c.npz"), st, csv])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{lie}: npy, {lie.stat().st_size:,} bytes",
        "  20,000,000,000 × 3 float32, 240,000,000,000 bytes (mapped)",
        f"{tmp_path / 'c.npz'}: npz, {(tmp_path / 'c.npz').stat().st_size:,} bytes",
        f"  logits: 64 × 5 float32, 1,280 bytes (compressed to "
        f"{zip_sizes(tmp_path / 'c.npz')['logits.npy']:,} bytes)",
        f"  labels: 64 int64, 512 bytes (compressed to "
        f"{zip_sizes(tmp_path / 'c.npz')['labels.npy']:,} bytes)",
        f"{st}: safetensors, {Path(st).stat().st_size:,} bytes",
        "  logits: 64 × 5 float16, 640 bytes (mapped)",
        f"{csv}: csv, 30 bytes",
        "  2 columns (no header; columns numbered from 1): 1, 2",
        "  numeric: 1, 2; 3 rows",
    ]


def zip_sizes(path) -> dict[str, int]:
    import zipfile

    return {i.filename: i.compress_size for i in zipfile.ZipFile(path).infolist()}
