"""Specifications of the AMM-versus-condor comparison (features.amm), against closed forms."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from features.amm import (
    amm_vs_condor_daily,
    comparison_summary,
    condor_decomposition,
    condor_payoff,
    constant_product_pool,
    impermanent_loss,
    lvr_step_expectation,
    payoff_curves,
    payoff_metrics,
)
from features.black76 import black76_greeks
from features.condor_management import manage_positions
from features.strategy_config import FillConfig, ManagementConfig, StrategyConfig


def _prices(s: np.ndarray, start: date = date(2024, 1, 2)) -> pl.DataFrame:
    return pl.DataFrame({"date": [start + timedelta(days=i) for i in range(s.size)], "price": s})


def _gbm(n: int, sigma: float, dt: float, seed: int, s0: float = 4000.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n - 1)
    return s0 * np.exp(np.r_[0.0, np.cumsum(-0.5 * sigma**2 * dt + sigma * np.sqrt(dt) * z)])


# --- the pool against closed forms ------------------------------------------------------------


@pytest.mark.parametrize(("r", "il"), [(1.0, 0.0), (4.0, -0.2), (0.25, -0.2), (2.25, 2 * 1.5 / 3.25 - 1)])
def test_impermanent_loss_matches_the_closed_form_at_known_ratios(r, il):
    assert impermanent_loss(r) == pytest.approx(il, abs=1e-15)


def test_the_pools_impermanent_loss_is_two_root_r_over_one_plus_r_minus_one_on_a_path():
    pool = constant_product_pool(_prices(_gbm(300, 0.3, 1 / 365, seed=1)), 1e6)
    r = pool["price_ratio"].to_numpy()
    assert pool["impermanent_loss"].to_numpy() == pytest.approx(2 * np.sqrt(r) / (1 + r) - 1, abs=1e-14)
    # in dollars: pool minus hold = -(V0/2)(sqrt r - 1)^2
    gap = (pool["pool_value"] - pool["hold_value"]).to_numpy()
    assert gap == pytest.approx(-0.5e6 * (np.sqrt(r) - 1) ** 2, abs=1e-6)


def _swap_reference(s: np.ndarray, capital: float) -> tuple[np.ndarray, np.ndarray]:
    """Reserves of a fee-less x*y=k pool moved by arbitrage swaps (Uniswap v2's getAmountOut).

    A slow, independent reference: at each step an arbitrageur swaps ``dx`` SPX units in (or
    out) for ``y - k/(x + dx)`` cash, with ``dx`` found by bisection so that the pool's
    marginal price ``y/x`` equals the index; the invariant is never solved in closed form.
    """
    x, y = capital / (2 * s[0]), capital / 2
    k = x * y
    xs, ys = [x], [y]
    for target in s[1:]:  # reference implementation: one swap per step
        lo, hi = -x * (1 - 1e-12), x * 1e3
        for _ in range(200):
            dx = 0.5 * (lo + hi)
            nx = x + dx
            ny = k / nx  # the swap pays out y - k / (x + dx) cash, leaving k / (x + dx)
            if ny / nx > target:
                lo = dx
            else:
                hi = dx
        x, y = x + dx, k / (x + dx)
        xs.append(x)
        ys.append(y)
    return np.array(xs), np.array(ys)


def test_pool_value_equals_two_root_k_s_at_every_step_and_matches_swap_by_swap_arbitrage():
    s = _gbm(40, 0.4, 1 / 365, seed=2)
    pool = constant_product_pool(_prices(s), 250_000.0)
    k = (250_000.0 / (2 * s[0])) * (250_000.0 / 2)
    assert pool["pool_value"].to_numpy() == pytest.approx(2 * np.sqrt(k * s), rel=1e-13)
    x, y = _swap_reference(s, 250_000.0)
    assert pool["pool_x"].to_numpy() == pytest.approx(x, rel=1e-9)
    assert pool["pool_y"].to_numpy() == pytest.approx(y, rel=1e-9)
    assert pool["pool_value"].to_numpy() == pytest.approx(x * s + y, rel=1e-9)


def test_lvr_is_the_gap_to_the_rebalancing_portfolio_and_never_negative():
    s = _gbm(500, 0.25, 1 / 365, seed=3)
    pool = constant_product_pool(_prices(s), 1e6)
    x_prev = np.r_[pool["pool_x"][0], pool["pool_x"].to_numpy()[:-1]]
    rebal = 1e6 + np.cumsum(x_prev * np.r_[0.0, np.diff(s)])  # holds the pool's SPX units, self-financing
    assert pool["rebalancing_value"].to_numpy() == pytest.approx(rebal, rel=1e-12)
    assert pool["lvr_cum"].to_numpy() == pytest.approx(rebal - pool["pool_value"].to_numpy(), abs=1e-6)
    assert pool["lvr"].cum_sum().to_numpy() == pytest.approx(pool["lvr_cum"].to_numpy(), abs=1e-6)
    assert (pool["lvr"] >= 0).all()


def test_lvr_rate_sigma_squared_over_eight_recovered_from_a_gbm_path_within_sampling_error():
    """Per step LVR / V_{t-1} = (sqrt r - 1)^2 / 2; its mean over n steps divided by dt estimates
    sigma^2/8.  Tolerance: 4 standard errors of that mean (the sample std of the per-step
    rate over sqrt(n); about sqrt(2/n) = 0.45 % of sigma^2/8 here).  The discretization bias
    (exact step expectation 1 - exp(-sigma^2 dt/8) against sigma^2 dt/8) is 1e-5 relative,
    far inside."""
    sigma, dt, n = 0.2, 1 / 365, 100_000
    pool = constant_product_pool(_prices(_gbm(n + 1, sigma, dt, seed=4)), 1e6)
    v_prev = pool["pool_value"].to_numpy()[:-1]
    rate = pool["lvr"].to_numpy()[1:] / v_prev / dt
    se = rate.std(ddof=1) / np.sqrt(rate.size)
    assert abs(rate.mean() - sigma**2 / 8) < 4 * se
    assert abs(rate.mean() - lvr_step_expectation(sigma, dt) / dt) < 4 * se
    assert se / (sigma**2 / 8) == pytest.approx(np.sqrt(2 / n), rel=0.05)
    # the realized-variance breakeven fee V (ln r)^2 / 8 measures the same rate
    fee = pool["breakeven_fee"].to_numpy()[1:] / v_prev / dt
    assert abs(fee.mean() - sigma**2 / 8) < 4 * fee.std(ddof=1) / np.sqrt(n)


def test_the_pool_at_a_session_uses_only_prices_up_to_that_session():
    s = _gbm(60, 0.3, 1 / 365, seed=5)
    full = constant_product_pool(_prices(s), 1e6)
    head = constant_product_pool(_prices(s[:30]), 1e6)
    assert full.head(30).equals(head)


@pytest.mark.parametrize("bad", [np.array([4000.0, -1.0, 4100.0]), np.array([4000.0, np.nan, 4100.0]), np.array([4000.0])])
def test_bad_prices_are_refused_with_a_clear_error(bad):
    with pytest.raises(ValueError, match="price"):
        constant_product_pool(_prices(bad), 1e6)


def test_non_positive_capital_is_refused():
    with pytest.raises(ValueError, match="capital"):
        constant_product_pool(_prices(np.array([4000.0, 4010.0])), 0.0)


# --- payoffs ----------------------------------------------------------------------------------


def test_condor_payoff_is_credit_between_the_shorts_and_capped_by_the_wings():
    strikes = {"lp": 3700.0, "sp": 3850.0, "sc": 4150.0, "lc": 4300.0}
    s = np.array([1000.0, 3700.0, 3800.0, 4000.0, 4200.0, 4300.0, 9000.0])
    pnl = condor_payoff(strikes, credit=6.0, contracts=2, price=s)
    assert pnl.tolist() == pytest.approx([-28800.0, -28800.0, -8800.0, 1200.0, -8800.0, -28800.0, -28800.0])


def test_gamma_matched_pool_has_the_condors_carry_at_r_one_and_an_unbounded_loss():
    trade = dict(lp_strike=3700.0, sp_strike=3850.0, sc_strike=4150.0, lc_strike=4300.0, credit_fill=6.0, contracts=2,
                 entry_date=date(2024, 1, 2), expiration=date(2024, 2, 16), entry_underlying=4000.0)
    c = payoff_curves(trade, entry_dollar_gamma=-2.0e5, entry_theta=40.0, ratios=np.array([0.25, 1.0, 9.0]))
    assert c["pool_fees"][0] == pytest.approx(40.0 * 45)
    assert c["pool_pnl"][1] == pytest.approx(1800.0)
    # V_m = 1.6e6: at r = 9 the pool gives back (V_m/2)(3 - 1)^2 = 3.2e6, beyond any wing cap
    assert c["pool_il_pnl"][2] == pytest.approx(-3.2e6)
    assert c["condor_pnl"].min() == pytest.approx(-100 * 2 * (150 - 6.0))


# --- the condor's decomposition ---------------------------------------------------------------

IV = 0.15


def _flat_vol_market(n: int = 30, seed: int = 3):
    """Black-76 chain with one flat implied vol, forward = spot, no rates, mid = model price."""
    rng = np.random.default_rng(seed)
    days = np.busday_offset(np.datetime64("2024-01-02"), np.arange(n), roll="forward").astype("datetime64[D]")
    ret = np.r_[0.0, IV / np.sqrt(252) * rng.standard_normal(n - 1)]
    s = 4000 * np.exp(np.cumsum(ret))
    exp = np.datetime64("2024-02-23")
    t = (exp - days).astype(float) / 365
    k = np.arange(3000.0, 5000.0, 25.0)
    d = np.repeat(np.arange(n), k.size)
    kk = np.tile(k, n)
    frames = []
    for call in (True, False):
        g = black76_greeks(s[d], kk, t[d], IV, 1.0, np.full(kk.size, call))
        frames.append(pl.DataFrame({
            "quote_date": days[d], "root": "SPXW", "expiration": np.full(kk.size, exp), "settlement": "PM", "strike": kk,
            "option_type": "C" if call else "P", "bid": g["price"] - 0.05, "ask": g["price"] + 0.05, "mid": g["price"],
            "underlying_price": s[d], "forward": s[d], "discount_factor": 1.0, "years_to_expiry": t[d],
            "days_to_expiry": t[d] * 365, "iv": IV, "delta": g["delta"], "gamma": g["gamma"], "vega": g["vega"],
            "theta": g["theta"],
        }))
    entries = pl.DataFrame({
        "date": [days[0].item()], "root": "SPXW", "expiration": [exp.item()], "settlement": "PM", "contracts": [10],
        "lp_strike": [3700.0], "sp_strike": [3850.0], "sc_strike": [4150.0], "lc_strike": [4300.0],
        "breakeven_put": [1.0], "breakeven_call": [1e9],
    })
    spx = pl.DataFrame({"date": days, "open": s, "close": s})
    return pl.concat(frames), entries, spx


@pytest.fixture(scope="module")
def held_condor():
    """One condor held (no exit rule, mid fills, no commission) through 30 sessions of a
    constant-vol Black-76 market, aggregated as the backtest's ``unhedged`` rows."""
    chain, entries, spx = _flat_vol_market()
    cfg = StrategyConfig(
        management=ManagementConfig(profit_take=None, stop_multiple=None, time_exit_dte=None, breach_action="ignore"),
        fill=FillConfig(model="mid", commission_per_contract=0.0),
    )
    positions, _ = manage_positions(entries, chain, spx, cfg)
    daily = positions.group_by("date").agg(
        pl.col("pnl").sum().alias("condor_pnl"), *[pl.col(f"attr_{g}").sum() for g in ("delta", "gamma", "theta", "vega")]
    ).with_columns(pl.lit("unhedged").alias("strategy")).sort("date")
    return condor_decomposition(daily, positions), spx


def test_condor_greek_terms_plus_residual_equal_its_pnl_exactly(held_condor):
    c, _ = held_condor
    parts = c.select(pl.sum_horizontal("condor_delta_pnl", "condor_gamma_pnl", "condor_theta_pnl", "condor_vega_pnl",
                                       "condor_residual")).to_series()
    assert parts.to_numpy() == pytest.approx(c["condor_pnl"].to_numpy(), abs=1e-9)


def test_condor_gamma_theta_decomposition_reconciles_with_its_pnl_up_to_higher_order_terms(held_condor):
    """With a flat, constant implied vol the vega term is zero and, with mid fills and no
    commission, the P&L is pure Black-76 re-marking; the residual is then the Taylor
    remainder of the daily re-marks with yesterday's greeks: speed dS^3/6 (largest on the
    biggest move), charm dS dt, and theta's change over a 3-day weekend (dt^2).  Tolerance:
    at daily steps of 15 % vol against short strikes ~1 sigma out (sigma sqrt(T) ~ 5 %),
    these are a few percent of the day's P&L: the summed |residual| must stay below 5 % of
    the summed |P&L| and 25 % of the summed |gamma P&L| (measured: 2.1 % and 14 %)."""
    c, spx = held_condor
    assert c["condor_vega_pnl"].abs().max() == pytest.approx(0.0, abs=1e-9)
    resid = c["condor_residual"].abs().sum()
    assert resid < 0.05 * c["condor_pnl"].abs().sum()
    assert resid < 0.25 * c["condor_gamma_pnl"].abs().sum()
    # the largest residual falls on the largest move: a third-order term, not a missing piece
    moves = np.abs(np.diff(np.log(spx["close"].to_numpy())))
    assert int(np.argmax(c["condor_residual"].abs().to_numpy()[1:])) == int(np.argmax(moves))


def test_condor_residual_is_exactly_the_taylor_remainder_of_black76_re_marking(held_condor):
    """Independent reconciliation: reprice the four legs with Black-76 at each close and take
    the exact change of the book minus delta dS + gamma dS^2/2 + theta dt at the previous
    close's greeks; that remainder must be the attribution's residual to rounding (1e-6 $)."""
    c, spx = held_condor
    chain, _, _ = _flat_vol_market()
    s = spx["close"].to_numpy()
    t = chain.group_by("quote_date").agg(pl.col("years_to_expiry").first()).sort("quote_date")["years_to_expiry"].to_numpy()
    days = np.diff(spx["date"].to_numpy().astype("datetime64[D]")).astype(float)
    legs = [(3700.0, False, 1), (3850.0, False, -1), (4150.0, True, -1), (4300.0, True, 1)]
    remainder = np.zeros(s.size)
    for k, call, sign in legs:  # four legs: the reference is written leg by leg
        g = black76_greeks(s, k, t, IV, 1.0, np.full(s.size, call))
        ds = np.diff(s)
        taylor = g["delta"][:-1] * ds + 0.5 * g["gamma"][:-1] * ds**2 + g["theta"][:-1] * days
        remainder[1:] += sign * 10 * 100 * (np.diff(g["price"]) - taylor)
    assert c["condor_residual"].to_numpy() == pytest.approx(remainder, abs=1e-6)


def test_short_gamma_book_breakeven_vol_is_the_implied_vol_under_black_scholes():
    """For a short Black-76 option with no rates, 365 theta = -1/2 Gamma F^2 sigma^2 exactly."""
    f, k, t = 4000.0, np.array([3900.0, 4000.0, 4150.0]), 30 / 365
    g = black76_greeks(f, k, t, 0.18, 1.0, np.array([False, True, True]))
    positions = pl.DataFrame({
        "date": [date(2024, 1, 2)] * 3, "held": [True] * 3, "underlying": [f] * 3,
        "net_delta": -100.0 * g["delta"], "net_gamma": -100.0 * g["gamma"], "net_theta": -100.0 * g["theta"], "net_vega": -g["vega"],
    })
    daily = pl.DataFrame({"strategy": ["unhedged"], "date": [date(2024, 1, 2)], "condor_pnl": [0.0], "attr_delta": [0.0],
                          "attr_gamma": [0.0], "attr_theta": [0.0], "attr_vega": [0.0]})
    c = condor_decomposition(daily, positions)
    assert c["condor_breakeven_vol"][0] == pytest.approx(0.18, rel=1e-12)


def test_comparison_puts_pool_and_condor_on_the_same_sessions_and_measures_their_co_movement(held_condor):
    c, spx = held_condor
    pool = constant_product_pool(spx.select("date", pl.col("close").alias("price")), 1e6)
    d = amm_vs_condor_daily(pool, c, spx.select("date", pl.lit(IV).alias("implied_vol")))
    assert d.height == spx.height and d["date"].to_list() == spx["date"].to_list()
    s = {r["metric"]: r["value"] for r in comparison_summary(d, 1e6)}
    # every leg is a Black-76 option at the same vol with no rates: 365 theta = -1/2 Gamma F^2 IV^2 leg by
    # leg, so the book's breakeven vol is that implied vol on every session
    assert s["breakeven_vol_over_implied"] == pytest.approx(1.0, rel=1e-9)
    # both are paid by squared moves: LVR and the gamma bleed move together day by day
    assert s["corr_lvr_gamma_open"] > 0.8
    assert s["pool_lvr_total"] == pytest.approx(d["lvr"].sum())
    assert s["condor_gamma_pnl_total"] == pytest.approx(c["condor_gamma_pnl"].sum())
    # measured LVR rate against sigma^2/8 of the same realized variance: third-order apart
    assert s["pool_lvr_rate"] == pytest.approx(s["pool_lvr_rate_theory"], rel=0.1)


def test_payoff_metrics_read_the_curves_at_the_requested_ratios_in_units_of_credit():
    trade = dict(lp_strike=3700.0, sp_strike=3850.0, sc_strike=4150.0, lc_strike=4300.0, credit_fill=6.0, contracts=2,
                 entry_date=date(2024, 1, 2), expiration=date(2024, 2, 16), entry_underlying=4000.0)
    curves = payoff_curves(trade, -2.0e5, 40.0, np.array([0.8, 1.0, 1.2]))
    m = {r["metric"]: r["value"] for r in payoff_metrics(curves, trade, at=(0.8, 1.2))}
    assert m["payoff_trade_credit"] == pytest.approx(1200.0)
    assert m["payoff_condor_at_0.8"] == pytest.approx(-100 * 2 * (150 - 6.0) / 1200.0)
    assert m["payoff_pool_at_1.2"] == pytest.approx((1800.0 - 0.8e6 * (np.sqrt(1.2) - 1) ** 2) / 1200.0)
    with pytest.raises(ValueError, match="grid"):
        payoff_metrics(curves, trade, at=(0.9,))


def test_a_condor_session_without_an_spx_price_is_refused(held_condor):
    c, spx = held_condor
    pool = constant_product_pool(spx.slice(0, spx.height - 1).select("date", pl.col("close").alias("price")), 1e6)
    with pytest.raises(ValueError, match="no SPX price for 1 session"):
        amm_vs_condor_daily(pool, c)
