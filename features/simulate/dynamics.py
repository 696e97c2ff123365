"""Stochastic-volatility-with-jumps dynamics of the simulated S&P 500 and its risk-neutral variance.

Model (one factor, affine, "SVCJ with self-exciting variance jumps")::

    d ln S = drift dt + sqrt(v) dW_S + J_S dN
    dv     = kappa (theta - v) dt + xi sqrt(v) dW_v + J_v dN,      d<W_S, W_v> = rho dt
    N      : Poisson with intensity lambda(v) = lambda0 + lambda1 v   (per year)
    J_v    ~ Exponential(mean mu_v)                  (variance jump, decimal variance)
    J_S    = mu_S + beta J_v + delta eps, eps ~ N(0,1)   (simultaneous price jump, log units)

``v`` is the annualized instantaneous variance (0.04 = 20 % vol). Because the jump intensity
rises with ``v``, a variance jump makes the next one likelier: crises build up over days to
weeks (volatility can triple) and then decay at the mean-reversion speed — volatility
clustering, fat tails and the leverage effect (rho < 0, beta < 0) follow.

The real-world path (measure P) is stepped once per session with business-time
``dt = 1/252`` years (Euler, variance reflected at a small floor); the log drift is a trend
growth of 4.9 %/year plus a weak pull (0.25/year) of ln S toward the trend line from 1450 at
the origin, so the index sits in the low thousands by the 2020s whatever the seed. The
risk-neutral parameters (measure Q) are used, on the calendar clock (ACT/365), for the fair
variance that defines VIX-type indices and the option chains:

    V(tau) = -(2/tau) E_Q[ln(S_tau / F)]
           = (1 + 2 k_J lambda1) * [theta' + (v - theta')(1 - e^{-kappa' tau})/(kappa' tau)]
             + 2 k_J lambda0 + (sum of scheduled event variances in (0, tau]) / tau

with kappa' = kappa - lambda1 mu_v, theta' = (kappa theta + lambda0 mu_v)/kappa' (the mean of
``v`` including the jumps) and k_J = E[e^{J_S}] - 1 - E[J_S] the jump convexity per jump.
Scheduled macro events (FOMC, CPI, PPI) add an independent normal log-return shock of known
variance on their day, so they add their variance to the fair total variance of any horizon
spanning them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

MINUTES_PER_DAY = 1440
MINUTES_PER_YEAR = 525_600
#: Quote time of the end-of-day snapshot and the close, in minutes after midnight ET.
NOW_MINUTE = 16 * 60 + 15
OPEN_MINUTE = 9 * 60 + 30
CLOSE_MINUTE = 16 * 60
#: Release time of each scheduled event, minutes after midnight ET.
EVENT_MINUTE = {"FOMC": 14 * 60, "CPI": 8 * 60 + 30, "PPI": 8 * 60 + 30}


@dataclass(frozen=True)
class VarianceDynamics:
    """Parameters of the affine variance process and its jumps under one measure.

    Attributes
    ----------
    kappa : mean-reversion speed of the diffusive part, per year.
    theta : diffusive long-run variance (annualized decimal variance).
    xi : volatility of variance.
    rho : correlation of the variance and price Brownian motions.
    jump_rate0, jump_rate1 : jump intensity lambda(v) = jump_rate0 + jump_rate1 * v, per year.
    jump_v_mean : mean of the exponential variance jump J_v.
    jump_s_mean, jump_s_beta, jump_s_sd : price jump J_S = mean + beta J_v + sd * eps (log units).
    """

    kappa: float
    theta: float
    xi: float
    rho: float
    jump_rate0: float
    jump_rate1: float
    jump_v_mean: float
    jump_s_mean: float
    jump_s_beta: float
    jump_s_sd: float

    @property
    def effective_kappa(self) -> float:
        """Mean-reversion speed of E[v] including self-exciting jumps: kappa - lambda1 mu_v."""
        return self.kappa - self.jump_rate1 * self.jump_v_mean

    @property
    def effective_theta(self) -> float:
        """Long-run mean of v including jumps: (kappa theta + lambda0 mu_v) / kappa'."""
        return (self.kappa * self.theta + self.jump_rate0 * self.jump_v_mean) / self.effective_kappa

    @property
    def jump_mean(self) -> float:
        """E[J_S] = mu_S + beta mu_v."""
        return self.jump_s_mean + self.jump_s_beta * self.jump_v_mean

    @property
    def jump_mgf1(self) -> float:
        """E[exp(J_S)] = exp(mu_S + delta^2/2) / (1 - beta mu_v)."""
        return math.exp(self.jump_s_mean + 0.5 * self.jump_s_sd**2) / (1.0 - self.jump_s_beta * self.jump_v_mean)

    @property
    def jump_convexity(self) -> float:
        """k_J = E[e^J] - 1 - E[J] >= 0: what one jump adds to -2 E[ln(S_T/F)]."""
        return self.jump_mgf1 - 1.0 - self.jump_mean


