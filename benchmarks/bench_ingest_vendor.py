"""Benchmark: vendor ingest (parse + row rules + pandera validation + quarantine + store)
vs a bare ``polars.read_csv`` of the same decompressed Cboe delayed-quotes file.

Run: ``python benchmarks/bench_ingest_vendor.py``. Uses the largest real Cboe file in
``../shared/data/cboe_delayed_quotes`` and a synthetic file with that chain replicated
x20 (each replica's strikes shifted by a multiple of 0.005 so contracts stay unique),
both written decompressed to a temp dir. Prints wall time, data lines/s, contract
rows/s, the ratio ingest/bare (lines/s) and the process's peak RSS.
"""

from __future__ import annotations

import gzip
import resource
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipelines.readers import read_file  # noqa: E402
from pipelines.vendor_ingest import store_result  # noqa: E402
from pipelines.warehouse import Warehouse  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "cboe_delayed_quotes"
REPLICAS = 20
REPEATS = 5
PREAMBLE_LINES = 4  # blank, "Last:", "Date:", header


def _best(fn) -> float:
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _replicate(text: str, n: int) -> str:
    """The chain ``n`` times, strikes shifted by 0.005*i points (symbols adjusted), vectorized."""
    lines = text.split("\n")
    head, body = lines[:PREAMBLE_LINES], "\n".join(lines[PREAMBLE_LINES:])
    df = pl.read_csv(body.encode(), has_header=False, infer_schema=False)
    cols = df.columns
    parts = []
    for i in range(n):  # a handful of replicas, each a vectorized rewrite
        shift = 5 * i  # in 1/1000 points: OCC strike units
        sym = lambda c: (pl.col(c).str.slice(0, pl.col(c).str.len_chars() - 8)  # noqa: E731
                         + (pl.col(c).str.slice(-8).cast(pl.Int64) + shift).cast(pl.String).str.zfill(8))
        parts.append(df.with_columns(
            sym(cols[1]).alias(cols[1]), sym(cols[12]).alias(cols[12]),
            (pl.col(cols[11]).cast(pl.Float64) + shift / 1000).round(3).cast(pl.String).alias(cols[11]),
        ))
    out = pl.concat(parts)
    return "\n".join(head) + "\n" + out.write_csv(include_header=False)


def bench(path: Path, label: str, tmp: Path) -> None:
    lines = sum(1 for _ in path.open()) - PREAMBLE_LINES

    def bare() -> None:
        out = pl.read_csv(path, skip_lines=PREAMBLE_LINES - 1, has_header=True, infer_schema_length=10000)
        assert out.height == lines, (out.height, lines)

    phases: dict[str, list[float]] = {"parse": [], "validate+store": []}
    store = Warehouse(tmp / f"warehouse_{label}")

    def ingest() -> None:
        # the real path of `volsignals ingest`: read + row rules, then the warehouse's
        # validation, quarantine and atomic Parquet write (ingest_file does both in one)
        t0 = time.perf_counter()
        r = read_file(path)
        t1 = time.perf_counter()
        store_result(store, r)
        t2 = time.perf_counter()
        for k, v in zip(phases, (t1 - t0, t2 - t1)):
            phases[k].append(v)

    t_bare, t_ingest = _best(bare), _best(ingest)
    print(f"[{label}] {path.stat().st_size / 1e6:.1f} MB, {lines:,} lines ({2 * lines:,} contract rows)")
    print(f"  bare polars.read_csv : {t_bare * 1e3:8.1f} ms  {lines / t_bare:12,.0f} lines/s")
    print(f"  ingest (parse+rules+validate+parquet):    {t_ingest * 1e3:8.1f} ms  {lines / t_ingest:12,.0f} lines/s"
          f"  {2 * lines / t_ingest:12,.0f} contract rows/s")
    print("  phases (best of %d): " % REPEATS + ", ".join(f"{k} {min(v) * 1e3:.0f} ms" for k, v in phases.items()))
    print(f"  ratio ingest/bare (lines/s): {t_bare / t_ingest:.1%}  (target >= 70%); "
          f"read_file alone/bare: {t_bare / min(phases['parse']):.1%}")


def main() -> None:
    files = sorted(DATA.glob("*.csv.gz"), key=lambda p: len(gzip.decompress(p.read_bytes())))
    if not files:
        print(f"no Cboe files under {DATA}; nothing to benchmark")
        return
    largest = files[-1]
    text = gzip.decompress(largest.read_bytes()).decode()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        real = tmp / largest.name.removesuffix(".gz")
        real.write_text(text)
        big = tmp / f"x{REPLICAS}_{real.name}"
        big.write_text(_replicate(text, REPLICAS))
        bench(real, "real", tmp)
        bench(big, f"x{REPLICAS}", tmp)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {rss:.0f} MB")


if __name__ == "__main__":
    main()
