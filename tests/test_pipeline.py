"""The code location end to end: a real Dagster instance materializing a small simulated market."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
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


def test_the_quarantine_table_exists_in_sql_after_a_run_even_when_nothing_was_quarantined(materialized):
    con = duckdb.connect(str(materialized.db_path), read_only=True)
    try:
        columns = [c[0] for c in con.sql("DESCRIBE quarantine").fetchall()]
        assert {"table_name", "quote_date", "source", "reason", "raw"} <= set(columns)
        assert con.sql("SELECT count(*) FROM quarantine").fetchone()[0] == materialized.read("quarantine").height
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


def _rerun_decisions(root) -> pl.DataFrame:
    from pipelines.definitions import all_assets, defs
    from pipelines.resources import StrategyResource, WarehouseResource

    # the small test chains list strikes 100 points apart out at 45 days; the quarter's
    # variance risk premium is negative: loosen those two gates so that condors open
    strategy = StrategyResource(wing_width=100.0, min_vrp_vol=-100.0)
    result = dg.materialize(
        all_assets,
        selection=dg.AssetSelection.assets("condor_decisions").required_multi_asset_neighbors(),
        resources={**defs.resources, "warehouse": WarehouseResource(root=str(root)), "strategy": strategy},
        # recompute every session from the store (a run otherwise continues the stored results)
        run_config={"ops": {"strategy_backtest": {"config": {"rebuild": True}}}},
    )
    assert result.success
    return Warehouse(root).read("condor_decisions")


def _revise_regime(store: Warehouse, day: date, available_at: datetime) -> None:
    """Store a revision of one session's regime: stressed, known only at ``available_at``
    (a revision at the instant of an existing row replaces that row)."""
    regimes = store.read("regimes", day, day)
    at = pl.lit(available_at).dt.convert_time_zone("America/New_York")
    revision = regimes.tail(1).with_columns(
        vol_regime=pl.lit("stressed"),
        regime=pl.lit("stressed/backwardation"),
        available_at=at,
    )
    kept = regimes.filter(pl.col("available_at") != at)
    store.write_partitions("regimes", pl.concat([kept, revision], how="diagonal_relaxed"), "derived", [day])


def test_decisions_read_features_only_as_known_at_their_session(materialized, tmp_path):
    """A feature revised after the decision instant (16:15 on the session) cannot change that
    session's decision (Feast #6615), even when it is published the same evening."""
    import shutil

    copy = tmp_path / "warehouse"
    shutil.copytree(materialized.root, copy)
    store = Warehouse(copy)
    decisions = _rerun_decisions(copy)
    entered = decisions.filter(pl.col("action") == "enter")["date"]
    assert entered.len() > 0, "the simulated quarter produced no entry to test with"
    day = entered[0]
    close = datetime(day.year, day.month, day.day, 16, 15, tzinfo=NY)
    _revise_regime(store, day, close + timedelta(days=7))
    assert _rerun_decisions(copy).filter(pl.col("date") == day)["action"].to_list() == ["enter"]
    # published the same evening, 15 minutes after the decision instant: still not seen
    _revise_regime(store, day, close + timedelta(minutes=15))
    assert _rerun_decisions(copy).filter(pl.col("date") == day)["action"].to_list() == ["enter"]
    # the same revision known at the decision instant does change it: the store is consulted
    _revise_regime(store, day, close)
    assert _rerun_decisions(copy).filter(pl.col("date") == day)["action"].to_list() == ["skip"]


def test_the_decisions_schedule_runs_after_the_daily_job_on_sessions_only():
    from pipelines.definitions import defs

    schedule = defs.resolve_schedule_def("after_us_close_decisions")
    repo = defs.get_repository_def()
    with dg.build_schedule_context(scheduled_execution_time=datetime(2024, 7, 3, 19, 0, tzinfo=NY), repository_def=repo) as ctx:
        assert len(schedule.evaluate_tick(ctx).run_requests) == 1
    with dg.build_schedule_context(scheduled_execution_time=datetime(2024, 7, 4, 19, 0, tzinfo=NY), repository_def=repo) as ctx:
        assert not schedule.evaluate_tick(ctx).run_requests


