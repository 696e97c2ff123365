"""Daily OHLC(V) bars, Yahoo-style (``Date,Open,High,Low,Close,Adj Close,Volume``,
``date,open,high,low,close,volume,adjclose``, ``date,open,high,low,close,prior_close``).

Output: ``spx_daily`` for the S&P 500 index; for a VIX file, ``vix_term_structure``
rows (series VIX, value = close). Which instrument a file holds is not in its
content (Yahoo exports have no symbol column), so it comes from ``symbol=`` or from
the file name (``GSPC``/``SPX`` -> SPX, ``VIX`` -> VIX); otherwise the file is
rejected with ``unknown_underlying``. Prices in index points; ``Adj Close`` and
``prior_close`` are not stored (identical to close for an index / derivable).
"""

from __future__ import annotations

import re

import polars as pl

from pipelines.readers import dates
from pipelines.readers import quality as q
from pipelines.readers.daily_common import date_expr, finish_table, typed_columns
from pipelines.readers.result import ReadResult
from pipelines.readers.source import Source
from pipelines.readers.table import LINE, header_fields, integer, num, split_rows

FORMAT = "daily_ohlcv"
_REQUIRED = ["date", "open", "high", "low", "close"]
_OPTIONAL = {"volume", "adj close", "adjclose", "prior_close"}


def sniff(lines: list[str]) -> bool:
    h = [x.lower() for x in header_fields(lines[0])] if lines else []
    return h[:5] == _REQUIRED


def _symbol_from_name(name: str) -> str | None:
    n = name.upper()
    if re.search(r"GSPC|SPX|SP500", n):
        return "SPX"
    if re.search(r"(?<![A-Z])VIX(?![A-Z0-9])", n.replace("_", " ").replace("^", " ")):
        return "VIX"
    return None


def read(src: Source, *, symbol: str | None = None) -> ReadResult:
    """Read daily bars.

    Raises
    ------
    VendorFileError
        ``changed_header`` (a required column missing, or an unknown column),
        ``unknown_underlying``, ``truncated_file``, ``ragged_row``, ``empty_file``.
    """
    header = header_fields(src.head[0])
    low = [h.lower() for h in header]
    for i, h in enumerate(low):
        if i < 5 and h != _REQUIRED[i]:
            raise src.error("changed_header", line=1, column=_REQUIRED[i], detail=f"found {header[i]!r}")
        if i >= 5 and h not in _OPTIONAL:
            raise src.error("changed_header", line=1, column=header[i], detail="unknown column")
    if len(set(low)) != len(low):
        raise src.error("changed_header", line=1, detail="duplicated column")
    symbol = (symbol or _symbol_from_name(src.name) or "").upper()
    if symbol not in ("SPX", "VIX"):
        raise src.error("unknown_underlying", line=1, detail="which index these daily bars are is not in the file nor its name; pass --symbol SPX or --symbol VIX")
    names = [f"f{i}" for i in range(len(header))]
    rows = split_rows(src, 1, names)
    col = dict(zip(low, names))
    typed = {"date": (col["date"], date_expr(col["date"], dates.decide(src, rows, [col["date"]], labels=dict(zip(names, header)))))}
    typed |= {k: (col[k], num(col[k])) for k in ["open", "high", "low", "close"]}
    if "volume" in col:
        typed["volume"] = (col["volume"], integer(col["volume"]))
    frame = rows.select(LINE, *typed_columns(typed), pl.struct([pl.col(n).alias(h) for n, h in zip(names, header)]).alias("_raw"))
    if "volume" not in col:
        frame = frame.with_columns(pl.lit(None, pl.Int64).alias("volume"))
    reason = q.daily_reason("date", ["open", "high", "low", "close"], ohlc=("open", "high", "low", "close"),
                            required=["open", "high", "low", "close"])
    reason = pl.when(reason.is_null() & (pl.col("volume") < 0)).then(pl.lit("negative_count")).otherwise(reason)
    if symbol == "VIX":
        frame = frame.with_columns(pl.col("close").alias("value"), pl.lit("VIX").alias("series"))
        return finish_table(src, FORMAT, frame, table="vix_term_structure", date_col="date", reason=reason,
                            key=["date", "series"])
    return finish_table(src, FORMAT, frame, table="spx_daily", date_col="date", reason=reason, key=["date"])
