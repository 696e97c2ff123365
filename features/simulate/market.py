"""Top-level API of the embedded default market: a seeded, point-in-time simulator.

* :func:`simulate_daily` simulates from the fixed origin through the last requested session
  and returns the daily tables (SPX OHLC, VIX family, VX futures, NYSE breadth) plus the
  model state needed to price option chains. Because the path always starts at
  ``config.origin`` and every random number of session i comes from a generator keyed by
  (seed, block of i), the row for a date never depends on the requested range.
* :func:`simulate_chain` prices one session's full SPX/SPXW end-of-day chain from that
  state; its randomness (volumes, sizes) comes from ``default_rng([seed, day.toordinal()])``.

Output frames carry exactly the canonical columns and dtypes of the warehouse contracts
(``spx_daily``, ``vix_term_structure``, ``vx_futures``, ``breadth_daily``, ``spx_options``),
with ``source = "simulator:seed=<seed>"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from features.simulate import chain as ch
from features.simulate.breadth import breadth_frame
from features.simulate.dynamics import (
    DEFAULT_PARAMS,
    EVENT_MINUTE,
    MINUTES_PER_DAY,
    NOW_MINUTE,
    EventSchedule,
    ModelParams,
    rate_and_dividend,
    risk_neutral_variance,
    simulate_path,
)
from features.simulate.vix import vix_term_structure_frame, vx_futures_frame

NY = ZoneInfo("America/New_York")
NY_TZ = "America/New_York"


@dataclass(frozen=True)
class SimulationConfig:
    """Simulator settings: seed, chain density ("default" 10–20 k rows/day, "small" 1–2 k) and origin."""

    seed: int = 7
    chain_size: Literal["default", "small"] = "default"
    origin: date = date(2000, 1, 3)

    @property
    def source(self) -> str:
        return f"simulator:seed={self.seed}"


@dataclass(frozen=True)
class DailyMarket:
    """Daily simulated tables.

    ``state`` (date, spot, variance, variance_day, rate, dividend_yield, n_jumps) holds the
    model state at each close: ``variance`` is the instantaneous annualized variance after the
    session (prices the 16:15 ET snapshot), ``rate`` / ``dividend_yield`` are continuously
    compounded decimals. ``events`` (date, event) is the scheduled-event calendar the
    simulation used (needed to price chains across upcoming events).
    """

    spx_daily: pl.DataFrame
    vix_term_structure: pl.DataFrame
    vx_futures: pl.DataFrame
    breadth_daily: pl.DataFrame
    state: pl.DataFrame
    events: pl.DataFrame


def _session_event_variance(
    ordinals: np.ndarray, schedule: EventSchedule
) -> tuple[np.ndarray, np.ndarray]:
    """Per session, the pre-open (CPI/PPI 08:30) and intraday (FOMC 14:00) event variances."""
    day = schedule.minutes // MINUTES_PER_DAY
    premarket = (schedule.minutes % MINUTES_PER_DAY) < EVENT_MINUTE["FOMC"]
    pos = np.searchsorted(ordinals, day)
    on_session = (pos < len(ordinals)) & (ordinals[np.minimum(pos, len(ordinals) - 1)] == day)
    gap = np.zeros(len(ordinals))
    intraday = np.zeros(len(ordinals))
    np.add.at(gap, pos[on_session & premarket], schedule.variance[on_session & premarket])
    np.add.at(intraday, pos[on_session & ~premarket], schedule.variance[on_session & ~premarket])
    return gap, intraday


def simulate_daily(
    sessions: Sequence[date],
    events: pl.DataFrame,
    config: SimulationConfig,
    params: ModelParams = DEFAULT_PARAMS,
) -> DailyMarket:
    """Simulate the daily market from ``config.origin`` through ``sessions[-1]``.

    Parameters
    ----------
    sessions : ordered NYSE sessions starting at ``config.origin``.
    events : frame (date, event in {FOMC, CPI, PPI}, source): the full scheduled calendar.
        Event days get an extra return shock; VIX-type indices and chains include the
        scheduled events inside their horizon (schedules are public in advance).
    config : seed / chain size / origin.

    Raises
    ------
    ValueError : if ``sessions`` is empty, unordered or does not start at ``config.origin``.
    """
    sessions = list(sessions)
    if not sessions or sessions[0] != config.origin:
        raise ValueError(f"sessions must start at the origin {config.origin} (got {sessions[:1]})")
    ordinals = np.array([d.toordinal() for d in sessions], dtype=np.int64)
    if np.any(np.diff(ordinals) <= 0):
        raise ValueError("sessions must be strictly increasing")
    events = events.select(pl.col("date").cast(pl.Date), pl.col("event").cast(pl.String)).unique().sort("date", "event")
    schedule = EventSchedule.from_frame(events, params)
    gap_var, intraday_var = _session_event_variance(ordinals, schedule)
    path = simulate_path(ordinals, gap_var, intraday_var, config.seed, params)
    rate, div = rate_and_dividend(ordinals)
    src = config.source
    date_s = pl.Series("date", sessions, dtype=pl.Date)

    years = (ordinals - ordinals[0]) / 365.25
    volume = np.round(
        np.exp(np.log(1.0e9) + 0.045 * years + 0.5 * np.log(path.variance_day / 0.02) + 0.2 * path.volume_noise)
    ).astype(np.int64)
    spx_daily = pl.DataFrame(
        {
            "date": date_s,
            "open": path.open, "high": path.high, "low": path.low, "close": path.close,
            "volume": volume,
            "source": [src] * len(sessions),
        }
    )
    log_ret = np.diff(np.log(np.concatenate([[params.s0], path.close])))
    state = pl.DataFrame(
        {
            "date": date_s,
            "spot": path.close,
            "variance": path.variance_close,
            "variance_day": path.variance_day,
            "rate": rate,
            "dividend_yield": div,
            "n_jumps": path.n_jumps,
        }
    )
    return DailyMarket(
        spx_daily=spx_daily,
        vix_term_structure=vix_term_structure_frame(sessions, ordinals, path.variance_close, schedule, params, src, config.seed),
        vx_futures=vx_futures_frame(sessions, ordinals, path.variance_close, schedule, params, config.seed, src),
        breadth_daily=breadth_frame(sessions, ordinals, log_ret, path.variance_day, config.seed, src),
        state=state,
        events=events,
    )


def chain_model_prices(
    day: date, daily: DailyMarket, config: SimulationConfig, params: ModelParams = DEFAULT_PARAMS
) -> tuple[list[ch.Expiry], dict[str, np.ndarray]]:
    """Listed expirations and unrounded model prices (one row per expiry x strike) for ``day``.

    Exposed so tests can check the no-arbitrage properties on the model prices themselves.
    """
    row = daily.state.filter(pl.col("date") == day)
    if row.height != 1:
        raise ValueError(f"{day} is not a simulated session")
    inputs = ch.ChainInputs(
        day=day,
        spot=float(row["spot"][0]),
        variance=float(row["variance"][0]),
        rate=float(row["rate"][0]),
        dividend_yield=float(row["dividend_yield"][0]),
    )
    schedule = EventSchedule.from_frame(daily.events, params)
    now = day.toordinal() * MINUTES_PER_DAY + NOW_MINUTE
    layout = ch.LAYOUTS[config.chain_size]
    expiries = ch.listed_expirations(day, layout)

    def fair_variance(t: np.ndarray, settle_minute: np.ndarray) -> np.ndarray:
        ev = schedule.variance_between(np.full(settle_minute.shape, now), settle_minute)
        return risk_neutral_variance(inputs.variance, t, params.q, ev)

    arrays = ch.price_chain_arrays(inputs, expiries, fair_variance, layout)
    arrays["spot"] = np.full(arrays["strike"].shape, inputs.spot)
    return expiries, arrays


def simulate_chain(
    day: date, daily: DailyMarket, config: SimulationConfig, params: ModelParams = DEFAULT_PARAMS
) -> pl.DataFrame:
    """One session's end-of-day SPX/SPXW chain (canonical ``spx_options`` columns).

    snapshot_kind "eod", snapshot_time = ``day`` 16:15 America/New_York; vendor IV/greeks null;
    ``last`` = the model price rounded to a tick when the contract traded, else null; volume
    and open interest concentrate near the money and in short-dated / monthly expiries.
    """
    expiries, a = chain_model_prices(day, daily, config, params)
    rng = np.random.default_rng([config.seed, day.toordinal()])
    n = len(a["strike"])
    x = np.log(a["strike"] / a["forward"])
    z = np.abs(x) / a["total_sd"]
    is_spx = np.array([e.root == "SPX" for e in expiries])[a["expiry"]]
    monthly = np.array([e.monthly for e in expiries])[a["expiry"]]
    exp_days = (np.array([e.expiration.toordinal() for e in expiries], dtype=np.int64) - date(1970, 1, 1).toordinal())[a["expiry"]]

    # calls first, then puts (vectorized over both)
    model = np.concatenate([a["call"], a["put"]])
    zz = np.concatenate([z, z])
    bid, ask = ch.quote(model, zz, np.concatenate([x, x]))
    otm = np.concatenate([x > 0, x <= 0])
    t2 = np.concatenate([a["t"], a["t"]])
    mon2 = np.concatenate([monthly, monthly])
    activity = np.exp(-0.5 * (zz / 1.3) ** 2) * np.where(otm, 1.0, 0.35)
    lam_vol = 600.0 * activity / (1.0 + 25.0 * t2) * np.where(mon2, 2.0, 1.0)
    volume = rng.poisson(lam_vol)
    lam_oi = 4000.0 * np.exp(-0.5 * (zz / 2.5) ** 2) * np.minimum(1.0, 0.2 + 8.0 * t2) * np.where(mon2, 3.0, 1.0)
    oi = rng.poisson(lam_oi)
    bid_size = np.where(bid > 0, rng.geometric(0.04, 2 * n), 0)
    ask_size = rng.geometric(0.04, 2 * n)
    tick = np.where(model >= 3.0, 0.10, 0.05)
    last = np.clip(np.round(np.round(model / tick) * tick, 2), bid, ask)
    last = np.where(volume > 0, np.maximum(last, 0.05), np.nan)

    root_codes = np.concatenate([is_spx, is_spx])
    snapshot = datetime(day.year, day.month, day.day, 16, 15, tzinfo=NY)
    frame = pl.DataFrame(
        {
            "is_spx": root_codes,
            "expiration": pl.Series(np.concatenate([exp_days, exp_days]).astype(np.int32)).cast(pl.Date),
            "strike": np.concatenate([a["strike"], a["strike"]]),
            "is_call": np.arange(2 * n) < n,
            "bid": bid,
            "ask": ask,
            "bid_size": bid_size.astype(np.int64),
            "ask_size": ask_size.astype(np.int64),
            "last": pl.Series(last).fill_nan(None),
            "volume": volume.astype(np.int64),
            "open_interest": oi.astype(np.int64),
        }
    )
    return frame.select(
        pl.lit(day, dtype=pl.Date).alias("quote_date"),
        pl.lit(snapshot).cast(pl.Datetime("us", NY_TZ)).alias("snapshot_time"),
        pl.lit("eod").alias("snapshot_kind"),
        pl.when("is_spx").then(pl.lit("SPX")).otherwise(pl.lit("SPXW")).alias("root"),
        "expiration",
        pl.when("is_spx").then(pl.lit("AM")).otherwise(pl.lit("PM")).alias("settlement"),
        "strike",
        pl.when("is_call").then(pl.lit("C")).otherwise(pl.lit("P")).alias("option_type"),
        "bid", "ask", "bid_size", "ask_size", "last", "volume", "open_interest",
        pl.lit(a["spot"][0] if n else float("nan"), dtype=pl.Float64).alias("underlying_price"),
        pl.lit(None, dtype=pl.Float64).alias("vendor_iv"),
        pl.lit(None, dtype=pl.Float64).alias("vendor_delta"),
        pl.lit(None, dtype=pl.Float64).alias("vendor_gamma"),
        pl.lit(config.source).alias("source"),
    )
