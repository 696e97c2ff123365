"""A small Black-76 test market over several months for the backtest specifications.

GBM index with calm, stressed and calm again phases (a -6 % day opens the stress), SPXW
Fridays and SPX third Fridays 5-75 days out on a 25-point strike grid, features known at
16:15 on each session, monthly VX futures. Not a model of record: its only job is to make
the strategies enter, exit, roll and hedge across many sessions.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from features.black76 import black76_greeks


def backtest_market(n_days: int = 160, seed: int = 5, start: date = date(2024, 1, 2),
                    stress: tuple[int, int] = (60, 85)) -> dict[str, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    days = np.busday_offset(np.datetime64(start), np.arange(n_days), roll="forward").astype("datetime64[D]")
    idx = np.arange(n_days)
    stressed = (idx >= stress[0]) & (idx < stress[1])
    vol = np.where(stressed, 0.35, 0.14)
    ret = vol / np.sqrt(252) * rng.standard_normal(n_days)
    ret[stress[0]] = -0.06
    s = 4000 * np.exp(np.cumsum(ret))
    first_friday = days[0] + ((4 - (days[0].astype("datetime64[D]").view("int64") - 4) % 7) % 7)
    fridays = np.arange(first_friday, days[-1] + np.timedelta64(90, "D"), np.timedelta64(7, "D"))
    di, ei = np.meshgrid(idx, np.arange(fridays.size), indexing="ij")
    dte = (fridays[ei] - days[di]).astype(float)
    ok = (dte >= 0) & (dte <= 75)
    di, ei, dte = di[ok], ei[ok], dte[ok]
    strikes = np.arange(2800.0, 5200.0, 25.0)
    d = np.repeat(di, strikes.size)
    e = np.repeat(ei, strikes.size)
    t = np.maximum(np.repeat(dte, strikes.size), 0.25) / 365
    k = np.tile(strikes, di.size)
    f = s[d]
    iv = vol[d] * (1 - 0.1 * np.log(k / f) / np.sqrt(t) / vol[d]).clip(0.5, 2.0)
    third = np.array([15 <= int(str(x)[8:10]) <= 21 for x in fridays])
    frames = []
    for call in (True, False):
        g = black76_greeks(f, k, t, iv, 1.0, np.full(k.size, call))
        mid = g["price"]
        half = np.maximum(0.05, 0.02 * mid)
        frames.append(pl.DataFrame({
            "quote_date": days[d], "root": np.where(third[e], "SPX", "SPXW"), "expiration": fridays[e],
            "settlement": np.where(third[e], "AM", "PM"), "strike": k, "option_type": "C" if call else "P",
            "bid": mid - half, "ask": mid + half, "mid": mid, "underlying_price": f, "forward": f, "discount_factor": 1.0,
            "years_to_expiry": t, "days_to_expiry": np.repeat(dte, strikes.size), "iv": iv, "delta": g["delta"],
            "gamma": g["gamma"], "vega": g["vega"], "theta": g["theta"],
        }))
    chain = pl.concat(frames).filter(pl.col("mid") > 0.1)
    vix = 100 * vol * 1.1
    market = pl.DataFrame({
        "date": days, "available_at": [datetime.fromisoformat(str(x)) + timedelta(hours=16, minutes=15) for x in days],
        "vix": vix, "vix3m": np.where(stressed, vix * 0.9, vix * 1.1), "vvix": 90.0,
        "vx_cm30": vix * 0.95 + rng.normal(0, 0.2, n_days), "vrp_vol": 3.0, "rsi_14": 50.0, "macd_hist": 0.0,
        "in_event_window": (idx % 20) == 3, "vol_regime": np.where(stressed, "stressed", "calm"),
        "term_regime": np.where(stressed, "backwardation", "contango"),
    }).with_columns(pl.col("available_at").dt.replace_time_zone("America/New_York"))
    vx_exp = fridays[third] - np.timedelta64(2, "D")
    vdi, vei = np.meshgrid(idx, np.arange(vx_exp.size), indexing="ij")
    keep = vx_exp[vei] > days[vdi]
    vx = pl.DataFrame({"date": days[vdi[keep]], "expiration": vx_exp[vei[keep]], "settle": vix[vdi[keep]] + 1.0})
    spx = pl.DataFrame({"date": days, "open": s * 0.999, "close": s})
    return {"option_features": chain, "market": market, "vx_futures": vx, "spx_daily": spx}
