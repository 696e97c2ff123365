"""The real-path implied-volatility surface: one session's VIX term structure and SKEW -> IV(K, T).

Model (all vols annualized decimals, time in years ACT/365, ``k = ln(K/F)``):

* **Term structure.** Cboe's VIX family are model-free variance-swap vols at constant
  maturities: VIX9D (9 days), VIX (30), VIX3M (93), VIX6M (183). Their total variances
  ``w_i = VIX_i^2 T_i`` are interpolated linearly in ``T`` (Cboe's own interpolation);
  before the first knot the vol of the first knot is used, after the last the vol of the
  last. Knots missing on a session are skipped: VIX9D exists from 2011-01-04, VIX3M (in
  our history) from 2009-09-18, VIX6M from 2008-01-02, so **before 2008 the variance-swap
  term structure is flat at VIX** (the documented fallback; the 30-day point, which the
  monthly condors trade, is exact throughout).
* **Smile.** In standardized moneyness ``x = k / (sigma_atm sqrt T)`` the implied vol is
  ``sigma_atm * r(x)`` with ``r(x) = 1 + s x + c_p x^2`` for ``x < 0`` and
  ``1 + s x + c_c x^2`` for ``x >= 0`` (``x`` clipped to ``[X_MIN, X_MAX]``, ``r`` floored).
  The slope comes from the SKEW index: Cboe defines ``SKEW = 100 - 10 * S`` with ``S`` the
  30-day risk-neutral skewness; the Gram-Charlier expansion gives ``s = S / 6``, which the
  real chains show is too steep, so ``s = kappa * S / 6 * (T / 30d)^beta`` with ``kappa``,
  ``beta`` and the curvatures fitted to real Cboe chains (:mod:`features.realpath.calibration`).
* **Level.** ``sigma_atm`` of each expiry is solved so that the model's variance-swap
  variance ``(2/T) * integral of OTM(k) e^{-k} dk / F`` (the integral behind the VIX) equals
  the interpolated VIX-family variance at that expiry (a few fixed-point steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.black76 import black76_price

__all__ = ["SmileParams", "DEFAULT_SMILE", "KNOT_DAYS", "variance_swap_vol", "skew_slope", "smile_ratio",
           "atm_vol_from_variance_swap", "surface_iv"]

#: Constant maturities (calendar days) of VIX9D, VIX, VIX3M, VIX6M.
KNOT_DAYS = (9.0, 30.0, 93.0, 183.0)
X_MIN, X_MAX = -6.0, 4.0
RATIO_FLOOR = 0.4


@dataclass(frozen=True)
class SmileParams:
    """Shape of the smile (see module doc); fitted by :func:`features.realpath.calibration.fit_smile`."""

    skew_scale: float  # kappa
    term_power: float  # beta
    put_curvature: float  # c_p
    call_curvature: float  # c_c


#: Fitted by ``fit_smile`` on every other one (1st, 3rd, ... by file name: 2023-02-07, 04-14, 05-05,
#: 05-23, 06-08, 08-18, 2024-01-05) of the 13 real Cboe SPX chains with two-sided quotes; the other
#: six are held out (``scripts/realpath_calibration.py`` prints all; a test re-fits and asserts these).
DEFAULT_SMILE = SmileParams(skew_scale=0.2886, term_power=0.1639, put_curvature=0.0194, call_curvature=0.059)


def variance_swap_vol(knots: np.ndarray, t_years: np.ndarray) -> np.ndarray:
    """Variance-swap vol at ``t_years`` from the VIX-family closes of each row.

    Parameters
    ----------
    knots : (n, 4) array of VIX9D, VIX, VIX3M, VIX6M closes in index points (NaN = missing).
    t_years : (n,) expiry times in years.
    """
    kt = np.asarray(KNOT_DAYS) / 365.0
    vol = knots / 100.0
    w = vol**2 * kt  # total variance per knot, NaN when missing
    have = np.isfinite(w)
    n = t_years.size
    out = np.full(n, np.nan)
    # before the first available knot: its vol; after the last: its vol; between: linear total variance
    first = np.argmax(have, axis=1)
    last = kt.size - 1 - np.argmax(have[:, ::-1], axis=1)
    rows = np.arange(n)
    v_first, v_last = vol[rows, first], vol[rows, last]
    out = np.where(t_years <= kt[first], v_first, out)
    out = np.where(t_years >= kt[last], v_last, out)
    for i in range(kt.size):  # 4 knots: a loop over knot pairs, not over rows
        for j in range(i + 1, kt.size):
            between = have[:, i] & have[:, j] & ~np.any(have[:, i + 1:j], axis=1) if j > i + 1 else have[:, i] & have[:, j]
            inside = between & (t_years >= kt[i]) & (t_years <= kt[j])
            wt = w[:, i] + (w[:, j] - w[:, i]) * (t_years - kt[i]) / (kt[j] - kt[i])
            out = np.where(inside, np.sqrt(np.maximum(wt, 1e-8) / np.maximum(t_years, 1e-8)), out)
    return out


def skew_slope(skew_index: np.ndarray, t_years: np.ndarray, p: SmileParams = DEFAULT_SMILE) -> np.ndarray:
    """Smile slope ``s`` in standardized moneyness from the SKEW index (points)."""
    skewness = (100.0 - skew_index) / 10.0  # Cboe: SKEW = 100 - 10 S
    return p.skew_scale * skewness / 6.0 * (np.maximum(t_years, 1e-4) * 365.0 / 30.0) ** p.term_power


def smile_ratio(x: np.ndarray, slope: np.ndarray, p: SmileParams = DEFAULT_SMILE) -> np.ndarray:
    """``sigma(x) / sigma_atm`` (see module doc)."""
    xc = np.clip(x, X_MIN, X_MAX)
    curv = np.where(xc < 0, p.put_curvature, p.call_curvature)
    return np.maximum(1.0 + slope * xc + curv * xc * xc, RATIO_FLOOR)


_GRID = np.linspace(-10.0, 7.0, 341)  # standardized moneyness grid of the variance-swap integral


def atm_vol_from_variance_swap(vs_vol: np.ndarray, t_years: np.ndarray, slope: np.ndarray,
                               p: SmileParams = DEFAULT_SMILE, iterations: int = 5) -> np.ndarray:
    """ATM vol whose smile has variance-swap vol ``vs_vol`` at ``t_years`` (vectorized over rows)."""
    atm = vs_vol.copy()
    t = np.maximum(t_years, 1.0 / 365.0)[:, None]
    x = _GRID[None, :]
    dx = _GRID[1] - _GRID[0]
    for _ in range(iterations):
        a = atm[:, None]
        k = x * a * np.sqrt(t)
        iv = a * smile_ratio(x, slope[:, None], p)
        is_call = np.broadcast_to(x >= 0, k.shape)
        otm = black76_price(1.0, np.exp(k), np.broadcast_to(t, k.shape), iv, 1.0, is_call)
        kvar = 2.0 / t[:, 0] * np.sum(otm * np.exp(-k), axis=1) * dx * a[:, 0] * np.sqrt(t[:, 0])
        ratio = kvar / atm**2
        atm = vs_vol / np.sqrt(ratio)
    return atm


def surface_iv(log_moneyness: np.ndarray, t_years: np.ndarray, atm: np.ndarray, slope: np.ndarray,
               p: SmileParams = DEFAULT_SMILE) -> np.ndarray:
    """Implied vol at ``k = ln(K/F)`` for rows with ATM vol ``atm`` and smile slope ``slope``."""
    x = log_moneyness / (atm * np.sqrt(np.maximum(t_years, 1e-6)))
    return atm * smile_ratio(x, slope, p)
