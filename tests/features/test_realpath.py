"""The real-path market (features/realpath): surface, chain, inputs, yardstick.

Behaviours are specified on small synthetic inputs; the calibration against the real Cboe
chains and the CNDR figures against the published index run when ../shared/data is present.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from features.black76 import black76_price
from features.option_features import option_features
from features.realpath.chain import SOURCE, build_chain, expirations
from features.realpath.inputs import cash_rates, daily_inputs, settlement_prices
from features.realpath.surface import (
    DEFAULT_SMILE, atm_vol_from_variance_swap, skew_slope, smile_ratio, variance_swap_vol,
)
from features.realpath.yardstick import compare, summary

NAN = float("nan")


def _inputs(days: list[date], vix: float = 20.0, skew: float = 130.0) -> pl.DataFrame:
    n = len(days)
    return pl.DataFrame({
        "date": days, "open": [4000.0] * n, "close": [4000.0] * n, "VIX9D": [vix * 0.95] * n, "VIX": [vix] * n,
        "VIX3M": [vix * 1.08] * n, "VIX6M": [vix * 1.12] * n, "SKEW": [skew] * n, "VVIX": [90.0] * n, "rate": [0.05] * n,
    })


def test_variance_swap_vol_hits_each_knot_and_interpolates_total_variance():
    knots = np.array([[15.0, 20.0, 22.0, 24.0]] * 3)
    t = np.array([30 / 365, 93 / 365, 60 / 365])
    v = variance_swap_vol(knots, t)
    assert v[0] == pytest.approx(0.20) and v[1] == pytest.approx(0.22)
    w = 0.20**2 * 30 / 365 + (0.22**2 * 93 / 365 - 0.20**2 * 30 / 365) * 30 / 63
    assert v[2] == pytest.approx(np.sqrt(w / (60 / 365)))


def test_variance_swap_vol_is_flat_at_vix_when_only_vix_exists():
    v = variance_swap_vol(np.array([[NAN, 25.0, NAN, NAN]] * 2), np.array([9 / 365, 150 / 365]))
    assert v == pytest.approx([0.25, 0.25])


def test_missing_middle_knot_is_skipped():
    v = variance_swap_vol(np.array([[NAN, 20.0, NAN, 30.0]]), np.array([100 / 365]))
    w = 0.04 * 30 / 365 + (0.09 * 183 / 365 - 0.04 * 30 / 365) * 70 / 153
    assert v[0] == pytest.approx(np.sqrt(w / (100 / 365)))


def test_higher_skew_index_gives_a_steeper_put_wing():
    t = np.array([30 / 365])
    low, high = skew_slope(np.array([115.0]), t), skew_slope(np.array([145.0]), t)
    assert high[0] < low[0] < 0
    assert smile_ratio(np.array([-2.0]), high)[0] > smile_ratio(np.array([-2.0]), low)[0]


def test_atm_vol_reproduces_the_variance_swap_by_independent_strike_integration():
    # Cboe's discrete VIX sum over a fine strike grid of the model's own prices is the oracle
    t, vs = 30 / 365, 0.20
    slope = skew_slope(np.array([130.0]), np.array([t]))
    atm = atm_vol_from_variance_swap(np.array([vs]), np.array([t]), slope)[0]
    strikes = np.arange(1000.0, 8000.0, 1.0)
    f = 4000.0
    x = np.log(strikes / f) / (atm * np.sqrt(t))
    iv = atm * smile_ratio(x, np.full(strikes.size, slope[0]))
    otm = black76_price(f, strikes, t, iv, 1.0, strikes >= f)
    var = 2 / t * np.sum(otm / strikes**2)  # dK = 1
    assert np.sqrt(var) == pytest.approx(vs, rel=2e-3)
    assert atm < vs  # a negative skew puts the ATM vol below the variance-swap vol


def test_expirations_list_monthly_am_and_weekly_pm_with_holiday_thursdays():
    e = expirations(date(2008, 3, 1), date(2008, 3, 31))
    rows = {r["expiration"]: (r["root"], r["settlement"]) for r in e.iter_rows(named=True)}
    assert rows[date(2008, 3, 20)] == ("SPX", "AM")  # Good Friday 2008-03-21 -> Thursday
    assert rows[date(2008, 3, 7)] == ("SPXW", "PM")
    assert date(2008, 3, 21) not in rows


def test_chain_rows_are_canonical_and_tagged_as_model_rows():
    days = [date(2023, 5, 22), date(2023, 5, 23)]
    ch = build_chain(_inputs(days))
    assert ch["source"].unique().to_list() == [SOURCE] and not SOURCE.startswith("file:")
    assert (ch["bid"] <= ch["ask"]).all() and (ch["expiration"] > ch["quote_date"]).all()
    assert ch.select(pl.struct("quote_date", "root", "expiration", "strike", "option_type").is_unique().all()).item()
    assert ch["vendor_iv"].null_count() == ch.height  # no pretend vendor analytics


def test_chain_quotes_the_strikes_cndr_and_the_condor_select():
    ch = build_chain(_inputs([date(2023, 5, 22)]))
    of = option_features(ch)
    monthly = of.filter((pl.col("root") == "SPX") & (pl.col("expiration") == date(2023, 6, 16)))
    puts = monthly.filter((pl.col("option_type") == "P") & (pl.col("bid") > 0))
    assert puts["delta"].abs().min() < 0.05 < 0.20 < puts["delta"].abs().max()
    dte = of.group_by("expiration").agg(pl.col("days_to_expiry").first())["days_to_expiry"]
    assert ((dte >= 30) & (dte <= 60)).sum() >= 4  # the condor's 30-60 DTE window has weeklies and a monthly


def test_chain_analytics_recover_the_surface_iv_at_the_money():
    ch = build_chain(_inputs([date(2023, 5, 22)], vix=20.0))
    of = option_features(ch).filter((pl.col("root") == "SPX") & (pl.col("expiration") == date(2023, 6, 16)))
    atm = of.with_columns(pl.col("log_moneyness").abs().alias("a")).sort("a").head(2)["iv"].mean()
    t = of["years_to_expiry"][0]
    v = variance_swap_vol(np.array([[19.0, 20.0, 21.6, 22.4]]), np.array([t]))
    expect = atm_vol_from_variance_swap(v, np.array([t]), skew_slope(np.array([130.0]), np.array([t])))[0]
    assert atm == pytest.approx(expect, abs=0.006)  # bid/ask rounding to ticks moves the mid a little


def test_chain_for_a_session_uses_only_that_session_inputs():
    days = [date(2023, 5, 22), date(2023, 5, 23)]
    full = build_chain(_inputs(days))
    changed = _inputs(days).with_columns(pl.when(pl.col("date") == days[1]).then(60.0).otherwise(pl.col("VIX")).alias("VIX"))
    first = lambda c: c.filter(pl.col("quote_date") == days[0])  # noqa: E731
    assert first(build_chain(changed)).equals(first(full))


def test_daily_inputs_carry_rates_and_skew_forward_never_backward():
    spx = pl.DataFrame({"date": [date(2020, 1, 2), date(2020, 1, 3), date(2020, 1, 6)], "open": [1.0] * 3, "close": [1.0] * 3})
    vix = pl.DataFrame({"date": [date(2020, 1, 2), date(2020, 1, 3), date(2020, 1, 6), date(2020, 1, 3)],
                        "series": ["VIX", "VIX", "VIX", "SKEW"], "value": [12.0, 13.0, 14.0, 120.0]})
    bills = pl.DataFrame({"date": [date(2020, 1, 3)], "bond_equivalent_yield": [0.015]})
    out = daily_inputs(spx, vix, bills).sort("date")
    assert out["SKEW"].to_list() == [None, 120.0, 120.0]
    assert out["rate"].to_list() == [None, 0.015, 0.015]


def test_cash_rate_of_a_day_is_the_previous_session_yield():
    sessions = pl.DataFrame({"date": [date(2020, 1, 2), date(2020, 1, 3), date(2020, 1, 6)]})
    inputs = pl.DataFrame({"date": sessions["date"], "rate": [0.01, 0.02, 0.03]})
    assert cash_rates(sessions, inputs, 0.05)["rate"].to_list() == [0.05, 0.01, 0.02]


def test_am_settlement_uses_set_where_stored_and_flags_the_estimate():
    spx = pl.DataFrame({"date": [date(2025, 5, 16), date(2025, 6, 20)], "open": [5900.0, 6000.0], "close": [1.0, 1.0]})
    sets = pl.DataFrame({"soq_date": [date(2025, 5, 16)], "set_value": [5917.93]})
    s = settlement_prices(spx, sets).sort("date")
    assert s["open"].to_list() == [5917.93, 6000.0]
    assert s["settlement_source"].to_list() == ["SET", "estimate:open"]


def test_yardstick_figures_on_known_series():
    days = pl.date_range(date(2020, 1, 1), date(2021, 12, 31), "1d", eager=True)
    lvl = 100 * 1.1 ** (np.arange(days.len()) / 365.25)
    a = pl.DataFrame({"date": days, "level": lvl})
    s = summary(a.rename({"level": "v"}), "v")
    assert s["annual_return"] == pytest.approx(0.10, rel=1e-3) and s["max_drawdown"] == 0.0
    b = a.with_columns(pl.when(pl.col("date") == date(2021, 6, 30)).then(pl.col("level") * 0.8).otherwise(pl.col("level")))
    c = compare(b, a, date(2020, 1, 1), date(2021, 12, 31))
    assert c["replica"]["max_drawdown"] == pytest.approx(0.8 * 1.1 ** (1 / 365.25) - 1)  # peak: the day before
    assert -1 <= c["monthly_correlation"] <= 1


# ----------------------------------------------------------------------------- real data
def test_surface_fits_every_real_cboe_chain_within_tolerance(shared_data):
    """Model (level from the VIX family, slope from SKEW) minus Cboe's own chain IVs.

    Tolerance: per chain, the mean absolute error over OTM quotes of 0.02-0.50 delta and
    5-200 days is at most 2.0 vol points, and in every delta x expiry bucket at most 3.0.
    The shape was fitted on half the chains; the test covers all of them."""
    from pipelines.realpath import load_real_otm
    from features.realpath.calibration import iv_errors

    otm = load_real_otm(shared_data)
    err = iv_errors(otm)
    per_chain = err.group_by("chain").agg((pl.col("mean_abs_error") * pl.col("n")).sum() / pl.col("n").sum())
    assert per_chain.height == 13  # the 14th (bids zeroed) has no two-sided quote
    assert per_chain["mean_abs_error"].max() <= 2.0
    assert err["mean_abs_error"].max() <= 3.0


def test_fitted_constants_are_what_the_calibration_chains_give(shared_data):
    from pipelines.realpath import calibration_split, load_real_otm
    from features.realpath.calibration import DEFAULT_SPREADS, fit_smile, fit_spread_model

    cal, _ = calibration_split(load_real_otm(shared_data))
    p = fit_smile(cal)
    assert p.skew_scale == pytest.approx(DEFAULT_SMILE.skew_scale, abs=2e-3)
    assert p.put_curvature == pytest.approx(DEFAULT_SMILE.put_curvature, abs=2e-3)
    assert fit_spread_model(cal).b == pytest.approx(DEFAULT_SPREADS.b, abs=2e-3)


def test_cndr_replica_against_the_published_index(shared_data):
    """The four target figures of issue #10 over 2005-01-03 .. 2025-03-19 (see README).

    Targets: monthly-return correlation >= 0.90; annualized return within 1.0 point;
    maximum drawdown within 3 points. Measured misses are asserted as misses, with the
    measured values as bounds, so a change in either direction is noticed (not tuned)."""
    from pipelines.realpath import cndr_yardstick

    r = cndr_yardstick(shared_data)
    rep, pub = r["replica"], r["published"]
    assert r["months"] >= 240
    assert r["monthly_correlation"] >= 0.90  # target met
    assert pub["annual_return"] == pytest.approx(0.0156, abs=5e-4)  # the published index, independent of us
    assert pub["max_drawdown"] == pytest.approx(-0.197, abs=1e-3)
    # target missed: the replica earns 2.4 points a year more and draws down 8.8 points less
    assert 0.010 < rep["annual_return"] - pub["annual_return"] < 0.030
    assert 0.03 < rep["max_drawdown"] - pub["max_drawdown"] < 0.10
    assert rep["annual_vol"] < pub["annual_vol"]
    # at the condor book's 2 % risk per entry the same rules run at well under half the volatility
    assert r["risk_matched"]["annual_vol"] < 0.5 * rep["annual_vol"]
    assert r["risk_matched"]["max_drawdown"] > rep["max_drawdown"]


def test_surface_out_of_sample_on_the_2018_spxw_sessions(shared_data):
    """2018 was not used in the fit. Tolerance: per-session mean absolute IV error at most 1.5
    vol points on the calm sessions (VIX < 13), at most 10 through the February 2018 spike
    (measured: 0.8-1.4 calm, 9.0 on 2018-02-05, when VIX closed at 37)."""
    from pipelines.realpath import load_spxw_2018_otm
    from features.realpath.calibration import iv_errors

    otm = load_spxw_2018_otm(shared_data)
    err = iv_errors(otm)
    per = err.group_by("chain").agg((pl.col("mean_abs_error") * pl.col("n")).sum() / pl.col("n").sum())
    vix = otm.group_by("chain").agg(pl.col("VIX").first())
    per = per.join(vix, on="chain")
    assert per.filter(pl.col("VIX") < 13)["mean_abs_error"].max() <= 1.5
    assert per["mean_abs_error"].max() <= 10.0


def test_trade_rows_say_which_settlement_value_they_used():
    from features.realpath.inputs import flag_trade_settlements

    trades = pl.DataFrame({
        "exit_reason": ["expiration", "expiration", "expiration", "profit_take"],
        "expiration": [date(2025, 5, 16), date(2025, 6, 20), date(2025, 6, 13), date(2025, 5, 16)],
        "settlement": ["AM", "AM", "PM", "AM"],
    })
    settlements = pl.DataFrame({"date": [date(2025, 5, 16), date(2025, 6, 20), date(2025, 6, 13)],
                                "settlement_source": ["SET", "estimate:open", "estimate:open"]})
    assert flag_trade_settlements(trades, settlements)["settlement_source"].to_list() == [
        "SET", "estimate:open", "close", None]


def test_cndr_at_a_risk_fraction_risks_that_share_of_equity_per_condor():
    from features.realpath.market import cndr_replica

    days = [d for d in pl.date_range(date(2023, 3, 1), date(2023, 6, 30), "1d", eager=True).to_list()
            if d.weekday() < 5 and d not in (date(2023, 4, 7), date(2023, 5, 29), date(2023, 6, 19))]
    inputs = _inputs(days).with_columns((4000.0 + pl.int_range(pl.len()) * 2.0).alias("close"))
    daily, trades = cndr_replica(inputs, None, risk_fraction=0.02)
    eq = daily.select(pl.col("date").alias("entry_date"), pl.col("equity").shift(1).alias("_pre"))
    t = trades.join(eq, on="entry_date")
    width = pl.max_horizontal(pl.col("sp_strike") - pl.col("lp_strike"), pl.col("lc_strike") - pl.col("sc_strike"))
    share = t.select(pl.col("units") * (width - pl.col("credit_fill")) * 100 / pl.col("_pre")).to_series()
    assert t.height >= 2
    assert share.to_list() == pytest.approx([0.02] * t.height, rel=0.1)  # sized on the mid credit, filled worse
    assert set(trades["settlement_source"].drop_nulls().to_list()) <= {"estimate:open"}  # no SET stored here
