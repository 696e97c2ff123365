"""The one trading calendar: NYSE sessions, scheduled holidays, and the expiration rules of
SPX options (AM monthlies, PM dailies/weeklies/month-ends) and VX futures.

Two views of the NYSE, both here:

* the *observed* calendar, shipped as data in this module (below);
* the *scheduled* calendar (:func:`scheduled_holidays`): the holiday rules known when
  contracts are listed. The simulator must place option and VX expirations years ahead of
  its last session, beyond any observed list, and nobody knew of unscheduled closures
  (2001-09-11..14, 2004-06-11, 2007-01-02, 2012-10-29/30, 2018-12-05, 2025-01-09) when the
  contracts were listed; a pure function of the date also keeps every simulated value
  independent of the requested range. The observed holidays are the scheduled ones plus
  :data:`UNSCHEDULED_CLOSURES` (tested over 1998-2035).

The observed calendar:

``HOLIDAYS`` lists every weekday from 1990-01-02 through 2035-12-31 on which the NYSE is
closed (regular holidays and ad-hoc closures such as 2001-09-11 or 2025-01-09);
``EARLY_CLOSES`` lists the half days with their close time in New York. Both were
generated from the ``exchange-calendars`` XNYS calendar (``scripts/make_nyse_calendar.py``)
and are tested against it, so a library upgrade cannot silently change the partition
set: the data, not the library, is the contract. Keeping the data in a Python module
keeps this pure (no file access) and usable from ``features/`` and ``pipelines/`` alike.

Sessions are plain :class:`datetime.date` values; times are America/New_York.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from features.events import nth_weekday

NY = ZoneInfo("America/New_York")
FIRST_SESSION = date(1990, 1, 2)
LAST_CALENDAR_DAY = date(2035, 12, 31)
REGULAR_CLOSE = time(16, 0)
OPEN = time(9, 30)


class CalendarRangeError(ValueError):
    """A date outside the range the checked-in calendar covers."""


@lru_cache(maxsize=1)
def holidays() -> frozenset[date]:
    """Weekdays on which the NYSE is closed."""
    return frozenset(date.fromisoformat(d) for d in HOLIDAYS)


@lru_cache(maxsize=1)
def early_closes() -> dict[date, time]:
    """Half days and their close time (America/New_York)."""
    return {date.fromisoformat(d): time.fromisoformat(t) for d, t in EARLY_CLOSES.items()}


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


def new_york_date(timestamp: pl.Expr) -> pl.Expr:
    """The New York calendar date of an aware timestamp column (any time zone).

    Equal to ``timestamp.dt.convert_time_zone("America/New_York").dt.date()``, cheaper:
    polars looks every row up in the time-zone database (~70 ns a row, ~1 ms of a day's
    chain, in every row rule that needs it). New York is UTC-5 or UTC-4 (standard and
    daylight time; the zone has used no other offset since 1883), so the UTC date of the
    instant 5 hours and 4 hours earlier bound its New York date; where they agree (every
    instant outside 04:00-05:00 UTC) that is the date, and only the rest are looked up.
    """
    utc = timestamp.dt.convert_time_zone("UTC")
    earliest = (utc - pl.duration(hours=5)).dt.date()
    latest = (utc - pl.duration(hours=4)).dt.date()
    exact = timestamp.dt.convert_time_zone("America/New_York").dt.date()
    return pl.when(earliest == latest).then(earliest).otherwise(exact)


def contiguous_session_runs(days, max_len: int | None = None) -> list[list[date]]:
    """Group sessions into runs of consecutive sessions (at most ``max_len`` long).

    Non-sessions are ignored. Used to turn a set of touched sessions into as few
    partition-range runs as possible.
    """
    runs: list[list[date]] = []
    for d in sorted({d for d in days if is_session(d)}):
        if runs and (max_len is None or len(runs[-1]) < max_len) and next_session(runs[-1][-1]) == d:
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


# fmt: off
HOLIDAYS: tuple[str, ...] = (
    "1990-02-19", "1990-04-13", "1990-05-28", "1990-07-04", "1990-09-03", "1990-11-22",
    "1990-12-25", "1991-01-01", "1991-02-18", "1991-03-29", "1991-05-27", "1991-07-04",
    "1991-09-02", "1991-11-28", "1991-12-25", "1992-01-01", "1992-02-17", "1992-04-17",
    "1992-05-25", "1992-07-03", "1992-09-07", "1992-11-26", "1992-12-25", "1993-01-01",
    "1993-02-15", "1993-04-09", "1993-05-31", "1993-07-05", "1993-09-06", "1993-11-25",
    "1993-12-24", "1994-02-21", "1994-04-01", "1994-04-27", "1994-05-30", "1994-07-04",
    "1994-09-05", "1994-11-24", "1994-12-26", "1995-01-02", "1995-02-20", "1995-04-14",
    "1995-05-29", "1995-07-04", "1995-09-04", "1995-11-23", "1995-12-25", "1996-01-01",
    "1996-02-19", "1996-04-05", "1996-05-27", "1996-07-04", "1996-09-02", "1996-11-28",
    "1996-12-25", "1997-01-01", "1997-02-17", "1997-03-28", "1997-05-26", "1997-07-04",
    "1997-09-01", "1997-11-27", "1997-12-25", "1998-01-01", "1998-01-19", "1998-02-16",
    "1998-04-10", "1998-05-25", "1998-07-03", "1998-09-07", "1998-11-26", "1998-12-25",
    "1999-01-01", "1999-01-18", "1999-02-15", "1999-04-02", "1999-05-31", "1999-07-05",
    "1999-09-06", "1999-11-25", "1999-12-24", "2000-01-17", "2000-02-21", "2000-04-21",
    "2000-05-29", "2000-07-04", "2000-09-04", "2000-11-23", "2000-12-25", "2001-01-01",
    "2001-01-15", "2001-02-19", "2001-04-13", "2001-05-28", "2001-07-04", "2001-09-03",
    "2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14", "2001-11-22", "2001-12-25",
    "2002-01-01", "2002-01-21", "2002-02-18", "2002-03-29", "2002-05-27", "2002-07-04",
    "2002-09-02", "2002-11-28", "2002-12-25", "2003-01-01", "2003-01-20", "2003-02-17",
    "2003-04-18", "2003-05-26", "2003-07-04", "2003-09-01", "2003-11-27", "2003-12-25",
    "2004-01-01", "2004-01-19", "2004-02-16", "2004-04-09", "2004-05-31", "2004-06-11",
    "2004-07-05", "2004-09-06", "2004-11-25", "2004-12-24", "2005-01-17", "2005-02-21",
    "2005-03-25", "2005-05-30", "2005-07-04", "2005-09-05", "2005-11-24", "2005-12-26",
    "2006-01-02", "2006-01-16", "2006-02-20", "2006-04-14", "2006-05-29", "2006-07-04",
    "2006-09-04", "2006-11-23", "2006-12-25", "2007-01-01", "2007-01-02", "2007-01-15",
    "2007-02-19", "2007-04-06", "2007-05-28", "2007-07-04", "2007-09-03", "2007-11-22",
    "2007-12-25", "2008-01-01", "2008-01-21", "2008-02-18", "2008-03-21", "2008-05-26",
    "2008-07-04", "2008-09-01", "2008-11-27", "2008-12-25", "2009-01-01", "2009-01-19",
    "2009-02-16", "2009-04-10", "2009-05-25", "2009-07-03", "2009-09-07", "2009-11-26",
    "2009-12-25", "2010-01-01", "2010-01-18", "2010-02-15", "2010-04-02", "2010-05-31",
    "2010-07-05", "2010-09-06", "2010-11-25", "2010-12-24", "2011-01-17", "2011-02-21",
    "2011-04-22", "2011-05-30", "2011-07-04", "2011-09-05", "2011-11-24", "2011-12-26",
    "2012-01-02", "2012-01-16", "2012-02-20", "2012-04-06", "2012-05-28", "2012-07-04",
    "2012-09-03", "2012-10-29", "2012-10-30", "2012-11-22", "2012-12-25", "2013-01-01",
    "2013-01-21", "2013-02-18", "2013-03-29", "2013-05-27", "2013-07-04", "2013-09-02",
    "2013-11-28", "2013-12-25", "2014-01-01", "2014-01-20", "2014-02-17", "2014-04-18",
    "2014-05-26", "2014-07-04", "2014-09-01", "2014-11-27", "2014-12-25", "2015-01-01",
    "2015-01-19", "2015-02-16", "2015-04-03", "2015-05-25", "2015-07-03", "2015-09-07",
    "2015-11-26", "2015-12-25", "2016-01-01", "2016-01-18", "2016-02-15", "2016-03-25",
    "2016-05-30", "2016-07-04", "2016-09-05", "2016-11-24", "2016-12-26", "2017-01-02",
    "2017-01-16", "2017-02-20", "2017-04-14", "2017-05-29", "2017-07-04", "2017-09-04",
    "2017-11-23", "2017-12-25", "2018-01-01", "2018-01-15", "2018-02-19", "2018-03-30",
    "2018-05-28", "2018-07-04", "2018-09-03", "2018-11-22", "2018-12-05", "2018-12-25",
    "2019-01-01", "2019-01-21", "2019-02-18", "2019-04-19", "2019-05-27", "2019-07-04",
    "2019-09-02", "2019-11-28", "2019-12-25", "2020-01-01", "2020-01-20", "2020-02-17",
    "2020-04-10", "2020-05-25", "2020-07-03", "2020-09-07", "2020-11-26", "2020-12-25",
    "2021-01-01", "2021-01-18", "2021-02-15", "2021-04-02", "2021-05-31", "2021-07-05",
    "2021-09-06", "2021-11-25", "2021-12-24", "2022-01-17", "2022-02-21", "2022-04-15",
    "2022-05-30", "2022-06-20", "2022-07-04", "2022-09-05", "2022-11-24", "2022-12-26",
    "2023-01-02", "2023-01-16", "2023-02-20", "2023-04-07", "2023-05-29", "2023-06-19",
    "2023-07-04", "2023-09-04", "2023-11-23", "2023-12-25", "2024-01-01", "2024-01-15",
    "2024-02-19", "2024-03-29", "2024-05-27", "2024-06-19", "2024-07-04", "2024-09-02",
    "2024-11-28", "2024-12-25", "2025-01-01", "2025-01-09", "2025-01-20", "2025-02-17",
    "2025-04-18", "2025-05-26", "2025-06-19", "2025-07-04", "2025-09-01", "2025-11-27",
    "2025-12-25", "2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03", "2026-05-25",
    "2026-06-19", "2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25", "2027-01-01",
    "2027-01-18", "2027-02-15", "2027-03-26", "2027-05-31", "2027-06-18", "2027-07-05",
    "2027-09-06", "2027-11-25", "2027-12-24", "2028-01-17", "2028-02-21", "2028-04-14",
    "2028-05-29", "2028-06-19", "2028-07-04", "2028-09-04", "2028-11-23", "2028-12-25",
    "2029-01-01", "2029-01-15", "2029-02-19", "2029-03-30", "2029-05-28", "2029-06-19",
    "2029-07-04", "2029-09-03", "2029-11-22", "2029-12-25", "2030-01-01", "2030-01-21",
    "2030-02-18", "2030-04-19", "2030-05-27", "2030-06-19", "2030-07-04", "2030-09-02",
    "2030-11-28", "2030-12-25", "2031-01-01", "2031-01-20", "2031-02-17", "2031-04-11",
    "2031-05-26", "2031-06-19", "2031-07-04", "2031-09-01", "2031-11-27", "2031-12-25",
    "2032-01-01", "2032-01-19", "2032-02-16", "2032-03-26", "2032-05-31", "2032-06-18",
    "2032-07-05", "2032-09-06", "2032-11-25", "2032-12-24", "2033-01-17", "2033-02-21",
    "2033-04-15", "2033-05-30", "2033-06-20", "2033-07-04", "2033-09-05", "2033-11-24",
    "2033-12-26", "2034-01-02", "2034-01-16", "2034-02-20", "2034-04-07", "2034-05-29",
    "2034-06-19", "2034-07-04", "2034-09-04", "2034-11-23", "2034-12-25", "2035-01-01",
    "2035-01-15", "2035-02-19", "2035-03-23", "2035-05-28", "2035-06-19", "2035-07-04",
    "2035-09-03", "2035-11-22", "2035-12-25"
)

EARLY_CLOSES: dict[str, str] = {
    "1990-12-24": "14:00",
    "1991-12-24": "14:00",
    "1992-11-27": "14:00",
    "1992-12-24": "14:00",
    "1993-11-26": "13:00",
    "1994-11-25": "13:00",
    "1995-07-03": "13:00",
    "1995-11-24": "13:00",
    "1996-07-05": "13:00",
    "1996-11-29": "13:00",
    "1996-12-24": "13:00",
    "1997-07-03": "13:00",
    "1997-11-28": "13:00",
    "1997-12-24": "13:00",
    "1997-12-26": "13:00",
    "1998-11-27": "13:00",
    "1998-12-24": "13:00",
    "1999-11-26": "13:00",
    "1999-12-31": "13:00",
    "2000-07-03": "13:00",
    "2000-11-24": "13:00",
    "2001-07-03": "13:00",
    "2001-11-23": "13:00",
    "2001-12-24": "13:00",
    "2002-07-05": "13:00",
    "2002-11-29": "13:00",
    "2002-12-24": "13:00",
    "2003-07-03": "13:00",
    "2003-11-28": "13:00",
    "2003-12-24": "13:00",
    "2003-12-26": "13:00",
    "2004-11-26": "13:00",
    "2005-11-25": "13:00",
    "2006-07-03": "13:00",
    "2006-11-24": "13:00",
    "2007-07-03": "13:00",
    "2007-11-23": "13:00",
    "2007-12-24": "13:00",
    "2008-07-03": "13:00",
    "2008-11-28": "13:00",
    "2008-12-24": "13:00",
    "2009-11-27": "13:00",
    "2009-12-24": "13:00",
    "2010-11-26": "13:00",
    "2011-11-25": "13:00",
    "2012-07-03": "13:00",
    "2012-11-23": "13:00",
    "2012-12-24": "13:00",
    "2013-07-03": "13:00",
    "2013-11-29": "13:00",
    "2013-12-24": "13:00",
    "2014-07-03": "13:00",
    "2014-11-28": "13:00",
    "2014-12-24": "13:00",
    "2015-11-27": "13:00",
    "2015-12-24": "13:00",
    "2016-11-25": "13:00",
    "2017-07-03": "13:00",
    "2017-11-24": "13:00",
    "2018-07-03": "13:00",
    "2018-11-23": "13:00",
    "2018-12-24": "13:00",
    "2019-07-03": "13:00",
    "2019-11-29": "13:00",
    "2019-12-24": "13:00",
    "2020-11-27": "13:00",
    "2020-12-24": "13:00",
    "2021-11-26": "13:00",
    "2022-11-25": "13:00",
    "2023-07-03": "13:00",
    "2023-11-24": "13:00",
    "2024-07-03": "13:00",
    "2024-11-29": "13:00",
    "2024-12-24": "13:00",
    "2025-07-03": "13:00",
    "2025-11-28": "13:00",
    "2025-12-24": "13:00",
    "2026-11-27": "13:00",
    "2026-12-24": "13:00",
    "2027-11-26": "13:00",
    "2028-07-03": "13:00",
    "2028-11-24": "13:00",
    "2029-07-03": "13:00",
    "2029-11-23": "13:00",
    "2029-12-24": "13:00",
    "2030-07-03": "13:00",
    "2030-11-29": "13:00",
    "2030-12-24": "13:00",
    "2031-07-03": "13:00",
    "2031-11-28": "13:00",
    "2031-12-24": "13:00",
    "2032-11-26": "13:00",
    "2033-11-25": "13:00",
    "2034-07-03": "13:00",
    "2034-11-24": "13:00",
    "2035-07-03": "13:00",
    "2035-11-23": "13:00",
    "2035-12-24": "13:00",
}
# fmt: on


# ---------------------------------------------------------------- scheduled holidays
#: Unscheduled NYSE closures since 1998 (weather, national mourning, 9/11): observed
#: holidays that no holiday rule predicts.
UNSCHEDULED_CLOSURES: tuple[str, ...] = (
    "2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14", "2004-06-11", "2007-01-02",
    "2012-10-29", "2012-10-30", "2018-12-05", "2025-01-09",
)


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian / Meeus-Jones-Butcher algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _observed(d: date, saturday_to_friday: bool = True) -> date | None:
    """Weekend observance: Sunday -> Monday; Saturday -> Friday (or no holiday)."""
    if d.weekday() == 6:
        return d + timedelta(days=1)
    if d.weekday() == 5:
        return d - timedelta(days=1) if saturday_to_friday else None
    return d


@lru_cache(maxsize=None)
def scheduled_holidays(year: int) -> frozenset[date]:
    """Scheduled NYSE full-day holidays of ``year`` under the rules in force since 1998.

    New Year's Day falling on a Saturday is not observed (NYSE rule 7.2), Juneteenth
    counts from 2022.
    """
    days = [
        _observed(date(year, 1, 1), saturday_to_friday=False),
        nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _easter(year) - timedelta(days=2),  # Good Friday
        nth_weekday(year, 5, 0, -1),  # Memorial Day
        _observed(date(year, 6, 19)) if year >= 2022 else None,
        _observed(date(year, 7, 4)),
        nth_weekday(year, 9, 0, 1),  # Labor Day
        nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(date(year, 12, 25)),
    ]
    return frozenset(d for d in days if d is not None)


def is_business_day(d: date) -> bool:
    """True on weekdays that are not *scheduled* NYSE holidays (see the module docstring)."""
    return d.weekday() < 5 and d not in scheduled_holidays(d.year)


def previous_business_day(d: date) -> date:
    """The last business day strictly before ``d``."""
    d -= timedelta(days=1)
    while not is_business_day(d):
        d -= timedelta(days=1)
    return d


def business_days(start: date, end: date) -> list[date]:
    """Business days in the closed interval [start, end]."""
    out: list[date] = []
    d = start
    while d <= end:
        if is_business_day(d):
            out.append(d)
        d += timedelta(days=1)
    return out


def third_friday(year: int, month: int) -> date:
    """Third Friday of a month (the standard monthly expiration date)."""
    return nth_weekday(year, month, 4, 3)


def monthly_option_expiration(year: int, month: int) -> date:
    """Standard SPX monthly expiration: the third Friday, or the business day before it if a holiday."""
    d = third_friday(year, month)
    return d if is_business_day(d) else previous_business_day(d)


def last_business_day(year: int, month: int) -> date:
    """Last business day of a month (SPXW end-of-month expiration)."""
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return previous_business_day(nxt)


def vx_expiration(year: int, month: int, observed: bool = False) -> date:
    """CFE VX monthly-contract final settlement date for contract month (year, month).

    The Wednesday 30 days before the third Friday of the *following* month; if that Friday
    or that Wednesday is an exchange holiday, the business day before the Wednesday.
    ``observed=False``: scheduled holidays (what was known at listing; the simulator);
    ``True``: the observed NYSE calendar (real contracts, e.g. checking vendor files).
    """
    ny, nm = year + (month == 12), month % 12 + 1
    friday = third_friday(ny, nm)
    wednesday = friday - timedelta(days=30)
    open_ = is_session if observed else is_business_day
    before = previous_session if observed else previous_business_day
    if not open_(friday) or not open_(wednesday):
        return before(wednesday)
    return wednesday


def add_months(year: int, month: int, k: int) -> tuple[int, int]:
    """(year, month) shifted by ``k`` months."""
    idx = year * 12 + (month - 1) + k
    return idx // 12, idx % 12 + 1


def holidays_array(first: date, last: date) -> np.ndarray:
    """Observed NYSE closures on weekdays in the years ``first.year .. last.year``
    (datetime64[D], for ``numpy.busday_*``); outside the shipped range none are known."""
    return np.array(sorted(d for d in holidays() if first.year <= d.year <= last.year), dtype="datetime64[D]")


def is_third_friday(d: date) -> bool:
    """True on the third Friday of a month (day 15-21): the standard monthly expiration day."""
    return d.weekday() == 4 and 15 <= d.day <= 21


def is_third_friday_expr(d: pl.Expr) -> pl.Expr:
    """:func:`is_third_friday` as a Polars expression over a Date column."""
    return (d.dt.weekday() == 5) & d.dt.day().is_between(15, 21)


def third_friday_expr(year: pl.Expr, month: pl.Expr) -> pl.Expr:
    """:func:`third_friday` as a Polars expression over year and month columns."""
    first = pl.date(year, month, 1)
    # weekday(): Monday=1 .. Sunday=7; Friday=5.
    offset = (5 - first.dt.weekday() + 7) % 7
    return first + pl.duration(days=offset + 14)


def is_monthly_vx_expiration_expr(expiration: pl.Expr) -> pl.Expr:
    """True for the final settlement date of a *monthly* VX contract: the Wednesday 30 days
    before the next month's third Friday, or up to three days earlier when a holiday moves it
    (:func:`vx_expiration`; weeklies fall on other days)."""
    nxt_year = expiration.dt.year() + (expiration.dt.month() == 12).cast(pl.Int32)
    nxt_month = expiration.dt.month() % 12 + 1
    wednesday = third_friday_expr(nxt_year, nxt_month) - pl.duration(days=30)
    return (expiration <= wednesday) & (expiration >= wednesday - pl.duration(days=3))
