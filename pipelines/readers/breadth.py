"""Daily market breadth (advancing/declining issues), shoppafund dashboard export.

Header: ``date`` plus, per universe, ``<u>_advancers, <u>_decliners, <u>_ad, ...``.
Output: ``breadth_daily`` from the **NYSE** universe (``nyse_advancers``,
``nyse_decliners``); ``unchanged`` is not in the file (null).

Extra row rule ``partial_breadth_count``: advancing + declining below half the median
of the previous 20 rows (point-in-time: only earlier rows are used) - the real file's
last row (2026-06-18, 208/166) is such an intraday capture.
"""

from __future__ import annotations

import polars as pl

from pipelines.readers import dates
from pipelines.readers import quality as q
from pipelines.readers.daily_common import date_expr, finish_table, typed_columns
from pipelines.readers.result import ReadResult
from pipelines.readers.source import Source
from pipelines.readers.table import LINE, header_fields, integer, split_rows

FORMAT = "breadth_daily"
TABLE = "breadth_daily"
REQUIRED = ["date", "nyse_advancers", "nyse_decliners"]
PARTIAL_FRACTION = 0.5
PARTIAL_WINDOW = 20


def sniff(lines: list[str]) -> bool:
    h = header_fields(lines[0]) if lines else []
    return bool(h) and h[0] == "date" and any(x.endswith("_advancers") for x in h)


def read(src: Source) -> ReadResult:
    """Read the breadth file.

    Raises
    ------
    VendorFileError
        ``changed_header`` (a required NYSE column missing or duplicated), ``truncated_file``,
        ``ragged_row``, ``empty_file``.
    """
    header = header_fields(src.head[0])
    for col in REQUIRED:
        if header.count(col) != 1:
            raise src.error("changed_header", line=1, column=col, detail="required column missing or duplicated")
    names = [f"f{i}" for i in range(len(header))]
    col = dict(zip(header, names))
    rows = split_rows(src, 1, names)
    used = [col[c] for c in REQUIRED]
    frame = rows.select(
        LINE,
        *typed_columns({
            "date": (col["date"], date_expr(col["date"], dates.decide(src, rows, [col["date"]], labels={col["date"]: "date"}))),
            "advancing": (col["nyse_advancers"], integer(col["nyse_advancers"])),
            "declining": (col["nyse_decliners"], integer(col["nyse_decliners"])),
        }),
        pl.struct([pl.col(n).alias(h) for n, h in zip(used, REQUIRED)]).alias("_raw"),
    ).sort(LINE)
    c = pl.col
    total = c("advancing") + c("declining")
    trailing = total.shift(1).rolling_median(PARTIAL_WINDOW, min_samples=5)
    reason = q.daily_reason("date", [], ohlc=None, required=["advancing", "declining"])
    reason = (
        pl.when(reason.is_not_null()).then(reason)
        .when((c("advancing") < 0) | (c("declining") < 0)).then(pl.lit("negative_count"))
        .when(total < PARTIAL_FRACTION * trailing).then(pl.lit("partial_breadth_count"))
    )
    frame = frame.with_columns(pl.lit(None, pl.Int64).alias("unchanged"))
    return finish_table(src, FORMAT, frame, table=TABLE, date_col="date", reason=reason, key=["date"])
