"""The ALVH frontier: sweep, in-sample choice, out-of-sample report, charts.

    python scripts/hedge_frontier_report.py --warehouse /tmp/real [--chart docs/hedge_frontier_real.png]
    python scripts/hedge_frontier_report.py --simulated [--seed 7] [--chart docs/hedge_frontier_simulated.png]

``--warehouse`` (default ``$VOLSIGNALS_WAREHOUSE``) sweeps the condor book that the pipeline
stored there, e.g. after ``volsignals run --market real --start 2005-01-03 --end 2025-03-19``:
the same inputs as the ``hedge_frontier`` asset (:func:`pipelines.assets.hedge_frontier.stored_book_inputs`),
so its figures are the asset's; it says whether they reproduce the asset's stored table.
``--simulated`` builds the embedded simulator's market in memory instead (daily tables from the
2000-01-03 origin, small chains for every session 2005-01-03..2025-12-31, option features,
market features and regimes) and runs the condor book once.  Either way it then runs every
configuration of :func:`features.hedge_sweep.sweep_grid` and prints the chosen configuration
(selected on 2005-2014 only), its in- and out-of-sample figures, whether it meets the goal out
of sample, the frontier's closest approach to the goal, and the per-crisis table.  Simulated
numbers are only a development check: the simulator's crises are not 2008 or 2020, only
windows with those dates.
"""

from __future__ import annotations

import argparse
import json
import os
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
    CRISES, GOAL_COST, GOAL_DD_RATIO, PERIODS, build_sweep_inputs, choose_default, evaluate_config, meets_goal, run_sweep, sweep_grid,
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


def stored_inputs(warehouse: str | None):
    """Sweep inputs from a warehouse the pipeline built (e.g. by ``volsignals run --market
    real``): the stored condor book and features, exactly what the ``hedge_frontier`` asset
    sweeps, and that asset's stored table (empty when it was never materialized)."""
    from pipelines.assets.hedge_frontier import TABLE, stored_book_inputs
    from pipelines.resources import StrategyResource
    from pipelines.warehouse import Warehouse

    store = Warehouse(warehouse)  # the pipeline's own strategy parameters, as pipelines/definitions.py reads them
    config = StrategyResource.from_json(os.environ.get("VOLSIGNALS_STRATEGY")).to_strategy_config()
    stored = store.read(TABLE) if store.files(TABLE) else pl.DataFrame()
    return stored_book_inputs(store, config), stored


def same_as_stored(results: pl.DataFrame, stored: pl.DataFrame) -> bool:
    """Whether this sweep reproduces the asset's stored table, figure for figure (NaN, e.g.
    a drawdown ratio over a book that never drew down, equals NaN)."""
    from polars.testing import assert_frame_equal

    cols = [c for c in results.columns if c in stored.columns]
    try:
        assert_frame_equal(results.sort("config_id").select(cols), stored.sort("config_id").select(cols),
                           check_dtypes=False, check_exact=False, rel_tol=0.0, abs_tol=1e-9)
    except AssertionError:
        return False
    return True


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
    source = ap.add_mutually_exclusive_group()
    source.add_argument("--warehouse", default=None, help="the pipeline's warehouse (default $VOLSIGNALS_WAREHOUSE)")
    source.add_argument("--simulated", action="store_true", help="the simulator's market, built in memory")
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
    stored = pl.DataFrame()
    if args.simulated:
        inputs = simulated_inputs(args.seed, args.start, args.end, config)
        label = f"SIMULATED market (seed {args.seed}); condor book built"
    else:
        inputs, stored = stored_inputs(args.warehouse)
        label = f"condor book stored in {args.warehouse or '$VOLSIGNALS_WAREHOUSE'}; read"
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
    print(f"{label}, sessions {inputs.book['date'].min()}..{inputs.book['date'].max()}; "
          f"{t1 - t0:.0f} s, {len(configs)} configurations in {t2 - t1:.0f} s "
          f"({len(configs) / (t2 - t1) * 60:.0f} per minute, {where})")
    if stored.height:
        verdict = "yes" if same_as_stored(res, stored) else "NO (stored by other code or another strategy config)"
        print(f"equal to the stored hedge_frontier table ({stored.height} configurations): {verdict}")
    print()
    if args.csv:
        res.write_csv(args.csv)
    if "is_dd_ratio" not in res.columns:
        print(f"no in-sample session ({PERIODS['is'][0]}..{PERIODS['is'][1]}) in this book: no configuration is chosen")
        return 0
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
