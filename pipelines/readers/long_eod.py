"""Long one-row-per-option end-of-day layout (HistoricalOptionData / "L3" style, as in
optopsy's ``SPX_2018.csv``).

Header::

    underlying,underlying_last, exchange,optionroot,optionext,type,expiration,quotedate,
    strike,last,bid,ask,volume,openinterest,impliedvol,delta,gamma,theta,vega,optionalias

(note the leading space of `` exchange``; dates MM/DD/YYYY; ``type`` is call/put;
``impliedvol`` is a decimal). Several quote dates per file are normal for this layout.

The root comes from the OCC symbol in ``optionroot`` (``SPXW180131C01200000``) and is
cross-checked against ``expiration``/``strike``/``type`` (``inconsistent_contract``).
Quotes are end-of-day: snapshot time = the session close. Vendor IV 0 = missing.
"""

from __future__ import annotations

import polars as pl

from pipelines.readers import dates
from pipelines.readers.options_common import (
    SYMBOL_FIELDS,
    check_roots,
    check_sessions,
    finish_options,
    malformed_occ_symbol,
    occ_symbol_columns,
    session_close,
    settlement_expr,
    symbol_disagrees,
)
from pipelines.readers.result import ReadResult
from pipelines.readers.source import Source
from pipelines.readers.table import LINE, check_header, first_failed, header_fields, integer, num, parse_failed, split_rows

FORMAT = "long_eod"
HEADER = ["underlying", "underlying_last", "exchange", "optionroot", "optionext", "type", "expiration", "quotedate",
          "strike", "last", "bid", "ask", "volume", "openinterest", "impliedvol", "delta", "gamma", "theta", "vega",
          "optionalias"]

#: Parsed as numbers straight away when the whole file allows (else typed row by row).
NUMERIC = {c: pl.Float64 for c in ["underlying_last", "strike", "last", "bid", "ask", "volume", "openinterest",
                                   "impliedvol", "delta", "gamma", "theta", "vega"]}


def sniff(lines: list[str]) -> bool:
    h = header_fields(lines[0]) if lines else []
    return "optionroot" in h and "underlying_last" in h


def read(src: Source, *, allowed_roots: frozenset[str] | None = None) -> ReadResult:
    """Read a long-layout EOD file into SPX_OPTIONS rows.

    Raises
    ------
    VendorFileError
        ``changed_header``, ``unknown_underlying``, ``not_a_session``, ``truncated_file``,
        ``ragged_row``, ``empty_file``.
    """
    check_header(src, header_fields(src.head[0]), HEADER, 1)
    rows = split_rows(src, 1, HEADER, NUMERIC)
    c = pl.col
    sym = c("optionroot")
    typ = c("type").str.to_lowercase().replace_strict({"call": "C", "put": "P", "c": "C", "p": "P"}, default=None,
                                                       return_dtype=pl.String)
    fmt = dates.decide(src, rows, ["quotedate", "expiration"], documented=dates.MDY)
    typed = {
        "quote_date": ("quotedate", c("quotedate").str.to_date(fmt, strict=False)),
        "expiration": ("expiration", c("expiration").str.to_date(fmt, strict=False)),
        "strike": ("strike", num("strike")),
        "underlying_price": ("underlying_last", num("underlying_last")),
        "last": ("last", num("last")),
        "bid": ("bid", num("bid")),
        "ask": ("ask", num("ask")),
        "volume": ("volume", integer("volume")),
        "open_interest": ("openinterest", integer("openinterest")),
        "_iv": ("impliedvol", num("impliedvol")),
        "vendor_delta": ("delta", num("delta")),
        "vendor_gamma": ("gamma", num("gamma")),
        "option_type": ("type", typ),
    }
    frame = rows.select(
        LINE,
        *occ_symbol_columns(sym),
        *[e.alias(k) for k, (_, e) in typed.items()],
        first_failed(
            {"optionroot": malformed_occ_symbol(sym)}
            | {raw: parse_failed(raw, e) for _, (raw, e) in typed.items()}
        ).alias("_bad"),
        pl.struct(HEADER).alias("_raw"),
    )
    check_roots(src, frame, allowed_roots, column="optionroot")
    check_sessions(src, frame, column="quotedate")
    frame = frame.with_columns(
        pl.when(c("_iv") != 0).then(c("_iv")).alias("vendor_iv"),
        pl.lit(None, pl.Int64).alias("bid_size"),
        pl.lit(None, pl.Int64).alias("ask_size"),
        pl.lit("eod").alias("snapshot_kind"),
        settlement_expr().alias("settlement"),
        symbol_disagrees(c("option_type")).alias("_inconsistent"),
    ).drop(["_iv", *SYMBOL_FIELDS])
    frame = frame.with_columns(session_close(frame).alias("snapshot_time"))
    return finish_options(src, FORMAT, frame, rows_read=frame.height, has_inconsistent=True)
