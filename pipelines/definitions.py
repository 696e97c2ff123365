"""The volsignals code location: read this file to see the whole pipeline.

Stages (asset groups), each a module of thin assets over pure code in ``features/``:

1. ``market_data``      raw tables: SPX daily, VIX family, VX futures, breadth, events, option chain
2. ``option_analytics`` per-contract IV/greeks/extrinsic value, per-day chain features and VIX replication
3. ``market_features``  RSI/MACD, breadth, realized-vol cones, term structure, events, regimes, registry
4. ``decisions``        iron-condor decisions, positions, the layered VIX hedge, the backtest

Storage: Parquet partitions under ``$VOLSIGNALS_WAREHOUSE`` (default ``./warehouse``) with
DuckDB views in ``warehouse/volsignals.duckdb`` (see ``pipelines/warehouse.py`` for why).
"""

from __future__ import annotations

import os
import warnings

import dagster as dg

# Single-run/multi-run backfill policies are what we want (one run per batch of sessions);
# Dagster still labels the parameter beta.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from pipelines.assets import market_data
from pipelines.partitions import trading_days
from pipelines.resources import MarketSimulatorResource, WarehouseResource
from pipelines.schedules import after_close_schedule

ASSET_MODULES = [market_data]

all_assets = dg.load_assets_from_modules(ASSET_MODULES)

#: Every daily-partitioned asset, materialized per session by the schedule.
daily_pipeline = dg.define_asset_job(
    "daily_pipeline",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets("events"),
    partitions_def=trading_days,
    description="Every daily-partitioned asset, for the sessions of the run.",
)

defs = dg.Definitions(
    assets=all_assets,
    jobs=[daily_pipeline],
    schedules=[after_close_schedule(daily_pipeline)],
    resources={
        "warehouse": WarehouseResource(),
        # The seed and chain size can be set per environment (tests use "small").
        "simulator": MarketSimulatorResource(
            seed=int(os.environ.get("VOLSIGNALS_SEED", "7")),
            chain_size=os.environ.get("VOLSIGNALS_CHAIN_SIZE", "default"),
        ),
    },
)
