"""The stored real daily data a real-path market is built from, put in one row per session.

* :func:`daily_inputs`: S&P 500 close, VIX9D/VIX/VIX3M/VIX6M, SKEW, VVIX and the cash rate of
  each session. Only values dated on or before the session are used (point in time): the
  T-bill yield and SKEW are carried forward from their last observation (bond-market
  holidays; at most :data:`MAX_CARRY_DAYS` calendar days), the VIX family is not (a missing
  knot is skipped by the surface instead).
* :func:`settlement_prices`: the index value each expiring option settles on. AM-settled
  (``SPX``) monthlies settle on the special opening quotation, **not** Yahoo's open (on most
  2005 sessions Yahoo's "open" is the previous close): the Cboe SET value where stored; where
  it is not (none of 2005-01..2025-05 is missing), the documented estimate is that session's
  printed ``open`` (median |SET/open - 1| = 0.13 % from 2014 on), flagged
  ``settlement_source = "estimate:open"``. PM-settled options settle on the close.
* :func:`cash_rates`: the daily rate cash earns: FRED DTB3 converted to a bond-equivalent
  yield (simple ACT/365) by the reader, the value known at the previous session applied to
  each day's accrual.
"""

from __future__ import annotations

import polars as pl

__all__ = ["SPX_OPTIONS_COLUMNS", "daily_inputs", "settlement_prices", "cash_rates", "MAX_CARRY_DAYS"]

MAX_CARRY_DAYS = 10

SPX_OPTIONS_COLUMNS = {
    "quote_date": pl.Date, "snapshot_time": pl.Datetime("us", "America/New_York"), "snapshot_kind": pl.String,
    "root": pl.String, "expiration": pl.Date, "settlement": pl.String, "strike": pl.Float64, "option_type": pl.String,
    "bid": pl.Float64, "ask": pl.Float64, "bid_size": pl.Int64, "ask_size": pl.Int64, "last": pl.Float64,
    "volume": pl.Int64, "open_interest": pl.Int64, "underlying_price": pl.Float64, "vendor_iv": pl.Float64,
    "vendor_delta": pl.Float64, "vendor_gamma": pl.Float64, "source": pl.String,
}
SERIES = ["VIX9D", "VIX", "VIX3M", "VIX6M", "SKEW", "VVIX"]


def _carried(days: pl.DataFrame, obs: pl.DataFrame, value: str, name: str) -> pl.DataFrame:
    """``days`` with the last ``value`` of ``obs`` dated on or before each day (within the carry limit)."""
    obs = obs.select(pl.col("date").alias("_obs_date"), pl.col(value).alias(name)).drop_nulls().sort("_obs_date")
    out = days.sort("date").join_asof(obs, left_on="date", right_on="_obs_date", strategy="backward")
    stale = (pl.col("date") - pl.col("_obs_date")).dt.total_days() > MAX_CARRY_DAYS
    return out.with_columns(pl.when(stale).then(None).otherwise(pl.col(name)).alias(name)).drop("_obs_date")


def daily_inputs(spx_daily: pl.DataFrame, vix_term_structure: pl.DataFrame,
                 treasury_bill_rates: pl.DataFrame | None) -> pl.DataFrame:
    """One row per ``spx_daily`` session: ``date, open, close, VIX9D, VIX, VIX3M, VIX6M, SKEW, VVIX, rate``.

    ``rate`` is the T-bill bond-equivalent yield known at that session (decimal; null when no
    rate is stored)."""
    days = spx_daily.select("date", "open", "close").unique("date").sort("date")
    wide = vix_term_structure.filter(pl.col("series").is_in(SERIES)).pivot(on="series", index="date", values="value")
    for s in SERIES:
        if s not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.Float64).alias(s))
    out = days.join(wide.select("date", *[s for s in SERIES if s != "SKEW"]), on="date", how="left")
    out = _carried(out, wide.select("date", "SKEW"), "SKEW", "SKEW")
    if treasury_bill_rates is None or treasury_bill_rates.height == 0:
        return out.with_columns(pl.lit(None, pl.Float64).alias("rate"))
    return _carried(out, treasury_bill_rates, "bond_equivalent_yield", "rate")


def settlement_prices(spx_daily: pl.DataFrame, set_values: pl.DataFrame | None) -> pl.DataFrame:
    """``date, open, close, settlement_source``: ``open`` is the AM settlement value of the session."""
    days = spx_daily.select("date", "open", "close")
    if set_values is None or set_values.height == 0:
        return days.with_columns(pl.lit("estimate:open").alias("settlement_source"))
    soq = set_values.select(pl.col("soq_date").alias("date"), pl.col("set_value"))
    return days.join(soq, on="date", how="left").select(
        "date",
        pl.coalesce("set_value", "open").alias("open"),
        "close",
        pl.when(pl.col("set_value").is_not_null()).then(pl.lit("SET")).otherwise(pl.lit("estimate:open"))
        .alias("settlement_source"),
    ).sort("date")


def cash_rates(sessions: pl.DataFrame, inputs: pl.DataFrame, fallback: float) -> pl.DataFrame:
    """``date, rate``: the rate accruing from the previous session to ``date`` (the previous
    session's known T-bill yield; ``fallback`` where none is stored)."""
    r = sessions.select("date").sort("date").join(inputs.select("date", "rate"), on="date", how="left")
    return r.with_columns(pl.col("rate").shift(1).fill_null(strategy="forward").fill_null(fallback).alias("rate"))


def flag_trade_settlements(trades: pl.DataFrame, settlements: pl.DataFrame) -> pl.DataFrame:
    """``trades`` with ``settlement_source``: for a position cash-settled at expiration, ``SET`` or
    ``estimate:open`` (AM, from :func:`settlement_prices`) or ``close`` (PM); null for positions
    closed before expiration."""
    if trades.height == 0 or not {"exit_reason", "expiration", "settlement"} <= set(trades.columns):
        return trades
    src = settlements.select(pl.col("date").alias("_exp"), pl.col("settlement_source").alias("_src"))
    return trades.join(src, left_on="expiration", right_on="_exp", how="left").with_columns(
        pl.when(pl.col("exit_reason") != "expiration").then(None)
        .when(pl.col("settlement") == "AM").then(pl.col("_src"))
        .otherwise(pl.lit("close")).alias("settlement_source")
    ).drop("_src")
