"""Data-quality rules: row rules (-> quarantine with a named reason) and file scores.

Row rules are polars expressions evaluated on a whole frame at once; a row gets the
*first* reason that applies, in the order the rules are listed below, so that the
reason is deterministic. Rows are never dropped silently: every row read is either
stored or quarantined (``rows_read == stored + quarantined``).

Option rows (:func:`option_reason`)
    ``unparseable_value``       a non-empty field that is not a number/date
    ``missing_value``           a key field (dates, strike, type, bid, ask) is empty
    ``missing_underlying_price`` no positive underlying price for the row
    ``inconsistent_contract``   option symbol disagrees with the expiration/strike/side columns
    ``nonpositive_strike``      strike <= 0
    ``negative_price``          bid, ask or last < 0
    ``negative_count``          volume, open interest or a size < 0
    ``bid_gt_ask``              bid > ask (includes a bid with a zero ask)
    ``expiration_before_quote_date``
    then the plausibility rules of :mod:`pipelines.validity` (one definition, shared with the
    contracts): ``impossible_vendor_iv`` (outside [0, ``VENDOR_IV_MAX``]), ``impossible_vendor_greek``,
    ``underlying_out_of_range``, ``price_above_bound``, ``quote_date_after_snapshot``
    ``duplicate_contract``      same (quote_date, root, expiration, strike, type) seen again;
                                see :func:`resolve_duplicates` for which row wins.

Daily rows (:func:`daily_reason`)
    ``unparseable_value``, ``missing_value``, ``outside_calendar_range`` (before 1990 or after
    2035: the shipped NYSE calendar cannot say whether it was a session),
    ``not_a_session`` (e.g. Cboe publishes VIX on some NYSE holidays), ``nonpositive_price``,
    ``ohlc_inconsistent`` (high below open/close/low or low above them), ``duplicate_date``.

File score for options (:func:`option_quality`)
    ``two_sided_share``: among near-the-money rows (|K/S - 1| <= :data:`NTM_MONEYNESS`, expiring
    within :data:`NTM_MAX_DAYS` calendar days but after the quote date), the share with
    0 < bid <= ask; scored per quote date, the file's value is the worst day's. A normal Cboe
    end-of-day chain is ~0.95-1.0; the zeroed-bids fixture is ~0.0. Below
    :data:`STALE_TWO_SIDED_MIN` (0.80) the snapshot is flagged ``stale_snapshot`` and not accepted
    as an end-of-day chain (``accepted_as_eod`` = 0.0).
    ``score`` = two_sided_share x (1 - quarantine_share).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import polars as pl

from pipelines.calendar import FIRST_SESSION, LAST_CALENDAR_DAY, all_sessions
from pipelines import validity
from pipelines.contracts import may_repeat
from pipelines.schemas import QUARANTINE

#: Near the money = strike within 5 % of the underlying ...
NTM_MONEYNESS = 0.05
#: ... on expirations at most this many calendar days out.
NTM_MAX_DAYS = 45
#: Minimum share of two-sided near-the-money quotes for a usable snapshot.
STALE_TWO_SIDED_MIN = 0.80
#: Above this share of quarantined rows a file is flagged.
HIGH_QUARANTINE_SHARE = 0.20

OPTION_KEY = ["quote_date", "root", "expiration", "strike", "option_type"]
#: The quarantine table's columns and types, from its contract in ``pipelines/schemas.py``.
QUARANTINE_COLUMNS = {name: col.dtype.type for name, col in QUARANTINE.columns.items()}


def chain(rules: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """First reason whose condition holds (null conditions count as false)."""
    expr = pl.lit(None, pl.String)
    for reason, cond in reversed(rules):
        expr = pl.when(cond.fill_null(False)).then(pl.lit(reason)).otherwise(expr)
    return expr


def rejected(rules: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """True where any rule holds: the cheap test that every row takes; the named reason
    (:func:`chain`) is then worked out for the rejected rows only."""
    return pl.any_horizontal([cond.fill_null(False) for _, cond in rules])


@functools.cache  # expressions are immutable: built once, not per file
def option_reason(has_inconsistent: bool = False) -> pl.Expr:
    """Quarantine reason for each canonical option row (null = row is fine); see :func:`option_rules`."""
    return chain(option_rules(has_inconsistent))


@functools.cache
def option_rules(has_inconsistent: bool = False) -> list[tuple[str, pl.Expr]]:
    """The option row rules, in order: (reason, condition that rejects the row).

    Expects the canonical SPX_OPTIONS columns plus ``_bad`` (name of the first field
    that failed to parse, or null) and, when ``has_inconsistent``, a boolean
    ``_inconsistent``.
    """
    c = pl.col
    rules: list[tuple[str, pl.Expr]] = [
        ("unparseable_value", c("_bad").is_not_null()),
        ("missing_value", pl.any_horizontal(
            [c(k).is_null() for k in ["quote_date", "expiration", "strike", "option_type", "root", "bid", "ask"]]
        )),
        ("missing_underlying_price", c("underlying_price").is_null() | (c("underlying_price") <= 0)),
    ]
    if has_inconsistent:
        rules.append(("inconsistent_contract", c("_inconsistent")))
    rules += [
        ("nonpositive_strike", c("strike") <= 0),
        ("negative_price", (c("bid") < 0) | (c("ask") < 0) | (c("last") < 0)),
        ("negative_count", pl.any_horizontal(
            [c(k) < 0 for k in ["volume", "open_interest", "bid_size", "ask_size"]]
        )),
        ("bid_gt_ask", c("bid") > c("ask")),
        ("expiration_before_quote_date", c("expiration") < c("quote_date")),
        *validity.rejections("spx_options"),
    ]
    return rules


def daily_reason(date_col: str, prices: list[str], *, ohlc: tuple[str, str, str, str] | None,
                 required: list[str], session_check: bool = True) -> pl.Expr:
    """Quarantine reason for each daily row (null = fine).

    Parameters
    ----------
    date_col : column holding the row's date (pl.Date).
    prices : price columns that must be > 0 when present.
    ohlc : (open, high, low, close) column names for the consistency rule, or None.
    required : columns that must not be null.
    session_check : whether the date must be an NYSE session.
    """
    c = pl.col
    d = c(date_col)
    rules: list[tuple[str, pl.Expr]] = [
        ("unparseable_value", c("_bad").is_not_null()),
        ("missing_value", pl.any_horizontal([c(k).is_null() for k in [date_col, *required]])),
    ]
    if session_check:
        rules += [
            ("outside_calendar_range", (d < FIRST_SESSION) | (d > LAST_CALENDAR_DAY)),
            ("not_a_session", ~d.is_in(_sessions().implode())),
        ]
    if prices:
        rules.append(("nonpositive_price", pl.any_horizontal([c(p) <= 0 for p in prices])))
    if ohlc is not None:
        o, h, lo, cl = (c(x) for x in ohlc)
        rules.append(("ohlc_inconsistent", (h < pl.max_horizontal(o, cl, lo)) | (lo > pl.min_horizontal(o, cl, h))))
    return chain(rules)


def _sessions() -> pl.Series:
    return pl.Series("s", all_sessions(), dtype=pl.Date)


def split_quarantine(
    frame: pl.DataFrame, reason: pl.Expr, *, table: str, source: str, date_col: str | None,
    raw_col: str = "_raw",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split ``frame`` into (rows without a reason, QUARANTINE rows).

    ``raw_col`` is a struct column of the row's original string fields; it is JSON
    encoded for the quarantined rows only.
    """
    good, bad, _ = split_quarantine_capped(frame, reason, table=table, source=source, date_col=date_col,
                                           raw_col=raw_col, max_rows=None)
    return good, bad


