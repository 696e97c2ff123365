"""The `amm_comparison` asset in a real Dagster instance, on a small simulated market."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.warehouse import Warehouse

START, END = date(2024, 1, 2), date(2024, 2, 29)


@pytest.fixture(scope="module")
def store():
    """Materialize two simulated months (small chains) through `volsignals run`'s path, then the
    decisions and the AMM comparison again with two gates loosened so condors open on the
    small chains (strikes 100 points apart at 45 days; the quarter's VRP is negative)."""
    from pipelines.cli import materialize_range
    from pipelines.definitions import all_assets, defs
    from pipelines.resources import StrategyResource

    warehouse = Warehouse()
    warehouse.remove()
    materialize_range(START, END, batch_size=60, progress=False)
    result = dg.materialize(
        all_assets,
        selection=dg.AssetSelection.assets("condor_decisions", "amm_comparison").required_multi_asset_neighbors(),
        resources={**defs.resources, "strategy": StrategyResource(wing_width=100.0, min_vrp_vol=-100.0)},
        instance=dg.DagsterInstance.get(),
    )
    assert result.success
    checks = [e for e in result.get_asset_check_evaluations() if e.asset_key.to_user_string().startswith("amm_")]
    assert len(checks) == 2 and all(c.passed for c in checks)
    return warehouse


def test_the_asset_writes_one_row_per_backtest_session_with_the_pool_on_its_closed_form(store):
    daily = store.read("amm_comparison").sort("date")
    sessions = store.read("backtest_daily").select("date").unique().sort("date")
    assert daily["date"].to_list() == sessions["date"].to_list()
    s = daily["price"]
    k = (daily["pool_value"][0] / 2) ** 2 / s[0]
    assert daily["pool_value"].to_list() == pytest.approx((2 * (k * s).sqrt()).to_list(), rel=1e-12)
    assert daily["condor_positions_open"].sum() > 0, "no condor was held: nothing to compare"


def test_the_condor_columns_are_the_backtests_unhedged_attribution(store):
    daily = store.read("amm_comparison")
    un = store.read("backtest_daily").filter(pl.col("strategy") == "unhedged")
    both = daily.join(un, on="date")
    assert both["condor_gamma_pnl"].to_list() == pytest.approx(both["attr_gamma"].to_list())
    assert both["condor_theta_pnl"].to_list() == pytest.approx(both["attr_theta"].to_list())


def test_the_summary_is_queryable_in_sql_and_the_ui_shows_both_charts(store):
    assert store.publish_views()
    con = duckdb.connect(str(store.db_path), read_only=True)
    try:
        rate, theory = con.sql(
            "SELECT max(value) FILTER (metric = 'pool_lvr_rate'), max(value) FILTER (metric = 'pool_lvr_rate_theory') FROM amm_summary"
        ).fetchone()
        n = con.sql("SELECT count(*) FROM amm_comparison").fetchone()[0]
    finally:
        con.close()
    assert n > 30
    assert rate == pytest.approx(theory, rel=0.15)  # daily LVR against sigma^2/8 of the same closes
    event = dg.DagsterInstance.get().get_latest_materialization_event(dg.AssetKey("amm_comparison"))
    md = event.asset_materialization.metadata
    for chart in ("payoffs", "cumulative_lvr_vs_gamma"):
        assert md[chart].value.startswith("![chart](data:image/png;base64,")
