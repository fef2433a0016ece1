"""Fuzz cases: valid seed files per format, mutated at random, and adversarial files built
to lie (shapes, offsets, sizes), to nest, to inflate, to hold pickles or strings.

A case is a dict of files (name -> bytes) and a command line whose paths are given relative
to the directory the worker writes the files to. Case i of seed s is always the same case:
`python tests/fuzz/run.py --seed s --only i` replays it.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import struct
import warnings
import zipfile
from typing import Any

import numpy as np

Case = dict[str, Any]  # {"files": {name: bytes}, "args": [...], "kind": str}

_RNG = np.random.default_rng(11)
Z = _RNG.normal(size=(20, 3)).astype(np.float32)
Y = (np.arange(20) % 3).astype(np.int64)

INTERESTING = [0, 1, -1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 2**31 - 1, 2**31, 2**32 - 1,
               2**63 - 1, 2**64 - 1, 2**40]


def npy_bytes(a: np.ndarray, version: tuple[int, int] | None = None) -> bytes:
    buf = io.BytesIO()
    if version is None:
        np.save(buf, a, allow_pickle=a.dtype.hasobject)
    else:
        np.lib.format.write_array(buf, a, version=version, allow_pickle=False)
    return buf.getvalue()


def npz_bytes(arrays: dict[str, np.ndarray], compressed: bool = False) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def safetensors_bytes(tensors: dict[str, tuple[str, list[int], bytes]], meta: Any = None,
                      raw_header: bytes | None = None) -> bytes:
    header: dict[str, Any] = {} if meta is None else {"__metadata__": meta}
    blobs, offset = [], 0
    for key, (code, shape, data) in tensors.items():
        header[key] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"".join(blobs)


def csv_bytes(rows: list[list[str]], header: list[str] | None, sep: str = ",",
              nl: str = "\n") -> bytes:
    lines = ([sep.join(header)] if header else []) + [sep.join(r) for r in rows]
    return (nl.join(lines) + nl).encode()


def _csv_text(z: np.ndarray = Z, y: np.ndarray = Y, sep: str = ",") -> bytes:
    rows = [[f"{v:.4f}" for v in r] + [str(int(c))] for r, c in zip(z, y, strict=True)]
    return csv_bytes(rows, ["c0", "c1", "c2", "label"], sep)


def seeds() -> dict[str, bytes]:
    """Valid files, one per format and flavour; the mutators start from these."""
    st = {
        "logits": ("F32", [20, 3], Z.astype("<f4").tobytes()),
        "labels": ("I64", [20], Y.astype("<i8").tobytes()),
    }
    bf16 = (Z.view(np.uint32) >> 16).astype("<u2").tobytes()
    return {
        "a.npy": npy_bytes(Z),
        "f16.npy": npy_bytes(Z.astype(np.float16)),
        "be.npy": npy_bytes(Z.astype(">f8")),
        "fortran.npy": npy_bytes(np.asfortranarray(Z.astype(np.float64))),
        "v2.npy": npy_bytes(Z, (2, 0)),
        "bin.npy": npy_bytes(Z[:, 0].copy()),
        "nd.npy": npy_bytes(Z.reshape(4, 5, 3)),
        "stored.npz": npz_bytes({"logits": Z, "labels": Y}),
        "deflated.npz": npz_bytes({"logits": Z, "labels": Y}, compressed=True),
        "a.safetensors": safetensors_bytes(st, {"format": "pt"}),
        "bf16.safetensors": safetensors_bytes({"logits": ("BF16", [20, 3], bf16),
                                               "labels": st["labels"]}),
        "a.csv": _csv_text(),
        "a.tsv": _csv_text(sep="\t"),
        "a.csv.gz": gzip.compress(_csv_text(), mtime=0),
        "quoted.csv": csv_bytes([[f'"{v:.3f}"' for v in r] + [f'"{c}"'] for r, c in
                                 zip(Z, Y, strict=True)], ['"c0"', '"c1"', '"c2"', '"y"']),
        "noheader.csv": csv_bytes([[f"{v:.5f}" for v in r] for r in Z], None),
        "crlf_bom.csv": b"\xef\xbb\xbf" + _csv_text().replace(b"\n", b"\r\n"),
    }


# --- mutators ---------------------------------------------------------------------------------


def mutate(rng: random.Random, data: bytes, others: list[bytes]) -> tuple[bytes, str]:
    b = bytearray(data)
    how = rng.choice(["truncate", "flip", "bytes", "insert", "delete", "duplicate", "splice",
                      "integer", "flip", "truncate"])
    if how == "truncate" or not b:
        return bytes(b[: rng.randrange(len(b) + 1)]), "truncate"
    if how == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif how == "bytes":
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)])
    elif how == "insert":
        i = rng.randrange(len(b) + 1)
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif how == "delete":
        i = rng.randrange(len(b))
        del b[i : i + rng.randint(1, 32)]
    elif how == "duplicate":
        i = rng.randrange(len(b))
        j = min(len(b), i + rng.randint(1, 64))
        k = rng.randrange(len(b) + 1)
        b[k:k] = b[i:j]
    elif how == "splice":
        other = rng.choice(others)
        cut = rng.randrange(len(b) + 1)
        b = b[:cut] + other[rng.randrange(len(other) + 1):]
    else:  # a little-endian integer where a size, offset or length may be
        width = rng.choice([1, 2, 4, 8])
        value = rng.choice(INTERESTING) % (1 << (8 * width))
        i = rng.randrange(max(1, len(b) - width + 1))
        b[i : i + width] = value.to_bytes(width, "little")
    return bytes(b), how


# --- adversarial builders ---------------------------------------------------------------------

_DESCRS = ["<f4", "<f8", "<f2", ">f4", "|u1", "<i8", "|b1", "<c16", "|O", "<U5", "|S3", "|V8",
           "<M8[s]", "<m8[D]", "[('a', '<f4'), ('b', '<f4')]", "'<f4'", "<f16", "zz", "<f4,<f4"]
_SHAPES = ["()", "(0,)", "(0, 3)", "(3, 0)", "(20, 3)", "(20,)", "(2, 5, 2, 3)", "(60,)",
           "(2**31, 3)", "(20, 3, 1, 1, 1, 1)", "(9223372036854775807, 3)", "(-1, 3)",
           "(1e3, 3)", "(True, 3)", "'20, 3'", "[20, 3]", "(0, 9223372036854775807, 9)",
           "(4294967296, 4294967296)", "(10**30,)", "(20, 3" + ", 1" * 40 + ")"]
_BOOLS = ["False", "True", "0", "1", "'no'", "None"]


def adversarial_npy(rng: random.Random) -> bytes:
    descr = rng.choice(_DESCRS)
    descr_text = descr if descr.startswith(("[", "'")) else repr(descr)
    shape = rng.choice(_SHAPES).replace("2**31", str(2**31)).replace("10**30", str(10**30))
    fields = {"descr": descr_text, "fortran_order": rng.choice(_BOOLS), "shape": shape}
    if rng.random() < 0.2:
        fields.pop(rng.choice(list(fields)))
    if rng.random() < 0.1:
        fields["extra"] = "1"
    text = "{" + ", ".join(f"'{k}': {v}" for k, v in fields.items()) + ", }"
    if rng.random() < 0.1:
        text = rng.choice(["[1, 2]", "None", "(" * 300 + ")" * 300, "{'descr': " * 200,
                           "__import__('os').system('true')", "{'shape': (1,) * 10**6}"])
    version = rng.choice([(1, 0), (1, 0), (2, 0), (3, 0), (0, 0), (9, 9)])
    raw = text.encode("utf-8") + b" " * rng.randint(0, 8) + b"\n"
    if version == (1, 0):
        head = struct.pack("<H", len(raw) if rng.random() < 0.9 else rng.choice(INTERESTING)
                           % 65536)
    else:
        head = struct.pack("<I", len(raw) if rng.random() < 0.9 else rng.choice(INTERESTING)
                           % 2**32)
    data = bytes(rng.randrange(256) for _ in range(rng.choice([0, 8, 240, 480, 1000])))
    if rng.random() < 0.3:
        data = Z.tobytes()
    return b"\x93NUMPY" + bytes(version) + head + raw + data


def adversarial_npz(rng: random.Random) -> bytes:
    buf = io.BytesIO()
    method = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                         zipfile.ZIP_LZMA])
    with zipfile.ZipFile(buf, "w", method) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are part of the point
        for _ in range(rng.randint(0, 4)):
            name = rng.choice(["logits.npy", "labels.npy", "x.npy", "../up.npy", "a/b.npy",
                               "é.npy", "logits", "dir/", "logits.npy"])
            content = rng.choice([npy_bytes(Z), npy_bytes(Y), adversarial_npy(rng), b"",
                                  npy_bytes(np.array([[None]], dtype=object)),
                                  npy_bytes(np.array(["a", "b"])), npy_bytes(np.float32(1.0)),
                                  npy_bytes(np.zeros((0, 3), np.float32))])
            zf.writestr(name, content)
    data = bytearray(buf.getvalue())
    # lie in the central directory or a local header: sizes, offsets, flags, methods
    for sig, fields in ((b"PK\x01\x02", (8, 10, 20, 24, 42)), (b"PK\x03\x04", (6, 8, 18, 22))):
        at = data.find(sig)
        if at >= 0 and rng.random() < 0.5:
            off = at + rng.choice(fields)
            width = 2 if off - at in (6, 8, 10) else 4
            value = rng.choice(INTERESTING + [1, 99, 12]) % (1 << (8 * width))
            data[off : off + width] = value.to_bytes(width, "little")
    return bytes(data)


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth > 2 or r < 0.3:
        return rng.choice([0, -1, 1, 20, 3, 2**63, 10**30, 1.5, True, None, "x", "F32", [],
                           {}, 240, 60, -240])
    if r < 0.65:
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["dtype", "shape", "data_offsets", "a"]): _json_value(rng, depth + 1)
            for _ in range(rng.randint(0, 3))}


def adversarial_safetensors(rng: random.Random) -> bytes:
    body = Z.astype("<f4").tobytes() + Y.astype("<i8").tobytes()
    header: dict[str, Any] = {}
    for key in rng.sample(["logits", "labels", "x", "__metadata__", "é"], rng.randint(0, 3)):
        entry = {
            "dtype": rng.choice(["F32", "F64", "F16", "BF16", "I64", "BOOL", "F8_E4M3", "f32",
                                 7, None]),
            "shape": rng.choice([[20, 3], [20], [0, 3], [], [2**62, 2**62], [-1, 3], [20.0, 3],
                                 [True, 3], "20,3", [[20], 3], [10**30], [0, 10**30]]),
            "data_offsets": rng.choice([[0, 240], [240, 400], [0, 0], [240, 0], [0, 2**64],
                                        [-8, 232], [0.0, 240.0], [0], [0, 240, 1], None,
                                        [2**63, 2**63 + 240], [0, 10**30]]),
        }
        if rng.random() < 0.3:
            entry[rng.choice(list(entry))] = _json_value(rng)
        header[key] = entry if rng.random() < 0.9 else _json_value(rng)
    raw = json.dumps(header).encode()
    r = rng.random()
    if r < 0.05:
        raw = b"[" * 100_000 + b"]" * 100_000  # deep nesting
    elif r < 0.1:
        raw = b'{"a": ' * 50_000 + b"1" + b"}" * 50_000
    elif r < 0.15:
        raw = raw.replace(b"{", b'{"logits": {}, ', 1)  # duplicate keys
    elif r < 0.2:
        raw = b"\xef\xbb\xbf" + raw
    elif r < 0.25:
        raw = raw + b"\x00" * rng.randint(1, 8)
    elif r < 0.3:
        raw = json.dumps(_json_value(rng)).encode()
    n = len(raw) if rng.random() < 0.85 else rng.choice(INTERESTING)
    return struct.pack("<Q", n % 2**64) + raw + body[: rng.choice([len(body), 100, 0])]


_CELLS = ["0.5", "-1", "1e999", "-1e999", "nan", "NaN", "inf", "-inf", "", " ", " 1 ", "1_0",
          "0x10", "١٢", "１", "−1", "1e-400", "+.5", "5.", ".", "-", "e5", "1" * 400,
          "\x00", "'1'", '"1"', '"1', '1"', '"a,b"', '"1\n2"', "true", "1,5", "\t", "€",
          "9" * 30, "-9223372036854775809", "1.0", "2", "3.5", "cat", "\ufeff1", "\r"]


def adversarial_csv(rng: random.Random) -> tuple[bytes, str]:
    sep = rng.choice([",", ",", "\t", ";"])
    width = rng.choice([1, 2, 3, 4, 50])
    names = rng.choice([
        [f"c{i}" for i in range(width - 1)] + ["label"],
        [f"p_{i}" for i in range(width)],
        ["", *[f"c{i}" for i in range(width - 1)]],
        ["a"] * width,
        ["é", "日本", "\ufeffx", "Unnamed: 0"][:width] + [f"c{i}" for i in range(width - 4)],
        None,
    ])
    if names is not None:
        names = names[:width] + [f"e{i}" for i in range(width - len(names))]
    rows = []
    for _ in range(rng.choice([0, 1, 3, 20])):
        w = width if rng.random() < 0.9 else rng.randint(0, width + 2)
        rows.append([f"{rng.gauss(0, 3):.3f}" if rng.random() < 0.8 else rng.choice(_CELLS)
                     for _ in range(w)])
    nl = rng.choice(["\n", "\r\n", "\r", "\n\n"])
    data = csv_bytes(rows, names, sep, nl)
    r = rng.random()
    if r < 0.05:
        data = "\ufeff".encode("utf-16") + data.decode().encode("utf-16-le")
    elif r < 0.1:
        data = b"\xef\xbb\xbf" + data
    elif r < 0.15:
        data = data + b'"' + b"9" * 200_000 + b'"\n'  # past the csv module's field limit
    elif r < 0.2:
        data = b"a,b\n" + b"1,2" + b"0" * 100_000  # one long line, no newline
    elif r < 0.25:
        data = data.replace(b"\n", b"\x00", 1)
    elif r < 0.3:
        data = b"c0,c1,label\n" + b'"1\n2",3,0\n' * rng.randint(1, 5)  # newlines in quotes
    ext = rng.choice(["csv", "csv", "tsv", "csv.gz"])
    if ext.endswith(".gz"):
        g = gzip.compress(data, mtime=0)
        data = rng.choice([g, g[: len(g) // 2], g + g, g + b"garbage", g[:10]])
    return data, ext


_YAML = [
    "version: 1\njobs:\n  - name: a\n    logits: a.npy\n    labels: y.npy\n",
    "version: 1\ndefaults:\n  fail-on: warning\njobs:\n  - logits: a.npy\n",
    "version: 1\njobs:\n  - type: compare\n    reference: a.npy\n    candidate: a.npy\n",
]


def adversarial_yaml(rng: random.Random) -> bytes:
    base = rng.choice(_YAML)
    r = rng.random()
    if r < 0.1:  # billion laughs
        lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
        lines += [f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]"
                  for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
        text = "\n".join(lines) + "\nversion: 1\njobs: *i\n"
    elif r < 0.2:
        text = base + rng.choice([
            "x: !!python/object/apply:os.system ['true']\n",
            "x: !!python/name:os.system\n", "x: !!binary aGVsbG8=\n", "x: !custom 1\n",
            "x: !!set {a, b}\n", "x: !!omap [a: 1]\n", "x: !!timestamp 2024-01-01\n",
            "x: !!float nan\n", "x: !!int 99999999999999999999999\n"])
    elif r < 0.3:
        text = "version: 1\njobs: " + "[" * 5000 + "]" * 5000 + "\n"
    elif r < 0.35:
        text = "version: 1\njobs: " + "{a: " * 2000 + "1" + "}" * 2000 + "\n"
    elif r < 0.4:
        text = "\ufeff" + base
    elif r < 0.45:
        text = base + "---\n" + base
    elif r < 0.5:
        text = base.replace("  ", "\t")
    elif r < 0.55:
        text = base + "version: 2\n"  # duplicate key
    elif r < 0.6:
        text = "version: 1\njobs:\n" + "".join(f"  - &j{i} {{logits: a.npy}}\n"
                                               for i in range(300))
    else:
        data, _ = mutate(rng, base.encode(), [b"x: [", b"&a", b"*a", b"!!", b"${HOME}", b"${"])
        return data
    return text.encode()


# --- inputs that are not plain files, names that attack the output, outputs onto inputs -------

#: names that try to add a line, a workflow command or a terminal escape to the output
HOSTILE_NAMES = [
    "a\n::error file=x::forged", "b\r\n::set-output name=x::y", "c\n::add-mask::secret",
    "\x1b]0;TITLE\x07d", "\x1b[31mred\x1b[0m", "f\x0bg\x17h", "i\u202ej\u2028k",
    "[click](evil)", "![img](x) `code` |pipe|", "<script>alert(1)</script>", " ::warning::w",
]
SPECIAL_SHARE = 0.08  # of the cases, drawn by a second generator: older cases keep their index


def special_case(rng: random.Random) -> Case:
    """FIFOs, symlink loops, files truncated while read, hostile names, and outputs that
    name an input. `special` tells the runner what to create besides the files:
    fifos (names), symlinks (name -> target), shrink ({file, to, after}: truncate while the
    CLI runs, which then runs in its own process, as a user's would)."""
    base = seeds()
    ok, y = base["a.npy"], npy_bytes(Y)
    kind = rng.choice(["fifo", "fifo", "shrink", "hostile-name", "hostile-name",
                       "output-is-input", "output-is-input"])
    files: dict[str, bytes] = {"ok.npy": ok, "y.npy": y}
    special: dict[str, Any] = {}
    if kind == "fifo":
        where = rng.choice(["logits", "labels", "baseline", "inspect", "shard", "loop",
                            "compare", "config"])
        special["fifos"] = ["x.npy"]
        args = {
            "logits": ["analyze", "x.npy"],
            "labels": ["analyze", "ok.npy", "--labels", "x.npy"],
            "baseline": ["analyze", "ok.npy", "--labels", "y.npy", "--baseline", "x.npy"],
            "inspect": ["inspect", "x.npy"],
            "compare": ["compare", "x.npy", "ok.npy"],
            "config": ["config", "validate", "x.npy"],
        }.get(where)
        if where == "shard":
            files["d/a.npy"] = ok
            special["fifos"] = ["d/b.npy"]
            args = ["analyze", "d"]
        if where == "loop":
            files["d/a.npy"] = ok
            special = {"symlinks": {"d/b.npy": "c.npy", "d/c.npy": "b.npy"}}
            args = ["analyze", "d", "--format", rng.choice(["json", "rich"])]
        return {"files": files, "args": args, "kind": f"fifo-{where}", "special": special}
    if kind == "shrink":
        rows = rng.choice([20_000, 50_000, 100_000])
        big = np.random.default_rng(rng.randrange(1 << 30)).normal(size=(rows, 50))
        files["big.npy"] = npy_bytes(big.astype(np.float32))
        special["shrink"] = {"file": "big.npy", "to": rng.choice([0, 128, 4096, 1 << 20]),
                             "after": rng.uniform(0.0, 0.6)}
        args = rng.choice([["analyze", "big.npy", "--chunk-rows", "997"],
                           ["analyze", "big.npy", "--threads", "2", "--format", "json"],
                           ["compare", "big.npy", "big.npy", "--chunk-rows", "4096"]])
        return {"files": files, "args": args, "kind": "shrink", "special": special}
    if kind == "hostile-name":
        name = rng.choice(HOSTILE_NAMES).replace("/", "_")
        fmt = rng.choice(["rich", "json", "junit", "github", "markdown", "html"])
        if rng.random() < 0.5:  # the file name
            ext = rng.choice([".npy", ".csv"])
            data = ok if ext == ".npy" else _csv_text(np.abs(Z) / np.abs(Z).sum(1, keepdims=True))
            files[name + ext] = data
            args = ["analyze", name + ext, "--format", fmt]
            if rng.random() < 0.3:
                args = ["analyze", name + "-missing" + ext, "--format", fmt]
        else:  # CSV column names (the reader takes no newline or NUL in a header)
            cols = [rng.choice(HOSTILE_NAMES).replace("\n", " ").replace("\r", " ")
                    .replace(",", ";").replace('"', "'") for _ in range(3)]
            rows = [[f"{v:.4f}" for v in r] + [str(int(c))] for r, c in zip(Z, Y, strict=True)]
            files["h.csv"] = csv_bytes(rows, [*cols, "label"])
            args = rng.choice([["analyze", "h.csv", "--format", fmt],
                               ["analyze", "h.csv", "--label-column", rng.choice(cols)],
                               ["analyze", "h.csv", "--label-column", "nope", "--format", fmt],
                               ["inspect", "h.csv"]])
        return {"files": files, "args": args, "kind": "hostile-name"}
    # output-is-input: every such run must exit 2 and leave the inputs as they were
    option = rng.choice(["-o", "--html", "--json-report", "--junit-xml", "--summary-md"])
    special = {"symlinks": {"link.npy": "ok.npy"}, "hardlinks": {"hard.npy": "y.npy"}}
    files["b.json"] = b'{"logitcheck_baseline": "1", "findings": []}\n'
    pick = rng.choice
    args = rng.choice([  # each names an input of its own run (or one file twice)
        ["analyze", "ok.npy", "--labels", "y.npy", "--baseline", "b.json", option,
         pick(["ok.npy", "y.npy", "link.npy", "hard.npy", "./ok.npy", "b.json"])],
        ["baseline", "write", pick(["ok.npy", "y.npy", "link.npy", "hard.npy"]), "ok.npy",
         "--labels", "y.npy"],
        ["compare", "ok.npy", "ok.npy", option, pick(["ok.npy", "link.npy", "./ok.npy"])],
        ["analyze", "ok.npy", "--json-report", "r.json", option if option != "--json-report"
         else "--junit-xml", pick(["r.json", "./r.json"])],
    ])
    return {"files": files, "args": args, "kind": "output-is-input", "special": special}


# --- the case generator -----------------------------------------------------------------------


def make_case(seed: int, index: int, with_yaml: bool) -> Case:
    if random.Random(f"{seed}:{index}:special").random() < SPECIAL_SHARE:
        return special_case(random.Random(f"{seed}:{index}:special-case"))
    rng = random.Random(f"{seed}:{index}")
    base = seeds()
    names = list(base)
    r = rng.random()
    if with_yaml and r < 0.08:
        return {"files": {"c.yaml": adversarial_yaml(rng), "a.npy": base["a.npy"],
                          "y.npy": npy_bytes(Y)},
                "args": rng.choice([["config", "validate", "c.yaml"], ["run", "c.yaml"]]),
                "kind": "yaml"}
    if r < 0.55:
        name = rng.choice(names)
        data, how = base[name], ""
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            data, how = mutate(rng, data, [base[n] for n in names])
        kind = f"mutate-{how}"
    elif r < 0.67:
        name, data, kind = "x.npy", adversarial_npy(rng), "lying-npy"
    elif r < 0.77:
        name, data, kind = "x.npz", adversarial_npz(rng), "lying-npz"
    elif r < 0.87:
        name, data, kind = "x.safetensors", adversarial_safetensors(rng), "lying-safetensors"
    else:
        data, ext = adversarial_csv(rng)
        name, kind = f"x.{ext}", "garbled-csv"
    files = {name: data, "ok.npy": base["a.npy"], "y.npy": npy_bytes(Y)}
    options = [
        ["analyze", name, "--format", "json"],
        ["analyze", name],
        ["inspect", name, "--format", "json"],
        ["analyze", "ok.npy", "--labels", name],
        ["analyze", name, "--labels", "y.npy", "--chunk-rows", "7", "--format", "json"],
    ]
    if name.endswith(".npy"):
        options.append(["compare", "ok.npy", name, "--format", "json"])
    if name.endswith((".csv", ".tsv", ".csv.gz")):
        options.append(["analyze", name, "--label-column", rng.choice(["label", "y", "2"])])
    return {"files": files, "args": rng.choice(options), "kind": kind}
