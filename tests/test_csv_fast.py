"""The pyarrow path for CSV (io/fastcsv.py) against the slow parser it stands in for: the same
arrays, labels and class names, or the same one-line error with the same line number."""

from __future__ import annotations

import gzip
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from logitcheck.errors import InputError
from logitcheck.io import delimited, fastcsv

from .conftest import SAMPLES
from .writers import write_csv

pytest.importorskip("pyarrow.csv")

CLASSES = ["cat", "dog", "bird", "fish", "frog"]
RNG = np.random.default_rng(9)
Z = RNG.normal(scale=3.0, size=(300, 5)).astype(np.float32)
Y = RNG.integers(0, 5, size=300)


def run(path, engine: str, block: int = 1 << 10, **kw):
    """("ok", values, labels, class names) or ("error", message), and the rows from which
    the slow parser took over (none: the fast path read everything)."""
    took_over: list[int] = []
    real = delimited._load_slowly

    def slowly(*a, skip=0, **k):
        took_over.append(skip)
        return real(*a, skip=skip, **k)

    kw = {"class_pattern": None, "label_column": None, "want_values": True} | kw
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(delimited, "_load_slowly", slowly)
        if engine == "fast":
            mp.setattr(delimited, "FAST_MIN_BYTES", 0)
            mp.setattr(fastcsv, "SEGMENT_BYTES", block)  # many segments, in many threads
            mp.setattr(fastcsv, "BLOCK_BYTES", max(block // 3, 16))
        else:
            mp.setattr(delimited, "_fast", lambda path: False)
        try:
            t = delimited.load(Path(path), **kw)
        except InputError as exc:
            return ("error", str(exc)), took_over
    values = None if t.values is None else np.array(t.values)
    return ("ok", values, t.labels, t.class_names), took_over


def same(a, b) -> None:
    assert a[0] == b[0], (a, b)
    if a[0] == "error":
        assert a[1] == b[1]
        return
    for x, y in zip(a[1:3], b[1:3], strict=True):
        assert (x is None) == (y is None)
        if x is not None:
            assert x.dtype == y.dtype and x.shape == y.shape
            if x.dtype.kind == "f":  # bit for bit (-0.0 too), NaN as NaN
                nan = np.isnan(x)
                np.testing.assert_array_equal(nan, np.isnan(y))
                np.testing.assert_array_equal(x.view(np.uint64)[~nan], y.view(np.uint64)[~nan])
            else:
                np.testing.assert_array_equal(x, y)
    assert a[3] == b[3]


def both(path, *, fallback: bool | None = False, block: int = 1 << 10, **kw):
    """Fast and slow agree; `fallback`: whether the slow parser must have taken over
    (None: either)."""
    fast, took_over = run(path, "fast", block, **kw)
    slow, _ = run(path, "slow", **kw)
    same(fast, slow)
    if fallback is not None:
        assert bool(took_over) == fallback, took_over
    return fast, took_over


def cells(z: np.ndarray) -> list[list[str]]:
    return [[repr(float(v)) for v in r] for r in z]


# --- the same arrays ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["healthy_logits", "probs_as_logits", "double_softmax",
                                  "fp16_overflow_logits", "log_probs"])
def test_sample_data_as_csv(tmp_path, name):
    z = np.load(SAMPLES / f"{name}.npy")[:2000]
    y = np.load(SAMPLES / "labels.npy")[: len(z)]
    header = [f"class_{i}" for i in range(z.shape[1])] + ["label"]
    path = write_csv(tmp_path / f"{name}.csv", header,
                     [r + [int(c)] for r, c in zip(cells(z), y, strict=True)])
    (kind, values, labels, _), _ = both(path, label_column="label", block=16 << 10)
    np.testing.assert_array_equal(values, z.astype(np.float64))
    np.testing.assert_array_equal(labels, y)


@pytest.mark.parametrize("name", ["z.csv", "z.tsv", "z.csv.gz", "z.tsv.gz"])
@pytest.mark.parametrize("header", [True, False])
def test_delimiters_gzip_and_header(tmp_path, name, header):
    delimiter = "\t" if ".tsv" in name else ","
    path = write_csv(tmp_path / name, CLASSES if header else None, cells(Z),
                     delimiter=delimiter)
    (_, values, _, names), _ = both(path)
    np.testing.assert_array_equal(values, Z.astype(np.float64))
    assert names == (tuple(CLASSES) if header else ("1", "2", "3", "4", "5"))


