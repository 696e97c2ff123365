"""Benchmark: ``volsignals run`` over the default two years, orchestration vs compute, and the
size of the Dagster home after many runs with retention.

Phase 1 runs exactly what ``volsignals run`` runs (``pipelines.cli.materialize_range`` over
2024-01-02 … 2025-12-31 on the default simulated market, about 7 million contracts) into a
fresh warehouse and a fresh Dagster home configured like a user's (``pipelines/instance.py``).
It prints the wall time and, measured in the same run, the **compute-only** time: the time
spent executing the asset functions' own code (every asset body is wrapped so that the time
between its yields is summed; the time Dagster spends storing the events an asset yields,
starting runs and steps, is orchestration). Phase 2 adds single-session runs of the daily job
(what the ``after_us_close`` schedule does each evening) until the home has seen
``--runs`` runs, prints the Dagster home's size, prunes with the retention policy
(``prune_runs``: the newest 30 finished runs, plus those holding an asset partition's newest
materialization) and prints the size again.

Run: ``python benchmarks/bench_run.py [--runs 30] [--keep-data DIR]``.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from pipelines.cli import DEFAULT_BATCH  # light: the CLI module imports Dagster only when it runs

#: Seconds spent inside each asset body (op name -> s), and in each Dagster run (label -> s).
COMPUTE: dict[str, float] = {}
RUNS: list[tuple[str, float]] = []


def _timed(fn, name: str):
    """``fn`` (an asset body) with its own time summed under ``name``: between its yields for a
    generator function, the whole call for a function that returns its result."""
    if not inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                COMPUTE[name] = COMPUTE.get(name, 0.0) + time.perf_counter() - start

        return call

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        events = iter(fn(*args, **kwargs))
        while True:
            start = time.perf_counter()
            try:
                event = next(events)
            except StopIteration:
                COMPUTE[name] = COMPUTE.get(name, 0.0) + time.perf_counter() - start
                return
            COMPUTE[name] = COMPUTE.get(name, 0.0) + time.perf_counter() - start
            yield event

    return wrapper


def _instrument(assets) -> None:
    for asset in assets:
        op = asset.op
        op._compute_fn = op.compute_fn._replace(decorated_fn=_timed(op.compute_fn.decorated_fn, op.name))  # noqa: SLF001


def _time_runs(materializer_cls) -> None:
    """Record the wall time of every Dagster run ``volsignals run`` starts."""
    run = materializer_cls._run

    def timed(self, names, tags=None):
        start = time.perf_counter()
        try:
            return run(self, names, tags)
        finally:
            span = (tags or {}).get("dagster/asset_partition_range_start", "")
            label = f"{len(names)} assets {span}.." if span else ", ".join(sorted(names))
            RUNS.append((label[:60], time.perf_counter() - start))

    materializer_cls._run = timed


def _size(path: Path) -> float:
    from pipelines.instance import home_size

    return home_size(path) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="Dagster runs the home sees before pruning (default 30)")
    parser.add_argument("--keep-data", type=Path, help="keep the warehouse and Dagster home in this folder")
    parser.add_argument("--start", help="first session (default: volsignals run's default)")
    parser.add_argument("--end", help="last session (default: volsignals run's default)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=f"sessions per Dagster run (default {DEFAULT_BATCH})")
    args = parser.parse_args()

    root = args.keep_data or Path(tempfile.mkdtemp(prefix="bench_run_"))
    from pipelines.instance import ensure_home

    home = ensure_home(root / "dagster_home")
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["VOLSIGNALS_WAREHOUSE"] = str(root / "warehouse")
    os.environ.setdefault("VOLSIGNALS_KEEP_RUNS", "30")

    import dagster as dg

    from pipelines.calendar import sessions_between
    from pipelines.cli import DEFAULT_END, DEFAULT_START, Materializer, materialize_range
    from pipelines.definitions import all_assets
    from pipelines.instance import prune_runs
    from pipelines.warehouse import Warehouse

    from datetime import date

    start = date.fromisoformat(args.start) if args.start else DEFAULT_START
    end = date.fromisoformat(args.end) if args.end else DEFAULT_END
    _instrument(all_assets)
    _time_runs(Materializer)
    cpu0 = os.times()
    t0 = time.perf_counter()
    materialize_range(start, end, batch_size=args.batch_size, progress=False)
    wall = time.perf_counter() - t0
    cpu = os.times()
    instance = dg.DagsterInstance.get()
    runs = len(instance.get_runs())
    events = sum(len(instance.all_logs(r.run_id)) for r in instance.get_runs())
    contracts = Warehouse().read("spx_options", columns=["quote_date"]).height
    sessions = sessions_between(start, end)
    print(f"volsignals run {start} .. {end}: {len(sessions)} sessions, {contracts:,} contracts")
    print(f"  wall time            {wall:8.1f} s   ({contracts / wall:,.0f} contracts/s)")
    compute = sum(COMPUTE.values())
    print(f"  compute-only time    {compute:8.1f} s   (asset bodies, measured in the same run)")
    print(f"  orchestration        {wall - compute:8.1f} s   (ratio orchestration/compute {(wall - compute) / compute:.2f})")
    print(f"  CPU user+sys         {(cpu.user - cpu0.user) + (cpu.system - cpu0.system):8.1f} s   (load-independent)")
    print(f"  Dagster runs {runs}, events {events:,}, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")
    print(f"  Dagster home         {_size(home):8.1f} MB after the run")

    print("  asset bodies (s):    " + ", ".join(f"{n} {t:.1f}" for n, t in sorted(COMPUTE.items(), key=lambda x: -x[1])))
    print("  Dagster runs (wall s): " + "; ".join(f"{label} {t:.1f}" for label, t in RUNS))
    print(f"  outside the runs     {wall - sum(t for _, t in RUNS):8.1f} s   (partition set, snapshot publish, retention)")

    m = Materializer(progress=False)
    daily = m.partitioned
    extra = 0
    t1 = time.perf_counter()
    while runs + extra < args.runs:
        day = sessions[-1 - (extra % len(sessions))]
        m.sessions(daily, [day], 1, "")
        extra += 1
    if extra:
        print(f"\n{extra} single-session daily runs in {time.perf_counter() - t1:.1f} s")
    total = len(instance.get_runs())
    print(f"Dagster home after {total} runs: {_size(home):.1f} MB")
    deleted = prune_runs(instance, keep=int(os.environ["VOLSIGNALS_KEEP_RUNS"]))
    print(f"retention (newest {os.environ['VOLSIGNALS_KEEP_RUNS']} runs + runs holding a partition's newest "
          f"materialization): {deleted} runs deleted, {len(instance.get_runs())} kept, home {_size(home):.1f} MB")
    if args.keep_data is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
