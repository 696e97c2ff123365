"""Model VIX family (VIX9D, VIX, VIX3M, VIX6M, VVIX, SKEW) and CFE VX futures settlements.

Index levels are in points: VIX-type = 100 * sqrt(V(tau)) with V the model's fair
risk-neutral variance over tau = 9, 30, 93, 183 calendar days from 16:15 ET (see
:func:`features.simulate.dynamics.risk_neutral_variance`; scheduled events inside the window
are included), i.e. exactly what Cboe's replication of the simulated chains estimates.

VX futures. At expiry T (09:30 ET special opening quotation) the VIX squared is affine in the
variance state, VIX_T^2 / 1e4 = A + B v_T, and v_T has closed-form risk-neutral mean and
variance (affine jump-diffusion). The settlement is E_Q[VIX_T] with a convexity adjustment
under a lognormal approximation of VIX_T^2 (mean mu, variance s^2):

    E[VIX_T] = 100 sqrt(mu) (1 + s^2 / mu^2)^(-1/8)

so futures sit below sqrt(E[VIX^2]) by the variance-of-variance convexity (Jensen), and,
like real futures, above spot VIX in calm markets (upward term structure) and below it in
crises.

VVIX is reduced-form.  In a square-root (affine) variance model the volatility of ln VIX
falls as VIX rises (the standard deviation of v grows like sqrt(v), its mean like v), so the
model's own vol-of-VIX ran opposite to Cboe's VVIX (correlation of levels -0.98, median 147
against real +0.42 and 91).  VVIX is therefore generated around the VIX path with the
relation measured on Cboe's histories (2006-2026: OLS of daily changes of ln VVIX on those of
ln VIX, slope 0.55, residual sd 0.041; residual of the levels regression AR(1) 0.95):

    ln VVIX_t = ln 91 + u_t,   u_t = 0.95 u_{t-1} + 0.55 d ln VIX_t + 0.041 e_t,   u_0 = 0,

``e`` standard normal from the seeded block stream 3 (range independent, point in time).
VVIX now rises with VIX (corr of daily changes ~ +0.72, of levels ~ +0.45, median ~ 90 for
seed 7; see the realism table).  SKEW = 100 - 10 * skewness of the 30-day log
return under the chain's lognormal mixture (the crash weight rises as volatility falls).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
from scipy.signal import lfilter

from features import calendar as cal
from features.simulate.chain import crash_weight, mixture_log_skewness, mixture_params
from features.simulate.dynamics import (
    MINUTES_PER_DAY,
    NOW_MINUTE,
    OPEN_MINUTE,
    EventSchedule,
    ModelParams,
    _block_draws,
    expected_variance_at,
    risk_neutral_variance,
    variance_of_variance_at,
)

#: Calendar-day horizons of the Cboe volatility indices.
HORIZON_DAYS = {"VIX9D": 9, "VIX": 30, "VIX3M": 93, "VIX6M": 183}
VX_LISTED = 8
_DAY_YEARS = 1.0 / 365.0


def vix_indices(ordinals: np.ndarray, variance: np.ndarray, schedule: EventSchedule, params: ModelParams) -> dict[str, np.ndarray]:
    """VIX9D, VIX, VIX3M, VIX6M at 16:15 ET of each session (points)."""
    now = ordinals * MINUTES_PER_DAY + NOW_MINUTE
    out = {}
    for name, days in HORIZON_DAYS.items():
        ev = schedule.variance_between(now, now + days * MINUTES_PER_DAY)
        out[name] = 100.0 * np.sqrt(risk_neutral_variance(variance, days * _DAY_YEARS, params.q, ev))
    return out


def vix_squared_at(
    v_t: np.ndarray, start_minute: np.ndarray, schedule: EventSchedule, params: ModelParams
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (A, B) of VIX^2/1e4 = A + B v for a 30-day window starting at ``start_minute``."""
    tau = 30 * _DAY_YEARS
    ev = schedule.variance_between(start_minute, start_minute + 30 * MINUTES_PER_DAY)
    a = risk_neutral_variance(0.0, tau, params.q, ev)
    b = risk_neutral_variance(1.0, tau, params.q, 0.0) - risk_neutral_variance(0.0, tau, params.q, 0.0)
    return np.broadcast_to(a, np.shape(v_t)), np.broadcast_to(b, np.shape(v_t))


def expected_vix_at(
    variance_now: np.ndarray, now_minute: np.ndarray, target_minute: np.ndarray, schedule: EventSchedule, params: ModelParams
) -> tuple[np.ndarray, np.ndarray]:
    """Risk-neutral E[VIX_T] with convexity adjustment, and Var[VIX_T^2/1e4] (T = target).

    Returns (expected VIX in points, variance of VIX^2 in decimal-variance units squared).
    """
    t = (target_minute - now_minute) / 525_600.0
    a, b = vix_squared_at(variance_now, target_minute, schedule, params)
    mu = a + b * expected_variance_at(variance_now, t, params.q)
    s2 = b**2 * variance_of_variance_at(variance_now, t, params.q)
    return 100.0 * np.sqrt(mu) * (1.0 + s2 / mu**2) ** (-0.125), s2


