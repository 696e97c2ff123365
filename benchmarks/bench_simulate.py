"""Benchmark: simulate one full year of the embedded market at default chain size.

Simulates the daily path from the origin (2000-01-03) through the end of ``--year`` and every
end-of-day SPX/SPXW chain of that year, concatenated into one frame (what ingestion receives).
Prints wall time per phase, option rows, rows/s and peak resident memory (ru_maxrss).

    python benchmarks/bench_simulate.py [--year 2024] [--size default] [--seed 7]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl  # noqa: E402

from features.simulate import SimulationConfig, simulate_chain, simulate_daily  # noqa: E402
from features.calendar import business_days  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--year", type=int, default=2024)
    ap.add_argument("--size", choices=["default", "small"], default="default")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    config = SimulationConfig(seed=args.seed, chain_size=args.size)
    sessions = business_days(config.origin, date(args.year, 12, 31))
    events = pl.DataFrame(schema={"date": pl.Date, "event": pl.String, "source": pl.String})

    t0 = time.perf_counter()
    daily = simulate_daily(sessions, events, config)
    t1 = time.perf_counter()
    year_days = [d for d in sessions if d.year == args.year]
    chains = [simulate_chain(d, daily, config) for d in year_days]
    t2 = time.perf_counter()
    options = pl.concat(chains)
    t3 = time.perf_counter()

    rows = options.height
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"daily path {sessions[0]}..{sessions[-1]} ({len(sessions)} sessions): {t1 - t0:.2f} s")
    print(f"chains {args.year} ({len(year_days)} sessions, size={args.size}): {t2 - t1:.2f} s "
          f"({1000 * (t2 - t1) / len(year_days):.1f} ms/session), concat {t3 - t2:.2f} s")
    print(f"option rows: {rows:,} ({rows / len(year_days):,.0f}/session); frame {options.estimated_size('mb'):.0f} MB")
    print(f"total wall time: {t3 - t0:.2f} s; option rows/s: {rows / (t3 - t0):,.0f}")
    print(f"peak RSS: {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
