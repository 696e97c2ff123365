"""Stage 2 — option analytics: per-contract IV/greeks/extrinsic value, per-day chain features."""


import dagster as dg
import polars as pl

from features.chain_features import chain_features as compute_chain_features
from features.option_features import option_features as compute_option_features
from pipelines.assets.common import daily_table_asset
from pipelines.checks import partition_check_results
from pipelines.metadata import newest_rows, record_partitions, rows_per_session
from pipelines.partitions import partition_dates
from pipelines.resources import WarehouseResource

GROUP = "option_analytics"
OWNERS = ["team:quant-research"]
#: Sessions per pass: bounds memory to about a month of contracts.
BATCH = 21


def _batches(dates: list) -> list[list]:
    return [dates[i : i + BATCH] for i in range(0, len(dates), BATCH)]


@daily_table_asset(
    "option_features",
    group=GROUP,
    owners=OWNERS,
    deps=["spx_options"],
    module=__name__,
    date_column="quote_date",
    description=(
        "Per contract per session: mid, intrinsic and extrinsic value, time to the exact "
        "settlement (SPX AM 09:30 ET, SPXW PM 16:00 ET), parity-implied forward and discount "
        "factor, Black-76 implied vol from mid/bid/ask, delta/gamma/vega/theta, moneyness. "
        "One row per contract per session (features/option_features.py)."
    ),
)
def option_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    store = warehouse.store()
    dates = partition_dates(context)
    rows: dict = {}
    last = pl.DataFrame()
    for batch in _batches(dates):
        chain = store.read("spx_options", batch[0], batch[-1])
        features = compute_option_features(chain)
        store.write_partitions("option_features", features, "derived", batch)
        rows |= rows_per_session(features, "quote_date")
        last = features
    newest = last.filter(pl.col("quote_date") == dates[-1])
    iv_missing = newest["iv"].is_null().sum() + newest["iv"].is_nan().sum() if newest.height else 0
    record_partitions(
        context, "option_features", dates, rows, newest.head(8),
        iv_missing_share=float(iv_missing) / max(newest.height, 1),
    )
    yield dg.MaterializeResult()
    yield from partition_check_results(context, store, "option_features", dates)


@daily_table_asset(
    "chain_features",
    group=GROUP,
    owners=OWNERS,
    deps=["option_features", "spx_options"],
    module=__name__,
    date_column="quote_date",
    description=(
        "Per session: ATM implied vol term structure at constant maturities (9–182 days, "
        "interpolated in total variance), 25-delta risk reversal and butterfly, the expected "
        "move from the ATM straddle, term slope, put-call parity residuals and violations, "
        "extrinsic value by DTE bucket, and VIX-style indices replicated with Cboe's method "
        "(vix_9d, vix_30d, vix_93d, vix_183d). One row per session."
    ),
)
def chain_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    store = warehouse.store()
    dates = partition_dates(context)
    frames = []
    for batch in _batches(dates):
        chain = store.read("spx_options", batch[0], batch[-1])
        features = store.read("option_features", batch[0], batch[-1])
        frames.append(compute_chain_features(features, chain))
    frame = pl.concat(frames, how="diagonal_relaxed")
    store.write_partitions("chain_features", frame, "derived", dates)
    newest = newest_rows(frame, "quote_date")
    latest = newest.head(1).to_dicts()[0] if frame.height else {}
    record_partitions(
        context, "chain_features", dates, rows_per_session(frame, "quote_date"), newest,
        **{k: float(latest[k]) for k in ("vix_30d", "atm_iv_30d") if latest.get(k) is not None},
    )
    yield dg.MaterializeResult()
    yield from partition_check_results(context, store, "chain_features", dates)