@dataclass(frozen=True)
class ModelParams:
    """All parameters of the simulated market.

    ``p`` drives the simulated path, ``q`` prices (VIX family, VX futures, options). The Q
    variance is more persistent and has a higher long-run level than P (a variance risk
    premium, so VIX exceeds subsequently realized volatility on average) and its price
    jumps are larger and more frequent (the skew premium). Levels are index points.
    """

    p: VarianceDynamics = VarianceDynamics(
        kappa=6.0, theta=0.018, xi=0.6, rho=-0.85, jump_rate0=0.5, jump_rate1=35.0,
        jump_v_mean=0.045, jump_s_mean=-0.008, jump_s_beta=-0.6, jump_s_sd=0.03,
    )
    # Q mean reversion 4.5/yr (effective 2.9 with the self-exciting jumps) and long-run
    # 0.04: one-month VX futures then realize ~0.77 annualized vol (real 8-45 day VX 2007-15:
    # 0.68; with 2.6/0.02 they realized 1.16, moving almost one for one with spot VIX) while
    # the VIX percentiles, the VIX/VIX3M inversion share and the term slopes stay within
    # their realism tolerances (scripts/realism_report.py).
    q: VarianceDynamics = VarianceDynamics(
        kappa=4.5, theta=0.04, xi=0.6, rho=-0.85, jump_rate0=1.2, jump_rate1=35.0,
        jump_v_mean=0.045, jump_s_mean=-0.02, jump_s_beta=-0.6, jump_s_sd=0.03,
    )
    #: Variance state at the origin (a volatile start, like January 2000).
    v0: float = 0.04
    #: Variance floor of the Euler scheme (reflecting; full truncation would allow 0 vol).
    v_floor: float = 0.0015
    s0: float = 1450.0
    #: Log growth of the trend the index is weakly pulled to (per year) and the pull speed.
    trend_growth: float = 0.049
    trend_pull: float = 0.25
    #: Share of the diffusive daily variance realized overnight (close -> open gap).
    overnight_share: float = 0.08
    substeps: int = 26
    #: Extra log-return variance on an event day (a sigma of 0.6 % for FOMC, ...).
    event_variance: dict[str, float] = field(
        default_factory=lambda: {"FOMC": 0.006**2, "CPI": 0.0055**2, "PPI": 0.003**2}
    )


DEFAULT_PARAMS = ModelParams()
SESSION_DT = 1.0 / 252.0
_BLOCK = 256


