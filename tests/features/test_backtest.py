"""Specifications of the backtest accounting and metrics (features.backtest)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from features.backtest import equity_with_interest, run_backtest
from features.black76 import black76_greeks
from features.strategy_config import FillConfig, HedgeConfig, StrategyConfig

START = date(2024, 1, 2)


def _market(n_days: int = 70, seed: int = 11) -> dict[str, pl.DataFrame]:
    """A small Black-76 market: GBM index with a sell-off, Fridays 5-75 days out, 25-point strikes."""
    rng = np.random.default_rng(seed)
    days = np.busday_offset(np.datetime64(START), np.arange(n_days), roll="forward").astype("datetime64[D]")
    vol = np.where(np.arange(n_days) < 45, 0.15, 0.35)
    ret = vol / np.sqrt(252) * rng.standard_normal(n_days)
    ret[45] = -0.06
    s = 4000 * np.exp(np.cumsum(ret))
    fridays = np.arange(np.datetime64("2024-01-05"), days[-1] + np.timedelta64(90, "D"), np.timedelta64(7, "D"))
    di, ei = np.meshgrid(np.arange(n_days), np.arange(fridays.size), indexing="ij")
    dte = (fridays[ei] - days[di]).astype(float)
    ok = (dte >= 5) & (dte <= 75)
    di, ei, dte = di[ok], ei[ok], dte[ok]
    strikes = np.arange(3000.0, 5000.0, 25.0)
    d = np.repeat(di, strikes.size)
    e = np.repeat(ei, strikes.size)
    t = np.repeat(dte, strikes.size) / 365
    k = np.tile(strikes, di.size)
    f = s[d]
    iv = vol[d] * (1 - 0.1 * np.log(k / f) / np.sqrt(t) / vol[d]).clip(0.5, 2.0)
    third = np.array([15 <= int(str(x)[8:10]) <= 21 for x in fridays])
    frames = []
    for call in (True, False):
        g = black76_greeks(f, k, t, iv, 1.0, np.full(k.size, call))
        mid = g["price"]
        half = np.maximum(0.05, 0.02 * mid)
        frames.append(pl.DataFrame({
            "quote_date": days[d], "root": np.where(third[e], "SPX", "SPXW"), "expiration": fridays[e],
            "settlement": np.where(third[e], "AM", "PM"), "strike": k, "option_type": "C" if call else "P",
            "bid": mid - half, "ask": mid + half, "mid": mid, "underlying_price": f, "forward": f, "discount_factor": 1.0,
            "years_to_expiry": t, "days_to_expiry": t * 365, "iv": iv, "delta": g["delta"], "gamma": g["gamma"],
            "vega": g["vega"], "theta": g["theta"],
        }))
    chain = pl.concat(frames).filter(pl.col("mid") > 0.1)
    vix = 100 * vol * 1.1
    stressed = np.arange(n_days) >= 45
    market = pl.DataFrame({
        "date": days, "available_at": [datetime.fromisoformat(str(x)) + timedelta(hours=16, minutes=15) for x in days],
        "vix": vix, "vix3m": np.where(stressed, vix * 0.9, vix * 1.1), "vvix": 90.0, "vx_cm30": vix * 0.95 + rng.normal(0, 0.2, n_days),
        "vrp_vol": 3.0, "rsi_14": 50.0, "macd_hist": 0.0, "in_event_window": (np.arange(n_days) % 20) == 3,
        "vol_regime": np.where(stressed, "stressed", "calm"), "term_regime": np.where(stressed, "backwardation", "contango"),
    })
    vx_exp = fridays[third] - np.timedelta64(2, "D")
    vdi, vei = np.meshgrid(np.arange(n_days), np.arange(vx_exp.size), indexing="ij")
    keep = vx_exp[vei] > days[vdi]
    vx = pl.DataFrame({"date": days[vdi[keep]], "expiration": vx_exp[vei[keep]], "settle": vix[vdi[keep]] + 1.0})
    spx = pl.DataFrame({"date": days, "open": s * 0.999, "close": s})
    return {"option_features": chain, "market": market, "vx_futures": vx, "spx_daily": spx}


@pytest.fixture(scope="module")
def result():
    mk = _market()
    # every layer on (the chosen default runs only a small VXTH layer)
    hedge = HedgeConfig(base_fraction=0.25, engine_fraction=0.25, vxth_weight_scale=0.1, monetize_multiple=3.0)
    cfg = StrategyConfig(fill=FillConfig(model="spread_fraction", commission_per_contract=1.0), hedge=hedge)
    return run_backtest(mk["option_features"], mk["market"], mk["spx_daily"], mk["vx_futures"], cfg)


def test_equity_with_interest_equals_daily_recursion():
    dates = np.array(["2024-01-02", "2024-01-03", "2024-01-08", "2024-01-09"], dtype="datetime64[D]")
    x = np.array([100.0, -50.0, 20.0, 0.0])
    eq, interest = equity_with_interest(dates, x, 1000.0, 0.05)
    e, expected = 1000.0, []
    for dd, xi in zip([0, 1, 5, 1], x):
        e = e * (1 + 0.05 * dd / 365) + xi
        expected.append(e)
    assert eq.tolist() == pytest.approx(expected, rel=1e-13)
    assert (np.diff(np.r_[1000.0, eq]) - x).tolist() == pytest.approx(interest.tolist())


def test_summed_daily_pnl_equals_equity_change(result):
    for name in ("unhedged", "alvh_hedged", "cndr_benchmark"):
        d = result.daily.filter(pl.col("strategy") == name)
        assert d["pnl"].sum() == pytest.approx(d["equity"][-1] - 1_000_000.0, abs=1e-6)


def test_condor_plus_hedge_plus_interest_equals_total(result):
    d = result.daily
    assert (d["condor_pnl"] + d["hedge_pnl"] + d["interest"]).to_list() == pytest.approx(d["pnl"].to_list())
    layers = d["hedge_pnl_base"] + d["hedge_pnl_vxth"] + d["hedge_pnl_second_engine"]
    assert layers.to_list() == pytest.approx(d["hedge_pnl"].to_list())


def test_greek_attribution_plus_residual_equals_total(result):
    d = result.daily
    total = d.select(pl.sum_horizontal("attr_delta", "attr_gamma", "attr_theta", "attr_vega", "attr_carry", "attr_residual"))
    assert total.to_series().to_list() == pytest.approx(d["pnl"].to_list())


def test_greeks_explain_most_of_the_condor_mark_to_market(result):
    d = result.daily.filter(pl.col("strategy") == "unhedged")
    greeks = d.select(pl.sum_horizontal("attr_delta", "attr_gamma", "attr_theta", "attr_vega")).to_series()
    moved = (d["condor_pnl"].abs() > 100).to_numpy()
    assert moved.sum() > 5
    resid = np.abs(d["condor_pnl"].to_numpy() - greeks.to_numpy())[moved]
    assert np.median(resid / np.abs(d["condor_pnl"].to_numpy()[moved])) < 0.25


def test_each_trade_pnl_equals_its_cash_flows(result):
    t = result.trades.filter((pl.col("strategy") == "unhedged") & (pl.col("exit_reason") != "open"))
    assert t.height > 0
    assert t["pnl"].to_list() == pytest.approx(t["cash_total"].to_list())


def test_hedged_strategy_holds_the_second_engine_in_the_sell_off(result):
    h = result.hedges.filter((pl.col("layer") == "second_engine") & pl.col("on"))
    assert h.height > 0 and h["date"].min() >= date(2024, 3, 5)


def test_crossing_the_spread_never_beats_mid_fills():
    mk = _market()
    out = {}
    for model in ("mid", "spread_fraction", "natural"):
        cfg = StrategyConfig(fill=FillConfig(model=model, commission_per_contract=0.0))
        r = run_backtest(mk["option_features"], mk["market"], mk["spx_daily"], mk["vx_futures"], cfg, strategies=("unhedged",))
        out[model] = r.summary["final_equity"][0]
    assert out["natural"] < out["spread_fraction"] < out["mid"]


def test_daily_results_up_to_a_date_do_not_depend_on_later_data():
    mk = _market()
    cut = mk["market"]["date"][50]
    cfg = StrategyConfig()
    full = run_backtest(mk["option_features"], mk["market"], mk["spx_daily"], mk["vx_futures"], cfg)
    part = run_backtest(
        mk["option_features"].filter(pl.col("quote_date") <= cut), mk["market"].filter(pl.col("date") <= cut),
        mk["spx_daily"].filter(pl.col("date") <= cut), mk["vx_futures"].filter(pl.col("date") <= cut), cfg,
    )
    cols = ["strategy", "date", "pnl", "equity", "condor_pnl", "hedge_pnl"]
    a = full.daily.filter(pl.col("date") <= cut).select(cols).sort("strategy", "date")
    b = part.daily.select(cols).sort("strategy", "date")
    assert a.equals(b)


def test_accounting_reconciles_with_breach_rolls():
    from features.strategy_config import ManagementConfig

    mk = _market()
    cfg = StrategyConfig(management=ManagementConfig(breach_action="roll"))
    r = run_backtest(mk["option_features"], mk["market"], mk["spx_daily"], mk["vx_futures"], cfg, strategies=("unhedged",))
    assert (r.trades["exit_reason"] == "breach_roll").any()
    d = r.daily
    assert d["pnl"].sum() == pytest.approx(d["equity"][-1] - 1_000_000.0, abs=1e-6)
    closed = r.trades.filter(pl.col("exit_reason") != "open")
    assert closed["pnl"].to_list() == pytest.approx(closed["cash_total"].to_list())


def test_hedged_strategy_reports_its_own_trades_and_hedge_statistics(result):
    s = {r["strategy"]: r for r in result.summary.iter_rows(named=True)}
    hedged, unhedged = s["alvh_hedged"], s["unhedged"]
    assert hedged["condor_n_trades"] == unhedged["n_trades"]
    assert hedged["n_trades"] > hedged["condor_n_trades"]  # hedge positions count as its trades
    assert hedged["hedge_n_positions"] >= 1 and hedged["hedge_turnover"] > 0
    assert "irr" not in s["unhedged"] or s["unhedged"]["irr"] is None  # no external flows: IRR would equal CAGR


def test_cash_earns_the_stored_rate_series_when_given():
    mk = _market()
    rates = pl.DataFrame({"date": [date(2023, 12, 1), date(2024, 2, 1)], "rate": [0.05, 0.01]})
    r = run_backtest(mk["option_features"], mk["market"], mk["spx_daily"], mk["vx_futures"], StrategyConfig(),
                     strategies=("unhedged",), cash_rates=rates)
    d = r.daily.sort("date")
    prev_eq = np.r_[1_000_000.0, d["equity"].to_numpy()[:-1]]
    dd = np.r_[0, np.diff(d["date"].to_numpy().astype("datetime64[D]").astype(int))]
    rate = np.where(d["date"].to_numpy().astype("datetime64[D]") > np.datetime64("2024-02-01"), 0.01, 0.05)
    assert d["interest"].to_list() == pytest.approx((prev_eq * rate * dd / 365).tolist(), abs=1e-6)



def test_a_step_without_option_rows_yields_no_rows_and_every_column():
    # the first 63-session step of a vendor-only run that starts before the first stored chain
    mk = _market()
    r = run_backtest(mk["option_features"].clear(), mk["market"], mk["spx_daily"], mk["vx_futures"], StrategyConfig())
    assert r.daily.height == 0 and r.trades.height == 0
    assert {"hedge_pnl", "hedge_pnl_base", "hedge_pnl_vxth", "hedge_pnl_second_engine"} <= set(r.daily.columns)
