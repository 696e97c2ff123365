"""The checked-in NYSE calendar is the contract; exchange-calendars is the oracle."""

from datetime import date, datetime

from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import polars as pl
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


def test_observed_holidays_are_the_scheduled_rules_plus_the_unscheduled_closures():
    """One calendar module, two views: the shipped (observed) closures equal the holiday
    rules the simulator lists contracts with, plus the named unscheduled closures."""
    from datetime import date

    from features import calendar as cal

    observed = {d for d in cal.holidays() if d.year >= 1998}
    scheduled = {d for y in range(1998, 2036) for d in cal.scheduled_holidays(y) if d.weekday() < 5}
    assert observed == scheduled | {date.fromisoformat(d) for d in cal.UNSCHEDULED_CLOSURES}


def test_vx_expiration_on_the_observed_calendar_moves_only_for_closures_nobody_scheduled():
    from datetime import date

    from features import calendar as cal

    months = [(y, m) for y in range(2004, 2035) for m in range(1, 13)]
    differ = [(y, m) for y, m in months if cal.vx_expiration(y, m) != cal.vx_expiration(y, m, observed=True)]
    for y, m in differ:  # the Wednesday or the Friday after it was an unscheduled closure
        assert cal.vx_expiration(y, m, observed=True) < cal.vx_expiration(y, m)
    # Good Friday 2025-04-18 is a holiday: the March 2025 contract settled on Tuesday 18 March
    assert cal.vx_expiration(2025, 3, observed=True) == cal.vx_expiration(2025, 3) == date(2025, 3, 18)


def test_new_york_date_is_the_tz_database_date_across_every_dst_rule():
    """Every 7 minutes from 2005 to 2008 (the pre-2007 April/October rule, the 2007
    March/November one, and the hours either side of each change), given in UTC and in New
    York time: the New York date equals the time-zone database's (zoneinfo, per row)."""
    utc = pl.datetime_range(datetime(2005, 1, 1), datetime(2008, 1, 1), "7m", time_zone="UTC", eager=True)
    expected = [t.astimezone(ZoneInfo("America/New_York")).date() for t in utc.to_list()]
    for zone in ("UTC", "America/New_York", "Asia/Tokyo"):
        frame = pl.DataFrame({"t": utc.dt.convert_time_zone(zone)})
        assert frame.select(calendar.new_york_date(pl.col("t"))).to_series().to_list() == expected
