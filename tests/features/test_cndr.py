"""Specifications of the CNDR-rules benchmark (features.cndr) on a hand-built chain."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from features.cndr import cndr_benchmark, cndr_entries
from features.strategy_config import BacktestConfig, CndrConfig, FillConfig, StrategyConfig

BEFORE, ROLL, NEXT = date(2024, 1, 18), date(2024, 1, 19), date(2024, 2, 16)  # third Fridays
# (strike, type, mid, delta) of the February SPX monthly on the January roll; made-up quotes
FEB = [
    (3600.0, "P", 3.0, -0.03), (3650.0, "P", 5.0, -0.06), (3800.0, "P", 20.0, -0.19), (3850.0, "P", 26.0, -0.22),
    (4150.0, "C", 18.0, 0.21), (4200.0, "C", 12.0, 0.18), (4350.0, "C", 4.0, 0.05), (4400.0, "C", 2.0, 0.03),
]


def _row(day, exp, k, o, mid, delta, root="SPX"):
    t = max((exp - day).days, 0) / 365
    return dict(quote_date=day, root=root, expiration=exp, settlement="AM" if root == "SPX" else "PM", strike=k,
                option_type=o, bid=mid - 0.5, ask=mid + 0.5, mid=mid, underlying_price=4000.0, forward=4000.0,
                discount_factor=1.0, years_to_expiry=t, days_to_expiry=t * 365, iv=0.2, delta=delta, gamma=0.001,
                vega=5.0, theta=-0.5)


def _chain() -> pl.DataFrame:
    rows = [_row(BEFORE, ROLL, 4000.0, "C", 10.0, 0.5)]  # the expiring January monthly, quoted the day before
    rows += [_row(ROLL, NEXT, k, o, m, d) for k, o, m, d in FEB]
    rows += [_row(NEXT, date(2024, 6, 21), 5000.0, "C", 1.0, 0.01, root="SPXW")]  # session on the settlement day
    return pl.DataFrame(rows)


CFG = StrategyConfig(fill=FillConfig(model="mid", commission_per_contract=0.0),
                     backtest=BacktestConfig(initial_equity=1_000_000.0, cash_rate=0.0), cndr=CndrConfig())


def test_rolls_on_the_monthly_expiration_into_the_next_monthly_at_cndr_deltas():
    e = cndr_entries(_chain(), CFG.cndr).row(0, named=True)
    assert e["date"] == ROLL and e["expiration"] == NEXT
    assert (e["lp_strike"], e["sp_strike"], e["sc_strike"], e["lc_strike"]) == (3650.0, 3800.0, 4150.0, 4350.0)
    assert e["mid_credit"] == pytest.approx(20 + 18 - 5 - 4)


def test_holds_to_am_settlement_with_units_per_index_notional():
    spx = pl.DataFrame({"date": [BEFORE, ROLL, NEXT], "open": [4000.0, 4000.0, 3700.0], "close": [4000.0, 4000.0, 3990.0]})
    daily, trades = cndr_benchmark(_chain(), spx, CFG)
    units = 1_000_000.0 / (4000.0 * 100)  # 2.5 condors
    expected = units * 100 * (29.0 - (3800.0 - 3700.0))  # short 3800 put settles 100 in the money on the open
    assert trades["exit_reason"][0] == "expiration"
    assert trades["pnl"][0] == pytest.approx(expected)
    assert daily["equity"][-1] == pytest.approx(1_000_000.0 + expected)
    assert daily["pnl"].sum() == pytest.approx(expected)


def test_collateral_earns_the_cash_rate_before_the_first_roll():
    cfg = StrategyConfig(fill=CFG.fill, backtest=BacktestConfig(initial_equity=1_000_000.0, cash_rate=0.0365))
    spx = pl.DataFrame({"date": [BEFORE, ROLL, NEXT], "open": [4000.0] * 3, "close": [4000.0] * 3})
    daily, _ = cndr_benchmark(_chain(), spx, cfg)
    assert daily["interest"][1] == pytest.approx(1_000_000.0 * 0.0365 / 365)
