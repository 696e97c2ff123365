"""Landing vendor files: read, validate, store as vendor rows, log, and report per file.

Used by ``volsignals ingest`` and by the landing sensor's ingest run. A file is read whole
(within :class:`~pipelines.readers.Limits`) before anything is stored, so a rejected file
(:class:`VendorFileError`) changes nothing. A readable file is stored only when it may
replace what it would displace (:func:`replacement_problems`: snapshot kind, row share and
quarantine share, documented in ``warehouse/README.md``); otherwise it is refused with a
message naming the stored data and the ``--force`` flag. A file with more than half its rows
quarantined, or with repeated contracts (another export appended), is refused; a stale
snapshot (mostly zero bids) is not stored unless the caller accepts flagged files. Option
chains replace the vendor chain of their session and underlying atomically (the SPY chain
of the day stays beside SPX's); other tables are upserted by key; displaced rows are kept
in ``replaced_rows``. Every file's quarantined rows are recorded (up to the cap) and every
file leaves one ``ingest_log`` row with the outcome the report prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.calendar import NY
from pipelines.ingest import StoreReport, store_rows
from pipelines.readers import Limits, ReadResult, VendorFileError, read_file
from pipelines.readers.quality import HIGH_QUARANTINE_SHARE, QUARANTINE_RECORD_MAX
from pipelines.schemas import empty_frame, unique_keys
from pipelines.warehouse import TABLES, Warehouse, precedence_group, register_table

#: Tables whose vendor rows for a session are replaced by a newer file as a whole, per
#: precedence group: a day's option chain per underlying (an SPY chain leaves that day's
#: SPX chain be).
REPLACE_BY_SESSION = {"spx_options": precedence_group("spx_options")}


#: A file that replaces stored vendor rows of a (session, underlying) chain must bring at
#: least this share of the stored chain's rows (a 95 %-unparseable file does not).
REPLACE_MIN_ROW_SHARE = 0.90
#: ... and may have at most this share of its rows quarantined (the reader's flag threshold).
REPLACE_MAX_QUARANTINE_SHARE = HIGH_QUARANTINE_SHARE
#: A file with more of its rows quarantined than this is refused whole: its few clean rows
#: are not evidence enough (nothing is stored; its quarantined rows are recorded).
MAX_QUARANTINE_SHARE = 0.50
#: How trustworthy a snapshot is as the session's chain: an end-of-day chain is never
#: displaced by an intraday or overnight one.
SNAPSHOT_RANK = {"eod": 2, "overnight": 1, "intraday": 1, "mixed": 0}
FORCE_FLAG = "--force"


@dataclass
class IngestOptions:
    """How ``volsignals ingest`` (and the landing job) treats files.

    ``accept_flagged``: store stale snapshots; ``force``: override the replacement rules
    and the quarantine-share refusal; ``limits``: size caps of :class:`Limits`;
    ``reader``: options passed to the readers (``series``, ``symbol``, ``event``, ``date_order``).
    """

    accept_flagged: bool = False
    force: bool = False
    limits: Limits = field(default_factory=Limits)
    reader: dict[str, Any] = field(default_factory=dict)


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
    error_reason: str | None = None
    skipped: bool = False
    refused: str | None = None
    displaced: list[str] = field(default_factory=list)
    quarantine_recorded: int = 0
    quarantine_total: int = 0

    @property
    def rows_stored(self) -> int:
        return sum(r.rows_stored for r in self.stored)

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine_total

    @property
    def outcome(self) -> str:
        """``rejected`` (unreadable), ``refused`` (readable but not stored, by a rule),
        ``not stored (flagged)``, ``nothing stored`` or ``stored``."""
        if self.error:
            return "rejected"
        if self.refused:
            return "refused"
        if self.skipped:
            return "not stored (flagged)"
        return "stored" if self.rows_stored else "nothing stored"

    @property
    def ok(self) -> bool:
        return self.outcome == "stored"

    def touched(self) -> dict[str, list[date]]:
        return {r.table: r.dates for r in self.stored if r.rows_stored}

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = dict(self.quarantined_by_reader)
        for r in self.stored:  # rows the contract quarantined at the store boundary
            for k, v in r.reasons.items():
                if k not in self.quarantined_by_reader:
                    out[k] = out.get(k, 0) + v
        return out

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
        if self.quarantine_total > self.quarantine_recorded:
            lines.append(f"  {self.quarantine_total:,} rows quarantined; the first {self.quarantine_recorded:,} "
                         f"are recorded in the quarantine table")
        lines += [f"  replaced {d} (kept in replaced_rows)" for d in self.displaced]
        lines += [f"  FLAG {f}" for f in self.flags]
        if self.refused:
            lines.append(f"  REFUSED — {self.refused}")
        elif self.skipped:
            lines.append("  NOT STORED: flagged as a stale snapshot (pass --accept-flagged to store it anyway)")
        elif not self.rows_stored:
            lines.append("  NOTHING STORED: no row of the file passed the row rules (see the quarantine table)")
        return "\n".join(lines)


def _stable_source(source: str) -> str:
    """Quarantine is kept per file name, so a corrected file replaces the old record."""
    return source.split("#", 1)[0]


def _underlying(col: str = "root") -> pl.Expr:
    return precedence_group("spx_options") if col == "root" else pl.col(col)


def replacement_problems(store: Warehouse, result: ReadResult) -> tuple[list[str], list[str], list[pl.DataFrame]]:
    """What the file would displace that it may not (refusals), what it may (replacements),
    and the stored rows it would displace (in the ``replaced_rows`` shape).

    The measure, per (session, underlying) option chain with stored vendor rows from
    another file: the new snapshot must rank at least as high (:data:`SNAPSHOT_RANK`:
    end-of-day beats intraday and overnight), bring at least :data:`REPLACE_MIN_ROW_SHARE`
    of the stored rows, and have at most :data:`REPLACE_MAX_QUARANTINE_SHARE` of its
    rows quarantined. Per daily table: a file that would change stored vendor values
    may have at most that quarantine share too. Re-ingesting the same file is always
    allowed (idempotent).
    """
    refusals: list[str] = []
    replaced: list[str] = []
    displaced: list[pl.DataFrame] = []
    q_share = (result.quarantine.height + sum(result.quarantine_overflow.values())) / result.rows_read if result.rows_read else 0.0
    for table, frame in result.tables.items():
        if frame.is_empty():
            continue
        col = TABLES[table].date_column
        lo, hi = frame[col].min(), frame[col].max()
        stored = store.read(table, lo, hi, where=pl.col("source").str.starts_with("file:"))
        if stored.is_empty():
            continue
        tag = frame["source"][0]
        if table == "spx_options":
            group = precedence_group(table)
            new = frame.group_by(col, group.alias("underlying")).agg(
                pl.len().alias("rows"), pl.col("snapshot_kind").first().alias("kind"))
            old = stored.group_by(col, group.alias("underlying")).agg(
                pl.len().alias("old_rows"), pl.col("snapshot_kind").first().alias("old_kind"),
                pl.col("source").first().alias("old_source"))
            both = new.join(old, on=[col, "underlying"]).filter(pl.col("old_source") != tag).sort(col)
            displaced.append(_replaced_rows(
                table, stored.with_columns(group.alias("underlying")).join(
                    both.select(col, "underlying"), on=[col, "underlying"], how="semi").drop("underlying"), tag))
            for row in both.iter_rows(named=True):  # one row per (session, underlying): a handful
                what = (f"the {row['old_kind']} {row['underlying']} chain of {row[col]} "
                        f"({row['old_rows']:,} rows from {row['old_source']})")
                if SNAPSHOT_RANK.get(row["kind"], 0) < SNAPSHOT_RANK.get(row["old_kind"], 0):
                    refusals.append(f"would replace {what} with an {row['kind']} snapshot")
                elif row["rows"] < REPLACE_MIN_ROW_SHARE * row["old_rows"]:
                    refusals.append(f"would replace {what} with {row['rows']:,} rows "
                                    f"(less than {REPLACE_MIN_ROW_SHARE:.0%} of them)")
                elif q_share > REPLACE_MAX_QUARANTINE_SHARE:
                    refusals.append(f"would replace {what} although {q_share:.0%} of this file's rows "
                                    f"were quarantined (at most {REPLACE_MAX_QUARANTINE_SHARE:.0%})")
                else:
                    replaced.append(f"{what} with {row['rows']:,} rows")
            continue
        keys = unique_keys(TABLES[table].schema)
        value_cols = [c for c in frame.columns if c not in keys and c != "source"]
        if not value_cols:  # e.g. events: a row is its key; nothing can be revised
            continue
        joined = frame.join(stored, on=keys, suffix="_old").filter(pl.col("source_old") != tag)
        changed = joined.filter(pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_old")) for c in value_cols]))
        if changed.is_empty():
            continue
        displaced.append(_replaced_rows(table, stored.join(changed.select(keys), on=keys, how="semi"), tag))
        first = changed.sort(col).row(0, named=True)
        example = ", ".join(f"{c} {first[c + '_old']} -> {first[c]}" for c in value_cols
                            if first[c] != first[c + "_old"])
        what = (f"{changed.height:,} stored {table} values (e.g. {first[col]}"
                + "".join(f" {first[k]}" for k in keys if k != col) + f": {example})")
        if q_share > REPLACE_MAX_QUARANTINE_SHARE:
            refusals.append(f"would revise {what} although {q_share:.0%} of this file's rows were quarantined "
                            f"(at most {REPLACE_MAX_QUARANTINE_SHARE:.0%})")
        else:
            replaced.append(what)
    return refusals, replaced, displaced


#: Stored vendor rows a later file replaced, kept whole (one row per displaced row, the row
#: as JSON), so no replaced value is lost: ``SELECT * FROM replaced_rows``.
register_table("replaced_rows", "replaced_at", "all")


def _replaced_rows(table: str, rows: pl.DataFrame, by: str) -> pl.DataFrame:
    col = TABLES[table].date_column
    return rows.select(
        pl.lit(table, pl.String).alias("table_name"),
        pl.col(col).cast(pl.Date).alias("date"),
        pl.col("source").alias("source"),
        pl.lit(by, pl.String).alias("replaced_by"),
        pl.struct(rows.columns).struct.json_encode().alias("row"),
    )


def store_result(store: Warehouse, result: ReadResult) -> list[StoreReport]:
    """Store every table of a read file as vendor rows (validation included).

    Only sessions with stored rows are written: a session whose rows were all
    quarantined keeps what is stored. The quarantine record covers every date of the
    file (and rows with no readable date)."""
    reports = []
    tables = set(result.tables) | set(result.quarantine["table_name"].unique().to_list())
    with store.write_lock():  # every table of the file in one publish
        for table in sorted(tables):
            frame = result.tables.get(table)
            if frame is None:
                frame = empty_frame(TABLES[table].schema)
            col = TABLES[table].date_column
            extra = result.quarantine.filter(pl.col("table_name") == table)
            data_dates = sorted(set(frame[col].unique().to_list()))
            source = frame["source"][0] if frame.height else extra["source"][0]
            reports.append(
                store_rows(
                    store,
                    table,
                    frame,
                    "vendor",
                    data_dates,
                    source=_stable_source(source),
                    mode="replace" if table in REPLACE_BY_SESSION else "upsert",
                    extra_quarantine=extra,
                    replace_within=REPLACE_BY_SESSION.get(table),
                    quarantine_dates=sorted(set(data_dates) | set(_quarantine_dates(extra))),
                )
            )
    return reports


def record_quarantine(store: Warehouse, result: ReadResult) -> int:
    """Record the quarantined rows of a file that is not stored (refused): the evidence."""
    n = 0
    for table in sorted(set(result.quarantine["table_name"].unique().to_list())):
        rows = result.quarantine.filter(pl.col("table_name") == table)
        source = _stable_source(rows["source"][0])
        store.write_quarantine(f"{table}__{source}", rows, _quarantine_dates(rows))
        n += rows.height
    return n


def _quarantine_dates(quarantine: pl.DataFrame | None) -> list[date]:
    return [] if quarantine is None else quarantine["quote_date"].drop_nulls().unique().to_list()


def ingest_file(store: Warehouse, path: str | Path, accept_flagged: bool = False,
                options: IngestOptions | None = None) -> FileReport:
    """Read and store one vendor file; never raises for bad input (the report says why).

    Outcomes (:attr:`FileReport.outcome`): a file that cannot be read is ``rejected`` and
    changes nothing; one that reads but breaks a replacement rule
    (:func:`replacement_problems`) or has more than :data:`MAX_QUARANTINE_SHARE` of its
    rows quarantined, or a long file none of whose first rows passes (read no further:
    :data:`pipelines.readers.PROBE_LINES`), is ``refused`` (its quarantined rows are
    recorded, nothing else);
    a stale snapshot is ``not stored (flagged)``; otherwise its rows are stored.
    """
    options = options or IngestOptions(accept_flagged=accept_flagged)
    report = FileReport(path=str(path))
    try:
        _ingest(store, path, options, report)
    except Exception as err:  # noqa: BLE001 - one bad file never stops a batch, and gets a line, not a traceback
        report.error = f"{Path(path).name}: internal_error ({type(err).__name__}: {err}); please report this file"
        report.error_reason = "internal_error"
        report.stored = []
        log_ingest(store, report)
    return report


def _ingest(store: Warehouse, path: str | Path, options: IngestOptions, report: FileReport) -> None:
    try:
        result = read_file(path, options.limits, probe=not options.force, **options.reader)
    except VendorFileError as err:
        report.error, report.error_reason = _with_advice(str(err), err.reason), err.reason
        log_ingest(store, report)
        return
    # one writer from the replacement decision to the log line: what the decision read is
    # what gets replaced, and the file's rows, quarantine and log publish together or not at all
    with store.write_lock():
        _decide_and_store(store, result, options, report)


def _decide_and_store(store: Warehouse, result: ReadResult, options: IngestOptions, report: FileReport) -> None:
    """Refuse, skip or store a file that was read, and log the outcome (under the write lock)."""
    report.format = result.format
    report.quote_dates = result.quote_dates
    report.snapshot_kind = result.snapshot_kind
    report.flags = list(result.flags)
    report.quarantine_total = result.quarantine.height + sum(result.quarantine_overflow.values())
    report.quarantined_by_reader = (
        dict(result.quarantine.group_by("reason").len().iter_rows()) if result.quarantine.height else {}
    )
    for reason, n in result.quarantine_overflow.items():
        report.quarantined_by_reader[reason] = report.quarantined_by_reader.get(reason, 0) + n
    if result.quarantine.height > QUARANTINE_RECORD_MAX:
        result = replace(result, quarantine=result.quarantine.sort("line", nulls_last=True).head(QUARANTINE_RECORD_MAX))
    q_share = report.quarantine_total / result.rows_read if result.rows_read else 1.0
    good_rows = sum(f.height for f in result.tables.values())
    if result.lines_unread:
        why = ", ".join(f"{k}: {v:,}" for k, v in sorted(report.quarantined_by_reader.items()))
        report.refused = (f"none of the first {result.rows_read:,} rows passed the row rules ({why}); the file's "
                          f"other {result.lines_unread:,} lines were not read. Fix the file, or pass {FORCE_FLAG} "
                          f"to read it whole")
        report.quarantine_recorded = record_quarantine(store, result)
    elif any(f.startswith("stale_snapshot") for f in result.flags) and not options.accept_flagged:
        report.skipped = True
        report.quarantine_recorded = record_quarantine(store, result)
    elif good_rows == 0:
        report.quarantine_recorded = record_quarantine(store, result)
    elif (dups := sum(report.quarantined_by_reader.get(r, 0) for r in _DUPLICATE_REASONS)) > (
            MAX_DUPLICATE_SHARE * result.rows_read) and not options.force:
        report.refused = (f"{dups:,} of the file's {result.rows_read:,} rows repeat a contract or date of the same "
                          f"file: another export was probably appended to it; split it into one file per export, "
                          f"or pass {FORCE_FLAG} to store the first of each")
        report.quarantine_recorded = record_quarantine(store, result)
    elif q_share > MAX_QUARANTINE_SHARE and not options.force:
        report.refused = (f"{q_share:.0%} of the file's {result.rows_read:,} rows were quarantined (more than "
                          f"{MAX_QUARANTINE_SHARE:.0%}); fix the file, or pass {FORCE_FLAG} to store its "
                          f"{good_rows:,} clean rows anyway")
        report.quarantine_recorded = record_quarantine(store, result)
    else:
        refusals, replaced, displaced = replacement_problems(store, result)
        if refusals and not options.force:
            report.refused = "; ".join(refusals) + f". Nothing was stored; pass {FORCE_FLAG} to replace anyway"
            report.quarantine_recorded = record_quarantine(store, result)
        else:
            report.displaced = replaced + [f"(forced) {r.split(' ', 2)[2]}" for r in refusals]
            report.stored = store_result(store, result)
            if displaced and (kept := pl.concat(displaced)).height:
                store.append("replaced_rows", kept.with_columns(pl.lit(datetime.now(NY)).alias("replaced_at")))
            report.quarantine_total = sum(r.rows_quarantined for r in report.stored) + max(
                0, report.quarantine_total - result.quarantine.height)  # + rows counted beyond the cap
            report.quarantine_recorded = sum(r.rows_quarantined for r in report.stored)
    log_ingest(store, report)


#: What to do about each file-level rejection (the reader's detail says what is wrong).
ADVICE = {
    "missing_file": "check the path",
    "changed_header": "check that this is the vendor's export in its documented layout",
    "unknown_header": "this is not a supported vendor export (see README: Real data)",
    "broken_archive": "download the file again",
    "truncated_file": "download the file again",
    "not_a_session": "check the file's date line; the NYSE was closed that day",
    "several_quote_dates": "split the file into one export per session",
    "repeated_header": "the export was saved twice into one file; keep one copy",
    "empty_file": "the file holds no data rows; download it again",
    "missing_snapshot_time": "keep the export's 'Date: ...' line, which says when the quotes were taken",
    "unparseable_snapshot_time": "the 'Date: ...' line must read like 'Date: May 23, 2023 at 7:39 PM EDT'",
    "unknown_underlying": "only SPX, SPXW, XSP and SPY option chains are stored",
    "ragged_row": "fix or delete that line",
    "outside_calendar_range": "the shipped NYSE calendar covers 1990-2035",
}
#: More than this share of a file's rows repeating a contract (or date) of the same file means
#: another export was appended to it: the extra rows would be stored under the file's date.
MAX_DUPLICATE_SHARE = 0.05
_DUPLICATE_REASONS = ("duplicate_contract", "duplicate_date", "duplicate_event")


def _with_advice(message: str, reason: str) -> str:
    advice = ADVICE.get(reason)
    if advice is None or advice in message:
        return message
    return f"{message}; {advice}"


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
    """Append one row per file to the ``ingest_log`` table: the same counts, reasons and
    outcome the command printed."""
    row = pl.DataFrame(
        {
            "ingested_at": [datetime.now(NY)],
            "path": [report.path],
            "format": [report.format or None],
            "first_date": [report.quote_dates[0] if report.quote_dates else None],
            "last_date": [report.quote_dates[-1] if report.quote_dates else None],
            "snapshot_kind": [report.snapshot_kind],
            "rows_stored": [report.rows_stored],
            "rows_quarantined": [report.rows_quarantined],
            "reasons": [json.dumps(report.reasons(), sort_keys=True)],
            "flags": [json.dumps(report.flags)],
            "outcome": [report.outcome],
        },
        schema=INGEST_LOG_SCHEMA,
    )
    store.append("ingest_log", row)