#: At most this many quarantined rows of one file get their original text encoded and
#: recorded; the rest are counted by reason (a flood of bad rows costs no JSON).
QUARANTINE_RECORD_MAX = 100_000


def split_quarantine_capped(
    frame: pl.DataFrame, reason: pl.Expr, *, table: str, source: str, date_col: str | None,
    raw_col: str = "_raw", max_rows: int | None = QUARANTINE_RECORD_MAX,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """:func:`split_quarantine` keeping the first ``max_rows`` quarantined rows (by position);
    returns (good, quarantine, counts by reason of the rows beyond the cap)."""
    frame = frame.with_columns(reason.alias("_reason"))
    bad = frame.filter(pl.col("_reason").is_not_null())
    good = frame.filter(pl.col("_reason").is_null()) if bad.height else frame
    good = good.drop("_reason")
    overflow: dict[str, int] = {}
    if max_rows is not None and bad.height > max_rows:
        overflow = dict(bad.slice(max_rows).group_by("_reason").len().iter_rows())
        bad = bad.head(max_rows)
    return good, quarantine_rows(bad, reason_col="_reason", table=table, source=source, date_col=date_col,
                                 raw_col=raw_col), overflow


def quarantine_rows(bad: pl.DataFrame, *, reason_col: str, table: str, source: str,
                    date_col: str | None, raw_col: str | pl.Expr = "_raw") -> pl.DataFrame:
    """QUARANTINE-shaped rows for ``bad`` (reason from ``reason_col``); ``raw_col`` is the
    struct column of the original fields, or an expression building it (eager or lazy)."""
    qd = pl.col(date_col).cast(pl.Date) if date_col else pl.lit(None, pl.Date)
    raw = pl.col(raw_col) if isinstance(raw_col, str) else raw_col
    return bad.select(
        pl.lit(table, pl.String).alias("table_name"),
        qd.alias("quote_date"),
        pl.lit(source, pl.String).alias("source"),
        pl.col("line").cast(pl.Int64),
        pl.col(reason_col).cast(pl.String).alias("reason"),
        raw.struct.json_encode().alias("raw"),
    )


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_COLUMNS)


