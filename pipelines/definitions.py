"""The volsignals code location: read this file to see the whole pipeline.

Stages (asset groups), each a module of thin assets over pure code in ``features/``:

1. ``market_data``      raw tables: SPX daily, VIX family, VX futures, breadth, events, option chain
2. ``option_analytics`` per-contract IV/greeks/extrinsic value, per-day chain features and VIX replication
3. ``market_features``  RSI/MACD, breadth, realized-vol cones, term structure, events, regimes, registry
4. ``decisions``        iron-condor decisions, positions, the layered VIX hedge, the backtest

Storage: Parquet partitions under ``$VOLSIGNALS_WAREHOUSE`` (default ``./warehouse``) with
a DuckDB snapshot of native tables in ``warehouse/volsignals.duckdb`` (see ``pipelines/warehouse.py`` for why).
"""

from __future__ import annotations

import os
import warnings

import dagster as dg

# Single-run/multi-run backfill policies are what we want (one run per batch of sessions);
# Dagster still labels the parameter beta.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from pipelines.assets import amm_comparison, decisions, hedge_frontier, market_data, market_features, option_analytics
from pipelines.partitions import trading_days
from pipelines.resources import MarketSimulatorResource, StrategyResource, WarehouseResource
from pipelines.schedules import after_close_schedule, decisions_schedule, weekly_frontier_schedule
from pipelines.sensors import ingest_landing_job, landing_sensor
from pipelines.instance import run_monitor_sensor

ASSET_MODULES = [market_data, option_analytics, market_features, decisions, hedge_frontier, amm_comparison]

# Each asset links to the file and line that defines it ("source code" in the UI).
all_assets = dg.with_source_code_references(dg.load_assets_from_modules(ASSET_MODULES))

#: Whole-history assets: the event calendar upstream; registry, decisions and backtest
#: downstream (the after_us_close_decisions schedule and `volsignals run` refresh them;
#: no asset carries an automation condition, so none waits for a sensor that is off).
UNPARTITIONED = dg.AssetSelection.assets(
    "events", "feature_registry", *decisions.TABLES, hedge_frontier.TABLE, *amm_comparison.TABLES
)

#: Every daily-partitioned asset, materialized per session by the schedule.
daily_pipeline = dg.define_asset_job(
    "daily_pipeline",
    selection=dg.AssetSelection.all().materializable() - UNPARTITIONED,
    partitions_def=trading_days,
    description="Every daily-partitioned asset, for the sessions of the run.",
)

#: The whole-history assets downstream of the daily ones (run after the daily job).
whole_history = dg.define_asset_job(
    "whole_history",
    selection=dg.AssetSelection.assets("feature_registry", *decisions.TABLES, *amm_comparison.TABLES),
    description="The feature registry, decisions and backtest, recomputed over everything stored.",
)

#: The hedge sweep: hundreds of backtests of the ALVH over the stored history. Research, not
#: the evening's decisions, so it has its own job (weekly, on demand, and at the end of
#: `volsignals run`) instead of making every evening's run pay for it.
hedge_frontier_sweep = dg.define_asset_job(
    "hedge_frontier_sweep",
    selection=dg.AssetSelection.assets(hedge_frontier.TABLE),
    description="The ALVH configuration sweep over the stored condor book, in and out of sample.",
)

#: What a landed vendor file can change: the derived daily assets of its sessions.
after_landing = dg.define_asset_job(
    "after_landing",
    selection=dg.AssetSelection.assets("option_features", "chain_features", "market_features", "regimes"),
    partitions_def=trading_days,
    description="Recompute the derived daily assets for sessions touched by landed vendor files.",
)

#: The event calendar (whole history, 1990–2035); `volsignals run` materializes it first.
event_calendar = dg.define_asset_job(
    "event_calendar",
    selection=dg.AssetSelection.assets("events"),
    description="FOMC/CPI/PPI event days, 1990–2035.",
)

defs = dg.Definitions(
    assets=[*all_assets, *market_data.REFERENCE_TABLES],  # reference tables: written by ingest only
    jobs=[daily_pipeline, whole_history, hedge_frontier_sweep, after_landing, ingest_landing_job, event_calendar],
    schedules=[after_close_schedule(daily_pipeline), decisions_schedule(whole_history),
               weekly_frontier_schedule(hedge_frontier_sweep)],
    sensors=[landing_sensor(after_landing, whole_history), run_monitor_sensor()],
    resources={
        "warehouse": WarehouseResource(),
        # Rule parameters: defaults in features/strategy_config.py; override per environment
        # with VOLSIGNALS_STRATEGY='{"target_dte": 28, ...}' or in the UI's launchpad.
        "strategy": StrategyResource.from_json(os.environ.get("VOLSIGNALS_STRATEGY")),
        # The seed and chain size can be set per environment (tests use "small").
        "simulator": MarketSimulatorResource(
            seed=int(os.environ.get("VOLSIGNALS_SEED", "7")),
            chain_size=os.environ.get("VOLSIGNALS_CHAIN_SIZE", "default"),
        ),
    },
)
