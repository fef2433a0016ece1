"""Malformed input: one line on stderr naming the file and the problem, exit 2, nothing on
stdout, no traceback, and nothing allocated from what the file merely declares."""

from __future__ import annotations

import json
import struct
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli

from .conftest import assert_clean_error, save
from .writers import write_csv, write_safetensors

Z = np.random.default_rng(2).normal(size=(20, 3)).astype(np.float32)
Y = np.arange(20) % 3


def fails(args: list[str], *fragments: str) -> str:
    return assert_clean_error(CliRunner().invoke(cli, args, catch_exceptions=False), *fragments)


def analyze_fails(*args: str) -> list[str]:
    return ["analyze", *args]


# --- .npy ---


def test_empty_file(tmp_path):
    for name in ("e.npy", "e.npz", "e.safetensors", "e.csv"):
        path = tmp_path / name
        path.write_bytes(b"")
        fails(["analyze", str(path)], str(path))
    fails(["analyze", str(tmp_path / "e.csv")], "is empty")


@pytest.mark.parametrize("name", ["d.npy", "d.npz", "d.safetensors", "d.csv"])
def test_a_directory_instead_of_a_file(tmp_path, name):
    (tmp_path / name).mkdir()
    fails(["analyze", str(tmp_path / name)], str(tmp_path / name), "is a directory")
    fails(["inspect", str(tmp_path / name)], "is a directory")


def test_truncated_npy(tmp_path):
    path = tmp_path / "t.npy"
    np.save(path, Z)
    path.write_bytes(path.read_bytes()[:-7])
    fails(["analyze", str(path)], str(path), "truncated", "240 bytes of data")


def test_npy_header_that_lies_about_its_shape(tmp_path):
    path = tmp_path / "lie.npy"
    with open(path, "wb") as f:  # a header declaring 240 GB over 240 bytes of data
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (20_000_000_000, 3)})
        f.write(Z.tobytes())
    fails(["analyze", str(path)], "truncated", "(20000000000, 3)", "240,000,000,000 bytes")
    fails(["inspect", str(tmp_path / "nope.npy")], "no such file")


def test_pickled_object_array(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([[object()]], dtype=object), allow_pickle=True)
    fails(["analyze", str(path)], "pickled", "never unpickles")
    npz = tmp_path / "obj.npz"
    np.savez(npz, logits=np.array([[object()]], dtype=object), allow_pickle=True)
    fails(["analyze", str(npz)], str(npz), "array 'logits'", "pickled")


def test_max_bytes_is_enforced_on_npy(tmp_path):
    path = save(tmp_path / "z.npy", Z)
    fails(["analyze", path, "--max-bytes", "100"], "240 B", "--max-bytes")
    fails(["analyze", path, "--max-bytes", "lots"], "--max-bytes", "not a size")


# --- .npz ---