#: Reduced-form VVIX (module docstring): median level, AR(1) of the log deviation, response to
#: d ln VIX and noise sd, all measured on Cboe's VIX and VVIX histories 2006-2026.
VVIX_MEDIAN = 91.0
VVIX_PHI = 0.95
VVIX_BETA = 0.55
VVIX_NOISE = 0.041


def vvix_index(vix: np.ndarray, seed: int) -> np.ndarray:
    """VVIX in points from the VIX path (points, one value per session from the origin)."""
    n = vix.shape[0]
    z, _ = _block_draws(seed, n, 1, 0, stream=3)
    shock = VVIX_BETA * np.r_[0.0, np.diff(np.log(vix))] + VVIX_NOISE * z[:, 0]
    u = lfilter([1.0], [1.0, -VVIX_PHI], shock)  # u_t = phi u_{t-1} + shock_t, vectorized
    return VVIX_MEDIAN * np.exp(u)


def skew_index(vix: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Model SKEW = 100 - 10 * skewness of the 30-day log return under the chain's mixture.

    ``vix`` in points sets the 30-day fair variance, ``variance`` (instantaneous state) the
    day's crash weight.
    """
    t = np.full(vix.shape, 30 * _DAY_YEARS)
    w, m, s = mixture_params((vix / 100.0) ** 2, t, crash_weight(variance))
    return 100.0 - 10.0 * mixture_log_skewness(w, m, s, t)


def vix_term_structure_frame(
    dates: list[date], ordinals: np.ndarray, variance: np.ndarray, schedule: EventSchedule, params: ModelParams, source: str,
    seed: int = 7,
) -> pl.DataFrame:
    """Long frame (date, series, value, source) with all six series for each session (the
    sessions must start at the simulator's origin: VVIX is a recursion from there)."""
    series = vix_indices(ordinals, variance, schedule, params)
    series["VVIX"] = vvix_index(series["VIX"], seed)
    series["SKEW"] = skew_index(series["VIX"], variance)
    n = len(dates)
    date_s = pl.Series("date", dates, dtype=pl.Date)
    frames = [
        pl.DataFrame({"date": date_s, "series": [name] * n, "value": vals.astype(np.float64)})
        for name, vals in series.items()
    ]
    return pl.concat(frames).with_columns(pl.lit(source).alias("source")).sort("date", "series")


def vx_expirations(first: date, last: date) -> np.ndarray:
    """Ordinals of VX monthly expirations for contract months from ``first``'s month to ``last``'s."""
    out = []
    k = 0
    while True:
        y, m = cal.add_months(first.year, first.month, k)
        if (y, m) > (last.year, last.month):
            break
        out.append(cal.vx_expiration(y, m).toordinal())
        k += 1
    return np.array(out, dtype=np.int64)


def vx_futures_frame(
    dates: list[date],
    ordinals: np.ndarray,
    variance: np.ndarray,
    schedule: EventSchedule,
    params: ModelParams,
    seed: int,
    source: str,
    n_listed: int = VX_LISTED,
) -> pl.DataFrame:
    """Settlements of the next ``n_listed`` VX monthly contracts expiring after each session.

    Volume and open interest are plausible magnitudes (front months most active), drawn from
    a range-independent random stream.
    """
    n = len(dates)
    exps = vx_expirations(date.fromordinal(int(ordinals[0])), date.fromordinal(int(ordinals[-1]) + 31 * (n_listed + 2)))
    first = np.searchsorted(exps, ordinals, side="right")
    idx = first[:, None] + np.arange(n_listed)[None, :]
    exp_ord = exps[idx]
    now = (ordinals * MINUTES_PER_DAY + NOW_MINUTE)[:, None]
    target = exp_ord * MINUTES_PER_DAY + OPEN_MINUTE
    settle, _ = expected_vix_at(np.broadcast_to(variance[:, None], exp_ord.shape), np.broadcast_to(now, exp_ord.shape), target, schedule, params)
    z, _ = _block_draws(seed, n, n_listed, 1, stream=1)
    rank = np.arange(n_listed)[None, :]
    volume = np.round(np.exp(11.5 - 0.55 * rank + 0.4 * z)).astype(np.int64)
    oi = np.round(np.exp(12.3 - 0.45 * rank + 0.15 * z)).astype(np.int64)
    exp_dates = pl.Series("expiration", (exp_ord.ravel() - date(1970, 1, 1).toordinal()).astype(np.int32)).cast(pl.Date)
    frame = pl.DataFrame(
        {
            "date": pl.Series("date", np.repeat(np.array(dates, dtype="datetime64[D]"), n_listed)).cast(pl.Date),
            "expiration": exp_dates,
            "settle": np.round(settle.ravel(), 4),
            "volume": volume.ravel(),
            "open_interest": oi.ravel(),
        }
    )
    return frame.select(
        "date",
        pl.format("VX {}", pl.col("expiration").dt.strftime("%Y-%m-%d")).alias("contract"),
        "expiration", "settle", "volume", "open_interest",
        pl.lit(source).alias("source"),
    )
