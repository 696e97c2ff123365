"""Stage 4 — decisions and the backtest: iron condors, the layered VIX hedge, what they earn.

One multi-asset recomputes the whole stored history (decisions are path-dependent through
the positions they open): condor decisions, daily positions, trades, ALVH layers, the
daily backtest of three strategies side by side, and its summary. Market inputs are read
from the point-in-time feature store: every revision of every feature row with the time
it became available, so a decision dated t sees only what was known at t's close.
Fills are at that session's end-of-day quotes, which the decision had seen (see
``features/backtest.py``).
"""

import json

import dagster as dg
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from features.backtest import run_backtest  # noqa: E402
from features.term_structure import listed_vx_expirations, model_vx_futures  # noqa: E402
from pipelines.assets.common import KINDS, code_version  # noqa: E402
from pipelines.checks import contract_check, contract_check_result  # noqa: E402
from pipelines.metadata import definition_metadata, png_markdown, table_metadata  # noqa: E402
from pipelines.warehouse import TABLES as LAYOUTS  # noqa: E402
from pipelines.resources import StrategyResource, WarehouseResource  # noqa: E402

GROUP = "decisions"
OWNERS = ["team:trading"]
#: Contracts the strategies can touch: entries are 30–60 DTE, CNDR rolls ~1 month out.
MAX_DTE_READ = 75.0
OPTION_COLUMNS = [
    "quote_date", "root", "expiration", "settlement", "strike", "option_type", "bid", "ask", "mid",
    "underlying_price", "forward", "discount_factor", "years_to_expiry", "days_to_expiry", "iv",
    "delta", "gamma", "vega", "theta", "snapshot_kind",
]
#: The tables this stage writes, with what one row of each is.
DESCRIPTIONS = {
    "condor_decisions": "Enter or skip an SPX iron condor, legs, credits, breakevens, POP, EV, size and the reason in words. One row per session.",
    "condor_positions": "Each open condor marked at mid, with its exit signals. One row per position per session.",
    "condor_trades": "Every condor trade: entry, exit, reason, cash flows, P&L. One row per trade per strategy.",
    "hedge_layers": "Adaptive Layered VIX Hedge: base, flattening/event and second-engine layers, why each is on, instrument, price, size. One row per session per layer.",
    "backtest_daily": "Daily P&L (condor, each hedge layer, interest), equity, drawdown and greek attribution. One row per strategy per session.",
    "backtest_summary": "CAGR, vol, Sharpe, Sortino, max drawdown, Calmar, VaR/CVaR, IRR, win rate, holding days, and the parameters used. One row per strategy.",
}
TABLES = list(DESCRIPTIONS)


def point_in_time_features(store) -> pl.DataFrame:
    """Market features joined with regimes: one row per revision of either, per session.

    Each row is the state of knowledge at its ``available_at``: the latest market-feature
    revision and the latest regime revision of that session known at that instant. So a
    regime revised later (or a feature revised later) becomes a new row with the later
    time, and a lookup as of an earlier time never sees it.
    """
    market = store.read("market_features")
    regimes = store.read("regimes")
    regimes = regimes.drop([c for c in regimes.columns if c in market.columns and c not in ("date", "available_at")])
    timeline = pl.concat([market.select("date", "available_at"), regimes.select("date", "available_at")]).unique()
    asof = dict(on="available_at", by="date", strategy="backward", check_sortedness=False)
    return (
        timeline.sort("available_at")
        .join_asof(market.sort("available_at"), **asof)
        .join_asof(regimes.sort("available_at"), **asof)
        .sort("date", "available_at")
    )


def vx_futures_with_model(store, sessions: pl.Series) -> pl.DataFrame:
    """Stored VX settlements, plus modelled ones for sessions that have none.

    Real VX history is often missing (e.g. the CFE files stop in 2015): the hedge is then
    priced on the forward VIX implied by the VIX family (``model_vx_futures``), and those
    rows say so in ``source``.
    """
    stored = store.read("vx_futures")
    missing = sessions.filter(~sessions.is_in(stored["date"].implode()))
    if missing.is_empty():
        return stored
    model = model_vx_futures(store.read("vix_term_structure"), listed_vx_expirations(missing))
    return pl.concat([stored, model], how="diagonal_relaxed")


