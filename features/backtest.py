"""Backtest of the iron-condor strategy, unhedged and with the ALVH, beside the CNDR benchmark.

Fills.  Every decision is taken on a session's end-of-day chain and filled on the same
quotes (the decision could have seen them: the snapshot is taken before the close and the
order is assumed to trade at those quotes), through :class:`FillConfig`'s model (``mid``,
``natural``, ``spread_fraction``, ``fixed_ticks``) plus a commission per contract and leg.
Marks are at mid.  VIX options have no stored quotes: they are marked at the Black-76 model
price and every traded contract pays ``vix_half_spread`` plus commission per leg.

Accounting (dollars).  ``pnl_t`` of a strategy is condor P&L + hedge P&L + interest; equity
``E_t = E_{t-1} (1 + r_t dd_t / 365) + trading P&L_t`` with ``r_t`` the cash rate (below) and ``dd`` the
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
from datetime import date

import numpy as np
import polars as pl

from features.cndr import CndrCarry, cndr_benchmark
from features.condor import condor_decisions, eod_quotes
from features.condor_management import LEG_STRIKES, manage_positions
from features.performance import cash_rate_per_session, performance_summary
from features.strategy_config import BacktestConfig, StrategyConfig
from features.vix_hedge import LAYERS, condor_book_stress, hedge_layers, hedge_pnl

__all__ = [
    "option_dte_bound", "BacktestResult", "CarriedState", "carried_state", "carried_expirations", "summarize",
    "hedge_warmup_sessions", "run_backtest", "equity_with_interest",
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


def equity_with_interest(
    dates: np.ndarray, trading_pnl: np.ndarray, initial: float, rate: float | np.ndarray, prev_date: date | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Equity path ``E_t = E_{t-1} (1 + rate_t dd_t/365) + x_t``, evaluated session by session
    (``rate`` a constant or one annual rate per session, decimal).

    ``dd_t``: calendar days since the previous session (``prev_date`` for the first one, when
    a run continues from stored state; otherwise no interest on the first session).
    ``initial`` is ``E`` before the first session. The recursion is evaluated in order (a few
    thousand scalar steps) rather than in closed form, so that a run continued from any
    session repeats a full run's arithmetic bit for bit. Returns ``(equity, interest)``.
    """
    d = np.asarray(dates, dtype="datetime64[D]")
    x = np.asarray(trading_pnl, dtype=float)
    before = d[:1] if prev_date is None else np.array([np.datetime64(prev_date, "D")])
    dd = (d - np.r_[before, d[:-1]]).astype(float)
    growth = 1.0 + rate * dd / 365.0
    eq = np.empty(d.size)
    e = float(initial)
    for i in range(d.size):
        e = e * growth[i] + x[i]
        eq[i] = e
    prev = np.r_[initial, eq[:-1]]
    return eq, eq - prev - x


def _finish(days: pl.DataFrame, parts: pl.DataFrame, cfg: BacktestConfig, name: str,
            state: CarriedState | None = None, cash_rates: pl.DataFrame | None = None) -> pl.DataFrame:
    """Add interest, equity, drawdown and the attribution identity to a strategy's daily frame
    (continuing the stored equity and its running peak when ``state`` is given; cash earns
    :func:`features.performance.cash_rate_per_session` of ``cash_rates``)."""
    d = days.join(parts, on="date", how="left").fill_null(0.0).sort("date")
    trading = d["trading_pnl"].to_numpy()
    start = cfg.initial_equity if state is None else state.equity[name]
    peak = cfg.initial_equity if state is None else max(state.peak[name], cfg.initial_equity)
    rate = cash_rate_per_session(d["date"].to_numpy(), cfg.cash_rate, cash_rates)
    eq, interest = equity_with_interest(d["date"].to_numpy(), trading, start, rate,
                                        None if state is None else state.prev_date)
    d = d.with_columns(
        pl.Series("interest", interest), pl.Series("equity", eq), pl.lit(name).alias("strategy"),
    ).with_columns(
        (pl.col("trading_pnl") + pl.col("interest")).alias("pnl"),
        pl.col("interest").alias("attr_carry"),
        (pl.col("equity") / pl.col("equity").cum_max().clip(lower_bound=peak) - 1.0).alias("drawdown"),
    ).with_columns(
        (pl.col("pnl") - pl.sum_horizontal(*ATTR, "attr_carry")).alias("attr_residual"),
    )
    return d


