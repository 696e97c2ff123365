"""Benchmark: five synthetic years of SPX chains -> condor decisions -> management -> ALVH ->
backtest summary (three strategies side by side).

The market is a stochastic-volatility path (mean-reverting variance with a crisis: a jump of
the index down ~25 % and of the variance to ~80 % vol in year two), and every session lists
SPXW PM Fridays and SPX AM third Fridays 5-80 days out, strikes every 25 points from 60 % to
130 % of spot, priced with Black-76 on a skewed smile.  Only the backtest (features in, summary
out) is timed; building the synthetic market is reported separately.

Run: ``python benchmarks/bench_backtest.py [n_days]``.
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import polars as pl
import talib

from features.black76 import black76_greeks
from features.calendar import third_friday

from features.strategy_config import StrategyConfig


def synthetic_market(n_days: int = 1260, seed: int = 7) -> dict[str, pl.DataFrame]:
    """Option features, market features, VX futures and SPX daily for ``n_days`` sessions."""
    rng = np.random.default_rng(seed)
    days = np.busday_offset(np.datetime64("2019-01-02"), np.arange(n_days), roll="forward")
    dt = 1.0 / 252.0
    kappa, theta, xi = 4.0, 0.18**2, 0.6
    v = np.empty(n_days)
    s = np.empty(n_days)
    v[0], s[0] = theta, 3000.0
    z1 = rng.standard_normal(n_days)
    z2 = -0.7 * z1 + np.sqrt(1 - 0.49) * rng.standard_normal(n_days)
    crisis = min(300, n_days // 2)
    for i in range(1, n_days):  # path simulation (sequential by nature)
        vi = max(v[i - 1], 1e-4)
        v[i] = max(vi + kappa * (theta - vi) * dt + xi * np.sqrt(vi * dt) * z2[i], 0.0025)
        jump = 0.0
        if i == crisis:
            v[i], jump = 0.80**2, -0.12
        if crisis < i <= crisis + 5:
            jump = -0.03
        s[i] = s[i - 1] * np.exp(-0.5 * vi * dt + np.sqrt(vi * dt) * z1[i] + jump)
    # term structure of implied vol (Heston expected average variance) with a 10 % premium
    def atm_vol(tau: np.ndarray, vv: np.ndarray) -> np.ndarray:
        w = (1 - np.exp(-kappa * tau)) / (kappa * tau)
        return 1.1 * np.sqrt(theta + (vv - theta) * w)

    vix = 100 * atm_vol(np.full(n_days, 30 / 365), v)
    vix3m = 100 * atm_vol(np.full(n_days, 91 / 365), v)
    rv21 = pl.Series(np.r_[np.nan, np.diff(np.log(s))]).rolling_std(21).to_numpy() * np.sqrt(252) * 100
    close = s
    rsi = talib.RSI(close, 14)
    _, _, macd_hist = talib.MACD(close, 12, 26, 9)
    ratio = vix / vix3m
    vol_regime = np.where(vix < 15, "calm", np.where(vix < 22, "normal", np.where(vix < 32, "elevated", "stressed")))
    term_regime = np.where(ratio < 0.95, "contango", np.where(ratio <= 1.0, "flat", "backwardation"))
    regime = np.char.add(np.char.add(vol_regime.astype(str), "/"), term_regime.astype(str))
    changed = np.r_[False, regime[1:] != regime[:-1]]
    event = (np.arange(n_days) % 21) < 2
    dates = days.astype("datetime64[D]")
    market = pl.DataFrame({
        "date": dates, "close": close, "rsi_14": rsi, "macd_hist": macd_hist, "vix": vix, "vix3m": vix3m,
        "vvix": 80 + 2.0 * (vix - 18), "vrp_vol": vix - rv21, "ts_vix_vix3m": ratio,
        "vx_cm30": 100 * atm_vol(np.full(n_days, 45 / 365), v) * 0.97,
        "in_event_window": event, "regime": regime, "vol_regime": vol_regime, "term_regime": term_regime,
        "regime_changed": changed,
    }).with_columns(pl.col("date").alias("available_at"))
    opens = np.r_[s[0], s[:-1] * np.exp(0.002 * rng.standard_normal(n_days - 1))]
    spx = pl.DataFrame({"date": dates, "open": opens, "close": s})

    # expirations: Fridays; third Fridays are SPX AM, the others SPXW PM
    fridays = np.arange(np.datetime64("2019-01-04"), dates[-1] + np.timedelta64(120, "D"), np.timedelta64(7, "D"))
    third = np.array([np.datetime64(third_friday(int(str(f)[:4]), int(str(f)[5:7]))) for f in fridays])
    is_third = fridays == third
    # VX futures: the Wednesday 30 days before the following month's third Friday, approximated
    # by the third Friday minus 2 days (good enough for a benchmark)
    vx_exp = fridays[is_third] - np.timedelta64(2, "D")
    di, ei = np.meshgrid(np.arange(n_days), np.arange(vx_exp.size), indexing="ij")
    tau = (vx_exp[ei] - dates[di]).astype(float)
    keep = (tau > 0) & (tau < 200)
    di, ei, tau = di[keep], ei[keep], tau[keep]
    fut = 100 * atm_vol(np.maximum(tau, 1) / 365, v[di]) * 0.97 + 0.02 * tau
    vx = pl.DataFrame({
        "date": dates[di], "contract": np.char.add("VX ", vx_exp[ei].astype(str)), "expiration": vx_exp[ei], "settle": fut,
    })

    # option chain
    d_idx, e_idx = np.meshgrid(np.arange(n_days), np.arange(fridays.size), indexing="ij")
    dte = (fridays[e_idx] - dates[d_idx]).astype(float)
    ok = (dte >= 5) & (dte <= 80)
    d_idx, e_idx, dte = d_idx[ok], e_idx[ok], dte[ok]
    n_k = 100
    kk = np.arange(n_k)
    base = np.floor(0.6 * s[d_idx] / 25.0) * 25.0
    step = np.ceil((1.3 - 0.6) * s[d_idx] / 25.0 / n_k) * 25.0
    strikes = base[:, None] + step[:, None] * kk[None, :]
    rows_d = np.repeat(d_idx, n_k)
    rows_e = np.repeat(e_idx, n_k)
    rows_t = np.repeat(dte, n_k) / 365.0
    k = strikes.ravel()
    r = 0.02
    disc = np.exp(-r * rows_t)
    f = s[rows_d] * np.exp(r * rows_t)
    atm = atm_vol(rows_t, v[rows_d])
    m = np.clip(np.log(k / f) / (atm * np.sqrt(rows_t)), -4, 4)
    iv = np.maximum(atm * (1 - 0.12 * m + 0.03 * m * m), 0.05)
    out = []
    for is_call in (True, False):
        g = black76_greeks(f, k, rows_t, iv, disc, np.full(k.size, is_call))
        mid = g["price"]
        spread = np.maximum(0.10, 0.04 * mid)
        bid = np.maximum(np.round((mid - spread / 2) / 0.05) * 0.05, 0.0)
        ask = np.round((mid + spread / 2) / 0.05) * 0.05 + 0.05
        third_e = is_third[rows_e]
        out.append(pl.DataFrame({
            "quote_date": dates[rows_d], "root": np.where(third_e, "SPX", "SPXW"), "expiration": fridays[rows_e],
            "settlement": np.where(third_e, "AM", "PM"), "strike": k, "option_type": "C" if is_call else "P",
            "bid": bid, "ask": ask, "mid": (bid + ask) / 2, "underlying_price": s[rows_d], "forward": f,
            "discount_factor": disc, "years_to_expiry": rows_t, "days_to_expiry": rows_t * 365.0, "iv": iv,
            "delta": g["delta"], "gamma": g["gamma"], "vega": g["vega"], "theta": g["theta"],
        }))
    chain = pl.concat(out).filter(pl.col("mid") >= 0.05)
    return {"option_features": chain, "market": market, "vx_futures": vx, "spx_daily": spx}


def main() -> None:
    from features.backtest import run_backtest

    n_days = int(sys.argv[1]) if len(sys.argv) > 1 else 1260
    t0 = time.perf_counter()
    mk = synthetic_market(n_days)
    t1 = time.perf_counter()
    chain = mk["option_features"]
    print(f"synthetic market: {n_days} sessions, {chain.height:,} option rows "
          f"({chain.height / n_days:,.0f}/day) built in {t1 - t0:.1f} s")
    t2 = time.perf_counter()
    res = run_backtest(chain, mk["market"], mk["spx_daily"], mk["vx_futures"], StrategyConfig())
    t3 = time.perf_counter()
    wall = t3 - t2
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with pl.Config(tbl_cols=20, tbl_width_chars=200):
        print(res.summary)
    print(f"backtest wall {wall:.1f} s, {chain.height / wall:,.0f} option rows/s, "
          f"{n_days / wall:,.0f} sessions/s, peak RSS {peak_mb:,.0f} MB, trades {res.trades.height}")


if __name__ == "__main__":
    main()
