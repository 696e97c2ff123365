"""Canonical table contracts of the warehouse, as pandera schemas.

Every frame that is written to the warehouse passes one of these schemas first
(:func:`pipelines.warehouse.Warehouse.write_partition` enforces it), and the
blocking asset checks re-validate what was stored. Units and conventions:

* prices and strikes in index points; volatilities as annualized decimals
  (0.20 = 20 %), except index *levels* such as VIX, which are in points;
* ``quote_date`` / ``date`` is the NYSE session the row describes;
* ``snapshot_time`` is timezone-aware (America/New_York);
* ``source`` names where the row came from: ``simulator:seed=<n>`` or
  ``file:<name>#sha256=<first 12 hex>``. Simulated and vendor rows are never mixed
  up: the user views prefer vendor rows for a session when both exist.
"""

from __future__ import annotations

import polars as pl
import pandera.polars as pa

from features.option_features import MAX_IMPLIED_VOL
from pipelines import validity

NY_TZ = "America/New_York"
SNAPSHOT_KINDS = ["eod", "overnight", "intraday"]
ROOTS = ["SPX", "SPXW", "XSP", "SPY"]
#: The underlying each option root is written on (SPXW are the SPX weeklies; XSP is the mini-SPX index).
UNDERLYING = {"SPX": "SPX", "SPXW": "SPX", "XSP": "XSP", "SPY": "SPY"}


def _plausible(table: str) -> list[pa.Check]:
    """The plausibility rules of :mod:`pipelines.validity` for ``table``, as named row checks
    (one definition: the readers quarantine by the same expressions and names)."""
    return [pa.Check(lambda d, ok=ok: d.lazyframe.select(ok.fill_null(True)), name=reason)
            for reason, ok in validity.RULES[table]()]


def _nonneg(nullable: bool = True, **kw) -> pa.Column:
    return pa.Column(pl.Float64, pa.Check.ge(0), nullable=nullable, **kw)


SPX_OPTIONS = pa.DataFrameSchema(
    {
        "quote_date": pa.Column(pl.Date),
        "snapshot_time": pa.Column(pl.Datetime("us", NY_TZ)),
        "snapshot_kind": pa.Column(pl.String, pa.Check.isin(SNAPSHOT_KINDS)),
        "root": pa.Column(pl.String, pa.Check.isin(ROOTS)),
        "expiration": pa.Column(pl.Date),
        "settlement": pa.Column(pl.String, pa.Check.isin(["AM", "PM"])),
        "strike": pa.Column(pl.Float64, pa.Check.gt(0)),
        "option_type": pa.Column(pl.String, pa.Check.isin(["C", "P"])),
        "bid": _nonneg(nullable=False),
        "ask": _nonneg(nullable=False),
        "bid_size": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        "ask_size": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        "last": _nonneg(),
        "volume": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        "open_interest": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        "underlying_price": pa.Column(pl.Float64, pa.Check.gt(0)),
        "vendor_iv": pa.Column(pl.Float64, nullable=True),  # bounds: validity.option_rules
        "vendor_delta": pa.Column(pl.Float64, nullable=True),
        "vendor_gamma": pa.Column(pl.Float64, nullable=True),
        "source": pa.Column(pl.String),
    },
    checks=[
        pa.Check(lambda d: d.lazyframe.select(pl.col("bid") <= pl.col("ask")), name="bid_le_ask"),
        pa.Check(
            lambda d: d.lazyframe.select(pl.col("expiration") >= pl.col("quote_date")),
            name="expiration_not_before_quote_date",
        ),
        *_plausible("spx_options"),
    ],
    unique=["quote_date", "root", "expiration", "strike", "option_type"],
    strict=True,
    ordered=False,
    name="spx_options",
)

SPX_DAILY = pa.DataFrameSchema(
    {
        "date": pa.Column(pl.Date, unique=True),
        "open": pa.Column(pl.Float64, pa.Check.gt(0)),
        "high": pa.Column(pl.Float64, pa.Check.gt(0)),
        "low": pa.Column(pl.Float64, pa.Check.gt(0)),
        "close": pa.Column(pl.Float64, pa.Check.gt(0)),
        "volume": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        "source": pa.Column(pl.String),
    },
    checks=[
        pa.Check(
            lambda d: d.lazyframe.select(
                (pl.col("high") >= pl.max_horizontal("open", "close", "low"))
                & (pl.col("low") <= pl.min_horizontal("open", "close", "high"))
            ),
            name="ohlc_consistent",
        ),
        *_plausible("spx_daily"),
    ],
    strict=True,
    name="spx_daily",
)