def risk_neutral_variance(
    v: np.ndarray | float,
    tau: np.ndarray | float,
    q: VarianceDynamics,
    event_variance: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Fair (VIX-definition) annualized variance -(2/tau) E_Q[ln(S_tau/F)] over ``tau`` years.

    Parameters
    ----------
    v : instantaneous variance now (annualized decimal).
    tau : horizon in years, ACT/365 (minutes / 525600), > 0.
    q : risk-neutral dynamics.
    event_variance : sum of the scheduled event variances falling inside the horizon
        (decimal, not annualized).

    Returns
    -------
    Annualized decimal variance; 100 * sqrt of it is the VIX-type index for that horizon.
    """
    v = np.asarray(v, dtype=np.float64)
    tau = np.asarray(tau, dtype=np.float64)
    kap, th = q.effective_kappa, q.effective_theta
    x = kap * tau
    # (1 - e^{-x}) / x, with its series near 0 to avoid 0/0.
    ratio = np.where(x > 1e-8, -np.expm1(-x) / np.where(x > 1e-8, x, 1.0), 1.0 - 0.5 * x)
    avg_v = th + (v - th) * ratio
    kj = q.jump_convexity
    return (1.0 + 2.0 * kj * q.jump_rate1) * avg_v + 2.0 * kj * q.jump_rate0 + np.asarray(event_variance) / tau


def expected_variance_at(v: np.ndarray | float, t: np.ndarray | float, q: VarianceDynamics) -> np.ndarray:
    """E_Q[v_t | v_0 = v] = theta' + (v - theta') e^{-kappa' t} (t in years)."""
    kap, th = q.effective_kappa, q.effective_theta
    return th + (np.asarray(v) - th) * np.exp(-kap * np.asarray(t))


def variance_of_variance_at(v: np.ndarray | float, t: np.ndarray | float, q: VarianceDynamics) -> np.ndarray:
    """Var_Q[v_t | v_0 = v] for the affine jump-diffusion (t in years).

    d Var/dt = -2 kappa' Var + c0 + c1 E[v_t], with c1 = xi^2 + lambda1 E[J_v^2],
    c0 = lambda0 E[J_v^2] and E[J_v^2] = 2 mu_v^2 (exponential jumps), solved in closed form.
    """
    v = np.asarray(v, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    kap, th = q.effective_kappa, q.effective_theta
    ej2 = 2.0 * q.jump_v_mean**2
    c1 = q.xi**2 + q.jump_rate1 * ej2
    c0 = q.jump_rate0 * ej2
    e1, e2 = np.exp(-kap * t), np.exp(-2.0 * kap * t)
    return (c0 + c1 * th) * (1.0 - e2) / (2.0 * kap) + c1 * (v - th) * (e1 - e2) / kap


@dataclass(frozen=True)
class EventSchedule:
    """Scheduled events as absolute minutes (ordinal * 1440 + minute ET) with their variances."""

    minutes: np.ndarray  # int64, sorted
    variance: np.ndarray  # float64, decimal log-return variance of each event
    kinds: np.ndarray  # str

    @classmethod
    def from_frame(cls, events: pl.DataFrame, params: ModelParams = DEFAULT_PARAMS) -> "EventSchedule":
        """Build from a (date, event, source) frame; unknown event kinds are ignored."""
        if events.height == 0:
            return cls(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, dtype=object))
        ev = events.filter(pl.col("event").is_in(list(params.event_variance))).select("date", "event").unique()
        ords = np.array([d.toordinal() for d in ev["date"].to_list()], dtype=np.int64)
        kinds = np.array(ev["event"].to_list(), dtype=object)
        minutes = ords * MINUTES_PER_DAY + np.array([EVENT_MINUTE[k] for k in kinds], dtype=np.int64)
        var = np.array([params.event_variance[k] for k in kinds], dtype=np.float64)
        order = np.argsort(minutes, kind="stable")
        return cls(minutes[order], var[order], kinds[order])

    def variance_between(self, start_minute: np.ndarray, end_minute: np.ndarray) -> np.ndarray:
        """Total event variance with event time in (start, end] (vectorized over intervals)."""
        cum = np.concatenate([[0.0], np.cumsum(self.variance)])
        hi = np.searchsorted(self.minutes, np.asarray(end_minute), side="right")
        lo = np.searchsorted(self.minutes, np.asarray(start_minute), side="right")
        return cum[hi] - cum[lo]


def _block_draws(seed: int, n_days: int, n_normal: int, n_uniform: int, stream: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-day random numbers generated in fixed blocks of days.

    Each block of ``_BLOCK`` sessions has its own generator seeded by (seed, stream, block
    index), so the draws of session i never depend on how many sessions were requested;
    ``stream`` separates the users (path, VX volumes, breadth).
    """
    n_blocks = -(-n_days // _BLOCK)
    normals, uniforms = [], []
    for b in range(n_blocks):
        rng = np.random.default_rng([seed, 0x5107, stream, b])
        normals.append(rng.standard_normal((_BLOCK, n_normal)))
        uniforms.append(rng.random((_BLOCK, n_uniform)))
    return np.concatenate(normals)[:n_days], np.concatenate(uniforms)[:n_days]


@dataclass(frozen=True)
class SimulatedPath:
    """Daily arrays of the simulated P path (one entry per session).

    ``variance_day`` is the variance in force during the session, ``variance_close`` the state
    after the session (what is known at the close and prices the 16:15 snapshot).
    """

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    variance_day: np.ndarray
    variance_close: np.ndarray
    n_jumps: np.ndarray
    volume_noise: np.ndarray


def simulate_path(
    ordinals: np.ndarray,
    gap_event_var: np.ndarray,
    intraday_event_var: np.ndarray,
    seed: int,
    params: ModelParams = DEFAULT_PARAMS,
) -> SimulatedPath:
    """Simulate daily OHLC and variance from the first session in ``ordinals``.

    Parameters
    ----------
    ordinals : session dates as proleptic ordinals, ascending; the first one is the origin.
    gap_event_var, intraday_event_var : per session, variance of the pre-open (08:30 CPI/PPI)
        and intraday (14:00 FOMC) event shocks, decimal log-return variance.
    seed : random seed.

    Notes
    -----
    The variance recursion is an Euler step per session (a Python loop over days, scalar
    floats — cheap), the intraday path is then rebuilt vectorized: an overnight gap plus
    ``substeps`` Brownian increments, and high/low are drawn from the exact distribution of
    the maximum/minimum of a Brownian bridge over each substep, so ranges are not biased low.
    """
    p = params.p
    n = len(ordinals)
    ns = params.substeps
    # normals: gap, substeps, variance-orthogonal, jump size, 2 event shocks, volume noise
    nz, nu = ns + 6, 2 * ns + 4
    z, u = _block_draws(seed, n, nz, nu)
    z_gap, z_sub = z[:, 0], z[:, 1 : 1 + ns]
    z_perp, z_jump, z_ev_gap, z_ev_day, z_vol = (z[:, ns + k] for k in range(1, 6))
    u_count, u_e1, u_e2, u_loc = u[:, 0], u[:, 1], u[:, 2], u[:, 3]
    u_hi, u_lo = u[:, 4 : 4 + ns], u[:, 4 + ns : 4 + 2 * ns]

    f = params.overnight_share
    z_total = math.sqrt(f) * z_gap + math.sqrt((1.0 - f) / ns) * z_sub.sum(axis=1)
    e1, e2 = -np.log1p(-u_e1), -np.log1p(-u_e2)  # Exp(1) draws
    years = (ordinals - ordinals[0]) / 365.25
    trend = math.log(params.s0) + params.trend_growth * years
    ev_shock = np.sqrt(gap_event_var) * z_ev_gap + np.sqrt(intraday_event_var) * z_ev_day

    dt = SESSION_DT
    sq_dt = math.sqrt(dt)
    rho_perp = math.sqrt(1.0 - p.rho**2)
    v_day = np.empty(n)
    v_close = np.empty(n)
    x_close = np.empty(n)
    n_jumps = np.zeros(n, dtype=np.int64)
    jump_s = np.zeros(n)
    v, x = params.v0, math.log(params.s0)
    zt, zp, uc, ee1, ee2, zj, es, tr = (a.tolist() for a in (z_total, z_perp, u_count, e1, e2, z_jump, ev_shock, trend))
    for t in range(n):
        m = (p.jump_rate0 + p.jump_rate1 * v) * dt
        p0 = math.exp(-m)
        k = 0 if uc[t] < p0 else (1 if uc[t] < p0 * (1.0 + m) else 2)
        jv = 0.0
        js = 0.0
        if k:
            jv = p.jump_v_mean * (ee1[t] + (ee2[t] if k == 2 else 0.0))
            js = k * p.jump_s_mean + p.jump_s_beta * jv + p.jump_s_sd * math.sqrt(k) * zj[t]
        sd = math.sqrt(v) * sq_dt
        drift = (params.trend_growth - params.trend_pull * (x - tr[t])) * dt
        x += drift + sd * zt[t] + js + es[t]
        v_day[t] = v
        v_next = v + p.kappa * (p.theta - v) * dt + p.xi * sd * (p.rho * zt[t] + rho_perp * zp[t]) + jv
        # reflect at the floor (rather than truncate) so low-vol periods do not stick to it
        v = v_next if v_next >= params.v_floor else 2.0 * params.v_floor - v_next
        v = max(v, params.v_floor)
        v_close[t] = v
        x_close[t] = x
        n_jumps[t] = k
        jump_s[t] = js

    # Rebuild the intraday path: column 0 is the overnight gap, 1..ns the session substeps.
    sd = np.sqrt(v_day * dt)
    sub_sd = math.sqrt((1.0 - f) / ns) * sd
    x_prev = np.concatenate([[math.log(params.s0)], x_close[:-1]])
    drift = x_close - x_prev - sd * z_total - jump_s - ev_shock
    inc = np.empty((n, ns + 1))
    inc[:, 0] = math.sqrt(f) * sd * z_gap + np.sqrt(gap_event_var) * z_ev_gap
    inc[:, 1:] = (drift / ns)[:, None] + sub_sd[:, None] * z_sub
    fomc_col = 1 + (EVENT_MINUTE["FOMC"] - OPEN_MINUTE) * ns // (CLOSE_MINUTE - OPEN_MINUTE)
    inc[:, fomc_col] += np.sqrt(intraday_event_var) * z_ev_day
    loc = np.minimum((u_loc * (ns + 1)).astype(np.int64), ns)
    inc[np.arange(n), loc] += jump_s
    log_open = x_prev + inc[:, 0]
    pts = log_open[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(inc[:, 1:], axis=1)], axis=1)
    a, b = pts[:, :-1], pts[:, 1:]
    s2 = (sub_sd**2)[:, None]
    # max / min of a Brownian bridge from a to b with variance s2: (a+b ± sqrt((b-a)^2 - 2 s2 ln U))/2
    hi = 0.5 * (a + b + np.sqrt((b - a) ** 2 - 2.0 * s2 * np.log1p(-u_hi)))
    lo = 0.5 * (a + b - np.sqrt((b - a) ** 2 - 2.0 * s2 * np.log1p(-u_lo)))
    open_ = np.exp(log_open)
    close = np.exp(x_close)
    high = np.maximum(np.exp(hi.max(axis=1)), np.maximum(open_, close))
    low = np.minimum(np.exp(lo.min(axis=1)), np.minimum(open_, close))
    return SimulatedPath(open_, high, low, close, v_day, v_close, n_jumps, z_vol)


def rate_and_dividend(ordinals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic smooth short rate and dividend yield (continuously compounded decimals).

    r(t) moves between 0 and ~5.5 % over multi-year cycles; q(t) between ~1.3 % and 1.8 %.
    Both are pure functions of the date, hence point-in-time and range independent.
    """
    y = (np.asarray(ordinals, dtype=np.float64) - date(2000, 1, 1).toordinal()) / 365.25
    r = 0.028 + 0.024 * np.sin(2 * np.pi * y / 11.0 + 1.3) + 0.006 * np.sin(2 * np.pi * y / 3.7)
    q = 0.0155 + 0.0025 * np.sin(2 * np.pi * y / 6.5)
    return np.clip(r, 0.0, 0.055), q
