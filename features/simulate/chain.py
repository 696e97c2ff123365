"""Simulated end-of-day SPX/SPXW option chains priced off a lognormal-mixture smile.

Pricing. For an expiry with time ``T`` (years, minutes/525600 from 16:15 ET to the 09:30 AM or
16:00 PM settlement) and fair variance ``V`` (annualized decimal, from
:func:`features.simulate.dynamics.risk_neutral_variance`, events included), the terminal
price is a mixture of two lognormals with the common forward ``F``:

    S_T / F ~ (1-p) LN(m_A, sigma_A) + p LN(m_C, k sigma_A),   (1-p) m_A + p m_C = 1,
    (LN(m, sigma): lognormal with mean m and log-vol sigma sqrt(T))
    ln m_C = -a sqrt(V T)   (the "crash" component: lower mean, higher vol -> put skew)

Each price is the weighted sum of Black-76 prices, so calls are decreasing and convex in the
strike and put-call parity C - P = D (F - K) holds exactly (no butterfly arbitrage by
construction). ``sigma_A`` solves, in closed form, the fair-variance identity

    V = -(2/T) E[ln(S_T/F)] = -(2/T) sum_i w_i ln m_i + sum_i w_i sigma_i^2,

so Cboe's VIX replication on the chain recovers the model variance up to strike
discreteness and the zero-bid cut-off (tested with the project's independent Cboe-method
implementation). The shape parameters (a = 1.8, k = 2.0, and p from the day's variance state,
see :func:`crash_weight`) are the same for all expiries of a day, so the smile is a function
of the total variance V T only; since V T increases with T (the integrand of the fair
variance is positive), calendar spreads are priced arbitrage-free as well (checked
numerically in the tests).

Quotes follow Cboe's tick rules (0.05 below 3.00, 0.10 from 3.00), the bid is the model
price less half a spread rounded down to a tick, the ask rounded up (so bid <= model <= ask
and parity holds within the spread), far out-of-the-money bids round to zero and the
minimum ask is 0.05.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from scipy.special import ndtr

from features import calendar as cal
from features.simulate.dynamics import CLOSE_MINUTE, MINUTES_PER_DAY, MINUTES_PER_YEAR, NOW_MINUTE, OPEN_MINUTE

#: Mixture shape: crash weight p, crash mean shift a (in total standard deviations), vol ratio k.
CRASH_WEIGHT = 0.12
CRASH_SHIFT = 1.8
CRASH_VOL_RATIO = 2.0
#: Cboe-like strike increments, index points.
STRIKE_LADDER = np.array([5.0, 25.0, 50.0, 100.0, 250.0, 500.0])


@dataclass(frozen=True)
class StrikeBand:
    """One strike grid band on each side of the money (bands are laid outward, fine -> coarse).

    Attributes
    ----------
    step : the band's Cboe increment (index points); outer bands (not the first) may use a
        coarser ladder increment when ``max_count`` strikes of ``step`` cannot reach ``z``.
    z_down, z_up : the band should reach F e^{-z_down s} / F e^{z_up s}, s = sqrt(V T).
    min_down, min_up, max_down, max_up : bounds on the number of strikes on each side, which
        keep the chain size within bounds whatever the index level and volatility.
    """

    step: float
    z_down: float
    z_up: float
    min_down: int
    min_up: int
    max_down: int
    max_up: int


@dataclass(frozen=True)
class ChainLayout:
    """Which expirations are listed and how dense the strike grids are.

    Attributes
    ----------
    daily_days : SPXW dailies for business days within this many calendar days.
    weekly_days : SPXW Friday weeklies within this many calendar days.
    monthly_months : SPX (AM) and SPXW (PM) third-Friday monthlies for this many months.
    eom_months : SPXW end-of-month expirations for this many months.
    quarterly_months : SPX/SPXW March/June/September/December monthlies within this many months.
    december_years : SPX/SPXW December monthlies for this many years ahead (LEAPS).
    bands : strike bands from the money outward.
    adaptive_near_band : let the first band coarsen too (the small test chain), instead of
        always listing 5-point strikes near the money.
    max_strike_ratio : no strike above this multiple of the expiry's forward. Without it the
        coarsening outer band of a long-dated expiry in a high-vol year reached 4.8x the
        forward; real SPX chains stop near 2.6x (the Cboe files in ../shared/data).

    Each expiry has between sum(min counts) and sum(max counts) strikes; with the 60–67
    (root, expiry) pairs of "default" (21–27 for "small") that bounds a chain to 10–20 k
    (1–2 k) contracts.
    """

    daily_days: int
    weekly_days: int
    monthly_months: int
    eom_months: int
    quarterly_months: int
    december_years: int
    bands: tuple[StrikeBand, ...]
    adaptive_near_band: bool = False
    max_strike_ratio: float = 2.6


LAYOUTS: dict[str, ChainLayout] = {
    "default": ChainLayout(
        daily_days=14, weekly_days=91, monthly_months=12, eom_months=12, quarterly_months=24,
        december_years=3,
        # Fewer 5-point strikes and many more 25-point ones than a first guess would take:
        # the Cboe strip sum's discretization error comes from the coarse wings, and with
        # this grid the replicated VIX stays within 0.13 points of the model VIX even at
        # VIX 40 (tests/features/test_simulated_vix_replication.py), at ~15 k contracts.
        bands=(
            StrikeBand(5.0, 3.0, 2.0, 30, 20, 40, 30),
            StrikeBand(25.0, 6.0, 3.5, 15, 8, 70, 25),
            StrikeBand(100.0, 10.0, 5.0, 8, 4, 10, 5),
        ),
    ),
    "small": ChainLayout(
        daily_days=4, weekly_days=42, monthly_months=6, eom_months=0, quarterly_months=12,
        december_years=1,
        bands=(
            StrikeBand(5.0, 3.0, 2.0, 12, 7, 15, 9),
            StrikeBand(25.0, 8.0, 4.0, 7, 4, 9, 4),
        ),
        adaptive_near_band=True,
    ),
}


@dataclass(frozen=True)
class Expiry:
    """One listed expiration: root, date and settlement style (AM = 09:30 ET, PM = 16:00 ET)."""

    root: str
    expiration: date
    settlement: str
    monthly: bool


def listed_expirations(day: date, layout: ChainLayout) -> list[Expiry]:
    """Expirations listed at the close of ``day`` (only those still unsettled at 16:15 ET).

    SPX AM third-Friday monthlies (the business day before when that Friday is a holiday),
    quarterlies and Decembers; SPXW PM dailies, Friday weeklies (Thursday if Friday is a
    holiday), third Fridays, month-ends, quarterlies and Decembers. The modern (2022+) listing
    structure is used for every date.
    """
    pm: dict[date, bool] = {}
    am: set[date] = set()
    for d in cal.business_days(day + timedelta(days=1), day + timedelta(days=layout.daily_days)):
        pm[d] = False
    horizon_w = day + timedelta(days=layout.weekly_days)
    f = day + timedelta(days=(4 - day.weekday()) % 7 or 7)
    while f <= horizon_w:
        d = f if cal.is_business_day(f) else cal.previous_business_day(f)
        if d > day:
            pm.setdefault(d, False)
        f += timedelta(days=7)
    months_ahead = max(layout.monthly_months, layout.quarterly_months, 12 * layout.december_years + 12)
    for k in range(0, months_ahead + 1):
        y, m = cal.add_months(day.year, day.month, k)
        exp = cal.monthly_option_expiration(y, m)
        if exp <= day:
            continue
        listed = (
            k <= layout.monthly_months
            or (m % 3 == 0 and k <= layout.quarterly_months)
            or (m == 12 and k <= 12 * layout.december_years)
        )
        if listed:
            am.add(exp)
            pm[exp] = True
        if k <= layout.eom_months:
            eom = cal.last_business_day(y, m)
            if eom > day:
                pm.setdefault(eom, False)
    out = [Expiry("SPX", d, "AM", True) for d in sorted(am)]
    out += [Expiry("SPXW", d, "PM", mo) for d, mo in sorted(pm.items())]
    return out


def time_to_settlement(day: date, expirations: np.ndarray, am: np.ndarray) -> np.ndarray:
    """Years (minutes/525600) from 16:15 ET on ``day`` to 09:30 (AM) or 16:00 (PM) ET settlement."""
    minutes = (expirations - day.toordinal()) * MINUTES_PER_DAY + np.where(am, OPEN_MINUTE, CLOSE_MINUTE) - NOW_MINUTE
    return minutes / MINUTES_PER_YEAR


def crash_weight(variance_state: np.ndarray | float) -> np.ndarray:
    """Crash-component weight p for the day's instantaneous variance (annualized decimal).

    p = 0.12 (0.03 / v)^0.3 clipped to [0.07, 0.15]: a relatively fatter left tail in calm
    markets, as in the data (Cboe SKEW tends to be high when VIX is low). One value per day
    for all expiries, so the smile stays a function of total variance only (calendar-safe).
    """
    v = np.maximum(np.asarray(variance_state, dtype=np.float64), 1e-6)
    return np.clip(CRASH_WEIGHT * (0.03 / v) ** 0.3, 0.07, 0.15)


def mixture_params(
    variance: np.ndarray, t: np.ndarray, weight: np.ndarray | float = CRASH_WEIGHT
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights, mean factors and vols (each shape (n, 2)) of the lognormal mixture.

    Parameters
    ----------
    variance : fair annualized variance V for each expiry (decimal).
    t : time to settlement in years.
    weight : crash-component weight p (scalar or per expiry), see :func:`crash_weight`.

    The core vol solves -(2/T) sum w_i (ln m_i - sigma_i^2 T / 2) = V exactly.
    """
    variance = np.asarray(variance, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    p = np.broadcast_to(np.asarray(weight, dtype=np.float64), t.shape)
    sd = np.sqrt(variance * t)
    m_c = np.exp(-CRASH_SHIFT * sd)
    m_a = (1.0 - p * m_c) / (1.0 - p)
    dispersion = -(2.0 / t) * ((1.0 - p) * np.log(m_a) + p * np.log(m_c))
    sig_a = np.sqrt((variance - dispersion) / ((1.0 - p) + p * CRASH_VOL_RATIO**2))
    w = np.column_stack([1.0 - p, p])
    m = np.column_stack([m_a, m_c])
    s = np.column_stack([sig_a, CRASH_VOL_RATIO * sig_a])
    return w, m, s


def mixture_prices(
    forward: np.ndarray,
    strike: np.ndarray,
    t: np.ndarray,
    discount: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    vols: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Call and put prices (index points) of a lognormal mixture: sum_i w_i Black76(m_i F, K, sigma_i).

    All 1-D inputs have one entry per option; ``weights``, ``means``, ``vols`` are (n, k).
    """
    f = forward[:, None] * means
    k = strike[:, None]
    st = vols * np.sqrt(t)[:, None]
    d1 = (np.log(f / k) + 0.5 * st**2) / st
    d2 = d1 - st
    call = discount * (weights * (f * ndtr(d1) - k * ndtr(d2))).sum(axis=1)
    put = discount * (weights * (k * ndtr(-d2) - f * ndtr(-d1))).sum(axis=1)
    return call, put


def mixture_log_skewness(weights: np.ndarray, means: np.ndarray, vols: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Skewness of ln(S_T/F) under the mixture (a mixture of normals; used for SKEW)."""
    mu = np.log(means) - 0.5 * vols**2 * t[:, None]
    s2 = vols**2 * t[:, None]
    e1 = (weights * mu).sum(axis=1)
    e2 = (weights * (mu**2 + s2)).sum(axis=1)
    e3 = (weights * (mu**3 + 3 * mu * s2)).sum(axis=1)
    var = e2 - e1**2
    return (e3 - 3 * e1 * e2 + 2 * e1**3) / var**1.5


def _ladder_ceil(x: np.ndarray) -> np.ndarray:
    """Smallest ladder increment >= x, elementwise (the largest one beyond the ladder)."""
    return STRIKE_LADDER[np.minimum(np.searchsorted(STRIKE_LADDER, x - 1e-9), len(STRIKE_LADDER) - 1)]


def strike_grids(forwards: np.ndarray, total_sds: np.ndarray, layout: ChainLayout) -> tuple[np.ndarray, np.ndarray]:
    """Strikes of several expiries: (expiry index, strike), sorted by expiry then strike.

    Per expiry, bands are laid outward from the money: the first band starts at the strike
    at or below F (on its grid), 5-point strikes near the money, then 25/50/100-point ones.
    Each band aims to reach z standard deviations (s = sqrt(V T), log-moneyness) with a
    strike count clipped to its [min, max], so the grid widens with expiry and volatility
    while the chain size stays bounded. An outer band (and the near band if
    ``adaptive_near_band``) coarsens its increment along the ladder when ``max`` strikes
    cannot reach z; a band that would run below zero falls back to a finer increment. Every
    strike is a multiple of its band's increment. Vectorized over expiries (loop over bands).
    """
    f = np.asarray(forwards, dtype=np.float64)
    s = np.asarray(total_sds, dtype=np.float64)
    n_exp = f.size
    lo_edge, hi_edge = f.copy(), f.copy()
    seg_exp, seg_start, seg_step, seg_n = [], [], [], []
    for j, band in enumerate(layout.bands):
        w_down = np.maximum(lo_edge - f * np.exp(-band.z_down * s), 0.0)
        w_up = np.maximum(f * np.exp(band.z_up * s) - hi_edge, 0.0)
        if j == 0 and not layout.adaptive_near_band:
            step = np.full(n_exp, band.step)
        else:
            step = np.maximum(band.step, _ladder_ceil(np.maximum(w_down / band.max_down, w_up / band.max_up)))
        n_d = np.clip(np.ceil(w_down / step - 1e-9), band.min_down, band.max_down)
        n_u = np.clip(np.ceil(w_up / step - 1e-9), band.min_up, band.max_up)
        # down side starts at (j == 0) or strictly below (j > 0) the edge; if the band would
        # reach zero, use the largest finer ladder increment that keeps it positive
        def down_start(step_: np.ndarray | float) -> np.ndarray:
            st = np.floor(lo_edge / step_ + 1e-9) * step_
            return np.where(st >= lo_edge - 1e-9, st - step_, st) if j > 0 else st

        step_d = step.copy()
        ok = down_start(step_d) - step_d * (n_d - 1) > 0
        for cand in STRIKE_LADDER[::-1]:
            take = ~ok & (cand < step) & (down_start(cand) - cand * (n_d - 1) > 0)
            step_d = np.where(take, cand, step_d)
            ok |= take
        step_d = np.where(ok, step_d, STRIKE_LADDER[0])  # still too wide: finest grid, cut at 0
        start_d = down_start(step_d)
        start_u = np.floor(hi_edge / step + 1e-9) * step + step
        seg_exp += [np.arange(n_exp), np.arange(n_exp)]
        seg_start += [start_d, start_u]
        seg_step += [-step_d, step]
        seg_n += [n_d, n_u]
        lo_edge = start_d - step_d * (n_d - 1)
        hi_edge = start_u + step * (n_u - 1)
    exp_ix = np.concatenate(seg_exp)
    n = np.concatenate(seg_n).astype(np.int64)
    total = int(n.sum())
    first = np.repeat(np.cumsum(n) - n, n)
    strikes = np.repeat(np.concatenate(seg_start), n) + np.repeat(np.concatenate(seg_step), n) * (np.arange(total) - first)
    expiry = np.repeat(exp_ix, n)
    keep = (strikes > 0) & (strikes <= layout.max_strike_ratio * f[expiry])
    expiry, strikes = expiry[keep], np.round(strikes[keep], 6)
    order = np.lexsort((strikes, expiry))
    return expiry[order], strikes[order]


def _floor_tick(x: np.ndarray) -> np.ndarray:
    tick = np.where(x >= 3.0, 0.10, 0.05)
    return np.round(np.floor(x / tick + 1e-9) * tick, 2)


def _ceil_tick(x: np.ndarray) -> np.ndarray:
    tick = np.where(x > 3.0, 0.10, 0.05)
    return np.round(np.ceil(x / tick - 1e-9) * tick, 2)


def quote(model: np.ndarray, z: np.ndarray, log_moneyness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bid/ask around model prices on Cboe ticks.

    Full spread = 0.05 + the price times (1 % + 0.5 % per standard deviation of moneyness
    beyond the first + 0.10 x |ln(K/F)|), with ``z`` = |ln(K/F)| / sqrt(V T) capped at 4 and
    |ln(K/F)| at 0.5: widening with price and in the wings (calibrated to the median relative
    spreads of real Cboe SPX chains by moneyness bucket). The bid is floored to a tick (0 when the price is tiny), the ask
    ceiled to a tick and at least 0.05, so bid <= model <= ask.
    """
    spread = 0.05 + model * (0.01 + 0.005 * np.clip(z - 1.0, 0.0, 4.0) + 0.10 * np.minimum(np.abs(log_moneyness), 0.5))
    bid = np.maximum(_floor_tick(model - 0.5 * spread), 0.0)
    ask = np.maximum(_ceil_tick(model + 0.5 * spread), 0.05)
    return bid, ask


@dataclass(frozen=True)
class ChainInputs:
    """State needed to price one session's chain (all known at 16:15 ET of ``day``)."""

    day: date
    spot: float  # index close, points
    variance: float  # instantaneous variance at the close (annualized decimal)
    rate: float  # continuously compounded short rate (decimal)
    dividend_yield: float  # continuously compounded dividend yield (decimal)


def price_chain_arrays(
    inputs: ChainInputs,
    expiries: list[Expiry],
    fair_variance: Callable[[np.ndarray, np.ndarray], np.ndarray],
    layout: ChainLayout,
) -> dict[str, np.ndarray]:
    """Strike-level model prices for all listed expiries (one row per expiry x strike).

    ``fair_variance(t_years, settle_minute_abs)`` returns the fair variance for each expiry.
    Returns arrays: expiry index, strike, T, forward, discount, total_sd, call, put.
    """
    exp_ord = np.array([e.expiration.toordinal() for e in expiries], dtype=np.int64)
    am = np.array([e.settlement == "AM" for e in expiries])
    t = time_to_settlement(inputs.day, exp_ord, am)
    settle_min = exp_ord * MINUTES_PER_DAY + np.where(am, OPEN_MINUTE, CLOSE_MINUTE)
    var = fair_variance(t, settle_min)
    fwd = inputs.spot * np.exp((inputs.rate - inputs.dividend_yield) * t)
    disc = np.exp(-inputs.rate * t)
    sd = np.sqrt(var * t)
    idx, strike = strike_grids(fwd, sd, layout)
    w, m, s = mixture_params(var, t, crash_weight(inputs.variance))
    call, put = mixture_prices(fwd[idx], strike, t[idx], disc[idx], w[idx], m[idx], s[idx])
    return {
        "crash_weight": np.full(strike.shape, float(crash_weight(inputs.variance))),
        "expiry": idx, "strike": strike, "t": t[idx], "forward": fwd[idx], "discount": disc[idx],
        "total_sd": sd[idx], "call": call, "put": put, "variance": var[idx],
    }