VIX_SERIES = ["VIX9D", "VIX", "VIX3M", "VIX6M", "VVIX", "SKEW"]

VIX_TERM_STRUCTURE = pa.DataFrameSchema(
    {
        "date": pa.Column(pl.Date),
        "series": pa.Column(pl.String, pa.Check.isin(VIX_SERIES)),
        "value": pa.Column(pl.Float64, pa.Check.gt(0)),
        "source": pa.Column(pl.String),
    },
    checks=_plausible("vix_term_structure"),
    unique=["date", "series"],
    strict=True,
    name="vix_term_structure",
)

VX_FUTURES = pa.DataFrameSchema(
    {
        "date": pa.Column(pl.Date),
        "contract": pa.Column(pl.String),  # e.g. "VX 2024-01-17" (expiration date)
        "expiration": pa.Column(pl.Date),
        "settle": pa.Column(pl.Float64, pa.Check.gt(0)),
        "volume": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        "open_interest": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        "source": pa.Column(pl.String),
    },
    checks=[
        pa.Check(
            lambda d: d.lazyframe.select(pl.col("expiration") >= pl.col("date")),
            name="expiration_not_before_date",
        ),
        *_plausible("vx_futures"),
    ],
    unique=["date", "expiration"],
    strict=True,
    name="vx_futures",
)

BREADTH_DAILY = pa.DataFrameSchema(
    {
        "date": pa.Column(pl.Date, unique=True),
        "advancing": pa.Column(pl.Int64, pa.Check.ge(0)),
        "declining": pa.Column(pl.Int64, pa.Check.ge(0)),
        "unchanged": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        "source": pa.Column(pl.String),
    },
    strict=True,
    name="breadth_daily",
)

EVENT_KINDS = ["FOMC", "CPI", "PPI"]

EVENTS = pa.DataFrameSchema(
    {
        "date": pa.Column(pl.Date),
        "event": pa.Column(pl.String, pa.Check.isin(EVENT_KINDS)),
        "source": pa.Column(pl.String),  # "historical" (checked-in) or "rule:<name>"
    },
    checks=_plausible("events"),
    unique=["date", "event"],
    strict=True,
    name="events",
)

QUARANTINE = pa.DataFrameSchema(
    {
        "table_name": pa.Column(pl.String),
        "quote_date": pa.Column(pl.Date, nullable=True),
        "source": pa.Column(pl.String),
        "line": pa.Column(pl.Int64, nullable=True),  # 1-based line in the source file
        "reason": pa.Column(pl.String),
        "raw": pa.Column(pl.String),  # the offending row, as JSON
    },
    strict=True,
    name="quarantine",
)

SCHEMAS: dict[str, pa.DataFrameSchema] = {
    s.name: s
    for s in [SPX_OPTIONS, SPX_DAILY, VIX_TERM_STRUCTURE, VX_FUTURES, BREADTH_DAILY, EVENTS, QUARANTINE]
}


def unique_keys(schema: pa.DataFrameSchema) -> list[str]:
    """The columns that identify a row: the schema's ``unique`` set, or its unique column."""
    if schema.unique:
        return list(schema.unique)
    return [name for name, col in schema.columns.items() if col.unique]


def empty_frame(schema: pa.DataFrameSchema) -> pl.DataFrame:
    """An empty frame with exactly the schema's columns and dtypes."""
    return pl.DataFrame(schema={name: col.dtype.type for name, col in schema.columns.items()})