def test_bom_crlf_blank_lines_and_a_label_column_in_the_middle(tmp_path):
    rows = [r[:2] + [CLASSES[c]] + r[2:] for r, c in zip(cells(Z), Y, strict=True)]
    lines = [",".join(CLASSES[:2] + ["label"] + CLASSES[2:])] + [",".join(r) for r in rows]
    lines[40:40] = ["", ""]  # empty lines in the data are skipped by both
    path = tmp_path / "m.csv"
    path.write_bytes(b"\xef\xbb\xbf\r\n" + "\r\n".join(lines).encode() + b"\r\n\r\n")
    (_, values, labels, names), _ = both(path, label_column="label")
    np.testing.assert_array_equal(values, Z.astype(np.float64))
    np.testing.assert_array_equal(labels, Y)
    assert names == tuple(CLASSES)
    cr = tmp_path / "cr.csv"  # old Mac line ends
    cr.write_bytes(path.read_bytes().replace(b"\r\n", b"\r"))
    both(cr, label_column="label")


def test_quoted_fields(tmp_path):
    header = ['"p_cat"', "p_dog", '"p_bird"', "p_fish", "p_frog", "target", "note"]
    rows = [[f'"{v}"' if i % 3 == 0 else v for v in r] + [f'"{CLASSES[c]}"', f'"a, ""b"" {i}"']
            for i, (r, c) in enumerate(zip(cells(Z), Y, strict=True))]
    path = write_csv(tmp_path / "q.csv", header, rows)
    (_, values, labels, _), _ = both(path, label_column="target", class_pattern="p_*")
    np.testing.assert_array_equal(values, Z.astype(np.float64))
    np.testing.assert_array_equal(labels, Y)


@pytest.mark.parametrize("labels", ["ids", "names", "floats", "stems", "padded"])
def test_label_spellings(tmp_path, labels):
    spell = {"ids": str, "names": CLASSES.__getitem__, "floats": lambda c: f"{c}.0",
             "stems": CLASSES.__getitem__, "padded": lambda c: f" {CLASSES[c]} "}[labels]
    header = [f"p_{c}" for c in CLASSES] if labels == "stems" else CLASSES
    path = write_csv(tmp_path / "l.csv", header + ["y"],
                     [r + [spell(int(c))] for r, c in zip(cells(Z), Y, strict=True)])
    pattern = "p_*" if labels == "stems" else None
    (_, _, got, _), _ = both(path, label_column="y", class_pattern=pattern)
    np.testing.assert_array_equal(got, Y)


def test_labels_alone_and_by_the_names_of_another_file(tmp_path):
    path = write_csv(tmp_path / "y.csv", ["id", "name"],
                     [[i, CLASSES[c]] for i, c in enumerate(Y)])
    (_, values, got, _), _ = both(path, label_column="name", want_values=False,
                                  label_names=tuple(CLASSES))
    assert values is None
    np.testing.assert_array_equal(got, Y)


def test_nan_and_inf_spellings(tmp_path):
    spellings = ["nan", "NaN", "-nan", "+NAN", " nan", "nan\t", "inf", "-inf", "Infinity",
                 "-INFINITY", "+inf", '"nan"', "1e400", "-1e400", "1e-400", "-0", "-0.0", "1.",
                 "5e-324", " 1.5 ", "1E+2", ".5"]
    z = cells(Z[:len(spellings)])
    for i, s in enumerate(spellings):
        z[i][i % 5] = s
    path = write_csv(tmp_path / "n.csv", CLASSES, z)
    (_, values, _, _), _ = both(path)
    assert np.isnan(values).sum() == 7 and np.isinf(values).sum() == 7
    assert np.signbit(values[15, 0]) and np.signbit(values[16, 1])


@pytest.mark.parametrize("odd", ["\u00a01.5", "\u0661", "1.5\u2003", "1.5\x0c"])
def test_numbers_pyarrow_refuses_and_python_reads(tmp_path, odd):
    """pyarrow refuses these: the slow parser reads on from that segment, with the same
    values."""
    z = cells(Z)
    z[250][2] = odd
    path = write_csv(tmp_path / "o.csv", CLASSES, z)
    _, took_over = both(path, fallback=True)
    assert 0 < took_over[0] <= 250  # the batches before it stay pyarrow's


