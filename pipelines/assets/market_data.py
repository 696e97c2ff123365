"""Stage 1 — market data: the raw tables, one partition per NYSE session.

The embedded default market is simulated (``features/simulate``) and stored through
:func:`pipelines.ingest.store_rows`, the same validation path a vendor file takes.
Vendor files land through ``volsignals ingest`` / the landing-folder sensor and win
over simulated rows for the sessions they cover.
"""


from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from features.realpath.chain import SOURCE as REALPATH_SOURCE
from features.simulate import DailyMarket, simulate_chain, simulate_daily
from pipelines.calendar import LAST_CALENDAR_DAY, sessions_between
from pipelines.assets.common import code_version
from pipelines.checks import contract_check, contract_check_result, partition_check_results
from pipelines.events_calendar import events_between
from pipelines.ingest import store_rows
from pipelines.metadata import definition_metadata, newest_rows, record_partitions, stored_rows_per_session, table_metadata
from pipelines.partitions import FIRST_PARTITION, backfill_in_batches, partition_dates, trading_days
from pipelines.realpath import RealDataMissing, realpath_chain
from pipelines.resources import MarketSimulatorResource, WarehouseResource

GROUP = "market_data"
OWNERS = ["team:data-platform"]
DAILY_TABLES = ["spx_daily", "vix_term_structure", "vx_futures", "breadth_daily"]
CALENDAR_START = date(1990, 1, 2)
CHAIN_BATCH = 21
CODE_VERSION = code_version(__name__)


def simulated_daily_market(last_day: date, simulator: MarketSimulatorResource) -> DailyMarket:
    """The simulated path from the fixed origin through ``last_day`` (range-independent)."""
    sessions = sessions_between(FIRST_PARTITION, last_day)
    return simulate_daily(sessions, events_between(FIRST_PARTITION, LAST_CALENDAR_DAY), simulator.config())


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"parquet", "duckdb"},
    code_version=CODE_VERSION,
    metadata=definition_metadata("events", "date"),
    check_specs=[contract_check("events")],
    description=(
        "FOMC decision days and CPI/PPI release dates, 1990–2035: published dates shipped "
        "as data, and the documented rule (features/events.py) where none is published. "
        "One row per event day."
    ),
)
def events(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    store = warehouse.store()
    frame = events_between(CALENDAR_START, LAST_CALENDAR_DAY)
    # Every calendar day is replaced, so a moved event leaves no stale row behind.
    days = [CALENDAR_START + timedelta(days=i) for i in range((LAST_CALENDAR_DAY - CALENDAR_START).days + 1)]
    report = store_rows(store, "events", frame, "derived", days, source="calendar")
    context.log.info(str(report))
    yield dg.MaterializeResult(metadata=table_metadata(frame, "date", rows_quarantined=report.rows_quarantined))
    yield contract_check_result(store, "events")


READERS = Path(__file__).resolve().parents[1] / "readers"

#: Reference tables that only ``volsignals ingest`` writes (no asset computes them). Declared
#: so that the asset graph shows which assets read them; not materializable from the UI.
REFERENCE_TABLES = [
    dg.AssetSpec(
        name,
        group_name=GROUP,
        owners=OWNERS,
        kinds={"parquet", "duckdb"},
        metadata=definition_metadata(name, date_column)
        | {"dagster/code_references": dg.CodeReferencesMetadataValue(
            code_references=[dg.LocalFileCodeReference(file_path=str(reader), label="reader")])},
        description=desc,
    )
    for name, date_column, reader, desc in [
        ("treasury_bill_rates", "date", READERS / "fred_dtb3.py",
         "3-month Treasury bill rates (FRED DTB3), ingested with `volsignals ingest`: the real-path "
         "chain's discount rate and the backtest's cash rate. One row per observation date."),
        ("spx_settlement_values", "soq_date", READERS / "cboe_settlement_values.py",
         "Cboe's SPX AM settlement values (SET), ingested with `volsignals ingest`: what AM-settled "
         "condors settle on (else the session's open, flagged as an estimate). One row per monthly expiration."),
    ]
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            group_name=GROUP,
            owners=OWNERS,
            kinds={"parquet", "duckdb"},
            partitions_def=trading_days,
            code_version=CODE_VERSION,
            metadata=definition_metadata(name, "date"),
            description=desc,
        )
        for name, desc in [
            ("spx_daily", "SPX daily OHLC (index points). One row per session."),
            ("vix_term_structure", "VIX9D/VIX/VIX3M/VIX6M/VVIX/SKEW closes. One row per session per series."),
            ("vx_futures", "VX futures settlements for the listed monthly contracts. One row per session per contract."),
            ("breadth_daily", "NYSE advancing/declining/unchanged issues. One row per session."),
        ]
    ],
    check_specs=[contract_check(t, partitioned=True) for t in DAILY_TABLES],
    backfill_policy=backfill_in_batches,
    can_subset=False,
)
def daily_market(context: dg.AssetExecutionContext, warehouse: WarehouseResource, simulator: MarketSimulatorResource):
    """Simulate (or re-simulate) the daily tables for the partitions of this run."""
    store = warehouse.store()
    dates = partition_dates(context)
    market = simulated_daily_market(dates[-1], simulator)
    source = f"simulator:seed={simulator.seed}"
    for table in DAILY_TABLES:
        frame = getattr(market, table)
        frame = frame.filter(frame["date"].is_between(dates[0], dates[-1]) & frame["date"].is_in(dates))
        report = store_rows(store, table, frame, "simulated", dates, source=source)
        context.log.info(str(report))
        rows = stored_rows_per_session(store, table, frame, "date", report.rows_quarantined)
        record_partitions(context, table, dates, rows, newest_rows(frame, "date"), source=source)
        yield dg.MaterializeResult(asset_key=table)
    for table in DAILY_TABLES:
        yield from partition_check_results(context, store, table, dates)


