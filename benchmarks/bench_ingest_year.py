"""Simulate and ingest one year of the default market, as the pipeline does.

    python benchmarks/bench_ingest_year.py [--year 2024] [--size default]

Runs the same code as the ``daily_market`` and ``spx_options`` assets (simulate, validate
with the pandera contracts, quarantine, write atomic Parquet partitions) into a temporary
warehouse, and prints wall time, contract rows per second and peak memory (max RSS).
Target (issue #2): one year, ~4 million contract rows, under 60 s on 2 cores and 3 GB.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date

import polars as pl

from features.simulate import SimulationConfig, simulate_chain, simulate_daily
from pipelines.calendar import LAST_CALENDAR_DAY, sessions_between
from pipelines.events_calendar import events_between
from pipelines.ingest import store_rows
from pipelines.partitions import FIRST_PARTITION
from pipelines.warehouse import Warehouse

BATCH = 21  # the spx_options asset's batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--size", default="default", choices=["default", "small"])
    args = parser.parse_args()
    config = SimulationConfig(seed=7, chain_size=args.size)
    sessions = sessions_between(date(args.year, 1, 1), date(args.year, 12, 31))
    with tempfile.TemporaryDirectory() as tmp:
        store = Warehouse(tmp)
        t0 = time.perf_counter()
        market = simulate_daily(sessions_between(FIRST_PARTITION, sessions[-1]), events_between(FIRST_PARTITION, LAST_CALENDAR_DAY), config)
        t_daily = time.perf_counter() - t0
        for table in ["spx_daily", "vix_term_structure", "vx_futures", "breadth_daily"]:
            frame = getattr(market, table).filter(pl.col("date").is_in(sessions))
            store_rows(store, table, frame, "simulated", sessions, source="simulator:seed=7")
        rows = 0
        t_sim = t_store = 0.0
        for i in range(0, len(sessions), BATCH):
            batch = sessions[i : i + BATCH]
            t1 = time.perf_counter()
            chains = pl.concat([simulate_chain(d, market, config) for d in batch])
            t2 = time.perf_counter()
            report = store_rows(store, "spx_options", chains, "simulated", batch, source="simulator:seed=7")
            t_store += time.perf_counter() - t2
            t_sim += t2 - t1
            rows += report.rows_stored
        wall = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"sessions            {len(sessions)}")
    print(f"contract rows       {rows:,}  ({rows / len(sessions):,.0f} per session)")
    print(f"wall time           {wall:.1f} s  (daily path {t_daily:.1f} s, chains {t_sim:.1f} s, validate+store {t_store:.1f} s)")
    print(f"rows per second     {rows / wall:,.0f}")
    print(f"peak memory (RSS)   {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
