"""Performance metrics of a strategy's daily equity path, its trades and its hedge.

Metrics (:func:`performance_summary`), on daily simple returns ``R_t = pnl_t / E_{t-1}``:
CAGR ``(E_T/E_0)^(365/days) - 1`` (calendar days); annual vol ``std(R) sqrt(252)`` (ddof 1);
Sharpe ``mean(R - rf_t) / std(R) sqrt(252)`` with ``rf_t`` the cash rate earned that
session (``rate_t x dd_t / 365``: the T-bill series when one is stored, else the configured
constant); Sortino ``mean(R - rf) / sqrt(mean(min(R - rf, 0)^2)) sqrt(252)``; max drawdown
``min(E / cummax(E) - 1)``; Calmar ``CAGR / |max drawdown|``; historical one-day VaR at
``var_level`` = ``-quantile(R, 1 - level)`` (linear interpolation) and CVaR = minus the mean of
the returns at or below that quantile.

IRR.  The internal rate of return is computed by XIRR (ACT/365, :func:`xirr`) from the
actual dated external cash flows: ``-E_0`` at the start, every contribution (negative) or
withdrawal (positive) on its date, and ``+E_T`` at the end.  A backtest without external
flows has an IRR equal to its CAGR by construction (both ACT/365 on the same two flows), so
the summary then omits ``irr`` instead of printing a duplicate.

Trades.  ``n_trades, win_rate, avg_holding_days`` are over the strategy's own closed trades:
for the hedged strategy the condor trades *and* the hedge positions (:func:`hedge_trades`),
with ``condor_*`` and ``hedge_*`` breakdowns.  Hedge turnover = contracts traded per year
divided by the average number of contracts held (how many times a year the hedge book is
traded over); hedge hit rate = the share of closed hedge positions with a positive P&L
(costs included).  ``stale_marks`` counts the sessions on which a hedge position was marked
on a carried-forward future (no settlement that day).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
from scipy.optimize import brentq

from features.strategy_config import BacktestConfig

__all__ = ["xirr", "performance_summary", "hedge_trades", "hedge_statistics", "cash_rate_per_session", "stored_rate_series", "drawdown_metrics"]


#: The stress windows every report uses (issue #10's list; inclusive calendar ranges).
CRISES: dict[str, tuple[date, date]] = {
    "2008-09..2009-03": (date(2008, 9, 1), date(2009, 3, 31)),
    "2010-05": (date(2010, 5, 1), date(2010, 5, 31)),
    "2011-08": (date(2011, 8, 1), date(2011, 8, 31)),
    "2015-08": (date(2015, 8, 1), date(2015, 8, 31)),
    "2018-02": (date(2018, 2, 1), date(2018, 2, 28)),
    "2020-02..2020-04": (date(2020, 2, 1), date(2020, 4, 30)),
    "2022": (date(2022, 1, 1), date(2022, 12, 31)),
}

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


def stored_rate_series(bills: pl.DataFrame | None) -> pl.DataFrame | None:
    """``date, rate`` from a stored ``treasury_bill_rates`` table (its bond-equivalent yield,
    decimal), or None when nothing is stored."""
    if bills is None or bills.height == 0:
        return None
    return bills.select(pl.col("date"), pl.col("bond_equivalent_yield").alias("rate")).drop_nulls()


def cash_rate_per_session(dates: np.ndarray, constant: float, rates: pl.DataFrame | None = None) -> np.ndarray:
    """Annual cash rate (decimal) accruing into each session.

    ``rates`` (``date, rate``, decimal, e.g. the 3-month T-bill yield) sets the rate of the
    accrual from the previous session to each session: the latest rate dated *before* the
    session (known when the cash was placed; the constant before the first one).  Without it
    every session earns ``constant``.
    """
    d = np.asarray(dates, dtype="datetime64[D]")
    if rates is None or rates.height == 0:
        return np.full(d.shape, constant, dtype=float)
    r = rates.select(pl.col("date").cast(pl.Date), pl.col("rate").cast(pl.Float64)).drop_nulls().sort("date")
    rd = r["date"].to_numpy().astype("datetime64[D]")
    idx = np.searchsorted(rd, d, side="left") - 1
    return np.where(idx >= 0, r["rate"].to_numpy()[np.maximum(idx, 0)], constant)


def drawdown_metrics(equity: np.ndarray, initial: float) -> float:
    """Maximum drawdown (<= 0, decimal) of the path ``initial, equity...``."""
    curve = np.r_[initial, np.asarray(equity, dtype=float)]
    return float((curve / np.maximum.accumulate(curve) - 1.0).min())


def hedge_trades(hedges: pl.DataFrame) -> pl.DataFrame:
    """One row per hedge position, from its opening session to the session it was sold.

    A position starts on a row whose ``event`` ends with ``open`` and ends on the next row of
    the same layer that sells it (``roll``, ``monetize``, ``close``, a ``resize`` to zero) or
    at the last row (``exit_reason = "open"``).  ``pnl`` sums the layer's daily P&L from the
    session after the opening (plus the opening cost) through the closing session's mark and
    sale cost.  Returns ``layer, entry_date, exit_date, exit_reason, pnl, holding_days,
    contracts_traded``.
    """
    if hedges.height == 0:
        return pl.DataFrame(schema={"layer": pl.String, "entry_date": pl.Date, "exit_date": pl.Date, "exit_reason": pl.String,
                                    "pnl": pl.Float64, "holding_days": pl.Float64, "contracts_traded": pl.Float64})
    h = hedges.sort(["layer", "date"]).with_columns(
        pl.col("event").str.ends_with("open").alias("_opens"),
        pl.col("event").str.split("+").list.first().alias("_first"),
    )
    prev_on = pl.col("on").shift(1).over("layer").fill_null(False)
    # position k is the one held after the k-th opening; a row's P&L belongs to the position
    # held overnight into it, and its opening cost to the position opened on it
    h = h.with_columns(
        pl.col("_opens").cast(pl.Int64).cum_sum().over("layer").alias("_pos_after"),
    ).with_columns(
        pl.when(prev_on & pl.col("_opens")).then(pl.col("_pos_after") - 1).otherwise(pl.col("_pos_after")).alias("_pos_sold"),
    )
    sold = h.filter(prev_on & pl.col("_first").is_in(["roll", "monetize", "close", "resize"]) & (
        ~pl.col("on") | pl.col("_opens"))).select("layer", pl.col("_pos_sold").alias("_pos"), pl.col("date").alias("exit_date"),
                                                  pl.col("_first").alias("exit_reason"))
    # P&L: the opening row's cost, then every later row up to the exit.  A roll row's P&L is
    # the old position's mark change minus both trades' costs: the new position's share of
    # the costs (costs are proportional to contracts traded) is moved to the new position.
    opening_cost = pl.when(pl.col("_opens")).then(pl.col("contracts") * pl.col("costs") / pl.col("traded").clip(lower_bound=1.0)).otherwise(0.0)
    h = h.with_columns(opening_cost.alias("_open_cost"))
    rows = pl.concat([
        h.filter(pl.col("_opens")).select("layer", pl.col("_pos_after").alias("_pos"), (-pl.col("_open_cost")).alias("pnl"),
                                          pl.col("date").alias("_d"), pl.col("contracts").alias("_n")),
        h.filter(prev_on).select("layer", pl.col("_pos_sold").alias("_pos"), (pl.col("pnl") + pl.col("_open_cost")).alias("pnl"),
                                 pl.col("date").alias("_d"), pl.col("traded").alias("_n") - pl.when(pl.col("_opens")).then(pl.col("contracts")).otherwise(0.0)),
    ])
    agg = rows.group_by("layer", "_pos").agg(
        pl.col("_d").min().alias("entry_date"), pl.col("_d").max().alias("_last"), pl.col("pnl").sum(), pl.col("_n").sum().alias("contracts_traded"),
    )
    out = agg.join(sold, on=["layer", "_pos"], how="left").with_columns(
        pl.col("exit_reason").fill_null("open"), pl.col("exit_date").fill_null(pl.col("_last")),
    ).with_columns((pl.col("exit_date") - pl.col("entry_date")).dt.total_days().cast(pl.Float64).alias("holding_days"))
    return out.filter(pl.col("_pos") > 0).select("layer", "entry_date", "exit_date", "exit_reason", "pnl", "holding_days", "contracts_traded").sort("entry_date", "layer")


def hedge_statistics(hedges: pl.DataFrame, days: float, equity: float) -> dict[str, float]:
    """Hedge turnover, hit rate, costs and stale marks over a run of ``days`` calendar days.

    ``hedge_turnover``: contracts traded per year / average contracts held (sessions with
    no position count as 0); ``hedge_contracts_traded_per_year``; ``hedge_costs_per_year``
    (bid/ask + commission, dollars); ``hedge_pnl_per_year_pct`` (net hedge P&L per year /
    equity); ``hedge_hit_rate`` over closed positions; ``hedge_n_positions``; ``stale_marks``.
    """
    years = days / 365.0 if days > 0 else float("nan")
    if hedges.height == 0:
        return {"hedge_turnover": float("nan"), "hedge_contracts_traded_per_year": 0.0, "hedge_costs_per_year": 0.0,
                "hedge_pnl_per_year_pct": 0.0, "hedge_hit_rate": float("nan"), "hedge_n_positions": 0.0, "stale_marks": 0.0}
    per_day = hedges.group_by("date").agg(pl.col("contracts").sum(), pl.col("traded").sum(), pl.col("costs").sum(),
                                          pl.col("pnl").sum(), pl.col("stale_mark").any())
    held = float(per_day["contracts"].mean())
    traded = float(per_day["traded"].sum()) / years
    trades = hedge_trades(hedges)
    closed = trades.filter(pl.col("exit_reason") != "open")
    return {
        "hedge_turnover": traded / held if held > 0 else float("nan"),
        "hedge_contracts_traded_per_year": traded,
        "hedge_costs_per_year": float(per_day["costs"].sum()) / years,
        "hedge_pnl_per_year_pct": float(per_day["pnl"].sum()) / years / equity,
        "hedge_hit_rate": float((closed["pnl"] > 0).mean()) if closed.height else float("nan"),
        "hedge_n_positions": float(trades.height),
        "stale_marks": float(per_day["stale_mark"].sum()),
    }


def _trade_stats(trades: pl.DataFrame | None) -> tuple[float, float, float]:
    closed = trades.filter(pl.col("exit_reason") != "open") if trades is not None and trades.height else None
    if closed is None or closed.height == 0:
        return 0.0, float("nan"), float("nan")
    return float(closed.height), float((closed["pnl"] > 0).mean()), float(closed["holding_days"].mean())


def performance_summary(
    daily: pl.DataFrame,
    trades: pl.DataFrame | None,
    config: BacktestConfig,
    hedges: pl.DataFrame | None = None,
    flows: pl.DataFrame | None = None,
    cash_rates: pl.DataFrame | None = None,
) -> dict[str, float]:
    """Metrics of one strategy from ``daily`` (``date, pnl, equity``), its closed condor
    ``trades``, its hedge layer rows (``hedges``, hedged strategy only), external cash
    ``flows`` (``date, amount``: + withdrawn, - contributed; IRR only when given) and the
    cash ``rates`` series (``date, rate``) used as the risk-free rate."""
    eq = daily["equity"].to_numpy()
    pnl = daily["pnl"].to_numpy()
    dates = daily["date"].to_numpy().astype("datetime64[D]")
    e0 = config.initial_equity
    prev = np.r_[e0, eq[:-1]]
    r = pnl / prev
    ppy = config.periods_per_year
    dd = np.r_[365.0 / ppy, np.diff(dates).astype(float)]
    rf = cash_rate_per_session(dates, config.cash_rate, cash_rates) * dd / 365.0
    days = float((dates[-1] - dates[0]).astype(float)) if dates.size > 1 else 0.0
    cagr = (eq[-1] / e0) ** (365.0 / days) - 1.0 if days > 0 and eq[-1] > 0 else float("nan")
    sd = float(np.std(r, ddof=1)) if r.size > 1 else float("nan")
    ex = r - rf
    downside = float(np.sqrt(np.mean(np.minimum(ex, 0.0) ** 2)))
    mdd = drawdown_metrics(eq, e0)
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
    }
    if flows is not None and flows.height and days > 0:
        f = flows.select(pl.col("date").cast(pl.Date), pl.col("amount").cast(pl.Float64))
        fd = np.r_[dates[0], f["date"].to_numpy().astype("datetime64[D]"), dates[-1]]
        out["irr"] = xirr(fd, np.r_[-e0, f["amount"].to_numpy(), float(eq[-1])])
    n_c, w_c, h_c = _trade_stats(trades)
    out.update(condor_n_trades=n_c, condor_win_rate=w_c)
    if hedges is not None and hedges.height:
        hs = hedge_statistics(hedges, days, e0)
        out.update(hs)
        ht = hedge_trades(hedges).filter(pl.col("exit_reason") != "open")
        n_h = float(ht.height)
        n = n_c + n_h
        wins = (w_c * n_c if n_c else 0.0) + float((ht["pnl"] > 0).sum())
        held = (h_c * n_c if n_c else 0.0) + float(ht["holding_days"].sum())
        out.update(n_trades=n, win_rate=wins / n if n else float("nan"), avg_holding_days=held / n if n else float("nan"))
    else:
        out.update(n_trades=n_c, win_rate=w_c, avg_holding_days=h_c)
    return out
