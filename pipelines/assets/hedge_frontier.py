"""Stage 4b — the hedge frontier: every ALVH configuration of the sweep, in and out of sample.

Reads the stored condor book (``condor_positions``, the unhedged ``condor_trades``), the
point-in-time features and the VX curve, runs :func:`features.hedge_sweep.run_sweep` over
:func:`features.hedge_sweep.sweep_grid`, marks the configuration chosen on the in-sample
period (:func:`features.hedge_sweep.choose_default`) and whether it meets the goal out of
sample, and draws the frontier (net hedge cost per year against drawdown reduction).
"""


import json
import os

import dagster as dg
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from features.hedge_sweep import (  # noqa: E402
    CRISES, GOAL_COST, GOAL_DD_RATIO, PERIOD_METRICS, PERIODS, SweepInputs, choose_default, meets_goal, run_sweep, sweep_grid,
    sweep_inputs_from_book,
)
from features.strategy_config import StrategyConfig  # noqa: E402
from pipelines.assets.common import KINDS, code_version  # noqa: E402
from pipelines.distributed import SCHEDULER_ENV, map_on_dask  # noqa: E402
from pipelines.assets.decisions import point_in_time_features, stored_cash_rates, vx_futures_with_model  # noqa: E402
from pipelines.metadata import definition_metadata, png_markdown, table_metadata  # noqa: E402
from pipelines.resources import StrategyResource, WarehouseResource  # noqa: E402
from pipelines.warehouse import TABLES, Warehouse, register_table  # noqa: E402

GROUP = "decisions"
TABLE = "hedge_frontier"
if TABLE not in TABLES:
    register_table(TABLE, "config_id", "all")


def stored_columns() -> dict[str, pl.DataType]:
    """The table's fixed columns: every period metric and crisis window, whether or not the
    stored sessions cover it (then null), so the stored schema does not depend on the data."""
    cols: dict[str, pl.DataType] = {"config_id": pl.Int64, "config": pl.String}
    for period in PERIODS:
        cols |= {f"{period}_{k}": pl.String if k in ("start", "end") else pl.Float64 for k in PERIOD_METRICS}
    for name in CRISES:
        cols |= {f"crisis_{name}_unhedged": pl.Float64, f"crisis_{name}_hedged": pl.Float64}
    return cols | {"chosen": pl.Boolean, "first_session": pl.Date, "last_session": pl.Date}


def stored_book_inputs(store: Warehouse, config: StrategyConfig) -> SweepInputs:
    """The sweep's inputs from what the pipeline stored: the unhedged condor book
    (``condor_positions``, ``condor_trades``) over the backtest's sessions, the point-in-time
    features, the VX curve (real settlements, modelled where there are none) and the stored
    cash rates.  The asset and ``scripts/hedge_frontier_report.py --warehouse`` both start
    here, so the report's frontier is the asset's."""
    days = store.read("backtest_daily").filter(pl.col("strategy") == "unhedged").select("date").sort("date")
    trades = store.read("condor_trades")
    if "strategy" in trades.columns:
        trades = trades.filter(pl.col("strategy") == "unhedged")
    return sweep_inputs_from_book(
        store.read("condor_positions"), trades, days, point_in_time_features(store),
        vx_futures_with_model(store, days["date"]), config, cash_rates=stored_cash_rates(store),
    )


def frontier_chart(results: pl.DataFrame, chosen_id: int):
    """Net hedge cost per year (% of equity) against drawdown reduction, per period."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    premium = [c for c in ("is_premium_pct_yr", "oos_premium_pct_yr") if c in results.columns]
    hedged = results.filter(pl.any_horizontal([pl.col(c) > 0 for c in premium])) if premium else results.clear()
    for period, marker, label in (("is", "o", "in sample"), ("oos", "^", "out of sample")):
        if f"{period}_dd_reduction" not in hedged.columns:
            continue
        lo, hi = PERIODS[period]
        ax.scatter(hedged[f"{period}_hedge_cost_pct_yr"] * 100, hedged[f"{period}_dd_reduction"] * 100, marker=marker,
                   alpha=0.45, label=f"{label} {lo.year}-{hi.year}")
        pick = hedged.filter(pl.col("config_id") == chosen_id)
        if pick.height:
            ax.scatter(pick[f"{period}_hedge_cost_pct_yr"] * 100, pick[f"{period}_dd_reduction"] * 100, marker=marker,
                       s=160, facecolors="none", edgecolors="black", linewidths=2)
    ax.axvline(GOAL_COST * 100, color="grey", ls="--", lw=1)
    ax.axhline((1 - GOAL_DD_RATIO) * 100, color="grey", ls="--", lw=1)
    ax.set_xlabel("net hedge cost (% of equity per year)")
    ax.set_ylabel("max drawdown reduction vs unhedged (%)")
    ax.set_title("ALVH frontier (circled: chosen in sample; goal: upper left of the dashed lines)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


@dg.asset(
    name=TABLE,
    group_name=GROUP,
    owners=["team:trading"],
    kinds=KINDS,
    deps=["condor_positions", "condor_trades", "backtest_daily", "market_features", "regimes", "vx_futures",
          "vix_term_structure", "treasury_bill_rates"],
    code_version=code_version(__name__),
    metadata=definition_metadata(TABLE),
    description="ALVH sweep: per hedge configuration, in- and out-of-sample cost, drawdown, CVaR and crisis P&L; the in-sample choice. One row per configuration.",
)
def hedge_frontier(context: dg.AssetExecutionContext, warehouse: WarehouseResource, strategy: StrategyResource):
    store = warehouse.store()
    inputs = stored_book_inputs(store, strategy.to_strategy_config())
    configs = sweep_grid()
    # on the Dask cluster at $VOLSIGNALS_DASK_SCHEDULER when one is configured, else in this step
    on_dask = bool(os.environ.get(SCHEDULER_ENV))
    results = run_sweep(configs, inputs, map_on_dask if on_dask else None)
    have_is = "is_dd_ratio" in results.columns
    chosen = choose_default(results) if have_is else None
    chosen_id = chosen["config_id"] if chosen else -1
    results = results.with_columns(
        (pl.col("config_id") == chosen_id).alias("chosen"),
        pl.lit(inputs.book["date"].min()).alias("first_session"),
        pl.lit(inputs.book["date"].max()).alias("last_session"),
    )
    cols = stored_columns()
    store.write_table(TABLE, results.with_columns(
        [pl.lit(None, dtype=t).alias(c) for c, t in cols.items() if c not in results.columns]
    ).select([pl.col(c).cast(t) for c, t in cols.items()]))
    summary = {}
    if chosen:
        summary = {k: chosen.get(k) for k in ("config", "is_dd_ratio", "is_hedge_cost_pct_yr", "oos_dd_ratio", "oos_hedge_cost_pct_yr")}
        summary["meets_goal_out_of_sample"] = meets_goal(chosen) if "oos_dd_ratio" in chosen else None
        context.log.info(f"hedge frontier: chosen {json.dumps(summary, default=str)}")
    chart = png_markdown(frontier_chart(results, chosen_id))
    plt.close("all")
    return dg.MaterializeResult(
        metadata=table_metadata(results, TABLE)
        | {"frontier": chart, "configurations": len(configs), "evaluated_on": "dask" if on_dask else "in process",
           "chosen": dg.MetadataValue.json(summary or {"chosen": None})}
    )
