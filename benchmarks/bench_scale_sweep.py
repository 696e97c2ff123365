"""Benchmark: strategy-sweep configurations per minute on Dask with 1 and 2 workers.

Each configuration is one backtest (``features.backtest.run_backtest``, three strategies)
over the synthetic market of ``bench_backtest.py``; configurations vary the short delta,
the wing width and the profit take. The inputs are scattered to the workers once. The
in-process sweep is run too, and the Dask results are checked equal to it.

Run: ``python benchmarks/bench_scale_sweep.py [n_configs] [n_days]``.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from itertools import cycle, product

import polars as pl
from bench_backtest import synthetic_market

from features.strategy_config import StrategyConfig
from pipelines.distributed import BacktestInputs, backtest_summary, map_in_process, map_on_dask


def configs(n: int) -> list[StrategyConfig]:
    base = StrategyConfig()
    grid = cycle(product((0.10, 0.16, 0.25), (50.0, 100.0), (0.5, 0.75)))
    return [
        replace(base, condor=replace(base.condor, short_delta=d, wing_width=w),
                management=replace(base.management, profit_take=p))
        for d, w, p in (next(grid) for _ in range(n))
    ]


def as_frame(results: list[dict]) -> pl.DataFrame:
    return pl.DataFrame([{"config": i, **row} for i, by in enumerate(results) for row in by.values()])


def main() -> None:
    n_configs = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    n_days = int(sys.argv[2]) if len(sys.argv) > 2 else 504
    mk = synthetic_market(n_days)
    inputs = BacktestInputs(mk["option_features"], mk["market"], mk["spx_daily"], mk["vx_futures"])
    sweep = configs(n_configs)
    print(f"{n_configs} configurations, {n_days} sessions, {mk['option_features'].height:,} option rows; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work shares the machine)")
    t0 = time.perf_counter()
    local = as_frame(map_in_process(backtest_summary, sweep, inputs))
    t = time.perf_counter() - t0
    print(f"in process: {t:7.1f} s, {n_configs / t * 60:6.1f} configurations/min")
    per_min = {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        remote = as_frame(map_on_dask(backtest_summary, sweep, inputs, workers=workers))
        t = time.perf_counter() - t0
        per_min[workers] = n_configs / t * 60
        print(f"Dask, {workers} worker(s): {t:7.1f} s (cluster start included), {per_min[workers]:6.1f} configurations/min, "
              f"equal to in process: {remote.equals(local)}, load average {os.getloadavg()[0]:.1f}")
    print(f"speed-up 2 vs 1 worker: x{per_min[2] / per_min[1]:.2f}")


if __name__ == "__main__":
    main()
