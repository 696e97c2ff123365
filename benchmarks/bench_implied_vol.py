"""Benchmark: Black-76 implied vol + Greeks on 1,000,000 options, against pyvolr and
py_vollib_vectorized on the same inputs, and ``option_features`` on a simulated year of
SPX chains (~15k contracts x 252 sessions).

Run: ``python benchmarks/bench_implied_vol.py`` (prints options/s, wall time, peak memory).
"""

from __future__ import annotations

import os
import resource
import sys
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import numba
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.black76 import black76_greeks, black76_price, implied_vol  # noqa: E402
from features.option_features import option_features  # noqa: E402

N = 1_000_000


def _inputs(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Listed-option-like inputs: +-15 % log-moneyness sd, 1 day..2 years, vol 8..60 %."""
    rng = np.random.default_rng(seed)
    years = rng.uniform(1 / 365, 2.0, n)
    g = {
        "forward": np.full(n, 4500.0),
        "strike": 4500.0 * np.exp(rng.normal(0.0, 0.15, n)),
        "years": years,
        "vol": rng.uniform(0.08, 0.6, n),
        "discount": np.exp(-0.05 * years),
        "is_call": rng.random(n) < 0.5,
    }
    g["price"] = black76_price(g["forward"], g["strike"], g["years"], g["vol"], g["discount"], g["is_call"])
    return g


def _timed(label: str, fn, n: int) -> float:
    tracemalloc.start()
    c0 = time.process_time()
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # CPU seconds of this process (all threads): on a shared, loaded machine wall time
    # understates the speed; n / cpu x 2 is what two otherwise idle cores would deliver
    print(f"{label:48s} {n / wall / 1e6:8.2f} M options/s   wall {wall:7.3f} s   cpu {cpu:7.3f} s "
          f"(=> {2 * n / cpu / 1e6:6.2f} M/s on 2 idle cores)   peak traced {peak / 2**20:7.1f} MiB")
    return wall


def bench_solvers() -> None:
    g = _inputs(N)
    t0 = time.perf_counter()
    small = {k: v[:100] for k, v in g.items()}
    implied_vol(small["price"], small["forward"], small["strike"], small["years"], small["discount"], small["is_call"])
    black76_greeks(small["forward"], small["strike"], small["years"], small["vol"], small["discount"], small["is_call"])
    print(f"numba warm-up (compile or cache load): {time.perf_counter() - t0:.2f} s")

    out: dict[str, np.ndarray] = {}

    def ours_iv():
        out["iv"] = implied_vol(g["price"], g["forward"], g["strike"], g["years"], g["discount"], g["is_call"])

    def ours_both():
        iv = implied_vol(g["price"], g["forward"], g["strike"], g["years"], g["discount"], g["is_call"])
        black76_greeks(g["forward"], g["strike"], g["years"], iv, g["discount"], g["is_call"])

    print(f"--- {N:,} options, {numba.get_num_threads()} numba threads; load average before: {os.getloadavg()}")
    _timed("features.black76 implied_vol", ours_iv, N)
    _timed("features.black76 implied_vol + black76_greeks", ours_both, N)
    vega = black76_greeks(g["forward"], g["strike"], g["years"], g["vol"], g["discount"], g["is_call"])["vega"]
    # well posed: a few ulps of the premium move the vol by < 1e-11 (see tests/features/test_black76.py)
    well = vega * 1e-11 > 32 * np.finfo(float).eps * g["price"]
    err = np.abs(out["iv"] - g["vol"])
    print(f"    round-trip max |iv - vol| on {int(well.sum()):,} well-posed options = {np.nanmax(err[well]):.2e}; "
          f"NaN among them {int(np.isnan(out['iv'][well]).sum())}; ill-posed (deep ITM, tiny vega) "
          f"{int((~well).sum()):,}")

    import pyvolr

    flags = np.where(g["is_call"], "c", "p")
    # numeric +-1 flags: pyvolr converts string flags with a Python-level loop
    flag_num = np.where(g["is_call"], 1, -1).astype(np.int8)
    rate = np.full(N, 0.05)

    def pyvolr_iv():
        out["pyvolr"] = pyvolr.black76.implied_vol(g["price"], flag_num, F=g["forward"], K=g["strike"], T=g["years"],
                                                   r=rate, on_error="ignore")

    def pyvolr_both():
        iv = pyvolr.black76.implied_vol(g["price"], flag_num, F=g["forward"], K=g["strike"], T=g["years"], r=rate,
                                        on_error="ignore")
        pyvolr.black76.greeks(flag_num, F=g["forward"], K=g["strike"], T=g["years"], r=rate, sigma=iv)

    _timed("pyvolr 0.1.7 implied_vol", pyvolr_iv, N)
    _timed("pyvolr 0.1.7 implied_vol + greeks", pyvolr_both, N)
    print(f"    max |ours - pyvolr| on well-posed options = {np.nanmax(np.abs(out['iv'] - out['pyvolr'])[well]):.2e}")

    try:
        import py_vollib_vectorized as pvv
    except ImportError:
        print("py_vollib_vectorized not installed: skipped")
        return

    def pvv_iv():
        out["pvv"] = pvv.vectorized_implied_volatility_black(
            g["price"], g["forward"], g["strike"], rate, g["years"], flags, on_error="ignore", return_as="numpy"
        )

    def pvv_both():
        iv = pvv.vectorized_implied_volatility_black(
            g["price"], g["forward"], g["strike"], rate, g["years"], flags, on_error="ignore", return_as="numpy"
        )
        pvv.get_all_greeks(flags, g["forward"], g["strike"], g["years"], rate, iv, model="black", return_as="dict")

    # first call compiles its numba kernels; time a second call
    small_flags = flags[:100]
    try:
        pvv.vectorized_implied_volatility_black(g["price"][:100], g["forward"][:100], g["strike"][:100], rate[:100],
                                                g["years"][:100], small_flags, on_error="ignore", return_as="numpy")
        pvv.get_all_greeks(small_flags, g["forward"][:100], g["strike"][:100], g["years"][:100], rate[:100],
                           g["vol"][:100], model="black", return_as="dict")
    except Exception as exc:  # its numba kernels do not compile under every numba release
        print(f"py_vollib_vectorized failed to run here: {type(exc).__name__} (numba typing error); skipped")
        return
    _timed("py_vollib_vectorized 0.1.1 implied_vol", pvv_iv, N)
    _timed("py_vollib_vectorized 0.1.1 implied_vol + greeks", pvv_both, N)
    print(f"    max |ours - py_vollib_vectorized| on well-posed = {np.nanmax(np.abs(out['iv'] - out['pvv'])[well]):.2e}")


def _one_day_chain(quote_date: date) -> pl.DataFrame:
    """~15k contracts: 50 expiries (dailies, weeklies, monthlies to 3 years), 5-point strikes."""
    offsets = list(range(0, 10)) + list(range(14, 70, 7)) + [91, 121, 152, 182, 245, 365, 547, 730, 1095]
    offsets += list(range(75, 400, 30))
    spot, rate, q = 4500.0, 0.05, 0.015
    frames = []
    for off in offsets:  # ~50 expiries, not options
        exp = quote_date + timedelta(days=off)
        years = (off * 1440 - 15) / 525_600 if off else 1.0 / 525_600
        width = min(0.04 + 0.35 * np.sqrt(years), 0.9)
        strikes = np.arange(np.floor(spot * (1 - width) / 5) * 5, spot * (1 + width / 2), 5.0)
        strikes = strikes[:: max(1, strikes.size // 150)]
        fwd = spot * np.exp((rate - q) * years)
        k = np.concatenate([strikes, strikes])
        is_call = np.r_[np.ones(strikes.size, bool), np.zeros(strikes.size, bool)]
        vol = 0.16 - 0.25 * np.log(k / fwd) + 0.5 * np.log(k / fwd) ** 2
        price = black76_price(fwd, k, years, vol, np.exp(-rate * years), is_call)
        frames.append(pl.DataFrame({
            "root": "SPXW", "expiration": exp, "settlement": "PM", "strike": k,
            "option_type": np.where(is_call, "C", "P"),
            "bid": np.maximum(np.round(price - 0.05 - 0.01 * price, 2), 0.0),
            "ask": np.round(price + 0.05 + 0.01 * price, 2),
        }))
    return pl.concat(frames)


def bench_option_features() -> None:
    start = date(2024, 1, 2)
    base = _one_day_chain(start)
    days = 252
    shifts = pl.DataFrame({"shift": np.arange(days)})
    year = base.join(shifts, how="cross").with_columns(
        (pl.lit(start) + pl.duration(days=pl.col("shift"))).alias("quote_date"),
        (pl.col("expiration") + pl.duration(days=pl.col("shift"))).alias("expiration"),
    ).drop("shift")
    year = year.with_columns(
        (pl.col("quote_date").cast(pl.Datetime("us")) + pl.duration(hours=16, minutes=15))
        .dt.replace_time_zone("America/New_York").alias("snapshot_time"),
        pl.lit("eod").alias("snapshot_kind"),
        pl.lit(None, pl.Int64).alias("bid_size"), pl.lit(None, pl.Int64).alias("ask_size"),
        pl.lit(None, pl.Float64).alias("last"), pl.lit(None, pl.Int64).alias("volume"),
        pl.lit(None, pl.Int64).alias("open_interest"), pl.lit(4500.0).alias("underlying_price"),
        pl.lit(None, pl.Float64).alias("vendor_iv"), pl.lit(None, pl.Float64).alias("vendor_delta"),
        pl.lit(None, pl.Float64).alias("vendor_gamma"), pl.lit("simulator:seed=0").alias("source"),
    )
    print(f"--- option_features on {days} sessions x {base.height:,} contracts = {year.height:,} rows")
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = option_features(year)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(f"option_features: wall {wall:.2f} s ({year.height / wall / 1e6:.2f} M rows/s), cpu {cpu:.2f} s, "
          f"{out['iv'].is_not_nan().sum():,} finite IVs; load average after: {os.getloadavg()}")


def main() -> None:
    bench_solvers()
    bench_option_features()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
