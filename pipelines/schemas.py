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

NY_TZ = "America/New_York"
SNAPSHOT_KINDS = ["eod", "overnight", "intraday"]
ROOTS = ["SPX", "SPXW", "XSP", "SPY"]


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
        "vendor_iv": pa.Column(pl.Float64, pa.Check.in_range(0, 20), nullable=True),
        "vendor_delta": pa.Column(pl.Float64, pa.Check.in_range(-1, 1), nullable=True),
        "vendor_gamma": pa.Column(pl.Float64, nullable=True),
        "source": pa.Column(pl.String),
    },
    checks=[
        pa.Check(lambda d: d.lazyframe.select(pl.col("bid") <= pl.col("ask")), name="bid_le_ask"),
        pa.Check(
            lambda d: d.lazyframe.select(pl.col("expiration") >= pl.col("quote_date")),
            name="expiration_not_before_quote_date",
        ),
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
        )
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
        )
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


def empty_frame(schema: pa.DataFrameSchema) -> pl.DataFrame:
    """An empty frame with exactly the schema's columns and dtypes."""
    return pl.DataFrame(schema={name: col.dtype.type for name, col in schema.columns.items()})


def conform(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Select and cast ``frame`` to the schema's column order and dtypes (no validation)."""
    return frame.select(
        pl.col(name).cast(col.dtype.type) if name in frame.columns else pl.lit(None, col.dtype.type).alias(name)
        for name, col in schema.columns.items()
    )