def test_nan_payload_is_refused_like_the_slow_parser(tmp_path):
    z = cells(Z)
    z[200][1] = "nan(1)"  # pyarrow reads a NaN; Python's float() does not
    path = write_csv(tmp_path / "p.csv", CLASSES, z)
    (kind, message), _ = both(path, fallback=True)
    assert message.endswith("line 202, column dog: 'nan(1)' is not a number")
    z[200][1], z[100][0] = "nan", "1"  # a NaN, and a '(' elsewhere: given up, yet read
    write_csv(tmp_path / "p.csv", CLASSES + ["note"], [r + ["(a)"] for r in z])
    both(path, fallback=True, class_pattern=",".join(CLASSES))


def test_whitespace_lines_are_blank_lines(tmp_path):
    path = tmp_path / "w.csv"
    body = [",".join(r) for r in cells(Z)]
    body[100:100] = ["   ", "\t"]
    path.write_text("\n".join(["a,b,c,d,e", *body]) + "\n")
    (_, values, _, _), _ = both(path, fallback=True)
    np.testing.assert_array_equal(values, Z.astype(np.float64))
    one = tmp_path / "y.csv"  # one column: a row of spaces is a blank label to pyarrow
    one.write_text("label\n" + "\n".join(map(str, Y[:150])) + "\n  \n" +
                   "\n".join(map(str, Y[150:])) + "\n")
    (_, _, got, _), _ = both(one, label_column="label", want_values=False, fallback=True)
    np.testing.assert_array_equal(got, Y)


