"""The one path by which rows enter the warehouse: validate, quarantine, store.

Simulated markets and vendor files both come through :func:`store_rows`, so nothing
bypasses validation. Rows that break a row rule of the table's pandera schema go to
the ``quarantine`` table with the rule's name as the reason; problems that concern the
whole frame (a missing column, a wrong type) raise :class:`IngestError` and nothing is
written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from pipelines.contracts import INDEX, ContractViolation, repeated_keys, row_failures
from pipelines.readers.quality import empty_quarantine, quarantine_rows as reader_quarantine_rows
from pipelines.schemas import conform, unique_keys
from pipelines.warehouse import TABLES, Warehouse


class IngestError(ValueError):
    """A frame that cannot be stored at all (its rows are not even checked)."""


@dataclass(frozen=True)
class StoreReport:
    table: str
    rows_in: int
    rows_stored: int
    rows_quarantined: int
    reasons: dict[str, int]
    dates: list[date] = field(default_factory=list)  # the dates whose rows were written

    def __str__(self) -> str:
        why = ", ".join(f"{k}: {v}" for k, v in sorted(self.reasons.items())) or "none"
        return (
            f"{self.table}: {self.rows_in} rows in, {self.rows_stored} stored, "
            f"{self.rows_quarantined} quarantined ({why})"
        )


def quarantine_rows(rows: pl.DataFrame, table: str, source: str, reasons: pl.Series | str) -> pl.DataFrame:
    """Rows in the ``quarantine`` table's shape: the original row as JSON plus a reason."""
    date_col = TABLES[table].date_column
    framed = rows.select(
        pl.struct(rows.columns).alias("_raw"),
        (pl.col(date_col) if date_col in rows.columns else pl.lit(None, pl.Date)).alias("_date"),
        pl.lit(None, pl.Int64).alias("line"),
        pl.lit(reasons).cast(pl.String).alias("_reason"),
    )
    return reader_quarantine_rows(framed, reason_col="_reason", table=table, source=source, date_col="_date")


def split_valid(frame: pl.DataFrame, table: str, source: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split ``frame`` into rows that pass the table's schema and quarantined rows.

    Row rules first: a row breaking any check is quarantined with the checks' names as
    its reason. Then duplicate keys among the remaining rows are resolved
    deterministically: the first row in frame order stays, later ones are quarantined
    as ``duplicate_key``.
    """
    schema = TABLES[table].schema
    if schema is None:
        raise IngestError(f"table {table!r} has no schema")
    missing = set(schema.columns) - set(frame.columns)
    if missing:
        raise IngestError(f"{table}: missing columns {sorted(missing)}")
    try:
        frame = conform(frame, schema)
    except pl.exceptions.PolarsError as err:
        raise IngestError(f"{table}: columns cannot be cast to the contract's types: {err}") from err
    try:
        bad_index = row_failures(frame, schema, uniqueness=False)
    except ContractViolation as err:
        raise IngestError(str(err)) from err
    good, rejected = frame, [empty_quarantine()]
    if bad_index.height:  # a vendor reader's output has passed stricter rules already: usually none
        indexed = frame.with_row_index(INDEX)
        bad = indexed.join(bad_index, on=INDEX)
        good = indexed.join(bad_index, on=INDEX, how="anti").drop(INDEX)
        rejected.append(quarantine_rows(bad.drop(INDEX, "reason"), table, source, bad["reason"]))
    keys = unique_keys(schema)
    if keys and (dup := repeated_keys(good, keys)) is not None:
        rejected.append(quarantine_rows(good.filter(dup), table, source, "duplicate_key"))
        good = good.filter(~dup)
    return good, pl.concat(rejected)


def store_rows(
    warehouse: Warehouse,
    table: str,
    frame: pl.DataFrame,
    kind: str,
    dates: Sequence[date],
    source: str,
    mode: str = "replace",
    extra_quarantine: pl.DataFrame | None = None,
    replace_within: pl.Expr | None = None,
    quarantine_dates: Sequence[date] | None = None,
) -> StoreReport:
    """Validate ``frame`` and store it as the ``kind`` rows of ``table`` for ``dates``.

    ``extra_quarantine`` carries rows a vendor reader already rejected, so the
    quarantine record of one source is written in one piece with its data.
    ``mode`` and ``replace_within``: see :meth:`Warehouse.write_partitions`.
    ``quarantine_dates``: the dates whose quarantine record of ``source`` is replaced
    (default ``dates``; a vendor file's quarantine covers dates it stores no rows for).
    Nothing is written to the data partitions when no row passes and ``dates`` is empty.
    """
    good, bad = split_valid(frame, table, source)
    if extra_quarantine is not None and extra_quarantine.height:
        bad = pl.concat([extra_quarantine, bad], how="vertical_relaxed")
    if kind == "vendor" and good.height < frame.height:
        # rows the contract quarantined here leave their session alone: only dates that
        # still have rows are replaced (a vendor chain is never emptied by its bad rows)
        kept = set(good.get_column(TABLES[table].date_column).unique().to_list())
        dates = [d for d in dates if d in kept]
    if dates:
        warehouse.write_partitions(table, good, kind, dates, mode=mode, validated=True, replace_within=replace_within)
    warehouse.ensure_schema_file("quarantine")  # the table exists (empty) even when nothing was ever quarantined
    warehouse.write_quarantine(f"{table}__{source}", bad, list(dates if quarantine_dates is None else quarantine_dates))
    reasons = dict(bad.group_by("reason").len().iter_rows()) if bad.height else {}
    return StoreReport(table, frame.height + (0 if extra_quarantine is None else extra_quarantine.height),
                       good.height, bad.height, reasons, list(dates))
