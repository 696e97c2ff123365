"""Per-contract option analytics on synthetic chains with a known forward, rate and vol."""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from features.option_features import option_features, parity_forwards
from synthetic_chain import make_chain, settlement_years

NY = ZoneInfo("America/New_York")
QD = date(2024, 3, 4)  # a Monday
EXPIRIES = [("SPXW", date(2024, 3, 4)), ("SPXW", date(2024, 3, 8)), ("SPX", date(2024, 3, 15)),
            ("SPXW", date(2024, 4, 30)), ("SPX", date(2024, 12, 20)), ("SPX", date(2026, 12, 18))]


def _smile(k: np.ndarray, t: float) -> np.ndarray:
    return 0.16 + 0.10 * k**2 / max(t, 0.05) ** 0.5 - 0.08 * k


@pytest.fixture(scope="module")
def chain() -> pl.DataFrame:
    return make_chain(QD, EXPIRIES, vol=_smile, rate=0.05, div_yield=0.015, half_spread=0.05, min_price=0.05)


@pytest.fixture(scope="module")
def features(chain) -> pl.DataFrame:
    return option_features(chain.drop("model_price", "model_vol", "model_forward", "model_discount"))


def _with_model(features: pl.DataFrame, chain: pl.DataFrame) -> pl.DataFrame:
    keys = ["quote_date", "root", "expiration", "strike", "option_type"]
    return features.join(
        chain.select(keys + ["model_price", "model_vol", "model_forward", "model_discount"]), on=keys
    )


def test_one_row_per_contract(features, chain):
    assert features.height == chain.height
    assert features.select(["quote_date", "root", "expiration", "strike", "option_type"]).is_unique().all()


def test_settlement_time_is_am_open_for_spx_and_pm_close_for_spxw(features):
    got = features.group_by("root").agg(pl.col("settlement_time").first()).sort("root")
    spx, spxw = got["settlement_time"].to_list()
    assert (spx.hour, spx.minute, str(spx.tzinfo)) == (9, 30, "America/New_York")
    assert (spxw.hour, spxw.minute) == (16, 0)


def test_years_to_expiry_counts_minutes_from_1615_for_eod(features):
    got = features.group_by(["root", "expiration", "settlement"]).agg(pl.col("years_to_expiry").first())
    for row in got.iter_rows(named=True):
        expected = settlement_years(QD, row["expiration"], row["settlement"])
        assert row["years_to_expiry"] == pytest.approx(expected, abs=1e-12)
    zero_dte = got.filter(pl.col("expiration") == QD)["years_to_expiry"][0]
    assert zero_dte < 0  # the 0DTE PM expiry has settled by 16:15


def test_years_to_expiry_uses_snapshot_time_for_intraday():
    snap = datetime(2024, 3, 4, 13, 40, tzinfo=NY)
    ch = make_chain(QD, [("SPXW", date(2024, 3, 4))], snapshot_kind="intraday", snapshot_time=snap)
    out = option_features(ch)
    assert out["years_to_expiry"][0] == pytest.approx(140.0 / 525_600.0, rel=1e-12)
    assert out["days_to_expiry"][0] == pytest.approx(140.0 / 1440.0, rel=1e-12)


def test_parity_fit_recovers_forward_and_discount(chain):
    fits = parity_forwards(chain).join(
        chain.group_by(["root", "expiration"]).agg(pl.col("model_forward").first(), pl.col("model_discount").first()),
        on=["root", "expiration"],
    ).filter(pl.col("years_to_expiry") > 0)
    assert (fits["forward"] - fits["model_forward"]).abs().max() < 1e-6
    long = fits.filter(pl.col("years_to_expiry") > 7 / 365)
    assert (long["discount_factor"] - long["model_discount"]).abs().max() < 1e-8
    assert (long["rate_source"] == "parity").all()


def test_short_expiries_borrow_the_session_rate(chain):
    fits = parity_forwards(chain).filter((pl.col("years_to_expiry") > 0) & (pl.col("years_to_expiry") < 7 / 365))
    assert fits.height == 1
    assert fits["rate_source"][0] == "session_median"
    assert fits["rate"][0] == pytest.approx(0.05, abs=1e-6)


def test_parity_fit_ignores_one_bad_quote(chain):
    # corrupt the call mid at the ATM strike of the December expiry by 3 points
    bad = chain.with_columns(
        pl.when((pl.col("expiration") == date(2024, 12, 20)) & (pl.col("strike") == 4000.0)
                & (pl.col("option_type") == "C"))
        .then(pl.col("bid") + 3.0).otherwise(pl.col("bid")).alias("bid"),
        pl.when((pl.col("expiration") == date(2024, 12, 20)) & (pl.col("strike") == 4000.0)
                & (pl.col("option_type") == "C"))
        .then(pl.col("ask") + 3.0).otherwise(pl.col("ask")).alias("ask"),
    )
    fit = parity_forwards(bad).filter(pl.col("expiration") == date(2024, 12, 20))
    true_f = chain.filter(pl.col("expiration") == date(2024, 12, 20))["model_forward"][0]
    assert fit["forward"][0] == pytest.approx(true_f, abs=0.01)


def test_iv_from_mid_recovers_generating_vol(features, chain):
    m = _with_model(features, chain).filter((pl.col("bid") > 0) & pl.col("iv").is_not_nan() & (pl.col("vega") > 0.5))
    assert m.height > 1000
    assert (m["iv"] - m["model_vol"]).abs().max() < 1e-6


def test_bid_iv_below_mid_iv_below_ask_iv(features):
    m = features.filter((pl.col("bid") > 0) & pl.col("iv_bid").is_not_nan() & pl.col("iv_ask").is_not_nan())
    assert ((m["iv_bid"] < m["iv"]) & (m["iv"] < m["iv_ask"])).all()


