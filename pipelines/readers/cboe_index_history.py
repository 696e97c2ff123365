"""Cboe index history CSVs (``VIX_History.csv``, VIX9D, VIX3M, VIX6M, VVIX, SKEW).

Layouts: ``DATE,OPEN,HIGH,LOW,CLOSE`` (OHLC) or ``DATE,<SERIES>`` (close only);
``DATE`` is MM/DD/YYYY. Output: ``vix_term_structure`` rows with ``value`` = close,
in index points.

Which series an OHLC file holds is not written in it (VIX, VIX9D, VIX3M and VIX6M
share one header), so the series comes from, in order: the ``series=`` argument,
the header (close-only files name it), the file name as Cboe publishes it
(``<SERIES>_History.csv``; ``VXV`` is VIX3M's old name). Otherwise the file is
rejected with ``unknown_series``.

Row rules: see :func:`pipelines.readers.quality.daily_reason` (OHLC consistency on
OHLC files; ``not_a_session`` rows are quarantined, not fatal: Cboe publishes VIX on
some NYSE holidays, e.g. 2022-05-30, and those 33 values are real).
"""

from __future__ import annotations

import re

import polars as pl

from pipelines import schemas
from pipelines.readers import dates
from pipelines.readers import quality as q
from pipelines.readers.daily_common import date_expr, finish_table, typed_columns
from pipelines.readers.result import ReadResult
from pipelines.readers.source import Source
from pipelines.readers.table import LINE, check_header, header_fields, num, split_rows

FORMAT = "cboe_index_history"
TABLE = "vix_term_structure"
OHLC = ["DATE", "OPEN", "HIGH", "LOW", "CLOSE"]
_ALIASES = {"VXV": "VIX3M", "VXST": "VIX9D", "VXMT": "VIX6M"}


def sniff(lines: list[str]) -> bool:
    h = header_fields(lines[0]) if lines else []
    # lenient on purpose: a DATE-first, upper-case header is this family, and a changed
    # column is then reported as changed_header rather than as an unknown file
    return 2 <= len(h) <= 6 and h[0] == "DATE" and all(x.isupper() for x in h[1:])


def _series_from_name(name: str) -> str | None:
    stem = name.upper().split(".")[0]
    m = re.match(r"^([A-Z0-9]+?)_HISTORY", stem)
    token = m.group(1) if m else None
    token = _ALIASES.get(token, token)
    return token if token in schemas.VIX_SERIES else None


def read(src: Source, *, series: str | None = None) -> ReadResult:
    """Read an index history into ``vix_term_structure`` rows.

    Raises
    ------
    VendorFileError
        ``changed_header``, ``unknown_series``, ``truncated_file``, ``ragged_row``, ``empty_file``.
    """
    header = header_fields(src.head[0])
    ohlc = header[1:2] == ["OPEN"]
    if ohlc:
        check_header(src, header, OHLC, 1)
        named = None
    else:
        check_header(src, header, ["DATE", header[1]], 1)
        named = _ALIASES.get(header[1], header[1])
    series = series or named or _series_from_name(src.name)
    if series not in schemas.VIX_SERIES:
        raise src.error("unknown_series", line=1, column=header[1] if len(header) > 1 else None,
                        detail=f"cannot tell which of {schemas.VIX_SERIES} this is; pass --series with one of them")
    names = ["d", "o", "h", "l", "c"] if ohlc else ["d", "c"]
    rows = split_rows(src, 1, names)
    typed = {"date": ("d", date_expr("d", dates.decide(src, rows, ["d"], documented=dates.MDY, labels={"d": header[0]}))), "value": ("c", num("c"))}
    if ohlc:
        typed |= {"_o": ("o", num("o")), "_h": ("h", num("h")), "_l": ("l", num("l"))}
    raw = pl.struct([pl.col(n).alias(h) for n, h in zip(names, header)]).alias("_raw")  # JSON keys = header
    frame = rows.select(LINE, *typed_columns(typed), raw).with_columns(
        pl.lit(series).alias("series"))
    reason = q.daily_reason(
        "date", ["value", *(["_o", "_h", "_l"] if ohlc else [])],
        ohlc=("_o", "_h", "_l", "value") if ohlc else None, required=["value"],
    )
    return finish_table(src, FORMAT, frame, table=TABLE, date_col="date", reason=reason, key=["date", "series"])
