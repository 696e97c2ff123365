"""Backtest of the iron-condor strategy, unhedged and with the ALVH, beside the CNDR benchmark.

Fills.  Every decision is taken on a session's end-of-day chain and filled on the same
quotes (the decision could have seen them: the snapshot is taken before the close and the
order is assumed to trade at those quotes), through :class:`FillConfig`'s model (``mid``,
``natural``, ``spread_fraction``, ``fixed_ticks``) plus a commission per contract and leg.
Marks are at mid.  VIX options have no stored quotes: they are marked at the Black-76 model
price and every traded contract pays ``vix_half_spread`` plus commission per leg.

Accounting (dollars).  ``pnl_t`` of a strategy is condor P&L + hedge P&L + interest; equity
``E_t = E_{t-1} (1 + r dd_t / 365) + trading P&L_t`` with ``r = cash_rate`` and ``dd`` the
calendar days since the previous session (the whole equity is held as one-month T-bills; the
options' margin is assumed to be posted in T-bills).  Hence ``sum(pnl) = E_T - E_0``.

Attribution.  ``attr_delta/gamma/theta/vega`` are the Taylor terms of the positions held
overnight with the previous session's Greeks (SPX legs on the index and each leg's IV; VIX
options on their VX future and model vol); ``attr_carry`` is the interest; ``attr_residual``
is the rest (higher-order terms, fills, commissions, settlement), so the six columns sum to
``pnl`` exactly.

Metrics: :mod:`features.performance` (CAGR, vol, Sharpe/Sortino over the cash rate, drawdown,
VaR/CVaR, IRR only from external dated flows, trade statistics of each strategy's own trades,
hedge turnover, hit rate and stale marks for the hedged strategy).

Cash.  ``cash_rates`` (``date, rate``, decimal; e.g. the 3-month T-bill series when one is
stored) sets the rate of each session as of its date; without it every session earns
``BacktestConfig.cash_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from features.cndr import cndr_benchmark
from features.condor import condor_decisions, eod_quotes
from features.condor_management import manage_positions
from features.performance import cash_rate_per_session, performance_summary
from features.strategy_config import BacktestConfig, StrategyConfig
from features.vix_hedge import LAYERS, condor_book_stress, hedge_layers, hedge_pnl

__all__ = [
    "BacktestResult", "run_backtest", "equity_with_interest",
    "STRATEGIES",
]

STRATEGIES = ("unhedged", "alvh_hedged", "cndr_benchmark")
ATTR = ("attr_delta", "attr_gamma", "attr_theta", "attr_vega")


@dataclass(frozen=True)
class BacktestResult:
    """Outputs of :func:`run_backtest`.

    daily : one row per strategy per session (P&L components, equity, drawdown, attribution).
    summary : one row per strategy (metrics of :func:`performance_summary`).
    trades : one row per condor trade with a ``strategy`` column.
    decisions : the condor decisions; hedges : the ALVH layer rows.
    positions : one row per open condor per session (marks, exit signals; hedge-independent).
    """

    daily: pl.DataFrame
    summary: pl.DataFrame
    trades: pl.DataFrame
    decisions: pl.DataFrame
    hedges: pl.DataFrame
    positions: pl.DataFrame


def equity_with_interest(dates: np.ndarray, trading_pnl: np.ndarray, initial: float, rate: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equity path ``E_t = E_{t-1} (1 + rate_t dd_t/365) + x_t`` in closed form (``rate`` a
    constant or one annual rate per session).

    With ``g_t = 1 + rate dd_t / 365`` (``g_0 = 1``) and ``G_t = prod g``:
    ``E_t = G_t (E_0 + sum_{s<=t} x_s / G_s)``.  Returns ``(equity, interest)``.
    """
    d = np.asarray(dates, dtype="datetime64[D]")
    dd = np.r_[0.0, np.diff(d).astype(float)]
    gg = np.cumprod(1.0 + rate * dd / 365.0)
    eq = gg * (initial + np.cumsum(trading_pnl / gg))
    prev = np.r_[initial, eq[:-1]]
    return eq, eq - prev - trading_pnl


def _finish(days: pl.DataFrame, parts: pl.DataFrame, cfg: BacktestConfig, name: str, cash_rates: pl.DataFrame | None = None) -> pl.DataFrame:
    """Add interest, equity, drawdown and the attribution identity to a strategy's daily frame."""
    d = days.join(parts, on="date", how="left").fill_null(0.0).sort("date")
    trading = d["trading_pnl"].to_numpy()
    rate = cash_rate_per_session(d["date"].to_numpy(), cfg.cash_rate, cash_rates)
    eq, interest = equity_with_interest(d["date"].to_numpy(), trading, cfg.initial_equity, rate)
    d = d.with_columns(
        pl.Series("interest", interest), pl.Series("equity", eq), pl.lit(name).alias("strategy"),
    ).with_columns(
        (pl.col("trading_pnl") + pl.col("interest")).alias("pnl"),
        pl.col("interest").alias("attr_carry"),
        (pl.col("equity") / pl.col("equity").cum_max().clip(lower_bound=cfg.initial_equity) - 1.0).alias("drawdown"),
    ).with_columns(
        (pl.col("pnl") - pl.sum_horizontal(*ATTR, "attr_carry")).alias("attr_residual"),
    )
    return d


