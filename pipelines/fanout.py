"""Backfills fanned out over workers: batches of sessions as parallel steps of one Dagster run.

A backfill of many sessions is one Dagster run of :func:`fanout_job`. Each step of it
materializes the *per-session* assets for one batch of consecutive sessions as a
partition-range run of the code location's own assets (recorded on the same instance,
tagged ``volsignals/fanout_parent`` with the backfill's run id), and the executor decides
where the steps run:

* ``multiprocess`` — Dagster's multiprocess executor: one process per step, at most
  ``workers`` at a time, on this machine;
* ``dask`` — ``dagster-dask``: steps are Dask tasks on a cluster, a ``LocalCluster`` of
  ``workers`` processes by default or an existing scheduler (``dask_address``).

Why this split. A session's raw tables, option features and chain features depend only on
the seeded path and that session's chain, so batches are independent and can be written
by several workers at once (the warehouse serializes the writes themselves with its file
lock; a year file shared by two batches is merged under that lock). Market features and
regimes read the whole stored history before each session, so they run once, after every
batch, as one range run; then one step rewrites the DuckDB views file. That step is the
warehouse's single-writer point and sits in the Dagster concurrency pool
:data:`VIEWS_POOL` (limit 1 on the PostgreSQL instance, ``pipelines/instance.py``), so two backfills never
rewrite the views file at once.

Why Dask for the cluster executor: ``dagster-dask`` needs no broker or container registry
(``dagster-celery`` needs a broker and workers started beside it, ``dagster-k8s`` a
cluster); the same ``distributed`` scheduler runs the strategy sweeps
(:mod:`pipelines.distributed`), so one cluster serves both. Its limits, read in the source
of dagster-dask 0.29.27: it submits every step of the plan when the run starts, so the
batches are fixed when the job is built (no dynamic outputs), and it does not consult
Dagster's op concurrency pools; under Dask the views step is still last in its run, and
the warehouse's file lock still serializes writers on one file system.
"""


import hashlib
from pathlib import Path
from collections.abc import Sequence
from datetime import date

import dagster as dg
import polars as pl

from pipelines.calendar import contiguous_session_runs, sessions_between

