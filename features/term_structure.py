"""VIX-family term structure and VX futures features.

Units: VIX-family index levels and VX settlements in index points (VIX = 20.0 means
20 % annualized implied vol); ratios are dimensionless; days are calendar days.

* :func:`vix_family_wide` pivots the long ``vix_term_structure`` table to one row per
  date and fills gaps in the official series from our own chain replication
  (official value first, replicated only where the official one is missing).
* :func:`vx_constant_maturity` interpolates the VX curve at 30 calendar days.
* :func:`vx_roll_yield` is the M1/M2 roll yield ``(M2 - M1) / M1`` — positive in
  contango (the front future rolls *down* towards spot as it ages).

Only monthly VX contracts are used by default (weeklies make "M1/M2" ambiguous); a
monthly contract's final settlement date is the Wednesday 30 days before the third Friday
of the following month, or up to three days earlier when a holiday moves it.
"""

from __future__ import annotations

import polars as pl

from features.calendar import add_months, is_monthly_vx_expiration_expr, vx_expiration

# Official series -> output column, and the replicated column that may fill it.
VIX_COLUMNS: dict[str, str] = {
    "VIX9D": "vix9d",
    "VIX": "vix",
    "VIX3M": "vix3m",
    "VIX6M": "vix6m",
    "VVIX": "vvix",
}
REPLICATED_FILL: dict[str, str] = {
    "vix9d": "vix_9d",
    "vix": "vix_30d",
    "vix3m": "vix_93d",
    "vix6m": "vix_183d",
}


