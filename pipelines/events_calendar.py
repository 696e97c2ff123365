"""The macro-event calendar the pipeline uses: checked-in published dates + the rule."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

import polars as pl

from features.events import event_calendar
from pipelines.calendar import all_sessions

_DATA = Path(__file__).with_name("data") / "macro_events.csv"


@lru_cache(maxsize=1)
def published_events() -> pl.DataFrame:
    """Published FOMC decision days and CPI/PPI release dates (public facts, checked in)."""
    return pl.read_csv(_DATA, schema={"date": pl.Date, "event": pl.String})


def events_between(start: date, end: date) -> pl.DataFrame:
    """The ``events`` table rows for ``start``..``end`` (columns date, event, source)."""
    return event_calendar(published_events(), all_sessions(), start, end)
