"""Row-validity rules and their reason names: the one definition.

The vendor readers (:mod:`pipelines.readers.quality`) quarantine rows by these rules
with the file's original text; the pandera contracts (:mod:`pipelines.schemas`) carry
the same rules as named checks, so a row from any source (a simulator, a reader, a
future writer) that breaks one is quarantined under the same name at the store
boundary; the data dictionary (``warehouse/README.md``, "Plausibility bounds") lists
the same numbers and ``tests/test_validity.py`` checks that it does.

Units: prices, strikes and index levels in index points; vendor IV as an annualized
decimal (0.20 = 20 %); VX settlements in VIX points (after CFE's pre-2007 ×10 quotes
are divided by 10).

Each rule is ``(reason, ok)``: ``ok`` is a polars expression over the table's canonical
columns that is true (or null: the value is missing, another rule's business) for a
plausible row.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from features.calendar import new_york_date

# ---------------------------------------------------------------- bounds (documented)
#: Vendor implied volatility above this (1000 % annualized) is a data error, not a deep-wing quote.
VENDOR_IV_MAX = 10.0
#: Physical range of the underlying's price per option root, index points (SPX has never
#: traded below 60 since options were listed on it; XSP is SPX/10; SPY ≈ SPX/10).
UNDERLYING_RANGE: dict[str, tuple[float, float]] = {
    "SPX": (50.0, 100_000.0), "SPXW": (50.0, 100_000.0), "XSP": (5.0, 10_000.0), "SPY": (5.0, 10_000.0),
}
#: An option's bid, ask or last may not exceed what the option can be worth: a call at most
#: the underlying, a put at most the strike, with this relative slack and ...
OPTION_PRICE_SLACK = 0.10
#: ... this absolute slack in index points (wide asks on deep in-the-money strikes).
OPTION_PRICE_ABS_SLACK = 5.0
#: S&P 500 daily open/high/low/close range, index points (the index was ~4.4 in 1932).
SPX_LEVEL_RANGE = (1.0, 100_000.0)
#: Range of each Cboe volatility index, index points (VIX's record close is 82.69; VVIX
#: peaked at 212 in August 2015 and has not closed below 59.74 from 2007, its first full
#: year, to 2026: the six 2006 prints of 15.7-37.9 in the stored Cboe history are bad
#: prints (its PROVENANCE.md flags the first) that priced one-month VIX calls at 1e-26; the
#: floor of 40 also leaves room for the simulator, whose VVIX reaches 45.6 over 26 years
#: and four seeds; SKEW lives around 100-170 by construction).
INDEX_LEVEL_RANGE: dict[str, tuple[float, float]] = {
    "VIX": (1.0, 250.0), "VIX9D": (1.0, 250.0), "VIX3M": (1.0, 250.0), "VIX6M": (1.0, 250.0),
    "VVIX": (40.0, 500.0), "SKEW": (50.0, 300.0),
}
#: VX futures settlement range in VIX points, after the ×10 rescaling of quotes before
#: 2007-03-26: a settle of 1.255 (a ×10 quote divided once too often) or 166.2 after the
#: rescaling date (a ×10 quote not divided) falls outside; VX has never settled above 70.
VX_SETTLE_RANGE = (3.0, 100.0)
#: The last date a calendar (FOMC/CPI/PPI) row may carry: the shipped NYSE calendar's end.
CALENDAR_HORIZON = date(2035, 12, 31)
#: A vendor calendar may list events at most this many days after the day it is ingested
#: (the Fed publishes its schedule about two years ahead).
VENDOR_CALENDAR_HORIZON_DAYS = 3 * 366

# ---------------------------------------------------------------- reason names
UNPARSEABLE_VALUE = "unparseable_value"
MISSING_VALUE = "missing_value"
IMPOSSIBLE_VENDOR_IV = "impossible_vendor_iv"
IMPOSSIBLE_VENDOR_GREEK = "impossible_vendor_greek"
UNDERLYING_OUT_OF_RANGE = "underlying_out_of_range"
PRICE_ABOVE_BOUND = "price_above_bound"
QUOTE_AFTER_SNAPSHOT = "quote_date_after_snapshot"
LEVEL_OUT_OF_RANGE = "level_out_of_range"
VX_SETTLE_OUT_OF_RANGE = "vx_settle_out_of_range"
BEYOND_CALENDAR_HORIZON = "beyond_calendar_horizon"
DATE_IN_FUTURE = "date_in_future"

c = pl.col


def _within(x: pl.Expr, lo: float, hi: float) -> pl.Expr:
    return (x >= lo) & (x <= hi)


def _level(x: pl.Expr, lo: float | pl.Expr, hi: float | pl.Expr) -> pl.Expr:
    """A price level in its physical range; a non-positive one is left to the positivity
    rule of its column (one reason per fault)."""
    return (x <= 0) | ((x >= lo) & (x <= hi))


def _by_key(key: pl.Expr, ranges: dict[str, tuple[float, float]], x: pl.Expr) -> pl.Expr:
    """``x`` within the range of its row's ``key`` (null for a key without a range). One
    membership test per distinct range (two for the option roots), not a lookup per bound:
    the two ``replace_strict`` lookups cost 2.5x as much on a day's chain."""
    keys_of: dict[tuple[float, float], list[str]] = {}
    for k, bounds in ranges.items():
        keys_of.setdefault(bounds, []).append(k)
    ok = None
    for (lo, hi), keys in keys_of.items():
        ok = (pl.when(key.is_in(keys)) if ok is None else ok.when(key.is_in(keys))).then(_level(x, lo, hi))
    return ok


