"""The Dagster instance volsignals runs on: its ``dagster.yaml``, its event storage, its upkeep.

One definition of the instance configuration (:func:`instance_yaml`) is written by the CLI
(``volsignals run`` / ``volsignals ui``) and by the test suite, so what is measured and
tested is what users run. Three choices, each measured (``benchmarks/bench_run.py``):

* **Event storage that does not fsync per event.** Dagster's SQLite event log opens a
  connection and commits once per event (twice more for asset events, mirrored into its
  index shard); with SQLite's default ``synchronous=FULL`` every commit waits for an
  ``fsync``. :class:`FastSqliteEventLogStorage` is Dagster's own storage with
  ``PRAGMA synchronous=NORMAL`` on each connection: Dagster already puts these databases in
  WAL mode, where NORMAL syncs at checkpoints instead of at every commit. A crash of the
  process loses nothing; a power cut can lose the last events (the run history, never the
  warehouse data, which is written by the pipeline itself).
* **Retention.** Dagster's ``retention`` setting covers schedule/sensor ticks only (kept
  1 day when skipped, 7 days otherwise), so :func:`prune_runs` deletes finished runs (with
  their event logs and compute logs) beyond the newest :data:`KEEP_RUNS`, except runs that
  still hold the newest materialization of some asset partition (deleting those would
  make the UI show the partition as never materialized). ``volsignals run`` and
  ``volsignals ingest`` prune after materializing; ``VOLSIGNALS_KEEP_RUNS`` sets the count.
* **Killed runs are marked failed.** Dagster's run monitoring checks the worker's health
  only for launchers that support it (the default launcher does not), and an in-process
  run of a killed ``volsignals run`` stays STARTED forever. :func:`fail_orphaned_runs`
  marks a STARTED run failed when the process that executes it (the pid Dagster records
  in the run's engine events) no longer exists on this machine; the CLI calls it before
  every command and the ``run_monitor`` sensor every minute while the UI's daemon runs.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import sqlite3
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.events import ASSET_EVENTS
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import serialize_value
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

#: Finished runs kept by :func:`prune_runs` (the newest; older ones are deleted).
KEEP_RUNS = int(os.environ.get("VOLSIGNALS_KEEP_RUNS", "30"))
#: Statuses of a run that is over (only these are ever pruned).
#: Run shards (one SQLite file per run) the event storage keeps a connection open to.
HELD_SHARDS = 4
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def _synchronous_normal(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class FastSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log, committing without an fsync per event.

    Dagster opens and closes a connection per event, and its databases are in WAL mode.
    Measured on this machine (100 single-row commits, each on its own connection): 12-13 ms
    per event with SQLite's default ``synchronous=FULL``; still 21 ms with ``NORMAL`` alone,
    because closing the last connection checkpoints and deletes the WAL, and a new WAL's
    first commit syncs its header; 0.15 ms with ``NORMAL`` while one connection to the
    file stays open. So every connection sets ``PRAGMA synchronous=NORMAL`` (before its
    transaction: SQLite refuses inside one), and the storage keeps one idle connection to
    the index shard and to the :data:`HELD_SHARDS` most recently used run shards. WAL +
    NORMAL is SQLite's documented pairing: a process crash loses nothing, a power cut can
    lose the last commits, and the file cannot be corrupted by either.
    """

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._held: OrderedDict[str, tuple[Engine, sqlite3.Connection]] = OrderedDict()
        super().__init__(base_dir, inst_data=inst_data)
        # Close the held connections at exit, so the last one checkpoints the WAL into the file.
        atexit.register(_release_held, weakref.ref(self))

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> FastSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def release_held(self) -> None:
        """Close the held connections (the last close folds each WAL into its database)."""
        with self._db_lock:
            while self._held:
                self._close(self._held.popitem()[1])

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, and one idle connection to it kept open (so the WAL persists).

        Dagster builds a new engine per event (a few ms each); one per shard is enough:
        with ``NullPool`` every ``connect`` still opens a fresh SQLite connection.
        """
        if shard in self._held:
            self._held.move_to_end(shard)
            return self._held[shard][0]
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=NullPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        sa_event.listen(engine, "connect", _synchronous_normal)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        held = sqlite3.connect(self.path_for_shard(shard), check_same_thread=False)
        held.execute("SELECT count(*) FROM sqlite_master").fetchall()  # opens the file and its WAL index
        self._held[shard] = (engine, held)
        while len(self._held) > HELD_SHARDS + 1:
            self._close(self._held.popitem(last=False)[1])
        return engine

    @staticmethod
    def _close(entry: tuple[Engine, sqlite3.Connection]) -> None:
        entry[1].close()
        entry[0].dispose()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's SqliteEventLogStorage._connect, with the shard's engine reused.
        with self._db_lock:
            with self._engine(shard).connect() as conn:
                with conn.begin():
                    yield conn

    def wipe(self) -> None:
        self.release_held()
        super().wipe()

    def dispose(self) -> None:
        self.release_held()
        super().dispose()

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store a batch of events (e.g. the per-partition materializations of a range run)
        with one transaction per database instead of one to three per event.

        Asset events get exactly what :meth:`store_event` gives them (the run shard row, the
        index row, its tags and the asset's record), in the same order; other events of a
        batch go through :meth:`store_event` one by one.
        """
        asset_events = [e for e in events if e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS]
        for event in events:
            if not (event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS):
                self.store_event(event)
        if not asset_events:
            return
        statements = [self.prepare_insert_event(e) for e in asset_events]
        for run_id in dict.fromkeys(e.run_id for e in asset_events):
            with self.run_connection(run_id) as conn:
                for event, statement in zip(asset_events, statements):
                    if event.run_id == run_id:
                        conn.execute(statement)
        with self.index_transaction() as conn:
            ids = []
            for statement in statements:
                with db_result(conn, statement) as result:
                    ids.append(result.inserted_primary_key[0])
            self._store_asset_event_tags(conn, asset_events, ids)
            for event, event_id in zip(asset_events, ids):
                self._store_asset_event(conn, event, event_id)

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """Dagster's, with the planned event serialized once instead of once per partition row:
        a 126-session run's planned check event is 35 KB of JSON (its partition set carries
        the calendar's exclusions) and took 1.4 ms to serialize, for each of 126 rows and 9
        checks per run (≈ 6 s of a two-year ``volsignals run``). The rows are the same."""
        planned = event.get_dagster_event().event_specific_data
        partition_keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        serialized = serialize_value(event)
        with self.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.insert().values(
                    [
                        dict(
                            asset_key=planned.asset_key.to_string(),
                            check_name=planned.check_name,
                            partition=partition_key,
                            run_id=event.run_id,
                            execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
                            evaluation_event=serialized,
                            evaluation_event_timestamp=self._event_insert_timestamp(event),
                            evaluation_event_storage_id=event_id,
                        )
                        for partition_key in partition_keys
                    ]
                )
            )

    def delete_events(self, run_id: str) -> None:
        """Delete the run's events, and its shard file (Dagster leaves an empty one behind)."""
        super().delete_events(run_id)
        with self._db_lock:
            self._initialized_dbs.discard(run_id)
            held = self._held.pop(run_id, None)
            if held is not None:
                self._close(held)
            for suffix in ("", "-wal", "-shm"):
                Path(self.path_for_shard(run_id) + suffix).unlink(missing_ok=True)

    def vacuum(self) -> None:
        """Give the space of deleted events back to the file system (index shard)."""
        with self._db_lock, sqlite3.connect(self.path_for_shard(INDEX_SHARD_NAME)) as con:
            con.execute("VACUUM")


