"""FRED DTB3: the 3-month Treasury bill secondary-market rate, daily (H.15).

Layouts: ``observation_date,DTB3`` (current FRED CSV; a missing value is an empty
field) and ``DATE,DTB3`` (older FRED downloads; a missing value is ``.``). ISO dates.
Output: ``treasury_bill_rates`` rows.

Units and the conversion used. FRED publishes the rate in percent per year on a
**bank-discount basis** ``d`` (price of a bill maturing in ``n`` days: ``P = 1 - d n/360``).
Cash in the backtests accrues simple interest ACT/365, so each row also carries the
bill's **bond-equivalent yield** for ``n = 91`` days (a 13-week bill):

    y = 365 d / (360 - d n)

(e.g. d = 5.00 % -> y = 5.13 %; d = 0.10 % -> y = 0.101 %). Negative rates (2015-09,
2020-03: as low as -0.05 %) are real and kept.

Row rules: ``missing_value`` (FRED lists every weekday; bond-market holidays have no
value: those rows are quarantined with that reason, so nothing read is lost),
``unparseable_value``, ``implausible_rate`` (outside -5 %..25 %), ``duplicate_date``.
No NYSE-session check: the bond market keeps its own calendar (e.g. open on Good Friday
in some years, closed on Columbus Day).
"""

from __future__ import annotations

import polars as pl

from pipelines.readers import quality as q
from pipelines.readers.daily_common import date_expr, finish_table, typed_columns
from pipelines.readers.result import ReadResult
from pipelines.readers.source import Source
from pipelines.readers.table import LINE, check_header, header_fields, num, split_rows

FORMAT = "fred_dtb3"
TABLE = "treasury_bill_rates"
HEADERS = (["observation_date", "DTB3"], ["DATE", "DTB3"])
#: Days to maturity of the 3-month (13-week) bill used in the yield conversion.
BILL_DAYS = 91


def sniff(lines: list[str]) -> bool:
    return bool(lines) and header_fields(lines[0]) in HEADERS


def bond_equivalent_yield(discount: pl.Expr, days: int = BILL_DAYS) -> pl.Expr:
    """Simple ACT/365 yield (decimal) of a bill quoted at bank discount ``discount`` (decimal)."""
    return 365.0 * discount / (360.0 - discount * days)


def read(src: Source) -> ReadResult:
    """Read a FRED DTB3 CSV into ``treasury_bill_rates`` rows.

    Raises
    ------
    VendorFileError
        ``changed_header``, ``truncated_file``, ``ragged_row``, ``empty_file``.
    """
    header = header_fields(src.head[0])
    check_header(src, header, HEADERS[0] if header[:1] == ["observation_date"] else HEADERS[1], 1)
    rows = split_rows(src, 1, ["d", "v"]).with_columns(
        # "." is the old FRED spelling of "no observation": the same as an empty field
        pl.when(pl.col("v") == ".").then(None).otherwise(pl.col("v")).alias("v")
    )
    frame = rows.select(
        LINE,
        *typed_columns({"date": ("d", date_expr("d", "%Y-%m-%d")), "_pct": ("v", num("v"))}),
        pl.struct(pl.col("d").alias(header[0]), pl.col("v").alias("DTB3")).alias("_raw"),
    ).with_columns(
        pl.lit("DTB3").alias("series"),
        (pl.col("_pct") / 100.0).alias("discount_rate"),
    ).with_columns(bond_equivalent_yield(pl.col("discount_rate")).alias("bond_equivalent_yield"))
    base = q.daily_reason("date", [], ohlc=None, required=["_pct"], session_check=False)
    reason = pl.when(base.is_not_null()).then(base).when(
        ~pl.col("discount_rate").is_between(-0.05, 0.25)).then(pl.lit("implausible_rate"))
    return finish_table(src, FORMAT, frame, table=TABLE, date_col="date", reason=reason, key=["date", "series"])
