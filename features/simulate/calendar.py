"""Scheduled NYSE business days and the expiration rules built on them.

The simulator must place option and VX expirations years ahead of the last simulated
session, i.e. beyond any list of observed sessions. It therefore uses the *scheduled*
NYSE holiday rules (known when contracts are listed). Unscheduled closures (2001-09-11..14,
2004-06-11, 2007-01-02, 2012-10-29/30, 2018-12-05, 2025-01-09) are deliberately not
holidays here: nobody knew of them when the contracts were listed, and using a pure
function of the date keeps every simulated value independent of the requested range.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from features.events import nth_weekday


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
def nyse_holidays(year: int) -> frozenset[date]:
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
    """True on weekdays that are not scheduled NYSE holidays."""
    return d.weekday() < 5 and d not in nyse_holidays(d.year)


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


def vx_expiration(year: int, month: int) -> date:
    """CFE VX monthly-contract final settlement date for contract month (year, month).

    The Wednesday 30 days before the third Friday of the *following* month; if that Friday
    or that Wednesday is an exchange holiday, the business day before the Wednesday.
    """
    ny, nm = year + (month == 12), month % 12 + 1
    friday = third_friday(ny, nm)
    wednesday = friday - timedelta(days=30)
    if not is_business_day(friday) or not is_business_day(wednesday):
        return previous_business_day(wednesday)
    return wednesday


def add_months(year: int, month: int, k: int) -> tuple[int, int]:
    """(year, month) shifted by ``k`` months."""
    idx = year * 12 + (month - 1) + k
    return idx // 12, idx % 12 + 1


def to_ordinals(days: list[date]) -> np.ndarray:
    """Proleptic Gregorian ordinals of dates, as int64."""
    return np.fromiter((d.toordinal() for d in days), dtype=np.int64, count=len(days))