def _release_held(ref: weakref.ref) -> None:
    storage = ref()
    if storage is not None:
        storage.release_held()


#: The PostgreSQL URL of a production instance (``postgresql+psycopg2://…``): when set, runs,
#: event logs and schedules go to that database instead of SQLite files (docs/scale.md).
POSTGRES_URL_ENV = "VOLSIGNALS_DAGSTER_PG_URL"


def _storage_yaml(storage: Path) -> str:
    if os.environ.get(POSTGRES_URL_ENV):
        # the URL stays an environment reference: every process (CLI, daemon, Dask or
        # multiprocess workers) reads it from its own environment, no password in the file
        return f"""\
storage:
  postgres:
    postgres_url:
      env: {POSTGRES_URL_ENV}
# The warehouse's single-writer steps (pipelines/fanout.py) run one at a time per pool.
concurrency:
  pools:
    granularity: op
    default_limit: 1
"""
    return f"""\
run_storage:
  module: dagster._core.storage.runs
  class: SqliteRunStorage
  config:
    base_dir: {storage}
event_log_storage:
  module: pipelines.instance
  class: FastSqliteEventLogStorage
  config:
    base_dir: {storage}
schedule_storage:
  module: dagster._core.storage.schedules
  class: SqliteScheduleStorage
  config:
    base_dir: {storage}
"""


def instance_yaml(home: Path) -> str:
    """The ``dagster.yaml`` of a volsignals Dagster home: SQLite storage under ``home``, or
    PostgreSQL when ``$VOLSIGNALS_DAGSTER_PG_URL`` is set."""
    storage = home / "storage"
    return f"""\
# Written by volsignals (pipelines/instance.py); see that module for why each setting is here.
telemetry:
  enabled: false
{_storage_yaml(storage)}# Ticks of schedules and sensors: skipped ticks are kept a day, the others a week.
retention:
  schedule:
    purge_after_days: {{skipped: 1, failure: 7, success: 7}}
  sensor:
    purge_after_days: {{skipped: 1, failure: 7, success: 7}}
# Runs stuck STARTING or CANCELING are failed by the daemon (`volsignals ui` runs it);
# killed workers are detected by the run_monitor sensor (see fail_orphaned_runs).
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  poll_interval_seconds: 60
"""


#: Events Dagster hands to the storage at once when it emits a batch (the planned and
#: materialized partitions of a range run); Dagster reads it from the environment only.
EVENT_BATCH_SIZE = "2000"


