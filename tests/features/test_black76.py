"""Black-76 price, Greeks and implied vol against pyvolr, closed forms, finite differences
and a slow bracketing root-finder."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pyvolr
from scipy.optimize import brentq
from scipy.stats import norm

from features.black76 import black76_greeks, black76_price, implied_vol

F0 = 4000.0


def _grid(n: int = 40_000, seed: int = 1) -> dict[str, np.ndarray]:
    """Random options: log-moneyness +-150 %, T from 1 hour to 5 years, vol 1 %..300 %."""
    rng = np.random.default_rng(seed)
    years = np.exp(rng.uniform(np.log(1.0 / (365 * 24)), np.log(5.0), n))
    return {
        "forward": np.full(n, F0),
        "strike": F0 * np.exp(rng.uniform(-1.5, 1.5, n)),
        "years": years,
        "vol": np.exp(rng.uniform(np.log(0.01), np.log(3.0), n)),
        "discount": np.exp(-rng.uniform(0.0, 0.08, n) * years),
        "is_call": rng.random(n) < 0.5,
    }


def _flags(is_call: np.ndarray) -> np.ndarray:
    return np.where(is_call, "c", "p")


def _rates(g: dict[str, np.ndarray]) -> np.ndarray:
    return -np.log(g["discount"]) / g["years"]


def test_price_matches_pyvolr():
    g = _grid()
    ours = black76_price(g["forward"], g["strike"], g["years"], g["vol"], g["discount"], g["is_call"])
    ref = pyvolr.black76.price(_flags(g["is_call"]), F=g["forward"], K=g["strike"], T=g["years"], r=_rates(g),
                               sigma=g["vol"])
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-9)


def test_price_matches_textbook_formula_for_call_and_put():
    f, k, t, v, r = 4100.0, np.array([3500.0, 4000.0, 4600.0]), 0.25, 0.18, 0.05
    d = math.exp(-r * t)
    d1 = (np.log(f / k) + 0.5 * v * v * t) / (v * math.sqrt(t))
    d2 = d1 - v * math.sqrt(t)
    call = d * (f * norm.cdf(d1) - k * norm.cdf(d2))
    put = d * (k * norm.cdf(-d2) - f * norm.cdf(-d1))
    np.testing.assert_allclose(black76_price(f, k, t, v, d, True), call, rtol=1e-13)
    np.testing.assert_allclose(black76_price(f, k, t, v, d, False), put, rtol=1e-13)


def test_put_call_parity_holds():
    g = _grid(5_000)
    c = black76_price(g["forward"], g["strike"], g["years"], g["vol"], g["discount"], True)
    p = black76_price(g["forward"], g["strike"], g["years"], g["vol"], g["discount"], False)
    np.testing.assert_allclose(c - p, g["discount"] * (g["forward"] - g["strike"]), atol=1e-9 * F0)


def test_price_at_expiry_is_discounted_intrinsic():
    out = black76_price(4000.0, np.array([3900.0, 4100.0]), 0.0, 0.2, 0.99, np.array([True, False]))
    np.testing.assert_allclose(out, [99.0, 99.0])


def test_price_broadcasts_inputs():
    out = black76_price(4000.0, np.array([[3900.0], [4100.0]]), np.array([0.1, 0.2, 0.3]), 0.2, 1.0, True)
    assert out.shape == (2, 3)


def test_greeks_match_pyvolr():
    g = _grid(20_000, seed=2)
    ours = black76_greeks(g["forward"], g["strike"], g["years"], g["vol"], g["discount"], g["is_call"])
    ref = pyvolr.black76.greeks(_flags(g["is_call"]), F=g["forward"], K=g["strike"], T=g["years"], r=_rates(g),
                                sigma=g["vol"])
    np.testing.assert_allclose(ours["delta"], ref["delta"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours["gamma"], ref["gamma"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ours["vega"], ref["vega"], rtol=1e-9, atol=1e-9)
    # pyvolr's theta is per year; ours is per calendar day
    np.testing.assert_allclose(ours["theta"] * 365.0, ref["theta"], rtol=1e-8, atol=1e-7)


def test_greeks_match_finite_differences():
    f, k, t, v, r = 4000.0, np.array([3600.0, 4000.0, 4400.0]), 0.3, 0.22, 0.045
    d = math.exp(-r * t)
    for is_call in (True, False):
        g = black76_greeks(f, k, t, v, d, is_call)

        def px(ff=f, tt=t, vv=v):
            return black76_price(ff, k, tt, vv, math.exp(-r * tt), is_call)

        h = 0.5
        np.testing.assert_allclose(g["delta"], (px(ff=f + h) - px(ff=f - h)) / (2 * h), rtol=1e-6)
        np.testing.assert_allclose(g["gamma"], (px(ff=f + h) - 2 * px() + px(ff=f - h)) / h**2, rtol=1e-4)
        np.testing.assert_allclose(g["vega"], (px(vv=v + 1e-5) - px(vv=v - 1e-5)) / 2e-5, rtol=1e-6)
        dt = 1e-5
        theta_fd = -(px(tt=t + dt) - px(tt=t - dt)) / (2 * dt) / 365.0
        np.testing.assert_allclose(g["theta"], theta_fd, rtol=1e-5)


def _well_posed(g: dict[str, np.ndarray], price: np.ndarray) -> np.ndarray:
    """Options whose price pins the vol to 1e-10: a few ulps of the premium move sigma by
    less than 1e-11 (vega x 1e-11 > 32 eps x price), the premium is not underflowed, and
    it is below its upper bound by more than rounding."""
    vega = black76_greeks(g["forward"], g["strike"], g["years"], g["vol"], g["discount"], g["is_call"])["vega"]
    return (vega * 1e-11 > 32 * np.finfo(float).eps * price) & (price > 1e-250)


def test_implied_vol_round_trips_on_wide_grid():
    g = _grid(200_000, seed=3)
    price = black76_price(g["forward"], g["strike"], g["years"], g["vol"], g["discount"], g["is_call"])
    iv = implied_vol(price, g["forward"], g["strike"], g["years"], g["discount"], g["is_call"])
    ok = _well_posed(g, price)
    assert ok.sum() > 60_000  # the grid really covers many quotable options
    err = np.abs(iv[ok] - g["vol"][ok])
    assert np.all(np.isfinite(iv[ok]))
    assert err.max() <= 1e-10


@pytest.mark.parametrize(
    "years",
    [2.0 / (365 * 24), 6.0 / (365 * 24), 1.0 / 365, 30.0 / 365, 1.0, 3.0, 5.0],
    ids=["2h", "6h", "1d", "30d", "1y", "3y", "5y"],
)
def test_implied_vol_round_trips_across_strikes_for_each_expiry(years):
    strikes = F0 * np.exp(np.linspace(-1.0, 1.0, 2001))
    vols = np.array([0.01, 0.05, 0.15, 0.4, 1.0, 3.0])
    k, v = np.meshgrid(strikes, vols)
    is_call = k >= F0 * 0.9  # both OTM and ITM of each type
    g = {"forward": F0, "strike": k, "years": years, "vol": v, "discount": math.exp(-0.05 * years),
         "is_call": is_call}
    price = black76_price(F0, k, years, v, g["discount"], is_call)
    iv = implied_vol(price, F0, k, years, g["discount"], is_call)
    ok = _well_posed({kk: np.broadcast_to(vv, k.shape) for kk, vv in g.items()}, price)
    assert ok.any()
    assert np.max(np.abs(iv[ok] - v[ok])) <= 1e-10


def test_implied_vol_matches_brentq_reference():
    g = _grid(300, seed=4)
    price = black76_price(g["forward"], g["strike"], g["years"], g["vol"], g["discount"], g["is_call"])
    ok = _well_posed(g, price) & (g["vol"] < 2.5)
    iv = implied_vol(price, g["forward"], g["strike"], g["years"], g["discount"], g["is_call"])
    for i in np.nonzero(ok)[0]:  # slow scalar reference, a few hundred options

        def f(s, i=i):
            return float(
                black76_price(g["forward"][i], g["strike"][i], g["years"][i], s, g["discount"][i], g["is_call"][i])
            ) - price[i]

        ref = brentq(f, 1e-4, 5.0, xtol=1e-15, rtol=1e-15, maxiter=500)
        assert abs(iv[i] - ref) <= 1e-9


def test_implied_vol_matches_pyvolr_solver():
    g = _grid(20_000, seed=5)
    price = black76_price(g["forward"], g["strike"], g["years"], g["vol"], g["discount"], g["is_call"])
    ok = _well_posed(g, price)
    ours = implied_vol(price, g["forward"], g["strike"], g["years"], g["discount"], g["is_call"])
    ref = pyvolr.black76.implied_vol(price, _flags(g["is_call"]), F=g["forward"], K=g["strike"], T=g["years"],
                                     r=_rates(g), on_error="ignore")
    np.testing.assert_allclose(ours[ok], ref[ok], atol=1e-9)


def test_implied_vol_is_nan_below_intrinsic():
    d = 0.99
    iv = implied_vol(np.array([0.99 * 100 - 0.01, 0.99 * 100]), 4000.0, 3900.0, 0.1, d, True)
    assert np.isnan(iv).all()


def test_implied_vol_is_nan_at_or_above_upper_bound():
    d = 0.99
    assert np.isnan(implied_vol(np.array([d * 4000.0, d * 4000.0 + 1]), 4000.0, 3900.0, 0.1, d, True)).all()
    assert np.isnan(implied_vol(np.array([d * 3900.0, d * 3900.0 + 1]), 4000.0, 3900.0, 0.1, d, False)).all()


def test_implied_vol_is_nan_for_zero_price_expired_or_non_finite_inputs():
    args = dict(forward=4000.0, strike=4100.0, discount=1.0, is_call=True)
    assert np.isnan(implied_vol(0.0, years=0.1, **args))
    assert np.isnan(implied_vol(10.0, years=0.0, **args))
    assert np.isnan(implied_vol(10.0, years=-0.01, **args))
    assert np.isnan(implied_vol(np.nan, years=0.1, **args))
    assert np.isnan(implied_vol(np.inf, years=0.1, **args))
    assert np.isnan(implied_vol(10.0, forward=np.nan, strike=4100.0, years=0.1, discount=1.0, is_call=True))


def test_implied_vol_never_returns_zero_or_negative():
    g = _grid(50_000, seed=6)
    price = black76_price(g["forward"], g["strike"], g["years"], g["vol"], g["discount"], g["is_call"])
    noisy = price * np.random.default_rng(7).uniform(0.0, 1.5, price.size)
    iv = implied_vol(noisy, g["forward"], g["strike"], g["years"], g["discount"], g["is_call"])
    finite = iv[np.isfinite(iv)]
    assert finite.size > 0 and np.all(finite > 0)
