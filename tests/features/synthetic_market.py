"""Seeded synthetic market history in the warehouse's canonical frame shapes (a test helper).

Used by the tests of the market features where real data is absent or too
large. It is a simulator, not a model of record: a stochastic-volatility random walk for
the S&P 500 (log-vol Ornstein–Uhlenbeck with occasional jumps to a stressed state), breadth
counts driven by the daily return, a VIX family tied to the current vol with mean
reversion across tenors, monthly VX futures on the standard expiration rule and a
FOMC/CPI/PPI calendar. Every frame carries ``source = "simulator:seed=<n>"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from features.calendar import holidays_array, is_monthly_vx_expiration_expr


@dataclass(frozen=True)
class SyntheticMarket:
    """The canonical input frames of :func:`features.market_features.market_features`."""

    spx_daily: pl.DataFrame
    breadth: pl.DataFrame
    vix_ts: pl.DataFrame
    vx_futures: pl.DataFrame
    events: pl.DataFrame


def sessions(start: date, n: int) -> np.ndarray:
    """The first ``n`` NYSE sessions on or after ``start`` (datetime64[D])."""
    hol = holidays_array(start, start + timedelta(days=int(n * 1.6) + 30))
    first = np.busday_offset(np.datetime64(start), 0, roll="forward", holidays=hol)
    return np.busday_offset(first, np.arange(n), roll="forward", holidays=hol)


def simulate_market(
    n_days: int = 2520, seed: int = 0, start: date = date(2010, 1, 4), missing_share: float = 0.01
) -> SyntheticMarket:
    """Simulate ``n_days`` sessions of SPX OHLC, breadth, VIX family, VX futures and events.

    ``missing_share`` of the VIX-family and breadth rows are dropped at random so callers
    exercise the null handling of the joins.
    """
    rng = np.random.default_rng(seed)
    src = f"simulator:seed={seed}"
    d = sessions(start, n_days)
    # Log-vol OU around log(0.15) with rare jumps (stress episodes) that decay.
    log_vol = np.empty(n_days)
    lv, mean, kappa, eta = np.log(0.15), np.log(0.15), 0.03, 0.08
    shocks = rng.normal(size=n_days)
    jumps = (rng.random(n_days) < 0.004) * rng.uniform(0.6, 1.2, n_days)
    for t in range(n_days):  # simulator only: an AR(1) recursion over days
        lv = lv + kappa * (mean - lv) + eta * shocks[t] + jumps[t]
        log_vol[t] = lv
    vol = np.exp(log_vol)
    daily = vol / np.sqrt(252.0)
    ret = daily * rng.normal(size=n_days) - 0.5 * daily**2
    close = 1100.0 * np.exp(np.cumsum(ret))
    prev = np.concatenate([[1100.0], close[:-1]])
    open_ = prev * np.exp(0.3 * daily * rng.normal(size=n_days))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(size=n_days)) * 0.5 * daily)
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(size=n_days)) * 0.5 * daily)
    spx = pl.DataFrame(
        {
            "date": pl.Series(d.astype("datetime64[D]")).cast(pl.Date),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.integers(2_000_000_000, 5_000_000_000, n_days),
            "source": src,
        }
    ).with_columns(pl.col("date").cast(pl.Date))

    total = 2800
    share_up = 1.0 / (1.0 + np.exp(-ret / daily * 1.2))
    unch = rng.integers(20, 80, n_days)
    adv = np.clip(np.round((total - unch) * share_up + rng.normal(0, 60, n_days)), 0, total - unch).astype(np.int64)
    dec = (total - unch - adv).astype(np.int64)
    keep_b = rng.random(n_days) >= missing_share
    breadth = pl.DataFrame(
        {"date": spx["date"], "advancing": adv, "declining": dec, "unchanged": unch.astype(np.int64), "source": src}
    ).filter(pl.Series(keep_b))

    vix = 100.0 * vol * 1.15 * np.exp(0.03 * rng.normal(size=n_days))
    long_run = 20.0
    levels = {
        "VIX9D": np.maximum(vix + 0.6 * (vix - long_run) * 0.4 + rng.normal(0, 0.4, n_days), 5.0),
        "VIX": vix,
        "VIX3M": long_run + 0.65 * (vix - long_run) + 1.2 + rng.normal(0, 0.3, n_days),
        "VIX6M": long_run + 0.45 * (vix - long_run) + 2.0 + rng.normal(0, 0.3, n_days),
        "VVIX": 85.0 + 1.5 * (vix - 16.0) + rng.normal(0, 3.0, n_days),
    }
    vix_frames = []
    for name, values in levels.items():  # five series
        keep = rng.random(n_days) >= missing_share
        vix_frames.append(
            pl.DataFrame({"date": spx["date"], "series": name, "value": np.maximum(values, 1.0), "source": src}).filter(
                pl.Series(keep)
            )
        )
    vix_ts = pl.concat(vix_frames)

    # Monthly VX expirations covering the history plus nine months.
    first, last = d[0].astype(date), d[-1].astype(date) + timedelta(days=300)
    cand = pl.DataFrame({"expiration": pl.date_range(first, last, "1d", eager=True)}).filter(
        is_monthly_vx_expiration_expr(pl.col("expiration")) & (pl.col("expiration").dt.weekday() == 3)
    )
    state = pl.DataFrame({"date": spx["date"], "_vix": vix})
    vx = (
        state.join(cand, how="cross")
        .with_columns(dte=(pl.col("expiration") - pl.col("date")).dt.total_days())
        .filter((pl.col("dte") >= 0) & (pl.col("dte") <= 270))
        .with_columns(
            settle=(long_run + 1.5 + (pl.col("_vix") - long_run - 1.5) * (-pl.col("dte") / 75.0).exp()).round(2),
            contract=pl.lit("VX ") + pl.col("expiration").cast(pl.String),
            volume=pl.lit(1000, pl.Int64),
            open_interest=pl.lit(10_000, pl.Int64),
            source=pl.lit(src),
        )
        .select("date", "contract", "expiration", "settle", "volume", "open_interest", "source")
    )

    # FOMC: every 30th session; CPI: every 21st session from 8; PPI: the session after CPI.
    idx = np.arange(n_days + 60)
    ext = sessions(first, n_days + 60).astype("datetime64[D]")
    fomc = ext[idx[(idx % 30) == 17]]
    cpi = ext[idx[(idx % 21) == 8]]
    ppi = ext[idx[(idx % 21) == 9]]
    events = pl.concat(
        [
            pl.DataFrame({"date": pl.Series(v).cast(pl.Date), "event": k, "source": "rule:synthetic"})
            for k, v in (("FOMC", fomc), ("CPI", cpi), ("PPI", ppi))
        ]
    ).with_columns(pl.col("date").cast(pl.Date))
    return SyntheticMarket(spx, breadth, vix_ts, vx, events)
