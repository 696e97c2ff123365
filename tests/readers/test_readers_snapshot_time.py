"""Cboe date lines in every locale seen, and the session/kind a snapshot belongs to."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from pipelines.readers.snapshot_time import classify_snapshot, parse_snapshot_time

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize("line,expected", [
    ('"Date: May 23, 2023 at 7:39 PM EDT",Bid: 4133.9502,Ask: 4162.5498', datetime(2023, 5, 23, 19, 39)),
    ("Date: 14 April 2023, 19:12 UTC\u22124,Bid: 4124.9502", datetime(2023, 4, 14, 19, 12)),
    ("Date: 8 June 2023 7:56 PM EDT,Bid: 4274.5698", datetime(2023, 6, 8, 19, 56)),
    ("Date: 6 May 2023, 8:40 PM EDT,Bid: 4118.0601", datetime(2023, 5, 6, 20, 40)),
    ("Date: 3 August 2026 at 05:22 GMT-4", datetime(2026, 8, 3, 5, 22)),
    ("Date: 6 April 2023, 22:48,Bid: 4089.1499", datetime(2023, 4, 6, 22, 48)),           # no zone -> New York
    ('Date: 20 May 2023, 11:46 AM EDT",Bid: 418.55', datetime(2023, 5, 20, 11, 46)),      # stray quote (real SPY file)
    ('"Date: February 7, 2023 at 5:34 PM EST",Bid: 4099.96', datetime(2023, 2, 7, 17, 34)),
    ("Date: 7 January 2024, 15:52 UTC", datetime(2024, 1, 7, 10, 52)),                      # UTC converted to ET
    ("Date: 12 May 2023, 12:00 AM EDT", datetime(2023, 5, 12, 0, 0)),                     # 12 AM is midnight
])
def test_date_line_parses_to_new_york_time(line: str, expected: datetime) -> None:
    ts = parse_snapshot_time(line)
    assert ts == expected.replace(tzinfo=NY)
    assert str(ts.tzinfo) == "America/New_York"


@pytest.mark.parametrize("line", ["Date: soon", "Date: 32 May 2023, 10:00", "Date: May 3, 2023 at 13:00 PM EDT",
                                  "Date: 3 Mai 2023, 10:00", "Date: 3 May 2023, 10:00 XYZ"])
def test_unreadable_date_line_raises_value_error(line: str) -> None:
    with pytest.raises(ValueError):
        parse_snapshot_time(line)


@pytest.mark.parametrize("when,session,kind", [
    (datetime(2023, 4, 10, 20, 51), date(2023, 4, 11), "overnight"),   # Monday evening after 20:15
    (datetime(2023, 4, 17, 22, 53), date(2023, 4, 18), "overnight"),
    (datetime(2023, 6, 9, 13, 40), date(2023, 6, 9), "intraday"),
    (datetime(2023, 5, 6, 20, 40), date(2023, 5, 5), "eod"),            # Saturday evening
    (datetime(2024, 1, 7, 10, 52), date(2024, 1, 5), "eod"),            # Sunday morning
    (datetime(2024, 1, 7, 20, 15), date(2024, 1, 8), "overnight"),      # Sunday, GTH open for Monday
    (datetime(2023, 9, 14, 16, 31), date(2023, 9, 14), "eod"),
    (datetime(2023, 5, 23, 5, 0), date(2023, 5, 23), "overnight"),      # before the open
    (datetime(2023, 5, 26, 21, 0), date(2023, 5, 26), "eod"),           # Friday evening: no GTH until Sunday
    (datetime(2023, 4, 6, 22, 48), date(2023, 4, 6), "eod"),            # eve of Good Friday
    (datetime(2023, 11, 24, 13, 30), date(2023, 11, 24), "eod"),        # after the 13:00 early close
    (datetime(2023, 7, 4, 12, 0), date(2023, 7, 3), "eod"),             # holiday
    (datetime(2023, 7, 4, 20, 30), date(2023, 7, 5), "overnight"),      # holiday evening before a session
])
def test_snapshot_time_maps_to_session_and_kind(when: datetime, session: date, kind: str) -> None:
    assert classify_snapshot(when.replace(tzinfo=NY)) == (session, kind)
