"""Snapshot times of Cboe's delayed-quotes export, and the session they belong to.

The export's second line carries the download time in whatever locale the browser
used. Seen in real files::

    "Date: May 23, 2023 at 7:39 PM EDT"      Date: 14 April 2023, 19:12 UTC−4   (U+2212 minus)
    Date: 8 June 2023 7:56 PM EDT            Date: 6 May 2023, 8:40 PM EDT
    Date: 3 August 2026 at 05:22 GMT-4       Date: 6 April 2023, 22:48           (no zone)

A time without a zone is taken as America/New_York (Cboe's own clock; the page
shows ET by default). ``EDT``/``EST`` are the fixed offsets -4 h/-5 h, ``ET``
means America/New_York, ``UTC±h[:mm]``/``GMT±h`` are fixed offsets.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from pipelines import calendar as cal

NY = ZoneInfo("America/New_York")
#: Start of Cboe's Global Trading Hours session for SPX/SPXW (ET, evening before the session).
GTH_OPEN = time(20, 15)
#: Regular trading hours open (ET).
RTH_OPEN = time(9, 30)

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
         ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
         ("oct", "october"), ("nov", "november"), ("dec", "december")]
    )
    for m in names
}
_MDY = re.compile(r"^(?P<mon>[A-Za-z]+)\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})")
_DMY = re.compile(r"^(?P<day>\d{1,2})\.?\s+(?P<mon>[A-Za-z]+)\.?,?\s+(?P<year>\d{4})")
_TIME = re.compile(
    r"^[,\s]*(?:at\s+)?(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ampm>[AaPp]\.?\s?[Mm]\.?)?\s*(?P<tz>.*?)\s*$"
)
_OFFSET = re.compile(r"^(?:UTC|GMT)\s*(?P<sign>[+-])\s*(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?$")
_NAMED = {"EDT": timezone(timedelta(hours=-4)), "EST": timezone(timedelta(hours=-5)), "ET": NY,
          "UTC": timezone.utc, "GMT": timezone.utc, "": NY}


def parse_snapshot_time(text: str) -> datetime:
    """Parse the value of a ``Date:`` line to an aware datetime in America/New_York.

    Parameters
    ----------
    text : the whole date line (quotes, ``Date:`` prefix and trailing ``,Bid: ..``
        fields are removed here).

    Raises
    ------
    ValueError
        When the text matches none of the known layouts.
    """
    s = text.replace('"', "").replace("\u2212", "-").replace("\u00a0", " ").strip()
    s = re.sub(r"^Date:\s*", "", s, flags=re.IGNORECASE)
    s = re.split(r",\s*(?:Bid|Ask|Size|Volume)\b", s, maxsplit=1)[0].strip()
    m = _MDY.match(s) or _DMY.match(s)
    if not m:
        raise ValueError(f"no date in {text!r}")
    mon = _MONTHS.get(m["mon"].lower())
    if mon is None:
        raise ValueError(f"unknown month {m['mon']!r}")
    d = date(int(m["year"]), mon, int(m["day"]))
    t = _TIME.match(s[m.end():])
    if not t:
        raise ValueError(f"no time in {text!r}")
    hour, minute, sec = int(t["h"]), int(t["m"]), int(t["s"] or 0)
    if t["ampm"]:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} with AM/PM")
        pm = t["ampm"][0].lower() == "p"
        hour = hour % 12 + (12 if pm else 0)
    tzname = t["tz"].strip()
    off = _OFFSET.match(tzname)
    if off:
        delta = timedelta(hours=int(off["h"]), minutes=int(off["m"] or 0))
        if delta > timedelta(hours=14):
            raise ValueError(f"offset {tzname!r} out of range")
        tz = timezone(delta if off["sign"] == "+" else -delta)
    elif tzname.upper() in _NAMED:
        tz = _NAMED[tzname.upper()]
    else:
        raise ValueError(f"unknown time zone {tzname!r}")
    return datetime.combine(d, time(hour, minute, sec), tzinfo=tz).astimezone(NY)


def classify_snapshot(ts: datetime) -> tuple[date, str]:
    """The session a Cboe SPX snapshot belongs to, and what kind of snapshot it is.

    Cboe's hours for SPX/SPXW (all ET): regular session 09:30 - close (16:00 or the
    early close); Global Trading Hours from 20:15 on the evening before a session
    until the open.

    * regular hours -> ``("intraday", that session)``;
    * from the close until 20:15, and on weekends/holidays until 20:15 on the evening
      before the next session -> ``("eod", last session)``: the page shows that
      session's closing chain (so a Friday or pre-holiday evening after 20:15 is
      still "eod": GTH for the next session has not opened yet);
    * from 20:15 on the calendar day before a session until 09:30 ->
      ``("overnight", next session)``.

    Returns
    -------
    (quote_date, snapshot_kind)

    Raises
    ------
    pipelines.calendar.CalendarRangeError
        Outside the shipped calendar.
    """
    ts = ts.astimezone(NY)
    d, t = ts.date(), ts.time()
    if cal.is_session(d):
        if t < RTH_OPEN:
            return d, "overnight"
        if ts < cal.close_time(d):
            return d, "intraday"
        nxt = cal.next_session(d)
        # GTH for the next session opens at 20:15 on the calendar day before it, so a
        # Friday (or pre-holiday) evening still shows this session's closing chain.
        if t >= GTH_OPEN and nxt - d == timedelta(days=1):
            return nxt, "overnight"
        return d, "eod"
    nxt = cal.next_session(d)
    if nxt - d == timedelta(days=1) and t >= GTH_OPEN:
        return nxt, "overnight"
    return cal.previous_session(d), "eod"
