"""Intraday snapshots of the simulated chain: one full chain every few minutes of a session.

Made for sizing (docs/scale.md): an intraday day has the row count, columns and value
distribution of a vendor's 5-minute chain files, so the cost of storing and analysing one
can be measured. The index follows a Brownian bridge (in log price, at the session's
variance) from the previous close at the open to the simulated close at the close, so the
last snapshot agrees with the end-of-day chain's index level. Each snapshot's chain is the
end-of-day chain model evaluated at that snapshot's index level.

Limits (why this is for sizing, not for intraday research): the option model's clock stays
at the close (times to expiry, the event calendar, the variance state and the volume/open
interest draws are the end-of-day ones), and the open starts at the previous close (no
overnight gap).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl

from features.calendar import NY, close_time, previous_session
from features.simulate.market import NY_TZ, DailyMarket, SimulationConfig, simulate_chain

OPEN = time(9, 30)
MINUTES_PER_YEAR = 365.0 * 24 * 60  # ACT/365, as every year fraction in this project


def snapshot_times(day: date, every_minutes: int = 5) -> list[datetime]:
    """Snapshot instants of ``day`` (America/New_York): every ``every_minutes`` after the
    09:30 open through the close (16:00 or the early close). 78 for 5 minutes on a full day."""
    if every_minutes < 1:
        raise ValueError(f"every_minutes must be at least 1 (got {every_minutes})")
    start = datetime.combine(day, OPEN, tzinfo=NY)
    end = close_time(day)
    n = int((end - start).total_seconds() // 60) // every_minutes
    return [start + timedelta(minutes=every_minutes * (i + 1)) for i in range(n)]


def intraday_spot_path(day: date, daily: DailyMarket, times: list[datetime], seed: int) -> np.ndarray:
    """Index levels (points) at ``times``: a log-price Brownian bridge from the previous close
    (at the open) to ``day``'s close, with the variance of the previous close (annualized)."""
    state = daily.state
    today = state.filter(pl.col("date") == day)
    before = state.filter(pl.col("date") == previous_session(day))
    if today.height != 1 or before.height != 1:
        raise ValueError(f"{day} and the session before it must be simulated")
    x0, x1 = np.log(float(before["spot"][0])), np.log(float(today["spot"][0]))
    sigma = np.sqrt(float(before["variance"][0]))
    open_ = datetime.combine(day, OPEN, tzinfo=NY)
    minutes = np.array([(t - open_).total_seconds() / 60.0 for t in times])
    total = minutes[-1]
    u = minutes / total
    rng = np.random.default_rng([seed, day.toordinal(), 5])
    steps = rng.standard_normal(len(times)) * np.sqrt(np.diff(np.r_[0.0, minutes]) / MINUTES_PER_YEAR)
    walk = np.cumsum(steps)
    bridge = walk - u * walk[-1]  # zero at the open and at the close
    return np.exp(x0 + (x1 - x0) * u + sigma * bridge)


def simulate_intraday_chains(
    day: date, daily: DailyMarket, config: SimulationConfig, every_minutes: int = 5
) -> pl.DataFrame:
    """Every snapshot's chain of ``day`` (canonical ``spx_options`` columns,
    ``snapshot_kind`` "intraday", ``snapshot_time`` the snapshot instant)."""
    times = snapshot_times(day, every_minutes)
    spots = intraday_spot_path(day, daily, times, config.seed)
    frames = []
    for when, spot in zip(times, spots):  # one chain per snapshot (78 a day), each vectorized
        state = daily.state.with_columns(
            pl.when(pl.col("date") == day).then(pl.lit(float(spot))).otherwise(pl.col("spot")).alias("spot")
        )
        chain = simulate_chain(day, replace(daily, state=state), config)
        frames.append(chain.with_columns(
            pl.lit(when).cast(pl.Datetime("us", NY_TZ)).alias("snapshot_time"),
            pl.lit("intraday").alias("snapshot_kind"),
        ))
    return pl.concat(frames)
