"""CFE VX settlements of every listed contract, long format (``vix_utils`` term-structure export).

Header ``Trade Date,Tenor_Days,Tenor_Trade_Days,Settle,Num_Tenor``: one row per trade date
and listed contract (monthly and weekly), ISO dates, settlement in VIX points (already on
today's scale before 2007-03-26). There is no contract or expiry column, so:

* expiry = ``Trade Date + Tenor_Days`` calendar days, **plus one day when the trade date
  is in US standard time and the expiry in daylight time** (an upstream artefact: the
  tenor was computed from local midnights across the DST switch). With that rule every
  monthly row lands on an official VX final-settlement date
  (:func:`pipelines.readers.cfe_vx.vx_expiration`).
* a contract whose expiry is an official monthly date is named ``VX <expiry>`` (as the
  per-contract reader names it); any other is a weekly, ``VXW <expiry>`` — so the term
  structure features, which read monthly expiries only, are not fed weeklies.
* on a final settlement day the expiring contract is listed with ``Tenor_Days`` 0 and its
  final settlement value; it is stored (expiration == date).

Row rules: ``unparseable_value``, ``missing_value``, ``outside_calendar_range``,
``not_a_session`` (three CFE sessions on which the NYSE was closed), ``zero_settle_placeholder``
(842 rows of 2013 with ``Settle`` 0.00: Cboe's 2013 files carried the settlement in
``Close`` and the upstream tool kept the empty ``Settle``), ``nonpositive_price``,
``negative_tenor``, ``duplicate_contract``; plus the warehouse's plausibility range for VX
(``vx_settle_out_of_range``), which catches the upstream rows left at a tenth of the price (all of
2007-03-26, the day CFE stopped quoting at 10x) and a settle of 1 for a 303-day contract on 2008-04-21.
"""

from __future__ import annotations

import polars as pl

from pipelines.readers import quality as q
from pipelines.readers.cfe_vx import _safe_expiration
from pipelines.readers.daily_common import date_expr, finish_table, typed_columns
from pipelines.readers.result import ReadResult
from pipelines.readers.source import Source
from pipelines.readers.table import LINE, check_header, header_fields, integer, num, split_rows

FORMAT = "cfe_vx_long"
TABLE = "vx_futures"
HEADER = ["Trade Date", "Tenor_Days", "Tenor_Trade_Days", "Settle", "Num_Tenor"]


def sniff(lines: list[str]) -> bool:
    return bool(lines) and header_fields(lines[0]) == HEADER


def monthly_expirations(first_year: int = 2004, last_year: int = 2035) -> pl.Series:
    """Official VX monthly final-settlement dates (one per contract month, ~380 values)."""
    dates = [_safe_expiration(y, m) for y in range(first_year, last_year + 1) for m in range(1, 13)]
    return pl.Series("expiration", [d for d in dates if d is not None], dtype=pl.Date)


def _in_dst(day: pl.Expr) -> pl.Expr:
    """True where noon of ``day`` in New York is daylight time."""
    noon = (day.cast(pl.Datetime("us")) + pl.duration(hours=12)).dt.replace_time_zone(
        "America/New_York", ambiguous="earliest", non_existent="null")
    return noon.dt.dst_offset() != pl.duration(seconds=0)


def expiry_from_tenor(trade_date: pl.Expr, tenor_days: pl.Expr) -> pl.Expr:
    """``trade_date + tenor_days``, plus one day across the standard->daylight switch."""
    naive = trade_date + pl.duration(days=tenor_days)
    fix = (~_in_dst(trade_date) & _in_dst(naive)).cast(pl.Int64)
    return naive + pl.duration(days=fix)


def read(src: Source) -> ReadResult:
    """Read the long VX file into ``vx_futures`` rows.

    Raises
    ------
    VendorFileError
        ``changed_header``, ``truncated_file``, ``ragged_row``, ``empty_file``.
    """
    check_header(src, header_fields(src.head[0]), HEADER, 1)
    names = ["td", "tenor", "ttenor", "settle", "rank"]
    rows = split_rows(src, 1, names)
    frame = rows.select(
        LINE,
        *typed_columns({
            "date": ("td", date_expr("td", "%Y-%m-%d")),
            "_tenor": ("tenor", integer("tenor")),
            "settle": ("settle", num("settle")),
            "_rank": ("rank", integer("rank")),
        }),
        pl.struct([pl.col(n).alias(h) for n, h in zip(names, HEADER)]).alias("_raw"),
    )
    monthly = monthly_expirations().implode()
    frame = frame.with_columns(expiry_from_tenor(pl.col("date"), pl.col("_tenor")).alias("expiration")).with_columns(
        (pl.when(pl.col("expiration").is_in(monthly)).then(pl.lit("VX ")).otherwise(pl.lit("VXW "))
         + pl.col("expiration").cast(pl.String)).alias("contract"),
        pl.lit(None, pl.Int64).alias("volume"),
        pl.lit(None, pl.Int64).alias("open_interest"),
    )
    base = q.daily_reason("date", [], ohlc=None, required=["settle", "_tenor"])
    reason = (
        pl.when(base.is_not_null()).then(base)
        .when((pl.col("settle") == 0) & (pl.col("date").dt.year() == 2013)).then(pl.lit("zero_settle_placeholder"))
        .when(pl.col("settle") <= 0).then(pl.lit("nonpositive_price"))
        .when(pl.col("_tenor") < 0).then(pl.lit("negative_tenor"))
    )
    return finish_table(src, FORMAT, frame, table=TABLE, date_col="date", reason=reason,
                        key=["date", "expiration"], dup_reason="duplicate_contract")

