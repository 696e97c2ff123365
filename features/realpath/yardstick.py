"""Comparing a strategy's equity with a published index: the CNDR yardstick.

Both series are daily levels (any scale). Figures:

* monthly returns from month-end levels (the last session of each calendar month both
  series have), and their Pearson correlation;
* annualized return: compound growth over the period, ``(L_end / L_start)^(365.25 / days) - 1``;
* annualized volatility: standard deviation of monthly returns x sqrt(12);
* maximum drawdown of the daily levels (decimal, negative);
* per-crisis returns over the windows of :data:`CRISES` (first to last session inside).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from features.performance import CRISES

__all__ = ["CRISES", "monthly_returns", "summary", "crisis_returns", "compare"]

def monthly_returns(levels: pl.DataFrame, value: str) -> pl.DataFrame:
    """``month, ret``: month-end to month-end returns of ``levels[value]`` (dated ``date``)."""
    ends = levels.sort("date").group_by(pl.col("date").dt.truncate("1mo").alias("month"), maintain_order=True).agg(
        pl.col(value).last())
    return ends.with_columns((pl.col(value) / pl.col(value).shift(1) - 1).alias("ret")).drop_nulls("ret").select("month", "ret")


def _max_drawdown(x: np.ndarray) -> float:
    return float(np.min(x / np.maximum.accumulate(x) - 1.0)) if x.size else float("nan")


def summary(levels: pl.DataFrame, value: str) -> dict[str, float]:
    """Annualized return and volatility, maximum drawdown of one level series."""
    s = levels.sort("date")
    x = s[value].to_numpy()
    days = (s["date"][-1] - s["date"][0]).days
    m = monthly_returns(s, value)["ret"].to_numpy()
    return {
        "annual_return": float((x[-1] / x[0]) ** (365.25 / days) - 1.0),
        "annual_vol": float(np.std(m, ddof=1) * np.sqrt(12.0)),
        "max_drawdown": _max_drawdown(x),
    }


def crisis_returns(levels: pl.DataFrame, value: str) -> dict[str, float]:
    """Return over each :data:`CRISES` window, from the last level before it to its last level."""
    s = levels.sort("date")
    out = {}
    for name, (lo, hi) in CRISES.items():
        before = s.filter(pl.col("date") < lo)
        inside = s.filter(pl.col("date").is_between(lo, hi))
        if before.height == 0 or inside.height == 0:
            out[name] = float("nan")
            continue
        out[name] = float(inside[value][-1] / before[value][-1] - 1.0)
    return out


def compare(replica: pl.DataFrame, published: pl.DataFrame, start: date, end: date) -> dict[str, object]:
    """The four target figures and the crisis table for ``replica`` vs ``published``.

    Both frames: ``date, level``. Only sessions both have, within ``start..end``, are used."""
    both = (
        replica.select("date", pl.col("level").alias("replica"))
        .join(published.select("date", pl.col("level").alias("published")), on="date")
        .filter(pl.col("date").is_between(start, end)).sort("date")
    )
    mr = monthly_returns(both, "replica").join(monthly_returns(both, "published"), on="month", suffix="_pub")
    corr = float(np.corrcoef(mr["ret"].to_numpy(), mr["ret_pub"].to_numpy())[0, 1])
    return {
        "sessions": both.height,
        "months": mr.height,
        "monthly_correlation": corr,
        "replica": summary(both, "replica"),
        "published": summary(both, "published"),
        "crises": {"replica": crisis_returns(both, "replica"), "published": crisis_returns(both, "published")},
        "monthly": mr,
        "daily": both,
    }


def regression(monthly: pl.DataFrame) -> dict[str, float]:
    """Published monthly return regressed on the replica's (``ret_pub = alpha + beta * ret``):
    ``beta`` measures relative exposure (sizing), ``alpha`` the premium gap per month at equal exposure."""
    x, y = monthly["ret"].to_numpy(), monthly["ret_pub"].to_numpy()
    beta, alpha = np.polyfit(x, y, 1)
    return {"corr": float(np.corrcoef(x, y)[0, 1]), "beta": float(beta), "alpha_monthly": float(alpha),
            "mean_replica": float(x.mean()), "mean_published": float(y.mean())}


def regression_by_period(monthly: pl.DataFrame, periods: list[tuple[int, int]]) -> pl.DataFrame:
    """:func:`regression` per span of calendar years (inclusive)."""
    rows = [{"period": f"{lo}-{hi}", **regression(monthly.filter(pl.col("month").dt.year().is_between(lo, hi)))}
            for lo, hi in periods]
    return pl.DataFrame(rows)