#: Assets whose rows for a session depend only on that session (safe to write in parallel batches).
PER_SESSION_ASSETS = (
    "spx_daily", "vix_term_structure", "vx_futures", "breadth_daily", "spx_options",
    "option_features", "chain_features",
)
#: Assets that read the stored history before each session: one range run after the batches.
HISTORY_ASSETS = ("market_features", "regimes")
#: The Dagster concurrency pool of the warehouse's single-writer point (the views file).
VIEWS_POOL = "warehouse_views"
EXECUTORS = ("multiprocess", "dask", "in_process")
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def session_batches(start: date, end: date, batch_size: int) -> list[tuple[str, str]]:
    """The sessions ``start``..``end`` as (first, last) ISO dates of consecutive batches."""
    sessions = sessions_between(start, end)
    if not sessions:
        raise ValueError(f"no NYSE sessions between {start} and {end}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
    return [(run[0].isoformat(), run[-1].isoformat()) for run in contiguous_session_runs(sessions, batch_size)]


def run_range(
    instance: dg.DagsterInstance,
    names: Sequence[str],
    first: str | None,
    last: str | None,
    warehouse_root: str,
    seed: int,
    chain_size: str,
    tags: dict[str, str] | None = None,
) -> str:
    """Materialize assets ``names`` for sessions ``first``..``last`` (None: unpartitioned) as one run.

    The run uses the code location's assets and resources, with the warehouse and the
    simulator set explicitly (a worker on another machine need not share our environment).
    Returns the run id; raises :class:`dagster.Failure` if the run failed.
    """
    from pipelines.definitions import all_assets, defs
    from pipelines.resources import MarketSimulatorResource, WarehouseResource

    range_tags = (
        {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
        if first is not None else {}
    )
    result = dg.materialize(
        all_assets,
        selection=dg.AssetSelection.assets(*names),
        instance=instance,
        resources={
            **defs.resources,
            "warehouse": WarehouseResource(root=warehouse_root),
            "simulator": MarketSimulatorResource(seed=seed, chain_size=chain_size),
        },
        tags={**range_tags, **(tags or {})},
        run_config=QUIET,
        raise_on_error=False,
    )
    if not result.success:
        raise dg.Failure(f"run {result.run_id} of {', '.join(names)} for {first}..{last} failed")
    return result.run_id


def _executor(executor: str, workers: int, dask_address: str | None) -> dg.ExecutorDefinition:
    if executor == "multiprocess":
        return dg.multiprocess_executor.configured({"max_concurrent": workers})
    if executor == "in_process":
        return dg.in_process_executor
    if executor == "dask":
        from pipelines.dask_executor import dask_executor

        cluster = (
            {"existing": {"address": dask_address}}
            if dask_address
            # one thread per worker process: Dagster steps are not thread-safe
            else {"local": {"n_workers": workers, "threads_per_worker": 1, "dashboard_address": ":0"}}
        )
        return dask_executor.configured({"cluster": cluster})
    raise ValueError(f"unknown executor {executor!r} (one of {', '.join(EXECUTORS)})")


def fanout_job(
    batches: Sequence[Sequence[str]],
    warehouse_root: str,
    seed: int = 7,
    chain_size: str = "default",
    executor: str = "multiprocess",
    workers: int = 2,
    dask_address: str | None = None,
) -> dg.JobDefinition:
    """The backfill job for ``batches`` of (first, last) sessions: parallel batch steps,
    then the history-dependent assets over the whole span, then the views file."""
    batches = [(str(first), str(last)) for first, last in batches]
    if not batches:
        raise ValueError("a backfill needs at least one batch of sessions")
    settings = dict(warehouse_root=warehouse_root, seed=seed, chain_size=chain_size)

    def batch_op(first: str, last: str) -> dg.OpDefinition:
        @dg.op(name=f"sessions_{first.replace('-', '')}_{last.replace('-', '')}", out=dg.Out(dg.Nothing),
               tags={"volsignals/sessions": f"{first}..{last}"})
        def _batch(context: dg.OpExecutionContext) -> None:
            run_id = run_range(context.instance, PER_SESSION_ASSETS, first, last, **settings,
                               tags={"volsignals/fanout_parent": context.run_id})
            context.log.info(f"sessions {first}..{last}: run {run_id}")

        return _batch

    @dg.op(ins={"after": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing))
    def history(context: dg.OpExecutionContext) -> None:
        """The event calendar, then market features and regimes over the whole span."""
        parent = {"volsignals/fanout_parent": context.run_id}
        run_range(context.instance, ["events"], None, None, **settings, tags=parent)
        run_range(context.instance, HISTORY_ASSETS, batches[0][0], batches[-1][1], **settings, tags=parent)

    @dg.op(ins={"after": dg.In(dg.Nothing)}, pool=VIEWS_POOL)
    def publish_views(context: dg.OpExecutionContext) -> bool:
        """Rewrite the DuckDB views file (skipped, harmlessly, while a user holds it open)."""
        from pipelines.warehouse import Warehouse

        written = Warehouse(warehouse_root).publish_views()
        context.log.info("views written" if written else "views file busy: existing views kept")
        return written

    ops = [batch_op(first, last) for first, last in batches]

    @dg.job(name="backfill_fanout", executor_def=_executor(executor, workers, dask_address),
            tags={"volsignals/backfill": f"{batches[0][0]}..{batches[-1][1]}"})
    def backfill_fanout():
        publish_views(after=history(after=[op() for op in ops]))

    return backfill_fanout


def run_fanout(
    start: date,
    end: date,
    *,
    instance: dg.DagsterInstance,
    warehouse_root: str,
    batch_size: int = 21,
    seed: int = 7,
    chain_size: str = "default",
    executor: str = "multiprocess",
    workers: int = 2,
    dask_address: str | None = None,
):
    """Backfill sessions ``start``..``end`` with :func:`fanout_job` on ``instance`` (returns the job result).

    The job is rebuilt from these arguments in every worker process (a reconstructable job),
    so the batches and settings travel with it. ``instance`` must be persistent (a
    ``DAGSTER_HOME`` instance: SQLite on one machine, PostgreSQL across machines)."""
    kwargs = dict(
        batches=session_batches(start, end, batch_size), warehouse_root=str(warehouse_root), seed=seed,
        chain_size=chain_size, executor=executor, workers=workers, dask_address=dask_address,
    )
    job = dg.build_reconstructable_job("pipelines.fanout", "fanout_job", reconstructable_kwargs=kwargs)
    return dg.execute_job(job, instance=instance, run_config=QUIET, raise_on_error=False)


def run_serial(
    start: date, end: date, *, instance: dg.DagsterInstance, warehouse_root: str, seed: int = 7,
    chain_size: str = "default",
) -> None:
    """The same assets as :func:`run_fanout`, one range run after the other in this process
    (the reference a fanned-out backfill must reproduce)."""
    sessions = sessions_between(start, end)
    first, last = sessions[0].isoformat(), sessions[-1].isoformat()
    settings = dict(warehouse_root=str(warehouse_root), seed=seed, chain_size=chain_size)
    run_range(instance, PER_SESSION_ASSETS, first, last, **settings)
    run_range(instance, ["events"], None, None, **settings)
    run_range(instance, HISTORY_ASSETS, first, last, **settings)


def warehouse_fingerprint(store, tables: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Per table: (rows, SHA-256 over the sorted hashes of every row) of what ``store`` holds.

    Row order and file layout do not matter; every value of every row does, so two
    warehouses with equal fingerprints hold the same rows (up to hash collisions)."""
    out: dict[str, tuple[int, str]] = {}
    for table in tables:
        frame = store.read(table)
        out[table] = (frame.height, frame_fingerprint(frame))
    return out


def frame_fingerprint(frame: pl.DataFrame) -> str:
    """SHA-256 over the sorted row hashes of ``frame`` (row order does not matter)."""
    return hashlib.sha256(frame.hash_rows(seed=0).sort().to_numpy().tobytes()).hexdigest()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m pipelines.fanout --start D --end D [...]``: a fanned-out backfill on the
    ``$DAGSTER_HOME`` instance into ``$VOLSIGNALS_WAREHOUSE`` (or ``./warehouse``)."""
    import argparse
    import os

    from pipelines.distributed import SCHEDULER_ENV
    from pipelines.warehouse import warehouse_root

    parser = argparse.ArgumentParser(prog="python -m pipelines.fanout", description=main.__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--batch-size", type=int, default=21, help="sessions per partition-range run (default 21)")
    parser.add_argument("--executor", choices=EXECUTORS, default="multiprocess")
    parser.add_argument("--workers", type=int, default=2, help="parallel steps (multiprocess) or LocalCluster processes (dask)")
    parser.add_argument("--dask-address", default=os.environ.get(SCHEDULER_ENV),
                        help=f"a running Dask scheduler, e.g. tcp://host:8786 (default ${SCHEDULER_ENV})")
    args = parser.parse_args(argv)
    from pipelines.instance import ensure_home

    # the same instance configuration as every volsignals command (PostgreSQL when
    # VOLSIGNALS_DAGSTER_PG_URL is set, the warehouse_views pool, fast SQLite events otherwise)
    os.environ["DAGSTER_HOME"] = str(ensure_home(Path(os.environ.get("DAGSTER_HOME", Path.cwd() / ".dagster_home"))))
    with dg.DagsterInstance.get() as instance:
        result = run_fanout(
            args.start, args.end, instance=instance, warehouse_root=str(warehouse_root()),
            batch_size=args.batch_size, seed=int(os.environ.get("VOLSIGNALS_SEED", "7")),
            chain_size=os.environ.get("VOLSIGNALS_CHAIN_SIZE", "default"), executor=args.executor,
            workers=args.workers, dask_address=args.dask_address,
        )
    print(f"backfill run {result.run_id}: {'succeeded' if result.success else 'FAILED'}")
    if not result.success:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
