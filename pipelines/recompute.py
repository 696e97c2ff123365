"""What to recompute after vendor rows land: one policy for ``volsignals ingest`` and the
landing sensor.

Per-session assets (a session's option features and chain features depend on that
session's rows only) are recomputed for the touched sessions; every other daily asset
(rolling features, regimes: a session's value depends on the sessions before it) from
the first touched session through the last stored session, so no later session is left
stale; the whole-history assets (registry, decisions, backtest) once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import polars as pl

#: Assets whose value for a session depends only on that session's data.
PER_SESSION_ASSETS = frozenset({"option_features", "chain_features"})


@dataclass(frozen=True)
class RecomputePlan:
    """``per_session``: sessions for :data:`PER_SESSION_ASSETS`; ``history``: the sessions for
    the other daily assets (contiguous, first touched .. last stored)."""

    per_session: list[date]
    history: list[date]

    @property
    def empty(self) -> bool:
        return not self.per_session and not self.history


def recompute_plan(touched: Iterable[date], last_stored: date | None) -> RecomputePlan:
    """The sessions to recompute after rows dated ``touched`` landed; ``last_stored`` is the
    last date the warehouse holds daily data for (None: nothing else stored)."""
    from pipelines.calendar import is_session, sessions_between
    from pipelines.partitions import FIRST_PARTITION

    dates = sorted({d for d in touched if d >= FIRST_PARTITION})
    if not dates:
        return RecomputePlan([], [])
    sessions = [d for d in dates if is_session(d)]
    last = max(dates[-1], last_stored or dates[-1])
    return RecomputePlan(sessions, sessions_between(dates[0], last))


def last_stored_session(store) -> date | None:
    """The last date of stored S&P 500 daily rows (the history's end), or None."""
    dates = store.dates("spx_daily")
    return dates[-1] if dates else None


_EOD_CHAIN = ("spx_options", "eod", "ingest an end-of-day option chain for the range first (an overnight or "
              "intraday snapshot is not one), or run without --no-simulate")
_SPX_DAILY = ("spx_daily", None, "ingest an S&P 500 daily history (e.g. Yahoo ^GSPC bars) first")
#: Assets that cannot be computed without stored rows of a raw table: (table, snapshot kind
#: required or None, what to do about it). The decisions and the backtest trade end-of-day chains.
REQUIRES: dict[str, tuple[str, str | None, str]] = {
    "market_features": _SPX_DAILY,
    **{name: _EOD_CHAIN for name in ("condor_decisions", "condor_positions", "condor_trades", "hedge_layers",
                                     "backtest_daily", "backtest_summary")},
}


def skipped_assets(store, assets: set[str], last: date | None, downstream_of) -> dict[str, str]:
    """Assets of ``assets`` to skip, with the stated reason: those whose required input has
    no stored rows up to ``last``, and everything downstream of them (``downstream_of``:
    asset name -> names downstream of it)."""
    skipped: dict[str, str] = {}
    present: dict[tuple[str, str | None], bool] = {}
    for asset, (table, kind, advice) in REQUIRES.items():
        if asset not in assets or asset in skipped:
            continue
        if (table, kind) not in present:
            where = None if kind is None else pl.col("snapshot_kind") == kind
            columns = [store_date_column(table)] + ([] if kind is None else ["snapshot_kind"])
            present[(table, kind)] = not store.read(table, end=last, columns=columns, where=where).is_empty()
        if not present[(table, kind)]:
            what = f"{kind} {table}" if kind else table
            skipped[asset] = f"skipped {asset}: no {what} rows stored up to {last}; {advice}"
            for name in downstream_of(asset) & assets:
                skipped.setdefault(name, f"skipped {name}: it depends on {asset}")
    return skipped


def skip_report(skipped: dict[str, str]) -> list[str]:
    """The skipped assets as lines for people: each root cause once, its dependants together."""
    roots = sorted(set(r.split(": ", 1)[1] for r in skipped.values() if ": it depends on " not in r))
    roots = [f"skipped {', '.join(sorted(a for a, r in skipped.items() if r.endswith(cause)))}: {cause}"
             for cause in roots]
    dependants = sorted(a for a, r in skipped.items() if ": it depends on " in r)
    return roots + ([f"  also skipped, as they depend on it: {', '.join(dependants)}"] if dependants else [])


def store_date_column(table: str) -> str:
    from pipelines.warehouse import TABLES

    return TABLES[table].date_column
