"""Specifications of the Adaptive Layered VIX Hedge (features.vix_hedge)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from features.black76 import black76_greeks, black76_price
from features.strategy_config import BacktestConfig, HedgeConfig, StrategyConfig
from features.vix_hedge import hedge_layers, vix_call_strike, vx_vix_beta

D0 = date(2024, 3, 4)  # Monday
DAYS = [D0, D0 + timedelta(days=1), D0 + timedelta(days=2)]
CFG = StrategyConfig(
    hedge=HedgeConfig(beta_prior=0.6, horizon_days=30.0, restrike_weekly=False, vvix_vol_scale=1.0),
    backtest=BacktestConfig(cash_rate=0.0),
)


def _features(ratio=(0.90, 1.00, 0.90), vol_regime=("calm", "calm", "stressed"), event=(False, False, False)):
    return pl.DataFrame({
        "date": DAYS, "available_at": [datetime(d.year, d.month, d.day, 16, 15) for d in DAYS],
        "vix": [15.0, 15.0, 15.0], "vix3m": [15.0 / r for r in ratio], "vvix": [80.0, 80.0, 80.0],
        "in_event_window": list(event), "vol_regime": list(vol_regime), "term_regime": ["contango"] * 3,
    })


def _vx() -> pl.DataFrame:
    rows = []
    for d in DAYS:
        rows.append(dict(date=d, expiration=D0 + timedelta(days=12), settle=16.0))
        rows.append(dict(date=d, expiration=D0 + timedelta(days=44), settle=17.0))
    return pl.DataFrame(rows)


def _book(vegas=(-1000.0, -1000.0, 0.0)) -> pl.DataFrame:
    return pl.DataFrame({"date": DAYS, "net_vega": list(vegas)})


def _layers(**kw) -> pl.DataFrame:
    return hedge_layers(_book(), _features(**kw), _vx(), CFG)


def test_strike_has_the_target_black76_delta_within_the_half_point_grid():
    f, t, v = np.array([20.0]), np.array([30 / 365]), np.array([0.8])
    k = vix_call_strike(f, t, v, np.array([1.0]), 0.30)[0]
    lo = black76_greeks(20.0, k - 0.25, 30 / 365, 0.8, 1.0, True)["delta"]
    hi = black76_greeks(20.0, k + 0.25, 30 / 365, 0.8, 1.0, True)["delta"]
    assert hi <= 0.30 <= lo
    assert k * 2 == int(k * 2)


def test_beta_is_trailing_ols_slope_of_vx_changes_on_vix_changes():
    rng = np.random.default_rng(3)
    vix = 15 + np.cumsum(rng.normal(0, 1, 80))
    vx = 16 + np.cumsum(0.6 * np.diff(np.r_[15, vix]) + rng.normal(0, 0.3, 80))
    f = pl.DataFrame({"date": [D0 + timedelta(days=i) for i in range(80)], "vix": vix, "vx_cm30": vx})
    b = vx_vix_beta(f, window=30, prior=0.6, floor=-10, cap=10)
    dx, dy = np.diff(vix), np.diff(vx)
    expected = np.polyfit(dx[-30:], dy[-30:], 1)[0]
    assert b["beta"][-1] == pytest.approx(expected, rel=1e-9)
    assert b["beta"][5] == 0.6  # fewer than 20 changes: prior


def test_beta_ignores_later_rows():
    rng = np.random.default_rng(4)
    f = pl.DataFrame({"date": [D0 + timedelta(days=i) for i in range(60)], "vix": 15 + rng.normal(0, 1, 60).cumsum(),
                      "vx_cm30": 16 + rng.normal(0, 1, 60).cumsum()})
    full = vx_vix_beta(f, 30, 0.6, -10, 10)
    part = vx_vix_beta(f.head(40), 30, 0.6, -10, 10)
    assert part["beta"].to_list() == full["beta"].head(40).to_list()


def test_base_layer_on_only_while_a_condor_is_open():
    base = _layers().filter(pl.col("layer") == "base")
    assert base["on"].to_list() == [True, True, False]
    assert base["contracts"][2] == 0


def test_flattening_layer_ramps_with_vix_over_vix3m():
    flat = _layers().filter(pl.col("layer") == "flattening")
    assert flat["on"].to_list() == [False, True, False]
    assert flat["scale"][1] == pytest.approx(0.5)  # (1.00 - 0.95) / 0.10


def test_flattening_layer_full_inside_event_window():
    flat = _layers(ratio=(0.9, 0.9, 0.9), event=(True, False, False)).filter(pl.col("layer") == "flattening")
    assert flat["on"][0] and flat["scale"][0] == 1.0


def test_second_engine_on_in_stressed_regime_using_recent_book_vega():
    eng = _layers().filter(pl.col("layer") == "second_engine")
    assert eng["on"].to_list() == [False, False, True]
    assert eng["target_vix_dollars"][2] == pytest.approx(0.5 * 1000.0)  # trailing max short vega


def test_instrument_is_black76_call_on_the_vx_future_nearest_the_horizon():
    row = _layers().filter(pl.col("layer") == "base").row(0, named=True)
    assert row["expiry"] == D0 + timedelta(days=44)  # 44 days is nearer 30 than 12 is
    assert row["forward"] == 17.0  # the future, not spot VIX (15)
    t = 44 / 365
    assert row["price"] == pytest.approx(float(black76_price(17.0, row["strike"], t, 0.8, 1.0, True)))
    delta = float(black76_greeks(17.0, row["strike"], t, 0.8, 1.0, True)["delta"])
    # n = 0.25 x 1000 $/vol pt x 1 / (100 x delta x beta 0.6)
    assert row["contracts"] == round(0.25 * 1000.0 / (100 * delta * 0.6))


def test_second_engine_is_a_call_spread_priced_as_difference_of_calls():
    row = _layers().filter(pl.col("layer") == "second_engine").row(2, named=True)
    assert row["short_strike"] > row["strike"]
    t = 42 / 365
    expected = black76_price(17.0, row["strike"], t, 0.8, 1.0, True) - black76_price(17.0, row["short_strike"], t, 0.8, 1.0, True)
    assert row["price"] == pytest.approx(float(expected))


def test_strike_is_held_while_the_segment_lasts():
    vx = _vx().with_columns(pl.when(pl.col("date") == DAYS[1]).then(pl.col("settle") + 3).otherwise(pl.col("settle")).alias("settle"))
    base = hedge_layers(_book((-1000.0, -1000.0, -1000.0)), _features(), vx, CFG).filter(pl.col("layer") == "base")
    assert base["strike"].n_unique() == 1
    assert base["forward"][1] == 20.0
