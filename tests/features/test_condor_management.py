"""Specifications of condor position management (features.condor_management) on hand-built chains."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from features.condor import condor_decisions
from features.condor_management import buy_price, manage_positions, sell_price
from features.strategy_config import CondorConfig, FillConfig, ManagementConfig, StrategyConfig

D0 = date(2024, 1, 2)
EXP = D0 + timedelta(days=44)
MID = FillConfig(model="mid", commission_per_contract=0.0)
ENTRY = {3850.0: 6.5, 3900.0: 10.5, 4100.0: 8.5, 4150.0: 4.5}  # mid credit 8.0, 4 contracts
DELTA = {3850.0: -0.10, 3900.0: -0.15, 4100.0: 0.17, 4150.0: 0.11, 3700.0: -0.10, 3750.0: -0.16, 3800.0: -0.25}


def _day(day: date, mids: dict[float, float], spot: float = 4000.0, root: str = "SPXW") -> list[dict]:
    dte = (EXP - day).days
    return [
        dict(quote_date=day, root=root, expiration=EXP, settlement="PM" if root == "SPXW" else "AM", strike=k,
             option_type="P" if k < 4000 else "C", bid=m - 0.5, ask=m + 0.5, mid=m, underlying_price=spot, forward=spot,
             discount_factor=1.0, years_to_expiry=dte / 365.0, days_to_expiry=float(dte), iv=0.2, delta=DELTA[k],
             gamma=0.001, vega=5.0, theta=-0.5)
        for k, m in mids.items()
    ]


def _filler(day: date) -> list[dict]:
    """A far expiry quoted on ``day`` so the session exists even when the condor's legs do not."""
    return [dict(quote_date=day, root="SPXW", expiration=day + timedelta(days=200), settlement="PM", strike=5000.0,
                 option_type="C", bid=1.0, ask=1.5, mid=1.25, underlying_price=4000.0, forward=4000.0,
                 discount_factor=1.0, years_to_expiry=200 / 365, days_to_expiry=200.0, iv=0.2, delta=0.01,
                 gamma=0.0, vega=0.1, theta=0.0)]


def _features(days) -> pl.DataFrame:
    return pl.DataFrame([dict(date=d, available_at=datetime(d.year, d.month, d.day, 16, 15), vix=15.0, vrp_vol=3.0,
                              rsi_14=50.0, macd_hist=0.0, in_event_window=False, vol_regime="normal",
                              term_regime="contango") for d in days])


def _run(later: list[list[dict]], mgmt: ManagementConfig = ManagementConfig(), fill: FillConfig = MID,
         root: str = "SPXW", settle: tuple[float, float] | None = None):
    chain = pl.DataFrame(_day(D0, ENTRY, root=root) + [r for rows in later for r in rows])
    cfg = StrategyConfig(condor=CondorConfig(entry_frequency="daily"), management=mgmt, fill=fill)
    dec = condor_decisions(chain.filter(pl.col("quote_date") == D0), _features([D0]), cfg)
    spx = pl.DataFrame({"date": [EXP], "open": [settle[0] if settle else 4000.0], "close": [settle[1] if settle else 4000.0]})
    return manage_positions(dec, chain, spx, cfg)


def test_profit_take_at_half_the_credit():
    # cost to close 5 + 4 - 2.5 - 3 = 3.5 <= 0.5 * 8
    daily, trades = _run([_day(D0 + timedelta(days=1), {3850.0: 2.5, 3900.0: 5.0, 4100.0: 4.0, 4150.0: 3.0})])
    t = trades.row(0, named=True)
    assert t["exit_reason"] == "profit_take" and t["exit_date"] == D0 + timedelta(days=1)
    assert t["exit_cost"] == pytest.approx(3.5)
    assert t["pnl"] == pytest.approx((8.0 - 3.5) * 100 * 4)


def test_no_exit_while_cost_is_above_profit_target():
    daily, trades = _run([_day(D0 + timedelta(days=1), {3850.0: 2.5, 3900.0: 6.0, 4100.0: 4.0, 4150.0: 3.0})])
    assert trades["exit_reason"][0] == "open"  # cost 4.5 > 4.0


