"""CFE VIX futures (VX) daily settlement history, one file per monthly contract.

Header ``Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest``,
optionally preceded by CFE's one-line disclaimer. ``Futures`` names the contract as
``K (May 08)`` (month code, month, 2-digit year). Output: ``vx_futures`` rows with
the settlement price in VIX points.

* Expiration (final settlement date) follows the VX rule: the Wednesday 30 days before
  the third Friday of the month after the contract month; if that Friday is not a
  trading day, 30 days before the trading day preceding it; if the Wednesday is not a
  trading day, the trading day before it. The contract is named ``VX <expiration>``.
* Before 2007-03-26 CFE quoted VX at ten times the index level (e.g. 166.20 for
  16.62); those settlements are divided by 10.
* Settle 0.00 is CFE's placeholder for an untraded day -> ``nonpositive_price``.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from features.calendar import vx_expiration as calendar_vx_expiration
from pipelines import calendar as cal
from pipelines.readers import dates
from pipelines.readers import quality as q
from pipelines.readers.daily_common import date_expr, finish_table, typed_columns
from pipelines.readers.result import ReadResult
from pipelines.readers.source import Source
from pipelines.readers.table import LINE, check_header, header_fields, integer, num, split_rows

FORMAT = "cfe_vx_settlement"
TABLE = "vx_futures"
HEADER = ["Trade Date", "Futures", "Open", "High", "Low", "Close", "Settle", "Change", "Total Volume", "EFP",
          "Open Interest"]
RESCALE_DATE = date(2007, 3, 26)
_MONTHS = {m: i + 1 for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])}


def sniff(lines: list[str]) -> bool:
    return any(l.startswith("Trade Date,") for l in lines[:2])


def vx_expiration(year: int, month: int) -> date:
    """Final settlement date of the VX contract for ``year``/``month``: the CFE rule on the
    observed NYSE calendar (:func:`features.calendar.vx_expiration`)."""
    return calendar_vx_expiration(year, month, observed=True)


def read(src: Source) -> ReadResult:
    """Read one CFE VX settlement file.

    Raises
    ------
    VendorFileError
        ``changed_header``, ``truncated_file``, ``ragged_row``, ``empty_file``.
    """
    hdr_idx = 0 if src.head[0].startswith("Trade Date") else 1
    check_header(src, header_fields(src.head[hdr_idx]), HEADER, hdr_idx + 1)
    names = ["td", "fut", "o", "h", "l", "c", "settle", "chg", "vol", "efp", "oi"]
    rows = split_rows(src, hdr_idx + 1, names)
    parts = pl.col("fut").str.extract_groups(r"^[FGHJKMNQUVXZ]\s*\((\w{3})\s+(\d{2})\)$")
    frame = rows.select(
        LINE,
        *typed_columns({
            "date": ("td", date_expr("td", dates.decide(src, rows, ["td"], documented=dates.MDY, labels={"td": HEADER[0]}))),
            "_settle": ("settle", num("settle")),
            "volume": ("vol", integer("vol")),
            "open_interest": ("oi", integer("oi")),
            "_mon": ("fut", parts.struct.field("1").replace_strict(_MONTHS, default=None, return_dtype=pl.Int32)),
            "_yy": ("fut", parts.struct.field("2").cast(pl.Int32, strict=False)),
        }),
        pl.struct([pl.col(n).alias(h) for n, h in zip(names, HEADER)]).alias("_raw"),
    )
    contracts = frame.select("_mon", "_yy").unique().drop_nulls()
    exp_map = pl.DataFrame(
        # one entry per listed contract month (1-2 per file): not a loop over rows
        [{"_mon": m, "_yy": y, "expiration": _safe_expiration(2000 + y, m)} for m, y in contracts.iter_rows()],
        schema={"_mon": pl.Int32, "_yy": pl.Int32, "expiration": pl.Date},
    )
    frame = frame.join(exp_map, on=["_mon", "_yy"], how="left").sort(LINE).with_columns(
        pl.when(pl.col("date") < RESCALE_DATE).then(pl.col("_settle") / 10).otherwise(pl.col("_settle")).alias("settle"),
        ("VX " + pl.col("expiration").cast(pl.String)).alias("contract"),
    )
    c = pl.col
    reason = q.daily_reason("date", ["settle"], ohlc=None, required=["settle", "expiration"])
    reason = (
        pl.when(reason.is_not_null()).then(reason)
        .when((c("volume") < 0) | (c("open_interest") < 0)).then(pl.lit("negative_count"))
        .when(c("expiration") < c("date")).then(pl.lit("expiration_before_quote_date"))
    )
    return finish_table(src, FORMAT, frame, table=TABLE, date_col="date", reason=reason, key=["date", "expiration"],
                        prefer=[c("volume").fill_null(-1)], dup_reason="duplicate_contract")


def _safe_expiration(year: int, month: int) -> date | None:
    try:
        return vx_expiration(year, month)
    except (ValueError, cal.CalendarRangeError):
        return None
