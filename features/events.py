"""The documented rule for macro-event dates where no published date is checked in.

Published FOMC decision days and CPI/PPI release dates are facts we ship as data
(``pipelines/data/macro_events.csv``). For months the data does not cover (simulated
futures far ahead, or history before the data starts) the calendar falls back to this
rule, which mirrors the agencies' usual practice:

* **FOMC** — eight scheduled decisions a year, on a Wednesday: the last Wednesday of
  January and of July, the third Wednesday of March, June and September, the first
  Wednesday of May and of November, and the second Wednesday of December.
* **CPI** — the NYSE session nearest the 12th of each month (the earlier one on a tie).
* **PPI** — the session after that month's CPI release.

A rule date that is not a session moves to the previous session. All functions are
pure: they take the session list as an argument.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

#: (month, which Wednesday: 1..4 = n-th, -1 = last) of the scheduled FOMC decisions.
FOMC_RULE: tuple[tuple[int, int], ...] = (
    (1, -1), (3, 3), (5, 1), (6, 3), (7, -1), (9, 3), (11, 1), (12, 2),
)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (Mon=0) of a month; ``n=-1`` is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _on_or_before(sessions: Sequence[date], d: date) -> date:
    i = bisect.bisect_right(sessions, d)
    return sessions[max(i - 1, 0)]


def _nearest(sessions: Sequence[date], d: date) -> date:
    i = bisect.bisect_left(sessions, d)
    before = sessions[max(i - 1, 0)]
    after = sessions[min(i, len(sessions) - 1)]
    if after == d:
        return d
    return before if (d - before) <= (after - d) else after


def rule_event_dates(year: int, month: int, sessions: Sequence[date]) -> dict[str, date]:
    """Rule-based FOMC/CPI/PPI dates in one month (FOMC only in meeting months)."""
    cpi = _nearest(sessions, date(year, month, 12))
    ppi = sessions[min(bisect.bisect_right(sessions, cpi), len(sessions) - 1)]
    out = {"CPI": cpi, "PPI": ppi}
    for m, n in FOMC_RULE:
        if m == month:
            out["FOMC"] = _on_or_before(sessions, nth_weekday(year, month, 2, n))
    return out


def event_calendar(historical: pl.DataFrame, sessions: Sequence[date], start: date, end: date) -> pl.DataFrame:
    """FOMC/CPI/PPI dates from ``start`` to ``end``: published where known, else the rule.

    ``historical`` has columns ``date`` and ``event``. Coverage is decided per event and
    month: FOMC by calendar year (a year with any published FOMC date is taken as
    complete), CPI and PPI by month. Rows carry ``source`` = ``historical`` or
    ``rule:volsignals-v1``.
    """
    hist = historical.select("date", "event").with_columns(
        pl.col("date").dt.year().alias("y"), pl.col("date").dt.month().alias("m")
    )
    fomc_years = set(hist.filter(pl.col("event") == "FOMC")["y"].to_list())
    months = {
        ev: set(zip(g["y"].to_list(), g["m"].to_list()))
        for ev, g in ((e, hist.filter(pl.col("event") == e)) for e in ("CPI", "PPI"))
    }
    rule_rows = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        for event, d in rule_event_dates(y, m, sessions).items():
            covered = y in fomc_years if event == "FOMC" else (y, m) in months[event]
            if not covered:
                rule_rows.append((d, event))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    rules = pl.DataFrame(rule_rows, schema={"date": pl.Date, "event": pl.String}, orient="row").with_columns(
        source=pl.lit("rule:volsignals-v1")
    )
    published = historical.select("date", "event").with_columns(source=pl.lit("historical"))
    return (
        pl.concat([published, rules])
        .filter(pl.col("date").is_between(start, end))
        .unique(["date", "event"], keep="first", maintain_order=True)
        .sort("date", "event")
    )