def ensure_home(home: Path) -> Path:
    """Create ``home`` with the volsignals ``dagster.yaml`` (rewritten when it differs), and
    turn on Dagster's batched event writes for this process and the ones it starts
    (``DAGSTER_EVENT_BATCH_SIZE``, unless already set)."""
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    text = instance_yaml(home)
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    if not os.environ.get(POSTGRES_URL_ENV):
        _initialize_sqlite_storage(home)
    return home


def _initialize_sqlite_storage(home: Path) -> None:
    """Create the SQLite run, event and schedule databases of ``home`` once, under a lock.

    Two processes opening a fresh home at once (``volsignals ui`` and ``volsignals run``, or
    two ingests) would otherwise both create the schemas and one of them dies on
    ``UNIQUE constraint failed: alembic_version`` or ``database is locked``; measured: 9 of
    24 processes failed in 12 such races. The marker file is written only after every
    database is complete, so an interrupted initialization is redone by the next process.
    """
    marker = home / "storage" / ".initialized"
    if marker.exists():
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    with open(home / ".init.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if marker.exists():
            return
        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            instance.get_runs(limit=1)  # run storage
            instance.get_asset_keys()  # event log index shard
            instance.all_instigator_state()  # schedule storage
        marker.touch()


def home_size(home: Path) -> int:
    """Bytes on disk under a Dagster home."""
    return sum(f.stat().st_size for f in Path(home).rglob("*") if f.is_file())


def runs_holding_latest(instance: dg.DagsterInstance) -> set[str]:
    """Runs that hold the newest materialization of some asset (or asset partition).

    Deleting such a run would make the UI show that partition as never materialized, so
    :func:`prune_runs` keeps them: the run history is bounded by the data (one newest
    materialization per asset partition), not by how often it was recomputed.
    """
    storage = instance.event_log_storage
    holding: set[str] = set()
    for key in instance.get_asset_keys():
        ids = list(storage.get_latest_storage_id_by_partition(key, dg.DagsterEventType.ASSET_MATERIALIZATION).values())
        if ids:
            for i in range(0, len(ids), 500):
                batch = ids[i : i + 500]
                records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, storage_ids=batch), limit=len(batch))
                holding |= {r.run_id for r in records.records}
        else:  # unpartitioned
            latest = instance.get_latest_materialization_event(key)
            if latest is not None:
                holding.add(latest.run_id)
    return holding


def prune_runs(instance: dg.DagsterInstance, keep: int = KEEP_RUNS) -> int:
    """Delete finished runs beyond the newest ``keep`` that no longer hold the newest
    materialization of any asset partition (their events and compute logs too).

    Returns the number of runs deleted. Dagster's own ``retention`` setting covers only
    schedule and sensor ticks (configured in :func:`instance_yaml`).
    """
    old = instance.get_run_records(filters=dg.RunsFilter(statuses=FINISHED), order_by="create_timestamp", ascending=False)[keep:]
    if not old:
        return 0
    holding = runs_holding_latest(instance)
    old = [r for r in old if r.dagster_run.run_id not in holding]
    for record in old:
        run_id = record.dagster_run.run_id
        instance.delete_run(run_id)
        logs = Path(instance.root_directory) / "storage" / run_id
        if logs.is_dir():  # the compute logs of the run's steps
            shutil.rmtree(logs, ignore_errors=True)
    if old and isinstance(instance.event_log_storage, FastSqliteEventLogStorage):
        instance.event_log_storage.vacuum()
        runs_db = Path(instance.root_directory) / "storage" / "runs.db"
        if runs_db.exists():
            with sqlite3.connect(runs_db) as con:
                con.execute("VACUUM")
    return len(old)


def _worker_pids(instance: dg.DagsterInstance, run_id: str) -> list[int]:
    """The pids Dagster recorded as executing ``run_id`` (run worker / in-process executor)."""
    pids = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = (data.metadata or {}).get("pid") if data else None
        if pid is not None:
            pids.append(int(pid.value if hasattr(pid, "value") else pid))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every STARTED run whose executing process is gone; return their ids.

    Only for a local (SQLite) instance, where every run executed on this machine, so a pid
    that does not exist means the worker was killed. A run with no recorded pid is left alone.
    """
    if not isinstance(instance.event_log_storage, SqliteEventLogStorage):
        return []
    failed = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        run = record.dagster_run
        pids = _worker_pids(instance, run.run_id)
        if pids and not any(_alive(pid) for pid in pids):
            instance.report_run_failed(run, f"the process executing this run (pid {', '.join(map(str, pids))}) no longer exists: it was killed")
            failed.append(run.run_id)
    return failed


def run_monitor_sensor() -> dg.SensorDefinition:
    """Every minute while the daemon runs (``volsignals ui``): fail runs whose process was killed."""

    @dg.sensor(
        name="run_monitor",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Marks a STARTED run failed when the process executing it no longer exists (a killed run).",
    )
    def _run_monitor(context: dg.SensorEvaluationContext):
        failed = fail_orphaned_runs(context.instance)
        return dg.SkipReason(f"marked {len(failed)} killed run(s) failed: {', '.join(failed)}" if failed else "no killed runs")

    return _run_monitor