def test_stop_at_two_credits_of_loss():
    # cost to close 30 + 5 - 10 - 1 = 24 = (1 + 2) * 8
    daily, trades = _run([_day(D0 + timedelta(days=1), {3850.0: 10.0, 3900.0: 30.0, 4100.0: 5.0, 4150.0: 1.0})])
    t = trades.row(0, named=True)
    assert t["exit_reason"] == "stop"
    assert t["pnl"] == pytest.approx((8.0 - 24.0) * 100 * 4)


def test_time_exit_at_21_days_to_expiry():
    d1 = EXP - timedelta(days=21)
    daily, trades = _run([_day(EXP - timedelta(days=22), ENTRY), _day(d1, ENTRY)])
    t = trades.row(0, named=True)
    assert t["exit_reason"] == "time" and t["exit_date"] == d1
    assert t["pnl"] == pytest.approx(0.0)


def test_breach_of_put_breakeven_closes_the_condor():
    # index 3880 < put breakeven 3900 - 8 = 3892; cost 14 + 3 - 8 - 1 = 8 (no profit/stop)
    daily, trades = _run([_day(D0 + timedelta(days=1), {3850.0: 8.0, 3900.0: 14.0, 4100.0: 3.0, 4150.0: 1.0}, spot=3880.0)])
    t = trades.row(0, named=True)
    assert t["exit_reason"] == "breach"
    assert t["pnl"] == pytest.approx(0.0)


def test_breach_ignored_when_configured():
    mgmt = ManagementConfig(breach_action="ignore")
    _, trades = _run([_day(D0 + timedelta(days=1), {3850.0: 8.0, 3900.0: 14.0, 4100.0: 3.0, 4150.0: 1.0}, spot=3880.0)], mgmt)
    assert trades["exit_reason"][0] == "open"


HOLD = ManagementConfig(profit_take=None, stop_multiple=None, time_exit_dte=None, breach_action="ignore")


def test_pm_settlement_uses_the_close_of_expiration_day():
    _, trades = _run([_filler(EXP)], HOLD, root="SPXW", settle=(3870.0, 3950.0))
    t = trades.row(0, named=True)
    assert t["exit_reason"] == "expiration" and t["settlement_price"] == 3950.0
    assert t["pnl"] == pytest.approx(8.0 * 100 * 4)  # all legs expire worthless


def test_am_settlement_uses_the_open_of_expiration_day():
    _, trades = _run([_filler(EXP)], HOLD, root="SPX", settle=(3870.0, 3950.0))
    t = trades.row(0, named=True)
    assert t["settlement_price"] == 3870.0
    assert t["pnl"] == pytest.approx((8.0 - 30.0) * 100 * 4)  # short 3900 put pays 30


def test_natural_fills_and_commissions_enter_the_cash_flows():
    fill = FillConfig(model="natural", commission_per_contract=1.0)
    # mid cost to close 4 + 4 - 2.5 - 3 = 2.5 <= 50 % of the 6.0 actually received
    _, trades = _run([_day(D0 + timedelta(days=1), {3850.0: 2.5, 3900.0: 4.0, 4100.0: 4.0, 4150.0: 3.0})], fill=fill)
    t = trades.row(0, named=True)
    assert t["credit_fill"] == pytest.approx(6.0)  # 10 + 8 - 7 - 5
    assert t["exit_reason"] == "profit_take"
    assert t["exit_cost"] == pytest.approx(4.5 + 4.5 - 2.0 - 2.5)
    assert t["pnl"] == pytest.approx((6.0 - 4.5) * 400 - 2 * 16.0)