@dataclass(frozen=True)
class CarriedState:
    """What a backtest continued at session ``start`` takes from the sessions before it.

    Everything here is read back from the stored outputs of the earlier sessions
    (:func:`carried_state`), so a daily run reads a bounded window of option rows: the
    sessions from ``start`` on, plus the rows of the expirations still held
    (:func:`carried_expirations`).

    Attributes
    ----------
    start, prev_date : date
        First session to compute; the session before it.
    equity, peak : dict
        Per strategy, equity at ``prev_date`` and its running maximum (dollars).
    open_entries : pl.DataFrame
        Entry rows of the condors (first generation; a roll's successor is rebuilt from its
        parent) still open at ``start``: re-marked from their entry so that their exits,
        rolls and P&L are those of a full run.
    entered_before : tuple of date
        Condor entry sessions before ``start`` (only those of ``start``'s week or month
        matter: the entry-frequency gate).
    book_stress : pl.DataFrame
        ``date, stress_loss`` of the condor book on the :func:`hedge_warmup_sessions` sessions
        before ``start`` (the hedge's trailing stress maximum and signal lookbacks).
    hedge : pl.DataFrame
        The stored ALVH rows of ``prev_date`` (one per layer): the held VIX calls (strike,
        expiry, contracts, entry price, last mark and future, covered loss) and each layer's
        trigger state, from which :func:`features.vix_hedge.hedge_layers` resumes.
    cndr : CndrCarry
        The CNDR benchmark's equity and held condors (with units) at ``prev_date``.
    """

    start: date
    prev_date: date
    equity: dict[str, float]
    peak: dict[str, float]
    open_entries: pl.DataFrame
    entered_before: tuple[date, ...]
    book_stress: pl.DataFrame
    hedge: pl.DataFrame
    cndr: CndrCarry


def hedge_warmup_sessions(config: StrategyConfig) -> int:
    """Sessions of condor-book history the ALVH needs before a continued run's first session:
    the trailing stress maximum (``reference_window``) and the engine's lookback
    (``engine_lookback``), with margin. Held positions are carried, not rebuilt."""
    return int(config.hedge.reference_window) + int(config.hedge.engine_lookback) + 5


def carried_state(
    start: date, trades: pl.DataFrame, daily: pl.DataFrame, positions: pl.DataFrame, hedges: pl.DataFrame,
    config: StrategyConfig,
) -> CarriedState | None:
    """The :class:`CarriedState` at ``start`` from stored outputs of the sessions before it.

    ``trades``/``daily``/``positions``/``hedges``: the stored ``condor_trades``,
    ``backtest_daily``, ``condor_positions`` and ``hedge_layers`` rows (rows dated from
    ``start`` on are ignored). None when nothing is stored before ``start`` (a run from the
    first session).
    """
    daily = daily.filter(pl.col("date") < start)
    if daily.is_empty():
        return None
    prev_date = daily["date"].max()
    last = daily.filter(pl.col("date") == prev_date)
    equity = dict(zip(last["strategy"].to_list(), last["equity"].to_list(), strict=True))
    peaks = daily.group_by("strategy").agg(pl.col("equity").max())
    peak = dict(zip(peaks["strategy"].to_list(), peaks["equity"].to_list(), strict=True))
    known = trades.filter(pl.col("entry_date") < start)
    still_open = (pl.col("exit_date") >= start) | pl.col("exit_date").is_null() | (pl.col("exit_reason") == "open")
    condor = known.filter(pl.col("strategy") != "cndr_benchmark")
    condor = condor.unique("position_id", keep="first", maintain_order=True) if condor.height else condor
    lineages = condor.filter(still_open).select(pl.coalesce("parent_id", "position_id").alias("position_id")).unique()
    entry_cols = ["date", "root", "expiration", "settlement", "contracts", *LEG_STRIKES, "breakeven_put", "breakeven_call"]
    as_entry = lambda f: f.rename({"entry_date": "date"})  # noqa: E731
    open_entries = as_entry(condor.join(lineages, on="position_id").filter(pl.col("parent_id").is_null()))
    open_entries = open_entries.select(entry_cols).with_columns(pl.lit("enter").alias("action")).sort("date")
    first_gen = condor.filter(pl.col("parent_id").is_null())["entry_date"]
    cndr_rows = known.filter((pl.col("strategy") == "cndr_benchmark") & still_open)
    cndr_entries_ = as_entry(cndr_rows).select(
        *entry_cols, "units",
        (pl.col("sp_strike") - pl.col("breakeven_put")).alias("mid_credit"),
        pl.lit(None, dtype=pl.Float64).alias("underlying_price"),
        pl.max_horizontal(pl.col("sp_strike") - pl.col("lp_strike"), pl.col("lc_strike") - pl.col("sc_strike")).alias("max_width"),
    ) if "units" in cndr_rows.columns else pl.DataFrame()
    # the hedge's own record of the book's stress loss (one value per session, every layer's row)
    hedges = hedges.filter(pl.col("date") < start) if hedges.height else hedges
    if hedges.height:
        stress = hedges.group_by("date").agg(pl.col("stress_loss").first())
        warm = daily.select(pl.col("date").unique()).join(stress, on="date", how="left").fill_null(0.0).sort("date")
        last_hedge = hedges.filter(pl.col("date") == prev_date)
    else:
        warm = pl.DataFrame(schema={"date": pl.Date, "stress_loss": pl.Float64})
        last_hedge = pl.DataFrame()
    return CarriedState(
        start=start,
        prev_date=prev_date,
        equity=equity,
        peak=peak,
        open_entries=open_entries,
        entered_before=tuple(sorted(first_gen.to_list())),
        book_stress=warm.tail(hedge_warmup_sessions(config)),
        hedge=last_hedge,
        cndr=CndrCarry(prev_date=prev_date, equity=equity.get("cndr_benchmark", config.backtest.initial_equity),
                       open_entries=cndr_entries_),
    )