def resolve_duplicates(
    frame: pl.DataFrame, key: list[str], prefer: list[pl.Expr], *, table: str, source: str,
    date_col: str | None, reason: str = "duplicate_contract",
    raw: Callable[[pl.Series], pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keep one row per ``key``; the others go to quarantine with ``reason``.

    The winner is the row that sorts first by ``prefer`` (each expression sorted
    descending, e.g. snapshot time, two-sidedness, completeness) and then by the
    lowest line number, so the result does not depend on the input order.

    The losers' original fields come from ``frame``'s ``_raw`` column or, when
    ``frame`` does not carry it, from ``raw``: given the losers' lines, their ``line``,
    ``option_type`` and ``_raw`` (called only when there are duplicates).
    """
    if frame.is_empty():
        return frame, empty_quarantine()
    if not may_repeat(frame, key):  # the common case: nothing to resolve, no sort
        return frame, empty_quarantine()
    # A 64-bit hash of the key finds the candidates cheaply (collisions only add
    # candidates); the exact comparison then runs on those few rows.
    candidate = pl.struct(key).hash().is_duplicated()
    frame = frame.with_columns(candidate.alias("_dup"))
    clean, contested = frame.filter(~pl.col("_dup")).drop("_dup"), frame.filter(pl.col("_dup")).drop("_dup")
    exact = pl.struct(key).is_duplicated()
    clean = pl.concat([clean, contested.filter(~exact)], how="vertical")
    contested = contested.filter(exact)
    names = [f"_p{i}" for i in range(len(prefer))]
    ranked = contested.with_columns([e.alias(n) for e, n in zip(prefer, names)]).sort(
        [*names, "line"], descending=[True] * len(names) + [False], nulls_last=True
    )
    first = pl.struct(key).is_first_distinct()
    keep = pl.concat([clean, ranked.filter(first).drop(names)], how="vertical")
    lose = ranked.filter(~first).drop(names).with_columns(pl.lit(reason).alias("_reason"))
    if "_raw" not in lose.columns and raw is not None:
        lose = lose.join(raw(lose["line"]), on=["line", "option_type"], how="left")
    return keep, quarantine_rows(lose, reason_col="_reason", table=table, source=source, date_col=date_col)


@functools.cache
def option_preference() -> list[pl.Expr]:
    """Duplicate resolution for option rows: most recent, then two-sided, then most complete."""
    c = pl.col
    completeness = pl.sum_horizontal(
        [c(k).is_not_null().cast(pl.Int32) for k in
         ["last", "volume", "open_interest", "bid_size", "ask_size", "vendor_iv", "vendor_delta", "vendor_gamma"]]
    )
    return [c("snapshot_time"), ((c("bid") > 0) & (c("ask") > 0)).cast(pl.Int8), completeness]


def quality_by_day(options: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """Per quote date of stored option rows: ``two_sided`` (share of two-sided near-the-money
    quotes, null when the day has no near strikes), ``zero_bids``, ``rows``, ``zero_bid``
    (their ratio), ``n_ntm``."""
    c = pl.col
    near = ((c("strike") / c("underlying_price") - 1).abs() <= NTM_MONEYNESS) & (c("expiration") > c("quote_date"))
    # Expirations settling on the quote date are excluded: at the close they are settled, not quoted.
    ntm = near & ((c("expiration") - c("quote_date")).dt.total_days() <= NTM_MAX_DAYS)
    two_sided = (c("bid") > 0) & (c("ask") >= c("bid"))
    return options.group_by("quote_date").agg(  # one row per quote date: a handful per file
        # days whose only near strikes are further out fall back to those; days with none are not scored
        pl.coalesce(two_sided.filter(ntm).mean(), two_sided.filter(near).mean()).alias("two_sided"),
        (c("bid") == 0).sum().alias("zero_bids"),
        pl.len().alias("rows"),
        pl.when(ntm.sum() > 0).then(ntm.sum()).otherwise(near.sum()).alias("n_ntm"),
    ).with_columns((c("zero_bids") / c("rows")).alias("zero_bid")).sort("quote_date")


def option_quality(days: pl.DataFrame, rows_read: int, n_quarantined: int,
                   kinds: list[str]) -> tuple[dict[str, float], list[str]]:
    """File-level quality of an options file (see module docstring for the definitions),
    from :func:`quality_by_day` of its stored rows.

    Returns the ``quality`` dict and the ``flags`` list of :class:`ReadResult`.
    Multi-day files are scored per quote date; the file's two-sided share is the
    worst day's, and every stale day is flagged.
    """
    q_share = n_quarantined / rows_read if rows_read else 1.0
    flags: list[str] = []
    stored = int(days["rows"].sum())
    scored = days["two_sided"].drop_nulls()  # days with no near strikes are not scored
    two_sided_share = float(scored.min()) if scored.len() else 0.0
    zero_bid_share = days["zero_bids"].sum() / stored if stored else 1.0
    stale_days = days.clear()
    if two_sided_share < STALE_TWO_SIDED_MIN:  # the worst day is stale: list every stale day
        stale_days = days.filter(pl.col("two_sided") < STALE_TWO_SIDED_MIN)
    for row in stale_days.iter_rows(named=True):
        # one flag per stale day: a handful of days at most, not a loop over options
        flags.append(
            f"stale_snapshot: {row['quote_date']} {row['zero_bid']:.0%} zero bids, "
            f"{row['two_sided']:.0%} of {row['n_ntm']} near-the-money quotes two-sided "
            f"(threshold {STALE_TWO_SIDED_MIN:.0%})"
        )
    if not stored:
        flags.append("no_rows_stored")
    if q_share > HIGH_QUARANTINE_SHARE:
        flags.append(f"high_quarantine_share: {q_share:.0%} of rows quarantined")
    stale = any(f.startswith("stale_snapshot") for f in flags) or not stored
    quality = {
        "score": two_sided_share * (1.0 - q_share),
        "two_sided_share": two_sided_share,
        "zero_bid_share": zero_bid_share,
        "quarantine_share": q_share,
        "accepted_as_eod": 1.0 if (set(kinds) == {"eod"} and not stale) else 0.0,
    }
    return quality, flags


def table_quality(stored: int, rows_read: int) -> tuple[dict[str, float], list[str]]:
    """Quality of a non-option file: the share of rows that passed the row rules."""
    q_share = (rows_read - stored) / rows_read if rows_read else 1.0
    flags = [f"high_quarantine_share: {q_share:.0%} of rows quarantined"] if q_share > HIGH_QUARANTINE_SHARE else []
    if stored == 0:
        flags.append("no_rows_stored")
    return {"score": 1.0 - q_share, "quarantine_share": q_share}, flags