def test_daily_pnl_sums_to_position_cash_flows():
    later = [_day(D0 + timedelta(days=i), {3850.0: 6.5 + i, 3900.0: 10.5 + 2 * i, 4100.0: 8.5 - i, 4150.0: 4.5 - 0.5 * i})
             for i in range(1, 4)]
    daily, trades = _run(later, fill=FillConfig(model="spread_fraction", commission_per_contract=0.65))
    t = trades.row(0, named=True)
    assert daily["pnl"].sum() == pytest.approx(t["pnl"])
    if t["exit_reason"] != "open":
        assert t["pnl"] == pytest.approx(t["cash_total"])
    attr = daily.select(pl.sum_horizontal("attr_delta", "attr_gamma", "attr_theta", "attr_vega", "attr_residual"))
    assert attr.to_series().to_list() == pytest.approx(daily["pnl"].to_list())


@pytest.mark.parametrize(
    "fill, buy, sell",
    [
        (FillConfig(model="mid"), 2.1, 2.1),
        (FillConfig(model="natural"), 2.2, 2.0),
        (FillConfig(model="spread_fraction", spread_fraction=0.5), 2.15, 2.05),
        (FillConfig(model="fixed_ticks", ticks=1), 2.15, 2.05),  # tick 0.05 below 3.00
    ],
)
def test_fill_models_price_a_buy_and_a_sell(fill, buy, sell):
    q = pl.DataFrame({"bid": [2.0], "ask": [2.2]})
    out = q.select(buy_price(fill).alias("b"), sell_price(fill).alias("s")).row(0)
    assert out == pytest.approx((buy, sell))


def test_fixed_ticks_never_worse_than_natural():
    q = pl.DataFrame({"bid": [5.0], "ask": [5.1]})
    out = q.select(buy_price(FillConfig(model="fixed_ticks", ticks=2)).alias("b")).item()
    assert out == pytest.approx(5.1)


def test_breach_roll_closes_tested_put_side_and_sells_new_vertical_at_entry_delta():
    mgmt = ManagementConfig(breach_action="roll")
    fill = FillConfig(model="mid", commission_per_contract=1.0)
    d1 = {3700.0: 5.0, 3750.0: 9.0, 3800.0: 12.0, 3850.0: 8.0, 3900.0: 14.0, 4100.0: 3.0, 4150.0: 1.0}
    daily, trades = _run([_day(D0 + timedelta(days=1), d1, spot=3880.0)], mgmt, fill=fill)
    old, new = trades.row(0, named=True), trades.row(1, named=True)
    assert old["exit_reason"] == "breach_roll"
    # tested puts bought back at mid (14 - 8), untested calls handed over at mid (3 - 1)
    assert old["exit_cost"] == pytest.approx(8.0)
    assert old["pnl"] == pytest.approx((8.0 - 8.0) * 400 - 16.0 - 8.0)  # 4 legs in, 2 legs out
    assert new["parent_id"] == old["position_id"] and new["entry_date"] == D0 + timedelta(days=1)
    assert (new["lp_strike"], new["sp_strike"], new["sc_strike"], new["lc_strike"]) == (3700.0, 3750.0, 4100.0, 4150.0)
    assert new["credit_fill"] == pytest.approx((9.0 - 5.0) + (3.0 - 1.0))
    assert (new["breakeven_put"], new["breakeven_call"]) == pytest.approx((3744.0, 4106.0))
    assert new["commissions"] == pytest.approx(8.0)  # only the two new legs traded
    assert daily["pnl"].sum() == pytest.approx(trades["pnl"].sum())


def test_breach_roll_falls_back_to_close_without_a_quoted_new_vertical():
    mgmt = ManagementConfig(breach_action="roll")
    d1 = {3850.0: 8.0, 3900.0: 14.0, 4100.0: 3.0, 4150.0: 1.0}  # new short would be 3850: its 3800 wing is not listed
    _, trades = _run([_day(D0 + timedelta(days=1), d1, spot=3880.0)], mgmt)
    assert trades.height == 1 and trades["exit_reason"][0] == "breach"


def _optopsy_2018(shared_data):
    readers = pytest.importorskip("pipelines.readers")
    from features.option_features import option_features

    chain = readers.read_file(shared_data / "optopsy_spxw_2018" / "SPX_2018.csv.gz").tables["spx_options"]
    return chain, option_features(chain)


