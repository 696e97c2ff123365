"""A backtest continued from stored state equals the full-history run, row for row.

The daily scheduled run computes only the new sessions, carrying the open condors, the
hedge's warm-up, the entry-frequency gate and each strategy's equity from what earlier runs
stored (:func:`features.backtest.carried_state`), and reads option rows only for the new
sessions plus the expirations it still holds (:func:`features.backtest.carried_expirations`).
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from backtest_market import backtest_market
from polars.testing import assert_frame_equal

from features.backtest import BacktestResult, carried_expirations, carried_state, run_backtest, summarize
from features.strategy_config import StrategyConfig

CONFIGS = {
    "default": StrategyConfig.from_dict({"wing_width": 50.0, "entry_frequency": "weekly"}),
    "rolls": StrategyConfig.from_dict({"breach_action": "roll", "profit_take": None, "entry_frequency": "daily",
                                       "engine_instrument": "call_spread", "vxth_weight_scale": 1.0}),
}
TABLES = ("decisions", "positions", "hedges", "daily")
KEYS = {"decisions": ["date"], "positions": ["date", "position_id"], "hedges": ["date", "layer"],
        "daily": ["strategy", "date"]}


@pytest.fixture(scope="module")
def market():
    return backtest_market()


def _run(mk: dict, cfg: StrategyConfig, chunks: list[date]) -> BacktestResult:
    """Run session chunks one after the other, each from the state the previous ones stored."""
    stored: dict[str, pl.DataFrame] = {}
    starts = [None, *chunks]
    ends = [*chunks, None]
    for start, end in zip(starts, ends, strict=True):
        state = None if start is None else carried_state(
            start, stored["trades"], stored["daily"], stored["positions"], stored["hedges"], cfg
        )
        opts = mk["option_features"]
        window = opts.filter(True if start is None else pl.col("quote_date") >= start)
        if end is not None:
            window = window.filter(pl.col("quote_date") < end)
        held = carried_expirations(state)
        pre = opts.join(held, on=["root", "expiration"]).filter(
            (pl.col("quote_date") >= pl.col("from_date")) & (pl.col("quote_date") < start)
        ).drop("from_date") if start is not None else opts.clear()
        days = window["quote_date"]
        spx = mk["spx_daily"].filter(pl.col("date") <= days.max())
        vx = mk["vx_futures"].filter(pl.col("date") <= days.max())
        feats = mk["market"].filter(pl.col("date") <= days.max())
        r = run_backtest(pl.concat([pre, window]), feats, spx, vx, cfg, state=state)
        new = {"decisions": r.decisions, "positions": r.positions, "hedges": r.hedges, "daily": r.daily}
        for name, frame in new.items():
            stored[name] = frame if name not in stored else pl.concat([stored[name], frame], how="diagonal_relaxed")
        old = stored.get("trades")
        stored["trades"] = r.trades if old is None else pl.concat(
            [old.join(r.trades.select("strategy", "position_id"), on=["strategy", "position_id"], how="anti"), r.trades],
            how="diagonal_relaxed",
        )
    return BacktestResult(daily=stored["daily"], summary=summarize(stored["daily"], stored["trades"], cfg, stored["hedges"]),
                          trades=stored["trades"], decisions=stored["decisions"], hedges=stored["hedges"],
                          positions=stored["positions"])


def _same(a: pl.DataFrame, b: pl.DataFrame, keys: list[str]) -> None:
    cols = [c for c in a.columns if c != "units"]
    assert_frame_equal(a.select(cols).sort(keys), b.select(cols).sort(keys), check_exact=True)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_chunked_and_daily_continuations_equal_the_full_history_run(market, name: str) -> None:
    cfg = CONFIGS[name]
    full = _run(market, cfg, [])
    sessions = market["spx_daily"]["date"]
    assert full.trades.filter(pl.col("strategy") == "unhedged").height >= 3
    if name == "rolls":
        assert full.trades["parent_id"].drop_nulls().len() > 0, "no roll happened: the case is not exercised"
    # monthly chunks, then the last eight sessions one at a time (the daily schedule)
    chunks = [sessions[i] for i in range(21, sessions.len() - 8, 21)] + sessions.tail(8).to_list()
    # the hedge holds its VIX calls across chunk boundaries: the carried positions are exercised
    h = full.hedges.sort("layer", "date")
    kept = h.filter(pl.col("on") & (pl.col("event") == "hold") & pl.col("date").is_in(chunks))
    assert kept.height >= 3, "no hedge position is carried across a chunk boundary"
    continued = _run(market, cfg, chunks)
    for table in TABLES:
        _same(getattr(full, table), getattr(continued, table), KEYS[table])
    _same(full.trades, continued.trades, ["strategy", "position_id"])
    assert_frame_equal(full.summary, continued.summary, check_exact=True)


def test_a_continued_run_reads_only_the_held_expirations_before_its_start(market) -> None:
    cfg = CONFIGS["default"]
    sessions = market["spx_daily"]["date"]
    start = sessions[40]
    first = _run(market, cfg, [start])  # stores sessions before `start`, then continues
    before = first.daily.filter(pl.col("date") < start)
    state = carried_state(start, first.trades.filter(pl.col("entry_date") < start), before,
                          first.positions.filter(pl.col("date") < start), first.hedges.filter(pl.col("date") < start), cfg)
    held = carried_expirations(state)
    open_at_start = first.trades.filter(
        (pl.col("entry_date") < start) & ((pl.col("exit_date") >= start) | pl.col("exit_date").is_null())
    )
    assert set(held["expiration"].to_list()) == set(open_at_start["expiration"].to_list())
    # bounded by a position's life (entry at most max_dte before its expiration), not by history
    assert (held["expiration"] >= start).all()
    assert (held["from_date"] >= start - timedelta(days=cfg.condor.max_dte)).all()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_decision_table_is_truncation_invariant(market, name: str) -> None:
    """Rows dated up to a cut are the same whether the data end there or go on: nothing
    later leaks into them (the trades table differs only in what is still open at the cut)."""
    cfg = CONFIGS[name]
    full = _run(market, cfg, [])
    for cut in market["spx_daily"]["date"].gather([70, 130]):
        short = {k: v.filter(pl.col("quote_date" if k == "option_features" else "date") <= cut) for k, v in market.items()}
        part = _run(short, cfg, [])
        for table in TABLES:
            _same(getattr(full, table).filter(pl.col("date") <= cut), getattr(part, table), KEYS[table])
        closed = pl.col("exit_date") <= cut
        _same(full.trades.filter(closed), part.trades.filter(closed), ["strategy", "position_id"])