def carried_expirations(state: CarriedState | None) -> pl.DataFrame:
    """``root, expiration, from_date``: the expirations of the condors a continued run carries,
    and the first session whose rows it needs (their entry), before ``state.start``."""
    schema = {"root": pl.String, "expiration": pl.Date, "from_date": pl.Date}
    if state is None:
        return pl.DataFrame(schema=schema)
    parts = [f.select("root", "expiration", pl.col("date").alias("from_date"))
             for f in (state.open_entries, state.cndr.open_entries) if f.height]
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).group_by("root", "expiration").agg(pl.col("from_date").min()).sort("root", "expiration")


def summarize(daily: pl.DataFrame, trades: pl.DataFrame, config: StrategyConfig,
              hedges: pl.DataFrame | None = None, cash_rates: pl.DataFrame | None = None) -> pl.DataFrame:
    """One :func:`features.performance.performance_summary` row per strategy of ``daily`` (the
    whole history); ``hedges`` (the ALVH rows) feed the hedged strategy's hedge statistics,
    ``cash_rates`` the risk-free rate."""
    rows = []
    for name in [s for s in STRATEGIES if s in set(daily["strategy"].to_list())]:
        dd = daily.filter(pl.col("strategy") == name).sort("date")
        tt = trades.filter(pl.col("strategy") == name) if trades.height else None
        hh = hedges.sort("date", "layer") if name == "alvh_hedged" and hedges is not None and hedges.height else None
        rows.append({"strategy": name, **performance_summary(dd, tt, config.backtest, hedges=hh, cash_rates=cash_rates)})
    return pl.DataFrame(rows)