def run_backtest(
    option_features: pl.DataFrame,
    features_asof: pl.DataFrame,
    spx_daily: pl.DataFrame,
    vx_futures: pl.DataFrame,
    config: StrategyConfig,
    strategies: tuple[str, ...] = STRATEGIES,
    cash_rates: pl.DataFrame | None = None,
) -> BacktestResult:
    """Decisions -> positions -> hedges -> daily P&L and metrics for several strategies.

    Parameters
    ----------
    option_features : per-contract EOD features (quotes and Black-76 Greeks).
    features_asof : market features + regimes with ``available_at``.
    spx_daily : ``date, open, close`` of SPX (settlement prices).
    vx_futures : ``date, expiration, settle``.
    config : StrategyConfig
    strategies : subset of ``("unhedged", "alvh_hedged", "cndr_benchmark")``.
    cash_rates : ``date, rate`` (annual decimal) as of each date, or None for the constant.

    Returns
    -------
    BacktestResult
        ``daily`` columns: ``strategy, date, condor_pnl, hedge_pnl, hedge_pnl_<layer>,
        trading_pnl, interest, pnl, equity, drawdown, attr_delta, attr_gamma, attr_theta,
        attr_vega, attr_carry, attr_residual``.
    """
    unknown = set(strategies) - set(STRATEGIES)
    if unknown:
        raise ValueError(f"unknown strategies {sorted(unknown)}")
    bcfg = config.backtest
    option_features = eod_quotes(option_features)
    days = option_features.select(pl.col("quote_date").unique().alias("date")).sort("date")
    decisions = condor_decisions(option_features, features_asof, config, equity=bcfg.initial_equity)
    pos_daily, trades = manage_positions(decisions, option_features, spx_daily, config)
    condor = pos_daily.group_by("date").agg(
        pl.col("pnl").sum().alias("condor_pnl"), pl.col("net_vega").sum(), *[pl.col(c).sum() for c in ATTR]
    )
    condor = days.join(condor, on="date", how="left").fill_null(0.0).sort("date")
    daily_frames, summaries, trade_frames = [], [], []
    hedges = pl.DataFrame()
    zero_layers = [pl.lit(0.0).alias(f"hedge_pnl_{name}") for name in LAYERS]
    if "unhedged" in strategies:
        parts = condor.select(
            "date", "condor_pnl", pl.lit(0.0).alias("hedge_pnl"), *zero_layers,
            pl.col("condor_pnl").alias("trading_pnl"), *ATTR,
        )
        daily_frames.append(_finish(days, parts, bcfg, "unhedged", cash_rates))
        trade_frames.append(trades.with_columns(pl.lit("unhedged").alias("strategy")))
    if "alvh_hedged" in strategies:
        book = condor_book_stress(pos_daily, trades, features_asof, days, config)
        hedges = hedge_layers(book, features_asof, vx_futures, config)
        hp = hedge_pnl(hedges, config)
        by_layer = hp.pivot(on="layer", index="date", values="pnl").rename({n: f"hedge_pnl_{n}" for n in LAYERS})
        h_attr = hp.group_by("date").agg(pl.col("pnl").sum().alias("hedge_pnl"), *[pl.col(c).sum().alias(f"h_{c}") for c in ATTR])
        parts = (
            condor.join(by_layer, on="date", how="left").join(h_attr, on="date", how="left").fill_null(0.0)
            .select(
                "date", "condor_pnl", "hedge_pnl", *[f"hedge_pnl_{n}" for n in LAYERS],
                (pl.col("condor_pnl") + pl.col("hedge_pnl")).alias("trading_pnl"),
                *[(pl.col(c) + pl.col(f"h_{c}")).alias(c) for c in ATTR],
            )
        )
        daily_frames.append(_finish(days, parts, bcfg, "alvh_hedged", cash_rates))
        trade_frames.append(trades.with_columns(pl.lit("alvh_hedged").alias("strategy")))
    if "cndr_benchmark" in strategies:
        cd, ct = cndr_benchmark(option_features, spx_daily, config)
        # CNDR is reported without Greek attribution: its P&L falls in attr_residual
        parts = cd.select(
            "date", "condor_pnl", pl.lit(0.0).alias("hedge_pnl"), *zero_layers,
            pl.col("condor_pnl").alias("trading_pnl"), *[pl.lit(0.0).alias(c) for c in ATTR],
        )
        daily_frames.append(_finish(days, parts, bcfg, "cndr_benchmark", cash_rates))
        if ct.height:
            trade_frames.append(ct.drop("units").with_columns(pl.lit("cndr_benchmark").alias("strategy")))
    cols = ["strategy", "date", "condor_pnl", "hedge_pnl", *[f"hedge_pnl_{n}" for n in LAYERS], "trading_pnl",
            "interest", "pnl", "equity", "drawdown", *ATTR, "attr_carry", "attr_residual"]
    daily = pl.concat([f.select(cols) for f in daily_frames])
    all_trades = pl.concat(trade_frames, how="diagonal_relaxed") if trade_frames else pl.DataFrame()
    for name in strategies:
        dd = daily.filter(pl.col("strategy") == name)
        tt = all_trades.filter(pl.col("strategy") == name) if all_trades.height else None
        hh = hedges if name == "alvh_hedged" else None
        summaries.append({"strategy": name, **performance_summary(dd, tt, bcfg, hedges=hh, cash_rates=cash_rates)})
    return BacktestResult(daily=daily, summary=pl.DataFrame(summaries), trades=all_trades, decisions=decisions, hedges=hedges, positions=pos_daily)
