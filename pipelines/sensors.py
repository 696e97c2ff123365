"""Vendor files dropped into the landing folder are ingested and their partitions updated.

The landing folder is ``$VOLSIGNALS_LANDING`` (default ``<warehouse>/landing``). Each new
or changed file (by name, size and modification time) is read, validated and stored
exactly as ``volsignals ingest`` does; the sensor then requests partition-range runs of
the assets downstream of the tables the file touched. Per-file outcomes go to the
sensor's log and to the ``ingest_log`` table.
"""

import json
import os
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.calendar import contiguous_session_runs
from pipelines.partitions import FIRST_PARTITION
from pipelines.resources import WarehouseResource
from pipelines.vendor_ingest import ingest_file
from pipelines.warehouse import warehouse_root


def landing_folder() -> Path:
    return Path(os.environ.get("VOLSIGNALS_LANDING", warehouse_root() / "landing"))


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def landing_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_folder",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Ingests vendor files dropped into the landing folder, then updates their partitions.",
    )
    def _sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        folder = landing_folder()
        if not folder.is_dir():
            return dg.SkipReason(f"no landing folder at {folder}")
        seen: dict[str, str] = json.loads(context.cursor or "{}")
        touched: list[date] = []
        store = warehouse.store()
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            fp = _fingerprint(path)
            if seen.get(path.name) == fp:
                continue
            report = ingest_file(store, path)
            context.log.info(str(report))
            seen[path.name] = fp
            if report.ok:
                touched.extend(report.quote_dates)
        context.update_cursor(json.dumps(seen, sort_keys=True))
        store.publish_views()
        requests = [
            dg.RunRequest(
                run_key=f"landing:{start}:{end}:{context.cursor}",
                tags={
                    "dagster/asset_partition_range_start": start.isoformat(),
                    "dagster/asset_partition_range_end": end.isoformat(),
                },
            )
            for start, end in ((r[0], r[-1]) for r in contiguous_session_runs(d for d in touched if d >= FIRST_PARTITION))
        ]
        return requests or dg.SkipReason("no new files")

    return _sensor
