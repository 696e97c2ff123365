"""Cboe SPX monthly settlement values (SET, the special opening quotation), derived CSV.

Header ``expiry_month,soq_date,soq_date_source,set_value,raw_value,source,note``: one row
per standard monthly expiration, ``set_value`` in index points (Cboe's asterisks
already stripped; ``raw_value`` keeps them), ``soq_date`` the session whose opening
trades set the value (third Friday, or the Thursday before a Friday holiday).
Output: ``spx_settlement_values`` rows.

Row rules: ``unparseable_value``, ``missing_value``, ``nonpositive_price``,
``not_a_session`` (the SOQ session must be an NYSE session), ``month_mismatch``
(``soq_date`` not in ``expiry_month``), ``duplicate_date``.
"""

from __future__ import annotations

import polars as pl

from pipelines.readers import quality as q
from pipelines.readers.daily_common import date_expr, finish_table, typed_columns
from pipelines.readers.result import ReadResult
from pipelines.readers.source import Source
from pipelines.readers.table import LINE, check_header, header_fields, num, split_rows

FORMAT = "cboe_spx_settlement_values"
TABLE = "spx_settlement_values"
HEADER = ["expiry_month", "soq_date", "soq_date_source", "set_value", "raw_value", "source", "note"]


def sniff(lines: list[str]) -> bool:
    return bool(lines) and header_fields(lines[0])[:4] == HEADER[:4]


def read(src: Source) -> ReadResult:
    """Read the SET settlement CSV.

    Raises
    ------
    VendorFileError
        ``changed_header``, ``truncated_file``, ``ragged_row``, ``empty_file``.
    """
    check_header(src, header_fields(src.head[0]), HEADER, 1)
    names = ["m", "d", "ds", "v", "raw", "origin", "note"]
    rows = split_rows(src, 1, names)
    frame = rows.select(
        LINE,
        *typed_columns({"soq_date": ("d", date_expr("d", "%Y-%m-%d")), "set_value": ("v", num("v"))}),
        pl.col("m").alias("expiry_month"), pl.col("ds").alias("date_source"), pl.col("origin"), pl.col("note"),
        pl.struct([pl.col(n).alias(h) for n, h in zip(names, HEADER)]).alias("_raw"),
    )
    base = q.daily_reason("soq_date", ["set_value"], ohlc=None, required=["set_value", "expiry_month", "origin"])
    reason = (
        pl.when(base.is_not_null()).then(base)
        .when(pl.col("soq_date").dt.strftime("%Y-%m") != pl.col("expiry_month")).then(pl.lit("month_mismatch"))
        .when(~pl.col("date_source").is_in(["cboe", "derived"])).then(pl.lit("unknown_date_source"))
    )
    return finish_table(src, FORMAT, frame, table=TABLE, date_col="soq_date", reason=reason, key=["soq_date"])
