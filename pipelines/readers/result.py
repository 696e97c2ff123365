"""What a reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from pipelines import schemas
from pipelines.readers.quality import QUARANTINE_COLUMNS


@dataclass(frozen=True)
class ReadResult:
    """One vendor file, read.

    Attributes
    ----------
    path : str
        The path that was read.
    format : str
        Detected format, one of :data:`pipelines.readers.detect.FORMATS`.
    tables : dict[str, pl.DataFrame]
        Canonical table name (``"spx_options"``, ``"spx_daily"``, ``"vix_term_structure"``,
        ``"vx_futures"``, ``"breadth_daily"``, ``"events"``) -> frame conforming to the
        pandera schema of that name in :mod:`pipelines.schemas`.
    quarantine : pl.DataFrame
        Rows that failed a row rule, QUARANTINE schema (``raw`` is the row as JSON).
    rows_read : int
        Data rows read (contract rows for the wide Cboe layout: 2 per line). Always
        equals stored rows + quarantined rows.
    quote_dates : list[date]
        Distinct dates of the stored (or, if none, quarantined) rows, sorted.
    snapshot_kind : str or None
        ``"eod"``, ``"overnight"`` or ``"intraday"`` for option files, else None.
    quality : dict[str, float]
        File-level scores (see :mod:`pipelines.readers.quality`).
    flags : list[str]
        Human-readable warnings, e.g. ``"stale_snapshot: ..."``.
    quarantine_overflow : dict[str, int]
        Quarantined rows beyond the recorded cap, counted by reason (``rows_read`` =
        stored + ``quarantine`` rows + these).
    lines_unread : int
        Lines of a long file left unread because none of the rows of its first lines passed
        the row rules (:data:`pipelines.readers.PROBE_LINES`); 0 when the whole file was read.
        ``rows_read`` then counts the rows of the lines read.
    """

    path: str
    format: str
    tables: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame
    rows_read: int
    quote_dates: list[date]
    snapshot_kind: str | None
    quality: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    quarantine_overflow: dict[str, int] = field(default_factory=dict)
    lines_unread: int = 0


def conform_table(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Select/cast to the canonical schema ``table`` (no validation here; tests validate)."""
    return schemas.conform(frame, schemas.SCHEMAS[table])


def conform_exprs(table: str, available: list[str], *, source: str) -> list[pl.Expr]:
    """Expressions selecting the canonical columns of ``table`` from a frame with columns
    ``available`` (missing ones null), with ``source`` set to the file's tag."""
    schema = schemas.SCHEMAS[table]
    exprs = schemas.conform_exprs(schema, available)
    return [pl.lit(source, pl.String).alias("source") if name == "source" else expr
            for name, expr in zip(schema.columns, exprs)]


def conform_quarantine(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f.select([pl.col(c).cast(t) for c, t in QUARANTINE_COLUMNS.items()]) for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=QUARANTINE_COLUMNS)
    return pl.concat(frames, how="vertical").sort("line", nulls_last=True)


def dates_of(frame: pl.DataFrame, col: str, quarantine: pl.DataFrame) -> list[date]:
    src = frame[col] if frame.height else quarantine["quote_date"]
    return sorted(d for d in src.unique().to_list() if d is not None)
