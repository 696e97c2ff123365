"""Vendor files dropped into the landing folder are ingested by a Dagster run, then their
sessions are recomputed.

The landing folder is ``$VOLSIGNALS_LANDING`` (default ``<warehouse>/landing``). The
``landing_folder`` sensor is thin: it only lists files and reads small plan files, so no
file, however hostile, can make a tick fail or hang. Each tick

1. requests one ``ingest_landed_files`` run for the new or changed regular files (by name,
   size and modification time) and advances its cursor past them, whatever they hold;
2. turns the recompute plans left by finished ingest runs (``<landing>/.plans/*.json``)
   into partition-range runs of ``after_landing`` and a ``whole_history`` run, by the
   policy ``volsignals ingest`` uses (:mod:`pipelines.recompute`).

The ingest run reads, validates and stores each file exactly as ``volsignals ingest``
does; a file that is rejected, refused or stores nothing is moved to
``<landing>/rejected/`` with ``<name>.reason.txt`` beside it, so it is not retried until
someone puts a fixed copy back. Per-file outcomes go to the run's log and to the
``ingest_log`` table.
"""


import hashlib
import json
import os
import shutil
import stat
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.recompute import PER_SESSION_ASSETS, last_stored_session, recompute_plan, skip_report, skipped_assets
from pipelines.resources import WarehouseResource
from pipelines.warehouse import Warehouse

REJECTED = "rejected"
PLANS = ".plans"


def landing_folder() -> Path:
    """``$VOLSIGNALS_LANDING``, else ``landing`` in the warehouse folder (its local cache when it is remote)."""
    return Path(os.environ.get("VOLSIGNALS_LANDING", Warehouse().root / "landing"))


def _fingerprint(st: os.stat_result) -> str:
    return f"{st.st_size}:{st.st_mtime_ns}"


def _new_files(folder: Path, seen: dict[str, str]) -> list[tuple[Path, str]]:
    """Regular files in ``folder`` (not hidden, not in sub-folders) whose fingerprint is new.

    Anything else (a FIFO, a device node, a folder) is skipped without being opened."""
    found = []
    with os.scandir(folder) as entries:
        for e in entries:
            if e.name.startswith("."):
                continue
            try:
                st = e.stat()  # follows a link: a link to a regular file is a file
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            fp = _fingerprint(st)
            if seen.get(e.name) != fp:
                found.append((Path(e.path), fp))
    return sorted(found)


class LandedFiles(dg.Config):
    """The files one ingest run lands (paths in the landing folder)."""

    paths: list[str]


def move_to_rejected(path: Path, reason: str) -> Path:
    """Move a refused file to ``<landing>/rejected/`` with ``<name>.reason.txt`` beside it."""
    folder = path.parent / REJECTED
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    shutil.move(str(path), target)
    (folder / f"{path.name}.reason.txt").write_text(reason.rstrip() + "\n")
    return target


@dg.op(description="Reads, validates and stores landed vendor files; moves refused ones to landing/rejected/.")
def land_files(context: dg.OpExecutionContext, config: LandedFiles, warehouse: WarehouseResource) -> None:
    from pipelines.vendor_ingest import ingest_file

    store = warehouse.store()
    touched: dict[str, set[date]] = {}
    for name in config.paths:
        path = Path(name)
        if not path.exists():  # moved away since the tick saw it
            context.log.warning(f"{path}: no longer in the landing folder")
            continue
        report = ingest_file(store, path)
        context.log.info(str(report))
        if report.ok:
            for table, dates in report.touched().items():
                touched.setdefault(table, set()).update(dates)
        else:
            move_to_rejected(path, str(report))
    store.publish_views()
    plan = recompute_plan((d for ds in touched.values() for d in ds), last_stored_session(store))
    if not plan.empty:
        assets = _downstream(set(touched))
        skipped = skipped_assets(store, assets, plan.history[-1] if plan.history else None,
                                 lambda name: _downstream({name}))
        for line in skip_report(skipped):
            context.log.warning(line)
        plans = path_of_plans()
        plans.mkdir(parents=True, exist_ok=True)
        content = json.dumps({
            "assets": sorted(assets - set(skipped)), "per_session": [d.isoformat() for d in plan.per_session],
            "history": [d.isoformat() for d in plan.history],
        })
        tmp = plans / f".{context.run_id}.tmp"
        tmp.write_text(content)
        tmp.replace(plans / f"{context.run_id}.json")