def conform(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Select and cast ``frame`` to the schema's column order and dtypes (no validation)."""
    if list(frame.schema.items()) == [(name, col.dtype.type) for name, col in schema.columns.items()]:
        return frame  # canonical already: no query
    return frame.select(conform_exprs(schema, frame.columns))


def conform_exprs(schema: pa.DataFrameSchema, available: list[str]) -> list[pl.Expr]:
    """The schema's columns, in order, cast from a frame with columns ``available`` (missing ones null)."""
    return [
        pl.col(name).cast(col.dtype.type) if name in available else pl.lit(None, col.dtype.type).alias(name)
        for name, col in schema.columns.items()
    ]


# --------------------------------------------------------------------------- derived tables
# Contracts of the computed tables: their keys, types and the invariants downstream code
# relies on. They are open (``strict=False``): the modules in ``features/`` document the
# full column lists, and a new column is not a contract break.
TS = pl.Datetime("us", NY_TZ)


def _derived(name: str, columns: dict[str, pa.Column], unique: list[str]) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(columns, unique=unique, strict=False, name=name)


def _in_range_or_nan(lo: float, hi: float) -> pa.Check:
    """``lo <= x <= hi``, where NaN is allowed: it means "no value fits" (e.g. no implied vol)."""
    return pa.Check(
        lambda d: d.lazyframe.select(pl.col(d.key).is_nan() | pl.col(d.key).is_between(lo, hi)),
        name=f"in_range_or_nan({lo}, {hi})",
    )


def _vol(nullable: bool = True) -> pa.Column:
    return pa.Column(pl.Float64, _in_range_or_nan(0, MAX_IMPLIED_VOL), nullable=nullable)


DERIVED_SCHEMAS = [
    _derived(
        "option_features",
        {
            "quote_date": pa.Column(pl.Date),
            "root": pa.Column(pl.String, pa.Check.isin(ROOTS)),
            "expiration": pa.Column(pl.Date),
            "strike": pa.Column(pl.Float64, pa.Check.gt(0)),
            "option_type": pa.Column(pl.String, pa.Check.isin(["C", "P"])),
            "mid": pa.Column(pl.Float64, pa.Check.ge(0), nullable=True),
            "years_to_expiry": pa.Column(pl.Float64, nullable=True),
            "forward": pa.Column(pl.Float64, pa.Check.gt(0), nullable=True),
            "discount_factor": pa.Column(pl.Float64, pa.Check.in_range(0, 1.5), nullable=True),
            "iv": _vol(),
            # forward delta is +-D N(.), and the parity-implied discount factor D can exceed 1
            # when the implied rate is negative, so |delta| may pass 1 by a hair
            "delta": pa.Column(pl.Float64, _in_range_or_nan(-1.5, 1.5), nullable=True),
            "gamma": pa.Column(pl.Float64, _in_range_or_nan(0, float("inf")), nullable=True),
            "vega": pa.Column(pl.Float64, _in_range_or_nan(0, float("inf")), nullable=True),
        },
        ["quote_date", "root", "expiration", "strike", "option_type"],
    ),
    _derived(
        "chain_features",
        {
            "quote_date": pa.Column(pl.Date),
            "available_at": pa.Column(TS),
            "snapshot_kind": pa.Column(pl.String, pa.Check.isin(SNAPSHOT_KINDS)),
            **{f"atm_iv_{d}d": _vol() for d in (9, 30, 60, 90, 182)},
            **{f"vix_{d}d": pa.Column(pl.Float64, pa.Check.gt(0), nullable=True) for d in (9, 30, 93, 183)},
        },
        ["quote_date"],
    ),
    _derived(
        "market_features",
        {
            "date": pa.Column(pl.Date),
            "available_at": pa.Column(TS),
            "close": pa.Column(pl.Float64, pa.Check.gt(0)),
            "rsi_14": pa.Column(pl.Float64, pa.Check.in_range(0, 100), nullable=True),
            "in_event_window": pa.Column(pl.Boolean, nullable=True),
        },
        ["date", "available_at"],
    ),
    _derived(
        "regimes",
        {
            "date": pa.Column(pl.Date),
            "available_at": pa.Column(TS),
            "vol_regime": pa.Column(pl.String, pa.Check.isin(["calm", "normal", "elevated", "stressed", "unknown"])),
            "term_regime": pa.Column(pl.String, pa.Check.isin(["contango", "flat", "backwardation", "unknown"])),
            "regime": pa.Column(pl.String),
            "regime_changed": pa.Column(pl.Boolean),
        },
        ["date", "available_at"],
    ),
    _derived(
        "feature_registry",
        {
            "name": pa.Column(pl.String),
            "table_name": pa.Column(pl.String),
            "description": pa.Column(pl.String),
            "units": pa.Column(pl.String),
            "code_version": pa.Column(pl.String),
        },
        ["table_name", "name"],
    ),
    _derived(
        "condor_decisions",
        {"date": pa.Column(pl.Date), "action": pa.Column(pl.String, pa.Check.isin(["enter", "skip"])), "reason": pa.Column(pl.String)},
        ["date"],
    ),
    _derived(
        "condor_positions",
        {"position_id": pa.Column(pl.Int64), "date": pa.Column(pl.Date), "pnl": pa.Column(pl.Float64)},
        ["position_id", "date"],
    ),
    _derived(
        "condor_trades",
        {"position_id": pa.Column(pl.Int64), "strategy": pa.Column(pl.String), "entry_date": pa.Column(pl.Date)},
        ["strategy", "position_id"],
    ),
    _derived(
        "hedge_layers",
        {"date": pa.Column(pl.Date), "layer": pa.Column(pl.String), "on": pa.Column(pl.Boolean), "why": pa.Column(pl.String)},
        ["date", "layer"],
    ),
    _derived(
        "backtest_daily",
        {
            "strategy": pa.Column(pl.String),
            "date": pa.Column(pl.Date),
            "pnl": pa.Column(pl.Float64),
            "equity": pa.Column(pl.Float64),
            "drawdown": pa.Column(pl.Float64, pa.Check.le(0)),
        },
        ["strategy", "date"],
    ),
    _derived(
        "backtest_summary",
        {"strategy": pa.Column(pl.String), "final_equity": pa.Column(pl.Float64), "parameters": pa.Column(pl.String)},
        ["strategy"],
    ),
]

# The AMM comparison (features/amm.py): a constant-product pool beside the condor book.
DERIVED_SCHEMAS += [
    _derived(
        "amm_comparison",
        {
            "date": pa.Column(pl.Date),
            "price": pa.Column(pl.Float64, pa.Check.gt(0)),
            "pool_value": pa.Column(pl.Float64, pa.Check.gt(0)),
            "hold_value": pa.Column(pl.Float64, pa.Check.gt(0)),
            # 2 sqrt(r) / (1 + r) - 1 lies in (-1, 0]; a rounding hair above 0 at r = 1
            "impermanent_loss": pa.Column(pl.Float64, pa.Check.in_range(-1.0, 1e-12)),
            "lvr": pa.Column(pl.Float64, pa.Check.ge(0)),
            "breakeven_fee": pa.Column(pl.Float64, pa.Check.ge(0)),
            "condor_pnl": pa.Column(pl.Float64),
            "condor_gamma_pnl": pa.Column(pl.Float64),
            "condor_theta_pnl": pa.Column(pl.Float64),
            "condor_breakeven_vol": pa.Column(pl.Float64, pa.Check.ge(0), nullable=True),
        },
        ["date"],
    ),
    _derived(
        "amm_summary",
        # value is null where a metric is undefined on the sample (e.g. no condor was held)
        {"metric": pa.Column(pl.String), "value": pa.Column(pl.Float64, nullable=True), "units": pa.Column(pl.String),
         "description": pa.Column(pl.String), "start_date": pa.Column(pl.Date)},
        ["metric"],
    ),
]

SCHEMAS.update({s.name: s for s in DERIVED_SCHEMAS})


# --------------------------------------------------------------------------- reference series
# Tables of the real-path market (issue #10): rates, official settlements, published indices.
# Appended as raw (vendor) tables: strict, with their own keys.

TREASURY_BILL_RATES = pa.DataFrameSchema(
    {
        "date": pa.Column(pl.Date),
        "series": pa.Column(pl.String, pa.Check.isin(["DTB3"])),
        # as published: bank-discount basis, decimal (4.61 % -> 0.0461); negative in 2015 and 2020
        "discount_rate": pa.Column(pl.Float64, pa.Check.in_range(-0.05, 0.25)),
        # the same bill as a simple ACT/365 yield (bond equivalent), the rate cash accrues at
        "bond_equivalent_yield": pa.Column(pl.Float64, pa.Check.in_range(-0.05, 0.30)),
        "source": pa.Column(pl.String),
    },
    unique=["date", "series"],
    strict=True,
    name="treasury_bill_rates",
)

SPX_SETTLEMENT_VALUES = pa.DataFrameSchema(
    {
        "soq_date": pa.Column(pl.Date),  # session whose opening trades set the value
        "expiry_month": pa.Column(pl.String, pa.Check.str_matches(r"^\d{4}-\d{2}$")),
        "set_value": pa.Column(pl.Float64, pa.Check.gt(0)),  # index points
        "date_source": pa.Column(pl.String, pa.Check.isin(["cboe", "derived"])),
        "origin": pa.Column(pl.String),  # where the value was taken from (the file's `source`)
        "note": pa.Column(pl.String, nullable=True),
        "source": pa.Column(pl.String),
    },
    unique=["soq_date"],
    strict=True,
    name="spx_settlement_values",
)

STRATEGY_INDEX_NAMES = ["CNDR", "BFLY", "PUT", "BXM", "BXMD", "PPUT", "CLL", "CMBO", "VXTH", "WPUT", "BXY", "PUTY"]

STRATEGY_INDICES = pa.DataFrameSchema(
    {
        "date": pa.Column(pl.Date),
        "index_name": pa.Column(pl.String, pa.Check.isin(STRATEGY_INDEX_NAMES)),
        "value": pa.Column(pl.Float64, pa.Check.gt(0)),  # index level, points
        "source": pa.Column(pl.String),
    },
    unique=["date", "index_name"],
    strict=True,
    name="strategy_indices",
)

SCHEMAS.update({s.name: s for s in [TREASURY_BILL_RATES, SPX_SETTLEMENT_VALUES, STRATEGY_INDICES]})
