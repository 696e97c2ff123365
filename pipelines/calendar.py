"""The NYSE trading calendar, from checked-in data.

``pipelines/data/nyse_holidays.csv`` lists every weekday from 1990-01-02 through
2035-12-31 on which the NYSE is closed (regular holidays and ad-hoc closures such as
2001-09-11 or 2025-01-09); ``nyse_early_closes.csv`` lists the half days with their
close time in New York. Both were generated from the ``exchange-calendars`` XNYS
calendar and are tested against it, so a library upgrade cannot silently change the
partition set: the data, not the library, is the contract.

Sessions are plain :class:`datetime.date` values; times are America/New_York.
"""

from __future__ import annotations

import bisect
import csv
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
FIRST_SESSION = date(1990, 1, 2)
LAST_CALENDAR_DAY = date(2035, 12, 31)
REGULAR_CLOSE = time(16, 0)
OPEN = time(9, 30)

_DATA = Path(__file__).with_name("data")


class CalendarRangeError(ValueError):
    """A date outside the range the checked-in calendar covers."""


@lru_cache(maxsize=1)
def holidays() -> frozenset[date]:
    """Weekdays on which the NYSE is closed."""
    with open(_DATA / "nyse_holidays.csv", newline="") as fh:
        return frozenset(date.fromisoformat(row["date"]) for row in csv.DictReader(fh))


@lru_cache(maxsize=1)
def early_closes() -> dict[date, time]:
    """Half days and their close time (America/New_York)."""
    with open(_DATA / "nyse_early_closes.csv", newline="") as fh:
        return {
            date.fromisoformat(row["date"]): time.fromisoformat(row["close_time_et"])
            for row in csv.DictReader(fh)
        }


@lru_cache(maxsize=1)
def all_sessions() -> tuple[date, ...]:
    """Every NYSE session the checked-in calendar covers, in order."""
    closed = holidays()
    days = []
    d = FIRST_SESSION
    while d <= LAST_CALENDAR_DAY:
        if d.weekday() < 5 and d not in closed:
            days.append(d)
        d += timedelta(days=1)
    return tuple(days)


def _check_range(d: date) -> None:
    if not FIRST_SESSION <= d <= LAST_CALENDAR_DAY:
        raise CalendarRangeError(
            f"{d} is outside the NYSE calendar shipped with volsignals "
            f"({FIRST_SESSION} .. {LAST_CALENDAR_DAY})"
        )


def is_session(d: date) -> bool:
    """True when the NYSE is open on ``d``."""
    _check_range(d)
    return d.weekday() < 5 and d not in holidays()


def sessions_between(start: date, end: date) -> list[date]:
    """NYSE sessions from ``start`` to ``end``, both inclusive."""
    _check_range(start)
    _check_range(end)
    s = all_sessions()
    return list(s[bisect.bisect_left(s, start) : bisect.bisect_right(s, end)])


def next_session(d: date) -> date:
    """The first session strictly after ``d``."""
    s = all_sessions()
    i = bisect.bisect_right(s, d)
    if i >= len(s):
        raise CalendarRangeError(f"no session after {d} in the shipped calendar")
    return s[i]


def previous_session(d: date) -> date:
    """The last session strictly before ``d``."""
    s = all_sessions()
    i = bisect.bisect_left(s, d)
    if i == 0:
        raise CalendarRangeError(f"no session before {d} in the shipped calendar")
    return s[i - 1]


def session_on_or_before(d: date) -> date:
    """``d`` itself when it is a session, else the session before it."""
    return d if is_session(d) else previous_session(d)


def close_time(d: date) -> datetime:
    """The session's close as an aware datetime (16:00 ET, or the early close)."""
    if not is_session(d):
        raise ValueError(f"{d} is not an NYSE session")
    return datetime.combine(d, early_closes().get(d, REGULAR_CLOSE), tzinfo=NY)
