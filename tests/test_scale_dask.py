"""Fan-out and sweeps on Dask distributed, with real worker processes (LocalCluster)."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scale_support import BATCH, END, REPO, START, TABLES, sqlite_instance

from features.strategy_config import StrategyConfig
from pipelines.distributed import StoreBacktestInputs, BacktestInputs, backtest_summary, map_in_process, map_on_dask
from pipelines.fanout import run_fanout, run_serial, warehouse_fingerprint
from pipelines.warehouse import Warehouse


@pytest.fixture(scope="module")
def scheduler():
    """A Dask cluster of two single-threaded worker processes, shared by this module's tests
    (they reach it by address, as they would a real cluster)."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def dask_backfill(tmp_path_factory, scheduler):
    """Eight sessions fanned out as two batch steps on the Dask cluster, and the same
    sessions backfilled serially, both recorded on one SQLite instance."""
    base = tmp_path_factory.mktemp("dask_fanout")
    with sqlite_instance(base / "dagster_home") as instance:
        result = run_fanout(START, END, instance=instance, warehouse_root=str(base / "parallel"), batch_size=BATCH,
                            chain_size="small", executor="dask", dask_address=scheduler)
        run_serial(START, END, instance=instance, warehouse_root=str(base / "serial"), chain_size="small")
        steps = {e.step_key for e in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)}
    return result, steps, Warehouse(base / "parallel"), Warehouse(base / "serial")


def test_a_backfill_fanned_out_on_dask_leaves_the_same_warehouse_as_a_serial_run(dask_backfill):
    result, steps, parallel, serial = dask_backfill
    assert result.success
    assert steps == {"sessions_20240102_20240105", "sessions_20240108_20240111", "history", "publish_views"}
    expected = warehouse_fingerprint(serial, TABLES)
    assert all(rows > 0 for rows, _ in expected.values())
    assert warehouse_fingerprint(parallel, TABLES) == expected


def _small_market() -> BacktestInputs:
    """The 70-session Black-76 market of the backtest specification (tests/features/test_backtest.py)."""
    spec = importlib.util.spec_from_file_location("backtest_spec", REPO / "tests" / "features" / "test_backtest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mk = module._market()
    return BacktestInputs(mk["option_features"], mk["market"], mk["spx_daily"], mk["vx_futures"])


def _configs() -> list[StrategyConfig]:
    base = StrategyConfig()
    return [
        replace(base, condor=replace(base.condor, short_delta=delta, wing_width=wing))
        for delta, wing in [(0.10, 50.0), (0.16, 50.0), (0.16, 100.0), (0.25, 75.0)]
    ]


def _as_frame(results: list[dict]) -> pl.DataFrame:
    return pl.DataFrame([{"config": i, **row} for i, by_strategy in enumerate(results) for row in by_strategy.values()])


def test_a_sweep_on_dask_equals_the_in_process_sweep(scheduler):
    inputs, configs = _small_market(), _configs()
    local = _as_frame(map_in_process(backtest_summary, configs, inputs))
    distributed = _as_frame(map_on_dask(backtest_summary, configs, inputs, address=scheduler))
    assert_frame_equal(distributed, local, check_exact=True)
    # the configurations really differ, so equality is not that of one repeated answer
    assert local.filter(pl.col("strategy") == "unhedged").select(pl.exclude("config")).n_unique() > 1


def test_the_hedge_frontier_sweep_on_dask_equals_the_in_process_sweep(scheduler):
    from datetime import date

    from features.hedge_sweep import build_sweep_inputs, run_sweep, sweep_grid

    mk = _small_market()
    periods = {"is": (date(2024, 1, 1), date(2024, 2, 20)), "oos": (date(2024, 2, 21), date(2024, 12, 31))}
    inputs = build_sweep_inputs(mk.option_features, mk.features_asof, mk.spx_daily, mk.vx_futures, StrategyConfig(),
                                periods=periods, crises={})
    configs = sweep_grid()[::20]
    local = run_sweep(configs, inputs)
    distributed = run_sweep(configs, inputs, lambda fn, cs, shared: map_on_dask(fn, cs, shared, address=scheduler))
    assert_frame_equal(distributed, local, check_exact=True)
    assert local.select(pl.exclude("config_id", "config")).n_unique() > 1  # the configurations differ


def test_sweep_tasks_read_the_shared_feature_store(dask_backfill, scheduler):
    _, _, _, serial = dask_backfill
    configs = _configs()[:2]
    inputs = StoreBacktestInputs(str(serial.root))
    local = _as_frame(map_in_process(backtest_summary, configs, inputs))
    assert_frame_equal(_as_frame(map_on_dask(backtest_summary, configs, inputs, address=scheduler)), local, check_exact=True)
    assert set(local["strategy"]) == {"unhedged", "alvh_hedged", "cndr_benchmark"}


def test_batches_cover_every_session_once_in_order_and_skip_holidays():
    from datetime import date

    from pipelines.calendar import sessions_between
    from pipelines.fanout import session_batches

    batches = session_batches(date(2024, 12, 20), date(2025, 1, 10), 4)
    covered = [d for first, last in batches for d in sessions_between(date.fromisoformat(first), date.fromisoformat(last))]
    assert covered == sessions_between(date(2024, 12, 20), date(2025, 1, 10))
    assert "2024-12-25" not in {d for b in batches for d in b}  # Christmas is no session
    with pytest.raises(ValueError, match="no NYSE sessions"):
        session_batches(date(2024, 12, 25), date(2024, 12, 25), 4)