def _bomb(path, member_size: int, key: str = "logits") -> None:
    """A deflated member of zeros: tiny on disk, member_size bytes inflated."""
    header = b"\x93NUMPY\x01\x00" + struct.pack("<H", 118)
    header += f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({member_size // 4}, 1), }}"\
        .encode().ljust(117) + b"\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(f"{key}.npy", "w",
                                                                          force_zip64=True) as f:
        f.write(header)
        chunk = bytes(1 << 20)
        for _ in range(member_size // len(chunk)):
            f.write(chunk)


def test_zip_bomb_is_refused_from_the_central_directory(tmp_path):
    path = tmp_path / "bomb.npz"
    _bomb(path, 64 << 20)  # 64 MiB of zeros deflate about 1000:1
    info = zipfile.ZipFile(path).infolist()[0]
    assert info.file_size / info.compress_size > 1000
    fails(["analyze", str(path)], str(path), "array 'logits'", "inflates", "zip bomb")
    fails(["inspect", str(path)], "zip bomb")


def test_npz_member_above_max_bytes(tmp_path):
    path = tmp_path / "z.npz"
    np.savez_compressed(path, logits=Z)
    fails(["analyze", str(path), "--max-bytes", "200"], "array 'logits'", "--max-bytes")


def test_npz_member_header_that_lies_about_its_shape(tmp_path):
    path = tmp_path / "lie.npz"
    np.save(tmp_path / "m.npy", Z)
    data = (tmp_path / "m.npy").read_bytes().replace(b"(20, 3)", b"(90, 3)", 1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("logits.npy", data)
    fails(["analyze", str(path)], "array 'logits'", "(90, 3)", "but the member holds")


def test_wrong_key(tmp_path):
    path = tmp_path / "z.npz"
    np.savez(path, logits=Z, labels=Y)
    fails(["analyze", str(path), "--logits-key", "scores"], str(path), "no array 'scores'",
          "--logits-key", "'logits', 'labels'")
    fails(["analyze", str(path), "--labels-key", "y"], "no array 'y'", "--labels-key")
    np.savez(path, a=Z, b=Z)
    fails(["analyze", str(path)], "no logits array", "choose one with --logits-key")
    st = write_safetensors(tmp_path / "z.safetensors", {"logits": Z})
    fails(["analyze", st, "--logits-key", "x"], st, "no array 'x'")


def test_not_a_zip(tmp_path):
    path = tmp_path / "z.npz"
    path.write_bytes(b"PK\x03\x04 not really")
    fails(["analyze", str(path)], "not a valid .npz (zip) archive")


# --- CSV ---


def test_ragged_csv(tmp_path):
    rows = [[1, 2, 3]] * 5 + [[1, 2]] + [[1, 2, 3]]
    path = write_csv(tmp_path / "r.csv", ["a", "b", "c"], rows)
    fails(["analyze", path], path, "line 7: 2 fields where the header has 3", "unequal length")


def test_non_numeric_cell(tmp_path):
    rows = [[0.1 * i, 0.2, 0.3] for i in range(300)]
    rows[203][2] = "n/a"
    path = write_csv(tmp_path / "n.csv", ["c0", "c1", "class_7"], rows)
    fails(["analyze", path], path, "line 205, column class_7: 'n/a' is not a number")
    rows[203][2] = ""
    path = write_csv(tmp_path / "n.csv", ["c0", "c1", "class_7"], rows)
    fails(["analyze", path], "line 205, column class_7: '' is not a number")


def test_unknown_label_name(tmp_path):
    path = write_csv(tmp_path / "l.csv", ["cat", "dog", "label"],
                     [[0.5, 0.5, "cat"], [0.1, 0.9, "zebra"]])
    fails(["analyze", path, "--label-column", "label"],
          "line 3, column label: label 'zebra' is neither a class id nor a class name",
          "cat, dog")


def test_bad_csv_options(tmp_path):
    path = write_csv(tmp_path / "c.csv", ["a", "b", "y"], [[0.1, 0.9, 1]])
    fails(["analyze", path, "--label-column", "label"], "--label-column: no column 'label'",
          "a, b, y")
    fails(["analyze", path, "--class-columns", "p_*"], "--class-columns 'p_*' matches no column")
    fails(["analyze", path, "--label-column", "y", "--max-bytes", "8"], "--max-bytes")
    three = write_csv(tmp_path / "t.csv", ["a", "b", "c"], [[0.1, 0.9, 1]])
    fails(["analyze", path, "--labels", three], three, "has 3 columns", "--label-column")
    only_header = write_csv(tmp_path / "h.csv", ["a", "b"], [])
    fails(["analyze", only_header], "no data rows")


def test_not_utf8_and_corrupt_gzip(tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes(b"a,b\n0.5,0.5\n\xff\xfe,1\n")
    fails(["analyze", str(path)], "not UTF-8")
    gz = tmp_path / "b.csv.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00garbage")
    fails(["analyze", str(gz)], str(gz), "unreadable")


# --- safetensors ---


def test_truncated_safetensors(tmp_path):
    path = tmp_path / "t.safetensors"
    write_safetensors(path, {"logits": Z})
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    fails(["analyze", str(path)], "tensor 'logits'", "past its end", "truncated")
    path.write_bytes(data[:20])
    fails(["analyze", str(path)], "truncated: the header declares")
    path.write_bytes(data[:5])
    fails(["analyze", str(path)], "not a safetensors file")


def test_safetensors_offsets_overlap_or_exceed(tmp_path):
    path = write_safetensors(tmp_path / "o.safetensors", {"logits": Z, "labels": Y},
                             header_patch={"labels": {"data_offsets": [8, 168]}})
    fails(["analyze", path], "tensors 'logits' and 'labels' overlap")
    path = write_safetensors(tmp_path / "x.safetensors", {"logits": Z},
                             header_patch={"logits": {"data_offsets": [1000, 1240]}})
    fails(["analyze", path], "past its end")
    path = write_safetensors(tmp_path / "s.safetensors", {"logits": Z},
                             header_patch={"logits": {"shape": [20, 4]}})
    fails(["analyze", path], "spans 240 bytes", "needs 320")


def test_safetensors_bad_header(tmp_path):
    path = tmp_path / "h.safetensors"
    path.write_bytes(struct.pack("<Q", 10) + b"not json!!")
    fails(["analyze", str(path)], "not JSON")
    path.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    fails(["analyze", str(path)], "above the 100 MiB cap")
    path = write_safetensors(tmp_path / "d.safetensors", {"logits": Z},
                             header_patch={"logits": {"dtype": "F8_E4M3"}})
    fails(["analyze", path], "dtype 'F8_E4M3'")
    path = write_safetensors(tmp_path / "i.safetensors", {"logits": Y})
    fails(["analyze", path], "int64 values", "float16, bfloat16, float32 or float64")


# --- layouts ---


def test_lm_labels_that_do_not_match(tmp_path):
    z = save(tmp_path / "z.npy", np.zeros((4, 12, 5), dtype=np.float32))
    y = save(tmp_path / "y.npy", np.zeros((4, 11), dtype=np.int64))
    fails(["analyze", z, "--labels", y],
          f"{y}: shape (4, 11) does not match logits (4, 12, 5) on axis 1 (T): 11 vs 12",
          "--shift-labels")
    y2 = save(tmp_path / "y2.npy", np.zeros((4, 10), dtype=np.int64))
    fails(["analyze", z, "--labels", y2, "--shift-labels"], "on axis 1 (T): 10 vs 12")


def test_pytorch_layout_hint(tmp_path):
    z = save(tmp_path / "z.npy", np.zeros((2, 5, 3, 4), dtype=np.float32))
    y = save(tmp_path / "y.npy", np.zeros((2, 3, 4), dtype=np.int64))
    fails(["analyze", z, "--labels", y], "does not match logits (2, 5, 3, 4)",
          "try --class-axis 1")


def test_bad_layout_options(tmp_path):
    z = save(tmp_path / "z.npy", np.zeros((4, 5), dtype=np.float32))
    fails(["analyze", z, "--class-axis", "2"], z, "--class-axis 2 is out of range")
    fails(["analyze", z, "--shift-labels"], "--shift-labels needs (batch, time, classes)")
    fails(["analyze", z, "--class-axis", "x"], "--class-axis")


def test_label_out_of_range_names_its_position(tmp_path):
    z = save(tmp_path / "z.npy", np.zeros((2, 3, 4), dtype=np.float32))
    y = np.zeros((2, 3), dtype=np.int64)
    y[1, 2] = 9
    fails(["analyze", z, "--labels", save(tmp_path / "y.npy", y)], "row 5 (b=1, t=2): label 9")


def test_inspect_json(tmp_path):
    np.savez(tmp_path / "a.npz", logits=Z, labels=Y)
    result = CliRunner().invoke(cli, ["inspect", str(tmp_path / "a.npz"), "--format", "json"])
    doc = json.loads(result.stdout)["files"][0]
    assert [(a["key"], a["shape"], a["dtype"], a["bytes"]) for a in doc["arrays"]] == [
        ("logits", [20, 3], "float32", 240), ("labels", [20], "int64", 160)]


def test_options_that_no_input_can_use(tmp_path):
    z = save(tmp_path / "z.npy", Z)
    fails(["analyze", z, "--logits-key", "x"], "--logits-key: applies to npz or safetensors",
          "npy", z)
    fails(["analyze", z, "--label-column", "y"], "--label-column: applies to csv or tsv")


def test_a_line_without_end_is_refused_not_loaded(tmp_path, monkeypatch):
    from logitcheck.io import delimited

    monkeypatch.setattr(delimited, "MAX_LINE", 64)
    path = tmp_path / "long.csv"
    path.write_text("a,b\n0.5,0.5\n" + "1," * 100 + "1\n")
    fails(["analyze", str(path)], "line 3: longer than 64 characters")


@pytest.mark.parametrize("name", ["a.npy", "b.npz", "c.npz", "d.safetensors", "e.csv",
                                  "f.csv.gz"])
def test_damaged_files_never_give_an_internal_error(tmp_path, name):
    """Truncations and flipped bytes: a result or one clean line, never a traceback."""
    import random

    path = tmp_path / name
    if name == "a.npy":
        np.save(path, Z)
    elif name == "b.npz":
        np.savez(path, logits=Z, labels=Y)
    elif name == "c.npz":
        np.savez_compressed(path, logits=Z, labels=Y)
    elif name == "d.safetensors":
        write_safetensors(path, {"logits": Z, "labels": Y})
    else:
        write_csv(path, ["a", "b", "c", "label"],
                  [[f"{v:.3f}" for v in r] + [int(c)] for r, c in zip(Z, Y, strict=True)])
    data = path.read_bytes()
    rng = random.Random(name)
    variants = [data[:k] for k in range(0, len(data), max(1, len(data) // 15))]
    for _ in range(30):
        b = bytearray(data)
        b[rng.randrange(len(b))] = rng.randrange(256)
        variants.append(bytes(b))
    for variant in variants:
        path.write_bytes(variant)
        for args in (["analyze", str(path), "--format", "json"], ["inspect", str(path)]):
            result = CliRunner().invoke(cli, args, catch_exceptions=False)
            assert result.exit_code in (0, 1, 2)
            assert "internal error" not in result.stderr and "Traceback" not in result.output
            if result.exit_code == 2:
                assert len(result.stderr.strip().splitlines()) == 1
                assert result.stdout == ""
