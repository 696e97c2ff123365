"""Daily partitions that are NYSE trading days (America/New_York)."""

from __future__ import annotations

from datetime import date, datetime, time

import dagster as dg

from pipelines.calendar import holidays

#: First partition: the simulator's origin, so any simulated range is a partition range.
FIRST_PARTITION = date(2000, 1, 3)

trading_days = dg.DailyPartitionsDefinition(
    start_date=FIRST_PARTITION.isoformat(),
    timezone="America/New_York",
    # A session's partition must exist on its own evening, when the schedule runs
    # after the close (otherwise it appears only at midnight).
    end_offset=1,
    # Weekends by cron, holidays as datetimes from the checked-in calendar (tested
    # against exchange-calendars); date strings are not accepted here.
    exclusions=[
        "0 0 * * 6",
        "0 0 * * 0",
        *(datetime.combine(d, time()) for d in sorted(holidays()) if d >= FIRST_PARTITION),
    ],
)

#: Backfills run as one run per batch of partitions, never one run per day.
backfill_in_batches = dg.BackfillPolicy.multi_run(max_partitions_per_run=260)


def partition_dates(context: dg.AssetExecutionContext) -> list[date]:
    """The trading days this run materializes (works for one partition or a range)."""
    return [date.fromisoformat(k) for k in context.partition_keys]
