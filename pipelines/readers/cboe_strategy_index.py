"""Cboe strategy-index daily histories (``CNDR_History.csv`` and its siblings).

Header ``DATE,<INDEX>`` with ``<INDEX>`` one of
:data:`pipelines.schemas.STRATEGY_INDEX_NAMES` (CNDR, BFLY, PUT, BXM, ...); ``DATE`` is
MM/DD/YYYY, the level has six decimals. Output: ``strategy_indices`` rows
(``index_name``, ``value`` in index points).

This layout shares its shape with the VVIX/SKEW histories, so it is detected by the
index name in the header and placed before :mod:`cboe_index_history` in the detection
order.

Row rules: see :func:`pipelines.readers.quality.daily_reason` (``not_a_session`` rows
are quarantined; CNDR starts on 1986-06-20, before the shipped calendar, so rows before
1990 are quarantined as ``outside_calendar_range``: nothing read is dropped silently).
"""

from __future__ import annotations

import polars as pl

from pipelines import schemas
from pipelines.readers import quality as q
from pipelines.readers.daily_common import date_expr, finish_table, typed_columns
from pipelines.readers.result import ReadResult
from pipelines.readers.source import Source
from pipelines.readers.table import LINE, header_fields, num, split_rows

FORMAT = "cboe_strategy_index"
TABLE = "strategy_indices"


def sniff(lines: list[str]) -> bool:
    h = header_fields(lines[0]) if lines else []
    return len(h) == 2 and h[0] == "DATE" and h[1] in schemas.STRATEGY_INDEX_NAMES


def read(src: Source) -> ReadResult:
    """Read a strategy-index history.

    Raises
    ------
    VendorFileError
        ``truncated_file``, ``ragged_row``, ``empty_file``.
    """
    name = header_fields(src.head[0])[1]
    rows = split_rows(src, 1, ["d", "v"])
    frame = rows.select(
        LINE,
        *typed_columns({"date": ("d", date_expr("d", "%m/%d/%Y")), "value": ("v", num("v"))}),
        pl.struct(pl.col("d").alias("DATE"), pl.col("v").alias(name)).alias("_raw"),
    ).with_columns(pl.lit(name).alias("index_name"))
    reason = q.daily_reason("date", ["value"], ohlc=None, required=["value"])
    return finish_table(src, FORMAT, frame, table=TABLE, date_col="date", reason=reason, key=["date", "index_name"])