class ChainConfig(dg.Config):
    """Which market the option chain comes from.

    ``simulated`` (default): the embedded simulator. ``real``: the real-path market
    (``features/realpath``) priced from the stored real daily data of each session (S&P 500,
    VIX family, SKEW, T-bill rate), stored as model rows with their own ``source``; a vendor
    chain of the same session still wins."""

    market: str = "simulated"


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"parquet", "duckdb"},
    partitions_def=trading_days,
    backfill_policy=backfill_in_batches,
    deps=["spx_daily", "vix_term_structure", "treasury_bill_rates"],  # the real-path chain's inputs
    code_version=CODE_VERSION,
    metadata=definition_metadata("spx_options", "quote_date"),
    check_specs=[contract_check("spx_options", partitioned=True)],
    description=(
        "The SPX option chain at each session's close: SPX AM-settled monthlies and SPXW "
        "PM-settled dailies/weeklies/quarterlies. One row per contract per session."
    ),
)
def spx_options(context: dg.AssetExecutionContext, config: ChainConfig, warehouse: WarehouseResource,
                simulator: MarketSimulatorResource):
    store = warehouse.store()
    dates = partition_dates(context)
    real = config.market == "real"
    market = None if real else simulated_daily_market(dates[-1], simulator)
    source = REALPATH_SOURCE if real else f"simulator:seed={simulator.seed}"
    stored = quarantined = 0
    rows: dict[date, int] = {}
    # A month of chains at a time: one validation pass per batch keeps ingest fast,
    # and bounds memory to ~20 sessions of contracts.
    for i in range(0, len(dates), CHAIN_BATCH):
        batch = dates[i : i + CHAIN_BATCH]
        if real:
            try:
                chains = realpath_chain(store, batch)
            except RealDataMissing as err:
                raise dg.Failure(str(err)) from err
        else:
            chains = pl.concat([simulate_chain(day, market, simulator.config()) for day in batch])
        report = store_rows(store, "spx_options", chains, "simulated", batch, source=source)
        stored += report.rows_stored
        quarantined += report.rows_quarantined
        rows |= stored_rows_per_session(store, "spx_options", chains, "quote_date", report.rows_quarantined)
        last = chains.filter(pl.col("quote_date") == batch[-1])
    context.log.info(f"spx_options: {stored} rows stored, {quarantined} quarantined over {len(dates)} sessions")
    record_partitions(context, "spx_options", dates, rows, last.head(8), source=source)
    yield dg.MaterializeResult()
    yield from partition_check_results(context, store, "spx_options", dates)
