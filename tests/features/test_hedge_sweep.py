"""Specifications of the hedge sweep (features.hedge_sweep)."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from features.backtest import run_backtest
from features.hedge_sweep import build_sweep_inputs, choose_default, evaluate_config, meets_goal, run_sweep, sweep_grid
from features.strategy_config import HedgeConfig, StrategyConfig

sys.path.insert(0, str(Path(__file__).parent))
from test_backtest import _market  # noqa: E402  (the small Black-76 market with a sell-off)

PERIODS = {"is": (date(2024, 1, 1), date(2024, 2, 20)), "oos": (date(2024, 2, 21), date(2024, 12, 31))}
CRISES = {"selloff": (date(2024, 3, 5), date(2024, 3, 15)), "none": (date(2030, 1, 1), date(2030, 1, 2))}


@pytest.fixture(scope="module")
def mk():
    return _market()


@pytest.fixture(scope="module")
def inputs(mk):
    return build_sweep_inputs(mk["option_features"], mk["market"], mk["spx_daily"], mk["vx_futures"], StrategyConfig(),
                              periods=PERIODS, crises=CRISES)


def test_evaluate_config_reproduces_the_backtest_of_the_same_configuration(mk, inputs):
    h = HedgeConfig(base_fraction=0.5, vxth_weight_scale=1.0, engine_fraction=0.25)
    cfg = replace(StrategyConfig(), hedge=h)
    bt = run_backtest(mk["option_features"], mk["market"], mk["spx_daily"], mk["vx_futures"], cfg, strategies=("unhedged", "alvh_hedged"))
    whole = {"all": (date(2024, 1, 1), date(2024, 12, 31))}
    got = evaluate_config(h, replace(inputs, periods=whole))
    s = {r["strategy"]: r for r in bt.summary.iter_rows(named=True)}
    assert got["all_max_drawdown"] == pytest.approx(s["alvh_hedged"]["max_drawdown"], rel=1e-9)
    assert got["all_unhedged_max_drawdown"] == pytest.approx(s["unhedged"]["max_drawdown"], rel=1e-9)
    hedge = bt.daily.filter(pl.col("strategy") == "alvh_hedged")["hedge_pnl"].sum()
    assert got["all_hedge_cost_pct_yr"] == pytest.approx(-hedge / got["all_years"] / 1e6)


def test_all_layers_off_is_the_unhedged_book(inputs):
    r = evaluate_config({"base_fraction": 0.0, "vxth_weight_scale": 0.0, "engine_fraction": 0.0}, inputs)
    assert r["oos_dd_ratio"] == 1.0 and r["oos_hedge_cost_pct_yr"] == 0.0 and r["oos_premium_pct_yr"] == 0.0
    assert r["crisis_selloff_hedged"] == r["crisis_selloff_unhedged"]
    assert np.isnan(r["crisis_none_hedged"])


def test_unknown_setting_is_a_clear_error(inputs):
    with pytest.raises(ValueError, match="unknown hedge settings"):
        evaluate_config({"base_fractoin": 0.5}, inputs)


def test_grid_covers_layers_sizes_triggers_and_holding_rules():
    g = sweep_grid()
    assert {"base_fraction": 0.0, "vxth_weight_scale": 0.0, "engine_fraction": 0.0, "monetize_multiple": 3.0, "resize_band": 0.25} in g
    for key in ("base_fraction", "vxth_weight_scale", "engine_fraction", "monetize_multiple", "resize_band"):
        assert len({c[key] for c in g}) >= 2


def test_selection_uses_only_the_in_sample_columns(inputs):
    res = run_sweep(sweep_grid((0.0, 0.5), (0.0, 1.0), (0.0, 0.5), (3.0,), (0.5,)), inputs)
    chosen = choose_default(res, max_cost=1.0)
    oos = [c for c in res.columns if c.startswith("oos_") or c.startswith("crisis_")]
    rng = np.random.default_rng(0)
    scrambled = res.with_columns([pl.Series(c, rng.permutation(res[c].to_numpy())) for c in oos if res.schema[c] == pl.Float64])
    assert choose_default(scrambled, max_cost=1.0)["config_id"] == chosen["config_id"]
    cheap = res.filter((pl.col("is_premium_pct_yr") > 0) & (pl.col("is_hedge_cost_pct_yr") <= 1.0))
    assert chosen["is_dd_ratio"] == cheap["is_dd_ratio"].min()


def test_goal_is_read_on_the_out_of_sample_columns():
    row = {"oos_dd_ratio": 0.55, "oos_hedge_cost_pct_yr": 0.014, "is_dd_ratio": 0.9, "is_hedge_cost_pct_yr": 0.05}
    assert meets_goal(row) and not meets_goal(row, "is")
    assert not meets_goal({**row, "oos_hedge_cost_pct_yr": 0.016})
