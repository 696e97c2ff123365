"""After each US close: the session's partition of every daily asset, then the whole-history assets."""

from datetime import datetime

import dagster as dg

from pipelines.calendar import NY, is_session


def _session_schedule(name: str, cron: str, job, description: str, partitioned: bool) -> dg.ScheduleDefinition:
    """A weekday New York schedule that runs on NYSE sessions only (holidays are skipped)."""

    @dg.schedule(
        name=name,
        cron_schedule=cron,
        execution_timezone="America/New_York",
        job=job,
        description=description,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        day = (context.scheduled_execution_time or datetime.now(NY)).astimezone(NY).date()
        if not is_session(day):
            return dg.SkipReason(f"{day} is not an NYSE session")
        if partitioned:
            return dg.RunRequest(run_key=day.isoformat(), partition_key=day.isoformat())
        return dg.RunRequest(run_key=f"{name}:{day.isoformat()}")

    return _schedule


def after_close_schedule(job) -> dg.ScheduleDefinition:
    """18:00 ET: the session's partition of every daily asset."""
    return _session_schedule(
        "after_us_close",
        "0 18 * * 1-5",
        job,
        "Materializes the day's partition of every daily asset at 18:00 ET on NYSE sessions.",
        partitioned=True,
    )


def decisions_schedule(job) -> dg.ScheduleDefinition:
    """19:00 ET: registry, decisions and backtest over the updated history.

    A schedule rather than only an automation condition, so the day's decisions exist even
    where the automation sensor is not running.
    """
    return _session_schedule(
        "after_us_close_decisions",
        "0 19 * * 1-5",
        job,
        "Recomputes the feature registry, the condor/ALVH decisions and the backtest at 19:00 ET on sessions.",
        partitioned=False,
    )


def weekly_frontier_schedule(job) -> dg.ScheduleDefinition:
    """Saturdays 08:00 ET: the hedge frontier over the week's stored history (a research sweep
    of hundreds of hedge backtests; the evening's decisions do not wait for it)."""
    return dg.ScheduleDefinition(
        name="weekly_hedge_frontier",
        cron_schedule="0 8 * * 6",
        execution_timezone="America/New_York",
        job=job,
        description="Re-runs the ALVH configuration sweep (hedge_frontier) on Saturdays at 08:00 ET.",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
