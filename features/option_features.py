"""Per-contract option analytics for the canonical ``spx_options`` chain.

Conventions
-----------
* Time: ``years_to_expiry`` = minutes from "now" to settlement / 525,600 (ACT/365 in
  minutes, the Cboe convention).  "Now" is the ``snapshot_time`` except for end-of-day
  snapshots (``snapshot_kind == "eod"``), where it is 16:15 ET of ``quote_date`` (the
  close of the SPX option session, whatever time the file was downloaded).
* Settlement: root ``SPX`` is AM-settled at the 09:30 ET opening on the expiration date;
  ``SPXW`` (and any other root) is PM-settled at 16:00 ET.
* ``forward`` ``F`` and ``discount_factor`` ``D`` come from put-call parity
  ``C - P = D (F - K)`` fitted on near-the-money strikes of each listed expiry
  (``quote_date, root, expiration``) -- see :func:`parity_forwards`.
* Prices in index points, vols as annualized decimals, Greeks as in
  :func:`features.black76.black76_greeks` (forward delta, gamma per index point, vega per
  1.00 vol, theta in index points per calendar day).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from features.black76 import black76_greeks, implied_vol

__all__ = ["option_features", "parity_forwards", "add_expiry_times", "NY_TZ", "MINUTES_PER_YEAR"]

NY_TZ = "America/New_York"
MINUTES_PER_YEAR = 525_600.0
#: strikes per expiry used in the parity fit (those with the smallest |C - P|)
PARITY_STRIKES = 16
#: below this many days the parity slope says nothing about the rate (D ~ 1 +- noise)
MIN_DAYS_FOR_RATE = 7.0
#: plausible band for an implied financing rate; fits outside it are replaced
RATE_BOUNDS = (-0.01, 0.15)
#: rate used only when no expiry of the session gives a usable parity rate
DEFAULT_RATE = 0.04

KEYS = ["quote_date", "root", "expiration", "settlement", "strike", "option_type"]
EXPIRY_KEYS = ["quote_date", "root", "expiration"]


def add_expiry_times(chain: pl.DataFrame) -> pl.DataFrame:
    """Add ``settlement_time``, ``now_time``, ``years_to_expiry`` and ``days_to_expiry``.

    ``settlement_time`` is 09:30 ET on the expiration date for ``settlement == "AM"``,
    else 16:00 ET; ``now_time`` is 16:15 ET of ``quote_date`` for EOD snapshots, else
    ``snapshot_time``.  ``years_to_expiry`` = New York wall-clock minutes between them /
    525,600 (may be <= 0 for an expiry that has already settled); ``days_to_expiry`` =
    365 x years (calendar days, fractional).
    """
    keys = ["quote_date", "expiration", "settlement", "snapshot_kind", "snapshot_time"]
    # time-zone arithmetic is costly per row, so it is done once per distinct combination
    # (a few dozen per session) and joined back
    combos = chain.select(keys).unique()
    settle_clock = (
        pl.when(pl.col("settlement") == "AM")
        .then(pl.duration(hours=9, minutes=30))
        .otherwise(pl.duration(hours=16))
    )
    settle_local = pl.col("expiration").cast(pl.Datetime("us")) + settle_clock
    eod_local = pl.col("quote_date").cast(pl.Datetime("us")) + pl.duration(hours=16, minutes=15)
    now_local = (
        pl.when(pl.col("snapshot_kind") == "eod")
        .then(eod_local)
        .otherwise(pl.col("snapshot_time").dt.convert_time_zone(NY_TZ).dt.replace_time_zone(None))
    )
    # Wall-clock minutes in New York (every day counts 1,440 minutes), as in the Cboe VIX
    # white paper's minute count; elapsed UTC time would differ by 60 minutes across DST.
    years = (settle_local - now_local).dt.total_microseconds().cast(pl.Float64) / (60e6 * MINUTES_PER_YEAR)
    combos = combos.with_columns(
        settle_local.dt.replace_time_zone(NY_TZ).alias("settlement_time"),
        now_local.dt.replace_time_zone(NY_TZ).alias("now_time"),
        years.alias("years_to_expiry"),
    ).with_columns((pl.col("years_to_expiry") * 365.0).alias("days_to_expiry"))
    return chain.join(combos, on=keys, how="left", nulls_equal=True)


def _parity_pairs(chain: pl.DataFrame) -> pl.DataFrame:
    """Call/put pairs at one strike with two-sided quotes on both legs, with C - P and weights."""
    two_sided = chain.filter((pl.col("bid") > 0) & (pl.col("ask") >= pl.col("bid")))
    cols = EXPIRY_KEYS + ["strike"]
    calls = two_sided.filter(pl.col("option_type") == "C").select(
        cols + [((pl.col("bid") + pl.col("ask")) / 2).alias("c_mid"), (pl.col("ask") - pl.col("bid")).alias("c_spr")]
    )
    puts = two_sided.filter(pl.col("option_type") == "P").select(
        cols + [((pl.col("bid") + pl.col("ask")) / 2).alias("p_mid"), (pl.col("ask") - pl.col("bid")).alias("p_spr")]
    )
    pairs = calls.join(puts, on=cols, how="inner").with_columns(
        (pl.col("c_mid") - pl.col("p_mid")).alias("y"),
        # quote noise of C - P ~ half the summed spreads; floor avoids infinite weights
        (1.0 / (pl.max_horizontal(pl.col("c_spr") + pl.col("p_spr"), pl.lit(0.05)) ** 2)).alias("w"),
    )
    return pairs


def _wls(pairs: pl.DataFrame, keep: pl.Expr) -> pl.DataFrame:
    """Weighted least squares y = a + b K per expiry over the rows where ``keep``; D = -b, F = a/D."""
    w = pl.when(keep).then(pl.col("w")).otherwise(0.0)
    k = pl.col("strike")
    y = pl.col("y")
    agg = pairs.group_by(EXPIRY_KEYS).agg(
        sw=w.sum(),
        swk=(w * k).sum(),
        swy=(w * y).sum(),
        swkk=(w * k * k).sum(),
        swky=(w * k * y).sum(),
        n_fit=keep.sum(),
    )
    det = pl.col("sw") * pl.col("swkk") - pl.col("swk") ** 2
    slope = (pl.col("sw") * pl.col("swky") - pl.col("swk") * pl.col("swy")) / det
    intercept = (pl.col("swy") - slope * pl.col("swk")) / pl.col("sw")
    return agg.with_columns(
        pl.when((pl.col("n_fit") >= 3) & (det > 0)).then(-slope).otherwise(None).alias("d_fit"),
        pl.when((pl.col("n_fit") >= 3) & (det > 0)).then(intercept).otherwise(None).alias("a_fit"),
    ).select(EXPIRY_KEYS + ["d_fit", "a_fit", "n_fit"])


def parity_forwards(chain: pl.DataFrame) -> pl.DataFrame:
    """Forward and discount factor per listed expiry from put-call parity.

    Method
    ------
    For every (quote_date, root, expiration), take the strikes where both the call and
    the put have two-sided quotes (bid > 0), keep the ``PARITY_STRIKES`` with the smallest
    ``|C_mid - P_mid|`` (nearest the money, where parity is tightest), and fit
    ``C - P = a + b K`` by weighted least squares (weights ``1/(spread_C + spread_P)^2``),
    so ``D = -b`` and ``F = a / D``.  Points whose residual exceeds 3x the median absolute
    residual (min 0.05 points) are dropped and the fit is repeated once.

    The slope is only informative when the strikes span enough discounting: for expiries
    shorter than ``MIN_DAYS_FOR_RATE`` days, or when the implied rate ``-ln(D)/T`` falls
    outside ``RATE_BOUNDS``, the rate is replaced by the median of the accepted rates of
    the same session (``DEFAULT_RATE`` if there are none), ``D = exp(-r T)``, and the
    forward becomes the weighted mean of ``K + (C - P)/D`` over the kept strikes.  An
    expiry with no usable pair gets ``F = underlying_price`` (flagged ``n_fit = 0``).

    Returns
    -------
    polars.DataFrame
        One row per (quote_date, root, expiration) with ``years_to_expiry``, ``forward``,
        ``discount_factor``, ``rate`` (continuously compounded, per year), ``n_fit``
        (strikes used) and ``rate_source`` ("parity", "session_median" or "default").
    """
    return _parity_from_timed(add_expiry_times(chain))


def _parity_from_timed(timed: pl.DataFrame) -> pl.DataFrame:
    """:func:`parity_forwards` on a chain that already has :func:`add_expiry_times` columns."""
    expiries = timed.group_by(EXPIRY_KEYS).agg(
        pl.col("years_to_expiry").first(), pl.col("underlying_price").median().alias("spot")
    )
    pairs = _parity_pairs(timed)
    pairs = pairs.with_columns(
        pl.col("y").abs().rank("ordinal").over(EXPIRY_KEYS).alias("_rank")
    ).filter(pl.col("_rank") <= PARITY_STRIKES)
    first = _wls(pairs, pl.lit(True))
    pairs = pairs.join(first, on=EXPIRY_KEYS, how="left").with_columns(
        (pl.col("y") - (pl.col("a_fit") - pl.col("d_fit") * pl.col("strike"))).abs().alias("_res")
    )
    pairs = pairs.with_columns(
        (
            pl.col("_res").is_null()
            | (pl.col("_res") <= 3.0 * pl.max_horizontal(pl.col("_res").median().over(EXPIRY_KEYS), pl.lit(0.05)))
        ).alias("_keep")
    ).drop(["d_fit", "a_fit", "n_fit"])
    second = _wls(pairs, pl.col("_keep"))
    fits = expiries.join(second, on=EXPIRY_KEYS, how="left").with_columns(
        (-pl.col("d_fit").log() / pl.col("years_to_expiry")).alias("r_fit")
    )
    ok_rate = (
        pl.col("r_fit").is_not_null()
        & pl.col("r_fit").is_finite()
        & (pl.col("years_to_expiry") * 365.0 >= MIN_DAYS_FOR_RATE)
        & pl.col("r_fit").is_between(*RATE_BOUNDS)
    )
    fits = fits.with_columns(ok_rate.alias("_ok")).with_columns(
        pl.col("r_fit").filter(pl.col("_ok")).median().over("quote_date").alias("_r_session")
    )
    fits = fits.with_columns(
        pl.when(pl.col("_ok"))
        .then(pl.col("r_fit"))
        .otherwise(pl.col("_r_session").fill_null(DEFAULT_RATE))
        .alias("rate"),
        pl.when(pl.col("_ok"))
        .then(pl.lit("parity"))
        .when(pl.col("_r_session").is_not_null())
        .then(pl.lit("session_median"))
        .otherwise(pl.lit("default"))
        .alias("rate_source"),
    ).with_columns(
        pl.when(pl.col("_ok"))
        .then(pl.col("d_fit"))
        .otherwise((-pl.col("rate") * pl.col("years_to_expiry").clip(lower_bound=0.0)).exp())
        .alias("discount_factor")
    )
    # forward given D: weighted mean of K + (C - P)/D over the kept strikes
    fwd = (
        pairs.join(fits.select(EXPIRY_KEYS + ["discount_factor"]), on=EXPIRY_KEYS, how="left")
        .filter(pl.col("_keep"))
        .group_by(EXPIRY_KEYS)
        .agg(
            (
                (pl.col("w") * (pl.col("strike") + pl.col("y") / pl.col("discount_factor"))).sum() / pl.col("w").sum()
            ).alias("_f_mean")
        )
    )
    fits = fits.join(fwd, on=EXPIRY_KEYS, how="left").with_columns(
        pl.when(pl.col("_ok"))
        .then(pl.col("a_fit") / pl.col("d_fit"))
        .otherwise(pl.col("_f_mean"))
        .fill_null(pl.col("spot"))
        .alias("forward"),
        pl.col("n_fit").fill_null(0).cast(pl.Int64),
    )
    return fits.select(
        EXPIRY_KEYS + ["years_to_expiry", "forward", "discount_factor", "rate", "n_fit", "rate_source"]
    ).sort(EXPIRY_KEYS)


#: Implied vols above this (2,000 % a year) are reported as NaN: only a quote a hair below its
#: no-arbitrage upper bound implies one (measured: a 2008-like simulated session), and any vol
#: above it fits such a price, so it carries no volatility information. The stored contract
#: (``pipelines/schemas.py``) bounds vols by the same number.
MAX_IMPLIED_VOL = 20.0


def informative_vol(vol: np.ndarray) -> np.ndarray:
    """``vol`` with values outside ``0 .. MAX_IMPLIED_VOL`` replaced by NaN (decimal, annualized)."""
    with np.errstate(invalid="ignore"):
        return np.where((vol >= 0.0) & (vol <= MAX_IMPLIED_VOL), vol, np.nan)


def option_features(chain: pl.DataFrame) -> pl.DataFrame:
    """One row of analytics per contract of a canonical ``spx_options`` chain.

    Parameters
    ----------
    chain : polars.DataFrame
        Canonical ``spx_options`` rows (any number of sessions and expiries).

    Returns
    -------
    polars.DataFrame
        Keys ``quote_date, root, expiration, settlement, strike, option_type`` plus

        ``bid, ask, mid``
            ``mid = (bid + ask)/2`` when ``ask > 0`` (a zero bid is allowed), else null.
        ``underlying_price, snapshot_time, snapshot_kind, source``
            Passed through.
        ``settlement_time, years_to_expiry, days_to_expiry``
            See :func:`add_expiry_times`.
        ``forward, discount_factor``
            From :func:`parity_forwards`.
        ``intrinsic``
            ``D max(theta (F - K), 0)`` (index points): the value of exercising against
            the discounted *forward*, the no-arbitrage lower bound of a European option on
            the index (SPX options are European, and the forward is what they are priced
            on). Against spot, a deep in-the-money put (worth about ``D (K - F)``, less
            than ``K - S`` when rates exceed dividends) would show up to tens of points of
            negative time value. Null without a parity forward.
        ``extrinsic``
            Time value ``mid - intrinsic`` (index points); negative only by quote noise
            (a mid below the no-arbitrage bound, at most about half the spread).
        ``iv, iv_bid, iv_ask``
            Black-76 implied vols (decimal) of mid, bid and ask against ``forward`` and
            ``discount_factor``; NaN where no volatility fits (e.g. a zero bid, a price
            below the discounted intrinsic value, an expiry already settled).
        ``delta, gamma, vega, theta``
            Black-76 Greeks at ``iv`` (forward delta ``dV/dF``; gamma per index point;
            vega per 1.00 vol; theta in index points per calendar day).
        ``log_moneyness``
            ``ln(K / F)``.
        ``delta_moneyness``
            Call-equivalent undiscounted delta ``N(d1)`` at ``iv`` (0..1, 0.5 near the
            forward, the same number for a call and the put at its strike and vol).
    """
    timed = add_expiry_times(chain)
    fwd = _parity_from_timed(timed).select(EXPIRY_KEYS + ["forward", "discount_factor"])
    df = timed.join(fwd, on=EXPIRY_KEYS, how="left").with_columns(
        pl.when(pl.col("ask") > 0).then((pl.col("bid") + pl.col("ask")) / 2).otherwise(None).alias("mid")
    )
    f = df["forward"].to_numpy().astype(np.float64)
    k = df["strike"].to_numpy().astype(np.float64)
    t = df["years_to_expiry"].to_numpy().astype(np.float64)
    d = df["discount_factor"].to_numpy().astype(np.float64)
    is_call = (df["option_type"] == "C").to_numpy()
    mid = df["mid"].fill_null(np.nan).to_numpy().astype(np.float64)
    iv = informative_vol(implied_vol(mid, f, k, t, d, is_call))
    iv_bid = informative_vol(implied_vol(df["bid"].to_numpy().astype(np.float64), f, k, t, d, is_call))
    iv_ask = informative_vol(implied_vol(df["ask"].to_numpy().astype(np.float64), f, k, t, d, is_call))
    g = black76_greeks(f, k, t, iv, d, is_call)
    with np.errstate(divide="ignore", invalid="ignore"):
        # N(d1): undiscounted call delta; for a put, its forward delta / D + 1
        call_equiv = np.where(is_call, g["delta"] / d, g["delta"] / d + 1.0)
    theta_sign = pl.when(pl.col("option_type") == "C").then(1.0).otherwise(-1.0)
    out = df.with_columns(
        pl.Series("iv", iv),
        pl.Series("iv_bid", iv_bid),
        pl.Series("iv_ask", iv_ask),
        pl.Series("delta", g["delta"]),
        pl.Series("gamma", g["gamma"]),
        pl.Series("vega", g["vega"]),
        pl.Series("theta", g["theta"]),
        pl.Series("delta_moneyness", call_equiv),
        (pl.col("strike") / pl.col("forward")).log().alias("log_moneyness"),
        (pl.col("discount_factor") * (theta_sign * (pl.col("forward") - pl.col("strike"))).clip(lower_bound=0.0)).alias(
            "intrinsic"
        ),
    ).with_columns((pl.col("mid") - pl.col("intrinsic")).alias("extrinsic"))
    return out.select(
        KEYS
        + [
            "bid",
            "ask",
            "mid",
            "underlying_price",
            "snapshot_time",
            "settlement_time",
            "years_to_expiry",
            "days_to_expiry",
            "forward",
            "discount_factor",
            "intrinsic",
            "extrinsic",
            "iv",
            "iv_bid",
            "iv_ask",
            "delta",
            "gamma",
            "vega",
            "theta",
            "log_moneyness",
            "delta_moneyness",
            "snapshot_kind",
            "source",
        ]
    )
