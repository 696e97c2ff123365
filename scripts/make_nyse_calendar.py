"""Regenerate the data block of ``features/calendar.py`` from exchange-calendars (XNYS).

    python scripts/make_nyse_calendar.py > /tmp/calendar_block.py

Prints the ``HOLIDAYS`` and ``EARLY_CLOSES`` literals; paste them over the ones in
``features/calendar.py`` after reviewing the difference (a changed holiday changes
the partition set, so it is a reviewed change, never an automatic one).
"""

import textwrap

import exchange_calendars as xcals
import pandas as pd

cal = xcals.get_calendar("XNYS", start="1990-01-02", end="2035-12-31")
closed = pd.bdate_range("1990-01-02", "2035-12-31").difference(cal.sessions)
print("HOLIDAYS: tuple[str, ...] = (")
print(textwrap.fill(", ".join(f'"{d:%Y-%m-%d}"' for d in closed), 96, initial_indent="    ", subsequent_indent="    "))
print(")\n\nEARLY_CLOSES: dict[str, str] = {")
for d in cal.early_closes:
    print(f'    "{d:%Y-%m-%d}": "{cal.closes[d].tz_convert("America/New_York"):%H:%M}",')
print("}")
