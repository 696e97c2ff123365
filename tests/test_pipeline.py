"""The code location end to end: a real Dagster instance materializing a small simulated market."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.calendar import NY, sessions_between
from pipelines.warehouse import TABLES, Warehouse

REPO = Path(__file__).resolve().parents[1]
START, END = date(2024, 1, 2), date(2024, 3, 28)
RAW_TABLES = ["spx_options", "spx_daily", "vix_term_structure", "vx_futures", "breadth_daily", "events"]


def snapshot(store: Warehouse) -> dict[str, pl.DataFrame]:
    """Every table's rows in a canonical order (for equality across runs)."""
    out = {}
    for table in TABLES:
        if table in {"ingest_log", "quarantine"} or not store.files(table):
            continue
        frame = store.read(table)
        out[table] = frame.sort(frame.columns[:6], nulls_last=True)
    return out


@pytest.fixture(scope="module")
def materialized():
    from pipelines.cli import materialize_range

    store = Warehouse()
    store.remove()
    materialize_range(START, END, batch_size=40, progress=False)
    return store


def test_definitions_validate_with_the_dagster_cli():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_raw_table_is_populated_for_every_session(materialized):
    sessions = sessions_between(START, END)
    for table in RAW_TABLES[:-1]:
        col = TABLES[table].date_column
        assert materialized.dates(table) == sessions, table


def test_the_duckdb_views_answer_sql(materialized):
    assert materialized.publish_views()
    con = duckdb.connect(str(materialized.db_path), read_only=True)
    try:
        for table in RAW_TABLES:
            assert con.sql(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table
        sources = con.sql("SELECT DISTINCT source FROM spx_options").fetchall()
        assert sources == [("simulator:seed=7",)]
    finally:
        con.close()


def test_materializing_the_same_range_again_leaves_every_table_identical(materialized):
    from pipelines.cli import materialize_range

    before = snapshot(materialized)
    materialize_range(date(2024, 2, 1), date(2024, 2, 29), batch_size=40, progress=False)
    after = snapshot(materialized)
    assert before.keys() == after.keys()
    for table in before:
        assert before[table].equals(after[table]), table


def test_a_partition_range_run_is_one_run_per_batch(materialized):
    instance = dg.DagsterInstance.get()
    ranged = [
        r for r in instance.get_runs() if r.tags.get("dagster/asset_partition_range_start") == "2024-01-02"
    ]
    assert ranged, "no partition-range run found"


@pytest.mark.parametrize(
    ("when", "expected"),
    [(datetime(2024, 7, 3, 18, 0, tzinfo=NY), "2024-07-03"), (datetime(2024, 7, 4, 18, 0, tzinfo=NY), None)],
)
def test_the_after_close_schedule_requests_the_session_and_skips_holidays(when, expected):
    from pipelines.definitions import defs

    schedule = defs.resolve_schedule_def("after_us_close")
    with dg.build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def()) as ctx:
        result = schedule.evaluate_tick(ctx)
    if expected is None:
        assert not result.run_requests and result.skip_message
    else:
        assert [r.partition_key for r in result.run_requests] == [expected]
