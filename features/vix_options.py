"""VIX options: Black-76 on the VX future of the same expiry, with a smile tied to VVIX.

VIX options are European, AM-settled to the VIX special opening quotation on the VX
expiration day, and their natural underlying is the VX future of that expiry (the future
converges to the settlement value).  So a VIX option is priced with Black-76 on that future
(:func:`features.black76.black76_greeks`), never on spot VIX.

Smile.  No VIX option quotes are stored day by day, so the implied vol of a VIX option is a
parametric function of the day's VVIX (Cboe's 30-day implied vol of VIX, in points):

    sigma(K, T) = VVIX/100 x term(T) x clip(a + b z + c z^2, floor, cap)
    z = ln(K / F) / sqrt(T / T30),   T30 = 30/365,
    term(T) = 1 for T <= t_flat, (T / t_flat)^(-term_power) beyond,

with ``F`` the VX future of the option's expiry and ``T`` in years (ACT/365).  ``z`` scales
log-moneyness by the square root of time so one smile serves nearby expiries.  The defaults
(:data:`DATASHOP_SMILE`) are the least-squares fit of :func:`fit_vix_smile` to the one real
VIX chain stored (Cboe DataShop sample, 2016-06-01, VVIX 78.9; out-of-the-money mids with a
positive bid, expiries 21-49 days for the smile, all expiries for the term factor): about
0.99 x VVIX at the money, 1.16 x at 30-delta and 1.42 x at 10-delta for a 30-day option (RMS
error 0.036 in iv/VVIX over 64 quotes), an upward (call) skew.
The test ``tests/features/test_vix_options.py`` refits it from the file and reports the error.
One day of one year is a thin calibration: the shape is assumed to hold on every day, scaled
by that day's VVIX.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from features.black76 import _price_one, black76_greeks

__all__ = ["VixSmile", "DATASHOP_SMILE", "vix_option_vol", "price_vix_options", "vix_call_price", "vix_call_strike", "fit_vix_smile"]

T30 = 30.0 / 365.0


@dataclass(frozen=True)
class VixSmile:
    """Parameters of the VVIX-scaled VIX option smile (see the module docstring).

    a, b, c : ratio of implied vol to VVIX at ``z = 0`` and its slope / curvature in ``z``.
    floor, cap : bounds on that ratio (the quadratic is not trusted beyond the fitted range).
    t_flat : years up to which the at-the-money ratio does not depend on expiry.
    term_power : decay of the ratio beyond ``t_flat`` (longer VIX options trade at lower vol).
    """

    a: float = 0.993
    b: float = 1.022
    c: float = -0.231
    floor: float = 0.55
    cap: float = 1.8
    t_flat: float = 49.0 / 365.0
    term_power: float = 0.168


#: The fit to Cboe's DataShop VIX chain of 2016-06-01 (refitted in the tests).
DATASHOP_SMILE = VixSmile()


def vix_option_vol(strike: np.ndarray, forward: np.ndarray, years: np.ndarray, vvix: np.ndarray, smile: VixSmile = DATASHOP_SMILE) -> np.ndarray:
    """Implied vol (decimal) of a VIX option of ``strike`` on the VX future ``forward`` (points)
    expiring in ``years``, on a day whose VVIX is ``vvix`` (points)."""
    k, f, t, v = (np.asarray(x, dtype=float) for x in (strike, forward, years, vvix))
    t_pos = np.maximum(t, 1.0 / 365.0)
    z = np.log(k / f) / np.sqrt(t_pos / T30)
    ratio = np.clip(smile.a + smile.b * z + smile.c * z * z, smile.floor, smile.cap)
    term = np.where(t_pos <= smile.t_flat, 1.0, (t_pos / smile.t_flat) ** (-smile.term_power))
    return v / 100.0 * ratio * term


def price_vix_options(
    forward: np.ndarray, strike: np.ndarray, years: np.ndarray, vvix: np.ndarray, rate: float | np.ndarray,
    is_call: np.ndarray | bool = True, smile: VixSmile = DATASHOP_SMILE,
) -> dict[str, np.ndarray]:
    """Black-76 price and Greeks of VIX options on the VX future of their expiry.

    Returns the :func:`features.black76.black76_greeks` dict (price in VIX points per unit,
    delta per VX point, vega per 1.00 of vol) plus ``vol``, the smile vol used.
    """
    f = np.asarray(forward, dtype=float)
    vol = vix_option_vol(strike, f, years, vvix, smile)
    disc = np.exp(-np.asarray(rate, dtype=float) * np.asarray(years, dtype=float))
    g = black76_greeks(f, strike, years, vol, disc, np.broadcast_to(np.asarray(is_call, dtype=bool), f.shape))
    g["vol"] = vol
    return g


def vix_call_price(forward: float, strike: float, years: float, vvix: float, rate: float, smile: VixSmile = DATASHOP_SMILE) -> float:
    """Price (VIX points) of one VIX call, scalar inputs: the same smile and Black-76 as
    :func:`price_vix_options` through the scalar compiled kernel (no array set-up, no thread
    pool: the hedge's session loop prices one position at a time)."""
    vol = float(vix_option_vol(strike, forward, years, vvix, smile))
    return float(_price_one(float(forward), float(strike), float(years), vol, math.exp(-rate * years), True))


def vix_call_strike(
    forward: np.ndarray, years: np.ndarray, vvix: np.ndarray, rate: float, delta: float,
    smile: VixSmile = DATASHOP_SMILE, grid: float = 0.5,
) -> np.ndarray:
    """Strike of the VIX call whose Black-76 delta under the smile is nearest ``delta``,
    on the ``grid``-point strike grid (0.5 below 50 for VIX options).

    Solved by fixed-point iteration on the smile vol (each step uses the closed form
    ``K = F exp(-d1 s + s^2/2)``, ``d1 = N^-1(delta / D)``, ``s = sigma(K) sqrt T``), then
    rounded to the grid.  NaN where the forward or time is missing.
    """
    f = np.asarray(forward, dtype=float)
    t = np.asarray(years, dtype=float)
    disc = np.exp(-rate * t)
    d1 = ndtri(np.clip(delta / disc, 1e-9, 1 - 1e-9))
    k = f.copy()
    for _ in range(8):  # converges in a few steps: the smile is gentle in z
        s = vix_option_vol(k, f, t, vvix, smile) * np.sqrt(np.maximum(t, 1e-9))
        k = f * np.exp(-d1 * s + 0.5 * s * s)
    return np.maximum(np.round(k / grid) * grid, grid)


def fit_vix_smile(
    log_moneyness: np.ndarray, years: np.ndarray, iv: np.ndarray, vvix: float,
    smile_days: tuple[float, float] = (21.0, 49.0),
) -> tuple[VixSmile, dict[str, float]]:
    """Least-squares fit of :class:`VixSmile` to one day's out-of-the-money VIX option IVs.

    Parameters
    ----------
    log_moneyness : ln(K/F) of each quote, F the VX future (implied forward) of its expiry.
    years : time to expiry (ACT/365); iv : implied vol (decimal) of each quote's mid.
    vvix : the day's VVIX close (points).
    smile_days : expiries (calendar days) used for ``a, b, c``; all expiries beyond ``t_flat``
        fit the term power from their at-the-money ratios.

    Returns
    -------
    (smile, fit) where ``fit`` holds ``rmse_ratio`` (RMS error of iv/VVIX on the smile
    quotes), ``n_smile``, ``atm_ratio``, ``ratio_30d`` and ``ratio_10d`` (the model's ratio at
    the 30- and 10-delta call strikes of a 30-day option on a future at 17.4, the sample's
    front-month level).
    """
    x, t, y = (np.asarray(a, dtype=float) for a in (log_moneyness, years, iv))
    ok = np.isfinite(x) & np.isfinite(t) & np.isfinite(y) & (y > 0)
    days = t * 365.0
    sel = ok & (days >= smile_days[0]) & (days <= smile_days[1])
    z = x[sel] / np.sqrt(t[sel] / T30)
    r = y[sel] / (vvix / 100.0)
    design = np.column_stack([np.ones_like(z), z, z * z])
    coef, *_ = np.linalg.lstsq(design, r, rcond=None)
    rmse = float(np.sqrt(np.mean((design @ coef - r) ** 2)))
    t_flat = smile_days[1] / 365.0
    # term factor: at-the-money ratio per expiry (linear interpolation at x = 0) beyond t_flat
    atm_t, atm_r = [], []
    for tt in np.unique(t[ok]):
        m = ok & (t == tt)
        order = np.argsort(x[m])
        xs, ys = x[m][order], y[m][order]
        if xs.size >= 2 and xs[0] <= 0 <= xs[-1]:
            atm_t.append(tt)
            atm_r.append(np.interp(0.0, xs, ys) / (vvix / 100.0))
    atm_t, atm_r = np.array(atm_t), np.array(atm_r)
    long_ = atm_t > t_flat
    a0 = float(coef[0])
    power = float(-np.sum(np.log(atm_r[long_] / a0) * np.log(atm_t[long_] / t_flat)) / np.sum(np.log(atm_t[long_] / t_flat) ** 2)) if long_.any() else 0.0
    smile = VixSmile(a=a0, b=float(coef[1]), c=float(coef[2]), t_flat=t_flat, term_power=power)
    f0 = np.array([17.4])
    t0 = np.array([T30])
    k30 = vix_call_strike(f0, t0, np.array([vvix]), 0.0, 0.30, smile, grid=1e-6)
    k10 = vix_call_strike(f0, t0, np.array([vvix]), 0.0, 0.10, smile, grid=1e-6)
    ratio = lambda k: float(vix_option_vol(k, f0, t0, np.array([100.0]), smile)[0])  # noqa: E731
    return smile, {
        "rmse_ratio": rmse, "n_smile": float(sel.sum()), "atm_ratio": ratio(f0),
        "ratio_30d": ratio(k30), "ratio_10d": ratio(k10), "term_power": power,
    }
