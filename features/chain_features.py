"""Session-level (one row per quote_date) features of the SPX option chain.

Only SPX and SPXW contracts are used (rows of other roots, e.g. SPY or XSP, are ignored).
Inputs are the per-contract frame of :func:`features.option_features.option_features`
and the raw canonical ``spx_options`` chain (for the VIX-methodology indices).

Conventions: vols are annualized decimals except the ``vix_*`` columns (index points,
i.e. vol x 100); days are calendar days; prices in index points.  Only contracts with a
two-sided quote (``bid > 0``), a finite implied vol and non-negligible vega
(``vega >= MIN_VEGA``) enter the smile-based numbers.
"""

from __future__ import annotations

import polars as pl

from features.vix_index import INDEX_ROOTS, vix_family_frame

__all__ = ["atm_term_structure", "smile_points", "constant_maturity", "chain_features", "CM_DAYS", "CHAIN_FEATURE_DOCS"]


CM_DAYS = (9, 30, 60, 90, 182)
#: vega (index points per 1.00 vol) below which a quote says little about its vol
MIN_VEGA = 0.05
#: expiries shorter than this (in days) are left out of the term structure: a same-day
#: expiry's ATM vol is dominated by the remaining hours of the session
MIN_TERM_DAYS = 1.0

#: column -> (description, units), for the feature registry and the UI.
CHAIN_FEATURE_DOCS: dict[str, tuple[str, str]] = {
    "available_at": ("when the chain snapshot was taken (its quotes were known)", "timestamp, America/New_York"),
    "snapshot_kind": ("eod (after the close), overnight (GTH) or intraday: only eod rows are a close", "label"),
    **{f"atm_iv_{d}d": (f"constant-maturity {d}-day ATM implied vol, interpolated in total variance", "annualized decimal") for d in CM_DAYS},
    "rr25_30d": ("30-day 25-delta risk reversal: iv(25d call) - iv(25d put)", "annualized decimal"),
    "bf25_30d": ("30-day 25-delta butterfly: mean of 25d call/put iv minus ATM iv", "annualized decimal"),
    "expected_move_30d": ("ATM straddle mid of the expiry nearest 30 days (the market's expected move)", "index points"),
    "term_slope": ("atm_iv_90d - atm_iv_30d (positive = upward-sloping)", "annualized decimal"),
    "parity_resid_median": ("median |C_mid - P_mid - D(F - K)| over two-sided call/put pairs", "index points"),
    "parity_resid_p95": ("95th percentile of the put-call parity residual", "index points"),
    "parity_violations": ("conversion/reversal quotes that violate parity beyond the bid/ask", "count"),
    "parity_pairs": ("two-sided call/put pairs checked for parity", "count"),
    "extrinsic_0_7d": ("total extrinsic value of two-sided quotes expiring in 0-7 calendar days", "index points"),
    "extrinsic_8_30d": ("total extrinsic value, 8-30 calendar days", "index points"),
    "extrinsic_31_90d": ("total extrinsic value, 31-90 calendar days", "index points"),
    "extrinsic_91d_plus": ("total extrinsic value, more than 90 calendar days", "index points"),
    "vix_9d": ("VIX9D replicated from the chain with Cboe's VIX methodology", "index points"),
    "vix_30d": ("VIX replicated from the chain with Cboe's VIX methodology", "index points"),
    "vix_93d": ("VIX3M replicated from the chain with Cboe's VIX methodology", "index points"),
    "vix_183d": ("VIX6M replicated from the chain with Cboe's VIX methodology", "index points"),
}
EXPIRY = ["quote_date", "root", "expiration"]


def _usable(option_features: pl.DataFrame) -> pl.DataFrame:
    return option_features.filter(
        (pl.col("bid") > 0)
        & pl.col("iv").is_not_nan()
        & pl.col("iv").is_not_null()
        & (pl.col("vega") >= MIN_VEGA)
        & (pl.col("days_to_expiry") >= MIN_TERM_DAYS)
    )


def _interp_at(frame: pl.DataFrame, keys: list[str], x: str, y: str, x0: float, name: str) -> pl.DataFrame:
    """Per group, ``y`` linearly interpolated at ``x == x0`` between the nearest points on each side.

    Groups without a point on both sides of ``x0`` get null.
    """
    lo = (
        frame.filter(pl.col(x) <= x0)
        .group_by(keys)
        .agg(pl.col(x).max().alias("_x0"), pl.col(y).sort_by(x).last().alias("_y0"))
    )
    hi = (
        frame.filter(pl.col(x) > x0)
        .group_by(keys)
        .agg(pl.col(x).min().alias("_x1"), pl.col(y).sort_by(x).first().alias("_y1"))
    )
    both = lo.join(hi, on=keys, how="inner")
    return both.select(
        keys
        + [
            (pl.col("_y0") + (pl.col("_y1") - pl.col("_y0")) * (x0 - pl.col("_x0")) / (pl.col("_x1") - pl.col("_x0"))).alias(
                name
            )
        ]
    )


