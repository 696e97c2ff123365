"""Stage 4 — decisions and the backtest: iron condors, the layered VIX hedge, what they earn.

One multi-asset writes condor decisions, daily positions, trades, ALVH layers, the daily
backtest of three strategies side by side, and its summary. It continues the stored results
over the sessions they do not cover yet, carrying the state they are path-dependent through
(open positions, hedge warm-up, equity; :func:`features.backtest.carried_state`), so a daily
run reads a bounded window; a rebuild walks the history in steps the same way. Market inputs are read
from the point-in-time feature store: every revision of every feature row with the time
it became available, so a decision dated t sees only what was known at t's close.
Fills are at that session's end-of-day quotes, which the decision had seen (see
``features/backtest.py``).
"""

import json
from datetime import date, timedelta

import dagster as dg
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from features.backtest import carried_expirations, carried_state, option_dte_bound, run_backtest, summarize  # noqa: E402
from features.performance import stored_rate_series  # noqa: E402
from features.term_structure import listed_vx_expirations, model_vx_futures  # noqa: E402
from pipelines.assets.common import KINDS, code_version  # noqa: E402
from pipelines.checks import contract_check, contract_check_result  # noqa: E402
from pipelines.metadata import definition_metadata, png_markdown, table_metadata  # noqa: E402
from pipelines.warehouse import TABLES as LAYOUTS  # noqa: E402
from pipelines.resources import StrategyResource, WarehouseResource  # noqa: E402
from features.realpath.inputs import flag_trade_settlements  # noqa: E402
from pipelines.realpath import stored_settlements  # noqa: E402

GROUP = "decisions"
OWNERS = ["team:trading"]
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
    "hedge_layers": "Adaptive Layered VIX Hedge: base (stress-sized), VXTH and second-engine layers, each session's event and why, instrument, marks, size and P&L. One row per session per layer.",
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


def vx_futures_with_model(store, sessions: pl.Series, start: date | None = None, end: date | None = None) -> pl.DataFrame:
    """Stored VX settlements of ``start``..``end``, plus modelled ones for sessions that have none.

    Real VX history is often missing (e.g. the CFE files stop in 2015): the hedge is then
    priced on the forward VIX implied by the VIX family (``model_vx_futures``), and those
    rows say so in ``source``.
    """
    stored = store.read("vx_futures", start, end)
    missing = sessions.filter(~sessions.is_in(stored["date"].implode()))
    if missing.is_empty():
        return stored
    model = model_vx_futures(store.read("vix_term_structure", start, end), listed_vx_expirations(missing))
    return pl.concat([stored, model], how="diagonal_relaxed")


def stored_cash_rates(store) -> pl.DataFrame | None:
    """The stored T-bill series (``date, rate``) cash accrues at, or None: the configured constant."""
    return stored_rate_series(store.read("treasury_bill_rates") if store.files("treasury_bill_rates") else None)


def _version(path) -> int:
    """Write time (ns) in a stored file's name (``<kind>-<version>.parquet``)."""
    return int(path.stem.rsplit("-", 1)[1])


def option_sessions(store) -> dict[date, int]:
    """Every session with a stored option-features partition, with that partition's newest
    write time (ns); from the file listing, without reading any rows."""
    out: dict[date, int] = {}
    for path in store.files("option_features"):
        d = date.fromisoformat(path.parent.name.split("=", 1)[1])
        out[d] = max(out.get(d, 0), _version(path))
    return dict(sorted(out.items()))


