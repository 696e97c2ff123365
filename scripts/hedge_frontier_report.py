"""The ALVH frontier over 2005-2025: sweep, in-sample choice, out-of-sample report, charts.

    python scripts/hedge_frontier_report.py --market simulated [--seed 7] [--chart docs/hedge_frontier.png]

``--market simulated`` builds the embedded simulator's market in memory (daily tables from the
2000-01-03 origin, small chains for every session 2005-01-03..2025-12-31, option features,
market features and regimes), runs the condor book once and then every configuration of
:func:`features.hedge_sweep.sweep_grid`.  It prints the chosen configuration (selected on
2005-2014 only), its in- and out-of-sample figures, whether it meets the goal out of sample,
the frontier's closest approach to the goal, and the per-crisis table.  These are SIMULATED
numbers: the simulator's crises are not 2008 or 2020, only windows with those dates.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from features.hedge_sweep import (  # noqa: E402
    CRISES, GOAL_COST, GOAL_DD_RATIO, build_sweep_inputs, choose_default, evaluate_config, meets_goal, run_sweep, sweep_grid,
)
from features.market_features import market_features  # noqa: E402
from features.option_features import option_features  # noqa: E402
from features.regimes import market_regimes  # noqa: E402
from features.simulate import SimulationConfig, simulate_chain, simulate_daily  # noqa: E402
from features.calendar import business_days  # noqa: E402
from features.strategy_config import StrategyConfig  # noqa: E402
from features.vix_hedge import hedge_layers  # noqa: E402

OPTION_COLUMNS = [
    "quote_date", "root", "expiration", "settlement", "strike", "option_type", "bid", "ask", "mid",
    "underlying_price", "forward", "discount_factor", "years_to_expiry", "days_to_expiry", "iv",
    "delta", "gamma", "vega", "theta", "snapshot_kind",
]


def simulated_inputs(seed: int, start: date, end: date, config: StrategyConfig):
    """Sweep inputs on the simulated market (events from the checked-in macro calendar)."""
    from pipelines.events_calendar import published_events

    sessions = business_days(date(2000, 1, 3), end)
    events = published_events()
    cfg = SimulationConfig(seed=seed, chain_size="small")
    dm = simulate_daily(sessions, events, cfg)
    days = [d for d in sessions if d >= start]
    parts = []
    for i in range(0, len(days), 60):  # bounded memory: 60 sessions of chains at a time
        chain = pl.concat([simulate_chain(d, dm, cfg) for d in days[i : i + 60]])
        chain = chain.filter(pl.col("expiration") <= pl.col("quote_date") + pl.duration(days=75))
        parts.append(option_features(chain).filter(pl.col("snapshot_kind") == "eod").select(OPTION_COLUMNS))
    opts = pl.concat(parts)
    mf = market_features(dm.spx_daily, dm.breadth_daily, dm.vix_term_structure, dm.vx_futures, events)
    reg = market_regimes(mf)
    feats = mf.join(reg.drop([c for c in reg.columns if c in mf.columns and c != "date"]), on="date", how="left")
    return build_sweep_inputs(opts, feats, dm.spx_daily, dm.vx_futures, config)


def realpath_inputs(data: Path, config: StrategyConfig):
    """Sweep inputs on the real-path market (issue #10 item 1, helper "realpath"): the real
    S&P 500, VIX family, VVIX, SKEW and T-bill series, the real CFE VX settlements (all listed
    monthlies 2004-2025), the checked-in event calendar and the real breadth where it exists;
    the SPX chain is the real-path model chain of each session, standard monthlies only (the
    condor then enters the monthly nearest 45 days; weeklies would triple the rows of 20
    years).  Cash earns the T-bill series."""
    from features.realpath.chain import build_chain
    from features.realpath.inputs import settlement_prices
    from pipelines.events_calendar import published_events
    from pipelines.readers import read_file
    from pipelines.realpath import END, START, load_inputs

    inputs, sets, _ = load_inputs(data)
    config = replace(config, condor=replace(config.condor, roots=("SPX",)))
    parts = []
    for year in sorted(inputs["date"].dt.year().unique().to_list()):
        chain = build_chain(inputs.filter(pl.col("date").dt.year() == year), roots=("SPX",))
        if chain.height:
            chain = chain.filter(pl.col("expiration") <= pl.col("quote_date") + pl.duration(days=75))
            parts.append(option_features(chain).filter(pl.col("snapshot_kind") == "eod").select(OPTION_COLUMNS))
    opts = pl.concat(parts).filter(pl.col("quote_date").is_between(START, END))
    vix_ts = pl.concat([read_file(data / "cboe_vix_indices" / f"{s}_History.csv").tables["vix_term_structure"]
                        for s in ("VIX", "VIX9D", "VIX3M", "VIX6M", "SKEW", "VVIX")])
    vx = read_file(data / "cfe_vx_futures_2015_2025" / "all_listed_2004_2025" / "vix_futures_history.csv").tables["vx_futures"]
    vx = vx.filter(pl.col("contract").str.starts_with("VX "))  # monthlies: VIX options expire with them
    y = data / "yahoo_gspc_daily"  # the same two files load_inputs joins, with high/low/volume
    old = read_file(y / "GSPC_1927-12-30_2023-12-28_fja05680.csv.gz").tables["spx_daily"]
    new = read_file(y / "GSPC_2005-04-12_2025-04-04_jasonli.csv").tables["spx_daily"]
    spx = pl.concat([old.filter(pl.col("date") < new["date"].min()), new]).filter(pl.col("date").is_between(date(2003, 1, 1), END))
    breadth = pl.DataFrame(schema={"date": pl.Date, "advancing": pl.Int64, "declining": pl.Int64})
    events = published_events()
    mf = market_features(spx, breadth, vix_ts, vx, events)
    reg = market_regimes(mf)
    feats = mf.join(reg.drop([c for c in reg.columns if c in mf.columns and c != "date"]), on="date", how="left")
    settle = settlement_prices(inputs.select("date", "open", "close"), sets)
    rates = inputs.select("date", "rate").drop_nulls()  # each session accrues at the rate dated before it
    return build_sweep_inputs(opts, feats, settle, vx, config, rates)


def crisis_table(rows: dict[str, dict]) -> str:
    """Markdown: P&L (% of equity) per crisis window per strategy row."""
    head = "| window | " + " | ".join(rows) + " |"
    rule = "|---|" + "---:|" * len(rows)
    body = []
    for name in CRISES:
        cells = []
        for r in rows.values():
            v = r.get(name)
            cells.append("–" if v is None or v != v else f"{v:+.1%}")
        body.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *body])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--market", choices=["simulated", "real"], default="simulated")
    ap.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--chart", type=Path, default=None)
    ap.add_argument("--csv", type=Path, default=None, help="write every configuration's row here")
    ap.add_argument("--start", type=date.fromisoformat, default=date(2005, 1, 3))
    ap.add_argument("--end", type=date.fromisoformat, default=date(2025, 12, 31))
    ap.add_argument("--grid", choices=["full", "small"], default="full", help="small: 8 configurations (smoke runs)")
    ap.add_argument("--dask", nargs="?", const="local", default=None, metavar="ADDRESS",
                    help="evaluate the configurations on Dask: a scheduler address, or none for a local cluster of --workers")
    ap.add_argument("--workers", type=int, default=2, help="processes of the local Dask cluster (with --dask)")
    args = ap.parse_args(argv)
    config = StrategyConfig()
    t0 = time.perf_counter()
    if args.market == "real":
        inputs = realpath_inputs(args.data, config)
    else:
        inputs = simulated_inputs(args.seed, args.start, args.end, config)
    t1 = time.perf_counter()
    configs = sweep_grid() if args.grid == "full" else sweep_grid((0.0, 0.5), (0.0, 1.0), (0.0, 0.5), (3.0,), (0.5,))
    mapper = None
    if args.dask:
        from pipelines.distributed import map_on_dask

        address = None if args.dask == "local" else args.dask
        mapper = lambda fn, cs, shared: map_on_dask(fn, cs, shared, address=address, workers=args.workers)  # noqa: E731
    res = run_sweep(configs, inputs, mapper)
    t2 = time.perf_counter()
    where = f"on Dask ({args.dask if args.dask != 'local' else f'{args.workers} local workers'})" if args.dask else "one process"
    label = "REAL-PATH market (real daily data, model SPX chain)" if args.market == "real" else f"SIMULATED market (seed {args.seed})"
    print(f"{label}, sessions {inputs.book['date'].min()}..{inputs.book['date'].max()}; "
          f"condor book built in {t1 - t0:.0f} s, {len(configs)} configurations in {t2 - t1:.0f} s "
          f"({len(configs) / (t2 - t1) * 60:.0f} per minute, {where})\n")
    if args.csv:
        res.write_csv(args.csv)
    chosen = choose_default(res)
    unhedged = evaluate_config({"base_fraction": 0.0, "vxth_weight_scale": 0.0, "engine_fraction": 0.0}, inputs)
    print("Chosen on 2005-2014 (min in-sample drawdown ratio among configurations costing <= 1.5 %/yr net):")
    print("  ", chosen["config"])
    for p, label in (("is", "in sample 2005-2014"), ("oos", "out of sample 2015-2025")):
        if f"{p}_max_drawdown" not in chosen:
            print(f"  {label}: no sessions in this run")
            continue
        print(f"  {label}: max DD {chosen[f'{p}_max_drawdown']:.1%} vs unhedged {chosen[f'{p}_unhedged_max_drawdown']:.1%}"
              f" (ratio {chosen[f'{p}_dd_ratio']:.2f}); net hedge cost {chosen[f'{p}_hedge_cost_pct_yr']:.2%}/yr,"
              f" premium {chosen[f'{p}_premium_pct_yr']:.2%}/yr; CVaR95 {chosen[f'{p}_cvar_95']:.2%};"
              f" CAGR {chosen[f'{p}_cagr']:.2%} vs {chosen[f'{p}_unhedged_cagr']:.2%}")
    if "oos_dd_ratio" not in res.columns:
        return 0
    ok = meets_goal(chosen)
    print(f"  goal out of sample (DD ratio <= {GOAL_DD_RATIO}, cost <= {GOAL_COST:.1%}/yr): {'MET' if ok else 'NOT MET'}")
    hedged = res.filter(pl.col("oos_premium_pct_yr") > 0)
    within = hedged.filter(pl.col("oos_hedge_cost_pct_yr") <= GOAL_COST).sort("oos_dd_ratio")
    any_goal = hedged.filter((pl.col("oos_hedge_cost_pct_yr") <= GOAL_COST) & (pl.col("oos_dd_ratio") <= GOAL_DD_RATIO)).height
    print(f"  out of sample, {any_goal} of {hedged.height} hedged configurations meet the goal (hindsight, not a choice);")
    if within.height:
        best = within.row(0, named=True)
        print(f"  closest within the cost cap: DD ratio {best['oos_dd_ratio']:.2f} at {best['oos_hedge_cost_pct_yr']:.2%}/yr: {best['config']}")
    rows = {
        "unhedged": {n: unhedged[f"crisis_{n}_unhedged"] for n in CRISES},
        "ALVH (chosen)": {n: chosen[f"crisis_{n}_hedged"] for n in CRISES},
    }
    print("\nP&L per crisis window (% of initial equity):\n")
    print(crisis_table(rows))
    if args.chart:
        from pipelines.assets.hedge_frontier import frontier_chart

        frontier_chart(res, chosen["config_id"]).savefig(args.chart, dpi=80, bbox_inches="tight")
        print(f"\nchart: {args.chart}")
    layers = hedge_layers(inputs.book.select("date", "stress_loss"), inputs.features_asof, inputs.vx_futures,
                          replace(inputs.config, hedge=replace(inputs.config.hedge, **json.loads(chosen["config"]))))
    years = (inputs.book["date"].max() - inputs.book["date"].min()).days / 365.0
    per_layer = layers.group_by("layer").agg(
        (pl.col("event").str.ends_with("open").sum() / years).round(1).alias("positions_per_year"),
        (pl.col("event") == "monetize").sum().alias("monetized"),
        (pl.col("on").mean() * 100).round(0).alias("pct_sessions_on"),
        (pl.col("pnl").sum() / years / 1e4).round(2).alias("pnl_pct_equity_per_year"),
        (pl.col("costs").sum() / years / 1e4).round(2).alias("costs_pct_equity_per_year"),
        pl.col("stale_mark").sum().alias("stale_marks"),
    ).sort("layer")
    print("\nchosen configuration by layer, whole run:")
    print(per_layer)
    print("\nchosen (json):", json.dumps({k: v for k, v in chosen.items() if not k.startswith("crisis")}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
