"""Adaptive Layered VIX Hedge (ALVH): long VIX calls sized against the condor book's short vega.

Layers (one row per session per layer in :func:`hedge_layers`):

``base``
    On while any condor is open.  Offsets ``base_fraction`` of the book's short vega.
``flattening``
    On when the VIX term structure flattens (``vix / vix3m`` above ``flattening_threshold``;
    the size ramps linearly to full over ``flattening_ramp``) or inside an FOMC/CPI/PPI event
    window (full size).  Adds ``flattening_fraction`` of the book's short vega; it scales back
    down as the ratio falls, and is off when no condor is open.
``second_engine``
    On from a change into a stressed volatility regime or a backwardated term structure, for
    as long as that regime lasts.  Sized on ``engine_fraction`` of the largest short vega of
    the book over the last ``reference_window`` sessions, so it keeps working after the
    condors have been stopped out; by default a call spread (long ``call_delta``, short
    ``spread_short_delta``) to cap the cost of the convexity bought in a crisis.

Sizing.  The book's vega ``V`` is in dollars per SPX implied-vol point (negative when short).
A one-point rise of VIX is taken to move the condors' implied vols by ``vol_beta`` points
(default 1: VIX is 30-day SPX implied vol) and the chosen VX future by ``beta``, the slope of
a trailing ``beta_window``-session regression of daily changes of the 30-day constant-maturity
VX future (``vx_cm30``) on daily changes of VIX (point in time: only rows known by the session,
clipped to ``[beta_floor, beta_cap]``, ``beta_prior`` before 20 observations).  A VIX option
position of ``n`` contracts with Black-76 delta ``Delta`` to its future gains about
``n x 100 x Delta x beta`` dollars per VIX point, so

    n = fraction x scale x |V| x vol_beta / (100 x Delta x beta),

rounded to whole contracts.

Instrument.  VIX options are European options on the VX future of the same expiry, priced
with Black-76 on that future (not on spot VIX): expiry = the VX contract whose expiration is
nearest ``t + horizon_days`` with at least ``min_days_to_expiry`` left; vol =
``vvix_vol_scale x VVIX / 100`` (no VIX option quotes are stored; VVIX is the 30-day implied
vol of VIX, later expiries trade lower, hence the scale; the upward VIX smile is ignored,
which undervalues OTM calls); discount at the backtest cash rate.  The strike is set on the
first session of each holding segment (a segment changes when the layer turns on/off, the
expiry rolls or, with ``restrike_weekly``, a new week starts) at the target delta, rounded to
the 0.5-point VIX strike grid, and kept for the segment; the size is re-targeted daily with
the instrument's delta floored at ``min_sizing_delta`` (a call that has drifted far out of
the money is not bought by the thousand to make up for its small delta).

Relation to Cboe's VIX Tail Hedge index (VXTH).  VXTH holds the S&P 500 (total return) plus
one-month ≈30-delta VIX calls bought at each monthly roll, with a portfolio weight set by the
forward value of VIX (the VX future) at the roll from a published schedule: no calls when
the future is below 15 or above 50, a larger weight in the 15-30 band than in the 30-50
band (commonly quoted as 1 % and 0.5 %), so that cheap insurance is bought in quiet markets
and profits are monetized when volatility is extreme.  Our base layer uses the same instrument (one-month ≈30-delta
VIX call), but (i) sizes on the vega of the condor book it protects rather than on a fixed
notional weight, (ii) re-targets daily instead of monthly, (iii) adds layers that are
conditioned on term structure, event windows and regime changes, and (iv) is priced from a
model (Black-76 on the VX future, VVIX-based vol) instead of traded VIX option quotes.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.special import ndtri

from features.black76 import black76_greeks
from features.point_in_time import FEATURE_DATE, features_at_sessions
from features.strategy_config import HedgeConfig, StrategyConfig

__all__ = ["hedge_layers", "vx_vix_beta", "vix_call_strike", "LAYERS"]

LAYERS = ("base", "flattening", "second_engine")
BETA_MIN_OBS = 20


def vx_vix_beta(features: pl.DataFrame, window: int, prior: float, floor: float, cap: float) -> pl.DataFrame:
    """Trailing OLS slope of daily changes of ``vx_cm30`` on daily changes of ``vix``.

    Returns ``feature_date, beta`` (one row per feature date); the slope at date d uses the
    ``window`` changes ending at d only, each date's values as they were known at that
    date's own decision instant (:func:`features.point_in_time.features_at_sessions`: a
    revision published after it is not used, for that date or any later one; a date whose
    row was first published after its own session is left out).  ``beta = cov(dVX, dVIX) / var(dVIX)``; ``prior``
    where fewer than 20 changes are available or the inputs are missing.
    """
    if "vx_cm30" not in features.columns or "vix" not in features.columns:
        return features.select(pl.col("date").unique().alias("feature_date"), pl.lit(prior).alias("beta"))
    cols = [c for c in ("date", "available_at", "vix", "vx_cm30") if c in features.columns]
    known = features_at_sessions(features.select(cols), features["date"])
    f = (
        known.filter(pl.col(FEATURE_DATE) == pl.col("date"))
        .select("date", "vix", "vx_cm30")
        .with_columns(pl.col("vix").diff().alias("_x"), pl.col("vx_cm30").diff().alias("_y"))
    )
    roll = dict(window_size=window, min_samples=BETA_MIN_OBS)
    f = f.with_columns(
        (pl.col("_x") * pl.col("_y")).rolling_mean(**roll).alias("_xy"),
        (pl.col("_x") ** 2).rolling_mean(**roll).alias("_xx"),
        pl.col("_x").rolling_mean(**roll).alias("_mx"),
        pl.col("_y").rolling_mean(**roll).alias("_my"),
    )
    var = pl.col("_xx") - pl.col("_mx") ** 2
    cov = pl.col("_xy") - pl.col("_mx") * pl.col("_my")
    beta = pl.when(var > 1e-12).then(cov / var).otherwise(None)
    return f.select(
        pl.col("date").alias("feature_date"),
        beta.clip(floor, cap).fill_nan(None).fill_null(prior).alias("beta"),
    )


def vix_call_strike(forward: np.ndarray, years: np.ndarray, vol: np.ndarray, discount: np.ndarray, delta: float) -> np.ndarray:
    """Strike of a Black-76 call with forward delta ``delta`` (``D N(d1) = delta``), rounded to
    the 0.5-point grid: ``K = F exp(-d1 s + s^2/2)``, ``d1 = N^-1(delta / D)``, ``s = vol sqrt T``."""
    s = vol * np.sqrt(years)
    d1 = ndtri(np.clip(delta / discount, 1e-9, 1 - 1e-9))
    k = forward * np.exp(-d1 * s + 0.5 * s * s)
    return np.round(k * 2.0) / 2.0


def _price(f, k1, k2, t, vol, disc) -> dict[str, np.ndarray]:
    """Per-unit price/greeks of a call (k2 NaN) or call spread k1 < k2 (points, per VX point)."""
    is_call = np.ones(f.shape[0], dtype=bool)
    a = black76_greeks(f, k1, t, vol, disc, is_call)
    spread = np.isfinite(k2)
    b = black76_greeks(f, np.where(spread, k2, k1), t, vol, disc, is_call)
    return {g: np.where(spread, a[g] - b[g], a[g]) for g in ("price", "delta", "gamma", "vega", "theta")}


def hedge_layers(
    condor_book_daily: pl.DataFrame,
    features_asof: pl.DataFrame,
    vx_futures: pl.DataFrame,
    config: StrategyConfig,
) -> pl.DataFrame:
    """ALVH layer states, instruments, prices and target sizes per session.

    Parameters
    ----------
    condor_book_daily : pl.DataFrame
        ``date, net_vega`` (dollars per SPX vol point; negative when the book is short vega),
        one row per session (0 when flat).
    features_asof : pl.DataFrame
        Market features + regimes (``date, available_at, vix, vix3m, vvix, vx_cm30,
        in_event_window, vol_regime, term_regime, regime_changed``).
    vx_futures : pl.DataFrame
        ``date, expiration, settle``.
    config : StrategyConfig

    Returns
    -------
    pl.DataFrame
        One row per session per layer: ``date, layer, on, why, scale, beta, book_vega,
        target_vix_dollars`` (dollars per VIX point), ``expiry, forward, strike,
        short_strike, vol, years, price, delta, gamma, vega, theta`` (per unit, VIX points),
        ``contracts`` and, for the instrument held the session before, its price and
        future today: ``prev_instrument_price, prev_instrument_forward``.
    """
    h: HedgeConfig = config.hedge
    rate = config.backtest.cash_rate
    days = condor_book_daily.select("date", pl.col("net_vega").fill_null(0.0).alias("book_vega")).sort("date")
    feats = features_at_sessions(features_asof, days.select("date"))
    for c, dt in (("vix", pl.Float64), ("vix3m", pl.Float64), ("vvix", pl.Float64), ("in_event_window", pl.Boolean),
                  ("vol_regime", pl.String), ("term_regime", pl.String)):
        if c not in feats.columns:
            feats = feats.with_columns(pl.lit(None, dtype=dt).alias(c))
    beta = vx_vix_beta(features_asof, h.beta_window, h.beta_prior, h.beta_floor, h.beta_cap)
    d = (
        days.join(feats, on="date", how="left")
        .join(beta, on="feature_date", how="left")
        .with_columns(pl.col("beta").fill_null(h.beta_prior))
    )
    # hedge expiry: VX contract nearest t + horizon with enough life left
    vx = (
        vx_futures.select("date", "expiration", "settle")
        .with_columns((pl.col("expiration") - pl.col("date")).dt.total_days().cast(pl.Float64).alias("_tau"))
        .filter(pl.col("_tau") >= h.min_days_to_expiry)
        .with_columns((pl.col("_tau") - h.horizon_days).abs().alias("_dist"))
        .sort(["date", "_dist", "expiration"])
        .group_by("date", maintain_order=True)
        .first()
        .select("date", pl.col("expiration").alias("expiry"), pl.col("settle").alias("forward"))
    )
    d = d.join(vx, on="date", how="left").with_columns(
        (h.vvix_vol_scale * pl.col("vvix") / 100.0).fill_null(h.default_vix_vol).alias("vol"),
        ((pl.col("expiry") - pl.col("date")).dt.total_days().cast(pl.Float64) / 365.0).alias("years"),
    ).with_columns((-rate * pl.col("years")).exp().alias("discount"))

    book_short = pl.col("book_vega") < 0
    ratio = pl.col("vix") / pl.col("vix3m")
    ramp = ((ratio - h.flattening_threshold) / h.flattening_ramp).clip(0.0, 1.0).fill_null(0.0)
    event = pl.col("in_event_window").fill_null(False)
    flat_scale = pl.when(event).then(1.0).otherwise(ramp)
    stressed = (
        pl.col("vol_regime").is_in(list(h.engine_regimes_vol)) | pl.col("term_regime").is_in(list(h.engine_regimes_term))
    ).fill_null(False)
    ref_vega = pl.max_horizontal(
        (-pl.col("book_vega")).clip(lower_bound=0.0),
        (-pl.col("book_vega")).clip(lower_bound=0.0).rolling_max(window_size=h.reference_window, min_samples=1),
    )
    r2 = lambda e: e.round(3).cast(pl.String)  # noqa: E731
    specs = [
        ("base", book_short, pl.lit(1.0), h.base_fraction, (-pl.col("book_vega")).clip(lower_bound=0.0),
         pl.when(book_short).then(pl.format("condor book short vega {} $/vol pt", r2(pl.col("book_vega"))))
         .otherwise(pl.lit("no condor open")), "call"),
        ("flattening", book_short & (flat_scale > 0), flat_scale, h.flattening_fraction,
         (-pl.col("book_vega")).clip(lower_bound=0.0),
         pl.format("vix/vix3m {} (threshold {}), event window {}, book vega {}", r2(ratio).fill_null("na"),
                   pl.lit(str(h.flattening_threshold)), event.cast(pl.String), r2(pl.col("book_vega"))), "call"),
        ("second_engine", stressed & (ref_vega > 0), pl.lit(1.0), h.engine_fraction, ref_vega,
         pl.format("regime {}/{}, reference short vega {}", pl.col("vol_regime").fill_null("na"),
                   pl.col("term_regime").fill_null("na"), r2(ref_vega)), h.engine_instrument),
    ]
    frames = []
    for name, on, scale, frac, vega_ref, why, kind in specs:  # three layers
        frames.append(
            d.with_columns(
                pl.lit(name).alias("layer"),
                (on & pl.col("expiry").is_not_null()).fill_null(False).alias("on"),
                scale.cast(pl.Float64).alias("scale"),
                (frac * scale * vega_ref * h.vol_beta).cast(pl.Float64).alias("target_vix_dollars"),
                why.alias("why"),
                pl.lit(kind).alias("instrument"),
            )
        )
    lay = pl.concat(frames, how="vertical_relaxed").sort(["layer", "date"]).with_columns(
        pl.col("date").dt.truncate("1w").alias("_week")
    )
    # holding segments: a new segment starts whenever the layer switches or the expiry rolls
    lay = lay.with_columns(
        (
            (pl.col("on") != pl.col("on").shift(1).over("layer", order_by="date"))
            | (pl.col("expiry") != pl.col("expiry").shift(1).over("layer", order_by="date"))
            | (pl.lit(h.restrike_weekly) & (pl.col("_week") != pl.col("_week").shift(1).over("layer", order_by="date")))
        ).fill_null(True).cast(pl.Int64).cum_sum().over("layer", order_by="date").alias("_seg")
    )
    f = lay["forward"].to_numpy().astype(float)
    t = lay["years"].to_numpy().astype(float)
    v = lay["vol"].to_numpy().astype(float)
    disc = lay["discount"].to_numpy().astype(float)
    with np.errstate(invalid="ignore"):
        k1 = vix_call_strike(f, t, v, disc, h.call_delta)
        k2 = vix_call_strike(f, t, v, disc, h.spread_short_delta)
    is_spread = (lay["instrument"] == "call_spread").to_numpy()
    k2 = np.where(is_spread & (k2 > k1), k2, np.where(is_spread, k1 + 0.5, np.nan))
    lay = lay.with_columns(
        pl.Series("_k1", k1).fill_nan(None), pl.Series("_k2", k2).fill_nan(None)
    ).with_columns(
        pl.when(pl.col("on")).then(pl.col("_k1").first().over(["layer", "_seg"], order_by="date")).alias("strike"),
        pl.when(pl.col("on")).then(pl.col("_k2").first().over(["layer", "_seg"], order_by="date")).alias("short_strike"),
    ).with_columns(pl.when(pl.col("on")).then(pl.col("expiry")).alias("expiry"))
    on_np = lay["on"].to_numpy()
    ks = lay["strike"].fill_null(np.nan).to_numpy().astype(float)
    kss = lay["short_strike"].fill_null(np.nan).to_numpy().astype(float)
    with np.errstate(invalid="ignore"):
        g = _price(f, np.where(on_np, ks, f), kss, t, v, disc)
    lay = lay.with_columns(
        *[pl.Series(name, np.where(on_np, g[name], np.nan)).fill_nan(None) for name in ("price", "delta", "gamma", "vega", "theta")]
    ).with_columns(
        pl.when(pl.col("on") & (pl.col("delta") > 0))
        .then(
            (pl.col("target_vix_dollars")
             / (100.0 * pl.col("delta").clip(lower_bound=h.min_sizing_delta) * pl.col("beta"))).round(0)
        )
        .otherwise(0.0)
        .alias("contracts")
    )
    # the instrument held yesterday, re-priced on today's future and vol (for the P&L)
    prev = lambda c: pl.col(c).shift(1).over("layer", order_by="date")  # noqa: E731
    lay = lay.with_columns(prev("expiry").alias("_pe"), prev("strike").alias("_pk"), prev("short_strike").alias("_pks"))
    lay = lay.join(
        vx_futures.select("date", pl.col("expiration").alias("_pe"), pl.col("settle").alias("prev_instrument_forward")),
        on=["date", "_pe"], how="left",
    )
    pf = lay["prev_instrument_forward"].fill_null(np.nan).to_numpy().astype(float)
    pe_t = ((lay["_pe"] - lay["date"]).dt.total_days().cast(pl.Float64) / 365.0).fill_null(np.nan).to_numpy()
    pk = lay["_pk"].fill_null(np.nan).to_numpy().astype(float)
    pks = lay["_pks"].fill_null(np.nan).to_numpy().astype(float)
    held = np.isfinite(pk) & np.isfinite(pf)
    with np.errstate(invalid="ignore"):
        gp = _price(np.where(held, pf, 1.0), np.where(held, pk, 1.0), pks, np.where(held, pe_t, 0.1), v,
                    np.exp(-rate * np.where(held, pe_t, 0.1)))
    lay = lay.with_columns(pl.Series("prev_instrument_price", np.where(held, gp["price"], np.nan)).fill_nan(None))
    return lay.select(
        "date", "layer", "on", "why", "scale", "beta", "book_vega", "target_vix_dollars", "instrument", "expiry",
        "forward", "strike", "short_strike", "vol", "years", "price", "delta", "gamma", "vega", "theta",
        "contracts", "prev_instrument_price", "prev_instrument_forward",
    ).sort(["date", "layer"])