def option_price_bound() -> pl.Expr:
    """The most an option's quote may show, index points: call ≤ S, put ≤ K, plus slack."""
    worth = pl.when(c("option_type") == "C").then(c("underlying_price")).otherwise(c("strike"))
    return worth * (1 + OPTION_PRICE_SLACK) + OPTION_PRICE_ABS_SLACK


def option_rules() -> list[tuple[str, pl.Expr]]:
    """Plausibility of an option row (canonical ``spx_options`` columns)."""
    bound = option_price_bound()
    return [
        (IMPOSSIBLE_VENDOR_IV, _within(c("vendor_iv"), 0.0, VENDOR_IV_MAX)),
        (IMPOSSIBLE_VENDOR_GREEK, _within(c("vendor_delta"), -1.0, 1.0)),
        (UNDERLYING_OUT_OF_RANGE, _by_key(c("root"), UNDERLYING_RANGE, c("underlying_price"))),
        (PRICE_ABOVE_BOUND, (c("bid") <= bound) & (c("ask") <= bound) & (c("last").is_null() | (c("last") <= bound))),
        # a quote describes the session of its snapshot, an earlier one, or (an overnight
        # snapshot from 20:15 ET) the next day's; never a later one
        (QUOTE_AFTER_SNAPSHOT, c("quote_date") <= new_york_date(c("snapshot_time")) + pl.duration(days=1)),
    ]


def spx_daily_rules() -> list[tuple[str, pl.Expr]]:
    lo, hi = SPX_LEVEL_RANGE
    return [(LEVEL_OUT_OF_RANGE, pl.all_horizontal([_level(c(k), lo, hi) for k in ["open", "high", "low", "close"]]))]


def vix_rules() -> list[tuple[str, pl.Expr]]:
    return [(LEVEL_OUT_OF_RANGE, _by_key(c("series"), INDEX_LEVEL_RANGE, c("value")))]


def vx_rules() -> list[tuple[str, pl.Expr]]:
    return [(VX_SETTLE_OUT_OF_RANGE, _level(c("settle"), *VX_SETTLE_RANGE))]


def event_rules() -> list[tuple[str, pl.Expr]]:
    return [(BEYOND_CALENDAR_HORIZON, c("date") <= CALENDAR_HORIZON)]


#: Table -> its plausibility rules (the contracts and the readers use these).
RULES = {
    "spx_options": option_rules,
    "spx_daily": spx_daily_rules,
    "vix_term_structure": vix_rules,
    "vx_futures": vx_rules,
    "events": event_rules,
}


def rejections(table: str) -> list[tuple[str, pl.Expr]]:
    """``(reason, condition that rejects the row)`` for a reader's quarantine chain."""
    return [(reason, ~ok.fill_null(True)) for reason, ok in RULES[table]()] if table in RULES else []


def not_after(date_col: str, last: date) -> tuple[str, pl.Expr]:
    """A vendor row dated after ``last`` (the day the file was read: no close is known before
    it happens) is rejected as :data:`DATE_IN_FUTURE`."""
    return DATE_IN_FUTURE, c(date_col) > last
