"""Cboe delayed-quotes option chain export (``spx_quotedata.csv``), SPX/SPXW/XSP/SPY.

Layout (wide, one line per expiration x strike)::

    <blank or index name>,Last: 4164,Change: 52.92             <- underlying_price
    "Date: February 7, 2023 at 5:34 PM EST",Bid: ..,Ask: ..    <- snapshot time
    Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,Puts,...
    Tue Feb 07 2023,SPXW230207C01000000,0,0,3156.3,3180.3,0,0,0,0,0,1000.00,SPXW230207P01000000,...

The put block repeats the call block's column names; a variant without the
``IV, Delta, Gamma`` columns exists; header/data lines may carry trailing commas.
Each line yields two contract rows (call, put), so ``rows_read`` = 2 x data lines.

Conventions: the root, expiry, side and strike come from the OCC symbol
(``SPXW230523C01200000`` -> SPXW, 2023-05-23, C, 1200.000) and are cross-checked
against the ``Expiration Date``/``Strike`` columns (mismatch -> ``inconsistent_contract``).
IV is a decimal (0.1532 = 15.32 %); Cboe writes 0 where it has no IV, which is
stored as null. The quote date and snapshot kind come from the snapshot time by
Cboe's hours (:func:`pipelines.readers.snapshot_time.classify_snapshot`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import polars as pl

from pipelines import calendar as cal
from pipelines import schemas
from pipelines.readers.options_common import (
    SYMBOL_FIELDS,
    check_roots,
    finish_options,
    malformed_occ_symbol,
    occ_symbol_columns,
    settlement_expr,
    symbol_disagrees,
)
from pipelines.readers.result import ReadResult
from pipelines.readers.snapshot_time import classify_snapshot, parse_snapshot_time
from pipelines.readers.source import Source
from pipelines.readers.table import (
    CHUNK_LINES,
    LINE,
    NotChunkable,
    check_header,
    first_failed,
    header_fields,
    integer,
    num,
    parse_failed,
    split_chunks,
    split_rows,
)

FORMAT = "cboe_delayed_quotes"
_SIDE = ["Last Sale", "Net", "Bid", "Ask", "Volume", "IV", "Delta", "Gamma", "Open Interest"]
_SIDE_NOCALC = ["Last Sale", "Net", "Bid", "Ask", "Volume", "Open Interest"]
HEADER = ["Expiration Date", "Calls", *_SIDE, "Strike", "Puts", *_SIDE]
HEADER_NOCALC = ["Expiration Date", "Calls", *_SIDE_NOCALC, "Strike", "Puts", *_SIDE_NOCALC]
_KEYS = {"Last Sale": "last", "Net": "net", "Bid": "bid", "Ask": "ask", "Volume": "volume", "IV": "iv",
         "Delta": "delta", "Gamma": "gamma", "Open Interest": "oi"}
_DATE_LINE = re.compile(r'^\s*"?\s*Date\s*:', re.IGNORECASE)
_LAST = re.compile(r"Last:\s*([-+0-9.,]+)")
_PREAMBLE_MAX = 10
#: Lines judged at a time: a day's full SPX chain is ~10 k lines (one slice); a file of many
#: chains is split a chunk at a time (:func:`~pipelines.readers.table.split_chunks`) and
#: judged slice by slice, so neither its wide nor its long rows are all in memory at once.
SLICE_LINES = CHUNK_LINES


def sniff(lines: list[str]) -> bool:
    """True when the first lines look like this export."""
    head = lines[:_PREAMBLE_MAX]
    return any(l.startswith("Expiration Date,") for l in head) or (
        any("Last:" in l for l in head[:3]) and any(_DATE_LINE.match(l) for l in head[:4])
    )


def read(src: Source, *, allowed_roots: frozenset[str] | None = None) -> ReadResult:
    """Read one delayed-quotes export into SPX_OPTIONS rows.

    Parameters
    ----------
    src : the opened file.
    allowed_roots : roots accepted (default: the schema's SPX, SPXW, XSP, SPY).

    Raises
    ------
    VendorFileError
        ``changed_header``, ``missing_snapshot_time``, ``unparseable_snapshot_time``,
        ``several_quote_dates``, ``repeated_header``, ``unknown_underlying``,
        ``truncated_file``, ``ragged_row``, ``empty_file``, ``outside_calendar_range``.
    """
    hdr_idx = next((i for i, l in enumerate(src.head[:_PREAMBLE_MAX]) if l.startswith("Expiration Date")), None)
    if hdr_idx is None:
        raise src.error("changed_header", line=min(3, len(src.lines)), column="Expiration Date",
                        detail="no 'Expiration Date,...' header in the first lines")
    got = header_fields(src.head[hdr_idx])
    expected = HEADER_NOCALC if got[: len(HEADER_NOCALC)] == HEADER_NOCALC else HEADER
    check_header(src, got, expected, hdr_idx + 1)
    ts, quote_date, kind = _snapshot(src, hdr_idx)
    spot = _underlying(src, hdr_idx)

    side_cols = tuple(_KEYS[c] for c in expected[2:expected.index("Strike")])
    names = ["exp", "c_sym", *[f"c_{k}" for k in side_cols], "strike_s", "p_sym", *[f"p_{k}" for k in side_cols]]
    numeric = {c: pl.Float64 for c in names if c not in ("exp", "c_sym", "p_sym")}
    body_check = functools.partial(_check_body_preambles, src, hdr_idx, quote_date)
    stamp = [
        pl.lit(quote_date, pl.Date).alias("quote_date"),
        pl.lit(ts, pl.Datetime("us", "America/New_York")).alias("snapshot_time"),
        pl.lit(kind).alias("snapshot_kind"),
        pl.lit(spot, pl.Float64).alias("underlying_price"),
    ]

    def contracts(chunks) -> Iterator[pl.LazyFrame]:
        """Each chunk of wide rows as contract rows, its roots checked (the first line
        with a root outside ``allowed_roots`` is reported once every line has been split,
        so a file with several problems is reported as the whole-file read reports it)."""
        foreign = None
        for rows in chunks:
            call_roots, put_roots = rows.select(
                _root_of("c_sym").drop_nulls().unique().implode(),
                _root_of("p_sym").drop_nulls().unique().implode().alias("p"),
            ).row(0)
            if foreign is None and not set(call_roots) | set(put_roots) <= (allowed_roots or frozenset(schemas.ROOTS)):
                foreign = rows  # rare: the line is found below
            for start in range(0, rows.height, SLICE_LINES):
                yield _contracts(rows.slice(start, SLICE_LINES).lazy(), side_cols).with_columns(
                    *stamp, settlement_expr().alias("settlement"))
        if foreign is not None:
            check_roots(src, _roots(foreign), allowed_roots, column={"C": "Calls", "P": "Puts"})

    finish = functools.partial(finish_options, src, FORMAT, has_inconsistent=True, raw=_raw_fields(side_cols),
                               snapshot_kind=kind)
    try:  # the common case: a clean body, split and judged a chunk at a time
        def chunks():
            return contracts(split_chunks(src, hdr_idx + 1, names, numeric, body_check, chunk_lines=SLICE_LINES))

        return finish(chunks(), raw_rows=chunks, release_source=True)
    except NotChunkable:  # the careful path finds and reports the exact problem of the body
        rows = split_rows(src, hdr_idx + 1, names, numeric, body_check=body_check)
        return finish(list(contracts([rows])))


def _snapshot(src: Source, hdr_idx: int):
    idx = next((i for i in range(hdr_idx) if _DATE_LINE.match(src.head[i])), None)
    if idx is None:
        raise src.error("missing_snapshot_time", line=hdr_idx, column="Date",
                        detail="no 'Date: ...' line before the header")
    try:
        ts = parse_snapshot_time(src.head[idx])
        quote_date, kind = classify_snapshot(ts)
    except ValueError as exc:  # CalendarRangeError is a ValueError too
        reason = "outside_calendar_range" if isinstance(exc, cal.CalendarRangeError) else "unparseable_snapshot_time"
        raise src.error(reason, line=idx + 1, column="Date", detail=str(exc)) from None
    return ts, quote_date, kind


def _underlying(src: Source, hdr_idx: int) -> float | None:
    """``Last:`` of the preamble; None when absent or unusable (rows then fail
    ``missing_underlying_price``)."""
    for line in src.head[:hdr_idx]:
        m = _LAST.search(line)
        if m:
            try:
                v = float(m.group(1).replace(",", ""))
            except ValueError:
                return None
            return v if v > 0 and v == v and v != float("inf") else None
    return None


def _check_body_preambles(src: Source, hdr_idx: int, quote_date) -> None:
    """A second export concatenated into the file: several quote dates, or a repeated header."""
    body = src.text_from(hdr_idx + 1)
    pos = _find_date_line(body)
    if pos is not None:
        line_no = hdr_idx + 2 + body.count("\n", 0, pos)
        try:
            other, _ = classify_snapshot(parse_snapshot_time(src.lines[line_no - 1]))
        except ValueError:
            other = None
        if other != quote_date:
            raise src.error("several_quote_dates", line=line_no, column="Date",
                            detail=f"snapshot for {other} after one for {quote_date}")
        raise src.error("repeated_header", line=line_no, column="Date", detail="second preamble in the body")
    pos = 0 if body.startswith("Expiration Date") else body.find("\nExpiration Date") + 1
    if pos > 0 or body.startswith("Expiration Date"):
        line_no = hdr_idx + 2 + body.count("\n", 0, pos)
        raise src.error("repeated_header", line=line_no, column="Expiration Date")


def _find_date_line(body: str) -> int | None:
    """Offset of the start of a ``Date:`` line in ``body`` (substring scans: no regex over MBs)."""
    for needle in ("Date", "date", "DATE"):
        start = 0
        while (i := body.find(needle, start)) >= 0:  # only stops on lines mentioning "date"
            line_start = body.rfind("\n", 0, i) + 1
            if body[line_start:i].strip(' \t"') == "" and _DATE_LINE.match(body[line_start:i + 40]):
                return line_start
            start = i + 1
    return None


@functools.cache
def _root_of(symbol_column: str) -> pl.Expr:
    return occ_symbol_columns(pl.col(symbol_column))[0]


def _roots(rows: pl.DataFrame) -> pl.DataFrame:
    """``root``, ``line`` and ``option_type`` of every well-formed symbol, for :func:`check_roots`."""
    return pl.concat([
        rows.select(_root_of(f"{p}_sym"), LINE, pl.lit(side).alias("option_type"))
        for p, side in (("c", "C"), ("p", "P"))
    ])


#: Prefix of a side's original fields, kept beside the typed columns for the quarantine.
_RAW = "_raw_"


@functools.cache  # expressions are immutable: built once per layout, not per file
def _raw_fields(side_cols: tuple[str, ...]) -> pl.Expr:
    """A contract row's original fields, as the quarantine records them."""
    c = pl.col
    return pl.struct(c("exp"), c("sym"), *[c(_RAW + k).alias(k) for k in side_cols], c("strike_s"), c("side"))


def _contracts(rows: pl.LazyFrame, side_cols: tuple[str, ...]) -> pl.LazyFrame:
    """The wide layout as long canonical rows, calls then puts. The two sides are stacked
    first, so that each field is parsed by one expression over all contracts (on a day's
    chain, the count of polars expressions costs more than the rows)."""
    sides, parsed, finished = _contract_exprs(side_cols)
    stacked = pl.concat([rows.select(side) for side in sides])
    return stacked.with_columns(parsed).with_columns(finished).drop(["_iv", *SYMBOL_FIELDS])


@functools.cache
def _contract_exprs(side_cols: tuple[str, ...]) -> tuple[list[list[pl.Expr]], list[pl.Expr], list[pl.Expr]]:
    """The expressions of :func:`_contracts`: each side's columns, the parsed fields, the
    derived ones."""
    c = pl.col
    sides = [
        [c(LINE), c("exp"), c("strike_s"), c(f"{p}_sym").alias("sym"),
         *[c(f"{p}_{k}").alias(_RAW + k) for k in side_cols], pl.lit(side).alias("side")]
        for p, side in (("c", "C"), ("p", "P"))
    ]
    typed = {
        "expiration": ("exp", c("exp").str.to_date("%a %b %d %Y", strict=False)),
        "strike": ("strike_s", num("strike_s")),
        "last": (_RAW + "last", num(_RAW + "last")),
        "bid": (_RAW + "bid", num(_RAW + "bid")),
        "ask": (_RAW + "ask", num(_RAW + "ask")),
        "volume": (_RAW + "volume", integer(_RAW + "volume")),
        "open_interest": (_RAW + "oi", integer(_RAW + "oi")),
    }
    if "iv" in side_cols:
        typed |= {"_iv": (_RAW + "iv", num(_RAW + "iv")), "vendor_delta": (_RAW + "delta", num(_RAW + "delta")),
                  "vendor_gamma": (_RAW + "gamma", num(_RAW + "gamma"))}
    parsed = [
        c("side").alias("option_type"),
        *occ_symbol_columns(c("sym")),
        *[e.alias(k) for k, (_, e) in typed.items()],
        first_failed(
            {"sym": malformed_occ_symbol(c("sym"))} | {raw: parse_failed(raw, e) for raw, e in typed.values()}
        ).alias("_bad"),
    ]
    if "iv" not in side_cols:
        parsed += [pl.lit(None, pl.Float64).alias(k) for k in ["_iv", "vendor_delta", "vendor_gamma"]]
    finished = [
        # Cboe writes IV 0 when it has none: missing, not an impossible value.
        pl.when(c("_iv") != 0).then(c("_iv")).alias("vendor_iv"),
        pl.lit(None, pl.Int64).alias("bid_size"),
        pl.lit(None, pl.Int64).alias("ask_size"),
        symbol_disagrees(c("option_type")).alias("_inconsistent"),
    ]
    return sides, parsed, finished