def smile_points(option_features: pl.DataFrame) -> pl.DataFrame:
    """ATM and 25-delta implied vols per listed expiry.

    * ``atm_iv``: the out-of-the-money smile (puts below the forward, calls at/above)
      interpolated linearly in ``log_moneyness`` to 0 (the forward).
    * ``iv_call25`` / ``iv_put25``: OTM calls interpolated in call-equivalent delta
      ``N(d1)`` to 0.25, OTM puts to ``N(d1) = 0.75`` (put delta -0.25).

    Returns one row per (quote_date, root, expiration) with ``days`` (float calendar
    days to settlement) and the three vols (null when the smile does not straddle the
    point).
    """
    usable = _usable(option_features)
    otm = usable.filter(
        ((pl.col("option_type") == "P") & (pl.col("log_moneyness") < 0))
        | ((pl.col("option_type") == "C") & (pl.col("log_moneyness") >= 0))
    )
    days = usable.group_by(EXPIRY).agg(pl.col("days_to_expiry").first().alias("days"))
    atm = _interp_at(otm, EXPIRY, "log_moneyness", "iv", 0.0, "atm_iv")
    c25 = _interp_at(otm.filter(pl.col("option_type") == "C"), EXPIRY, "delta_moneyness", "iv", 0.25, "iv_call25")
    p25 = _interp_at(otm.filter(pl.col("option_type") == "P"), EXPIRY, "delta_moneyness", "iv", 0.75, "iv_put25")
    return (
        days.join(atm, on=EXPIRY, how="left")
        .join(c25, on=EXPIRY, how="left")
        .join(p25, on=EXPIRY, how="left")
        .sort(EXPIRY)
    )


def atm_term_structure(option_features: pl.DataFrame) -> pl.DataFrame:
    """ATM implied vol per expiry: columns ``quote_date, root, expiration, days, atm_iv``.

    See :func:`smile_points` for the definition; expiries with no ATM vol are dropped.
    """
    return smile_points(option_features).select(EXPIRY + ["days", "atm_iv"]).drop_nulls("atm_iv")


def constant_maturity(points: pl.DataFrame, value: str, target_days: float, name: str) -> pl.DataFrame:
    """Constant-maturity vol per quote_date by linear interpolation in total variance.

    ``w(t) = iv(t)^2 t`` is interpolated linearly in days between the nearest expiries
    below and above ``target_days``; ``iv = sqrt(w / target)``.  Outside the listed range
    the nearest expiry's vol is used (flat extrapolation).
    """
    pts = points.drop_nulls(value).filter(pl.col(value).is_not_nan()).with_columns(
        (pl.col(value) ** 2 * pl.col("days")).alias("_w")
    )
    inside = _interp_at(pts, ["quote_date"], "days", "_w", target_days, "_wt").with_columns(
        (pl.col("_wt").clip(lower_bound=0.0) / target_days).sqrt().alias(name)
    )
    nearest = (
        pts.with_columns((pl.col("days") - target_days).abs().alias("_dist"))
        .group_by("quote_date")
        .agg(pl.col(value).sort_by("_dist").first().alias("_flat"))
    )
    return nearest.join(inside, on="quote_date", how="left").select(
        "quote_date", pl.coalesce(name, "_flat").alias(name)
    )


def _expected_move(option_features: pl.DataFrame) -> pl.DataFrame:
    """ATM straddle mid (points) at the strike nearest the forward, expiry nearest 30 days."""
    quoted = option_features.filter((pl.col("bid") > 0) & (pl.col("days_to_expiry") >= MIN_TERM_DAYS))
    wide = (
        quoted.filter(pl.col("option_type") == "C")
        .select(EXPIRY + ["strike", "days_to_expiry", "forward", pl.col("mid").alias("c_mid")])
        .join(
            quoted.filter(pl.col("option_type") == "P").select(EXPIRY + ["strike", pl.col("mid").alias("p_mid")]),
            on=EXPIRY + ["strike"],
        )
    )
    return (
        wide.with_columns(
            (pl.col("days_to_expiry") - 30.0).abs().alias("_dd"),
            (pl.col("strike") - pl.col("forward")).abs().alias("_dk"),
        )
        .sort(["quote_date", "_dd", "_dk"])
        .group_by("quote_date", maintain_order=True)
        .agg((pl.col("c_mid") + pl.col("p_mid")).first().alias("expected_move_30d"))
    )