def path_of_plans() -> Path:
    return landing_folder() / PLANS


@dg.job(name="ingest_landed_files", description="Land the vendor files the landing_folder sensor found (one run per tick).")
def ingest_landing_job() -> None:
    land_files()


def _downstream(tables: set[str]) -> set[str]:
    """Names of the assets downstream of ``tables`` (the code location's graph)."""
    from pipelines.definitions import all_assets

    selection = dg.AssetSelection.assets(*sorted(tables)).downstream(include_self=False)
    return {k.to_user_string() for k in selection.resolve(all_assets)}


def _recompute_requests(plan_file: Path) -> list[dg.RunRequest]:
    """Partition-range runs for one finished ingest run's plan (same policy as the CLI)."""
    from pipelines.calendar import contiguous_session_runs

    plan = json.loads(plan_file.read_text())
    names = set(plan["assets"])
    daily = {"option_features", "chain_features", "market_features", "regimes"}
    per_session = sorted(names & PER_SESSION_ASSETS)
    history = sorted((names & daily) - PER_SESSION_ASSETS)
    requests = []
    for assets, dates in ((per_session, plan["per_session"]), (history, plan["history"])):
        if not assets or not dates:
            continue
        for run in contiguous_session_runs([date.fromisoformat(d) for d in dates]):
            requests.append(dg.RunRequest(
                run_key=f"recompute:{plan_file.stem}:{assets[0]}:{run[0]}",
                job_name="after_landing",
                asset_selection=[dg.AssetKey(a) for a in assets],
                tags={"dagster/asset_partition_range_start": run[0].isoformat(),
                      "dagster/asset_partition_range_end": run[-1].isoformat()},
            ))
    if names - daily:
        requests.append(dg.RunRequest(run_key=f"recompute:{plan_file.stem}:whole_history", job_name="whole_history"))
    return requests


def landing_sensor(*jobs: dg.JobDefinition) -> dg.SensorDefinition:
    """The ``landing_folder`` sensor, targeting the ingest job and the recompute ``jobs``."""

    @dg.sensor(
        name="landing_folder",
        jobs=[ingest_landing_job, *jobs],
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Requests an ingest run for vendor files dropped into the landing folder, then the "
                    "recompute runs of the sessions they touched.",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        folder = landing_folder()
        if not folder.is_dir():
            return dg.SkipReason(f"no landing folder at {folder}")
        seen: dict[str, str] = json.loads(context.cursor or "{}")
        requests: list[dg.RunRequest] = []
        plans = path_of_plans()
        for plan_file in sorted(plans.glob("*.json")) if plans.is_dir() else []:
            try:
                requests += _recompute_requests(plan_file)
            except (OSError, ValueError, KeyError) as exc:
                context.log.error(f"{plan_file}: unreadable recompute plan ({exc}); removed")
            plan_file.unlink(missing_ok=True)
        new = _new_files(folder, seen)
        if new:
            for path, fp in new:
                seen[path.name] = fp  # the cursor always advances, whatever the run finds
            cursor = json.dumps(seen, sort_keys=True)
            requests.append(dg.RunRequest(
                run_key=f"ingest:{hashlib.sha256(cursor.encode()).hexdigest()[:16]}",
                job_name=ingest_landing_job.name,
                run_config={"ops": {"land_files": {"config": {"paths": [str(p) for p, _ in new]}}}},
            ))
            context.update_cursor(cursor)
        return requests or dg.SkipReason("no new files")

    return _sensor
