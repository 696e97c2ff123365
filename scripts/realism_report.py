"""Realism report: statistics of the embedded simulator beside the same statistics of real data.

Run ``python scripts/realism_report.py [--seed 7] [--data ../shared/data]``; it prints a
markdown table (statistic | simulated | real | accepted | ok) for the README. The same
functions back ``tests/features/test_simulator_realism.py``.

Real data (read-only, from the shared test-fixture folder): Cboe VIX and VIX3M index
histories, Yahoo ^GSPC daily closes 1990–2023, and the whole-chain Cboe delayed-quote
snapshots (end-of-day files only). Statistics:

* VIX percentiles 5/25/50/75/95 (points); share of days with VIX/VIX3M > 1 (inversion);
  median VIX3M/VIX and VIX6M/VIX (term-structure slope);
* daily log-return excess kurtosis; autocorrelation of |returns| at lags 1, 5, 20;
* correlation of daily index log returns with daily VIX changes;
* option-chain contracts per day (a real file line holds a call and a put: 2 contracts); median relative spread (ask - bid)/mid of out-of-the-money
  options with a bid, by |ln(K/S)| bucket.

Acceptance: each simulated statistic must lie in a fixed documented band (used also when
the real data are absent) and, when real data are present, within a tolerance of the real
value (relative or absolute, see ``CHECKS``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from features.simulate import SimulationConfig, simulate_chain, simulate_daily  # noqa: E402
from features.calendar import business_days  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
BUCKETS = [(0.0, 0.02), (0.02, 0.05), (0.05, 0.10), (0.10, 0.20), (0.20, 10.0)]
ACF_LAGS = (1, 5, 20)


@dataclass(frozen=True)
class Check:
    """Acceptance rule of one statistic.

    ``band``: fixed (low, high) the simulated value must lie in. ``tol``/``kind``: allowed
    distance to the real value, relative ("rel": |sim/real - 1| <= tol) or absolute ("abs").
    """

    band: tuple[float, float]
    tol: float
    kind: str


def _bucket_name(lo: float, hi: float) -> str:
    return f"median rel. spread OTM |ln K/S| {lo:.2f}-{hi:.2f}" if hi < 1 else f"median rel. spread OTM |ln K/S| > {lo:.2f}"


CHECKS: dict[str, Check] = {
    "VIX p5": Check((9.0, 14.0), 0.25, "rel"),
    "VIX p25": Check((11.0, 17.0), 0.25, "rel"),
    "VIX p50": Check((14.0, 21.0), 0.20, "rel"),
    "VIX p75": Check((17.0, 28.0), 0.25, "rel"),
    "VIX p95": Check((25.0, 48.0), 0.30, "rel"),
    "share VIX/VIX3M > 1": Check((0.02, 0.20), 0.07, "abs"),
    "median VIX3M/VIX": Check((1.0, 1.3), 0.1, "abs"),
    "median VIX6M/VIX": Check((1.0, 1.5), 0.15, "abs"),
    "daily return excess kurtosis": Check((5.0, 40.0), 0.6, "rel"),
    "acf |r| lag 1": Check((0.10, 0.50), 0.15, "abs"),
    "acf |r| lag 5": Check((0.10, 0.50), 0.15, "abs"),
    "acf |r| lag 20": Check((0.05, 0.45), 0.15, "abs"),
    "corr(return, dVIX)": Check((-0.95, -0.60), 0.15, "abs"),
    "chain contracts per day": Check((10_000.0, 20_000.0), 0.5, "rel"),
    "VVIX median": Check((75.0, 110.0), 0.15, "rel"),
    "corr(VVIX, VIX) levels": Check((0.15, 0.80), 0.20, "abs"),
    "corr(dVVIX, dVIX) daily changes": Check((0.40, 0.90), 0.15, "abs"),
    "VX 8-45 day realized vol": Check((0.45, 0.95), 0.25, "rel"),
    **{_bucket_name(lo, hi): Check((0.003, 0.6), 1.0, "rel") for lo, hi in BUCKETS},
}


# ---------------------------------------------------------------- statistics (pure)


def return_statistics(close: np.ndarray) -> dict[str, float]:
    """Excess kurtosis and |return| autocorrelations of daily log returns of ``close``."""
    r = np.diff(np.log(close))
    z = (r - r.mean()) / r.std()
    out = {"daily return excess kurtosis": float((z**4).mean() - 3.0)}
    a = np.abs(r)
    for lag in ACF_LAGS:
        out[f"acf |r| lag {lag}"] = float(np.corrcoef(a[:-lag], a[lag:])[0, 1])
    return out


def vix_statistics(
    vix: np.ndarray, vix_for_ratio: np.ndarray, vix3m: np.ndarray, vix_for_6m: np.ndarray, vix6m: np.ndarray
) -> dict[str, float]:
    """VIX percentiles, the inversion share (VIX/VIX3M > 1) and median term-structure slopes."""
    out = {f"VIX p{p}": float(np.percentile(vix, p)) for p in (5, 25, 50, 75, 95)}
    out["share VIX/VIX3M > 1"] = float(np.mean(vix_for_ratio / vix3m > 1.0))
    out["median VIX3M/VIX"] = float(np.median(vix3m / vix_for_ratio))
    out["median VIX6M/VIX"] = float(np.median(vix6m / vix_for_6m))
    return out


def spread_statistics(strike: np.ndarray, spot: np.ndarray, is_call: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> dict[str, float]:
    """Median (ask-bid)/mid of OTM options with a positive bid, by |ln(K/S)| bucket."""
    x = np.log(strike / spot)
    otm = np.where(is_call, x > 0, x <= 0) & (bid > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = (ask - bid) / (0.5 * (ask + bid))
    out = {}
    for lo, hi in BUCKETS:
        sel = otm & (np.abs(x) >= lo) & (np.abs(x) < hi)
        out[_bucket_name(lo, hi)] = float(np.median(rel[sel])) if sel.any() else float("nan")
    return out


def vvix_statistics(vix: np.ndarray, vvix: np.ndarray) -> dict[str, float]:
    """Median VVIX and its correlation with VIX in levels and in daily changes (same sessions)."""
    return {
        "VVIX median": float(np.median(vvix)),
        "corr(VVIX, VIX) levels": float(np.corrcoef(vix, vvix)[0, 1]),
        "corr(dVVIX, dVIX) daily changes": float(np.corrcoef(np.diff(vix), np.diff(vvix))[0, 1]),
    }


def vx_realized_vol(vx: pl.DataFrame, lo: int = 8, hi: int = 45) -> dict[str, float]:
    """Annualized vol (sqrt 252) of daily log changes of each VX contract's settlement while it
    has ``lo``..``hi`` calendar days left on both days (``date, expiration, settle``)."""
    f = (
        vx.filter(pl.col("settle") > 0)
        .sort("expiration", "date")
        .with_columns(
            (pl.col("expiration") - pl.col("date")).dt.total_days().alias("_dte"),
            pl.col("settle").log().diff().over("expiration").alias("_r"),
        )
        .with_columns(pl.col("_dte").shift(1).over("expiration").alias("_pdte"))
        .filter(pl.col("_dte").is_between(lo, hi) & pl.col("_pdte").is_between(lo, hi))
    )
    return {"VX 8-45 day realized vol": float(f["_r"].std() * np.sqrt(252.0))}


# ---------------------------------------------------------------- simulated side


def simulated_sessions(end: date = date(2025, 12, 31)) -> list[date]:
    """Scheduled NYSE sessions from the simulator origin (scheduled holidays only)."""
    return business_days(date(2000, 1, 3), end)


def simulated_statistics(seed: int = 7, n_chain_days: int = 4, end: date = date(2025, 12, 31)) -> dict[str, float]:
    """All report statistics of the simulated market (26 years daily, a few default chains)."""
    sessions = simulated_sessions(end)
    events = pl.DataFrame(schema={"date": pl.Date, "event": pl.String, "source": pl.String})
    config = SimulationConfig(seed=seed)
    dm = simulate_daily(sessions, events, config)
    close = dm.spx_daily["close"].to_numpy()
    ts = dm.vix_term_structure.pivot(on="series", index="date", values="value").sort("date")
    vix, vix3m, vix6m = ts["VIX"].to_numpy(), ts["VIX3M"].to_numpy(), ts["VIX6M"].to_numpy()
    out = {**vix_statistics(vix, vix, vix3m, vix, vix6m), **return_statistics(close)}
    out["corr(return, dVIX)"] = float(np.corrcoef(np.diff(np.log(close)), np.diff(vix))[0, 1])
    # VVIX as Cboe publishes it (from 2006): the same window for the simulated series
    vv = ts.filter(pl.col("date") >= date(2006, 3, 6))
    out.update(vvix_statistics(vv["VIX"].to_numpy(), vv["VVIX"].to_numpy()))
    out.update(vx_realized_vol(dm.vx_futures.filter(pl.col("date").is_between(date(2007, 3, 26), date(2015, 4, 1)))))
    days = sessions[len(sessions) // (n_chain_days + 1) :: len(sessions) // (n_chain_days + 1)][:n_chain_days]
    chains = [simulate_chain(d, dm, config) for d in days]
    out["chain contracts per day"] = float(np.mean([c.height for c in chains]))
    c = pl.concat(chains)
    out.update(
        spread_statistics(
            c["strike"].to_numpy(), c["underlying_price"].to_numpy(), (c["option_type"] == "C").to_numpy(),
            c["bid"].to_numpy(), c["ask"].to_numpy(),
        )
    )
    return out


# ---------------------------------------------------------------- real side (minimal parsers)


def _read_cboe_history(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path)
    name = path.stem.split("_")[0]
    value = "CLOSE" if "CLOSE" in frame.columns else name  # VVIX_History.csv has DATE,VVIX
    return frame.select(pl.col("DATE").str.strptime(pl.Date, "%m/%d/%Y").alias("date"), pl.col(value).cast(pl.Float64).alias(name))


def read_cfe_vx(folder: Path) -> pl.DataFrame:
    """Settlements of the complete monthly contracts in the CFE per-contract files (``date,
    expiration, settle``): the expiration is a contract's last trade date in its file;
    contracts still trading when the files stop (2015-04-01) and rows before the 2007-03-26
    rescaling (prices at 10x VIX) or with 0.00 placeholders are left out."""
    frames = []
    for f in sorted(folder.glob("CFE_*_VX.csv")):
        lines = f.read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("Trade Date"))
        d = pl.read_csv("\n".join(lines[start:]).encode()).select(
            pl.col("Trade Date").str.strptime(pl.Date, "%m/%d/%Y").alias("date"), pl.col("Settle").cast(pl.Float64).alias("settle")
        )
        last = d["date"].max()
        if last >= date(2015, 3, 25):
            continue
        frames.append(d.with_columns(pl.lit(last).alias("expiration")))
    return pl.concat(frames).filter((pl.col("date") >= date(2007, 3, 26)) & (pl.col("settle") > 0))


def read_real_chain(path: Path) -> dict[str, np.ndarray]:
    """Minimal parser of a Cboe delayed-quotes whole-chain CSV (wide call | strike | put rows)."""
    with gzip.open(path, "rt") as fh:
        lines = fh.read().splitlines()
    spot = float(next(line for line in lines[:3] if "Last:" in line).split("Last:")[1].split(",")[0])
    header = next(i for i, line in enumerate(lines) if line.startswith("Expiration Date"))
    rows = [r for r in csv.reader(lines[header + 1 :]) if len(r) >= 22]
    k = np.array([float(r[11]) for r in rows])
    cb, ca = np.array([float(r[4]) for r in rows]), np.array([float(r[5]) for r in rows])
    pb, pa = np.array([float(r[15]) for r in rows]), np.array([float(r[16]) for r in rows])
    n = len(rows)
    return {
        "rows": np.array([2 * n]),
        "strike": np.concatenate([k, k]),
        "spot": np.full(2 * n, spot),
        "is_call": np.arange(2 * n) < n,
        "bid": np.concatenate([cb, pb]),
        "ask": np.concatenate([ca, pa]),
    }


def real_statistics(data: Path) -> dict[str, float]:
    """The report statistics of the real data under ``data`` (the shared fixture folder)."""
    idx = data / "cboe_vix_indices"
    vix = _read_cboe_history(idx / "VIX_History.csv")
    both = vix.join(_read_cboe_history(idx / "VIX3M_History.csv"), on="date")
    six = vix.join(_read_cboe_history(idx / "VIX6M_History.csv"), on="date")
    out = vix_statistics(
        vix["VIX"].to_numpy(), both["VIX"].to_numpy(), both["VIX3M"].to_numpy(), six["VIX"].to_numpy(), six["VIX6M"].to_numpy()
    )
    spx = (
        pl.read_csv(data / "yahoo_gspc_daily" / "GSPC_1927-12-30_2023-12-28_fja05680.csv.gz")
        .select(pl.col("Date").str.strptime(pl.Date, "%Y-%m-%d").alias("date"), pl.col("Close").alias("close"))
        .filter(pl.col("date") >= date(1990, 1, 2))
    )
    out.update(return_statistics(spx["close"].to_numpy()))
    vv = vix.join(_read_cboe_history(idx / "VVIX_History.csv"), on="date").drop_nulls().sort("date")
    out.update(vvix_statistics(vv["VIX"].to_numpy(), vv["VVIX"].to_numpy()))
    out.update(vx_realized_vol(read_cfe_vx(data / "cfe_vx_futures_2008_2015")))
    j = spx.join(vix, on="date").sort("date")
    out["corr(return, dVIX)"] = float(
        np.corrcoef(np.diff(np.log(j["close"].to_numpy())), np.diff(j["VIX"].to_numpy()))[0, 1]
    )
    files = [
        f for f in sorted((data / "cboe_delayed_quotes").glob("spx_quotedata_*.csv.gz"))
        if "zeroed" not in f.name and "intraday" not in f.name
    ]
    chains = [read_real_chain(f) for f in files]
    # each line of a Cboe file is one strike with a call and a put: contracts = 2 x lines
    out["chain contracts per day"] = float(np.mean([c["rows"][0] for c in chains]))
    cat = {k: np.concatenate([c[k] for c in chains]) for k in ("strike", "spot", "is_call", "bid", "ask")}
    out.update(spread_statistics(cat["strike"], cat["spot"], cat["is_call"], cat["bid"], cat["ask"]))
    return out


# ---------------------------------------------------------------- acceptance and report


def evaluate(sim: dict[str, float], real: dict[str, float] | None) -> list[tuple[str, float, float | None, str, bool]]:
    """(statistic, simulated, real, accepted-range text, ok) for every statistic in ``CHECKS``."""
    rows = []
    for name, chk in CHECKS.items():
        s = sim[name]
        ok = chk.band[0] <= s <= chk.band[1]
        text = f"[{chk.band[0]:g}, {chk.band[1]:g}]"
        r = None if real is None else real.get(name)
        if r is not None:
            if chk.kind == "rel":
                ok = ok and abs(s / r - 1.0) <= chk.tol
                text += f" and within {chk.tol:.0%} of real"
            else:
                ok = ok and abs(s - r) <= chk.tol
                text += f" and within ±{chk.tol:g} of real"
        rows.append((name, s, r, text, bool(ok)))
    return rows


def markdown_table(rows: list[tuple[str, float, float | None, str, bool]]) -> str:
    def fmt(x: float | None) -> str:
        if x is None:
            return "n/a"
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3f}" if abs(x) < 10 else f"{x:.2f}"

    lines = ["| statistic | simulated | real | accepted | ok |", "|---|---:|---:|---|:-:|"]
    # statistic names contain "|r|" / "|ln K/S|": escape the pipes for markdown
    lines += [
        f"| {n.replace('|', chr(92) + '|')} | {fmt(s)} | {fmt(r)} | {t} | {'yes' if ok else 'NO'} |"
        for n, s, r, t, ok in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args(argv)
    real = real_statistics(args.data) if args.data.is_dir() else None
    sim = simulated_statistics(args.seed)
    rows = evaluate(sim, real)
    print(f"Simulator seed {args.seed}, sessions 2000-01-03..2025-12-31 (daily), 4 default-size chains;"
          f" real data: {'VIX/VIX3M 1990-2026, VVIX 2006-2026, CFE VX 2007-2015, ^GSPC 1990-2023, 12 Cboe EOD SPX chains 2023-24' if real else 'absent'}."
          f" Generated {datetime.now():%Y-%m-%d}.\n")
    print(markdown_table(rows))
    return 0 if all(r[-1] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
