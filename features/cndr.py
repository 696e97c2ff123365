"""Benchmark replicating the rules of the Cboe S&P 500 Iron Condor index (CNDR).

Rules as replicated here:

* roll monthly on the expiration date of the standard (AM-settled, root ``SPX``) monthly
  options — the third Friday — when the expiring condor is cash-settled on the special
  opening quotation (taken as that day's SPX ``open``);
* on the roll date sell the OTM put and call whose |delta| is nearest ``short_delta`` (0.20)
  and buy the OTM put and call nearest ``long_delta`` (0.05), all of the next monthly
  expiration, filled on the roll date's end-of-day quotes through the common fill model
  (Cboe uses a VWAP of quote midpoints in a morning window; the EOD snapshot is what we
  store);
* hold to expiration (no profit-take, stop, time or breach exits);
* collateral: the whole equity sits in one-month T-bills earning ``BacktestConfig.cash_rate``
  (simple ACT/365 accrual, compounded daily), and the number of condors (fractional, as an
  index holds) is ``equity / (S x 100)`` at each roll, ``S`` the index level: one condor per
  index-level of T-bill collateral, the notional convention of Cboe's collateralized option
  indices (e.g. PUT).  A monthly loss is then bounded by the widest wing minus the credit,
  as a fraction of the index level.  This sizing is our reading of the methodology.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from features.condor import eod_quotes, valid_quotes
from features.condor_management import manage_positions, position_id
from features.strategy_config import CndrConfig, ManagementConfig, StrategyConfig

__all__ = ["cndr_entries", "cndr_benchmark", "CndrCarry"]


def cndr_entries(option_features: pl.DataFrame, config: CndrConfig) -> pl.DataFrame:
    """Roll-date condors: one row per roll date with the four CNDR strikes.

    Roll dates are the sessions equal to an ``SPX`` (AM) expiration present in the chain; the
    traded expiration is the next ``SPX`` expiration after it.  Columns match the entry rows of
    :func:`features.condor.condor_decisions` (``contracts`` = 1; sizing happens in
    :func:`cndr_benchmark`).
    """
    option_features = eod_quotes(option_features)
    chain = valid_quotes(option_features).filter(pl.col("root") == config.root)
    days = option_features.select(pl.col("quote_date").unique().alias("date"))
    roll = (
        option_features.filter(pl.col("root") == config.root)
        .select(pl.col("expiration").unique().alias("date"))
        .join(days, on="date")
    )
    nxt = (
        chain.join(roll.rename({"date": "quote_date"}), on="quote_date")
        .filter(pl.col("expiration") > pl.col("quote_date"))
        .group_by("quote_date")
        .agg(pl.col("expiration").min())
    )
    c = chain.join(nxt, on=["quote_date", "expiration"])

    def pick(opt: str, target: float, name: str) -> pl.DataFrame:
        side = c.filter(pl.col("option_type") == opt)
        side = side.filter(pl.col("strike") < pl.col("forward")) if opt == "P" else side.filter(pl.col("strike") > pl.col("forward"))
        return (
            side.with_columns((pl.col("delta").abs() - target).abs().alias("_s"))
            .sort(["quote_date", "_s", "strike"], descending=[False, False, opt == "C"])
            .group_by("quote_date", maintain_order=True)
            .first()
            .select(
                "quote_date", pl.col("strike").alias(f"{name}_strike"), pl.col("mid").alias(f"{name}_mid"),
                *([pl.col("root"), pl.col("expiration"), pl.col("settlement"), pl.col("underlying_price")] if name == "sp" else []),
            )
        )

    e = (
        pick("P", config.short_delta, "sp")
        .join(pick("P", config.long_delta, "lp"), on="quote_date")
        .join(pick("C", config.short_delta, "sc"), on="quote_date")
        .join(pick("C", config.long_delta, "lc"), on="quote_date")
        .filter((pl.col("lp_strike") < pl.col("sp_strike")) & (pl.col("lc_strike") > pl.col("sc_strike")))
        .rename({"quote_date": "date"})
        .with_columns(
            (pl.col("sp_mid") + pl.col("sc_mid") - pl.col("lp_mid") - pl.col("lc_mid")).alias("mid_credit"),
            pl.lit(1, dtype=pl.Int64).alias("contracts"),
        )
        .with_columns(
            (pl.col("sp_strike") - pl.col("mid_credit")).alias("breakeven_put"),
            (pl.col("sc_strike") + pl.col("mid_credit")).alias("breakeven_call"),
            pl.max_horizontal(pl.col("sp_strike") - pl.col("lp_strike"), pl.col("lc_strike") - pl.col("sc_strike")).alias("max_width"),
        )
        .sort("date")
    )
    return e


def cndr_benchmark(
    option_features: pl.DataFrame,
    spx_settlement: pl.DataFrame,
    config: StrategyConfig,
    sessions: pl.Series | None = None,
    carry: CndrCarry | None = None,
    cash_rates: pl.DataFrame | None = None,
    risk_fraction: float | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Daily equity of the CNDR-rules benchmark.

    Accounting, session by session (``g_t = 1 + r dd_t / 365``, ``r`` the cash rate, ``dd``
    calendar days since the previous session): ``E_t = E_{t-1} g_t + sum_i u_i p_i(t)`` with
    ``p_i(t)`` the P&L of one condor ``i`` on ``t`` and ``u_i`` its units. On a roll date the
    new condor's units are ``max(E_{t-1} g_t + held_t, 0) / (100 S)`` where ``held_t`` is the
    P&L of what was already held (the settling condor) and ``S`` the index level.

    Parameters
    ----------
    sessions : pl.Series, optional
        The sessions to report (default: every quote date of ``option_features``). Rows of
        earlier sessions in ``option_features`` are only used to mark carried positions.
    carry : CndrCarry, optional
        State at the session before the first of ``sessions`` (a continued run): equity,
        that session's date and the condors then held with their units.
    cash_rates : pl.DataFrame, optional
        ``date, rate``: the simple ACT/365 rate accruing from the previous session to
        ``date`` (e.g. the T-bill yield of :func:`features.realpath.inputs.cash_rates`); replaces
        the constant ``config.backtest.cash_rate`` where given.
    risk_fraction : float, optional
        Sizes each monthly condor so that its maximum loss at entry (widest wing minus the mid
        credit, x 100) is this fraction of equity (e.g. the condor book's
        ``CondorConfig.risk_fraction``), instead of one condor per index level of collateral:
        the CNDR rules at the condor book's risk, for a side-by-side comparison.

    Returns
    -------
    daily : pl.DataFrame
        ``date, condor_pnl, interest, pnl, equity`` (dollars), one row per session.
    trades : pl.DataFrame
        The monthly condors with ``units`` (fractional condors) and dollar ``pnl``.
    """
    option_features = eod_quotes(option_features)
    if sessions is None:
        sessions = option_features["quote_date"].unique()
    days = sessions.unique().sort().to_frame("date")
    first = days["date"].min()
    window = option_features.filter(pl.col("quote_date") >= first) if first is not None else option_features
    entries = cndr_entries(window, config.cndr).with_columns(pl.lit(None, dtype=pl.Float64).alias("units"))
    if carry is not None and carry.open_entries.height:
        entries = pl.concat([carry.open_entries, entries], how="diagonal_relaxed")
    entries = entries.sort("date")
    hold = StrategyConfig(
        condor=config.condor,
        management=ManagementConfig(profit_take=None, stop_multiple=None, time_exit_dte=None, breach_action="ignore"),
        hedge=config.hedge, fill=config.fill, backtest=config.backtest, cndr=config.cndr,
    )
    dates = days["date"].to_numpy()
    n = dates.size
    r = config.backtest.cash_rate
    if cash_rates is not None:
        r = days.join(cash_rates.select("date", "rate"), on="date", how="left")["rate"].fill_null(r).to_numpy()
    prev_date = np.datetime64(carry.prev_date, "D") if carry is not None else None
    prev_dates = np.r_[dates[:1] if prev_date is None else np.array([prev_date], dtype=dates.dtype), dates[:-1]]
    growth = 1.0 + r * (dates - prev_dates).astype("timedelta64[D]").astype(float) / 365.0
    e0 = config.backtest.initial_equity
    start_equity = carry.equity if carry is not None else e0
    if entries.height:
        pdaily, trades = manage_positions(entries, option_features, spx_settlement, hold)
        pdaily = pdaily.filter(pl.col("date") >= first)
        ids = trades["position_id"].to_numpy()  # sorted
        rows = np.searchsorted(ids, pdaily["position_id"].to_numpy())
        di = np.searchsorted(dates, pdaily["date"].to_numpy())
        unit_pnl = np.zeros((ids.size, n))
        unit_pnl[rows, di] = pdaily["pnl"].to_numpy()
        entry_idx = np.searchsorted(dates, trades["entry_date"].to_numpy())
        by_id = trades.select("position_id").join(
            entries.select(position_id(pl.col("date")), "underlying_price", "max_width", "mid_credit", "units"),
            on="position_id", how="left")
        if risk_fraction is None:
            per_dollar = 1.0 / (by_id["underlying_price"].to_numpy() * 100.0)
        else:
            max_loss = (by_id["max_width"] - by_id["mid_credit"]).clip(lower_bound=0.05).to_numpy()
            per_dollar = risk_fraction / (max_loss * 100.0)
        units = by_id["units"].fill_null(np.nan).to_numpy().astype(float)
    else:
        trades = entries
        unit_pnl, entry_idx, per_dollar, units = np.zeros((0, n)), np.zeros(0, dtype=int), np.zeros(0), np.zeros(0)
    equity = np.empty(n)
    condor = np.zeros(n)
    prev_e = start_equity
    # one step per session (a few thousand), so that a continued run repeats a full run's
    # arithmetic exactly; the work per step is a dot product over the few held condors
    for t in range(n):
        new = np.flatnonzero((entry_idx == t) & np.isnan(units))
        held_rows = np.flatnonzero(np.isfinite(units))
        held = float(units[held_rows] @ unit_pnl[held_rows, t]) if held_rows.size else 0.0
        pre = prev_e * growth[t] + held
        x = held
        for i in new:  # at most one roll a session
            units[i] = max(pre, 0.0) * per_dollar[i]
            x += units[i] * unit_pnl[i, t]
        equity[t] = prev_e * growth[t] + x
        condor[t] = x
        prev_e = equity[t]
    pnl = np.diff(np.r_[start_equity, equity])
    daily = days.with_columns(
        pl.Series("condor_pnl", condor), pl.Series("interest", pnl - condor), pl.Series("pnl", pnl),
        pl.Series("equity", equity),
    )
    if entries.height:
        trades = trades.with_columns(pl.Series("units", units), (pl.col("pnl") * pl.Series(units)).alias("pnl"))
    return daily.select("date", "condor_pnl", "interest", "pnl", "equity"), trades


@dataclass(frozen=True)
class CndrCarry:
    """The CNDR benchmark's state at the end of ``prev_date``: its equity and the condors
    it holds (entry rows as :func:`cndr_entries` gives them, with their ``units``)."""

    prev_date: date
    equity: float
    open_entries: pl.DataFrame
