"""Macro event calendars -> ``events`` rows (FOMC, CPI, PPI).

Recognised layouts:

* ``date,meeting_end,kind,notes`` (FOMC decision days) -> FOMC on ``date``;
* ``release_date,reference_month`` (BLS CPI releases) -> CPI on ``release_date``;
* ``year,day,time,impact,cur,text,actual,forecast,previous`` (ForexFactory scrape):
  only USD rows whose ``text`` is a headline release count - ``CPI m/m`` -> CPI,
  ``PPI m/m`` -> PPI, ``FOMC Statement`` -> FOMC; the other rows (other currencies,
  speeches, core/yoy prints of the same release) are out of scope and are not
  counted in ``rows_read`` (their number is in ``quality["rows_out_of_scope"]``);
* a header-less list of ISO dates, one per line: the event kind is not in the file,
  so it comes from ``event=`` or the file name (``FOMC``/``CPI``/``PPI`` in it),
  otherwise ``unknown_event_kind``.

Event dates are calendar dates (an unscheduled FOMC action can fall on a Sunday,
2020-03-15), so there is no session rule here.
"""

from __future__ import annotations

import re

import polars as pl

from pipelines import schemas
from pipelines.readers import quality as q
from pipelines.readers import dates
from pipelines.readers.daily_common import date_expr, finish_table, typed_columns
from pipelines.readers.result import ReadResult
from pipelines.readers.source import Source
from pipelines.readers.table import LINE, check_header, header_fields, split_rows

FORMAT = "macro_calendar"
TABLE = "events"
FOMC = ["date", "meeting_end", "kind", "notes"]
CPI = ["release_date", "reference_month"]
FOREX = ["year", "day", "time", "impact", "cur", "text", "actual", "forecast", "previous"]
FOREX_EVENTS = {"CPI m/m": "CPI", "PPI m/m": "PPI", "FOMC Statement": "FOMC"}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def sniff(lines: list[str]) -> bool:
    if not lines:
        return False
    h = header_fields(lines[0])
    return h[:2] in (FOMC[:2], CPI) or h[:6] == FOREX[:6] or bool(_ISO.match(lines[0].strip()))


def read(src: Source, *, event: str | None = None) -> ReadResult:
    """Read an event calendar.

    Raises
    ------
    VendorFileError
        ``changed_header``, ``unknown_event_kind``, ``truncated_file``, ``ragged_row``, ``empty_file``.
    """
    h = header_fields(src.head[0])
    reason = q.daily_reason("date", [], ohlc=None, required=["event"], session_check=False)
    if h[:2] == FOMC[:2]:
        check_header(src, h, FOMC, 1)
        rows = split_rows(src, 1, ["d", "end", "kind", "notes"])
        frame = _frame(src, rows, "d", "FOMC", ["d", "end", "kind", "notes"], FOMC[0])
    elif h == CPI or h[:2] == CPI:
        check_header(src, h, CPI, 1)
        rows = split_rows(src, 1, ["d", "ref"])
        frame = _frame(src, rows, "d", "CPI", ["d", "ref"], CPI[0])
    elif h[:6] == FOREX[:6]:
        check_header(src, h, FOREX, 1)
        rows = split_rows(src, 1, FOREX)
        kind = pl.col("text").replace_strict(FOREX_EVENTS, default=None, return_dtype=pl.String)
        in_scope = (pl.col("cur") == "USD") & kind.is_not_null()
        out_of_scope = rows.height - int(rows.select(in_scope.sum()).item())
        rows = rows.filter(in_scope).with_columns(
            (pl.col("year") + " " + pl.col("day")).alias("_d"), kind.alias("_kind"))
        frame = rows.select(
            LINE, *typed_columns({"date": ("_d", date_expr("_d", "%Y %b %d"))}),
            pl.col("_kind").alias("event"), pl.struct(FOREX).alias("_raw"))
        return finish_table(src, FORMAT, frame, table=TABLE, date_col="date", reason=reason, key=["date", "event"],
                            dup_reason="duplicate_event", quality_extra={"rows_out_of_scope": float(out_of_scope)})
    else:
        kind = (event or _event_from_name(src.name) or "").upper()
        if kind not in schemas.EVENT_KINDS:
            raise src.error("unknown_event_kind", line=1,
                            detail="a bare date list does not say which event it holds; pass --event FOMC, CPI or PPI")
        rows = split_rows(src, 0, ["d"])
        frame = _frame(src, rows, "d", kind, ["d"], "(first column)")  # a bare list has no header
    return finish_table(src, FORMAT, frame, table=TABLE, date_col="date", reason=reason, key=["date", "event"],
                        dup_reason="duplicate_event")


def _frame(src: Source, rows: pl.DataFrame, dcol: str, kind: str, raw: list[str], header: str) -> pl.DataFrame:
    """The events of ``rows``, dated by ``dcol`` (``header``: its name in the file, for messages)."""
    fmt = dates.decide(src, rows, [dcol], labels={dcol: header})
    return rows.select(LINE, *typed_columns({"date": (dcol, date_expr(dcol, fmt))}),
                       pl.lit(kind).alias("event"), pl.struct(raw).alias("_raw"))


def _event_from_name(name: str) -> str | None:
    n = name.upper()
    found = [k for k in schemas.EVENT_KINDS if k in n]
    return found[0] if len(found) == 1 else None
