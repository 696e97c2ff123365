"""The daily market-features frame: one row per SPX session, every value point-in-time.

:func:`market_features` assembles the per-family functions of :mod:`features.technicals`,
:mod:`features.breadth`, :mod:`features.realized_vol`, :mod:`features.term_structure` and
:mod:`features.event_features`. The column names in :data:`MARKET_FEATURE_COLUMNS` are a
contract with downstream code (another engineer reads them by name).

Point-in-time rule: the row dated ``t`` uses only market data dated ``<= t`` (the release
calendar, published in advance, is the one deliberate exception, see
:mod:`features.event_features`). All inputs are end-of-day values, known by the 16:15 ET
VIX close (VX futures settle at 16:00 ET after the 2020 hours change, SPX closes at 16:00),
so ``available_at`` is 16:15 America/New_York on ``date`` — conservative on half days.
Floating-point warm-up values are null (not NaN).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from features.breadth import breadth_features
from features.event_features import event_features
from features.realized_vol import (
    HORIZONS,
    realized_variance_close_to_close,
    realized_vol_close_to_close,
    realized_vol_garman_klass,
    realized_vol_parkinson,
    realized_vol_yang_zhang,
    trailing_percentile_rank,
    trailing_quantiles,
)
from features.technicals import macd, rsi
from features.term_structure import vix_family_wide, vx_constant_maturity, vx_roll_yield

NY_TZ = "America/New_York"
AVAILABLE_HOUR, AVAILABLE_MINUTE = 16, 15
CONE_QUANTILES: tuple[tuple[str, float], ...] = (("p10", 0.10), ("p50", 0.50), ("p90", 0.90))

MARKET_FEATURE_COLUMNS: list[str] = [
    "date",
    "available_at",
    "close",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "ad_line",
    "net_advances",
    "ad_ratio",
    "mcclellan_osc",
    "mcclellan_sum",
    *[f"rv_{est}_{h}" for est in ("cc", "parkinson", "gk", "yz") for h in HORIZONS],
    *[f"rv_cc_{h}_cone_{q}" for h in HORIZONS for q, _ in CONE_QUANTILES],
    *[f"rv_cc_{h}_pctile" for h in HORIZONS],
    "vix",
    "vix9d",
    "vix3m",
    "vix6m",
    "vvix",
    "vrp",
    "vrp_vol",
    "vix_pct_rank_252",
    "ts_vix9d_vix",
    "ts_vix_vix3m",
    "ts_vix3m_vix6m",
    "vx_cm30",
    "vx_roll_yield",
    "is_event_day",
    "is_fomc_day",
    "is_cpi_day",
    "is_ppi_day",
    "days_to_fomc",
    "days_to_cpi",
    "days_to_ppi",
    "in_event_window",
]


def available_at(date_col: str = "date") -> pl.Expr:
    """16:15 America/New_York on ``date`` (local wall time, DST-aware), Datetime(us, NY)."""
    return (
        (pl.col(date_col).cast(pl.Datetime("us")) + pl.duration(hours=AVAILABLE_HOUR, minutes=AVAILABLE_MINUTE))
        .dt.replace_time_zone(NY_TZ)
        .alias("available_at")
    )


def price_features(spx_daily: pl.DataFrame, cone_window: int = 252, cone_min_periods: int = 126) -> pl.DataFrame:
    """Technicals, realized vols and the volatility cone on the SPX rows (sorted by date).

    Units: ``close`` and MACD in index points, RSI 0..100, realized vols and cone values
    as annualized decimals, percentiles as shares in 0..1.
    """
    spx = spx_daily.sort("date")
    o, h, lo, c = (spx[k].cast(pl.Float64).to_numpy() for k in ("open", "high", "low", "close"))
    cols: dict[str, np.ndarray] = {"rsi_14": rsi(c, 14)}
    cols["macd"], cols["macd_signal"], cols["macd_hist"] = macd(c, 12, 26, 9)
    for w in HORIZONS:  # four horizons x four estimators: a loop over parameters
        cols[f"rv_cc_{w}"] = realized_vol_close_to_close(c, w)
        cols[f"rv_parkinson_{w}"] = realized_vol_parkinson(h, lo, w)
        cols[f"rv_gk_{w}"] = realized_vol_garman_klass(o, h, lo, c, w)
        cols[f"rv_yz_{w}"] = realized_vol_yang_zhang(o, h, lo, c, w)
        cone = trailing_quantiles(
            cols[f"rv_cc_{w}"], tuple(q for _, q in CONE_QUANTILES), cone_window, cone_min_periods
        )
        for i, (name, _) in enumerate(CONE_QUANTILES):
            cols[f"rv_cc_{w}_cone_{name}"] = cone[:, i]
        cols[f"rv_cc_{w}_pctile"] = trailing_percentile_rank(cols[f"rv_cc_{w}"], cone_window, cone_min_periods)
    cols["_rv_var_cc_21"] = realized_variance_close_to_close(c, 21)
    return pl.DataFrame({"date": spx["date"], "close": c, **cols})


def market_features(
    spx_daily: pl.DataFrame,
    breadth: pl.DataFrame,
    vix_ts: pl.DataFrame,
    vx_futures: pl.DataFrame,
    events: pl.DataFrame,
    replicated: pl.DataFrame | None = None,
    *,
    event_window_before: int = 1,
    event_window_after: int = 0,
    cone_window: int = 252,
    cone_min_periods: int = 126,
    vix_rank_min_periods: int = 126,
) -> pl.DataFrame:
    """Assemble the daily market-features frame (columns :data:`MARKET_FEATURE_COLUMNS`).

    Parameters
    ----------
    spx_daily, breadth, vix_ts, vx_futures, events : pl.DataFrame
        Canonical warehouse frames (``pipelines/schemas.py``); one output row per
        ``spx_daily`` date. Other inputs are left-joined on ``date`` (null where missing).
    replicated : pl.DataFrame, optional
        Our chain-replicated VIX-family levels (points) filling missing official closes.
    event_window_before, event_window_after : int
        Sessions before/after a release flagged by ``in_event_window``.
    cone_window, cone_min_periods : int
        Trailing rows of the volatility cone and percentile, and the minimum number of
        valid realized-vol values needed in that window.
    vix_rank_min_periods : int
        Minimum valid VIX values in the trailing 252 rows for ``vix_pct_rank_252``.

    Notes
    -----
    ``vrp = VIX^2 - 10^4 * RV21`` in variance points (VIX in points, ``RV21`` the 21-day
    zero-mean close-to-close annualized variance as a decimal); ``vrp_vol = VIX - 100 *
    rv_cc_21`` in vol points. Term-structure ratios are dimensionless (``ts_a_b = a/b``).
    ``vx_roll_yield = (M2 - M1)/M1`` of the first two monthly VX contracts.
    """
    px = price_features(spx_daily, cone_window, cone_min_periods)
    vix = vix_family_wide(vix_ts, replicated)
    frame = px.join(vix, on="date", how="left")
    vix_rank = trailing_percentile_rank(
        frame["vix"].cast(pl.Float64).fill_null(np.nan).to_numpy(), 252, vix_rank_min_periods
    )
    frame = frame.with_columns(
        vix_pct_rank_252=pl.Series(vix_rank),
        vrp=pl.col("vix") ** 2 - 1e4 * pl.col("_rv_var_cc_21"),
        vrp_vol=pl.col("vix") - 100.0 * pl.col("rv_cc_21"),
        ts_vix9d_vix=pl.col("vix9d") / pl.col("vix"),
        ts_vix_vix3m=pl.col("vix") / pl.col("vix3m"),
        ts_vix3m_vix6m=pl.col("vix3m") / pl.col("vix6m"),
    )
    frame = (
        frame.join(breadth_features(breadth), on="date", how="left")
        .join(vx_constant_maturity(vx_futures), on="date", how="left")
        .join(vx_roll_yield(vx_futures).select("date", "vx_roll_yield"), on="date", how="left")
        .join(
            event_features(frame["date"], events, event_window_before, event_window_after),
            on="date",
            how="left",
        )
        .with_columns(available_at("date"))
    )
    floats = [c for c, t in frame.schema.items() if t == pl.Float64]
    return frame.with_columns(pl.col(floats).fill_nan(None)).select(MARKET_FEATURE_COLUMNS)
