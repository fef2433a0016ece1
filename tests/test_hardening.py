"""Hardening, round two (issue 21): no hang, no lost file, no injected line, no crash on any
platform. Each test failed (or hung, or crashed) before its fix."""

from __future__ import annotations

import contextlib
import errno
import glob
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck import _process
from logitcheck.cli.app import cli
from logitcheck.io import layout, npy, open_inputs
from logitcheck.io.guard import ChangedWhileRead, install_bus_error_handler
from logitcheck.report import RENDERERS
from logitcheck.sanitize import clean, markdown_text
from logitcheck.settings import Settings

from .conftest import assert_clean_error, save

ROOT = Path(__file__).resolve().parent.parent
Z = np.random.default_rng(21).normal(size=(40, 4)).astype(np.float32)
Y = np.arange(40) % 4


def invoke(*args: str, timeout: int = 20):
    """The CLI in-process; an input that blocks (a FIFO) fails the test instead of hanging."""

    def expire(*_: object) -> None:
        raise TimeoutError(f"logitcheck {' '.join(args)} blocked for {timeout} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(timeout)
    try:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    save(tmp_path / "z.npy", Z)
    save(tmp_path / "y.npy", Y)
    os.mkfifo(tmp_path / "fifo.npy")
    return tmp_path


# --- anything but a regular file (or a directory where one is allowed) is refused ----------


@pytest.mark.parametrize("args", [
    ("analyze", "fifo.npy"),
    ("analyze", "z.npy", "--labels", "fifo.npy"),
    ("analyze", "z.npy", "--labels", "y.npy", "--baseline", "fifo.npy"),
    ("inspect", "fifo.npy"),
    ("compare", "z.npy", "fifo.npy"),
])
def test_a_fifo_is_refused_before_it_is_opened(files, args):
    assert_clean_error(invoke(*args), "fifo.npy: is a FIFO (named pipe), not a regular file")


def test_a_fifo_in_a_shard_directory_is_an_error_not_skipped(files):
    (files / "shards").mkdir()
    save(files / "shards" / "a.npy", Z)
    os.mkfifo(files / "shards" / "b.npy")
    assert_clean_error(invoke("analyze", "shards"), "b.npy: is a FIFO")


def test_a_symlink_loop_in_a_shard_directory_is_one_line(files):
    (files / "shards").mkdir()
    save(files / "shards" / "a.npy", Z)
    os.symlink("c.npy", files / "shards" / "b.npy")
    os.symlink("b.npy", files / "shards" / "c.npy")
    line = assert_clean_error(invoke("analyze", "shards"), "cannot be read")
    assert "internal error" not in line


# --- a file that changes while it is read -------------------------------------------------------


def test_a_mapped_npy_truncated_after_opening_is_file_changed(tmp_path):
    path = save(tmp_path / "z.npy", Z)
    source, _ = open_inputs(path, None, Settings())
    source.read(0, 10)
    os.truncate(path, 200)
    with pytest.raises(ChangedWhileRead, match="file changed while being read"):
        source.read(30, 40)


def test_a_shard_truncated_after_opening_is_file_changed(tmp_path):
    (tmp_path / "s").mkdir()
    save(tmp_path / "s" / "a.npy", Z)
    save(tmp_path / "s" / "b.npy", Z)
    source, _ = open_inputs(tmp_path / "s", None, Settings())
    os.truncate(tmp_path / "s" / "b.npy", 200)
    with pytest.raises(ChangedWhileRead, match="b.npy: file changed while being read"):
        source.read(0, 80)


def test_a_bus_error_becomes_one_line_and_exit_2(tmp_path):
    """The race the check cannot close (truncated between the check and the load) hits the
    handler the CLI installs: before it, the process died with SIGBUS (exit -7, no word)."""
    script = (
        "import os, numpy as np\n"
        "from logitcheck.io.guard import install_bus_error_handler\n"
        "np.save('big.npy', np.ones((100000, 10), np.float32))\n"
        "a = np.load('big.npy', mmap_mode='r')\n"
        "assert install_bus_error_handler()\n"
        "os.truncate('big.npy', 4096)\n"
        "import threading\n"  # two threads fault at once (two chunks): still one line
        "go = threading.Barrier(2)\n"
        "def read(k):\n"
        "    go.wait()\n"
        "    np.add.reduce(a[50000 * k + 1000:50000 * (k + 1)], axis=None)\n"
        "ts = [threading.Thread(target=read, args=(k,)) for k in (0, 1)]\n"
        "[t.start() for t in ts]\n"
        "[t.join() for t in ts]\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2
    assert done.stderr == ("logitcheck: error: file changed while being read (an input was "
                           "truncated while it was mapped: bus error)\n")


def test_a_npy_larger_than_the_address_space_is_read_in_windows(tmp_path, monkeypatch):
    path = save(tmp_path / "z.npy", Z)
    whole = open_inputs(path, None, Settings())[0].read(0, 40)

    real = np.memmap

    class SmallAddressSpace(np.memmap):  # as mmap fails under a small RLIMIT_AS
        def __new__(cls, *args, shape=None, dtype=None, **kw):
            if int(np.prod(shape)) * np.dtype(dtype).itemsize > 600:  # the whole 640
                raise OSError(errno.ENOMEM, "Cannot allocate memory")
            return real.__new__(real, *args, shape=shape, dtype=dtype, **kw)

    monkeypatch.setattr(np, "memmap", SmallAddressSpace)
    with pytest.raises(npy.NoAddressSpace, match="cannot map 640 bytes"):
        npy.map_array(Path(path), (40, 4), np.dtype("<f4"), 128)
    array = npy.open_npy(Path(path))
    assert isinstance(array, npy.WindowedNpy)
    source, _ = open_inputs(path, None, Settings())
    np.testing.assert_array_equal(source.read(0, 20), whole[:20])  # windows of 320 bytes
    np.testing.assert_array_equal(source.read(20, 40), whole[20:])
    np.testing.assert_array_equal(source.read(7, 9), whole[7:9])
    save(tmp_path / "f.npy", np.asfortranarray(Z))
    with pytest.raises(Exception, match="cannot map 640 bytes"):
        npy.open_npy(tmp_path / "f.npy")


# --- stdout that cannot be written --------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_stdout_write_failure_is_one_line_and_exit_2(tmp_path):
    path = save(tmp_path / "z.npy", Z)
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "logitcheck", "analyze", path],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2
    assert done.stderr == ("logitcheck: error: cannot write the output to stdout (No space "
                           "left on device)\n")


# --- no library warning reaches the terminal ----------------------------------------------------


def test_a_signalling_nan_label_is_refused_without_a_warning(files):
    """numpy warns 'invalid value encountered in cast' on a signalling NaN (io/targets.py);
    pytest turns that warning into an error, as a user's terminal showed it."""
    labels = np.eye(4, dtype=np.float32)[Y]
    labels.view(np.uint32)[3, 1] = 0x7F800001  # a signalling NaN
    save(files / "onehot.npy", labels)
    result = invoke("analyze", "z.npy", "--labels", "onehot.npy")
    assert_clean_error(result, "onehot.npy: row 3, column 1", "is not a probability")
    assert "Warning" not in result.stderr


# --- inf in reports -----------------------------------------------------------------------------


def test_a_row_whose_range_overflows_float64(tmp_path):
    z = save(tmp_path / "z.npy", np.array([[1.7e308, -1.7e308, 0.0], [1.0, 2.0, 3.0]]))
    y = save(tmp_path / "y.npy", np.array([1, 1]))
    doc = json.loads(invoke("analyze", z, "--labels", y, "--format", "json").stdout)
    assert doc["exit_code"] == 1
    lc004 = [f for f in doc["findings"] if f["code"] == "LC004"]
    assert lc004 and lc004[0]["evidence"] == {"rows": 1, "first_rows": [0]}
    assert doc["metrics"]["zones"]["max_range"] == "inf"  # strict JSON: the string
    with contextlib.suppress(ImportError):
        import jsonschema

        schema = json.loads((ROOT / "docs/reference/report.schema.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(doc)
    sarif = json.loads(invoke("analyze", z, "--labels", y, "--format", "sarif").stdout)
    assert sarif["runs"][0]["results"]  # inf in evidence: no crash in SARIF either
    html = tmp_path / "r.html"
    rich = invoke("analyze", z, "--labels", y, "--html", str(html))
    assert rich.exit_code == 1
    assert "no labels" not in rich.stdout
    assert "no labels" not in html.read_text()
    one = save(tmp_path / "one.npy", np.array([[1.7e308, -1.7e308, 0.0]]))
    y1 = save(tmp_path / "y1.npy", np.array([1]))
    rich = invoke("analyze", one, "--labels", y1)
    assert "loss: not finite on any labelled row (1 row inf/NaN)" in rich.stdout
    assert "no labels" not in rich.stdout
    assert rich.exit_code == 1


# --- never destroy an input ---------------------------------------------------------------------


@pytest.mark.parametrize("option", ["-o", "--html", "--json-report", "--junit-xml",
                                    "--summary-md"])
@pytest.mark.parametrize("target", ["z.npy", "y.npy", "link.npy", "hard.npy", "./sub/../z.npy"])
def test_an_output_that_is_an_input_is_refused(files, option, target):
    os.symlink("z.npy", files / "link.npy")
    os.link(files / "y.npy", files / "hard.npy")
    (files / "sub").mkdir()
    before = {p: (files / p).read_bytes() for p in ("z.npy", "y.npy")}
    result = invoke("analyze", "z.npy", "--labels", "y.npy", option, target)
    assert_clean_error(result, f"{option} {target}: is the input", "refusing to overwrite")
    assert {p: (files / p).read_bytes() for p in before} == before


def test_baseline_write_onto_an_input_and_onto_the_baseline_are_refused(files):
    assert invoke("baseline", "write", "b.json", "z.npy", "--labels", "y.npy").exit_code == 0
    before = (files / "y.npy").read_bytes()
    assert_clean_error(invoke("baseline", "write", "y.npy", "z.npy", "--labels", "y.npy"),
                       "baseline write y.npy: is the input y.npy")
    assert (files / "y.npy").read_bytes() == before
    kept = (files / "b.json").read_text()
    assert_clean_error(invoke("analyze", "z.npy", "--labels", "y.npy", "--baseline", "b.json",
                              "--json-report", "b.json"), "--json-report b.json: is the input")
    assert (files / "b.json").read_text() == kept


def test_two_outputs_naming_one_file_are_refused(files):
    result = invoke("analyze", "z.npy", "--json-report", "r.out", "--junit-xml", "./r.out")
    assert_clean_error(result, "--junit-xml ./r.out: the same file as --json-report r.out")
    assert not (files / "r.out").exists()
    ok = invoke("analyze", "z.npy", "-o", os.devnull, "--json-report", os.devnull)
    assert ok.exit_code == 0  # a device may be shared


def test_an_output_inside_a_directory_input_is_refused(files):
    (files / "shards").mkdir()
    save(files / "shards" / "a.npy", Z)
    assert_clean_error(invoke("analyze", "shards", "--html", "shards/a.npy"), "is the input")


# --- never let an input inject output -----------------------------------------------------------

HOSTILE = {
    "newline then a workflow command": "a\n::error file=x::forged",
    "set-output": "b\r\n::set-output name=x::y",
    "add-mask": "c\n::add-mask::secret",
    "ANSI / OSC title": "\x1b]0;TITLE\x07d",
    "colour": "\x1b[31mred\x1b[0m",
    "NUL, VT, ETB": "e\x00f\x0bg\x17",
    "C1 and bidi": "h\x85i\u202ej",
    "Markdown link": "[click](https://evil.example)",
    "image and code": "![x](y) `z` |",
}
RAW = ("\x1b", "\x07", "\x00", "\x0b", "\x17", "\x85", "\u202e", "\r")


def test_clean_escapes_every_control_character_and_keeps_one_line():
    for text in HOSTILE.values():
        out = clean(text)
        assert "\n" not in out and not any(c in out for c in RAW), out
    assert clean("a\nb\x1b") == "a\\x0ab\\x1b"
    assert clean("x ::add-mask:: :::") == "x \\x3a:add-mask\\x3a: \\x3a\\x3a:"
    assert clean("x\u2028y\u202e") == "x\\u2028y\\u202e"
    assert clean("ordinary name – ok.npy") == "ordinary name – ok.npy"
    assert markdown_text("[click](u) a|b `c` <i>") == "\\[click\\](u) a\\|b \\`c\\` &lt;i&gt;"


def _hostile_report(tmp_path: Path):
    """A report whose file name, class columns and quoted values are all hostile."""
    from logitcheck.analyses.analyze import analyze

    columns = [v.replace("\n", " ").replace("\r", " ").replace("\x00", "").replace(",", ";")
               for v in HOSTILE.values()][:4]  # the CSV reader takes no NUL or newline
    p = np.full((12, 4), 0.25)
    rows = "\n".join(",".join(f"{v:.2f}" for v in r) + f",{i % 4}" for i, r in enumerate(p))
    name = tmp_path / "probs[click](evil)\n::error::forged\x1b[31m.csv"
    name.write_text(",".join(columns) + ",label\n" + rows + "\n")
    return analyze(name, None, Settings())


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_no_renderer_lets_a_hostile_name_add_a_line_or_an_escape(tmp_path, fmt):
    report = _hostile_report(tmp_path)
    assert report.findings  # probabilities as logits: a finding quoting the input
    text = RENDERERS[fmt](report, color=False, width=100)
    assert not any(c in text for c in RAW), repr(text)
    lines = text.splitlines()
    if fmt == "github":  # every line is one of its own workflow commands
        assert len(lines) == len(report.findings) + 1
        for ln in lines:  # properties escape every colon; the message has no "::" left
            command = re.fullmatch(r"::(error|warning|notice) [^:]*::(.*)", ln)
            assert command and "::" not in command.group(2), ln
    else:
        assert "::" not in text, fmt
    assert "forged" in text  # shown (escaped), not dropped
    if fmt == "junit":
        ET.fromstring(text)
    if fmt == "markdown":
        prose = re.sub(r"```json\n.*?\n```", "", text, flags=re.S)  # code: never a link
        assert "[click](" not in prose and "\\[click\\]" in prose


def test_a_hostile_path_in_an_error_message_stays_one_line(tmp_path):
    result = invoke("analyze", str(tmp_path / "no\n::error::forged\x1b[2J.npy"))
    line = assert_clean_error(result, "no\\x0a\\x3a:error\\x3a:forged\\x1b[2J.npy: no such file")
    assert "\x1b" not in line


# --- YAML configs -------------------------------------------------------------------------------


def _config(tmp_path: Path, body: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text("version: 1\njobs:\n" + body)
    return str(path)


def test_a_5000_digit_integer_in_yaml_is_a_config_error(files):
    config = _config(files, f"  - name: a\n    logits: z.npy\n    threads: {'9' * 5000}\n")
    line = assert_clean_error(invoke("config", "validate", config), "jobs[0].threads",
                              "5,000 characters", "cannot be read")
    assert "internal error" not in line


def test_plain_jobs_are_not_an_alias_bomb(files, monkeypatch):
    from logitcheck.batch import config as batch

    monkeypatch.setattr(batch, "MAX_NODES", 50)  # 60 jobs: 180 values, none repeated
    config = _config(files, "".join(f"  - name: j{i}\n    logits: z.npy\n" for i in range(60)))
    result = invoke("config", "validate", config)
    assert result.exit_code == 0, result.output
    bomb = "x: &a [1, 1, 1, 1, 1, 1, 1, 1]\ny: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
    (files / "bomb.yaml").write_text(bomb + "version: 1\njobs: [*b, *b, *b]\n")
    assert_clean_error(invoke("config", "validate", "bomb.yaml"), "an alias bomb?")


def test_a_glob_is_bounded_and_says_so(files, monkeypatch):
    from logitcheck.batch import config as batch

    for i in range(12):
        save(files / f"m{i:02}.npy", Z)
    config = _config(files, "  - name: a\n    logits: '**/*.npy'\n")
    monkeypatch.setattr(batch, "MAX_GLOB_ENTRIES", 5)
    assert_clean_error(invoke("config", "validate", config),
                       "the glob '", "stopped after looking at 6 entries", "narrow the pattern")
    monkeypatch.setattr(batch, "MAX_GLOB_ENTRIES", 10_000)
    monkeypatch.setattr(batch, "MAX_GLOB_FILES", 3)
    assert_clean_error(invoke("config", "validate", config), "matches more than 3 files")


def test_bounded_glob_matches_glob_glob(tmp_path, monkeypatch):
    from logitcheck.batch.config import bounded_glob

    monkeypatch.chdir(tmp_path)
    for p in ("a.npy", "b.csv", "d/c.npy", "d/e/f.npy", "d/e/.h.npy", ".hid/g.npy"):
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).write_text("x")
    for pattern in ("*.npy", "**/*.npy", "d/*.npy", "d/**/*.npy", "*/*/*.npy", "./d/*",
                    str(tmp_path / "**" / "*.npy")):
        assert bounded_glob(pattern) == sorted(glob.glob(pattern, recursive=True)), pattern


# --- gzip bombs ---------------------------------------------------------------------------------


def test_gzipped_labels_stop_at_the_first_row_past_the_logits(files):
    with gzip.open(files / "y.csv.gz", "wb") as f:
        f.write(b"label\n" + b"1\n" * 2_000_000)  # 4 MB inflated, 4 KB on disk
    assert_clean_error(invoke("analyze", "z.npy", "--labels", "y.csv.gz"),
                       "more than 40 labels, but the logits have 40 rows")


def test_a_gzip_of_blank_lines_stops_at_max_bytes(files):
    with gzip.open(files / "b.csv.gz", "wb") as f:
        f.write(b"a,b,label\n" + b"\n" * 3_000_000 + b"1,2,0\n")
    assert_clean_error(invoke("analyze", "b.csv.gz", "--max-bytes", "1000000"),
                       "inflates to more than 976.6 KiB of text")


# --- platforms ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _platform(monkeypatch: pytest.MonkeyPatch, name: str, platform: str, cdll):
    import ctypes

    monkeypatch.setattr(os, "name", name)
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(ctypes, "CDLL", cdll)
    monkeypatch.setattr(_process, "_libc", _process._UNSET)
    monkeypatch.setattr(layout, "_libc", None)
    yield
    _process._libc = _process._UNSET


def _windows_cdll(name, *args, **kw):
    if name is None or "/" not in name:  # CPython's CDLL on Windows: TypeError for None
        raise TypeError("expected str, bytes or os.PathLike object, not NoneType")
    raise OSError("not found")


class _NoMallopt:
    """A C library without mallopt (macOS, musl)."""

    def __init__(self, *args, **kw):
        self.calls = []

    def __getattr__(self, name):
        raise AttributeError(name)


def test_windows_has_no_c_library_and_every_guard_holds(monkeypatch):
    with _platform(monkeypatch, "nt", "win32", _windows_cdll):
        assert _process.libc() is None
        assert _process.libc_function("mallopt") is None
        _process._keep_freed_memory()  # TypeError before: the command could not start
        assert install_bus_error_handler() is False


def test_posix_without_mallopt_or_madvise(monkeypatch):
    with _platform(monkeypatch, "posix", "darwin", _NoMallopt):
        assert _process.libc() is not None
        assert _process.libc_function("madvise") is None
        _process._keep_freed_memory()
    with _platform(monkeypatch, "posix", "linux", _NoMallopt):  # musl
        _process._keep_freed_memory()


def test_release_rows_without_madvise_is_a_no_op(tmp_path, monkeypatch):
    path = save(tmp_path / "z.npy", np.zeros((64, 4), np.float32))
    source, _ = open_inputs(path, None, Settings())
    monkeypatch.setattr(layout, "KEEP_MAPPED_BYTES", 0)
    with _platform(monkeypatch, "nt", "win32", _windows_cdll):
        source.release(0, 64)  # ctypes.CDLL(None) raised TypeError here on Windows
        assert layout._libc is False
    assert float(source.read(0, 64).sum()) == 0.0


def test_the_cli_starts_where_ctypes_cdll_none_fails(tmp_path):
    """As on Windows: the process imports _process and runs a command."""
    path = save(tmp_path / "z.npy", Z)
    script = (
        "import ctypes, sys\n"
        "real = ctypes.CDLL\n"
        "def cdll(name, *a, **k):\n"
        "    if name is None: raise TypeError('expected str, bytes or os.PathLike object')\n"
        "    return real(name, *a, **k)\n"
        "ctypes.CDLL = cdll\n"
        "sys.argv = ['logitcheck', 'analyze', sys.argv[1], '-q']\n"
        "from logitcheck.cli.app import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("PASS: no findings")
