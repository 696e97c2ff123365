"""A file's date format, decided once for the whole file, never row by row.

Vendors write dates as ``YYYY-MM-DD``, ``MM/DD/YYYY`` (Cboe, CFE, Yahoo's US exports)
or ``DD/MM/YYYY`` (European exports of the same data). Reading each row with a fixed
format let a day-first file pass as month-first for every day <= 12 and overwrite stored
values; reading Yahoo's M/D/YYYY with the ISO format quarantined every row. So:

1. The file's format is the one most of its date fields are written in (ISO or slashes);
   fields in another form are quarantined as ``unparseable_value`` under that decision.
2. For slashed dates: a first number above 12 anywhere makes the whole file day-first,
   a second number above 12 anywhere makes it month-first; both at once is
   ``inconsistent_date_format`` (refused whole).
3. Otherwise, for files of several dates, the reading under which consecutive rows are
   close in time wins (a daily history read the wrong way round jumps by a month from row
   to row): the median gap of one reading must be at most a third of the other's.
4. Otherwise, a format whose publisher documents one order (Cboe's index histories, CFE's
   VX settlements and the long EOD layout write MM/DD/YYYY) is read in that order: nothing
   in the file contradicts it.
5. Otherwise the file is refused whole (``ambiguous_date_format``) unless the caller
   states the order (``volsignals ingest --date-order mdy|dmy``).
"""

from __future__ import annotations

import polars as pl

from pipelines.readers.source import Source
from pipelines.readers.table import engine_for

ISO = "%Y-%m-%d"
MDY = "%m/%d/%Y"
DMY = "%d/%m/%Y"
ORDERS = {"mdy": MDY, "dmy": DMY, "ymd": ISO}
_ISO_RE = r"^\d{4}-\d{1,2}-\d{1,2}$"
_SLASH_RE = r"^(\d{1,2})/(\d{1,2})/(\d{4})$"


def decide(src: Source, rows: pl.DataFrame, columns: list[str], *, line_col: str = "line",
           documented: str | None = None, labels: dict[str, str] | None = None) -> str:
    """The strptime format of the date columns ``columns`` of ``rows`` (string columns);
    ``documented``: the order the format's publisher documents (step 4 of the module doc);
    ``labels``: the file's header name of each column, for messages (default: its own name).

    Raises
    ------
    VendorFileError
        ``inconsistent_date_format`` or ``ambiguous_date_format`` (see module doc).
    """
    if src.date_order is not None:
        return ORDERS[src.date_order]

    def label(column: str) -> str:
        return (labels or {}).get(column, column)

    # the distinct values only (a chain repeats a few hundred dates over a million rows),
    # each with the first line it is on
    values = pl.concat(pl.collect_all([
        rows.lazy().select(pl.col(c).cast(pl.String).alias("v"), pl.col(line_col).alias("line"))
        .filter(pl.col("v").is_not_null()).group_by("v").agg(pl.col("line").min())
        .with_columns(pl.lit(label(c)).alias("col")).sort("line")
        for c in columns
    ], engine=engine_for(src)))
    counts = values.select(pl.col("v").str.contains(_ISO_RE).sum().alias("iso"),
                           pl.col("v").str.contains(_SLASH_RE).sum().alias("slash")).row(0, named=True)
    if counts["slash"] == 0 or counts["iso"] > counts["slash"]:
        return ISO
    parts = values.with_columns(pl.col("v").str.extract_groups(_SLASH_RE).alias("_p")).filter(
        pl.col("_p").struct.field("1").is_not_null()
    ).with_columns(
        pl.col("_p").struct.field("1").cast(pl.Int32).alias("a"),
        pl.col("_p").struct.field("2").cast(pl.Int32).alias("b"),
    )
    day_first = parts.filter(pl.col("a") > 12)
    month_first = parts.filter(pl.col("b") > 12)
    if day_first.height and month_first.height:
        d, m = day_first.row(0, named=True), month_first.row(0, named=True)
        raise src.error(
            "inconsistent_date_format", line=int(min(d["line"], m["line"])), column=d["col"],
            detail=f"{d['v']!r} (line {d['line']}) can only be day-first and {m['v']!r} (line {m['line']}) "
                   f"only month-first; one file holds one date format: fix the export",
        )
    if day_first.height:
        return DMY
    if month_first.height:
        return MDY
    by_gap = _closer_reading(parts, label(columns[0]))
    if by_gap is not None:
        return by_gap
    if documented is not None:
        return documented
    first = parts.row(0, named=True) if parts.height else {"line": None, "col": label(columns[0]), "v": ""}
    raise src.error(
        "ambiguous_date_format", line=first["line"], column=first["col"],
        detail=f"dates such as {first['v']!r} read as month/day and as day/month alike and the file does not "
               f"say which; pass --date-order mdy or --date-order dmy",
    )


def _closer_reading(parts: pl.DataFrame, column: str) -> str | None:
    """MDY or DMY when one reading keeps consecutive rows of ``column`` much closer in time."""
    seq = parts.filter(pl.col("col") == column).sort("line")
    if seq.height < 3:
        return None
    gaps = seq.select(
        pl.col("v").str.to_date(MDY, strict=False).diff().dt.total_days().abs().median().alias("mdy"),
        pl.col("v").str.to_date(DMY, strict=False).diff().dt.total_days().abs().median().alias("dmy"),
    ).row(0, named=True)
    mdy, dmy = gaps["mdy"], gaps["dmy"]
    if mdy is None or dmy is None:
        return None
    if mdy * 3 <= dmy and mdy < dmy:
        return MDY
    if dmy * 3 <= mdy and dmy < mdy:
        return DMY
    return None