def first_session_to_compute(store, sessions: dict[date, int], stored_daily: pl.DataFrame,
                             stored_parameters: str | None, parameters: str) -> date | None:
    """Where this run starts: the first session without stored results, or earlier when
    stored results are stale; None when every session is up to date.

    Stale means: computed with other strategy parameters (everything is recomputed), a
    session missing from or extra in the stored results, or an option chain rewritten after
    the stored results were written (a vendor file landed for an old session). Revised
    feature rows never make results stale: decisions read features as known at their
    session, so a later revision cannot change them.
    """
    days = list(sessions)
    if not days:
        return None
    if stored_daily.is_empty() or stored_parameters != parameters:
        return days[0]
    done = set(stored_daily["date"].unique().to_list())
    last = max(done)
    written = max(_version(p) for p in store.files("backtest_daily"))
    stale = [d for d in days if d <= last and (d not in done or sessions[d] > written)]
    stale += [d for d in done if d not in sessions]
    new = [d for d in days if d > last]
    candidates = stale + new
    if not candidates:
        return None
    first = min(candidates)
    # a session dropped from the inputs: restart at the first stored session after it
    return first if first in sessions else next((d for d in days if d > first), None)


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


class BacktestRunConfig(dg.Config):
    """``rebuild``: recompute the whole history instead of continuing from stored results."""

    rebuild: bool = False


#: Sessions computed per step: a rebuild walks the history in steps of this many sessions,
#: each continued from the state the previous ones left, so memory follows the step, not the history.
STEP_SESSIONS = 63


