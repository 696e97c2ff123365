"""Pieces shared by the one-row-per-date readers (index histories, OHLCV, VX, breadth, events)."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from pipelines import validity
from pipelines.calendar import NY
from pipelines.readers import quality as q
from pipelines.readers.result import ReadResult, conform_quarantine, conform_table, dates_of
from pipelines.readers.source import Source
from pipelines.readers.table import first_failed, parse_failed


def typed_columns(typed: dict[str, tuple[str, pl.Expr]]) -> list[pl.Expr]:
    """``{out_name: (raw_col, expr)}`` -> the typed columns plus ``_bad``."""
    return [
        *[e.alias(k) for k, (_, e) in typed.items()],
        first_failed({raw: parse_failed(raw, e) for _, (raw, e) in typed.items()}).alias("_bad"),
    ]


def date_expr(col: str, fmt: str) -> pl.Expr:
    return pl.col(col).str.to_date(fmt, strict=False)


def finish_table(
    src: Source, fmt: str, frame: pl.DataFrame, *, table: str, date_col: str, reason: pl.Expr,
    key: list[str], prefer: list[pl.Expr] | None = None, dup_reason: str = "duplicate_date",
    flags: list[str] | None = None, quality_extra: dict[str, float] | None = None,
) -> ReadResult:
    """Quarantine by ``reason`` then by the table's plausibility rules (:mod:`pipelines.validity`;
    a vendor row dated after today, or an event beyond the calendar horizon, too), resolve
    duplicates of ``key``, conform to ``table``."""
    today = datetime.now(NY).date()
    plausible = validity.rejections(table)
    if table == "events":
        plausible.append((validity.BEYOND_CALENDAR_HORIZON,
                          pl.col(date_col) > today + timedelta(days=validity.VENDOR_CALENDAR_HORIZON_DAYS)))
    else:
        plausible.append(validity.not_after(date_col, today))
    if plausible:
        reason = pl.coalesce(reason, q.chain(plausible))
    good, bad, overflow = q.split_quarantine_capped(frame, reason, table=table, source=src.tag, date_col=date_col)
    good, dup = q.resolve_duplicates(good, key, prefer or [], table=table, source=src.tag,
                                     date_col=date_col, reason=dup_reason)
    out = conform_table(good.with_columns(pl.lit(src.tag).alias("source")), table)
    quarantine = conform_quarantine([bad, dup])
    rows_read = frame.height
    quality, more_flags = q.table_quality(out.height, rows_read)
    if overflow:
        more_flags.append(f"quarantine_capped: {sum(overflow.values()):,} more quarantined rows counted, not recorded "
                          f"(first {q.QUARANTINE_RECORD_MAX:,} recorded)")
    return ReadResult(
        path=src.path, format=fmt, tables={table: out}, quarantine=quarantine, rows_read=rows_read,
        quote_dates=dates_of(out, date_col, quarantine), snapshot_kind=None,
        quality=quality | (quality_extra or {}), flags=(flags or []) + more_flags, quarantine_overflow=overflow,
    )
