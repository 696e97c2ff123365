"""After each US close, materialize that session's partition of every daily asset."""


from datetime import datetime

import dagster as dg

from pipelines.calendar import NY, is_session


def after_close_schedule(job) -> dg.ScheduleDefinition:
    """18:00 New York time on weekdays; sessions only (holidays are skipped, not run)."""

    @dg.schedule(
        name="after_us_close",
        cron_schedule="0 18 * * 1-5",
        execution_timezone="America/New_York",
        job=job,
        description="Materializes the day's partition of every daily asset at 18:00 ET on NYSE sessions.",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        day = (context.scheduled_execution_time or datetime.now(NY)).astimezone(NY).date()
        if not is_session(day):
            return dg.SkipReason(f"{day} is not an NYSE session")
        return dg.RunRequest(run_key=day.isoformat(), partition_key=day.isoformat())

    return _schedule
