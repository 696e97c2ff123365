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

Metrics (:func:`performance_summary`), on daily simple returns ``R_t = pnl_t / E_{t-1}``:
CAGR ``(E_T/E_0)^(365/days) - 1`` (calendar days); annual vol ``std(R) sqrt(252)`` (ddof 1);
Sharpe ``mean(R - rf) / std(R) sqrt(252)`` with ``rf = cash_rate / 252``; Sortino
``mean(R - rf) / sqrt(mean(min(R - rf, 0)^2)) sqrt(252)``; max drawdown
``min(E / cummax(E) - 1)``; Calmar ``CAGR / |max drawdown|``; historical one-day VaR at
``var_level`` = ``-quantile(R, 1 - level)`` (linear interpolation) and CVaR = minus the mean of
the returns at or below that quantile; IRR by XIRR (ACT/365, :func:`xirr`) of the dated cash
flows ``-E_0`` at the start and ``+E_T`` at the end; win rate and average holding days over
closed trades.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from scipy.optimize import brentq

from features.cndr import cndr_benchmark
from features.condor import condor_decisions, eod_quotes
from features.condor_management import manage_positions
from features.strategy_config import BacktestConfig, StrategyConfig
from features.vix_hedge import LAYERS, hedge_layers

__all__ = [
    "option_dte_bound", "BacktestResult", "run_backtest", "hedge_pnl", "equity_with_interest", "performance_summary", "xirr",
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


#: Calendar days from a CNDR roll (a monthly SPX expiration) to the next monthly expiration:
#: third Fridays are 28 or 35 days apart, 36 when a holiday moves the first to a Thursday.
CNDR_MAX_DTE = 36.0


def option_dte_bound(config: StrategyConfig) -> float:
    """Largest days-to-expiry of any contract the strategies can trade or mark: condor entries
    (``condor.max_dte``) and CNDR rolls (:data:`CNDR_MAX_DTE`); positions only age from there.
    Readers may drop longer-dated rows without changing any result."""
    return max(float(config.condor.max_dte), CNDR_MAX_DTE)


def xirr(dates: list[date] | np.ndarray, amounts: list[float] | np.ndarray) -> float:
    """Annual internal rate of return of dated cash flows (ACT/365), as Excel's XIRR.

    Solves ``sum_i a_i / (1 + x)^((d_i - d_0)/365) = 0`` for ``x`` with Brent's method on
    ``(-0.9999, 1e6)``.  NaN when the flows do not change sign.
    """
    d = np.asarray(dates, dtype="datetime64[D]")
    a = np.asarray(amounts, dtype=float)
    if not (np.any(a > 0) and np.any(a < 0)):
        return float("nan")
    years = (d - d.min()).astype(float) / 365.0

    def npv(x: float) -> float:
        return float(np.sum(a / (1.0 + x) ** years))

    lo, hi = -0.9999, 1e6
    if npv(lo) * npv(hi) > 0:
        return float("nan")
    return float(brentq(npv, lo, hi, xtol=1e-12, rtol=1e-12, maxiter=500))


def equity_with_interest(dates: np.ndarray, trading_pnl: np.ndarray, initial: float, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Equity path ``E_t = E_{t-1} (1 + rate dd_t/365) + x_t`` in closed form.

    With ``g_t = 1 + rate dd_t / 365`` (``g_0 = 1``) and ``G_t = prod g``:
    ``E_t = G_t (E_0 + sum_{s<=t} x_s / G_s)``.  Returns ``(equity, interest)``.
    """
    d = np.asarray(dates, dtype="datetime64[D]")
    dd = np.r_[0.0, np.diff(d).astype(float)]
    gg = np.cumprod(1.0 + rate * dd / 365.0)
    eq = gg * (initial + np.cumsum(trading_pnl / gg))
    prev = np.r_[initial, eq[:-1]]
    return eq, eq - prev - trading_pnl


def hedge_pnl(layers: pl.DataFrame, config: StrategyConfig) -> pl.DataFrame:
    """Daily P&L of each ALVH layer with its Greek attribution.

    ``pnl_t = 100 n_{t-1} (P_t(held) - P_{t-1}) - costs_t`` where ``P_t(held)`` is today's model
    price of the instrument held yesterday and ``costs_t = traded x legs x (100 x
    vix_half_spread + commission)``; traded = ``|n_t - n_{t-1}|`` when the instrument is
    unchanged, else ``n_t + n_{t-1}`` (close the old, open the new).
    Returns ``date, layer, pnl, costs, attr_delta, attr_gamma, attr_theta, attr_vega``.
    """
    f = config.fill
    prev = lambda c: pl.col(c).shift(1).over("layer", order_by="date")  # noqa: E731
    same = (
        (pl.col("expiry") == prev("expiry")).fill_null(False)
        & (pl.col("strike") == prev("strike")).fill_null(False)
        & ((pl.col("short_strike") == prev("short_strike")) | (pl.col("short_strike").is_null() & prev("short_strike").is_null())).fill_null(False)
    )
    legs = pl.when(pl.col("instrument") == "call_spread").then(2.0).otherwise(1.0)
    n_prev = prev("contracts").fill_null(0.0)
    traded = pl.when(same).then((pl.col("contracts") - n_prev).abs()).otherwise(pl.col("contracts") + n_prev)
    d_f = (pl.col("prev_instrument_forward") - prev("forward")).fill_null(0.0)
    d_days = (pl.col("date") - prev("date")).dt.total_days().cast(pl.Float64).fill_null(0.0)
    d_vol = (pl.col("vol") - prev("vol")).fill_null(0.0)
    mult = 100.0 * n_prev
    out = layers.sort(["layer", "date"]).with_columns(
        (traded * legs * (100.0 * f.vix_half_spread + f.commission_per_contract)).alias("costs"),
        (mult * (pl.col("prev_instrument_price") - prev("price"))).fill_null(0.0).alias("_mtm"),
        (mult * prev("delta") * d_f).fill_null(0.0).alias("attr_delta"),
        (mult * 0.5 * prev("gamma") * d_f ** 2).fill_null(0.0).alias("attr_gamma"),
        (mult * prev("theta") * d_days).fill_null(0.0).alias("attr_theta"),
        (mult * prev("vega") * d_vol).fill_null(0.0).alias("attr_vega"),
    ).with_columns((pl.col("_mtm") - pl.col("costs")).alias("pnl"))
    return out.select("date", "layer", "pnl", "costs", *ATTR)


def performance_summary(daily: pl.DataFrame, trades: pl.DataFrame | None, config: BacktestConfig) -> dict[str, float]:
    """Metrics of one strategy from ``daily`` (``date, pnl, equity``) and its closed trades."""
    eq = daily["equity"].to_numpy()
    pnl = daily["pnl"].to_numpy()
    dates = daily["date"].to_numpy().astype("datetime64[D]")
    e0 = config.initial_equity
    prev = np.r_[e0, eq[:-1]]
    r = pnl / prev
    ppy = config.periods_per_year
    rf = config.cash_rate / ppy
    days = float((dates[-1] - dates[0]).astype(float)) if dates.size > 1 else 0.0
    cagr = (eq[-1] / e0) ** (365.0 / days) - 1.0 if days > 0 and eq[-1] > 0 else float("nan")
    sd = float(np.std(r, ddof=1)) if r.size > 1 else float("nan")
    ex = r - rf
    downside = float(np.sqrt(np.mean(np.minimum(ex, 0.0) ** 2)))
    curve = np.r_[e0, eq]
    dd = curve / np.maximum.accumulate(curve) - 1.0
    mdd = float(dd.min())
    q = float(np.quantile(r, 1.0 - config.var_level))
    out = {
        "final_equity": float(eq[-1]),
        "total_pnl": float(pnl.sum()),
        "cagr": cagr,
        "annual_vol": sd * np.sqrt(ppy),
        "sharpe": float(np.mean(ex) / sd * np.sqrt(ppy)) if sd > 0 else float("nan"),
        "sortino": float(np.mean(ex) / downside * np.sqrt(ppy)) if downside > 0 else float("nan"),
        "max_drawdown": mdd,
        "calmar": cagr / abs(mdd) if mdd < 0 else float("nan"),
        "var_95": -q,
        "cvar_95": -float(np.mean(r[r <= q])),
        "irr": xirr([dates[0], dates[-1]], [-e0, float(eq[-1])]) if days > 0 else float("nan"),
    }
    closed = trades.filter(pl.col("exit_reason") != "open") if trades is not None and trades.height else None
    if closed is not None and closed.height:
        out["n_trades"] = float(closed.height)
        out["win_rate"] = float((closed["pnl"] > 0).mean())
        out["avg_holding_days"] = float(closed["holding_days"].mean())
    else:
        out.update(n_trades=0.0, win_rate=float("nan"), avg_holding_days=float("nan"))
    return out


def _finish(days: pl.DataFrame, parts: pl.DataFrame, cfg: BacktestConfig, name: str) -> pl.DataFrame:
    """Add interest, equity, drawdown and the attribution identity to a strategy's daily frame."""
    d = days.join(parts, on="date", how="left").fill_null(0.0).sort("date")
    trading = d["trading_pnl"].to_numpy()
    eq, interest = equity_with_interest(d["date"].to_numpy(), trading, cfg.initial_equity, cfg.cash_rate)
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
        daily_frames.append(_finish(days, parts, bcfg, "unhedged"))
        trade_frames.append(trades.with_columns(pl.lit("unhedged").alias("strategy")))
    if "alvh_hedged" in strategies:
        hedges = hedge_layers(condor.select("date", "net_vega"), features_asof, vx_futures, config)
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
        daily_frames.append(_finish(days, parts, bcfg, "alvh_hedged"))
        trade_frames.append(trades.with_columns(pl.lit("alvh_hedged").alias("strategy")))
    if "cndr_benchmark" in strategies:
        cd, ct = cndr_benchmark(option_features, spx_daily, config)
        # CNDR is reported without Greek attribution: its P&L falls in attr_residual
        parts = cd.select(
            "date", "condor_pnl", pl.lit(0.0).alias("hedge_pnl"), *zero_layers,
            pl.col("condor_pnl").alias("trading_pnl"), *[pl.lit(0.0).alias(c) for c in ATTR],
        )
        daily_frames.append(_finish(days, parts, bcfg, "cndr_benchmark"))
        if ct.height:
            trade_frames.append(ct.drop("units").with_columns(pl.lit("cndr_benchmark").alias("strategy")))
    cols = ["strategy", "date", "condor_pnl", "hedge_pnl", *[f"hedge_pnl_{n}" for n in LAYERS], "trading_pnl",
            "interest", "pnl", "equity", "drawdown", *ATTR, "attr_carry", "attr_residual"]
    daily = pl.concat([f.select(cols) for f in daily_frames])
    all_trades = pl.concat(trade_frames, how="diagonal_relaxed") if trade_frames else pl.DataFrame()
    for name in strategies:
        dd = daily.filter(pl.col("strategy") == name)
        tt = all_trades.filter(pl.col("strategy") == name) if all_trades.height else None
        summaries.append({"strategy": name, **performance_summary(dd, tt, bcfg)})
    return BacktestResult(daily=daily, summary=pl.DataFrame(summaries), trades=all_trades, decisions=decisions, hedges=hedges, positions=pos_daily)
