"""The NYSE calendar for the pipeline (the implementation and its data: features/calendar.py)."""

from features.calendar import (  # noqa: F401  (re-exported for pipelines code)
    FIRST_SESSION,
    LAST_CALENDAR_DAY,
    NY,
    CalendarRangeError,
    all_sessions,
    close_time,
    contiguous_session_runs,
    early_closes,
    holidays,
    is_session,
    new_york_date,
    next_session,
    previous_session,
    session_on_or_before,
    sessions_between,
)
