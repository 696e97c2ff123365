"""Benchmark: vendor ingest (parse + row rules + contract validation + quarantine + Parquet
store) vs a bare ``polars.read_csv`` of the same decompressed file.

Run: ``python benchmarks/bench_ingest_vendor.py``. Files: every real option chain under
``../shared/data`` (the Cboe delayed-quotes exports and the long one-row-per-option EOD
file), plus a synthetic large file: the largest Cboe chain replicated x20 (each
replica's strikes shifted by a multiple of 0.005 so contracts stay unique). Each file is
written decompressed to a temp dir first, so neither side pays for gzip.

The bare read is what a user would type to get typed columns out of the file:
``pl.read_csv(path, skip_lines=<preamble>, infer_schema_length=10000)`` (the default
inference length fails on these files: the first rows' IV column looks integral).
Ingest is the path of ``volsignals ingest``: ``read_file`` then ``store_result``, each
time into a warehouse that has its tables but not this file's sessions. The two are timed alternately, best of ``REPEATS``, so that drift in
the machine's speed hits both. Prints per file: size, rows, both times, the ratio of
rows/s (target >= 70 %), and the process's peak RSS at the end.
"""

from __future__ import annotations

import gzip
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipelines.readers import read_file  # noqa: E402
from pipelines.vendor_ingest import store_result  # noqa: E402
from pipelines.warehouse import Warehouse  # noqa: E402

DATA = REPO.parent / "shared" / "data"
REPLICAS = 20
REPEATS = 7
TARGET = 0.70


def _best_alternating(a: Callable[[], object], b: Callable[[], object]) -> tuple[float, float]:
    """Best wall time of ``a`` and of ``b``, run alternately ``REPEATS`` times each."""
    ta, tb = [], []
    for _ in range(REPEATS):
        for fn, times in ((a, ta), (b, tb)):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return min(ta), min(tb)


def _preamble_lines(path: Path) -> int:
    """Lines before the header row (Cboe exports: blank/index, ``Last:``, ``Date:``)."""
    with path.open() as fh:
        for i, line in enumerate(fh):
            if line.startswith(("Expiration Date,", "underlying,")) or "optionroot" in line:
                return i
    raise ValueError(f"{path}: no header found")


def _replicate(text: str, n: int) -> str:
    """A Cboe chain ``n`` times, strikes shifted by 0.005*i points (symbols adjusted), vectorized."""
    skip = next(i for i, line in enumerate(text.split("\n")) if line.startswith("Expiration Date,")) + 1
    lines = text.split("\n")
    head, body = lines[:skip], "\n".join(lines[skip:])
    df = pl.read_csv(body.encode(), has_header=False, infer_schema=False)
    cols = df.columns
    parts = []
    for i in range(n):  # a handful of replicas, each a vectorized rewrite
        shift = 5 * i  # in 1/1000 points: OCC strike units

        def sym(c: str) -> pl.Expr:
            digits = pl.col(c).str.slice(-8).cast(pl.Int64) + shift
            return pl.col(c).str.head(-8) + digits.cast(pl.String).str.zfill(8)

        parts.append(df.with_columns(
            sym(cols[1]).alias(cols[1]), sym(cols[12]).alias(cols[12]),
            (pl.col(cols[11]).cast(pl.Float64) + shift / 1000).round(3).cast(pl.String).alias(cols[11]),
        ))
    return "\n".join(head) + "\n" + pl.concat(parts).write_csv(include_header=False)


def bench(path: Path, tmp: Path) -> dict[str, float]:
    """One file: rows, bare and ingest wall times. Each ingest lands the file in a warehouse
    whose tables exist but that has not seen the file (not an idempotent re-landing)."""
    skip = _preamble_lines(path)

    def bare() -> pl.DataFrame:
        return pl.read_csv(path, skip_lines=skip, has_header=True, infer_schema_length=10000)

    def ingest() -> None:
        store_result(stores.pop(), read_file(path))

    # an existing warehouse receiving the day's file: its tables exist, the session does not
    stores = [Warehouse(tmp / f"wh_{path.stem}_{i}") for i in range(REPEATS)]
    for store in stores:
        for table in ("spx_options", "quarantine"):
            store.ensure_schema_file(table)

    rows = bare().height
    t_bare, t_ingest = _best_alternating(bare, ingest)
    return {"mb": path.stat().st_size / 1e6, "rows": rows, "bare": t_bare, "ingest": t_ingest}


def _print_row(name: str, r: dict[str, float]) -> None:
    ratio = r["bare"] / r["ingest"]
    print(f"{name:44s} {r['mb']:6.1f} {r['rows']:9,.0f} {r['bare'] * 1e3:8.1f} {r['ingest'] * 1e3:9.1f} "
          f"{r['rows'] / r['ingest']:12,.0f} {ratio:7.1%}{'' if ratio >= TARGET else '  below target'}")


def main() -> None:
    sources = sorted((DATA / "cboe_delayed_quotes").glob("*.csv.gz")) + sorted((DATA / "optopsy_spxw_2018").glob("*.csv.gz"))
    if not sources:
        print(f"no real option files under {DATA}; nothing to benchmark")
        return
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        files = []
        for src in sources:
            plain = tmp / src.name.removesuffix(".gz")
            plain.write_bytes(gzip.decompress(src.read_bytes()))
            files.append(plain)
        cboe = [f for f in files if "quotedata" in f.name]
        largest = max(cboe, key=lambda f: f.stat().st_size)
        big = tmp / f"x{REPLICAS}_{largest.name}"
        big.write_text(_replicate(largest.read_text(), REPLICAS))

        print(f"{'file':44s} {'MB':>6s} {'rows':>9s} {'bare ms':>8s} {'ingest ms':>9s} {'ingest rows/s':>12s} {'ratio':>7s}")
        results = {}
        for f in [*files, big]:
            results[f.name] = bench(f, tmp)
            _print_row(f.name, results[f.name])
        real = [results[f.name] for f in files]
        ratios = [r["bare"] / r["ingest"] for r in real]
        rows, bare, ingest = (sum(r[k] for r in real) for k in ("rows", "bare", "ingest"))
        print(f"\nall {len(real)} real files landed one after another: {rows:,.0f} rows, ingest {ingest:.2f} s "
              f"({rows / ingest:,.0f} rows/s) vs bare {bare:.2f} s: {bare / ingest:.1%} (target >= {TARGET:.0%})")
        print(f"per real file: median {statistics.median(ratios):.1%}, min {min(ratios):.1%}, "
              f"{sum(x >= TARGET for x in ratios)} of {len(ratios)} at or above the target; "
              f"synthetic x{REPLICAS} chain: {results[big.name]['bare'] / results[big.name]['ingest']:.1%}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {rss:.0f} MB")


if __name__ == "__main__":
    main()
