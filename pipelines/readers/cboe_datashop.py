"""Cboe DataShop "Option EOD Summary" (with or without Calcs).

One CSV per day (delivered as a zip, sometimes zip-in-zip). Columns (Calcs variant)::

    underlying_symbol,quote_date,root,expiration,strike,option_type,open,high,low,close,
    trade_volume,bid_size_1545,bid_1545,ask_size_1545,ask_1545,underlying_bid_1545,
    underlying_ask_1545,implied_underlying_price_1545,active_underlying_price_1545,
    implied_volatility_1545,delta_1545,gamma_1545,theta_1545,vega_1545,rho_1545,
    bid_size_eod,bid_eod,ask_size_eod,ask_eod,underlying_bid_eod,underlying_ask_eod,
    vwap,open_interest,delivery_code

The Quotes variant lacks the implied/active underlying, IV and greek columns.

``quote_time="eod"`` (default) stores the end-of-day quotes (``*_eod``): snapshot kind
``"eod"``, snapshot time = the session close (the file does not carry the exact time);
``quote_time="1545"`` stores the 15:45 ET quotes: kind ``"intraday"``, time 15:45 ET.
The underlying price is the mid of ``underlying_bid/ask`` at that time. Vendor IV,
delta and gamma (Calcs only) are computed by Cboe at 15:45, so they are stored only
with ``quote_time="1545"`` - pairing them with EOD quotes would mix two instants.
``last`` = ``close`` (0 when untraded -> null), ``volume`` = ``trade_volume``.

Roots: the SPX_OPTIONS table admits SPX, SPXW, XSP and SPY. Cboe's free sample is
VIX options (root VIX); VIX options are options on the VX future, not on SPX, so
they are **not** mapped: :func:`read` rejects them with ``unknown_underlying``
naming the root, while :func:`parse_datashop` parses any root.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.readers.options_common import check_roots, check_sessions, finish_options, session_close, settlement_expr
from pipelines.readers.result import ReadResult
from pipelines.readers.source import Source, load_source
from pipelines.readers.table import LINE, check_header, first_failed, header_fields, integer, num, parse_failed, split_rows

FORMAT = "cboe_datashop_eod"
_BASE = ["underlying_symbol", "quote_date", "root", "expiration", "strike", "option_type", "open", "high", "low",
         "close", "trade_volume", "bid_size_1545", "bid_1545", "ask_size_1545", "ask_1545", "underlying_bid_1545",
         "underlying_ask_1545"]
_CALCS = ["implied_underlying_price_1545", "active_underlying_price_1545", "implied_volatility_1545", "delta_1545",
          "gamma_1545", "theta_1545", "vega_1545", "rho_1545"]
_TAIL = ["bid_size_eod", "bid_eod", "ask_size_eod", "ask_eod", "underlying_bid_eod", "underlying_ask_eod", "vwap",
         "open_interest", "delivery_code"]
HEADER_CALCS = _BASE + _CALCS + _TAIL
HEADER_QUOTES = _BASE + _TAIL


def sniff(lines: list[str]) -> bool:
    return bool(lines) and lines[0].startswith("underlying_symbol,quote_date,")


def parse_datashop(path: str | Path, *, quote_time: str = "eod") -> pl.DataFrame:
    """Parse a DataShop EOD file to canonical option columns, whatever the root.

    Returns the SPX_OPTIONS columns (``settlement`` null for roots other than
    SPX/SPXW/XSP/SPY, ``source`` set) plus ``line`` and ``_bad`` (first unparseable
    field); no row rule is applied.
    """
    src = load_source(path)
    return _parse(src, quote_time).drop("_raw").with_columns(pl.lit(src.tag).alias("source"))


def read(src: Source, *, quote_time: str = "eod", allowed_roots: frozenset[str] | None = None) -> ReadResult:
    """Read a DataShop EOD file into SPX_OPTIONS rows.

    Raises
    ------
    VendorFileError
        ``changed_header``, ``unknown_underlying`` (e.g. root VIX), ``not_a_session``,
        ``truncated_file``, ``ragged_row``, ``empty_file``.
    ValueError
        For a ``quote_time`` other than ``"eod"``/``"1545"`` (a caller bug, not bad input).
    """
    frame = _parse(src, quote_time)
    check_roots(src, frame, allowed_roots, column="root")
    check_sessions(src, frame, column="quote_date")
    return finish_options(src, FORMAT, frame, rows_read=frame.height)


def _parse(src: Source, quote_time: str) -> pl.DataFrame:
    if quote_time not in ("eod", "1545"):
        raise ValueError(f"quote_time must be 'eod' or '1545', not {quote_time!r}")
    got = header_fields(src.head[0])
    calcs = len(got) > len(_BASE) and got[len(_BASE)] == _CALCS[0]
    expected = HEADER_CALCS if calcs else HEADER_QUOTES
    check_header(src, got, expected, 1)
    rows = split_rows(src, 1, expected)
    sfx = "eod" if quote_time == "eod" else "1545"
    c = pl.col
    typed = {
        "quote_date": ("quote_date", c("quote_date").str.to_date("%Y-%m-%d", strict=False)),
        "expiration": ("expiration", c("expiration").str.to_date("%Y-%m-%d", strict=False)),
        "strike": ("strike", num("strike")),
        "bid": (f"bid_{sfx}", num(f"bid_{sfx}")),
        "ask": (f"ask_{sfx}", num(f"ask_{sfx}")),
        "bid_size": (f"bid_size_{sfx}", integer(f"bid_size_{sfx}")),
        "ask_size": (f"ask_size_{sfx}", integer(f"ask_size_{sfx}")),
        "_close": ("close", num("close")),
        "volume": ("trade_volume", integer("trade_volume")),
        "open_interest": ("open_interest", integer("open_interest")),
        "_ub": (f"underlying_bid_{sfx}", num(f"underlying_bid_{sfx}")),
        "_ua": (f"underlying_ask_{sfx}", num(f"underlying_ask_{sfx}")),
    }
    if calcs and quote_time == "1545":
        typed |= {"_iv": ("implied_volatility_1545", num("implied_volatility_1545")),
                  "vendor_delta": ("delta_1545", num("delta_1545")),
                  "vendor_gamma": ("gamma_1545", num("gamma_1545"))}
    frame = rows.select(
        LINE,
        c("root").str.to_uppercase().alias("root"),
        c("option_type").str.to_uppercase().replace({"CALL": "C", "PUT": "P"}).alias("option_type"),
        *[e.alias(k) for k, (_, e) in typed.items()],
        first_failed(
            {raw: parse_failed(raw, e) for _, (raw, e) in typed.items()}
            | {"option_type": c("option_type").is_not_null() & ~c("option_type").str.to_uppercase().is_in(["C", "P", "CALL", "PUT"])}
        ).alias("_bad"),
        pl.struct(expected).alias("_raw"),
    )
    for k in ["_iv", "vendor_delta", "vendor_gamma"]:
        if k not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.Float64).alias(k))
    mid = pl.when((c("_ub") > 0) & (c("_ua") > 0)).then((c("_ub") + c("_ua")) / 2).otherwise(
        pl.max_horizontal(c("_ub"), c("_ua")))
    frame = frame.with_columns(
        mid.alias("underlying_price"),
        pl.when(c("_close") != 0).then(c("_close")).alias("last"),  # 0 = no trade
        pl.when(c("_iv") != 0).then(c("_iv")).alias("vendor_iv"),
        settlement_expr().alias("settlement"),
        pl.lit("eod" if quote_time == "eod" else "intraday").alias("snapshot_kind"),
    ).drop(["_ub", "_ua", "_close", "_iv"])
    if quote_time == "eod":
        frame = frame.with_columns(session_close(frame).alias("snapshot_time"))
    else:
        frame = frame.with_columns(
            (c("quote_date").cast(pl.Datetime("us")) + pl.duration(hours=15, minutes=45))
            .dt.replace_time_zone("America/New_York").alias("snapshot_time"))
    return frame.sort(LINE)