def test_the_hedge_frontier_holds_every_configuration_and_its_chart(materialized):
    from features.hedge_sweep import sweep_grid

    frame = materialized.read("hedge_frontier")
    assert frame.height == len(sweep_grid())
    assert frame["config_id"].n_unique() == frame.height
    # the run's sessions (2024) are all out of sample: no in-sample choice is made
    assert not frame["chosen"].any() and "oos_dd_ratio" in frame.columns
    event = dg.DagsterInstance.get().get_latest_materialization_event(dg.AssetKey("hedge_frontier"))
    metadata = event.asset_materialization.metadata
    assert "data:image/png;base64" in metadata["frontier"].value


def _backtest_tables(root) -> dict[str, pl.DataFrame]:
    store = Warehouse(root)
    keys = {"condor_decisions": ["date"], "condor_positions": ["date", "position_id"], "condor_trades": ["strategy", "position_id"],
            "hedge_layers": ["date", "layer"], "backtest_daily": ["strategy", "date"], "backtest_summary": ["strategy"]}
    return {t: store.read(t).sort(k) for t, k in keys.items()}


def _run_backtest_step(root, rebuild: bool = False) -> None:
    from pipelines.definitions import all_assets, defs
    from pipelines.resources import StrategyResource, WarehouseResource

    result = dg.materialize(
        all_assets,
        selection=dg.AssetSelection.assets("condor_decisions").required_multi_asset_neighbors(),
        resources={**defs.resources, "warehouse": WarehouseResource(root=str(root)),
                   "strategy": StrategyResource(wing_width=100.0, min_vrp_vol=-100.0)},
        run_config={"ops": {"strategy_backtest": {"config": {"rebuild": rebuild}}}},
    )
    assert result.success


def test_a_backtest_continued_session_by_session_equals_a_full_rebuild(materialized, tmp_path):
    """The scheduled run computes only the sessions it has not seen, from the state stored by
    the previous run; the result equals recomputing the whole history."""
    import shutil

    copy = tmp_path / "warehouse"
    shutil.copytree(materialized.root, copy)
    _run_backtest_step(copy, rebuild=True)
    rebuilt = _backtest_tables(copy)
    # the history as the daily schedule would have seen it: first up to a cut, then two more sessions
    # (sessions are hidden in the store's manifest: the store reads only the files it lists)
    sessions = sessions_between(START, END)
    manifest = copy / "manifest.json"

    def option_partitions(change) -> None:
        state = json.loads(manifest.read_text())
        change(state["tables"]["option_features"])
        manifest.write_text(json.dumps(state))

    hidden = {}
    option_partitions(lambda parts: hidden.update({f"date={d}": parts.pop(f"date={d}") for d in sessions[-5:]}))
    _run_backtest_step(copy, rebuild=True)
    for d in sessions[-5:]:
        option_partitions(lambda parts, key=f"date={d}": parts.update({key: hidden[key]}))
        _run_backtest_step(copy)
    continued = _backtest_tables(copy)
    for table, frame in rebuilt.items():
        assert frame.equals(continued[table]), table
    # nothing new: a run leaves every stored file as it was
    before = sorted(p.name for p in (copy / "data").rglob("*.parquet"))
    _run_backtest_step(copy)
    assert sorted(p.name for p in (copy / "data").rglob("*.parquet")) == before


def test_the_frontier_report_sweeps_the_stored_book_and_reproduces_the_asset(materialized, capsys):
    sys.path.insert(0, str(REPO))
    from features.hedge_sweep import sweep_grid
    from scripts.hedge_frontier_report import main

    assert main(["--warehouse", str(materialized.root)]) == 0
    out = capsys.readouterr().out
    assert f"equal to the stored hedge_frontier table ({len(sweep_grid())} configurations): yes" in out
    assert "no configuration is chosen" in out  # 2024 is all out of sample
