"""Realized-vol estimators against closed forms, hand examples and independent formulas."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from features.realized_vol import (
    realized_vol_close_to_close,
    realized_vol_garman_klass,
    realized_vol_parkinson,
    realized_vol_yang_zhang,
    trailing_percentile_rank,
    trailing_quantiles,
)


def test_close_to_close_hand_example() -> None:
    c = [100.0, 101.0, 99.0, 102.0]
    r = [math.log(101 / 100), math.log(99 / 101), math.log(102 / 99)]
    expected = math.sqrt(252.0 / 3.0 * sum(x * x for x in r))
    out = realized_vol_close_to_close(c, 3)
    assert np.isnan(out[:3]).all()
    assert out[3] == pytest.approx(expected, rel=1e-14)


def test_parkinson_with_constant_range_is_closed_form() -> None:
    k = 0.02  # ln(H/L) every day
    high = np.full(10, 100.0 * math.exp(k))
    low = np.full(10, 100.0)
    out = realized_vol_parkinson(high, low, 5)
    assert out[4] == pytest.approx(k * math.sqrt(252.0 / (4.0 * math.log(2.0))), rel=1e-12)


def test_garman_klass_with_flat_open_close_is_closed_form() -> None:
    k = 0.015
    o = c = np.full(6, 100.0)
    high, low = o * math.exp(k / 2), o * math.exp(-k / 2)
    out = realized_vol_garman_klass(o, high, low, c, 3)
    assert out[2] == pytest.approx(math.sqrt(252.0 * 0.5 * k * k), rel=1e-12)


def test_garman_klass_hand_example_with_close_open_term() -> None:
    o, h, lo, c = [100.0, 101.0], [102.0, 103.0], [99.0, 100.0], [101.0, 100.5]
    terms = [0.5 * math.log(h[i] / lo[i]) ** 2 - (2 * math.log(2) - 1) * math.log(c[i] / o[i]) ** 2 for i in range(2)]
    out = realized_vol_garman_klass(o, h, lo, c, 2)
    assert out[1] == pytest.approx(math.sqrt(252.0 * sum(terms) / 2), rel=1e-12)


def test_yang_zhang_hand_example() -> None:
    o = [100.0, 101.5, 100.2, 102.0, 101.0]
    h = [101.0, 102.5, 101.9, 103.0, 101.8]
    lo = [99.5, 100.6, 99.8, 101.2, 99.9]
    c = [100.8, 100.9, 101.7, 101.4, 100.3]
    n = 4
    overnight = [math.log(o[i] / c[i - 1]) for i in range(1, 5)]
    oc = [math.log(c[i] / o[i]) for i in range(1, 5)]
    rs = [
        math.log(h[i] / c[i]) * math.log(h[i] / o[i]) + math.log(lo[i] / c[i]) * math.log(lo[i] / o[i])
        for i in range(1, 5)
    ]
    k = 0.34 / (1.34 + (n + 1) / (n - 1))
    var = statistics.variance(overnight) + k * statistics.variance(oc) + (1 - k) * sum(rs) / n
    out = realized_vol_yang_zhang(o, h, lo, c, n)
    assert np.isnan(out[:4]).all()
    assert out[4] == pytest.approx(math.sqrt(252.0 * var), rel=1e-12)


def simulated_bars(sigma: float, days: int, steps: int, seed: int) -> tuple[np.ndarray, ...]:
    """Driftless GBM sampled `steps` times a day; continuous trading (no overnight gap)."""
    rng = np.random.default_rng(seed)
    dt = 1.0 / (252.0 * steps)
    inc = rng.normal(-0.5 * sigma**2 * dt, sigma * math.sqrt(dt), (days, steps))
    path = np.log(100.0) + np.cumsum(inc.ravel()).reshape(days, steps)
    opens = np.concatenate([[math.log(100.0)], path[:-1, -1]])
    full = np.concatenate([opens[:, None], path], axis=1)
    return tuple(np.exp(v) for v in (opens, full.max(axis=1), full.min(axis=1), path[:, -1]))


@pytest.mark.parametrize("estimator", ["cc", "parkinson", "gk", "yz"])
def test_estimators_recover_the_true_volatility_of_simulated_gbm(estimator: str) -> None:
    sigma, days = 0.20, 3000
    o, h, lo, c = simulated_bars(sigma, days, 390, seed=12)
    est = {
        "cc": lambda: realized_vol_close_to_close(c, days - 1),
        "parkinson": lambda: realized_vol_parkinson(h, lo, days - 1),
        "gk": lambda: realized_vol_garman_klass(o, h, lo, c, days - 1),
        "yz": lambda: realized_vol_yang_zhang(o, h, lo, c, days - 1),
    }[estimator]()
    # Discrete sampling biases range estimators down by ~2-3 % at 390 steps a day.
    assert est[-1] == pytest.approx(sigma, rel=0.06)


def test_trailing_percentile_rank_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    x[[3, 17, 40]] = np.nan
    out = trailing_percentile_rank(x, window=10, min_periods=5)
    for t in range(x.size):
        w = x[max(0, t - 9) : t + 1]
        w = w[~np.isnan(w)]
        if np.isnan(x[t]) or w.size < 5:
            assert np.isnan(out[t])
        else:
            assert out[t] == pytest.approx(np.mean(w <= x[t]))


def test_trailing_quantiles_match_numpy_on_each_window() -> None:
    rng = np.random.default_rng(1)
    x = rng.lognormal(size=50)
    out = trailing_quantiles(x, (0.1, 0.5, 0.9), window=20, min_periods=20)
    assert np.isnan(out[:19]).all()
    for t in range(19, 50):
        np.testing.assert_allclose(out[t], np.quantile(x[t - 19 : t + 1], [0.1, 0.5, 0.9]), rtol=1e-12)


def test_trailing_quantiles_ignore_nans_like_numpy_on_valid_values() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=300)
    x[rng.random(300) < 0.2] = np.nan
    out = trailing_quantiles(x, (0.1, 0.5, 0.9), window=40, min_periods=15)
    for t in range(300):
        w = x[max(0, t - 39) : t + 1]
        w = w[~np.isnan(w)]
        if w.size >= 15:
            np.testing.assert_allclose(out[t], np.quantile(w, [0.1, 0.5, 0.9]), rtol=0, atol=1e-14)
        else:
            assert np.isnan(out[t]).all()
