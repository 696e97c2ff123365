"""Fitting the real-path surface and quotes to real Cboe chains, and checking the fit.

Inputs are per-contract analytics of real chains (:func:`features.option_features.option_features`
rows) joined with the session's VIX-family and SKEW closes (columns ``VIX9D, VIX, VIX3M,
VIX6M, SKEW``). Only out-of-the-money quotes with ``bid > 0`` and 5..200 days to expiry are used
(puts below the forward, calls above): they carry the smile.

* :func:`fit_smile` fits :class:`~features.realpath.surface.SmileParams` by least squares of
  ``iv / sigma_atm`` against the model ratio, ``sigma_atm`` being each expiry's own near-ATM vol
  (so the shape is fitted apart from the level, which comes from the VIX family).
* :func:`fit_spread_model` fits ``ln(ask - bid) = a + b ln(mid) + c ln(days) + d |x|``.
* :func:`iv_errors` prices each real contract with the full model (level from the VIX family,
  slope from SKEW) and tabulates model - real IV by moneyness and expiry bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.optimize import least_squares

from features.realpath.surface import (
    DEFAULT_SMILE, SmileParams, atm_vol_from_variance_swap, skew_slope, smile_ratio, surface_iv, variance_swap_vol,
)

__all__ = ["SpreadModel", "DEFAULT_SPREADS", "otm_quotes", "fit_smile", "fit_spread_model", "iv_errors",
           "DELTA_BUCKETS", "DTE_BUCKETS"]

KNOTS = ["VIX9D", "VIX", "VIX3M", "VIX6M"]


@dataclass(frozen=True)
class SpreadModel:
    """``ask - bid = exp(a) * mid^b * days^c * exp(d |x|)`` (index points), then rounded to ticks."""

    a: float
    b: float
    c: float
    d: float


#: Fitted on the same calibration chains as :data:`~features.realpath.surface.DEFAULT_SMILE`.
DEFAULT_SPREADS = SpreadModel(a=-2.0419, b=0.2873, c=0.153, d=-0.0979)

#: Reporting buckets: |delta| of the real quote (OTM side) and calendar days to expiry.
DELTA_BUCKETS = [(0.02, 0.10), (0.10, 0.25), (0.25, 0.50)]
DTE_BUCKETS = [(5, 14), (14, 45), (45, 90), (90, 200)]


def otm_quotes(features: pl.DataFrame) -> pl.DataFrame:
    """Usable OTM quotes with each expiry's near-ATM vol ``atm`` and standardized moneyness ``x``."""
    otm = features.filter(
        (pl.col("bid") > 0) & (pl.col("ask") > pl.col("bid")) & pl.col("iv").is_finite()
        & pl.col("days_to_expiry").is_between(5, 200)
        & pl.when(pl.col("option_type") == "P").then(pl.col("strike") < pl.col("forward"))
        .otherwise(pl.col("strike") >= pl.col("forward"))
    )
    keys = ["quote_date", "root", "expiration"]
    atm = (
        otm.with_columns(pl.col("log_moneyness").abs().alias("_ak")).sort("_ak")
        .group_by(keys).agg(pl.col("iv").head(2).mean().alias("atm"))
    )
    return otm.join(atm, on=keys).with_columns(
        (pl.col("log_moneyness") / (pl.col("atm") * pl.col("years_to_expiry").sqrt())).alias("x"),
    ).filter(pl.col("x").is_between(-6, 4))


def fit_smile(otm: pl.DataFrame, start: SmileParams = DEFAULT_SMILE) -> SmileParams:
    """Least-squares smile shape on :func:`otm_quotes` rows (needs a ``SKEW`` column)."""
    x = otm["x"].to_numpy()
    t = otm["years_to_expiry"].to_numpy()
    skew = otm["SKEW"].to_numpy()
    ratio = (otm["iv"] / otm["atm"]).to_numpy()

    def resid(v: np.ndarray) -> np.ndarray:
        p = SmileParams(*v)
        return smile_ratio(x, skew_slope(skew, t, p), p) - ratio

    fit = least_squares(resid, np.array([start.skew_scale, start.term_power, start.put_curvature, start.call_curvature]))
    return SmileParams(*(round(float(v), 4) for v in fit.x))


