"""The real-path SPX option chain: for each real session, the contracts the strategies can select.

Inputs are one row per session of real closes (:func:`features.realpath.inputs.daily_inputs`):
S&P 500 close, VIX9D/VIX/VIX3M/VIX6M, SKEW and the T-bill yield. Output rows have the
canonical ``spx_options`` columns, ``snapshot_kind = "eod"`` at 16:15 ET, and
``source = SOURCE`` (never a ``file:`` tag, so they are never taken for vendor quotes; a real
vendor chain of the same session wins as for simulated rows).

What is listed (kept lean so that 2005-2025 fits in memory and time):

* **expirations**: standard monthly ``SPX`` (AM-settled; third Friday, the Thursday before
  when that Friday is a holiday) and, from :data:`WEEKLIES_FROM` (Cboe's first SPX Weeklys),
  ``SPXW`` Friday weeklies (PM-settled; Thursday when Friday is a holiday), each with
  1 .. :data:`MAX_DAYS` calendar days to expiry. That covers the condor rules (entry 30-60
  DTE, held to expiration or earlier exits), CNDR (next monthly, held to expiration) and
  the hedge rules, which trade VIX options on the VX curve and need no SPX chain. Not
  listed: quarterlies, end-of-month and 0-2 DTE dailies, expiries beyond 66 days.
* **strikes**: a 5-point grid from ``F exp(-5 sigma_atm sqrt T)`` to ``F exp(3.5 sigma_atm sqrt T)``
  (at least +-2.5 %): below about 0.1 delta on both sides, so the CNDR 5-delta wings, the
  condor's 16-delta shorts with 50-point wings, and strikes tested later in a position's life
  are all quoted.
* **prices**: Black-76 on ``F = S exp((r - q) T)``, ``D = exp(-r T)`` (``r`` the T-bill bond-equivalent
  yield, ``q`` = :data:`DIVIDEND_YIELD`), vol from :mod:`features.realpath.surface`; time as
  in :func:`features.option_features.add_expiry_times` (16:15 ET to 09:30 AM / 16:00 PM settlement).
* **bid/ask**: the spread model fitted to real chains (:data:`~features.realpath.calibration.DEFAULT_SPREADS`)
  around the model mid, rounded out to Cboe's ticks (0.05 below 3.00, 0.10 above); bid
  floored at 0. Sizes, volume, open interest and vendor IV/greeks are null (no such data).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from features.black76 import black76_price
from features.calendar import is_session, is_third_friday, previous_session
from features.realpath.calibration import DEFAULT_SPREADS, SpreadModel
from features.realpath.surface import DEFAULT_SMILE, SmileParams, atm_vol_from_variance_swap, skew_slope, smile_ratio, variance_swap_vol

__all__ = ["SOURCE", "WEEKLIES_FROM", "MAX_DAYS", "DIVIDEND_YIELD", "expirations", "build_chain"]

SOURCE = "realpath:surface=vixfamily-skew;v1"
WEEKLIES_FROM = date(2005, 10, 28)
MAX_DAYS = 66
#: S&P 500 dividend yield used for the forward (decimal per year; the 2005-2025 average is ~1.9-2.0 %).
DIVIDEND_YIELD = 0.019
STRIKE_STEP = 5.0
X_LOW, X_HIGH, MIN_WIDTH = -5.0, 3.5, 0.025
MINUTES_PER_YEAR = 525_600.0


def _expiry_day(friday: date) -> date:
    return friday if is_session(friday) else previous_session(friday)


def expirations(first: date, last: date) -> pl.DataFrame:
    """``expiration, root, settlement`` of the listed expiries between ``first`` and ``last``."""
    rows = []
    d = first - timedelta(days=(first.weekday() - 4) % 7)  # the Friday on or before ``first``
    while d <= last:  # one step per week: ~52 a year, not per option
        if is_third_friday(d):
            rows.append((_expiry_day(d), "SPX", "AM"))
        elif d >= WEEKLIES_FROM:
            rows.append((_expiry_day(d), "SPXW", "PM"))
        d += timedelta(days=7)
    return pl.DataFrame(rows, schema={"expiration": pl.Date, "root": pl.String, "settlement": pl.String}, orient="row")


def _tick_round(x: np.ndarray, up: bool) -> np.ndarray:
    tick = np.where(x < 3.0, 0.05, 0.10)
    q = x / tick
    return np.round((np.ceil(q - 1e-9) if up else np.floor(q + 1e-9)) * tick, 2)


def build_chain(inputs: pl.DataFrame, roots: tuple[str, ...] = ("SPX", "SPXW"),
                smile: SmileParams = DEFAULT_SMILE, spreads: SpreadModel = DEFAULT_SPREADS) -> pl.DataFrame:
    """The real-path chain for every session of ``inputs``.

    Parameters
    ----------
    inputs : ``date, close, VIX9D, VIX, VIX3M, VIX6M, SKEW, rate`` (index points; ``rate`` decimal,
        simple ACT/365). Sessions without a VIX close get no chain.
    roots : which roots to list (``("SPX",)`` for the CNDR yardstick alone).
    """
    days = inputs.filter(pl.col("VIX").is_not_null() & pl.col("close").is_not_null()).sort("date")
    if days.height == 0:
        return _empty()
    exp = expirations(days["date"].min(), days["date"].max() + timedelta(days=MAX_DAYS)).filter(pl.col("root").is_in(list(roots)))
    pairs = (
        days.join(exp, how="cross")
        .with_columns((pl.col("expiration") - pl.col("date")).dt.total_days().alias("_days"))
        .filter(pl.col("_days").is_between(1, MAX_DAYS))
    )
    if pairs.height == 0:
        return _empty()
    minutes = pairs["_days"].to_numpy() * 1440.0 - np.where(pairs["settlement"].to_numpy() == "AM", 405.0, 15.0)
    t = minutes / MINUTES_PER_YEAR
    s = pairs["close"].to_numpy()
    r = pairs["rate"].fill_null(0.0).to_numpy()
    fwd = s * np.exp((r - DIVIDEND_YIELD) * t)
    disc = np.exp(-r * t)
    skew = pairs["SKEW"].to_numpy().astype(float)
    slope = skew_slope(skew, t, smile)
    atm = atm_vol_from_variance_swap(
        variance_swap_vol(pairs.select("VIX9D", "VIX", "VIX3M", "VIX6M").to_numpy().astype(float), t), t, slope, smile)
    width = atm * np.sqrt(t)
    k_lo = np.floor(fwd * np.exp(np.minimum(X_LOW * width, -MIN_WIDTH)) / STRIKE_STEP) * STRIKE_STEP
    k_hi = np.ceil(fwd * np.exp(np.maximum(X_HIGH * width, MIN_WIDTH)) / STRIKE_STEP) * STRIKE_STEP
    k_lo = np.maximum(k_lo, STRIKE_STEP)
    n = ((k_hi - k_lo) / STRIKE_STEP).astype(np.int64) + 1
    idx = np.repeat(np.arange(pairs.height), n)
    offset = np.arange(idx.size) - np.repeat(np.cumsum(n) - n, n)
    strike = k_lo[idx] + STRIKE_STEP * offset
    f_, t_, d_ = fwd[idx], t[idx], disc[idx]
    x = np.log(strike / f_) / width[idx]
    iv = atm[idx] * smile_ratio(x, slope[idx], smile)
    sides = []
    for is_call in (True, False):  # two sides, each vectorized over all rows
        mid = black76_price(f_, strike, t_, iv, d_, np.full(idx.size, is_call))
        spread = np.exp(spreads.a) * np.maximum(mid, 0.05) ** spreads.b * (t_ * 365.0) ** spreads.c * np.exp(spreads.d * np.abs(x))
        bid = np.maximum(_tick_round(mid - spread / 2, up=False), 0.0)
        ask = np.maximum(_tick_round(mid + spread / 2, up=True), bid + 0.05)
        sides.append((bid, np.round(ask, 2)))
    # rows in (session, expiry, strike, call/put) order: the two sides interleaved, no sort

    def both(call: np.ndarray, put: np.ndarray) -> np.ndarray:
        out = np.empty(2 * call.size, dtype=call.dtype)
        out[0::2], out[1::2] = call, put
        return out

    contracts = pl.DataFrame({
        "_pair": both(idx, idx), "strike": both(strike, strike),
        "option_type": np.tile(np.array(["C", "P"]), idx.size),
        "bid": both(sides[0][0], sides[1][0]), "ask": both(sides[0][1], sides[1][1]),
    })
    head = pairs.select(
        pl.col("date").alias("quote_date"), "root", "expiration", "settlement", pl.col("close").alias("underlying_price"),
    ).with_row_index("_pair").with_columns(pl.col("_pair").cast(pl.Int64))
    snap = (pl.col("quote_date").cast(pl.Datetime("us")) + pl.duration(hours=16, minutes=15)).dt.replace_time_zone("America/New_York")
    return contracts.join(head, on="_pair").select(
        "quote_date", snap.alias("snapshot_time"), pl.lit("eod").alias("snapshot_kind"), "root", "expiration", "settlement",
        "strike", "option_type", "bid", "ask", pl.lit(None, pl.Int64).alias("bid_size"), pl.lit(None, pl.Int64).alias("ask_size"),
        pl.lit(None, pl.Float64).alias("last"), pl.lit(None, pl.Int64).alias("volume"), pl.lit(None, pl.Int64).alias("open_interest"),
        "underlying_price", pl.lit(None, pl.Float64).alias("vendor_iv"), pl.lit(None, pl.Float64).alias("vendor_delta"),
        pl.lit(None, pl.Float64).alias("vendor_gamma"), pl.lit(SOURCE).alias("source"),
    )  # in session order already: the pairs follow the sorted sessions (no sort of millions of rows)


def _empty() -> pl.DataFrame:
    from features.realpath.inputs import SPX_OPTIONS_COLUMNS

    return pl.DataFrame(schema=SPX_OPTIONS_COLUMNS)
