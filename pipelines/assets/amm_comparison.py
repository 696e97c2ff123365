"""Stage 4 — is a hedged iron condor an AMM?  A constant-product pool beside the condor book.

Reads the backtest the ``strategy_backtest`` multi-asset stored (its daily attribution,
positions, trades and parameters) and the SPX closes, marks a constant-product pool of
SPX against cash with the book's capital on the same sessions, and writes the comparison
(``features/amm.py`` holds every formula). Recomputed over the whole stored history, as
the backtest it reads.
"""

import json

import dagster as dg
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from features.amm import (  # noqa: E402
    amm_vs_condor_daily, comparison_summary, condor_decomposition, constant_product_pool, payoff_curves, payoff_metrics,
)
from pipelines.assets.common import KINDS, code_version  # noqa: E402
from pipelines.checks import contract_check, contract_check_result  # noqa: E402
from pipelines.metadata import definition_metadata, png_markdown, preview, table_metadata  # noqa: E402
from pipelines.warehouse import TABLES as LAYOUTS  # noqa: E402
from pipelines.resources import WarehouseResource  # noqa: E402

GROUP = "decisions"
OWNERS = ["team:trading"]
DESCRIPTIONS = {
    "amm_comparison": "A constant-product SPX/cash pool with the condor book's capital beside the condor book: pool value, "
                      "hold value, impermanent loss, loss-versus-rebalancing, breakeven fees, and the condor's gamma/theta/vega "
                      "and hedge P&L. One row per session.",
    "amm_summary": "Is a hedged condor an AMM? The answer in numbers: LVR against sigma^2/8, theta against gamma, "
                   "breakeven vols, gamma per premium, daily correlation, payoff caps. One row per metric.",
}
TABLES = list(DESCRIPTIONS)
#: Price ratios S_T / S_entry drawn in the payoff chart.
PAYOFF_RATIOS = np.round(np.linspace(0.8, 1.2, 161), 10)


def representative_trade(trades: pl.DataFrame, positions: pl.DataFrame) -> dict | None:
    """The first condor the unhedged book opened, with its entry spot, dollar gamma and theta."""
    t = trades.filter(pl.col("strategy") == "unhedged").sort("entry_date", "position_id")
    if t.height == 0:
        return None
    row = t.row(0, named=True)
    entry = positions.filter((pl.col("position_id") == row["position_id"]) & (pl.col("date") == row["entry_date"]))
    if entry.height == 0:
        return None
    e = entry.row(0, named=True)
    return row | {
        "entry_underlying": e["underlying"],
        "entry_dollar_gamma": 0.5 * e["net_gamma"] * e["underlying"] ** 2,
        "entry_theta": e["net_theta"],
    }


def payoff_chart(trade: dict | None):
    fig, ax = plt.subplots(figsize=(7.5, 4))
    if trade is None:
        ax.text(0.5, 0.5, "no condor trade in the backtest", ha="center", transform=ax.transAxes)
        return fig
    c = payoff_curves(trade, trade["entry_dollar_gamma"], trade["entry_theta"], PAYOFF_RATIOS)
    ax.plot(c["price_ratio"], c["condor_pnl"] / 1e3, label=f"condor at expiry ({trade['entry_date']} → {trade['expiration']})")
    ax.plot(c["price_ratio"], c["pool_pnl"] / 1e3, label="gamma-matched pool vs holding: fees − (V/2)(√r − 1)²")
    ax.plot(c["price_ratio"], c["pool_il_pnl"] / 1e3, ls="--", label="the same pool without fees (impermanent loss)")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel("price ratio r = S(expiry) / S(entry)")
    ax.set_ylabel("P&L ($ thousands)")
    ax.set_ylim(min(c["condor_pnl"].min(), -abs(c["condor_pnl"].max()) * 3) / 1e3 * 1.6, c["pool_pnl"].max() / 1e3 * 1.8 + 1e-9)
    ax.legend(fontsize=8, loc="lower center")
    ax.set_title("Payoff over the holding period: capped condor vs concave √r pool")
    fig.tight_layout()
    return fig


