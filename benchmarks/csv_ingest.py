"""CSV ingestion: logitcheck's CSV reader against ``pandas.read_csv(path, engine="pyarrow")``.

Generates, from one seed, a CSV of ``--rows`` rows of ``--classes`` float32 logits
(normal(0, 3), written by pyarrow as the shortest text that reads back as the same float32)
and an integer ``label`` column: 1,000,000 x 100 is about 1.05 GB. Also a gzipped copy
(zlib level 1) and a file of a quarter of the rows, to show that logitcheck's peak memory
does not grow with the file. Then, interleaved, ``--repeat`` times each:

- logitcheck: ``logitcheck.io.open_inputs(path, None, Settings(label_column="label"))``,
  the path ``logitcheck analyze`` takes, to a (rows, classes) float64 memory map and the
  label ids; pyarrow's import (done lazily, on the first large CSV) is inside the time;
- pandas: ``pandas.read_csv(path, engine="pyarrow")`` to a DataFrame (pandas imported first);
- with ``--slow-path``, once: logitcheck's own parser (what it used before pyarrow, and uses
  without it).

Each measurement runs in a fresh child process, which times the call (wall clock and CPU,
user + system, all threads) and reports its peak RSS (``getrusage``) right after it. The
table shows
the median time of the repetitions, MB/s of CSV text (decoded, for .gz), the speed relative
to pandas on the same file (the median, and the range, of pandas' time over logitcheck's in
each repetition: the two ran one after the other, so a busy spell on a shared machine hits
both), the median CPU seconds and the largest peak RSS. logitcheck's
result is a memory map of an unlinked temporary file: its pages are page cache, not
counted in RSS until read (as for any memory-mapped .npy).
The files are read warm (just written, so in the page cache). The children check that
both readers saw the same shape and the same column sums. Everything written goes into
one temporary directory, deleted at the end.

Run it from the repository root::

    python benchmarks/csv_ingest.py [--rows 1000000] [--classes 100] [--repeat 3]
        [--no-gz] [--slow-path] [--markdown benchmarks/README_csv.md] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# --- the child: one measurement -----------------------------------------------------------------


def child(reader: str, path: str) -> None:
    """Times one read; reports its wall time, CPU time and the process's peak RSS right
    after it (the checks that follow touch every mapped page, and would count them)."""
    import resource

    import numpy as np

    def cpu() -> float:
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime

    if reader == "pandas":
        import pandas as pd

        start, cpu0 = time.perf_counter(), cpu()
        df = pd.read_csv(path, engine="pyarrow")
        seconds, used = time.perf_counter() - start, cpu() - cpu0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        columns = [df[c].to_numpy(dtype=np.float64) for c in df.columns if c != "label"]
        sums = [float(c.sum()) for c in columns]
        shape = [len(df), len(columns)]
        labels = df["label"].to_numpy()
    else:
        from logitcheck.io import delimited, open_inputs
        from logitcheck.settings import Settings

        if reader == "logitcheck-slow":
            delimited._fast = lambda path: False  # type: ignore[assignment]
        start, cpu0 = time.perf_counter(), cpu()
        source, lab = open_inputs(path, None, Settings(label_column="label"))
        seconds, used = time.perf_counter() - start, cpu() - cpu0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        values = source.array
        assert isinstance(values, np.memmap), type(values)
        sums = [float(s) for s in values.sum(axis=0, dtype=np.float64)]
        shape = list(values.shape)
        labels = lab.read(0, shape[0]) if lab is not None else np.zeros(0, np.int64)
    print(json.dumps({"seconds": seconds, "cpu": used, "rss": rss * 1024, "shape": shape,
                      "sums": sums, "label_sum": int(labels.sum())}))


# --- the parent --------------------------------------------------------------------------------


def generate(path: Path, rows: int, classes: int, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"class_{i}" for i in range(classes)] + ["label"]
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write((",".join(names) + "\n").encode())
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        schema = pa.schema([(n, pa.float32()) for n in names[:-1]] + [("label", pa.int64())])
        with pacsv.CSVWriter(f, schema, write_options=options) as writer:
            for start in range(0, rows, 50_000):
                n = min(50_000, rows - start)
                z = rng.standard_normal((n, classes), dtype=np.float32) * 3
                y = rng.integers(0, classes, n)
                writer.write_batch(pa.record_batch(
                    [pa.array(z[:, i]) for i in range(classes)] + [pa.array(y)], schema=schema))


def gzip_copy(src: Path, dst: Path) -> None:
    with open(src, "rb") as f, gzip.open(dst, "wb", compresslevel=1) as g:
        shutil.copyfileobj(f, g, 16 << 20)


@dataclass
class Run:
    seconds: float
    cpu: float
    rss: int  # bytes
    shape: tuple[int, ...]
    sums: list[float]
    label_sum: int


def measure(reader: str, path: Path) -> Run:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    done = subprocess.run([sys.executable, __file__, "--child", reader, str(path)],
                          stdout=subprocess.PIPE, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{reader} on {path.name} failed (exit {done.returncode})")
    doc = json.loads(done.stdout)
    return Run(doc["seconds"], doc["cpu"], doc["rss"], tuple(doc["shape"]), doc["sums"],
               doc["label_sum"])


def agree(a: Run, b: Run, what: str) -> None:
    if a.shape != b.shape or a.label_sum != b.label_sum or any(
            abs(x - y) > 1e-9 * max(1.0, abs(x)) for x, y in zip(a.sums, b.sums, strict=True)):
        raise SystemExit(f"{what}: the readers disagree ({a.shape} vs {b.shape})")


def mib(n: float) -> str:
    return f"{n / (1 << 20):,.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-gz", action="store_true", help="skip the gzipped file")
    ap.add_argument("--slow-path", action="store_true",
                    help="also time logitcheck's own parser once per file (slow: ~35 MB/s)")
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    ap.add_argument("--dir", help="where to put the temporary files (default: system temp)")
    ap.add_argument("--child", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return

    tmp = Path(tempfile.mkdtemp(prefix="logitcheck-csv-bench-", dir=args.dir))
    try:
        started = time.time()
        csv = tmp / f"{args.rows}x{args.classes}.csv"
        generate(csv, args.rows, args.classes)
        files = [csv]
        if not args.no_gz:
            files.append(tmp / (csv.name + ".gz"))
            gzip_copy(csv, files[-1])
        quarter = tmp / f"{args.rows // 4}x{args.classes}.csv"
        generate(quarter, args.rows // 4, args.classes)
        print(f"generated in {time.time() - started:.0f} s: " + ", ".join(
            f"{p.name} {p.stat().st_size / 1e6:,.0f} MB" for p in files + [quarter]),
            file=sys.stderr)

        load_before = os.getloadavg()
        plan = [(r, p) for p in files for r in ("logitcheck", "pandas")] + [
            ("logitcheck", quarter)]
        runs: dict[tuple[str, Path], list[Run]] = {key: [] for key in plan}
        for i in range(args.repeat):  # interleaved: a busy spell hits every reader alike
            for reader, path in plan:
                runs[reader, path].append(measure(reader, path))
                r = runs[reader, path][-1]
                print(f"  {i + 1}/{args.repeat} {reader:10} {path.name:24} {r.seconds:7.2f} s "
                      f"cpu {r.cpu:6.1f} s rss {mib(r.rss)}", file=sys.stderr)
        if args.slow_path:
            for path in files:
                runs["logitcheck-slow", path] = [measure("logitcheck-slow", path)]
        for path in files:
            for key in runs:
                if key[1] == path:
                    agree(runs[key][0], runs["pandas", path][0], f"{key[0]} on {path.name}")
        load_after = os.getloadavg()

        rows = []
        for (reader, path), rs in runs.items():
            size = path.stat().st_size
            text = csv.stat().st_size if path.suffix == ".gz" else size  # the CSV, decoded
            sec = statistics.median(r.seconds for r in rs)
            base = runs.get(("pandas", path))
            ratio = spread = None
            if base and len(base) == len(rs):  # paired: run i of each came one after another
                ratios = sorted(b.seconds / r.seconds for b, r in zip(base, rs, strict=True))
                ratio = statistics.median(ratios)
                spread = f" ({ratios[0]:.2f}-{ratios[-1]:.2f})" if len(ratios) > 1 else ""
            elif base:
                ratio, spread = statistics.median(r.seconds for r in base) / sec, ""
            name = {"logitcheck": "logitcheck", "pandas": 'pandas.read_csv(engine="pyarrow")',
                    "logitcheck-slow": "logitcheck, own parser (no pyarrow)"}[reader]
            rows.append(
                f"| {name} | {path.name} | {size / 1e6:,.0f} | {len(rs)} | {sec:.2f} | "
                f"{text / 1e6 / sec:,.0f} | {'' if ratio is None else f'{ratio:.2f}x{spread}'} | "
                f"{statistics.median(r.cpu for r in rs):.1f} | {mib(max(r.rss for r in rs))} |")
        cmd = "python benchmarks/csv_ingest.py " + shlex.join(sys.argv[1:])
        table = "\n".join([
            f"`{cmd.strip()}` on {os.cpu_count()} cores, Python "
            f"{sys.version.split()[0]}, {_versions()}; load average "
            f"{load_before[0]:.1f} when the timings started, {load_after[0]:.1f} at the end "
            "(1-minute averages).",
            "",
            "| reader | file | file MB | runs | seconds (median) | CSV MB/s | speed vs pandas | "
            "CPU s | peak RSS |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|",
            *rows,
        ])
        print(table)
        if args.markdown:
            args.markdown.write_text(table + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _versions() -> str:
    import numpy
    import pandas
    import pyarrow

    return f"numpy {numpy.__version__}, pandas {pandas.__version__}, pyarrow {pyarrow.__version__}"


if __name__ == "__main__":
    main()
