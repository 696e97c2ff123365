"""Benchmark: the cost of one partition (one session of one underlying), end of day vs intraday.

What one partition costs the pipeline's heaviest per-session path: simulate the session's
chain, check it against the chain contract, store it, compute the per-contract option
features (implied vol, greeks) and store those. End of day is one snapshot of the default
chain (~14 thousand contracts); intraday is a snapshot every 5 minutes (78 on a full day,
``features/simulate/intraday.py``). Each kind runs in a fresh process, so its peak memory
is its own; the simulated daily path (shared by all partitions of a run) is built before
the clock starts and is not counted.

Printed per kind: rows, CPU seconds (user + system of that process while the partition was
processed), wall seconds, bytes written (Parquet files of both tables), peak RSS, rows/s.
These are the inputs of docs/scale.md.

Run: ``python benchmarks/bench_scale_intraday.py [--day 2024-03-01] [--chain-size default]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_partition(kind: str, day: date, chain_size: str) -> dict:
    """Process one partition of ``kind`` ("eod" or "intraday") in this process; return its cost."""
    from features.option_features import option_features
    from features.simulate import SimulationConfig, simulate_chain, simulate_daily
    from features.simulate.intraday import simulate_intraday_chains
    from pipelines.calendar import LAST_CALENDAR_DAY, sessions_between
    from pipelines.contracts import validate
    from pipelines.events_calendar import events_between
    from pipelines.schemas import SCHEMAS
    from pipelines.warehouse import Warehouse, register_table

    config = SimulationConfig(chain_size=chain_size)
    market = simulate_daily(sessions_between(config.origin, day), events_between(config.origin, LAST_CALENDAR_DAY), config)
    chain_table, features_table = "spx_options", "option_features"
    schema = SCHEMAS["spx_options"]
    if kind == "intraday":
        # the stored chain's key has no snapshot time (one end-of-day chain per session):
        # intraday rows go to tables of their own, keyed by snapshot as well
        schema = copy.deepcopy(schema)
        schema.unique = [*schema.unique, "snapshot_time"]
        chain_table, features_table = "spx_options_intraday", "option_features_intraday"
        register_table(chain_table, "quote_date", "date", schema)
        register_table(features_table, "quote_date", "date")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as root:
        store = Warehouse(root)
        cpu0, wall0 = _cpu(), time.perf_counter()
        chain = simulate_chain(day, market, config) if kind == "eod" else simulate_intraday_chains(day, market, config)
        cpu_simulate = _cpu() - cpu0
        chain = validate(chain, schema)
        store.write_partitions(chain_table, chain, "simulated", [day], validated=True)
        features = option_features(chain)
        store.write_partitions(features_table, features, "derived", [day])
        cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
        written = sum(p.stat().st_size for p in Path(root, "data").rglob("*.parquet") if "_schema" not in p.parts)
    return {
        "kind": kind, "rows": chain.height, "snapshots": chain["snapshot_time"].n_unique(),
        "cpu_s": round(cpu, 3), "cpu_simulate_s": round(cpu_simulate, 3), "wall_s": round(wall, 3),
        "bytes_written": written, "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3),
        "rows_per_s": round(chain.height / wall),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=date.fromisoformat, default=date(2024, 3, 1))
    parser.add_argument("--chain-size", default="default", choices=["default", "small"])
    parser.add_argument("--one", choices=["eod", "intraday"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_partition(args.one, args.day, args.chain_size)))
        return
    print(f"one partition = one session of one underlying ({args.day}, {args.chain_size} chain); "
          f"{os.cpu_count()} cores (shared with other work: see the load average)")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    header = f"{'kind':9} {'rows':>10} {'snaps':>5} {'CPU s':>7} {'(sim)':>6} {'wall s':>7} {'MB written':>10} {'peak GB':>8} {'rows/s':>10}"
    print(header)
    results = []
    for kind in ("eod", "intraday"):
        out = subprocess.run(
            [sys.executable, __file__, "--one", kind, "--day", args.day.isoformat(), "--chain-size", args.chain_size],
            check=True, capture_output=True, text=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{r['kind']:9} {r['rows']:>10,} {r['snapshots']:>5} {r['cpu_s']:>7.2f} {r['cpu_simulate_s']:>6.2f} "
              f"{r['wall_s']:>7.2f} {r['bytes_written'] / 1e6:>10.1f} {r['peak_rss_gb']:>8.2f} {r['rows_per_s']:>10,}")
    eod, intraday = results
    print(f"intraday / end of day: rows x{intraday['rows'] / eod['rows']:.0f}, CPU x{intraday['cpu_s'] / eod['cpu_s']:.0f}, "
          f"bytes x{intraday['bytes_written'] / eod['bytes_written']:.0f}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print("JSON " + json.dumps(results))


if __name__ == "__main__":
    main()
