"""Benchmark: backfill partitions per minute with 1 and 2 workers (pipelines/fanout.py).

The same sessions are backfilled into fresh warehouses by the fan-out job: batches of
sessions as parallel steps (each a partition-range run of the per-session assets), then the
history-dependent assets, then the views file. ``--executor multiprocess`` runs the steps
in Dagster's multiprocess executor, ``--executor dask`` on a Dask LocalCluster of that many
worker processes. The instance is a throwaway SQLite one, or PostgreSQL when
``--postgres URL`` is given (e.g. what ``scripts/local_postgres.sh start DIR`` prints, with
``postgresql+psycopg2://``). The two warehouses are checked to hold the same rows.

Run: ``python benchmarks/bench_scale_fanout.py [--sessions 20] [--batch 5] [--chain-size default]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.calendar import sessions_between
from pipelines.fanout import HISTORY_ASSETS, PER_SESSION_ASSETS, run_fanout, warehouse_fingerprint
from pipelines.warehouse import Warehouse


def instance_at(home: Path, postgres: str | None) -> dg.DagsterInstance:
    home.mkdir(parents=True)
    storage = f"storage:\n  postgres:\n    postgres_url: {postgres}\n" if postgres else ""
    (home / "dagster.yaml").write_text(storage + "telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.from_config(str(home))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 2))
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--chain-size", default="default", choices=["default", "small"])
    parser.add_argument("--executor", default="multiprocess", choices=["multiprocess", "dask"])
    parser.add_argument("--postgres", help="a postgresql+psycopg2:// URL for the instance (default: SQLite)")
    args = parser.parse_args()
    sessions = sessions_between(args.start, date(args.start.year + 2, 12, 31))[: args.sessions]
    print(f"{len(sessions)} sessions {sessions[0]}..{sessions[-1]}, batches of {args.batch}, {args.chain_size} chain, "
          f"{args.executor} executor, instance {'PostgreSQL' if args.postgres else 'SQLite'}; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work shares the machine)")
    fingerprints, minutes = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        for workers in (1, 2):
            root = Path(tmp) / f"warehouse-{workers}"
            with instance_at(Path(tmp) / f"home-{workers}", args.postgres) as instance:
                t0 = time.perf_counter()
                result = run_fanout(sessions[0], sessions[-1], instance=instance, warehouse_root=str(root),
                                    batch_size=args.batch, chain_size=args.chain_size, executor=args.executor,
                                    workers=workers)
                elapsed = time.perf_counter() - t0
            if not result.success:
                raise SystemExit(f"the backfill with {workers} worker(s) failed")
            minutes[workers] = elapsed / 60
            fingerprints[workers] = warehouse_fingerprint(Warehouse(root), PER_SESSION_ASSETS + HISTORY_ASSETS)
            print(f"{workers} worker(s): {elapsed:7.1f} s wall, {len(sessions) / minutes[workers]:6.1f} partitions/min, "
                  f"load average {os.getloadavg()[0]:.1f}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6
    print(f"speed-up 2 vs 1 worker: x{minutes[1] / minutes[2]:.2f}; largest step process peak RSS {children:.2f} GB")
    print(f"same rows with 1 and 2 workers: {fingerprints[1] == fingerprints[2]}")


if __name__ == "__main__":
    main()
