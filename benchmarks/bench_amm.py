"""Benchmark: the AMM-versus-condor comparison (features/amm.py) on long paths.

Run: ``python benchmarks/bench_amm.py [--sessions 1000000] [--repeat 3]``. A GBM path of
``--sessions`` closes (one per calendar day) and a condor book held on every session with
random greeks and attribution; prints the wall time of the pool, the decomposition, the
comparison and the summary, rows/s and peak memory (ru_maxrss of the process). The
asset itself runs on the backtest's sessions (502 for the default market), far below this.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.amm import amm_vs_condor_daily, comparison_summary, condor_decomposition, constant_product_pool  # noqa: E402


def inputs(n: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    days = pl.date_range(date(1900, 1, 1), date(1900, 1, 1) + timedelta(days=n - 1), "1d", eager=True)
    s = 4000 * np.exp(np.cumsum(0.2 / np.sqrt(365) * rng.standard_normal(n)))
    prices = pl.DataFrame({"date": days, "price": s})
    attr = {c: rng.normal(0, 100, n) for c in ("attr_delta", "attr_gamma", "attr_theta", "attr_vega")}
    backtest = pl.DataFrame({"strategy": "unhedged", "date": days, "condor_pnl": rng.normal(0, 300, n), **attr})
    positions = pl.DataFrame({
        "date": days, "held": True, "underlying": s, "net_delta": rng.normal(0, 50, n),
        "net_gamma": -np.abs(rng.normal(1, 0.2, n)), "net_theta": np.abs(rng.normal(500, 50, n)), "net_vega": rng.normal(-2000, 100, n),
    })
    return prices, backtest, positions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    prices, backtest, positions = inputs(args.sessions)
    walls = []
    for i in range(args.repeat):
        t0 = time.perf_counter()
        pool = constant_product_pool(prices, 1e6)
        t1 = time.perf_counter()
        condor = condor_decomposition(backtest, positions)
        t2 = time.perf_counter()
        daily = amm_vs_condor_daily(pool, condor)
        t3 = time.perf_counter()
        comparison_summary(daily, 1e6)
        t4 = time.perf_counter()
        walls.append(t4 - t0)
        print(f"run {i + 1}: pool {t1 - t0:.3f} s, decomposition {t2 - t1:.3f} s, comparison {t3 - t2:.3f} s, "
              f"summary {t4 - t3:.3f} s, total {t4 - t0:.3f} s, {args.sessions / (t4 - t0):,.0f} sessions/s")
    best = min(walls)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"best {best:.3f} s for {args.sessions:,} sessions ({args.sessions / best:,.0f} sessions/s); peak RSS {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
