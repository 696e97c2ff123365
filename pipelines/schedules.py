"""After each US close: the session's partition of every daily asset, then the whole-history assets."""

from datetime import datetime

import dagster as dg

from pipelines.calendar import NY, is_session


def _session_of(context: dg.ScheduleEvaluationContext):
    return (context.scheduled_execution_time or datetime.now(NY)).astimezone(NY).date()


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
        day = _session_of(context)
        if not is_session(day):
            return dg.SkipReason(f"{day} is not an NYSE session")
        return dg.RunRequest(run_key=day.isoformat(), partition_key=day.isoformat())

    return _schedule


def decisions_schedule(job) -> dg.ScheduleDefinition:
    """19:00 New York time on sessions: registry, decisions and backtest over the updated history.

    A schedule rather than only an automation condition, so the day's decisions exist even
    where the automation sensor is not running.
    """

    @dg.schedule(
        name="after_us_close_decisions",
        cron_schedule="0 19 * * 1-5",
        execution_timezone="America/New_York",
        job=job,
        description="Recomputes the feature registry, the condor/ALVH decisions and the backtest at 19:00 ET on sessions.",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        day = _session_of(context)
        if not is_session(day):
            return dg.SkipReason(f"{day} is not an NYSE session")
        return dg.RunRequest(run_key=f"decisions:{day.isoformat()}")

    return _schedule
