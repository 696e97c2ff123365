"""Rule-based regimes with hysteresis, and the filtered HMM probabilities."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.hmm import fit_gaussian_hmm, forward_filter, hmm_filtered_probabilities
from features.market_features import market_features
from features.regimes import (
    RegimeThresholds,
    hmm_regime_probabilities,
    hysteresis_levels,
    market_regimes,
    rule_regimes,
)
from synthetic_market import simulate_market

N_DAYS = 420
HMM = dict(hmm_refit_every=40, hmm_min_train=150)


def frame(
    vix: list[float | None], ratio: list[float | None] | None = None, close: list[float] | None = None
) -> pl.DataFrame:
    n = len(vix)
    start = datetime(2024, 1, 2, 16, 15)
    return pl.DataFrame(
        {
            "date": [date(2024, 1, 2) + timedelta(days=i) for i in range(n)],
            "available_at": [start + timedelta(days=i) for i in range(n)],
            "close": close if close is not None else [100.0] * n,
            "vix": vix,
            "ts_vix_vix3m": ratio if ratio is not None else [0.9] * n,
            "vix_pct_rank_252": [0.5] * n,
        },
        schema_overrides={"vix": pl.Float64, "ts_vix_vix3m": pl.Float64},
    ).with_columns(pl.col("available_at").dt.replace_time_zone("America/New_York"))


def test_vol_regime_enters_at_enter_and_leaves_at_exit_thresholds() -> None:
    vix = [16.0, 29.0, 31.0, 27.0, 25.0, 24.9, 19.0, 17.9, 14.5, 13.9]
    expected = [
        "normal",
        "elevated",
        "stressed",
        "stressed",
        "stressed",
        "elevated",
        "elevated",
        "normal",
        "normal",
        "calm",
    ]
    assert rule_regimes(frame(vix))["vol_regime"].to_list() == expected


def test_confirm_days_delays_a_change_until_it_persists() -> None:
    vix = [16.0, 31.0, 16.0, 31.0, 31.0, 31.0]
    out = rule_regimes(frame(vix), RegimeThresholds(confirm_days=2))["vol_regime"].to_list()
    assert out == ["normal", "normal", "normal", "normal", "stressed", "stressed"]


def test_term_regime_hysteresis_and_unknown_without_vix3m() -> None:
    ratio = [0.90, 0.96, 0.93, 0.91, 1.01, 0.98, 0.96, None, 0.96]
    out = rule_regimes(frame([12.0] * 9, ratio))["term_regime"].to_list()
    assert out == ["contango", "flat", "flat", "contango", "backwardation", "backwardation", "flat", "unknown", "flat"]


def test_regime_joins_labels_and_flags_changes() -> None:
    out = rule_regimes(frame([12.0, 12.0, 16.0, 16.0]))
    assert out["regime"].to_list() == ["calm/contango", "calm/contango", "normal/contango", "normal/contango"]
    assert out["regime_changed"].to_list() == [False, False, True, False]


def test_missing_vix_is_unknown_and_restarts_from_plain_bucket() -> None:
    out = rule_regimes(frame([31.0, None, 26.0]))["vol_regime"].to_list()
    assert out == ["stressed", "unknown", "elevated"]


def test_trend_regime_follows_sma_with_band() -> None:
    th = RegimeThresholds(trend_sma_window=3, trend_band=0.01)
    close = [100.0, 100.0, 100.0, 100.5, 101.0, 100.8, 99.5, 98.0]
    # sma3:      -      -   100.0  100.1667 100.5 100.7667 100.4333 99.4333
    # rel:                 0.0    +0.33%    +0.50% +0.03%  -0.93%   -1.44%
    out = rule_regimes(frame([12.0] * 8, close=close), th)["trend_regime"].to_list()
    assert out == ["unknown", "unknown", "down", "down", "down", "down", "down", "down"]
    close2 = [100.0, 100.0, 100.0, 103.0, 103.0, 102.0, 101.0, 98.0]
    out2 = rule_regimes(frame([12.0] * 8, close=close2), th)["trend_regime"].to_list()
    assert out2 == ["unknown", "unknown", "down", "up", "up", "up", "up", "down"]


def test_rows_carry_inputs_and_thresholds() -> None:
    th = RegimeThresholds(vol_enter=(16.0, 22.0, 32.0), vol_exit=(15.0, 20.0, 27.0))
    out = rule_regimes(frame([12.0, 33.0]), th)
    assert out["vol_enter_stressed"].to_list() == [32.0, 32.0]
    assert out["vol_exit_stressed"].to_list() == [27.0, 27.0]
    assert out["vix"].to_list() == [12.0, 33.0]
    assert {"ts_vix_vix3m", "vix_pct_rank_252", "term_enter_backwardation", "trend_band", "confirm_days"} <= set(
        out.columns
    )


def test_thresholds_reject_exit_above_enter() -> None:
    with pytest.raises(ValueError):
        RegimeThresholds(vol_enter=(15.0, 20.0, 30.0), vol_exit=(14.0, 18.0, 31.0))


def test_hysteresis_levels_plain_buckets_without_gap() -> None:
    x = np.array([1.0, 2.5, 3.5, np.nan, 0.5])
    np.testing.assert_array_equal(hysteresis_levels(x, (2.0, 3.0), (2.0, 3.0)), [0, 1, 2, -1, 0])


# --- HMM -------------------------------------------------------------------------


def two_state_returns(n: int = 800, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    switch = rng.random(n) < 0.03
    state = np.cumsum(switch) % 2
    return np.where(state == 1, rng.normal(0.0, 0.02, n), rng.normal(0.0005, 0.007, n))


def test_hmm_fit_matches_statsmodels_markov_regression() -> None:
    x = two_state_returns()
    ours = fit_gaussian_hmm(x)
    res = sm.tsa.MarkovRegression(x, k_regimes=2, switching_variance=True).fit(disp=False)
    sig = np.asarray(res.params[-2:])
    hi = int(np.argmax(sig))
    np.testing.assert_allclose(sorted(ours.var), sorted(sig), rtol=0.02)
    filt = res.filtered_marginal_probabilities[:, hi]
    # statsmodels starts from the stationary distribution, we from (1/2, 1/2): compare after a few days.
    np.testing.assert_allclose(forward_filter(x, ours)[10:], filt[10:], atol=0.05)


def test_hmm_probabilities_are_filtered_not_smoothed() -> None:
    x = two_state_returns()
    p, fit = hmm_filtered_probabilities(x, refit_every=50, min_train=200)
    assert np.isnan(p[:199]).all() and (fit[:199] == -1).all()
    for r in (199, 249, 449, 799):
        params_index = fit[r]
        # the value at r must not change when every later observation is removed
        q, _ = hmm_filtered_probabilities(x[: r + 1], refit_every=50, min_train=200)
        assert q[r] == p[r] and params_index <= r


def test_hmm_refits_on_a_schedule_anchored_at_the_first_date() -> None:
    _, fit = hmm_filtered_probabilities(two_state_returns(), refit_every=50, min_train=200)
    assert sorted(set(fit[fit >= 0].tolist())) == list(range(199, 800, 50))


def test_hmm_high_state_tracks_simulated_high_vol_periods() -> None:
    rng = np.random.default_rng(8)
    # The first training window (300 days) already holds one high-vol spell (days 150..189).
    calm, wild = (lambda n: rng.normal(0, 0.006, n)), (lambda n: rng.normal(0, 0.03, n))
    x = np.concatenate([calm(150), wild(40), calm(110), wild(60), calm(100)])
    p, _ = hmm_filtered_probabilities(x, refit_every=20, min_train=300)
    assert np.nanmean(p[305:360]) > 0.8
    assert np.nanmean(p[370:460]) < 0.2


# --- point-in-time truth of every regime column -------------------------------------


@lru_cache(maxsize=1)
def synthetic():
    return simulate_market(N_DAYS, seed=5, start=date(2015, 3, 2), missing_share=0.03)


@lru_cache(maxsize=1)
def full_regimes() -> pl.DataFrame:
    m = synthetic()
    f = market_features(m.spx_daily, m.breadth, m.vix_ts, m.vx_futures, m.events)
    return market_regimes(f, RegimeThresholds(trend_sma_window=50), **HMM)


def test_synthetic_history_visits_several_regimes() -> None:
    r = full_regimes()
    assert r["vol_regime"].n_unique() >= 3 and r["hmm_p_high_vol"].drop_nulls().len() > 200


@settings(max_examples=12, deadline=None)
@given(st.integers(min_value=1, max_value=N_DAYS - 1))
def test_every_regime_column_is_invariant_to_truncating_the_history(t: int) -> None:
    m = synthetic()
    last = m.spx_daily["date"][t]
    keep = pl.col("date") <= last
    f = market_features(
        m.spx_daily.filter(keep), m.breadth.filter(keep), m.vix_ts.filter(keep), m.vx_futures.filter(keep), m.events
    )
    got = market_regimes(f, RegimeThresholds(trend_sma_window=50), **HMM)
    assert_frame_equal(got, full_regimes().filter(keep), check_exact=False, rtol=1e-12, atol=1e-12)


def test_hmm_on_log_vix_assigns_high_state_to_stressed_days() -> None:
    m = synthetic()
    f = market_features(m.spx_daily, m.breadth, m.vix_ts, m.vx_futures, m.events)
    hmm = hmm_regime_probabilities(f, column="vix", transform="log", refit_every=40, min_train=150)
    joined = rule_regimes(f).join(hmm, on="date").drop_nulls("hmm_p_high_vol")
    by_label = dict(joined.group_by("vol_regime").agg(pl.col("hmm_p_high_vol").mean()).iter_rows())
    assert by_label["stressed"] > 0.8 > 0.2 > by_label["calm"]