def _read_window(store, config, start: date, end: date, state, settlements: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The inputs of one step: chains of ``start``..``end`` plus the held expirations before
    ``start``; SPX and VX settlements from the earliest session any of them needs."""
    bound = option_dte_bound(config)
    window = store.read("option_features", start, end, columns=OPTION_COLUMNS,
                        where=(pl.col("days_to_expiry") <= bound) & (pl.col("snapshot_kind") == "eod"))
    held = carried_expirations(state)
    frames = [window]
    first = start
    if held.height:
        first = min(held["from_date"].min(), start)
        pre = store.read("option_features", first, start - timedelta(days=1), columns=OPTION_COLUMNS,
                         where=pl.col("expiration").is_in(held["expiration"].implode()) & (pl.col("snapshot_kind") == "eod"))
        frames.append(pre.join(held, on=["root", "expiration"]).filter(pl.col("quote_date") >= pl.col("from_date")).drop("from_date"))
    if state is not None and state.book_stress.height:
        first = min(first, state.book_stress["date"].min())
    options = pl.concat(frames, how="vertical_relaxed")
    sessions = pl.concat([options["quote_date"].unique(), state.book_stress["date"]] if state is not None else
                         [options["quote_date"].unique()]).unique()
    return {
        "options": options,
        # AM settles on Cboe SET where stored, else the open (flagged in the trades)
        "spx": settlements.filter(pl.col("date").is_between(first, end)),
        "vx": vx_futures_with_model(store, sessions, first, end),
    }


def _append(history: pl.DataFrame | None, new: pl.DataFrame) -> pl.DataFrame:
    return new if history is None or history.is_empty() else pl.concat([history, new], how="diagonal_relaxed")


def run_incremental(store, config, rebuild: bool = False, log=None) -> dict[str, pl.DataFrame] | None:
    """Compute the sessions that have no up-to-date results and store every table.

    Returns the tables as stored, or None when every session was already up to date.
    """
    params = json.dumps(config.to_dict(), sort_keys=True)
    sessions = option_sessions(store)
    stored_daily = store.read("backtest_daily")
    stored_summary = store.read("backtest_summary")
    stored_params = stored_summary["parameters"][0] if stored_summary.height and "parameters" in stored_summary.columns else None
    start = next(iter(sessions), None) if rebuild else first_session_to_compute(store, sessions, stored_daily, stored_params, params)
    if start is None:
        return None
    hist = {
        "condor_decisions": store.read("condor_decisions"), "condor_positions": store.read("condor_positions"),
        "hedge_layers": store.read("hedge_layers"), "backtest_daily": stored_daily, "condor_trades": store.read("condor_trades"),
    }
    hist = {k: (v.filter(pl.col("entry_date" if k == "condor_trades" else "date") < start) if v.height else v)
            for k, v in hist.items()}
    # trades entered before `start` but not closed by then are recomputed by the step
    features = point_in_time_features(store)
    settlements = stored_settlements(store)
    cash_rates = stored_cash_rates(store)
    todo = [d for d in sessions if d >= start]
    for i in range(0, len(todo), STEP_SESSIONS):
        step = todo[i:i + STEP_SESSIONS]
        state = carried_state(step[0], hist["condor_trades"], hist["backtest_daily"], hist["condor_positions"],
                              hist["hedge_layers"], config)
        inputs = _read_window(store, config, step[0], step[-1], state, settlements)
        r = run_backtest(inputs["options"], features.filter(pl.col("date") <= step[-1]), inputs["spx"], inputs["vx"],
                         config, cash_rates=cash_rates, state=state)
        for table, frame in (("condor_decisions", r.decisions), ("condor_positions", r.positions),
                             ("hedge_layers", r.hedges), ("backtest_daily", r.daily)):
            hist[table] = _append(hist[table], frame)
        old = hist["condor_trades"]
        hist["condor_trades"] = _append(
            old.join(r.trades.select("strategy", "position_id"), on=["strategy", "position_id"], how="anti") if old.height else old,
            r.trades,
        ).sort("strategy", "position_id")
        if log is not None:
            log(f"backtest: sessions {step[0]} .. {step[-1]} ({len(step)}) computed, {inputs['options'].height:,} option rows read")
        del inputs, r
    hist["condor_trades"] = flag_trade_settlements(hist["condor_trades"].drop("settlement_source", strict=False), settlements)
    daily = hist["backtest_daily"].sort("strategy", "date")
    summary = summarize(daily, hist["condor_trades"], config, hist["hedge_layers"], cash_rates).with_columns(
        start_date=pl.lit(daily["date"].min()), end_date=pl.lit(daily["date"].max()), parameters=pl.lit(params)
    )
    frames = {**hist, "backtest_summary": summary}
    for table in TABLES:
        store.write_table(table, frames[table])
    return frames


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            group_name=GROUP,
            owners=OWNERS,
            kinds=KINDS,
            deps=["option_features", "market_features", "regimes", "spx_daily", "vx_futures", "vix_term_structure",
                  "treasury_bill_rates", "spx_settlement_values"],
            code_version=code_version(__name__),
            metadata=definition_metadata(name, LAYOUTS[name].date_column),
            description=desc,
        )
        for name, desc in DESCRIPTIONS.items()
    ],
    check_specs=[contract_check(t) for t in TABLES],
    can_subset=False,
)
def strategy_backtest(
    context: dg.AssetExecutionContext, config: BacktestRunConfig, warehouse: WarehouseResource, strategy: StrategyResource
):
    """Continue the stored backtest over the sessions it has not seen (or rebuild it), in
    steps of :data:`STEP_SESSIONS` sessions each carried from the previous ones' state."""
    store = warehouse.store()
    strategy_config = strategy.to_strategy_config()
    frames = run_incremental(store, strategy_config, rebuild=config.rebuild, log=context.log.info)
    if frames is None:
        context.log.info("backtest: every session is up to date")
        frames = {table: store.read(table) for table in TABLES}
    charts = {
        "backtest_daily": {"equity_and_drawdowns": png_markdown(equity_chart(frames["backtest_daily"]))},
        "hedge_layers": {"layers_over_time": png_markdown(hedge_chart(frames["hedge_layers"]))},
    }
    plt.close("all")
    headline = {
        f"{row['strategy']}_{k}": float(row[k])
        for row in frames["backtest_summary"].iter_rows(named=True)
        for k in ("cagr", "max_drawdown", "sharpe")
        if k in row and row[k] is not None
    }
    for table, frame in frames.items():
        yield dg.MaterializeResult(
            asset_key=table,
            metadata=table_metadata(frame, LAYOUTS[table].date_column)
            | charts.get(table, {})
            | ({"parameters": dg.MetadataValue.json(strategy_config.to_dict())} if table == "backtest_summary" else {})
            | (headline if table == "backtest_summary" else {}),
        )
    for table in TABLES:
        yield contract_check_result(store, table)
