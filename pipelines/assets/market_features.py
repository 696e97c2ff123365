"""Stage 3 — market features, regime labels and the feature registry (point-in-time store).

Every feature row carries ``date`` (the session it describes) and ``available_at`` (when
its inputs were known: 16:15 ET that day). Features are computed over the whole stored
history up to the last session of the run and only that run's sessions are written; the
computations use trailing data only, so a later run never changes an earlier row (tested
as truncation invariance in ``tests/features``).
"""


from datetime import datetime

import dagster as dg
import polars as pl

from features.chain_features import CHAIN_FEATURE_DOCS
from features.market_features import market_features as compute_market_features
from features.point_in_time import MARKET_FEATURE_DOCS, feature_registry_rows, latest_revisions, merge_revisions
from pipelines.calendar import NY
from features.regimes import market_regimes
from pipelines.assets.common import KINDS, code_version, daily_table_asset
from pipelines.checks import contract_check, contract_check_result, partition_check_results
from pipelines.metadata import definition_metadata, newest_rows, record_partitions, rows_per_session, table_metadata
from pipelines.partitions import partition_dates
from pipelines.resources import WarehouseResource

GROUP = "market_features"
OWNERS = ["team:quant-research"]
#: Recorded in the feature registry: changes whenever this module or code it imports changes.
CODE_VERSION = code_version(__name__)


#: column -> (description, units) of every registered feature.
FEATURE_DOCS = MARKET_FEATURE_DOCS | CHAIN_FEATURE_DOCS


def _store_revisions(store, table: str, fresh: pl.DataFrame, dates) -> pl.DataFrame:
    """Write ``fresh`` rows as new revisions where they differ from what is stored."""
    stored = store.read(table, dates[0], dates[-1])
    merged = merge_revisions(stored, fresh, learned_at=datetime.now(NY))
    store.write_partitions(table, merged, "derived", dates)
    return merged


def _history(store, last_day) -> pl.DataFrame:
    """Market features over everything stored up to ``last_day``."""
    replicated = (
        store.read("chain_features", end=last_day, columns=["quote_date", "vix_9d", "vix_30d", "vix_93d", "vix_183d"])
        .rename({"quote_date": "date"})
    )
    return compute_market_features(
        store.read("spx_daily", end=last_day),
        store.read("breadth_daily", end=last_day),
        store.read("vix_term_structure", end=last_day),
        store.read("vx_futures", end=last_day),
        store.read("events"),  # calendars are published in advance: future dates are known at t
        replicated=replicated,
    )


@daily_table_asset(
    "market_features",
    group=GROUP,
    owners=OWNERS,
    deps=["spx_daily", "breadth_daily", "vix_term_structure", "vx_futures", "events", "chain_features"],
    module=__name__,
    description=(
        "Daily market features: RSI(14), MACD(12,26,9) (TA-Lib definitions), Advance–Decline "
        "line, McClellan oscillator/summation, realized vol (close-to-close, Parkinson, "
        "Garman–Klass, Yang–Zhang at 5/10/21/63 days) and its cone, variance risk premium, "
        "VIX rank, term-structure ratios, constant-maturity VX and roll yield, event flags. "
        "One row per session."
    ),
)
def market_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    store = warehouse.store()
    dates = partition_dates(context)
    frame = _history(store, dates[-1]).filter(pl.col("date").is_in(dates))
    _store_revisions(store, "market_features", frame, dates)
    record_partitions(context, "market_features", dates, rows_per_session(frame, "date"), newest_rows(frame, "date"))
    yield dg.MaterializeResult()
    yield from partition_check_results(context, store, "market_features", dates)


@daily_table_asset(
    "regimes",
    group=GROUP,
    owners=OWNERS,
    deps=["market_features"],
    module=__name__,
    description=(
        "Regime labels per session: a rule-based classifier (volatility level × term structure, "
        "plus trend) with hysteresis, and filtered HMM probabilities refit on a fixed schedule. "
        "Each row carries the inputs and thresholds that produced it. One row per session."
    ),
)
def regimes(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    store = warehouse.store()
    dates = partition_dates(context)
    # Regimes are computed from the latest revision of every feature row known now.
    history = latest_revisions(store.read("market_features", end=dates[-1]), datetime.now(NY))
    frame = market_regimes(history).filter(pl.col("date").is_in(dates))
    _store_revisions(store, "regimes", frame, dates)
    newest = newest_rows(frame, "date")
    record_partitions(
        context, "regimes", dates, rows_per_session(frame, "date"), newest,
        regime=str(newest["regime"][0]) if newest.height else "none",
    )
    yield dg.MaterializeResult()
    yield from partition_check_results(context, store, "regimes", dates)


FEATURE_TABLES = {
    "market_features": "market_features",
    "regimes": "regimes",
    "chain_features": "chain_features",
}


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    deps=list(FEATURE_TABLES),
    code_version=CODE_VERSION,
    metadata=definition_metadata("feature_registry"),
    check_specs=[contract_check("feature_registry")],
    description=(
        "The feature registry: every feature's name, table, description, units, source asset, "
        "code version and first/last date. One row per feature."
    ),
)
def feature_registry(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    store = warehouse.store()
    rows = []
    for table, asset_name in FEATURE_TABLES.items():
        frame = store.read(table)
        if "quote_date" in frame.columns:
            frame = frame.rename({"quote_date": "date"})
        rows.append(feature_registry_rows(frame, table, asset_name, CODE_VERSION, FEATURE_DOCS))
    registry = pl.concat(rows, how="diagonal_relaxed")
    store.write_table("feature_registry", registry)
    yield dg.MaterializeResult(metadata=table_metadata(registry) | {"registry": _registry_md(registry)})
    yield contract_check_result(store, "feature_registry")


def _registry_md(registry: pl.DataFrame) -> dg.MetadataValue:
    rows = "\n".join(
        f"| {r['name']} | {r['table_name']} | {r['description']} | {r['units']} | {r['first_date']} .. {r['last_date']} |"
        for r in registry.iter_rows(named=True)
    )
    return dg.MetadataValue.md("| feature | table | description | units | dates |\n|---|---|---|---|---|\n" + rows)