def test_real_chain_unquoted_short_leg_is_model_marked_not_carried_stale(shared_data):
    """SPXW Feb-2018 condor through the 5 Feb 2018 VIX spike (optopsy sample).

    On 2018-02-05 the short 2625 put has no quote (bid = ask = 0).  Carrying its 2018-02-02
    mid (12.65) beside the other legs' fresh quotes would price the condor at a profit and
    fire a phantom profit-take; the leg is instead marked from that day's smile and the exit
    waits for a session where every leg is quoted.
    """
    chain, of = _optopsy_2018(shared_data)
    day = date(2018, 2, 2)
    entry = pl.DataFrame({
        "date": [day], "root": ["SPXW"], "expiration": [date(2018, 2, 28)], "settlement": ["PM"], "contracts": [1],
        "lp_strike": [2575.0], "sp_strike": [2625.0], "sc_strike": [2840.0], "lc_strike": [2890.0],
        "breakeven_put": [2615.5], "breakeven_call": [2849.5],
    })
    spx = of.group_by("quote_date").agg(pl.col("underlying_price").first().alias("close")).rename({"quote_date": "date"})
    spx = spx.with_columns(pl.col("close").alias("open"))
    cfg = StrategyConfig(management=ManagementConfig(time_exit_dte=None), fill=MID)
    daily, trades = manage_positions(entry, of, spx, cfg)
    crash = daily.filter(pl.col("date") == date(2018, 2, 5)).row(0, named=True)
    assert crash["held"]
    assert 0.0 <= -crash["value_mid"] <= 50.0  # a put spread 50 wide plus a call spread 50 wide, one side at most
    # on 2018-02-06 every leg is quoted: the mark is the raw mids straight from the file
    raw = chain.filter((pl.col("quote_date") == date(2018, 2, 6)) & (pl.col("expiration") == date(2018, 2, 28)))
    mid = {(r["strike"], r["option_type"]): (r["bid"] + r["ask"]) / 2 for r in raw.iter_rows(named=True)}
    expected = -mid[(2625.0, "P")] + mid[(2575.0, "P")] - mid[(2840.0, "C")] + mid[(2890.0, "C")]
    nxt = daily.filter(pl.col("date") == date(2018, 2, 6)).row(0, named=True)
    assert nxt["value_mid"] == pytest.approx(expected)


def test_a_book_with_no_entries_has_no_trades_and_keeps_the_trade_columns():
    chain = pl.DataFrame(_day(D0, ENTRY))
    # every gate passes but the regime gate: stressed markets open nothing
    stressed = _features([D0]).with_columns(vol_regime=pl.lit("stressed"))
    cfg = StrategyConfig(condor=CondorConfig(entry_frequency="daily"), fill=MID)
    decisions = condor_decisions(chain, stressed, cfg)
    assert decisions["action"].to_list() == ["skip"]
    spx = pl.DataFrame({"date": [EXP], "open": [4000.0], "close": [4000.0]})
    daily, trades = manage_positions(decisions, chain, spx, cfg)
    assert daily.is_empty() and trades.is_empty()
    assert {"lp_strike", "sp_strike", "sc_strike", "lc_strike", "pnl"} <= set(trades.columns)


def test_a_leg_whose_implied_vol_cannot_be_solved_keeps_the_book_greeks_finite():
    d1 = D0 + timedelta(days=1)
    later = _day(d1, {3850.0: 6.0, 3900.0: 10.0, 4100.0: 8.0, 4150.0: 4.0})
    for row in later:
        if row["strike"] == 3850.0:  # a price below intrinsic: no vol fits, iv and greeks NaN
            row.update(iv=float("nan"), delta=float("nan"), gamma=float("nan"), vega=float("nan"), theta=float("nan"))
    daily, _ = _run([later])
    assert daily.filter(pl.col("date") == d1)["net_vega"].is_finite().all()
