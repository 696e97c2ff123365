"""Specifications of the Adaptive Layered VIX Hedge (features.vix_hedge)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from features.black76 import black76_price
from features.strategy_config import BacktestConfig, FillConfig, HedgeConfig, StrategyConfig
from features.vix_hedge import book_stress_loss, engine_signal, hedge_layers, vxth_weight
from features.vix_options import vix_call_strike, vix_option_vol

N = 70
DAYS = [d.astype(object) for d in np.busday_offset(np.datetime64("2024-01-02"), np.arange(N), roll="forward")]
VX_EXPIRIES = [date(2024, 1, 17), date(2024, 2, 14), date(2024, 3, 20), date(2024, 4, 17), date(2024, 5, 22), date(2024, 6, 18)]
# no engine triggers unless a test asks (no regimes, flattening threshold out of reach)
QUIET = HedgeConfig(engine_regimes_vol=(), engine_regimes_term=(), flattening_threshold=9.0, engine_fraction=0.0,
                    base_fraction=0.5, monetize_vix=1e9, monetize_multiple=3.0, resize_band=0.5, vxth_weight_scale=0.0)
CFG = StrategyConfig(hedge=QUIET, backtest=BacktestConfig(cash_rate=0.0), fill=FillConfig(vix_half_spread=0.05, commission_per_contract=1.0))
PER_CONTRACT = 100 * 0.05 + 1.0


def _features(vix=None, vix3m=None, vvix=None) -> pl.DataFrame:
    vix = np.full(N, 15.0) if vix is None else np.asarray(vix, float)
    return pl.DataFrame({
        "date": DAYS, "available_at": [datetime(d.year, d.month, d.day, 16, 15) for d in DAYS],
        "vix": vix, "vix3m": vix * 1.15 if vix3m is None else np.asarray(vix3m, float),
        "vvix": np.full(N, 90.0) if vvix is None else np.asarray(vvix, float), "vx_cm30": vix + 1.0,
        "in_event_window": [False] * N, "vol_regime": ["calm"] * N, "term_regime": ["contango"] * N,
    })


def _vx(level=None) -> pl.DataFrame:
    level = np.full(N, 17.0) if level is None else np.asarray(level, float)
    rows = [dict(date=d, expiration=e, settle=float(level[i] + 0.5 * k))
            for i, d in enumerate(DAYS) for k, e in enumerate([e for e in VX_EXPIRIES if e > d][:4])]
    return pl.DataFrame(rows)


def _book(stress=None) -> pl.DataFrame:
    return pl.DataFrame({"date": DAYS, "stress_loss": np.full(N, 20_000.0) if stress is None else np.asarray(stress, float)})


def _layer(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.filter(pl.col("layer") == name).sort("date")


def test_base_layer_holds_strike_and_size_between_rolls():
    base = _layer(hedge_layers(_book(), _features(), _vx(), CFG), "base")
    held = base.filter(pl.col("on"))
    assert held.height >= N - 2
    # trades only when opening or rolling (the held contract has < 7 days left)
    trading = base.filter(pl.col("traded") > 0)
    assert set(trading["event"].to_list()) <= {"open", "roll+open"}
    for _, seg in held.group_by("expiry"):
        assert seg["strike"].n_unique() == 1 and seg["contracts"].n_unique() == 1
    assert trading.height == held["expiry"].n_unique()


def test_base_layer_is_sized_on_the_stress_loss_with_an_independent_scenario_price():
    base = _layer(hedge_layers(_book(), _features(), _vx(), CFG), "base")
    first = base.row(0, named=True)
    f, t = 17.5, (date(2024, 2, 14) - DAYS[0]).days / 365.0  # 2nd listed contract: nearest 30 days
    assert first["expiry"] == date(2024, 2, 14)
    k = vix_call_strike(np.array([f]), np.array([t]), np.array([90.0]), 0.0, 0.30)[0]
    beta = QUIET.beta_prior  # fewer than 20 changes: the prior slope
    p0 = black76_price(f, k, t, vix_option_vol(k, f, t, 90.0), 1.0, True)
    f1 = f + beta * 15.0
    p1 = black76_price(f1, k, t, vix_option_vol(k, f1, t, 90.0), 1.0, True)
    assert first["strike"] == k
    assert first["contracts"] == round(0.5 * 20_000 / (100 * (p1 - p0)))
    assert first["pnl"] == pytest.approx(-first["contracts"] * PER_CONTRACT)


def test_base_layer_resizes_only_when_the_stress_loss_leaves_the_band():
    stress = np.full(N, 20_000.0)
    stress[5:10] = 26_000.0  # +30 %: inside the +-50 % band
    stress[10:] = 40_000.0  # +100 %: re-size
    base = _layer(hedge_layers(_book(stress), _features(), _vx(), CFG), "base")
    ev = base["event"].to_list()
    assert all(e in ("hold", "none") for e in ev[1:10])
    assert ev[10] == "resize"
    assert base["strike"][10] == base["strike"][9]
    assert base["contracts"][10] == pytest.approx(2 * base["contracts"][9], rel=0.15)


def test_flat_book_buys_no_base_layer():
    base = _layer(hedge_layers(_book(np.zeros(N)), _features(), _vx(), CFG), "base")
    assert not base["on"].any() and base["traded"].sum() == 0


def test_daily_pnl_is_the_held_position_remarked_minus_costs():
    vx = np.full(N, 17.0)
    vx[3:] = 19.0
    base = _layer(hedge_layers(_book(), _features(), _vx(vx), CFG), "base")
    r2, r3 = base.row(2, named=True), base.row(3, named=True)
    t = (r2["expiry"] - DAYS[3]).days / 365.0
    f = 19.5
    p = black76_price(f, r2["strike"], t, vix_option_vol(r2["strike"], f, t, 90.0), 1.0, True)
    assert r3["pnl"] == pytest.approx(100 * r2["contracts"] * (p - r2["price"]))
    assert r3["price"] == pytest.approx(p)


def test_vxth_weights_follow_the_published_bands():
    h = replace(QUIET, vxth_weight_scale=1.0)
    got = vxth_weight(np.array([14.0, 15.0, 15.5, 30.0, 30.5, 50.0, 50.5, np.nan]), h)
    assert got.tolist() == [0.0, 0.0, 0.01, 0.01, 0.005, 0.005, 0.0, 0.0]


def test_vxth_layer_buys_its_weight_once_per_expiry_and_is_independent_of_the_book():
    cfg = replace(CFG, hedge=replace(QUIET, vxth_weight_scale=1.0, base_fraction=0.0))
    vx = _layer(hedge_layers(_book(np.zeros(N)), _features(), _vx(), cfg), "vxth")
    opens = vx.filter(pl.col("event").str.ends_with("open"))
    assert opens.height == vx.filter(pl.col("on"))["expiry"].n_unique() >= 2
    first = opens.row(0, named=True)
    assert first["contracts"] == np.floor(0.01 * 1_000_000 / (100 * first["price"]))


def test_second_engine_fires_before_the_regime_change_with_no_condor_open():
    vix = np.full(N, 14.0)
    vix[30:] = 14.0 * 1.25  # VIX +25 % ...
    vvix = np.full(N, 85.0)
    vvix[30:] = 100.0  # ... with VVIX +18 %; regimes stay calm
    h = replace(QUIET, engine_fraction=0.5, base_fraction=0.0)
    cfg = replace(CFG, hedge=h)
    eng = _layer(hedge_layers(_book(np.zeros(N)), _features(vix, vvix=vvix), _vx(), cfg), "second_engine")
    on = eng.filter(pl.col("on"))
    assert on["date"].min() == DAYS[30]
    assert "vvix_with_vix" in eng.filter(pl.col("date") == DAYS[30])["why"][0]
    # sized on the equity floor (no book): 2 % of $1M in the stress scenario, half covered
    row = eng.filter(pl.col("date") == DAYS[30]).row(0, named=True)
    assert row["covered_loss"] == pytest.approx(0.5 * 0.02 * 1_000_000, rel=0.1)
    # signal off for engine_off_days sessions (lookback 5: the rise is seen for 5 sessions) -> sold
    closed = eng.filter(pl.col("event") == "close")
    assert closed.height == 1 and closed["date"][0] == DAYS[30 + 5 + h.engine_off_days - 1]


def test_engine_signal_uses_only_past_rows():
    feats = _features(np.linspace(12, 30, N), vvix=np.linspace(80, 120, N))
    full = engine_signal(feats, QUIET)
    part = engine_signal(feats.head(40), QUIET)
    assert full.head(40).equals(part)


def test_monetization_sells_and_stays_out_until_the_next_expiry():
    vx = np.full(N, 17.0)
    vx[8:] = 40.0  # the calls are worth far more than 3x their premium
    base = _layer(hedge_layers(_book(), _features(), _vx(vx), CFG), "base")
    assert base["event"][8] == "monetize"
    sold = base["expiry"][7]
    later = base.filter((pl.col("date") > DAYS[8]) & pl.col("on"))
    assert later.height > 0 and (later["expiry"] > sold).all()  # re-enters only on the next expiry


def test_missing_vx_settlement_marks_stale_and_reuses_the_last_future():
    vx = _vx().filter(~((pl.col("date") == DAYS[4]) & (pl.col("expiration") == date(2024, 2, 14))))
    base = _layer(hedge_layers(_book(), _features(), vx, CFG), "base")
    assert base["stale_mark"].to_list()[3:6] == [False, True, False]
    assert base["forward"][4] == base["forward"][3]


def test_rows_up_to_a_date_do_not_depend_on_later_data():
    rng = np.random.default_rng(3)
    vix = 15 * np.exp(np.cumsum(rng.normal(0, 0.06, N)))
    vvix = 90 * np.exp(np.cumsum(rng.normal(0, 0.04, N)))
    book, feats, vx = _book(rng.uniform(0, 40_000, N)), _features(vix, vvix=vvix), _vx(vix + 1)
    cfg = replace(CFG, hedge=replace(QUIET, vxth_weight_scale=1.0, engine_fraction=0.3, flattening_threshold=0.9))
    full = hedge_layers(book, feats, vx, cfg)
    cut = DAYS[45]
    part = hedge_layers(book.filter(pl.col("date") <= cut), feats.filter(pl.col("date") <= cut), vx.filter(pl.col("date") <= cut), cfg)
    assert full.filter(pl.col("date") <= cut).equals(part)


def test_book_stress_loss_of_a_deep_drop_is_the_condor_max_loss():
    pos = pl.DataFrame({"position_id": [1], "date": [date(2024, 1, 2)], "expiration": [date(2024, 2, 16)], "contracts": [3.0],
                        "underlying": [4000.0], "value_mid": [-2.0], "held": [True]})
    trades = pl.DataFrame({"position_id": [1], "lp_strike": [3700.0], "sp_strike": [3750.0], "sc_strike": [4250.0], "lc_strike": [4300.0]})
    vix = pl.DataFrame({"date": [date(2024, 1, 2)], "vix": [15.0]})
    deep = book_stress_loss(pos, trades, vix, -0.50, 30.0)["stress_loss"][0]
    assert deep == pytest.approx(100 * 3 * (50 - 2.0), rel=0.01)
    mild = book_stress_loss(pos, trades, vix, -0.10, 15.0)["stress_loss"][0]
    assert 0 < mild < deep


def test_a_vvix_revision_published_later_does_not_change_earlier_decisions():
    vix = np.full(N, 14.0)
    vix[30:] = 17.5
    vvix = np.full(N, 85.0)
    vvix[30:] = 100.0
    feats = _features(vix, vvix=vvix)
    # a later revision of session 29 (known only at session 40's close) that would fire the engine a day early
    revised = feats.filter(pl.col("date") == DAYS[29]).with_columns(
        pl.lit(200.0).alias("vvix"), pl.lit(30.0).alias("vix"),
        pl.lit(datetime(DAYS[40].year, DAYS[40].month, DAYS[40].day, 16, 15)).alias("available_at"))
    cfg = replace(CFG, hedge=replace(QUIET, engine_fraction=0.5))
    base = hedge_layers(_book(), feats, _vx(), cfg)
    with_rev = hedge_layers(_book(), pl.concat([feats, revised]), _vx(), cfg)
    cut = pl.col("date") < DAYS[40]
    assert base.filter(cut).equals(with_rev.filter(cut))


def test_a_held_call_worth_under_one_tick_never_resizes_the_layer():
    # as on the real 2006-03-15: the held call is far out of the money (VX fell from 17 to 12),
    # a VVIX print of 15 prices it at ~1e-26, and the book's stress loss leaves the band
    level = np.full(N, 17.0)
    level[15:] = 12.0
    vvix = np.full(N, 90.0)
    vvix[20:23] = 15.0
    stress = np.full(N, 20_000.0)
    stress[21:] = 60_000.0
    base = _layer(hedge_layers(_book(stress), _features(vvix=vvix), _vx(level), CFG), "base")
    assert base["contracts"].max() < 10_000  # before the tick floor: 10**8 contracts
    assert base.filter(pl.col("date").is_in(DAYS[20:23]) & (pl.col("traded") > 0)).height == 0


def test_calls_are_bought_on_monthly_vx_contracts_never_on_weeklies():
    monthly = _vx().with_columns(("VX " + pl.col("expiration").cast(pl.String)).alias("contract"))
    # a weekly future 30 days out every session: nearer the horizon than any monthly
    weekly = pl.DataFrame([dict(date=d, expiration=d + timedelta(days=30), settle=17.2, contract=f"VXW {d + timedelta(days=30)}")
                           for d in DAYS])
    cfg = replace(CFG, hedge=replace(QUIET, vxth_weight_scale=1.0))
    layers = hedge_layers(_book(), _features(), pl.concat([monthly, weekly]), cfg)
    held = layers.filter(pl.col("on"))
    assert held.height and set(held["expiry"].to_list()) <= set(VX_EXPIRIES)
    assert not held["stale_mark"].any()
