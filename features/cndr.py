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

import numpy as np
import polars as pl

from features.condor import eod_quotes, valid_quotes
from features.condor_management import manage_positions
from features.strategy_config import CndrConfig, ManagementConfig, StrategyConfig

__all__ = ["cndr_entries", "cndr_benchmark"]


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
    cash_rates: pl.DataFrame | None = None,
    risk_fraction: float | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Daily equity of the CNDR-rules benchmark.

    ``cash_rates`` (``date, rate``: the simple ACT/365 rate accruing from the previous session
    to ``date``, e.g. the T-bill yield of :func:`features.realpath.inputs.cash_rates`) replaces
    the constant ``config.backtest.cash_rate`` when given.

    ``risk_fraction`` (e.g. the condor book's ``CondorConfig.risk_fraction``) sizes each monthly
    condor so that its maximum loss at entry (widest wing minus the mid credit, x 100) is that
    fraction of equity, instead of one condor per index level of collateral: the CNDR rules at
    the condor book's risk, for a side-by-side comparison.

    Returns
    -------
    daily : pl.DataFrame
        ``date, condor_pnl, interest, pnl, equity`` (dollars), one row per session.
    trades : pl.DataFrame
        The monthly condors with ``units`` (fractional condors) and dollar ``pnl``.
    """
    option_features = eod_quotes(option_features)
    entries = cndr_entries(option_features, config.cndr)
    hold = StrategyConfig(
        condor=config.condor,
        management=ManagementConfig(profit_take=None, stop_multiple=None, time_exit_dte=None, breach_action="ignore"),
        hedge=config.hedge, fill=config.fill, backtest=config.backtest, cndr=config.cndr,
    )
    days = option_features.select(pl.col("quote_date").unique().alias("date")).sort("date")
    dates = days["date"].to_numpy()
    n = dates.size
    r = config.backtest.cash_rate
    if cash_rates is not None:
        r = days.join(cash_rates.select("date", "rate"), on="date", how="left")["rate"].fill_null(r).to_numpy()
    dd = np.r_[0.0, np.diff(dates).astype("timedelta64[D]").astype(float)]
    growth = 1.0 + r * dd / 365.0
    e0 = config.backtest.initial_equity
    if entries.height == 0:
        equity = e0 * np.cumprod(growth)
        daily = days.with_columns(
            pl.lit(0.0).alias("condor_pnl"), pl.Series("equity", equity),
        ).with_columns(
            (pl.col("equity") - pl.col("equity").shift(1, fill_value=e0)).alias("pnl")
        ).with_columns(pl.col("pnl").alias("interest"))
        return daily.select("date", "condor_pnl", "interest", "pnl", "equity"), entries
    pdaily, trades = manage_positions(entries, option_features, spx_settlement, hold)
    # per-unit P&L of each position by session index
    pid = pdaily["position_id"].to_numpy()
    di = np.searchsorted(dates, pdaily["date"].to_numpy())
    unit_pnl = np.zeros((trades.height, n))
    unit_pnl[pid, di] = pdaily["pnl"].to_numpy()
    entry_idx = np.searchsorted(dates, trades["entry_date"].to_numpy())
    sized = entries.sort("date")
    if risk_fraction is None:
        per_dollar = 1.0 / (sized["underlying_price"].to_numpy() * 100.0)
    else:
        per_dollar = risk_fraction / ((sized["max_width"] - sized["mid_credit"]).clip(lower_bound=0.05).to_numpy() * 100.0)
    units = np.zeros(trades.height)
    equity = np.empty(n)
    condor = np.zeros(n)
    # cycles: [0, first roll), then [roll_i, roll_{i+1}); one loop step per monthly roll
    bounds = np.r_[0, entry_idx, n]
    prev_e = e0
    for c in range(bounds.size - 1):  # ~12 iterations per year
        lo, hi = bounds[c], bounds[c + 1]
        if hi <= lo:
            continue
        g = growth[lo:hi].copy()
        if c == 0 and lo == 0:
            g[0] = 1.0
        x = np.zeros(hi - lo)
        if c >= 1:
            i = c - 1  # position entered on session lo
            # P&L of everything already held on the roll day (the settling condor) sizes the new one
            held = units[:i] @ unit_pnl[:i, lo:hi] if i > 0 else np.zeros(hi - lo)
            pre = prev_e * g[0] + held[0]
            units[i] = max(pre, 0.0) * per_dollar[i]
            x = held + units[i] * unit_pnl[i, lo:hi]
        gg = np.cumprod(g)
        eq = gg * (prev_e + np.cumsum(x / gg))
        equity[lo:hi] = eq
        condor[lo:hi] = x
        prev_e = eq[-1]
    pnl = np.diff(np.r_[e0, equity])
    daily = days.with_columns(
        pl.Series("condor_pnl", condor), pl.Series("interest", pnl - condor), pl.Series("pnl", pnl),
        pl.Series("equity", equity),
    )
    trades = trades.with_columns(pl.Series("units", units), (pl.col("pnl") * pl.Series(units)).alias("pnl"))
    return daily.select("date", "condor_pnl", "interest", "pnl", "equity"), trades