def _parity_stats(option_features: pl.DataFrame) -> pl.DataFrame:
    """Put-call parity residuals of two-sided call/put pairs against the fitted F and D.

    ``parity_resid_median`` / ``parity_resid_p95``: median and 95th percentile of
    ``|C_mid - P_mid - D (F - K)|`` (points).  ``parity_violations``: pairs where a
    conversion or reversal locks in a gain at the quoted prices, i.e.
    ``C_bid - P_ask > D (F - K)`` or ``C_ask - P_bid < D (F - K)``.
    """
    quoted = option_features.filter((pl.col("bid") > 0) & (pl.col("years_to_expiry") > 0))
    keys = EXPIRY + ["strike"]
    c = quoted.filter(pl.col("option_type") == "C").select(
        keys + ["forward", "discount_factor", pl.col("bid").alias("cb"), pl.col("ask").alias("ca")]
    )
    p = quoted.filter(pl.col("option_type") == "P").select(keys + [pl.col("bid").alias("pb"), pl.col("ask").alias("pa")])
    pairs = c.join(p, on=keys).with_columns(
        (pl.col("discount_factor") * (pl.col("forward") - pl.col("strike"))).alias("_fair")
    )
    resid = ((pl.col("cb") + pl.col("ca")) / 2 - (pl.col("pb") + pl.col("pa")) / 2 - pl.col("_fair")).abs()
    violation = ((pl.col("cb") - pl.col("pa")) > pl.col("_fair")) | ((pl.col("ca") - pl.col("pb")) < pl.col("_fair"))
    return pairs.group_by("quote_date").agg(
        resid.median().alias("parity_resid_median"),
        resid.quantile(0.95).alias("parity_resid_p95"),
        violation.sum().cast(pl.Int64).alias("parity_violations"),
        pl.len().cast(pl.Int64).alias("parity_pairs"),
    )


def _extrinsic_buckets(option_features: pl.DataFrame) -> pl.DataFrame:
    """Sum of time value (points) of two-sided quotes by calendar days to expiration."""
    cal_days = (pl.col("expiration") - pl.col("quote_date")).dt.total_days()
    quoted = option_features.filter(pl.col("bid") > 0)
    ext = pl.col("extrinsic")
    return quoted.group_by("quote_date").agg(
        ext.filter(cal_days <= 7).sum().alias("extrinsic_0_7d"),
        ext.filter((cal_days > 7) & (cal_days <= 30)).sum().alias("extrinsic_8_30d"),
        ext.filter((cal_days > 30) & (cal_days <= 90)).sum().alias("extrinsic_31_90d"),
        ext.filter(cal_days > 90).sum().alias("extrinsic_91d_plus"),
    )


def chain_features(option_features: pl.DataFrame, chain: pl.DataFrame) -> pl.DataFrame:
    """One row per quote_date of chain-level volatility features.

    Columns
    -------
    ``atm_iv_9d, atm_iv_30d, atm_iv_60d, atm_iv_90d, atm_iv_182d``
        Constant-maturity ATM vol (decimal), :func:`constant_maturity` of
        :func:`atm_term_structure`.
    ``rr25_30d``
        30-day 25-delta risk reversal ``iv_call25 - iv_put25`` (decimal; negative =
        puts richer, the usual SPX skew).
    ``bf25_30d``
        30-day 25-delta butterfly ``(iv_call25 + iv_put25)/2 - atm_iv`` (decimal).
    ``expected_move_30d``
        ATM straddle mid (index points) of the expiry nearest 30 days, at the strike
        nearest its forward.
    ``term_slope``
        ``atm_iv_90d - atm_iv_30d`` (decimal; positive = upward-sloping term structure).
    ``parity_resid_median, parity_resid_p95, parity_violations, parity_pairs``
        See :func:`_parity_stats`.
    ``extrinsic_0_7d, extrinsic_8_30d, extrinsic_31_90d, extrinsic_91d_plus``
        Total time value (index points) of two-sided quotes by calendar days to
        expiration.
    ``vix_9d, vix_30d, vix_93d, vix_183d``
        VIX-methodology indices from the raw chain
        (:func:`features.vix_index.vix_family_frame`).
    ``available_at, snapshot_kind``
        The chain's snapshot time (when these features became known) and kind; pass
        one snapshot per session.
    """
    # the features describe the SPX complex; other roots (SPY, XSP) are a different underlying
    option_features = option_features.filter(pl.col("root").is_in(list(INDEX_ROOTS)))
    chain = chain.filter(pl.col("root").is_in(list(INDEX_ROOTS)))
    out = chain.group_by("quote_date").agg(
        pl.col("snapshot_time").max().alias("available_at"), pl.col("snapshot_kind").first()
    )
    points = smile_points(option_features)
    for d in CM_DAYS:
        out = out.join(constant_maturity(points, "atm_iv", d, f"atm_iv_{d}d"), on="quote_date", how="left")
    c25 = constant_maturity(points, "iv_call25", 30, "_c25")
    p25 = constant_maturity(points, "iv_put25", 30, "_p25")
    out = (
        out.join(c25, on="quote_date", how="left")
        .join(p25, on="quote_date", how="left")
        .with_columns(
            (pl.col("_c25") - pl.col("_p25")).alias("rr25_30d"),
            ((pl.col("_c25") + pl.col("_p25")) / 2 - pl.col("atm_iv_30d")).alias("bf25_30d"),
            (pl.col("atm_iv_90d") - pl.col("atm_iv_30d")).alias("term_slope"),
        )
        .drop("_c25", "_p25")
        .join(_expected_move(option_features), on="quote_date", how="left")
        .join(_parity_stats(option_features), on="quote_date", how="left")
        .join(_extrinsic_buckets(option_features), on="quote_date", how="left")
        .join(vix_family_frame(chain), on="quote_date", how="left")
    )
    return out.sort("quote_date")