def vix_family_wide(vix_ts: pl.DataFrame, replicated: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per date with ``vix9d, vix, vix3m, vix6m, vvix`` (index points).

    Parameters
    ----------
    vix_ts : pl.DataFrame
        Long table ``date, series, value`` (``source`` ignored).
    replicated : pl.DataFrame, optional
        ``date, vix_9d, vix_30d, vix_93d, vix_183d`` in index points from our chain
        replication; used only where the official close is missing (coalesce official
        first).
    """
    wide = (
        vix_ts.filter(pl.col("series").is_in(list(VIX_COLUMNS)))
        .select("date", pl.col("series").replace_strict(VIX_COLUMNS, return_dtype=pl.String), "value")
        .pivot(on="series", index="date", values="value", aggregate_function="last")
    )
    for col in VIX_COLUMNS.values():
        if col not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.Float64).alias(col))
    if replicated is not None and replicated.height:
        rep = replicated.select(
            "date", *[pl.col(c).cast(pl.Float64).alias(f"_rep_{c}") for c in REPLICATED_FILL.values()]
        )
        wide = wide.join(rep, on="date", how="full", coalesce=True).with_columns(
            pl.coalesce(pl.col(out), pl.col(f"_rep_{src}")).alias(out) for out, src in REPLICATED_FILL.items()
        )
        wide = wide.drop([f"_rep_{c}" for c in REPLICATED_FILL.values()])
    return wide.select("date", *[pl.col(c).cast(pl.Float64) for c in VIX_COLUMNS.values()]).sort("date")


def _curve(vx_futures: pl.DataFrame, monthly_only: bool) -> pl.DataFrame:
    """Live contracts per date (expiration after the trade date), with calendar DTE and rank."""
    vx = vx_futures.select("date", "expiration", pl.col("settle").cast(pl.Float64))
    if monthly_only:
        vx = vx.filter(is_monthly_vx_expiration_expr(pl.col("expiration")))
    # A contract expiring on the trade date settled at that morning's open (SOQ): it no
    # longer carries any forward information for the rest of the curve.
    return (
        vx.filter(pl.col("expiration") > pl.col("date"))
        .with_columns(dte=(pl.col("expiration") - pl.col("date")).dt.total_days())
        .sort("date", "expiration")
        .with_columns(rank=pl.col("expiration").rank("ordinal").over("date"))
    )


def vx_roll_yield(vx_futures: pl.DataFrame, monthly_only: bool = True) -> pl.DataFrame:
    """``date, vx_m1, vx_m2, vx_roll_yield`` with ``roll = (M2 - M1) / M1`` (dimensionless).

    ``M1``/``M2`` are the first and second contracts expiring after the trade date.
    """
    curve = _curve(vx_futures, monthly_only)
    m = curve.filter(pl.col("rank") <= 2).pivot(on="rank", index="date", values="settle")
    for k in ("1", "2"):
        if k not in m.columns:
            m = m.with_columns(pl.lit(None, pl.Float64).alias(k))
    return m.select(
        "date",
        pl.col("1").alias("vx_m1"),
        pl.col("2").alias("vx_m2"),
        ((pl.col("2") - pl.col("1")) / pl.col("1")).alias("vx_roll_yield"),
    ).sort("date")


def vx_constant_maturity(vx_futures: pl.DataFrame, target_days: int = 30, monthly_only: bool = True) -> pl.DataFrame:
    """``date, vx_cm30``: the VX curve linearly interpolated at ``target_days`` calendar days.

    With ``d1 <= target < d2`` the days to expiry of the bracketing contracts and ``F1, F2``
    their settlements, ``cm = w F1 + (1 - w) F2`` with ``w = (d2 - target) / (d2 - d1)``.
    When every live contract expires after ``target`` days the front settlement is used
    (flat extrapolation towards spot is not attempted); when none expires after ``target``
    days the value is null.
    """
    curve = _curve(vx_futures, monthly_only)
    below = (
        curve.filter(pl.col("dte") <= target_days)
        .group_by("date")
        .agg(pl.col("dte").last().alias("d1"), pl.col("settle").last().alias("f1"))
    )
    above = (
        curve.filter(pl.col("dte") > target_days)
        .group_by("date")
        .agg(pl.col("dte").first().alias("d2"), pl.col("settle").first().alias("f2"))
    )
    dates = curve.select("date").unique()
    j = dates.join(below, on="date", how="left").join(above, on="date", how="left")
    w = (pl.col("d2") - target_days) / (pl.col("d2") - pl.col("d1"))
    cm = (
        pl.when(pl.col("d1").is_not_null() & pl.col("d2").is_not_null())
        .then(w * pl.col("f1") + (1.0 - w) * pl.col("f2"))
        .when(pl.col("d1").is_null())
        .then(pl.col("f2"))
        .otherwise(None)
    )
    return j.select("date", cm.cast(pl.Float64).alias("vx_cm30")).sort("date")


__all__ = [
    "VIX_COLUMNS",
    "REPLICATED_FILL",
    "vix_family_wide",
    "vx_roll_yield",
    "vx_constant_maturity",
]


#: VIX-family tenors in calendar days (Cboe: VIX9D, VIX, VIX3M, VIX6M).
TENOR_DAYS: dict[str, float] = {"vix9d": 9.0, "vix": 30.0, "vix3m": 93.0, "vix6m": 183.0}


def forward_vix(wide: pl.DataFrame, days_ahead: pl.Expr) -> pl.Expr:
    """Forward 30-day VIX starting ``days_ahead`` calendar days out, from the VIX family.

    Total implied variance ``w(tau) = (level/100)^2 tau/365`` is known at the family's
    tenors and interpolated linearly in ``tau`` (flat vol beyond the longest tenor and
    before the shortest); the forward VIX is ``100 sqrt((w(T+30) - w(T)) 365/30)``.
    This is the forward *variance* level: VX futures trade below it by a convexity term
    (the square root of an expectation exceeds the expectation of a square root), so it
    is an upper bound used only where no VX settlement exists (documented in the README).
    """
    tenors = [(c, t) for c, t in TENOR_DAYS.items() if c in wide.columns]

    def total_variance(tau: pl.Expr) -> pl.Expr:
        # piecewise-linear through the known (tenor, w) points, flat vol at both ends
        ws = [(t, (pl.col(c) / 100.0) ** 2 * t / 365.0) for c, t in tenors]
        expr = ws[-1][1] * tau / ws[-1][0]  # beyond the longest tenor: flat vol
        for (t0, w0), (t1, w1) in reversed(list(zip(ws[:-1], ws[1:]))):
            expr = pl.when(tau <= t1).then(w0 + (w1 - w0) * (tau - t0) / (t1 - t0)).otherwise(expr)
        return pl.when(tau <= ws[0][0]).then(ws[0][1] * tau / ws[0][0]).otherwise(expr)

    fwd_var = (total_variance(days_ahead + 30.0) - total_variance(days_ahead)) * 365.0 / 30.0
    return 100.0 * fwd_var.clip(lower_bound=0.0).sqrt()


def model_vx_futures(vix_ts: pl.DataFrame, expirations: pl.DataFrame) -> pl.DataFrame:
    """VX settlements modelled from the VIX family where no VX settlement is stored.

    ``expirations``: ``date, expiration`` pairs to price (the listed monthly contracts of
    each date). Returns the ``vx_futures`` columns ``date, contract, expiration, settle``
    with ``source = "model:forward-variance"``.
    """
    wide = vix_family_wide(vix_ts).drop_nulls("vix")
    days_ahead = (pl.col("expiration") - pl.col("date")).dt.total_days().cast(pl.Float64)
    return (
        expirations.join(wide, on="date", how="inner")
        .with_columns(settle=forward_vix(wide, days_ahead))
        .select(
            "date",
            pl.format("VX {}", pl.col("expiration").cast(pl.String)).alias("contract"),
            "expiration",
            "settle",
            pl.lit("model:forward-variance").alias("source"),
        )
        .drop_nulls("settle")
    )


def listed_vx_expirations(dates: pl.Series, months: int = 8) -> pl.DataFrame:
    """``date, expiration`` of the next ``months`` monthly VX contracts after each date.

    Uses the CFE rule on scheduled NYSE holidays (:func:`features.calendar.vx_expiration`).
    The loop is over distinct months (a few hundred at most), not over rows.
    """

    days = dates.unique().sort()
    if days.is_empty():
        return pl.DataFrame(schema={"date": pl.Date, "expiration": pl.Date})
    first, last = days[0], days[-1]
    exps = [
        vx_expiration(*add_months(first.year, first.month, k))
        for k in range(-1, (last.year - first.year) * 12 + last.month - first.month + months + 2)
    ]
    grid = pl.DataFrame({"date": days}).join(pl.DataFrame({"expiration": exps}), how="cross")
    return (
        grid.filter(pl.col("expiration") > pl.col("date"))
        .sort("date", "expiration")
        .group_by("date", maintain_order=True)
        .head(months)
    )