def test_many_batches_and_progress(tmp_path):
    rows = [r + [int(c)] for r, c in zip(cells(Z), Y, strict=True)]
    path = write_csv(tmp_path / "big.csv.gz", CLASSES + ["y"], rows * 20)
    calls: list[tuple[int, int]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(delimited, "FAST_MIN_BYTES", 0)
        mp.setattr(fastcsv, "SEGMENT_BYTES", 4096)
        t = delimited.load(Path(path), class_pattern=None, label_column="y", want_values=True,
                           progress=lambda done, total: calls.append((done, total)))
    np.testing.assert_array_equal(t.values, np.tile(Z.astype(np.float64), (20, 1)))
    np.testing.assert_array_equal(t.labels, np.tile(Y, 20))
    size = Path(path).stat().st_size
    assert len(calls) > 10 and calls[-1] == (size, size)
    done = [d for d, _ in calls]
    assert done == sorted(done) and {t for _, t in calls} == {size}
    both(path, label_column="y", block=4096)


@pytest.mark.parametrize("tail", ["member", "zeros", "garbage", "cut"])
def test_gzip_members_padding_and_damage(tmp_path, tail):
    """Damage past head()'s 1 MiB sample, which would otherwise meet it first."""
    rows = [",".join(r) + "\n" for r in cells(Z)] * 50
    first = gzip.compress(("".join(["cat,dog,bird,fish,frog\n"] + rows[:150])).encode())
    second = gzip.compress("".join(rows[150:]).encode())
    data = {"member": first + second, "zeros": first + second + b"\0" * 64,
            "garbage": first + second + b"PK\3\4 trailing", "cut": first + second[:-9]}[tail]
    path = tmp_path / "m.csv.gz"
    path.write_bytes(data)
    result, _ = both(path, fallback=tail != "member", block=64 << 10)
    if tail in ("member", "zeros"):  # GzipFile reads past zero padding; zlib does not
        np.testing.assert_array_equal(result[1], np.tile(Z.astype(np.float64), (50, 1)))
    else:
        assert result[0] == "error" and "unreadable" in result[1]


def test_a_quote_after_the_first_block_among_many_other_columns(tmp_path):
    """Columns neither classes nor labels are not read when there are many and the start
    shows no quotes; a quote later hands over to the slow parser (a field there could run
    past its line)."""
    header = CLASSES + [f"x{i}" for i in range(12)]
    rows = [r + ["k"] * 12 for r in cells(Z)]
    rows[280][9] = '"k,\nk"'
    path = write_csv(tmp_path / "x.csv", header, rows)
    (kind, message), _ = both(path, class_pattern="cat,dog,bird,fish,frog", fallback=True,
                              block=8192)
    assert message.endswith("line 282: a quoted field runs past the end of the line "
                           "(a quote that is not closed?)")
    rows[280][9] = '"k,k"'
    path = write_csv(tmp_path / "x.csv", header, rows)
    both(path, class_pattern="cat,dog,bird,fish,frog", fallback=True, block=8192)


# --- the same errors -----------------------------------------------------------------------


def test_errors_carry_the_same_line_numbers(tmp_path):
    def error(rows, header=CLASSES, name="e.csv", **kw):
        path = write_csv(tmp_path / name, header, rows)
        (kind, message), took_over = both(path, fallback=True, **kw)
        assert kind == "error"
        return message

    base = cells(Z)
    ragged = [list(r) for r in base]
    ragged[222] = ragged[222][:3]
    assert error(ragged).endswith("line 224: 3 fields where the header has 5 "
                                  "(rows of unequal length)")
    bad = [list(r) for r in base]
    bad[260][4] = "n/a"
    assert error(bad).endswith("line 262, column frog: 'n/a' is not a number")
    bad[260][4] = ""
    assert error(bad, header=None).endswith("line 261, column 5: '' is not a number")
    named = [r + [CLASSES[c]] for r, c in zip(base, Y, strict=True)]
    named[290][5] = "zebra"
    assert "line 292, column y: label 'zebra' is neither a class id nor a class name" in error(
        named, header=CLASSES + ["y"], label_column="y")
    quoted = [list(r) for r in base]
    quoted[150][0] = '"1\n2"'
    assert error(quoted).endswith("line 152: a quoted field runs past the end of the line "
                                  "(a quote that is not closed?)")
    huge = [list(r) for r in base]
    huge[270][1] = '"' + "9" * 200_000 + '"'
    assert error(huge, block=1 << 20).endswith("line 272: field larger than field limit "
                                               "(131072)")
    assert "--max-bytes cap" in error(base, max_bytes=4000)


@pytest.mark.parametrize("end", ["", "\n", "\r\n"])
@pytest.mark.parametrize("last", ['0.1,"0.3', '0.1,0.3,"2', '0.1,0.3,"2""'])
def test_a_quote_left_open_on_the_last_line(tmp_path, end, last):
    path = tmp_path / "o.csv"
    width = last.count(",") + 1
    header = ["a", "b", "label"][:width]
    row = ",".join(["0.5", "0.5", "1"][:width]) + "\n"
    path.write_text(",".join(header) + "\n" + row * 300 + last + end)
    (kind, message), _ = both(path, fallback=True, label_column="label" if width == 3 else None)
    assert message.endswith("line 302: a quoted field runs past the end of the line "
                            "(a quote that is not closed?)")


@pytest.mark.parametrize("extra", [0, 8])
def test_unreadable_bytes_late_in_the_file(tmp_path, monkeypatch, extra):
    """Past head()'s 1 MiB sample, in a column pyarrow converts (it checks the UTF-8) or in
    one it is not asked for (the feed checks it)."""
    monkeypatch.setattr(fastcsv, "MAX_EXTRA_COLUMNS", extra)
    good = "a,b,c\n" + "0.5,0.5,x\n" * 150_000
    path = tmp_path / "u.csv"
    path.write_bytes(good.encode() + b"0.5,0.5,\xff\n" + b"0.5,0.5,x\n" * 10)
    (kind, message), _ = both(path, fallback=True, class_pattern="a,b", block=1 << 20)
    assert kind == "error" and "not UTF-8 text (invalid start byte)" in message
    path.write_bytes(good.encode() + "0.5,0.5,\u00e9".encode()[:-1])  # é cut at the end
    (kind, message), _ = both(path, fallback=True, class_pattern="a,b", block=1 << 20)
    assert kind == "error" and "not UTF-8 text (unexpected end of data)" in message
    gz = tmp_path / "t.csv.gz"
    data = gzip.compress((good + "0.5,0.5,x\n" * 300_000).encode())
    gz.write_bytes(data[: len(data) * 2 // 3])  # truncated stream
    (kind, message), _ = both(gz, fallback=True, class_pattern="a,b", block=1 << 20)
    assert kind == "error" and "unreadable (Compressed file ended" in message


def test_random_files_fast_and_slow_agree(tmp_path):
    """Files made of the cells and lines that part parsers: both read the same, or both
    refuse with the same line."""
    numbers = ["1", "-2.5", "1e3", ".5", "5.", "+1", "-0", "0.1", "1e400", "nan", "NaN", "-nan",
               "inf", "-Infinity", " nan", "1.5 ", '"0.5"', "nan(1)", "", "x", "1_0", "0x1",
               " ", '"1\n2"', '"', "3"]
    labels = ["0", "2", "+1", "-1", "cat", "dog", '"cat"', " dog", "1.0", "2.5", "zebra", "",
              "99999999999999999999", '"a,b"', "4"]
    rng = random.Random(1)
    for case in range(200):
        width = rng.randint(1, 4)
        header = rng.random() < 0.7
        names = [f"c{i}" for i in range(width)] + ["label"]
        rare = rng.random() < 0.5
        lines = []
        for _ in range(rng.randint(1, 60)):
            r = rng.random()
            if r < 0.03:
                lines.append(rng.choice(["", "  ", "\t"]))
                continue
            row = [_pick(rng, numbers, rare) for _ in range(width)] + [
                _pick(rng, labels, rare)]
            if rng.random() < 0.02:
                row = row[:-1]
            lines.append(",".join(row))
        ending = rng.choice(["\n", "\r\n"])
        text = ending.join(([",".join(names)] if header else []) + lines) + rng.choice(
            [ending, ""])
        path = tmp_path / f"r{case}.csv" if rng.random() < 0.8 else tmp_path / f"r{case}.csv.gz"
        data = text.encode()
        path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
        label = ("label" if header else str(width + 1)) if rng.random() < 0.8 else None
        try:
            delimited.head(path)
        except InputError:
            continue
        both(path, fallback=None, block=rng.choice([64, 256, 4096]), label_column=label)


def _pick(rng: random.Random, pool: list[str], rare: bool) -> str:
    """Mostly the pool's last (plain) cell; now and then any, in files with rare cells."""
    return rng.choice(pool) if rare and rng.random() < 0.015 else pool[-1]


# --- when pyarrow is used ---------------------------------------------------------------------


def test_small_files_and_a_missing_pyarrow_take_the_slow_path(tmp_path, monkeypatch):
    small = write_csv(tmp_path / "s.csv", CLASSES, cells(Z))
    assert not delimited._fast(Path(small))
    monkeypatch.setattr(delimited, "FAST_MIN_BYTES", 0)
    assert delimited._fast(Path(small))
    monkeypatch.setitem(sys.modules, "pyarrow.csv", None)  # import pyarrow.csv fails
    assert not delimited._fast(Path(small))
    t = delimited.load(Path(small), class_pattern=None, label_column=None, want_values=True)
    np.testing.assert_array_equal(t.values, Z.astype(np.float64))


def test_pyarrow_is_imported_only_to_read_a_large_csv_and_pandas_never(tmp_path):
    np.save(tmp_path / "z.npy", Z)
    small = write_csv(tmp_path / "s.csv", CLASSES, cells(Z))
    named = write_csv(tmp_path / "n.csv", CLASSES + ["label"],
                      [r + [CLASSES[c]] for r, c in zip(cells(Z), Y, strict=True)])
    probe = """if True:
        import sys
        from click.testing import CliRunner
        import logitcheck
        from logitcheck.cli.app import cli
        from logitcheck.io import delimited
        assert "pyarrow" not in sys.modules
        def analyze(path):
            result = CliRunner().invoke(cli, ["analyze", path])
            assert result.exit_code in (0, 1), result.output
        analyze(sys.argv[1])
        analyze(sys.argv[2])
        assert "pyarrow" not in sys.modules  # an .npy, a small CSV
        delimited.FAST_MIN_BYTES = 0
        analyze(sys.argv[3])  # labels by name: pyarrow's index_in, then numpy
        assert "pyarrow" in sys.modules and "pandas" not in sys.modules
        """
    subprocess.run([sys.executable, "-c", probe, str(tmp_path / "z.npy"), small, named],
                   check=True)
