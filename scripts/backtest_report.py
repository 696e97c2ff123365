"""Print the backtest's side-by-side table as markdown and save its charts as PNG.

    VOLSIGNALS_WAREHOUSE=... python scripts/backtest_report.py [--charts docs/PREFIX]

Reads ``backtest_summary``, ``backtest_daily`` and ``hedge_layers`` from the warehouse and
draws the same charts the Dagster UI shows on those assets.
"""

from __future__ import annotations

import argparse

import polars as pl

from pipelines.assets.decisions import equity_chart, hedge_chart
from pipelines.warehouse import Warehouse

COLUMNS = [
    ("final_equity", "final equity ($)", "{:,.0f}"),
    ("cagr", "CAGR", "{:.2%}"),
    ("annual_vol", "vol", "{:.2%}"),
    ("sharpe", "Sharpe", "{:.2f}"),
    ("sortino", "Sortino", "{:.2f}"),
    ("max_drawdown", "max DD", "{:.2%}"),
    ("calmar", "Calmar", "{:.2f}"),
    ("var_95", "VaR 95 (1d)", "{:.2%}"),
    ("cvar_95", "CVaR 95 (1d)", "{:.2%}"),
    ("n_trades", "trades", "{:.0f}"),
    ("win_rate", "win rate", "{:.0%}"),
    ("avg_holding_days", "avg days held", "{:.1f}"),
    ("hedge_turnover", "hedge turnover (x/yr)", "{:.1f}"),
    ("hedge_hit_rate", "hedge hit rate", "{:.0%}"),
    ("hedge_pnl_per_year_pct", "hedge P&L/yr", "{:.2%}"),
    ("stale_marks", "stale marks", "{:.0f}"),
]


def summary_markdown(summary: pl.DataFrame) -> str:
    header = "| strategy | " + " | ".join(label for _, label, _ in COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(COLUMNS)
    rows = []
    for row in summary.sort("strategy").iter_rows(named=True):
        cells = [fmt.format(row[c]) if row.get(c) is not None and row[c] == row[c] else "–" for c, _, fmt in COLUMNS]
        rows.append(f"| {row['strategy']} | " + " | ".join(cells) + " |")
    return "\n".join([header, rule, *rows])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--charts", help="path prefix for the PNG charts, e.g. docs/sim5")
    args = parser.parse_args()
    store = Warehouse()
    daily = store.read("backtest_daily")
    print(f"{daily['date'].min()} .. {daily['date'].max()}, {daily['date'].n_unique()} sessions\n")
    print(summary_markdown(store.read("backtest_summary")))
    layers = store.read("hedge_layers")
    on_days = layers.filter(pl.col("on")).group_by("layer").agg(pl.len().alias("sessions_on"))
    pnl = daily.filter(pl.col("strategy") == "alvh_hedged").select(
        [pl.col(c).sum().round(0) for c in daily.columns if c.startswith("hedge_pnl") or c == "condor_pnl"]
    )
    print("\nALVH layers, sessions on:", dict(on_days.iter_rows()))
    print("ALVH-hedged P&L by source ($):", pnl.to_dicts()[0])
    if args.charts:
        equity_chart(daily).savefig(f"{args.charts}_equity.png", dpi=80, bbox_inches="tight")
        hedge_chart(layers).savefig(f"{args.charts}_hedge_layers.png", dpi=80, bbox_inches="tight")
        print(f"\ncharts: {args.charts}_equity.png, {args.charts}_hedge_layers.png")


if __name__ == "__main__":
    main()
