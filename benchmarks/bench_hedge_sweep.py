"""Benchmark: the ALVH sweep's configurations per minute on the simulated market.

Builds the condor book once on the embedded simulator (small chains, sessions from
``start`` to ``end``; reported separately), then times :func:`features.hedge_sweep.evaluate_config`
over the first ``n`` configurations of :func:`features.hedge_sweep.sweep_grid` in one process.

Run: ``python benchmarks/bench_hedge_sweep.py [start] [end] [n]`` (defaults 2005-01-03 2014-12-31 24).
Prints sessions, configurations per minute, wall times and peak RSS.
"""

from __future__ import annotations

import resource
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.hedge_sweep import evaluate_config, sweep_grid  # noqa: E402
from features.strategy_config import StrategyConfig  # noqa: E402
from scripts.hedge_frontier_report import simulated_inputs  # noqa: E402


def main() -> None:
    start = date.fromisoformat(sys.argv[1]) if len(sys.argv) > 1 else date(2005, 1, 3)
    end = date.fromisoformat(sys.argv[2]) if len(sys.argv) > 2 else date(2014, 12, 31)
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 24
    t0 = time.perf_counter()
    inputs = simulated_inputs(7, start, end, StrategyConfig())
    t1 = time.perf_counter()
    configs = sweep_grid()[:n]
    for c in configs:
        evaluate_config(c, inputs)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"sessions: {inputs.book.height} ({start} .. {end})")
    print(f"condor book (market + chains + decisions + positions): {t1 - t0:.1f} s")
    print(f"configurations: {len(configs)} in {t2 - t1:.1f} s = {len(configs) / (t2 - t1) * 60:.1f} per minute (one process)")
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