def run_backtest(
    option_features: pl.DataFrame,
    features_asof: pl.DataFrame,
    spx_daily: pl.DataFrame,
    vx_futures: pl.DataFrame,
    config: StrategyConfig,
    strategies: tuple[str, ...] = STRATEGIES,
    cash_rates: pl.DataFrame | None = None,
    state: CarriedState | None = None,
) -> BacktestResult:
    """Decisions -> positions -> hedges -> daily P&L and metrics for several strategies.

    Parameters
    ----------
    option_features : per-contract EOD features (quotes and Black-76 Greeks).
    features_asof : market features + regimes with ``available_at`` (every revision).
    spx_daily : ``date, open, close`` of SPX (settlement prices).
    vx_futures : ``date, expiration, settle``.
    config : StrategyConfig
    strategies : subset of ``("unhedged", "alvh_hedged", "cndr_benchmark")``.
    cash_rates : ``date, rate`` (annual decimal) as of each date, or None for the constant.
    state : CarriedState, optional
        Continue a stored run at ``state.start``: the outputs cover the sessions from
        ``state.start`` on, and equal a full-history run's rows for them. Then
        ``option_features`` needs the chains of those sessions and, before them, only the
        rows of :func:`carried_expirations`; ``spx_daily`` and ``vx_futures`` the sessions
        from ``start`` (VX: and the hedge warm-up sessions before it).

    Returns
    -------
    BacktestResult
        ``daily`` columns: ``strategy, date, condor_pnl, hedge_pnl, hedge_pnl_<layer>,
        trading_pnl, interest, pnl, equity, drawdown, attr_delta, attr_gamma, attr_theta,
        attr_vega, attr_carry, attr_residual``. ``trades``: every trade entered before
        (carried) or in the window; ``summary``: the metrics of the rows returned (for a
        continued run, :func:`summarize` the stored history instead).
    """
    unknown = set(strategies) - set(STRATEGIES)
    if unknown:
        raise ValueError(f"unknown strategies {sorted(unknown)}")
    bcfg = config.backtest
    option_features = eod_quotes(option_features)
    start = state.start if state is not None else None
    window = option_features if start is None else option_features.filter(pl.col("quote_date") >= start)
    days = window.select(pl.col("quote_date").unique().alias("date")).sort("date")
    decisions = condor_decisions(window, features_asof, config, equity=bcfg.initial_equity,
                                 entered_before=() if state is None else state.entered_before)
    entries = decisions if state is None else pl.concat(
        [state.open_entries, decisions.filter(pl.col("action") == "enter")], how="diagonal_relaxed"
    )
    pos_daily, trades = manage_positions(entries, option_features, spx_daily, config)
    if start is not None:
        pos_daily = pos_daily.filter(pl.col("date") >= start)
    condor = pos_daily.group_by("date").agg(
        pl.col("pnl").sum().alias("condor_pnl"), pl.col("net_vega").sum(), *[pl.col(c).sum() for c in ATTR]
    )
    condor = days.join(condor, on="date", how="left").fill_null(0.0).sort("date")
    daily_frames, trade_frames = [], []
    hedges = pl.DataFrame()
    zero_layers = [pl.lit(0.0).alias(f"hedge_pnl_{name}") for name in LAYERS]
    if "unhedged" in strategies:
        parts = condor.select(
            "date", "condor_pnl", pl.lit(0.0).alias("hedge_pnl"), *zero_layers,
            pl.col("condor_pnl").alias("trading_pnl"), *ATTR,
        )
        daily_frames.append(_finish(days, parts, bcfg, "unhedged", state, cash_rates))
        trade_frames.append(trades.with_columns(pl.lit("unhedged").alias("strategy")))
    if "alvh_hedged" in strategies:
        book = condor_book_stress(pos_daily, trades, features_asof, days, config)
        carry = None
        if state is not None and state.book_stress.height:
            book = pl.concat([state.book_stress.select(book.columns), book]).sort("date")
            carry = state.hedge
        hedges = hedge_layers(book, features_asof, vx_futures, config, carry=carry)
        hp = hedge_pnl(hedges, config)
        if start is not None:
            hedges, hp = hedges.filter(pl.col("date") >= start), hp.filter(pl.col("date") >= start)
        # one column per layer even when a step holds no hedge rows (a span without option rows)
        h_attr = hp.group_by("date").agg(
            pl.col("pnl").sum().alias("hedge_pnl"),
            *[pl.col("pnl").filter(pl.col("layer") == n).sum().alias(f"hedge_pnl_{n}") for n in LAYERS],
            *[pl.col(c).sum().alias(f"h_{c}") for c in ATTR],
        )
        parts = (
            condor.join(h_attr, on="date", how="left").fill_null(0.0)
            .select(
                "date", "condor_pnl", "hedge_pnl", *[f"hedge_pnl_{n}" for n in LAYERS],
                (pl.col("condor_pnl") + pl.col("hedge_pnl")).alias("trading_pnl"),
                *[(pl.col(c) + pl.col(f"h_{c}")).alias(c) for c in ATTR],
            )
        )
        daily_frames.append(_finish(days, parts, bcfg, "alvh_hedged", state, cash_rates))
        trade_frames.append(trades.with_columns(pl.lit("alvh_hedged").alias("strategy")))
    if "cndr_benchmark" in strategies:
        cd, ct = cndr_benchmark(option_features, spx_daily, config, sessions=days["date"],
                                carry=None if state is None else state.cndr)
        # CNDR is reported without Greek attribution: its P&L falls in attr_residual
        parts = cd.select(
            "date", "condor_pnl", pl.lit(0.0).alias("hedge_pnl"), *zero_layers,
            pl.col("condor_pnl").alias("trading_pnl"), *[pl.lit(0.0).alias(c) for c in ATTR],
        )
        daily_frames.append(_finish(days, parts, bcfg, "cndr_benchmark", state, cash_rates))
        if ct.height:
            trade_frames.append(ct.with_columns(pl.lit("cndr_benchmark").alias("strategy")))
    cols = ["strategy", "date", "condor_pnl", "hedge_pnl", *[f"hedge_pnl_{n}" for n in LAYERS], "trading_pnl",
            "interest", "pnl", "equity", "drawdown", *ATTR, "attr_carry", "attr_residual"]
    daily = pl.concat([f.select(cols) for f in daily_frames])
    all_trades = pl.concat(trade_frames, how="diagonal_relaxed") if trade_frames else pl.DataFrame()
    return BacktestResult(daily=daily, summary=summarize(daily, all_trades, config, hedges, cash_rates), trades=all_trades,
                          decisions=decisions, hedges=hedges, positions=pos_daily)
