"""The real-path run end to end: ingest the real files, then `volsignals run --market real`.

    python benchmarks/bench_realpath.py [--data ../shared/data] [--start 2005-01-03] [--end 2025-03-19]
                                        [--batch-size N] [--stage all|market]

``--stage all`` (default): into a temporary warehouse and Dagster instance, ingest the files the
README lists, then materialize every asset over the sessions (the same code as the CLI), and
print wall time per step, option rows per second and the peak RSS of the process.
``--stage market``: only the real-path market itself (build + validate + store the chain of every
session, as the ``spx_options`` asset does, and the CNDR replica) — the part this project's
real-path code owns, without the downstream feature and decision assets.
Targets (issue #10): 2005-2025 end to end under 15 min and 4 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from pipelines.cli import DEFAULT_BATCH  # light: the CLI module imports Dagster only when it runs

ROOT = Path(__file__).resolve().parents[1]
FILES = [
    "yahoo_gspc_daily/GSPC_1927-12-30_2023-12-28_fja05680.csv.gz", "yahoo_gspc_daily/GSPC_2005-04-12_2025-04-04_jasonli.csv",
    *[f"cboe_vix_indices/{s}_History.csv" for s in ("VIX", "VIX9D", "VIX3M", "VIX6M", "VVIX", "SKEW")],
    "cfe_vx_futures_2015_2025/all_listed_2004_2025/vix_futures_history.csv",
    "rates_and_settlements/DTB3_1954-01-04_2026-03-26_fred.csv",
    "rates_and_settlements/SPX_SET_soq_monthly_1998-04_2025-05_cboe.csv",
    "cboe_strategy_indices/CNDR_History.csv",
]


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--start", type=date.fromisoformat, default=date(2005, 1, 3))
    ap.add_argument("--end", type=date.fromisoformat, default=date(2025, 3, 19))
    ap.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=f"sessions per Dagster run (default {DEFAULT_BATCH})")
    ap.add_argument("--stage", choices=["all", "market"], default="all")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-realpath-"))
    os.environ["VOLSIGNALS_WAREHOUSE"] = str(tmp / "warehouse")
    os.environ["DAGSTER_HOME"] = str(tmp / "dagster_home")
    (tmp / "dagster_home").mkdir()
    (tmp / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

    from pipelines.calendar import sessions_between
    from pipelines.vendor_ingest import IngestOptions, ingest_file
    from pipelines.warehouse import Warehouse

    store = Warehouse()
    t0 = time.perf_counter()
    for name in FILES:
        # the 1927-2023 S&P file is mostly pre-1990 rows (quarantined): store its clean rows, as the README says
        report = ingest_file(store, args.data / name, options=IngestOptions(force=name.startswith(FILES[0])))
        if not report.ok:
            raise SystemExit(str(report))
    t_ingest = time.perf_counter() - t0
    sessions = sessions_between(args.start, args.end)
    print(f"ingest of {len(FILES)} real files: {t_ingest:.1f} s")
    t1 = time.perf_counter()
    if args.stage == "all":
        from pipelines.cli import materialize_range

        materialize_range(args.start, args.end, batch_size=args.batch_size, progress=True, market="real")
        what = "every asset (volsignals run --market real)"
    else:
        from features.realpath.chain import SOURCE
        from pipelines.assets.market_data import CHAIN_BATCH
        from pipelines.realpath import realpath_chain
        from pipelines.ingest import store_rows

        rows = 0
        for i in range(0, len(sessions), CHAIN_BATCH):  # as the spx_options asset does
            batch = sessions[i : i + CHAIN_BATCH]
            rows += store_rows(store, "spx_options", realpath_chain(store, batch), "simulated", batch,
                               source=SOURCE).rows_stored
        t_chain = time.perf_counter() - t1
        print(f"real-path chain build + validate + store: {t_chain:.1f} s, {rows:,} option rows "
              f"({rows / t_chain:,.0f} rows/s), peak RSS so far {peak_rss_gb():.2f} GB")
        from pipelines.realpath import cndr_yardstick

        t2 = time.perf_counter()
        r = cndr_yardstick(args.data)
        print(f"CNDR replica + comparison: {time.perf_counter() - t2:.1f} s (monthly corr {r['monthly_correlation']:.3f})")
        what = "the real-path market (chain for every session) and the CNDR replica"
    wall = time.perf_counter() - t1
    if args.stage == "all":  # one file per session: the row counts are in the Parquet footers
        import polars as pl

        rows = pl.scan_parquet(store.files("spx_options")).select(pl.len()).collect().item()
    print(f"{what}: {len(sessions)} sessions {args.start}..{args.end}, {rows:,} option rows, "
          f"{wall:.1f} s ({rows / wall:,.0f} option rows/s), peak RSS {peak_rss_gb():.2f} GB")
    print(f"target: < 900 s and < 4 GB on 2 cores; warehouse left at {tmp} for inspection")


if __name__ == "__main__":
    main()
