"""OptionsDX end-of-day option files (wide, one line per expiration x strike).

Header (bracketed names, values padded with spaces, empty IVs as blanks)::

    [QUOTE_UNIXTIME], [QUOTE_READTIME], [QUOTE_DATE], [QUOTE_TIME_HOURS], [UNDERLYING_LAST],
    [EXPIRE_DATE], [EXPIRE_UNIX], [DTE], [C_DELTA], [C_GAMMA], [C_VEGA], [C_THETA], [C_RHO],
    [C_IV], [C_VOLUME], [C_LAST], [C_SIZE], [C_BID], [C_ASK], [STRIKE], [P_BID], [P_ASK],
    [P_SIZE], [P_LAST], [P_DELTA], [P_GAMMA], [P_VEGA], [P_THETA], [P_RHO], [P_IV], [P_VOLUME],
    [STRIKE_DISTANCE], [STRIKE_DISTANCE_PCT]

``[C_SIZE]``/``[P_SIZE]`` are ``"<bid size> x <ask size>"``. A file usually holds a
month of quote dates. Each line gives a call and a put row (``rows_read`` = 2 x lines).

The file names no underlying and no root. The underlying comes from ``underlying=``
or the file name's prefix as OptionsDX ships it (``spx_eod_202301.txt`` -> SPX);
otherwise ``unknown_underlying``. For SPX, an expiration on the third Friday of its
month is taken as the AM-settled monthly (root SPX), every other one as SPXW (PM) -
an assumption (OptionsDX does not say), documented because a holiday-shifted monthly
(third Friday closed) would be labelled SPXW. For SPY/XSP the root is the underlying.
``[QUOTE_READTIME]`` is ET; a read time at/after the session close -> ``"eod"``,
otherwise ``"intraday"``. IV 0 or blank = missing.
"""

from __future__ import annotations

import re

import polars as pl

from features.calendar import is_third_friday_expr
from pipelines import schemas
from pipelines.readers.options_common import check_roots, check_sessions, finish_options, session_close, settlement_expr
from pipelines.readers.result import ReadResult
from pipelines.readers.source import Source
from pipelines.readers.table import LINE, check_header, first_failed, header_fields, integer, num, parse_failed, split_rows

FORMAT = "optionsdx_eod"
HEADER = ["[QUOTE_UNIXTIME]", "[QUOTE_READTIME]", "[QUOTE_DATE]", "[QUOTE_TIME_HOURS]", "[UNDERLYING_LAST]",
          "[EXPIRE_DATE]", "[EXPIRE_UNIX]", "[DTE]", "[C_DELTA]", "[C_GAMMA]", "[C_VEGA]", "[C_THETA]", "[C_RHO]",
          "[C_IV]", "[C_VOLUME]", "[C_LAST]", "[C_SIZE]", "[C_BID]", "[C_ASK]", "[STRIKE]", "[P_BID]", "[P_ASK]",
          "[P_SIZE]", "[P_LAST]", "[P_DELTA]", "[P_GAMMA]", "[P_VEGA]", "[P_THETA]", "[P_RHO]", "[P_IV]",
          "[P_VOLUME]", "[STRIKE_DISTANCE]", "[STRIKE_DISTANCE_PCT]"]
_NAMES = [h.strip("[]").lower() for h in HEADER]
_SIZE = r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$"


def sniff(lines: list[str]) -> bool:
    return bool(lines) and ("[QUOTE_UNIXTIME]" in lines[0] or "[QUOTE_DATE]" in lines[0])


def _underlying_from_name(name: str) -> str | None:
    m = re.match(r"^([a-z]+)_", name.lower())
    u = m.group(1).upper() if m else None
    return u if u in ("SPX", "SPY", "XSP") else None


