"""Pieces shared by the option-chain readers (Cboe delayed quotes, DataShop, OptionsDX, long EOD)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import polars as pl

from pipelines import schemas
from pipelines.readers import quality as q
from pipelines.readers.result import ReadResult, conform_exprs, conform_quarantine, dates_of
from pipelines.readers.source import Source
from pipelines.readers.table import LINE, engine_for

TABLE = "spx_options"
#: Settlement style by root: SPX monthlies settle on the opening print (AM), the rest at the close.
SETTLEMENT = {"SPX": "AM", "SPXW": "PM", "SPY": "PM", "XSP": "PM"}
OCC_SYMBOL = r"^[A-Z]{1,6}\d{6}[CP]\d{8}$"


#: Helper columns parsed from the OCC symbol, dropped once checked against the row.
SYMBOL_FIELDS = ["_sym_exp", "_sym_type", "_sym_strike"]


def malformed_occ_symbol(symbol: pl.Expr) -> pl.Expr:
    """True where ``symbol`` is missing or not an OCC symbol like ``SPXW230523C01200000``."""
    return symbol.str.contains(OCC_SYMBOL).fill_null(False).not_()


def occ_symbol_columns(symbol: pl.Expr) -> list[pl.Expr]:
    """``root`` and the symbol's expiry, side and strike (:data:`SYMBOL_FIELDS`), null when
    the symbol is malformed. The fields sit at fixed offsets from the end of a well-formed
    symbol, so they are sliced out (one regex match per row, not a regex extraction)."""
    part = pl.when(~malformed_occ_symbol(symbol))
    return [
        part.then(symbol.str.head(-15)).alias("root"),
        part.then(symbol.str.slice(-15, 6)).str.to_date("%y%m%d", strict=False).alias("_sym_exp"),
        part.then(symbol.str.slice(-9, 1)).alias("_sym_type"),
        (part.then(symbol.str.slice(-8)).cast(pl.Int64) / 1000.0).alias("_sym_strike"),
    ]


def symbol_disagrees(option_type: pl.Expr) -> pl.Expr:
    """True where the OCC symbol's expiry, side or strike disagrees with the row's columns."""
    return (
        (pl.col("_sym_exp") != pl.col("expiration"))
        | (pl.col("_sym_type") != option_type)
        | ((pl.col("_sym_strike") - pl.col("strike")).abs() > 1e-6)
    )


def check_roots(src: Source, frame: pl.DataFrame, allowed: frozenset[str] | None,
                column: str | dict[str, str]) -> None:
    """Raise ``unknown_underlying`` when a root outside ``allowed`` appears.

    ``allowed`` defaults to the roots the SPX_OPTIONS schema admits. ``column`` names
    the column the root was read from, or maps option_type -> column (wide layouts).
    """
    allowed = allowed if allowed is not None else frozenset(schemas.ROOTS)
    if set(frame["root"].drop_nulls().unique().to_list()) <= allowed:  # a handful of roots per file
        return
    bad = frame.select("root", "line", "option_type").filter(
        pl.col("root").is_not_null() & ~pl.col("root").is_in(list(allowed))
    )
    if bad.height:
        bad = bad.sort("line")
        root = bad["root"][0]
        col = column if isinstance(column, str) else column.get(bad["option_type"][0])
        raise src.error(
            "unknown_underlying", line=int(bad["line"][0]), column=col,
            detail=f"root {root!r} is not one of {sorted(allowed)}",
        )


def settlement_expr() -> pl.Expr:
    return pl.col("root").replace_strict(SETTLEMENT, default=None, return_dtype=pl.String)


def finish_options(src: Source, fmt: str, frame: pl.DataFrame | pl.LazyFrame | Iterable[pl.LazyFrame], *,
                   rows_read: int | None = None, has_inconsistent: bool = False, raw: pl.Expr | None = None,
                   snapshot_kind: str | None = None,
                   raw_rows: Callable[[], Iterable[pl.LazyFrame]] | None = None,
                   release_source: bool = False) -> ReadResult:
    """Apply the option row rules, resolve duplicates, conform and score.

    ``frame`` (or each of a list or an iterator of slices of one file) holds the canonical
    SPX_OPTIONS columns (typed) plus ``line``, ``_bad``
    and optionally ``_inconsistent``; ``raw`` builds the struct of a row's original
    fields (default: its ``_raw`` column). The stored rows and the quarantined ones
    (only they get their raw fields encoded) come out of one query, so a lazy
    ``frame`` is parsed once. ``rows_read``: the rows of the slices when None.
    ``snapshot_kind``: the file's kind when the reader knows
    it for all rows (else the distinct kinds of the rows are looked up).
    ``raw_rows``: the slices again, for the original fields of the rows a duplicate
    displaces; needed when ``frame`` is an iterator, which is consumed slice by slice so
    that only one slice's rows are in memory at a time.
    ``release_source``: drop the file's bytes (:meth:`Source.release`) as soon as no
    duplicate's original fields can be needed (the slices are read).
    """
    raw = pl.col("_raw") if raw is None else raw
    rules = q.option_rules(has_inconsistent)
    engine = engine_for(src)  # before the source's bytes are released
    parts = [frame] if isinstance(frame, (pl.DataFrame, pl.LazyFrame)) else frame
    goods, lines, bads, kind_sets, hashes = [], [], [], [], []
    for part in parts:  # a large file in slices: only one slice's long rows are in memory at a time
        judged = part.lazy().with_columns(q.rejected(rules).alias("_rejected"))
        rejected = pl.col("_rejected")
        queries = [
            judged.filter(~rejected).select(LINE, *conform_exprs(TABLE, judged.collect_schema().names(), source=src.tag)),
            q.quarantine_rows(judged.filter(rejected).with_columns(q.option_reason(has_inconsistent).alias("_reason")),
                              reason_col="_reason", table=TABLE, source=src.tag, date_col="quote_date", raw_col=raw),
        ]
        if snapshot_kind is None:
            queries.append(judged.select(pl.col("snapshot_kind").drop_nulls().unique().sort()))
        good, bad, *kinds = pl.collect_all(queries, engine=engine)
        # the lines kept apart, a slice at a time; the drop copies the slice's columns into
        # compact buffers (a 200 MB chain's kept slices as collected held ~0.2 GB more)
        lines.append(good.get_column(LINE))
        goods.append(good.drop(LINE))
        bads.append(bad)
        kind_sets += kinds
        hashes.append(good.select(q.OPTION_KEY).hash_rows())  # the key's hash, a slice at a time
    if goods:
        del part, judged, good, bad, kinds  # the last slice's rows: not needed past here
    bad = pl.concat(bads)
    if rows_read is None:  # every row read is stored or quarantined here
        rows_read = sum(g.height for g in goods) + bad.height
    if snapshot_kind is None:
        kinds = [pl.concat(kind_sets).unique().sort("snapshot_kind")]
    if raw_rows is None:
        raw_rows = (lambda: parts) if isinstance(parts, (list, tuple)) else None

    def raw_of(lines: pl.Series) -> pl.DataFrame:
        """``line``, ``option_type`` and ``_raw`` of the rows on ``lines`` (a few duplicates)."""
        wanted = pl.col(LINE).is_in(lines.unique().implode())
        return pl.concat([p.lazy().filter(wanted).select(LINE, "option_type", raw.alias("_raw")).collect()
                          for p in raw_rows()])

    hashes = pl.concat(hashes)
    if hashes.n_unique() == hashes.len():  # no key repeats (a collision only costs the search below)
        if release_source:
            src.release()
        dup = q.empty_quarantine()
        # the slices stay separate pieces of one frame: an eager operation on a frame of many
        # chunks (a drop, a row hash) copies it whole, ~0.5 GB more for a 200 MB chain
        table = pl.concat(goods, rechunk=False)
    else:
        good = pl.concat(goods).with_columns(pl.concat(lines))
        good, dup = q.resolve_duplicates(good, q.OPTION_KEY, q.option_preference(), table=TABLE,
                                         source=src.tag, date_col="quote_date",
                                         raw=raw_of if raw_rows is not None else None)
        table = good.drop(LINE)
        del good
        if release_source:
            src.release()
    del goods, lines, hashes
    quarantine = conform_quarantine([bad, dup])
    kinds = [snapshot_kind] if snapshot_kind is not None else kinds[0]["snapshot_kind"].to_list()
    # lazy: the eager group-by with filtered aggregations took ~2.5x the frame in temporaries
    days = q.quality_by_day(table.lazy()).collect(engine=engine)
    quality, flags = q.option_quality(days, rows_read, quarantine.height, kinds)
    return ReadResult(
        path=src.path, format=fmt, tables={TABLE: table}, quarantine=quarantine, rows_read=rows_read,
        quote_dates=dates_of(table, "quote_date", quarantine),
        snapshot_kind=kinds[0] if len(kinds) == 1 else ("mixed" if kinds else None),
        quality=quality, flags=flags,
    )


def check_sessions(src: Source, frame: pl.DataFrame, column: str) -> None:
    """Raise ``not_a_session`` (or ``outside_calendar_range``) for a quote date the NYSE was closed.

    Only the distinct quote dates are checked (a handful per file).
    """
    from pipelines import calendar as cal

    firsts = frame.filter(pl.col("quote_date").is_not_null()).group_by("quote_date").agg(pl.col("line").min())
    for d, line in firsts.sort("line").iter_rows():
        try:
            ok = cal.is_session(d)
        except cal.CalendarRangeError as exc:
            raise src.error("outside_calendar_range", line=int(line), column=column, detail=str(exc)) from None
        if not ok:
            raise src.error("not_a_session", line=int(line), column=column, detail=f"{d} is not an NYSE session")


def session_close(frame: pl.DataFrame) -> pl.Expr:
    """Each row's session close (aware, America/New_York) from its ``quote_date``: the
    snapshot time of an end-of-day quote. Null for a date that is not a session
    (:func:`check_sessions` reports those)."""
    from pipelines import calendar as cal

    def close(d):
        try:
            return cal.close_time(d)
        except ValueError:
            return None

    closes = {d: close(d) for d in frame["quote_date"].drop_nulls().unique().to_list()}  # a few dates per file
    return pl.col("quote_date").replace_strict(
        closes, default=None, return_dtype=pl.Datetime("us", "America/New_York")
    )
