"""Synthetic canonical ``spx_options`` chains with known forward, rate and volatility.

Prices come from the Black-76 formula (``features.black76.black76_price``, itself checked
against pyvolr in ``test_black76.py``), so every analytic built on the chain has a known
true answer: the forward ``S e^{(r-q)T}``, the discount factor ``e^{-rT}`` and the
generating volatility.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from features.black76 import black76_price

NY = ZoneInfo("America/New_York")


def settlement_years(quote_date: date, expiration: date, settlement: str, now: datetime | None = None) -> float:
    """Wall-clock minutes from ``now`` (default 16:15 ET) to settlement, / 525,600."""
    now = now or datetime.combine(quote_date, time(16, 15))
    now = now.replace(tzinfo=None)
    clock = time(9, 30) if settlement == "AM" else time(16, 0)
    return (datetime.combine(expiration, clock) - now).total_seconds() / 60.0 / 525_600.0


def make_chain(
    quote_date: date,
    expiries: list[tuple[str, date]],
    *,
    spot: float = 4000.0,
    rate: float = 0.05,
    div_yield: float = 0.015,
    vol: Callable[[np.ndarray, float], np.ndarray] | float = 0.2,
    strike_step: float = 5.0,
    strike_range: tuple[float, float] = (0.3, 2.0),
    half_spread: float = 0.0,
    min_price: float = 0.0,
    snapshot_kind: str = "eod",
    snapshot_time: datetime | None = None,
) -> pl.DataFrame:
    """Build one session's chain.

    ``vol`` is a constant or a function ``vol(log_moneyness ln(K/F), T_years)``.
    Quotes are ``price +- half_spread`` (bid floored at 0); options whose model price is
    below ``min_price`` get a zero bid, like unquoted far wings.
    """
    snap = snapshot_time or datetime.combine(quote_date, time(16, 15), tzinfo=NY)
    frames = []
    for root, expiration in expiries:  # a handful of expiries
        settlement = "AM" if root == "SPX" else "PM"
        years = settlement_years(quote_date, expiration, settlement, None if snapshot_kind == "eod" else snap)
        fwd = spot * np.exp((rate - div_yield) * years)
        disc = np.exp(-rate * years)
        strikes = np.arange(
            np.ceil(spot * strike_range[0] / strike_step) * strike_step, spot * strike_range[1], strike_step
        )
        k = np.concatenate([strikes, strikes])
        is_call = np.concatenate([np.ones(strikes.size, bool), np.zeros(strikes.size, bool)])
        sig = vol(np.log(k / fwd), years) if callable(vol) else np.full(k.size, float(vol))
        price = black76_price(fwd, k, years, sig, disc, is_call)
        bid = np.maximum(price - half_spread, 0.0)
        bid = np.where(price < min_price, 0.0, bid)
        ask = price + half_spread
        frames.append(
            pl.DataFrame(
                {
                    "root": root,
                    "expiration": expiration,
                    "settlement": settlement,
                    "strike": k,
                    "option_type": np.where(is_call, "C", "P"),
                    "bid": bid,
                    "ask": ask,
                    "model_price": price,
                    "model_vol": sig,
                    "model_forward": np.full(k.size, fwd),
                    "model_discount": np.full(k.size, disc),
                }
            )
        )
    out = pl.concat(frames)
    return out.with_columns(
        pl.lit(quote_date).alias("quote_date"),
        pl.lit(snap).cast(pl.Datetime("us", "America/New_York")).alias("snapshot_time"),
        pl.lit(snapshot_kind).alias("snapshot_kind"),
        pl.lit(None, pl.Int64).alias("bid_size"),
        pl.lit(None, pl.Int64).alias("ask_size"),
        pl.lit(None, pl.Float64).alias("last"),
        pl.lit(None, pl.Int64).alias("volume"),
        pl.lit(None, pl.Int64).alias("open_interest"),
        pl.lit(spot).alias("underlying_price"),
        pl.lit(None, pl.Float64).alias("vendor_iv"),
        pl.lit(None, pl.Float64).alias("vendor_delta"),
        pl.lit(None, pl.Float64).alias("vendor_gamma"),
        pl.lit("simulator:seed=0").alias("source"),
    )