def read(src: Source, *, underlying: str | None = None, allowed_roots: frozenset[str] | None = None) -> ReadResult:
    """Read an OptionsDX EOD file into SPX_OPTIONS rows.

    Raises
    ------
    VendorFileError
        ``changed_header``, ``unknown_underlying``, ``not_a_session``, ``truncated_file``,
        ``ragged_row``, ``empty_file``.
    """
    check_header(src, header_fields(src.head[0]), HEADER, 1)
    under = (underlying or _underlying_from_name(src.name) or "").upper()
    if under not in schemas.ROOTS:
        raise src.error("unknown_underlying", line=1,
                        detail="OptionsDX files do not name their underlying; pass underlying='SPX'")
    rows = split_rows(src, 1, _NAMES)
    sides = [_side(rows, "c", "C"), _side(rows, "p", "P")]
    frame = pl.concat(sides, how="vertical")
    c = pl.col
    exp = c("expiration")
    third_friday = is_third_friday_expr(exp)
    root = pl.when(third_friday).then(pl.lit("SPX")).otherwise(pl.lit("SPXW")) if under == "SPX" else pl.lit(under)
    frame = frame.with_columns(pl.when(exp.is_not_null()).then(root).alias("root"))
    # the root is derived, never read, so only allowed_roots can reject it
    check_roots(src, frame, allowed_roots, column="[EXPIRE_DATE]")
    check_sessions(src, frame, column="[QUOTE_DATE]")
    frame = frame.with_columns(
        settlement_expr().alias("settlement"),
        pl.when(c("snapshot_time") >= session_close(frame)).then(pl.lit("eod")).otherwise(pl.lit("intraday"))
        .alias("snapshot_kind"),
    ).sort([LINE, "option_type"])
    return finish_options(src, FORMAT, frame, rows_read=2 * rows.height)


def _side(rows: pl.DataFrame, p: str, typ: str) -> pl.DataFrame:
    c = pl.col
    size = c(f"{p}_size").str.extract_groups(_SIZE)
    typed = {
        "quote_date": ("quote_date", c("quote_date").str.to_date("%Y-%m-%d", strict=False)),
        "snapshot_time": ("quote_readtime", c("quote_readtime").str.to_datetime("%Y-%m-%d %H:%M", strict=False,
                                                                               time_unit="us")
                          .dt.replace_time_zone("America/New_York", ambiguous="earliest", non_existent="null")),
        "expiration": ("expire_date", c("expire_date").str.to_date("%Y-%m-%d", strict=False)),
        "strike": ("strike", num("strike")),
        "underlying_price": ("underlying_last", num("underlying_last")),
        "bid": (f"{p}_bid", num(f"{p}_bid")),
        "ask": (f"{p}_ask", num(f"{p}_ask")),
        "last": (f"{p}_last", num(f"{p}_last")),
        "volume": (f"{p}_volume", integer(f"{p}_volume")),
        "bid_size": (f"{p}_size", size.struct.field("1").cast(pl.Int64, strict=False)),
        "ask_size": (f"{p}_size", size.struct.field("2").cast(pl.Int64, strict=False)),
        "_iv": (f"{p}_iv", num(f"{p}_iv")),
        "vendor_delta": (f"{p}_delta", num(f"{p}_delta")),
        "vendor_gamma": (f"{p}_gamma", num(f"{p}_gamma")),
    }
    raw = ["quote_readtime", "quote_date", "underlying_last", "expire_date", "strike",
           *[f"{p}_{k}" for k in ["bid", "ask", "last", "volume", "size", "iv", "delta", "gamma"]]]
    return rows.select(
        LINE,
        *[e.alias(k) for k, (_, e) in typed.items()],
        first_failed({r: parse_failed(r, e) for _, (r, e) in typed.items()}).alias("_bad"),
        pl.struct([c(r).alias(r.removeprefix(f"{p}_")) for r in raw]).struct.with_fields(pl.lit(typ).alias("side")).alias("_raw"),
    ).with_columns(
        pl.lit(typ).alias("option_type"),
        pl.when(c("_iv") != 0).then(c("_iv")).alias("vendor_iv"),
        pl.lit(None, pl.Int64).alias("open_interest"),  # not in OptionsDX EOD files
    ).drop("_iv")
