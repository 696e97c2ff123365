"""Scheduled macro-release features: FOMC, CPI, PPI.

Release calendars are **published in advance** (the Fed posts a year of FOMC meeting
dates, BLS a year of CPI/PPI release dates), so on day ``t`` the date of the *next*
release is already public information: "days to the next FOMC" is point-in-time correct
even though it looks forward. Only the calendar is used, never anything that happened on
the release day. (A release that was rescheduled after ``t`` — e.g. an emergency FOMC
meeting or a shutdown-delayed CPI — would be known only later; the ``events`` table is
taken as the calendar as finally published.)

Day counts are NYSE trading sessions: ``days_to_X`` is the number of sessions in
``(t, next release]`` (0 on a release day), counted with :func:`numpy.busday_count` and
the NYSE holidays, so it does not depend on which later rows of market data exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import numpy as np
import polars as pl

from features.calendar import holidays_array

EVENT_KINDS: tuple[str, ...] = ("FOMC", "CPI", "PPI")


def _sessions_between(start: np.ndarray, end: np.ndarray, holidays: np.ndarray) -> np.ndarray:
    """Sessions in ``(start, end]`` elementwise (start <= end)."""
    one = np.timedelta64(1, "D")
    return np.busday_count(start + one, end + one, holidays=holidays)


def event_features(
    dates: pl.Series,
    events: pl.DataFrame,
    window_before: int = 1,
    window_after: int = 0,
    holidays: Iterable[date] | None = None,
) -> pl.DataFrame:
    """Event flags and trading-day distances for each date in ``dates``.

    Parameters
    ----------
    dates : pl.Series of Date
        Trading sessions (the SPX daily dates).
    events : pl.DataFrame
        ``date, event`` with ``event`` in {FOMC, CPI, PPI}.
    window_before, window_after : int
        ``in_event_window`` is true when a release is at most ``window_before`` sessions
        ahead or was at most ``window_after`` sessions ago (default: the session before
        and the session of a release).
    holidays : iterable of date, optional
        NYSE holidays; default: the calendar shipped in :mod:`features.calendar`.

    Returns
    -------
    pl.DataFrame
        ``date, is_event_day, is_fomc_day, is_cpi_day, is_ppi_day, days_to_fomc,
        days_to_cpi, days_to_ppi, in_event_window`` (days as Int64 sessions, null when no
        later release is in the calendar).
    """
    d = dates.cast(pl.Date).to_numpy().astype("datetime64[D]")
    n = d.size
    ev = events.select(pl.col("date").cast(pl.Date), "event")
    all_dates = np.concatenate([d, ev["date"].to_numpy().astype("datetime64[D]")])
    if holidays is None:
        if all_dates.size:
            lo, hi = all_dates.min().astype(date), all_dates.max().astype(date)
            hol = holidays_array(lo, hi + timedelta(days=10))
        else:
            hol = np.array([], dtype="datetime64[D]")
    else:
        hol = np.array(sorted(holidays), dtype="datetime64[D]")

    cols: dict[str, np.ndarray] = {}
    any_day = np.zeros(n, dtype=bool)
    to_next_any = np.full(n, np.iinfo(np.int64).max)
    since_last_any = np.full(n, np.iinfo(np.int64).max)
    for kind in EVENT_KINDS:  # loop over three event kinds, vectorized over dates
        e = np.unique(ev.filter(pl.col("event") == kind)["date"].to_numpy().astype("datetime64[D]"))
        is_day = np.isin(d, e)
        nxt = np.searchsorted(e, d, side="left")  # first release on or after t
        has_next = nxt < e.size
        to_next = np.full(n, -1, dtype=np.int64)
        if has_next.any():
            to_next[has_next] = _sessions_between(d[has_next], e[nxt[has_next]], hol)
        prv = np.searchsorted(e, d, side="right") - 1  # last release on or before t
        has_prev = prv >= 0
        since = np.full(n, np.iinfo(np.int64).max)
        if has_prev.any():
            since[has_prev] = _sessions_between(e[prv[has_prev]], d[has_prev], hol)
        cols[f"is_{kind.lower()}_day"] = is_day
        cols[f"days_to_{kind.lower()}"] = np.where(has_next, to_next, -1)
        cols[f"_has_next_{kind.lower()}"] = has_next
        any_day |= is_day
        to_next_any = np.where(has_next, np.minimum(to_next_any, to_next), to_next_any)
        since_last_any = np.minimum(since_last_any, since)
    in_window = (to_next_any <= window_before) | (since_last_any <= window_after) | any_day
    kinds = [k.lower() for k in EVENT_KINDS]
    out = pl.DataFrame(
        {
            "date": dates.cast(pl.Date),
            "is_event_day": any_day,
            **{f"is_{k}_day": cols[f"is_{k}_day"] for k in kinds},
            **{f"days_to_{k}": cols[f"days_to_{k}"] for k in kinds},
            **{f"_has_next_{k}": cols[f"_has_next_{k}"] for k in kinds},
            "in_event_window": in_window,
        }
    )
    return out.with_columns(
        pl.when(pl.col(f"_has_next_{k}")).then(pl.col(f"days_to_{k}")).cast(pl.Int64).alias(f"days_to_{k}")
        for k in kinds
    ).drop([f"_has_next_{k}" for k in kinds])
