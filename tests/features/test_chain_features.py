"""Session-level chain features against closed forms on synthetic chains."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest

from features.chain_features import atm_term_structure, chain_features
from features.option_features import option_features
from synthetic_chain import make_chain, settlement_years

QD = date(2024, 3, 4)
SPOT = 4000.0
EXPIRIES = [("SPXW", date(2024, 3, 8)), ("SPX", date(2024, 3, 15)), ("SPXW", date(2024, 3, 28)),
            ("SPXW", date(2024, 4, 5)), ("SPXW", date(2024, 5, 31)), ("SPXW", date(2024, 6, 7)),
            ("SPXW", date(2024, 8, 30)), ("SPXW", date(2024, 9, 6))]
MODEL_COLS = ["model_price", "model_vol", "model_forward", "model_discount"]


def _term_vol(exp: date) -> float:
    return 0.14 + 0.0003 * (exp - QD).days


def _build(vol_of_expiry, **kw) -> pl.DataFrame:
    return pl.concat([
        make_chain(QD, [(root, exp)], vol=vol_of_expiry(exp), spot=SPOT, strike_step=5.0,
                   strike_range=(0.3, 2.5), min_price=0.01, **kw)
        for root, exp in EXPIRIES  # a handful of expiries
    ])


@pytest.fixture(scope="module")
def flat() -> tuple[pl.DataFrame, pl.DataFrame]:
    chain = _build(lambda _e: 0.2, half_spread=0.05)
    raw = chain.drop(MODEL_COLS)
    return chain, chain_features(option_features(raw), raw)


@pytest.fixture(scope="module")
def term() -> tuple[pl.DataFrame, pl.DataFrame]:
    chain = _build(_term_vol)
    raw = chain.drop(MODEL_COLS)
    of = option_features(raw)
    return of, chain_features(of, raw)


def test_one_row_per_quote_date(flat):
    chain, _ = flat
    raw = chain.drop(MODEL_COLS)
    two = pl.concat([raw, raw.with_columns(pl.lit(date(2024, 3, 5)).alias("quote_date"))])
    out = chain_features(option_features(two), two)
    assert out["quote_date"].to_list() == [QD, date(2024, 3, 5)]


@pytest.mark.parametrize("col", ["atm_iv_9d", "atm_iv_30d", "atm_iv_60d", "atm_iv_90d", "atm_iv_182d"])
def test_flat_surface_gives_flat_constant_maturity_vol(flat, col):
    assert flat[1][col][0] == pytest.approx(0.2, abs=1e-5)


def test_flat_surface_has_zero_risk_reversal_butterfly_and_slope(flat):
    out = flat[1]
    assert out["rr25_30d"][0] == pytest.approx(0.0, abs=1e-5)
    assert out["bf25_30d"][0] == pytest.approx(0.0, abs=1e-5)
    assert out["term_slope"][0] == pytest.approx(0.0, abs=1e-5)


def test_atm_term_structure_lists_each_expiry_with_its_vol(term):
    of, _ = term
    ts = atm_term_structure(of)
    for row in ts.iter_rows(named=True):
        assert row["atm_iv"] == pytest.approx(_term_vol(row["expiration"]), abs=1e-6)
        t = settlement_years(QD, row["expiration"], "AM" if row["root"] == "SPX" else "PM")
        assert row["days"] == pytest.approx(365 * t, abs=1e-9)
    assert ts.columns == ["quote_date", "root", "expiration", "days", "atm_iv"]


@pytest.mark.parametrize("target", [30, 90])
def test_constant_maturity_interpolates_total_variance(term, target):
    # closed form: bracket expiries, linear in sigma^2 T
    days = {exp: 365 * settlement_years(QD, exp, "AM" if root == "SPX" else "PM") for root, exp in EXPIRIES}
    lo = max((e for e in days if days[e] <= target), key=lambda e: days[e])
    hi = min((e for e in days if days[e] > target), key=lambda e: days[e])
    w_lo, w_hi = _term_vol(lo) ** 2 * days[lo], _term_vol(hi) ** 2 * days[hi]
    w = w_lo + (w_hi - w_lo) * (target - days[lo]) / (days[hi] - days[lo])
    assert term[1][f"atm_iv_{target}d"][0] == pytest.approx(math.sqrt(w / target), abs=1e-6)


def test_term_slope_is_90d_minus_30d(term):
    out = term[1]
    assert out["term_slope"][0] == pytest.approx(out["atm_iv_90d"][0] - out["atm_iv_30d"][0], abs=1e-12)
    assert out["term_slope"][0] > 0


def test_downward_skew_gives_negative_risk_reversal():
    chain = pl.concat([
        make_chain(QD, [(root, exp)], vol=lambda k, t: 0.2 - 0.15 * k + 0.3 * k * k, spot=SPOT,
                   strike_step=5.0, strike_range=(0.3, 2.5), min_price=0.01)
        for root, exp in EXPIRIES
    ]).drop(MODEL_COLS)
    out = chain_features(option_features(chain), chain)
    assert out["rr25_30d"][0] < -0.005
    assert out["bf25_30d"][0] > 0


def test_expected_move_is_atm_straddle_of_expiry_nearest_30_days(flat):
    chain, out = flat
    # nearest to 30 days: 2024-04-05 (32 days); strike nearest its forward
    exp = chain.filter(pl.col("expiration") == date(2024, 4, 5))
    fwd = exp["model_forward"][0]
    k = exp["strike"].unique().to_numpy()
    k_atm = k[np.argmin(np.abs(k - fwd))]
    at = exp.filter(pl.col("strike") == k_atm)
    straddle = ((at["bid"] + at["ask"]) / 2).sum()
    assert out["expected_move_30d"][0] == pytest.approx(straddle, abs=1e-9)


def test_clean_quotes_have_no_parity_violation_and_tiny_residuals(flat):
    out = flat[1]
    assert out["parity_violations"][0] == 0
    assert out["parity_resid_median"][0] < 1e-6
    assert out["parity_pairs"][0] > 1000


def test_crossed_conversion_quote_counts_as_parity_violation(flat):
    chain, _ = flat
    hit = (pl.col("expiration") == date(2024, 6, 7)) & (pl.col("strike") == 3500.0) & (pl.col("option_type") == "C")
    bad = chain.drop(MODEL_COLS).with_columns(
        pl.when(hit).then(pl.col("bid") + 5.0).otherwise(pl.col("bid")).alias("bid"),
        pl.when(hit).then(pl.col("ask") + 5.0).otherwise(pl.col("ask")).alias("ask"),
    )
    out = chain_features(option_features(bad), bad)
    assert out["parity_violations"][0] == 1


def test_extrinsic_buckets_sum_time_value_of_quoted_contracts(flat):
    chain, out = flat
    # the forward and discount factor the pipeline estimated from parity (their own tests
    # check them against the chain's true values)
    fwd = option_features(chain.drop(MODEL_COLS)).select("root", "expiration", "forward", "discount_factor").unique()
    q = chain.filter(pl.col("bid") > 0).join(fwd, on=["root", "expiration"], how="left")
    mid = ((q["bid"] + q["ask"]) / 2).to_numpy()
    k, f, d = q["strike"].to_numpy(), q["forward"].to_numpy(), q["discount_factor"].to_numpy()
    intrinsic = d * np.where(q["option_type"].to_numpy() == "C", np.maximum(f - k, 0), np.maximum(k - f, 0))
    dte = np.array([(e - QD).days for e in q["expiration"].to_list()])
    ext = mid - intrinsic
    for col, sel in [("extrinsic_0_7d", dte <= 7), ("extrinsic_8_30d", (dte > 7) & (dte <= 30)),
                     ("extrinsic_31_90d", (dte > 30) & (dte <= 90)), ("extrinsic_91d_plus", dte > 90)]:
        assert out[col][0] == pytest.approx(ext[sel].sum(), rel=1e-12)


def test_vix_columns_match_the_flat_vol(flat):
    out = flat[1]
    for col in ["vix_9d", "vix_30d", "vix_93d", "vix_183d"]:
        assert out[col][0] == pytest.approx(20.0, abs=0.05)


def test_rows_of_other_roots_are_ignored(flat):
    chain, out = flat
    spy = make_chain(QD, [("SPXW", date(2024, 4, 5))], vol=0.6, spot=400.0, strike_step=1.0,
                     min_price=0.01).with_columns(pl.lit("SPY").alias("root")).drop(MODEL_COLS)
    mixed = pl.concat([chain.drop(MODEL_COLS), spy])
    again = chain_features(option_features(mixed), mixed)
    meta = ["quote_date", "available_at", "snapshot_kind"]
    # rel: the extrinsic sums (~1400 points) are added in another order when other rows are present
    assert again.drop(meta).row(0) == pytest.approx(out.drop(meta).row(0), rel=1e-11, abs=1e-12)
