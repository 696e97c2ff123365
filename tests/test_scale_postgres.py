"""Dagster on PostgreSQL (``VOLSIGNALS_DAGSTER_PG_URL``, pipelines/instance.py) against a real server.

``.ci/run`` starts the server (scripts/local_postgres.sh) and exports
``VOLSIGNALS_TEST_POSTGRES_URL``; without it these tests skip, with the reason.
"""

from __future__ import annotations

import os

import dagster as dg
import pytest
from scale_support import BATCH, END, START, TABLES, postgres_database, postgres_url

from pipelines.fanout import VIEWS_POOL, fanout_job, run_fanout, run_serial, session_batches, warehouse_fingerprint
from pipelines.warehouse import Warehouse


@pytest.fixture(scope="module")
def pg_instance(tmp_path_factory):
    """A DAGSTER_HOME as the CLI writes it with ``VOLSIGNALS_DAGSTER_PG_URL`` set, on a fresh database."""
    from pipelines.instance import ensure_home

    with postgres_database(postgres_url()) as url:
        previous = os.environ.get("VOLSIGNALS_DAGSTER_PG_URL")
        os.environ["VOLSIGNALS_DAGSTER_PG_URL"] = url  # step processes inherit it
        home = ensure_home(tmp_path_factory.mktemp("dagster_pg_home"))
        try:
            with dg.DagsterInstance.from_config(str(home)) as instance:
                yield instance
        finally:
            if previous is None:
                os.environ.pop("VOLSIGNALS_DAGSTER_PG_URL", None)
            else:
                os.environ["VOLSIGNALS_DAGSTER_PG_URL"] = previous


@pytest.fixture(scope="module")
def backfills(pg_instance, tmp_path_factory):
    """The same sessions backfilled twice on the PostgreSQL instance: fanned out over two
    processes (two partition-range runs at once), and serially in one process."""
    parallel = tmp_path_factory.mktemp("parallel") / "warehouse"
    serial = tmp_path_factory.mktemp("serial") / "warehouse"
    result = run_fanout(START, END, instance=pg_instance, warehouse_root=str(parallel), batch_size=BATCH,
                        chain_size="small", executor="multiprocess", workers=2)
    run_serial(START, END, instance=pg_instance, warehouse_root=str(serial), chain_size="small")
    return result, Warehouse(parallel), Warehouse(serial)


def test_the_shipped_config_keeps_runs_events_and_schedules_in_postgres(pg_instance):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    assert isinstance(pg_instance.run_storage, PostgresRunStorage)
    assert isinstance(pg_instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(pg_instance.schedule_storage, PostgresScheduleStorage)


def test_the_views_step_claims_and_releases_the_one_slot_of_its_pool_on_postgres(pg_instance, backfills):
    config = pg_instance.get_concurrency_config()
    assert config.pool_config.default_pool_limit == 1
    job = fanout_job(session_batches(START, END, BATCH), warehouse_root="unused", chain_size="small")
    assert job.graph.node_named("publish_views").definition.pool == VIEWS_POOL
    # the backfill's views step went through the pool: Dagster allocated its one slot in
    # PostgreSQL when the step claimed it, and the step gave it back when it finished
    info = pg_instance.event_log_storage.get_concurrency_info(VIEWS_POOL)
    assert (info.slot_count, info.claimed_slots, info.pending_steps) == (1, [], [])


def test_two_partition_range_runs_at_once_on_postgres_leave_the_same_warehouse_as_a_serial_run(pg_instance, backfills):
    result, parallel, serial = backfills
    assert result.success
    children = pg_instance.get_run_records(dg.RunsFilter(tags={"volsignals/fanout_parent": result.run_id}))
    assert children and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in children)

    def span(record) -> tuple[str | None, str | None]:
        tags = record.dagster_run.tags
        return tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")

    batches = session_batches(START, END, BATCH)
    batch_runs = [r for r in children if span(r) in batches]
    assert sorted(map(span, batch_runs)) == batches
    # the two batch runs were in flight at the same time
    assert max(r.start_time for r in batch_runs) < min(r.end_time for r in batch_runs)
    assert warehouse_fingerprint(parallel, TABLES) == warehouse_fingerprint(serial, TABLES)
    assert all(rows > 0 for rows, _ in warehouse_fingerprint(serial, TABLES).values())


def test_a_partition_range_run_on_postgres_records_every_session_as_materialized(pg_instance, backfills):
    from pipelines.calendar import sessions_between

    key = dg.AssetKey("option_features")
    materialized = pg_instance.get_materialized_partitions(key)
    assert {d.isoformat() for d in sessions_between(START, END)} <= materialized
