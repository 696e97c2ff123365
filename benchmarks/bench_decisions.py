"""Benchmark: the decisions-and-backtest step over years of simulated history, and the
daily scheduled run that continues it by one session.

1. Builds a warehouse of ``--years`` simulated years at the default chain size with the
   pipeline's own functions (raw tables, option features, chain features, market features,
   regimes), batch by batch; reported, not the point.
2. ``rebuild``: the ``strategy_backtest`` step recomputing the whole history (63-session
   steps carried from one another), in a fresh process: wall time and that process's peak RSS.
3. ``one session``: one more simulated session is landed and the whole scheduled run for it
   is materialized through Dagster (every daily asset's partition, then the registry,
   decisions and backtest continuing from the stored state: what the two evening schedules
   run; the weekly hedge frontier is not part of it), in a fresh process.

Run: ``python benchmarks/bench_decisions.py --years 5`` (and ``--years 20``).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta

import polars as pl

from features.chain_features import chain_features as compute_chain_features
from features.option_features import option_features as compute_option_features
from features.point_in_time import latest_revisions, merge_revisions
from features.regimes import market_regimes
from features.simulate import SimulationConfig, simulate_chain, simulate_daily
from pipelines.assets.market_data import CALENDAR_START
from pipelines.assets.market_features import _history
from pipelines.calendar import LAST_CALENDAR_DAY, NY, sessions_between
from pipelines.events_calendar import events_between
from pipelines.ingest import store_rows
from pipelines.partitions import FIRST_PARTITION
from pipelines.warehouse import Warehouse

BATCH = 21
SOURCE = "simulator:seed=7"


def build(root: str, sessions: list[date], config: SimulationConfig) -> int:
    """Store ``sessions`` of simulated history with every feature the decisions read."""
    store = Warehouse(root)
    market = simulate_daily(sessions_between(FIRST_PARTITION, sessions[-1]),
                            events_between(FIRST_PARTITION, LAST_CALENDAR_DAY), config)
    events = events_between(CALENDAR_START, LAST_CALENDAR_DAY)
    days = [CALENDAR_START + timedelta(days=i) for i in range((LAST_CALENDAR_DAY - CALENDAR_START).days + 1)]
    store_rows(store, "events", events, "derived", days, source="calendar")
    for table in ["spx_daily", "vix_term_structure", "vx_futures", "breadth_daily"]:
        frame = getattr(market, table).filter(pl.col("date").is_in(sessions))
        store_rows(store, table, frame, "simulated", sessions, source=SOURCE)
    rows = 0
    for i in range(0, len(sessions), BATCH):
        batch = sessions[i: i + BATCH]
        chains = pl.concat([simulate_chain(d, market, config) for d in batch])
        store_rows(store, "spx_options", chains, "simulated", batch, source=SOURCE)
        feats = compute_option_features(store.read("spx_options", batch[0], batch[-1]))
        store.write_partitions("option_features", feats, "derived", batch)
        store.write_partitions("chain_features", compute_chain_features(feats, chains), "derived", batch)
        rows += feats.height
    fresh = _history(store, sessions[-1]).filter(pl.col("date").is_in(sessions))
    store.write_partitions("market_features", merge_revisions(pl.DataFrame(), fresh, datetime.now(NY)), "derived", sessions)
    history = latest_revisions(store.read("market_features"), datetime.now(NY))
    store.write_partitions("regimes", market_regimes(history), "derived", sessions)
    return rows


def _child(code: str, root: str) -> tuple[float, float, float]:
    """Run ``code`` in a fresh Python process on the warehouse; (wall s, CPU s, peak RSS GB).

    CPU time is reported beside wall time because the machine may be shared."""
    env = {**os.environ, "VOLSIGNALS_WAREHOUSE": root, "DAGSTER_HOME": os.path.join(root, ".dagster_home")}
    os.makedirs(env["DAGSTER_HOME"], exist_ok=True)
    # VmHWM is the child's own peak: ru_maxrss would carry the parent's peak across fork/exec
    probe = code + (
        "\nimport resource; r = resource.getrusage(resource.RUSAGE_SELF)"
        "\nhwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))"
        "\nprint('PEAK_KB', hwm.split()[1]); print('CPU_S', r.ru_utime + r.ru_stime)\n"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(out.stdout[-3000:] + out.stderr[-3000:])
    value = {line.split()[0]: float(line.split()[1]) for line in out.stdout.splitlines() if line[:4] in ("PEAK", "CPU_")}
    return wall, value["CPU_S"], value["PEAK_KB"] / 1024**2


REBUILD = """
from pipelines.assets.decisions import run_incremental
from pipelines.resources import StrategyResource
from pipelines.warehouse import Warehouse
frames = run_incremental(Warehouse(), StrategyResource().to_strategy_config(), rebuild=True)
print('ROWS', 0 if frames is None else frames['backtest_daily'].height)
"""

ONE_SESSION = """
from datetime import date
from pipelines.cli import materialize_range
d = date.fromisoformat('{day}')
materialize_range(d, d, progress=False, frontier=False)  # what the two evening schedules run
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--end-year", type=int, default=2025)
    parser.add_argument("--size", default="default", choices=["default", "small"])
    parser.add_argument("--keep", help="build the warehouse here and keep it (reused when it exists)")
    args = parser.parse_args()
    config = SimulationConfig(seed=7, chain_size=args.size)
    sessions = sessions_between(date(args.end_year - args.years + 1, 1, 1), date(args.end_year, 12, 31))
    history, last = sessions[:-1], sessions[-1]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or tmp
        t0 = time.perf_counter()
        reuse = args.keep and os.path.isdir(os.path.join(args.keep, "data", "option_features"))
        rows = (pl.scan_parquet(Warehouse(root).files("option_features")).select(pl.len()).collect().item() if reuse
                else build(root, history, config))
        # the SQL snapshot as `volsignals run` leaves it after building the history (the daily
        # run then publishes only the partitions it changed)
        Warehouse(root).publish_views()
        t_build = time.perf_counter() - t0
        build_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        wall, cpu, peak = _child(REBUILD, root)
        one_wall, one_cpu, one_peak = _child(ONE_SESSION.format(day=last.isoformat()), root)
        continue_wall, continue_cpu, continue_peak = _child(REBUILD.replace("rebuild=True", "rebuild=False"), root)
    print(f"history             {len(history)} sessions ({history[0]} .. {history[-1]}), {rows:,} option rows")
    print(f"build               {t_build:.0f} s, peak RSS {build_peak:.2f} GB (simulate + features, batch by batch)")
    print(f"backtest rebuild    {wall:.1f} s wall ({cpu:.1f} s CPU), peak RSS {peak:.2f} GB ({rows / wall:,.0f} option rows/s)")
    print(f"up-to-date step     {continue_wall:.1f} s wall ({continue_cpu:.1f} s CPU), peak RSS {continue_peak:.2f} GB "
          "(the backtest step again with nothing new: the fixed cost of a daily step)")
    print(f"one-session run     {one_wall:.1f} s wall ({one_cpu:.1f} s CPU), peak RSS {one_peak:.2f} GB "
          f"(every asset for {last}, through Dagster)")


if __name__ == "__main__":
    main()