def fit_spread_model(otm: pl.DataFrame) -> SpreadModel:
    """Least-squares fit of the log spread on :func:`otm_quotes` rows with ``mid > 0.05``."""
    d = otm.filter(pl.col("mid") > 0.05)
    design = np.c_[np.ones(d.height), np.log(d["mid"].to_numpy()), np.log(d["days_to_expiry"].to_numpy()),
                   np.abs(d["x"].to_numpy())]
    coef, *_ = np.linalg.lstsq(design, np.log((d["ask"] - d["bid"]).to_numpy()), rcond=None)
    return SpreadModel(*(round(float(v), 4) for v in coef))


def model_iv(rows: pl.DataFrame, p: SmileParams = DEFAULT_SMILE) -> np.ndarray:
    """The surface's IV for each row (``log_moneyness, years_to_expiry`` and the index closes)."""
    t = rows["years_to_expiry"].to_numpy()
    vs = variance_swap_vol(rows.select(KNOTS).to_numpy().astype(float), t)
    slope = skew_slope(rows["SKEW"].to_numpy(), t, p)
    atm = atm_vol_from_variance_swap(vs, t, slope, p)
    return surface_iv(rows["log_moneyness"].to_numpy(), t, atm, slope, p)


def iv_errors(otm: pl.DataFrame, p: SmileParams = DEFAULT_SMILE) -> pl.DataFrame:
    """Model - real IV (vol points) per chain, |delta| bucket and expiry bucket.

    Returns ``chain, delta_bucket, dte_bucket, n, mean_error, mean_abs_error`` (vol points,
    i.e. 1.0 = one percentage point of vol)."""
    # the level is solved once per expiry, not per contract
    per_exp = otm.group_by("chain", "quote_date", "root", "expiration").agg(
        pl.col("years_to_expiry").first(), *[pl.col(k).first() for k in [*KNOTS, "SKEW"]])
    t = per_exp["years_to_expiry"].to_numpy()
    slope = skew_slope(per_exp["SKEW"].to_numpy(), t, p)
    atm = atm_vol_from_variance_swap(variance_swap_vol(per_exp.select(KNOTS).to_numpy().astype(float), t), t, slope, p)
    per_exp = per_exp.with_columns(pl.Series("_atm", atm), pl.Series("_slope", slope)).drop("years_to_expiry")
    rows = otm.join(per_exp.select("chain", "quote_date", "root", "expiration", "_atm", "_slope"),
                    on=["chain", "quote_date", "root", "expiration"])
    iv = surface_iv(rows["log_moneyness"].to_numpy(), rows["years_to_expiry"].to_numpy(), rows["_atm"].to_numpy(),
                    rows["_slope"].to_numpy(), p)
    rows = rows.with_columns(((pl.Series(iv) - pl.col("iv")) * 100).alias("err"), pl.col("delta").abs().alias("_ad"))
    out = []
    for lo, hi in DELTA_BUCKETS:  # a handful of buckets, each a vectorized group-by
        for dlo, dhi in DTE_BUCKETS:
            b = rows.filter(pl.col("_ad").is_between(lo, hi, closed="left")
                            & pl.col("days_to_expiry").is_between(dlo, dhi, closed="left"))
            out.append(b.group_by("chain").agg(
                pl.lit(f"{lo:.2f}-{hi:.2f}").alias("delta_bucket"), pl.lit(f"{dlo}-{dhi}d").alias("dte_bucket"),
                pl.len().alias("n"), pl.col("err").mean().alias("mean_error"),
                pl.col("err").abs().mean().alias("mean_abs_error")))
    return pl.concat(out).sort("chain", "delta_bucket", "dte_bucket")
