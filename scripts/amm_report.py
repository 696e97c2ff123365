"""Print the AMM-versus-condor summary and save the charts the Dagster UI shows, as PNG.

    VOLSIGNALS_WAREHOUSE=... python scripts/amm_report.py [--charts docs/PREFIX]

Reads ``amm_summary``, ``amm_comparison``, ``condor_trades`` and ``condor_positions`` from
the warehouse (materialize ``amm_comparison`` first: ``volsignals run`` does).
"""

from __future__ import annotations

import argparse

import matplotlib.pyplot as plt

from pipelines.assets.amm_comparison import cumulative_chart, payoff_chart, representative_trade
from pipelines.warehouse import Warehouse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--charts", help="path prefix for the PNG charts, e.g. docs/amm_sim")
    args = parser.parse_args()
    store = Warehouse()
    summary = store.read("amm_summary")
    daily = store.read("amm_comparison").sort("date")
    print(f"{summary['start_date'][0]} .. {summary['end_date'][0]}\n")
    print("| metric | value | units |\n|---|---:|---|")
    for row in summary.iter_rows(named=True):
        v = row["value"]
        print(f"| {row['metric']} | {'–' if v is None else f'{v:,.6g}'} | {row['units']} |")
    if args.charts:
        numbers = dict(zip(summary["metric"], summary["value"]))
        capital = numbers["pool_capital"]
        trade = representative_trade(store.read("condor_trades"), store.read("condor_positions"))
        for name, fig in (("payoffs", payoff_chart(trade)), ("lvr_vs_gamma", cumulative_chart(daily, capital))):
            path = f"{args.charts}_{name}.png"
            fig.savefig(path, dpi=72, bbox_inches="tight")
            print(f"saved {path}")
        plt.close("all")


if __name__ == "__main__":
    main()