def test_zero_bid_has_nan_bid_iv(features):
    z = features.filter(pl.col("bid") == 0)
    assert z.height > 0 and z["iv_bid"].is_nan().all()


def test_settled_expiry_has_nan_iv(features):
    assert features.filter(pl.col("expiration") == QD)["iv"].is_nan().all()


def test_intrinsic_is_against_the_discounted_forward_and_extrinsic_is_mid_minus_intrinsic(features):
    m = features.filter(pl.col("mid").is_not_null())
    k, f, d = m["strike"].to_numpy(), m["forward"].to_numpy(), m["discount_factor"].to_numpy()
    is_call = (m["option_type"] == "C").to_numpy()
    intrinsic = d * np.where(is_call, np.maximum(f - k, 0), np.maximum(k - f, 0))
    np.testing.assert_allclose(m["intrinsic"].to_numpy(), intrinsic)
    np.testing.assert_allclose(m["extrinsic"].to_numpy(), m["mid"].to_numpy() - intrinsic)


def test_extrinsic_is_never_materially_negative_on_a_simulated_chain():
    """Deep in-the-money puts trade near D (K - F), below K - S: against spot they showed
    negative time value (12 % of rows below -0.5 points); against the discounted forward a
    mid can fall below the bound only by quote noise, within half the spread."""
    from features.simulate import SimulationConfig, simulate_chain, simulate_daily
    from pipelines.calendar import sessions_between
    from pipelines.events_calendar import events_between

    config = SimulationConfig(seed=7, chain_size="small")
    days = sessions_between(config.origin, date(2024, 3, 28))
    market = simulate_daily(days, events_between(days[0], date(2025, 12, 31)), config)
    chain = pl.concat([simulate_chain(d, market, config) for d in days[-60::10]])
    of = option_features(chain).filter(pl.col("mid").is_not_null() & pl.col("intrinsic").is_not_null())
    half_spread = (of["ask"] - of["bid"]) / 2
    assert of.height > 1000
    assert (of["extrinsic"] >= -half_spread - 1e-9).all()
    assert (of["extrinsic"] >= -0.5).mean() == 1.0


def test_log_moneyness_is_log_strike_over_forward(features):
    np.testing.assert_allclose(
        features["log_moneyness"].to_numpy(), np.log(features["strike"].to_numpy() / features["forward"].to_numpy())
    )


def test_greeks_are_black76_at_the_mid_iv(features, chain):
    from scipy.stats import norm

    m = _with_model(features, chain).filter(
        (pl.col("bid") > 0) & pl.col("iv").is_not_nan() & (pl.col("vega") > 0.5)
        & (pl.col("expiration") == date(2024, 12, 20))
    )
    f, k, t, d, v = (m[c].to_numpy() for c in ["forward", "strike", "years_to_expiry", "discount_factor", "iv"])
    d1 = (np.log(f / k) + 0.5 * v * v * t) / (v * np.sqrt(t))
    is_call = (m["option_type"] == "C").to_numpy()
    np.testing.assert_allclose(m["delta"].to_numpy(), np.where(is_call, d * norm.cdf(d1), -d * norm.cdf(-d1)),
                               rtol=1e-9)
    np.testing.assert_allclose(m["gamma"].to_numpy(), d * norm.pdf(d1) / (f * v * np.sqrt(t)), rtol=1e-9)
    np.testing.assert_allclose(m["vega"].to_numpy(), d * f * norm.pdf(d1) * np.sqrt(t), rtol=1e-9)
    np.testing.assert_allclose(m["delta_moneyness"].to_numpy(), norm.cdf(d1), rtol=1e-9, atol=1e-12)


def test_delta_moneyness_is_call_equivalent_for_puts(features):
    m = features.filter(
        (pl.col("bid") > 0) & pl.col("iv").is_not_nan() & (pl.col("vega") > 0.5) & (pl.col("option_type") == "P")
    )
    assert ((m["delta_moneyness"] > 0) & (m["delta_moneyness"] < 1)).all()
    # N(d1) falls as the strike rises: lower-strike (further OTM) puts sit nearer 1
    one = m.filter(pl.col("expiration") == date(2024, 12, 20)).sort("strike")
    assert (one["delta_moneyness"].diff().drop_nulls() < 0).all()


def test_theta_is_negative_for_otm_options(features):
    otm = features.filter(
        (pl.col("bid") > 0) & pl.col("iv").is_not_nan() & (pl.col("vega") > 0.5)
        & (((pl.col("option_type") == "C") & (pl.col("log_moneyness") > 0.02))
           | ((pl.col("option_type") == "P") & (pl.col("log_moneyness") < -0.02)))
    )
    assert (otm["theta"] < 0).all()


def test_output_carries_snapshot_kind_and_source(features):
    assert set(features["snapshot_kind"].unique()) == {"eod"}
    assert features["source"][0].startswith("simulator:")
    assert math.isclose(features["underlying_price"][0], 4000.0)


def test_a_quote_at_the_edge_of_its_upper_bound_gives_no_vol_instead_of_an_absurd_one():
    from features.black76 import implied_vol
    from features.option_features import MAX_IMPLIED_VOL, informative_vol

    # a one-day at-the-money put priced 1e-9 below D*K: only vols far above 2,000 % fit it
    raw = implied_vol(np.array([100.0 - 1e-9]), np.array([100.0]), np.array([100.0]), np.array([1 / 365]),
                      np.array([1.0]), np.array([False]))
    assert raw[0] > MAX_IMPLIED_VOL
    assert np.isnan(informative_vol(raw)[0])
    assert informative_vol(np.array([0.2, MAX_IMPLIED_VOL]))[1] == MAX_IMPLIED_VOL
