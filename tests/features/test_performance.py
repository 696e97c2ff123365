"""Specifications of the performance metrics (features.performance)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from features.performance import cash_rate_per_session, hedge_statistics, hedge_trades, performance_summary, xirr
from features.strategy_config import BacktestConfig


def test_xirr_matches_excel_documentation_example():
    dates = [date(2008, 1, 1), date(2008, 3, 1), date(2008, 10, 30), date(2009, 2, 15), date(2009, 4, 1)]
    assert xirr(dates, [-10000, 2750, 4250, 3250, 2750]) == pytest.approx(0.373362535, abs=1e-8)


def _path(n=300, seed=5):
    rng = np.random.default_rng(seed)
    dates = np.busday_offset(np.datetime64("2023-01-02"), np.arange(n), roll="forward").astype("datetime64[D]")
    r = rng.normal(0.0004, 0.01, n)
    eq = 1e6 * np.cumprod(1 + r)
    return dates, r, eq, np.diff(np.r_[1e6, eq])


def test_metrics_match_plain_numpy_formulas():
    dates, r, eq, pnl = _path()
    cfg = BacktestConfig(initial_equity=1e6, cash_rate=0.03)
    m = performance_summary(pl.DataFrame({"date": dates, "pnl": pnl, "equity": eq}), None, cfg)
    years = (dates[-1] - dates[0]).astype(int) / 365
    cagr = (eq[-1] / 1e6) ** (1 / years) - 1
    dd = np.r_[365 / 252, np.diff(dates).astype(float)]  # cash earns calendar days
    ex = r - 0.03 * dd / 365
    peak = np.maximum.accumulate(np.r_[1e6, eq])
    mdd = (np.r_[1e6, eq] / peak - 1).min()
    srt = np.sort(r)
    q = np.percentile(r, 5)
    assert m["cagr"] == pytest.approx(cagr)
    assert m["annual_vol"] == pytest.approx(r.std(ddof=1) * np.sqrt(252))
    assert m["sharpe"] == pytest.approx(ex.mean() / r.std(ddof=1) * np.sqrt(252))
    assert m["sortino"] == pytest.approx(ex.mean() / np.sqrt(np.mean(np.minimum(ex, 0) ** 2)) * np.sqrt(252))
    assert m["max_drawdown"] == pytest.approx(mdd)
    assert m["calmar"] == pytest.approx(cagr / abs(mdd))
    assert m["var_95"] == pytest.approx(-q)
    assert m["cvar_95"] == pytest.approx(-srt[srt <= q].mean())


def test_irr_is_dropped_without_external_flows_and_solved_from_them_otherwise():
    dates, _, eq, pnl = _path()
    daily = pl.DataFrame({"date": dates, "pnl": pnl, "equity": eq})
    cfg = BacktestConfig(initial_equity=1e6)
    assert "irr" not in performance_summary(daily, None, cfg)
    flows = pl.DataFrame({"date": [dates[100].astype(object)], "amount": [-200_000.0]})  # a contribution
    got = performance_summary(daily, None, cfg, flows=flows)["irr"]
    assert got == pytest.approx(xirr([dates[0], dates[100], dates[-1]], [-1e6, -200_000.0, eq[-1]]))
    assert got != pytest.approx(performance_summary(daily, None, cfg)["cagr"], rel=1e-3)


def test_cash_accrues_at_the_latest_rate_published_before_each_session():
    rates = pl.DataFrame({"date": [date(2024, 1, 3), date(2024, 1, 10)], "rate": [0.05, 0.04]})
    d = np.array(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-10", "2024-01-11"], dtype="datetime64[D]")
    assert cash_rate_per_session(d, 0.02, rates).tolist() == [0.02, 0.02, 0.05, 0.05, 0.04]
    assert cash_rate_per_session(d, 0.02, None).tolist() == [0.02] * 5


def _layer_rows():
    """open 10 (cost 60), hold, roll: sell 10 and open 4 (cost 84), hold, monetize 4 (cost 24)."""
    d0 = date(2024, 1, 2)
    return pl.DataFrame({
        "date": [d0 + timedelta(days=i) for i in range(6)], "layer": ["base"] * 6,
        "event": ["open", "hold", "roll+open", "hold", "monetize", "none"],
        "on": [True, True, True, True, False, False],
        "contracts": [10.0, 10.0, 4.0, 4.0, 0.0, 0.0], "traded": [10.0, 0.0, 14.0, 0.0, 4.0, 0.0],
        "costs": [60.0, 0.0, 84.0, 0.0, 24.0, 0.0],
        "pnl": [-60.0, 100.0, -300.0 - 84.0, 50.0, 400.0 - 24.0, 0.0],
        "stale_mark": [False, False, True, False, False, False],
    })


def test_hedge_positions_are_cut_at_each_sale_with_costs_split_by_contracts():
    t = hedge_trades(_layer_rows())
    assert t["exit_reason"].to_list() == ["roll", "monetize"]
    # first: -60 + 100 - 300 - (84 - 4*6) ; second: -24 + 50 + 400 - 24
    assert t["pnl"].to_list() == pytest.approx([-60 + 100 - 300 - 60, -24 + 50 + 400 - 24])
    assert t["contracts_traded"].to_list() == [20.0, 8.0]
    assert t["holding_days"].to_list() == [2.0, 2.0]


def test_hedge_turnover_hit_rate_and_stale_marks():
    s = hedge_statistics(_layer_rows(), days=365.0, equity=1e6)
    assert s["hedge_hit_rate"] == 0.5
    assert s["hedge_contracts_traded_per_year"] == 28.0
    assert s["hedge_turnover"] == pytest.approx(28.0 / np.mean([10, 10, 4, 4, 0, 0]))
    assert s["stale_marks"] == 1.0
    assert s["hedge_costs_per_year"] == 168.0