def equity_chart(daily: pl.DataFrame):
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, height_ratios=[2, 1])
    for name, frame in daily.group_by("strategy", maintain_order=True):
        top.plot(frame["date"], frame["equity"] / 1e6, label=name[0])
        bottom.fill_between(frame["date"], frame["drawdown"] * 100, 0, alpha=0.35, label=name[0])
    top.set_ylabel("equity ($M)")
    top.legend(loc="upper left")
    top.set_title("Equity: unhedged condors, ALVH-hedged condors, CNDR-rules benchmark")
    bottom.set_ylabel("drawdown (%)")
    fig.tight_layout()
    return fig


def hedge_chart(hedges: pl.DataFrame):
    fig, ax = plt.subplots(figsize=(9, 3.2))
    if hedges.height:
        size_col = "contracts" if "contracts" in hedges.columns else hedges.columns[-1]
        for name, frame in hedges.group_by("layer", maintain_order=True):
            ax.step(frame["date"], frame[size_col], where="post", label=name[0])
        ax.set_ylabel(f"VIX calls ({size_col})")
        ax.legend(loc="upper left")
    ax.set_title("Adaptive Layered VIX Hedge: size of each layer")
    fig.tight_layout()
    return fig


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            group_name=GROUP,
            owners=OWNERS,
            kinds=KINDS,
            deps=["option_features", "market_features", "regimes", "spx_daily", "vx_futures", "vix_term_structure"],
            code_version=code_version(__name__),
            metadata=definition_metadata(name, LAYOUTS[name].date_column),
            description=desc,
        )
        for name, desc in DESCRIPTIONS.items()
    ],
    check_specs=[contract_check(t) for t in TABLES],
    can_subset=False,
)
def strategy_backtest(context: dg.AssetExecutionContext, warehouse: WarehouseResource, strategy: StrategyResource):
    store = warehouse.store()
    config = strategy.to_strategy_config()
    options = store.read(
        "option_features",
        columns=OPTION_COLUMNS,
        where=(pl.col("days_to_expiry") <= MAX_DTE_READ) & (pl.col("snapshot_kind") == "eod"),
    )
    result = run_backtest(
        options,
        point_in_time_features(store),
        store.read("spx_daily"),
        vx_futures_with_model(store, options["quote_date"].unique()),
        config,
    )
    params = json.dumps(config.to_dict(), sort_keys=True)
    summary = result.summary.with_columns(
        start_date=pl.lit(result.daily["date"].min()), end_date=pl.lit(result.daily["date"].max()), parameters=pl.lit(params)
    )
    frames = {
        "condor_decisions": result.decisions,
        "condor_positions": result.positions,
        "condor_trades": result.trades,
        "hedge_layers": result.hedges,
        "backtest_daily": result.daily,
        "backtest_summary": summary,
    }
    for table, frame in frames.items():
        store.write_table(table, frame)
    charts = {
        "backtest_daily": {"equity_and_drawdowns": png_markdown(equity_chart(result.daily))},
        "hedge_layers": {"layers_over_time": png_markdown(hedge_chart(result.hedges))},
    }
    plt.close("all")
    headline = {
        f"{row['strategy']}_{k}": float(row[k])
        for row in result.summary.iter_rows(named=True)
        for k in ("cagr", "max_drawdown", "sharpe")
        if k in row and row[k] is not None
    }
    for table, frame in frames.items():
        yield dg.MaterializeResult(
            asset_key=table,
            metadata=table_metadata(frame, LAYOUTS[table].date_column)
            | charts.get(table, {})
            | ({"parameters": dg.MetadataValue.json(config.to_dict())} if table == "backtest_summary" else {})
            | (headline if table == "backtest_summary" else {}),
        )
    for table in TABLES:
        yield contract_check_result(store, table)
