"""The real-path surface against the 14 real Cboe SPX chains: fit (half) and check (all).

    python scripts/realpath_calibration.py [--data ../shared/data]

Prints the smile and spread parameters fitted on the calibration chains (every other file
by name, starting with the first), then per chain the model - real IV error (vol points) by
|delta| and expiry bucket. Overnight snapshots (taken after 20:15 ET, labelled the next
session) are compared with the VIX family of the session whose close they hold.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from features.realpath.calibration import fit_smile, fit_spread_model, iv_errors
from pipelines.realpath import calibration_split, load_real_otm, load_spxw_2018_otm

ROOT = Path(__file__).resolve().parents[1]






def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    otm = load_real_otm(args.data)
    cal, _ = calibration_split(otm)
    print("calibration chains:", ", ".join(sorted(cal["chain"].unique().to_list())))
    print("smile fitted:", fit_smile(cal))
    print("spreads fitted:", fit_spread_model(cal))
    err = iv_errors(otm)
    pl.Config.set_tbl_rows(400)
    pl.Config.set_fmt_str_lengths(60)
    print("\nmodel - real IV, vol points, per chain x |delta| bucket x expiry bucket")
    print(err.with_columns(pl.col("mean_error", "mean_abs_error").round(2)))
    print("\nper chain (weighted by quotes)")
    print(err.group_by("chain").agg(
        ((pl.col("mean_error") * pl.col("n")).sum() / pl.col("n").sum()).round(2).alias("mean_error"),
        ((pl.col("mean_abs_error") * pl.col("n")).sum() / pl.col("n").sum()).round(2).alias("mean_abs_error"),
        pl.col("n").sum()).sort("chain"))

    spike = iv_errors(load_spxw_2018_otm(args.data))
    print("\nout of sample: the 40 SPXW sessions of Jan-Feb 2018 (2 expiries), per session")
    print(spike.group_by("chain").agg(
        ((pl.col("mean_error") * pl.col("n")).sum() / pl.col("n").sum()).round(2).alias("mean_error"),
        ((pl.col("mean_abs_error") * pl.col("n")).sum() / pl.col("n").sum()).round(2).alias("mean_abs_error"),
        pl.col("n").sum()).sort("chain"))


if __name__ == "__main__":
    main()
