"""Landing vendor files: read, validate, store as vendor rows, log, and report per file.

Used by ``volsignals ingest`` and by the landing-folder sensor. A file is read whole
before anything is stored, so a rejected file (:class:`VendorFileError`) changes
nothing; a file flagged as a stale snapshot (mostly zero bids) is not stored unless
the caller accepts flagged files explicitly. Option chains replace the vendor chain of
their session and underlying atomically (a corrected file for a date replaces that
date's chain of that underlying; the SPY chain of the day stays beside SPX's); other
tables are upserted by key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import polars as pl

from pipelines.calendar import NY
from pipelines.ingest import StoreReport, store_rows
from pipelines.readers import ReadResult, VendorFileError, read_file
from pipelines.warehouse import TABLES, Warehouse, precedence_group

#: Tables whose vendor rows for a session are replaced by a newer file as a whole, per
#: precedence group: a day's option chain per underlying (an SPY chain leaves that day's
#: SPX chain be).
REPLACE_BY_SESSION = {"spx_options": precedence_group("spx_options")}


@dataclass
class FileReport:
    path: str
    format: str = ""
    quote_dates: list[date] = field(default_factory=list)
    snapshot_kind: str | None = None
    stored: list[StoreReport] = field(default_factory=list)
    quarantined_by_reader: dict[str, int] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.skipped

    def touched(self) -> dict[str, list[date]]:
        return {r.table: self.quote_dates for r in self.stored}

    def __str__(self) -> str:
        if self.error:
            return f"{self.path}: REJECTED — {self.error}"
        dates = (
            f"{self.quote_dates[0]} .. {self.quote_dates[-1]} ({len(self.quote_dates)} dates)"
            if len(self.quote_dates) > 1
            else (str(self.quote_dates[0]) if self.quote_dates else "no dates")
        )
        lines = [f"{self.path}: format {self.format}, {dates}" + (f", snapshot {self.snapshot_kind}" if self.snapshot_kind else "")]
        lines += [f"  {r}" for r in self.stored]
        if self.quarantined_by_reader:
            why = ", ".join(f"{k}: {v}" for k, v in sorted(self.quarantined_by_reader.items()))
            lines.append(f"  quarantined by the reader: {why}")
        lines += [f"  FLAG {f}" for f in self.flags]
        if self.skipped:
            lines.append("  NOT STORED: flagged as a stale snapshot (pass --accept-flagged to store it anyway)")
        return "\n".join(lines)


def _stable_source(source: str) -> str:
    """Quarantine is kept per file name, so a corrected file replaces the old record."""
    return source.split("#", 1)[0]


def store_result(store: Warehouse, result: ReadResult) -> list[StoreReport]:
    """Store every table of a read file as vendor rows (validation included)."""
    reports = []
    for table, frame in result.tables.items():
        col = TABLES[table].date_column
        extra = result.quarantine.filter(pl.col("table_name") == table) if result.quarantine.height else None
        dates = sorted(set(frame[col].unique().to_list()) | set(_quarantine_dates(extra)))
        if not dates:
            continue
        source = frame["source"][0] if frame.height else result.quarantine["source"][0]
        reports.append(
            store_rows(
                store,
                table,
                frame,
                "vendor",
                dates,
                source=_stable_source(source),
                mode="replace" if table in REPLACE_BY_SESSION else "upsert",
                extra_quarantine=extra,
                replace_within=REPLACE_BY_SESSION.get(table),
            )
        )
    return reports


def _quarantine_dates(quarantine: pl.DataFrame | None) -> list[date]:
    return [] if quarantine is None else quarantine["quote_date"].drop_nulls().unique().to_list()


def ingest_file(store: Warehouse, path: str | Path, accept_flagged: bool = False) -> FileReport:
    """Read and store one vendor file; never raises for bad input (the report says why)."""
    report = FileReport(path=str(path))
    try:
        result = read_file(path)
    except VendorFileError as err:
        report.error = str(err)
        log_ingest(store, report)
        return report
    report.format = result.format
    report.quote_dates = result.quote_dates
    report.snapshot_kind = result.snapshot_kind
    report.flags = list(result.flags)
    report.quarantined_by_reader = (
        dict(result.quarantine.group_by("reason").len().iter_rows()) if result.quarantine.height else {}
    )
    if any(f.startswith("stale_snapshot") for f in result.flags) and not accept_flagged:
        report.skipped = True
    else:
        report.stored = store_result(store, result)
    log_ingest(store, report)
    return report


INGEST_LOG_SCHEMA = {
    "ingested_at": pl.Datetime("us", "America/New_York"),
    "path": pl.String,
    "format": pl.String,
    "first_date": pl.Date,
    "last_date": pl.Date,
    "snapshot_kind": pl.String,
    "rows_stored": pl.Int64,
    "rows_quarantined": pl.Int64,
    "reasons": pl.String,
    "flags": pl.String,
    "outcome": pl.String,
}


def log_ingest(store: Warehouse, report: FileReport) -> None:
    """Append one row per file to the ``ingest_log`` table (what was landed, and why not)."""
    # Stored reports already include the reader's quarantine (passed along with the data).
    reasons: dict[str, int] = dict(report.quarantined_by_reader)
    if report.stored:
        reasons = {}
        for r in report.stored:
            for k, v in r.reasons.items():
                reasons[k] = reasons.get(k, 0) + v
    row = pl.DataFrame(
        {
            "ingested_at": [datetime.now(NY)],
            "path": [report.path],
            "format": [report.format or None],
            "first_date": [report.quote_dates[0] if report.quote_dates else None],
            "last_date": [report.quote_dates[-1] if report.quote_dates else None],
            "snapshot_kind": [report.snapshot_kind],
            "rows_stored": [sum(r.rows_stored for r in report.stored)],
            "rows_quarantined": [sum(r.rows_quarantined for r in report.stored)],
            "reasons": [json.dumps(reasons, sort_keys=True)],
            "flags": [json.dumps(report.flags)],
            "outcome": ["rejected" if report.error else "not stored (flagged)" if report.skipped else "stored"],
        },
        schema=INGEST_LOG_SCHEMA,
    )
    store.append("ingest_log", row)
