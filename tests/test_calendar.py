"""The checked-in NYSE calendar is the contract; exchange-calendars is the oracle."""

from datetime import date, datetime

import exchange_calendars as xcals
import pytest

from pipelines import calendar
from pipelines.partitions import trading_days


@pytest.fixture(scope="module")
def xnys():
    return xcals.get_calendar("XNYS", start="1990-01-02", end="2035-12-31")


def test_sessions_match_exchange_calendars_xnys(xnys):
    expected = [ts.date() for ts in xnys.sessions]
    assert list(calendar.all_sessions()) == expected


def test_early_closes_match_exchange_calendars_xnys(xnys):
    expected = {
        ts.date(): xnys.closes[ts].tz_convert("America/New_York").time() for ts in xnys.early_closes
    }
    assert calendar.early_closes() == expected


def test_known_holidays_and_adhoc_closures_are_not_sessions():
    for closed in [date(2001, 9, 11), date(2012, 10, 29), date(2018, 12, 5), date(2025, 1, 9), date(2024, 12, 25)]:
        assert not calendar.is_session(closed)


def test_half_day_closes_at_one_pm():
    assert calendar.close_time(date(2024, 11, 29)) == datetime(2024, 11, 29, 13, 0, tzinfo=calendar.NY)


def test_next_and_previous_session_skip_weekends_and_holidays():
    assert calendar.next_session(date(2024, 12, 24)) == date(2024, 12, 26)
    assert calendar.previous_session(date(2025, 1, 2)) == date(2024, 12, 31)
    assert calendar.session_on_or_before(date(2024, 6, 16)) == date(2024, 6, 14)


def test_dates_outside_the_shipped_calendar_raise_a_clear_error():
    with pytest.raises(calendar.CalendarRangeError, match="outside the NYSE calendar"):
        calendar.is_session(date(2040, 1, 3))


def test_partitions_are_exactly_the_sessions():
    keys = trading_days.get_partition_keys_in_range(
        __import__("dagster").PartitionKeyRange("2024-01-02", "2024-12-31")
    )
    assert [date.fromisoformat(k) for k in keys] == calendar.sessions_between(date(2024, 1, 2), date(2024, 12, 31))
    assert len(keys) == 252