def cumulative_chart(daily: pl.DataFrame, capital: float):
    """Cumulative condor gamma bleed and theta (left axis) against the cumulative LVR of a
    pool with the book's capital (right axis); shaded: sessions with a condor held."""
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(daily["date"], -daily["condor_gamma_pnl_cum"] / 1e3, color="C0", label="condor gamma bleed (−Σ ½ΓdS²)")
    ax.plot(daily["date"], daily["condor_theta_pnl_cum"] / 1e3, color="C1", label="condor theta (Σ Θ dt)")
    ax.fill_between(daily["date"], 0, 1, where=(daily["condor_positions_open"] > 0).to_list(), color="grey", alpha=0.15,
                    transform=ax.get_xaxis_transform(), label="condor held")
    ax.set_ylabel("condor, cumulative ($ thousands)")
    right = ax.twinx()
    right.plot(daily["date"], daily["lvr"].cum_sum() / 1e3, color="C2", label=f"pool LVR (${capital / 1e6:,.1f}M pool)")
    right.plot(daily["date"], daily["breakeven_fee_cum"] / 1e3, color="C2", ls=":", label="pool breakeven fees (V σ²/8 dt)")
    right.set_ylabel("pool, cumulative ($ thousands)")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
    ax.set_title("Short convexity on the same SPX path: pool LVR vs condor gamma P&L")
    fig.tight_layout()
    return fig


def initial_equity(summary: pl.DataFrame) -> float:
    """The capital the backtest ran with (its recorded parameters)."""
    return float(json.loads(summary["parameters"][0])["backtest"]["initial_equity"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            group_name=GROUP,
            owners=OWNERS,
            kinds=KINDS,
            deps=["backtest_daily", "backtest_summary", "condor_positions", "condor_trades", "spx_daily", "vix_term_structure"],
            code_version=code_version(__name__),
            metadata=definition_metadata(name, LAYOUTS[name].date_column),
            description=desc,
        )
        for name, desc in DESCRIPTIONS.items()
    ],
    check_specs=[contract_check(t) for t in TABLES],
    can_subset=False,
)
def amm_comparison(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    store = warehouse.store()
    backtest = store.read("backtest_daily")
    positions = store.read("condor_positions")
    trades = store.read("condor_trades")
    capital = initial_equity(store.read("backtest_summary"))
    sessions = backtest.select(pl.col("date").unique())
    prices = store.read("spx_daily").join(sessions, on="date").select("date", pl.col("close").alias("price"))
    vix = store.read("vix_term_structure").filter(pl.col("series") == "VIX").select("date", (pl.col("value") / 100.0).alias("implied_vol"))
    daily = amm_vs_condor_daily(constant_product_pool(prices, capital), condor_decomposition(backtest, positions), vix)
    unhedged = trades.filter(pl.col("strategy") == "unhedged") if trades.height else trades
    trade = representative_trade(trades, positions) if trades.height else None
    rows = comparison_summary(daily, capital, unhedged)
    if trade is not None:
        curves = payoff_curves(trade, trade["entry_dollar_gamma"], trade["entry_theta"], PAYOFF_RATIOS)
        rows += payoff_metrics(curves, trade)
    start, end = daily["date"].min(), daily["date"].max()
    summary = pl.DataFrame(rows).with_columns(
        pl.col("value").fill_nan(None), start_date=pl.lit(start), end_date=pl.lit(end)
    )
    store.write_table("amm_comparison", daily)
    store.write_table("amm_summary", summary)
    numbers = {m: (float("nan") if v is None else v) for m, v in zip(summary["metric"], summary["value"])}
    charts = {
        "payoffs": png_markdown(payoff_chart(trade)),
        "cumulative_lvr_vs_gamma": png_markdown(cumulative_chart(daily, capital)),
    }
    plt.close("all")
    headline = {k: float(numbers[k]) for k in ("pool_lvr_rate", "pool_lvr_rate_theory", "theta_over_gamma",
                                                "corr_lvr_gamma_open", "condor_breakeven_vol", "realized_vol")
                if np.isfinite(numbers[k])}
    yield dg.MaterializeResult(asset_key="amm_comparison", metadata=table_metadata(daily, "date") | charts)
    yield dg.MaterializeResult(asset_key="amm_summary", metadata=table_metadata(summary) | {"preview": preview(summary, rows=summary.height)} | headline)
    for table in TABLES:
        yield contract_check_result(store, table)
