"""Cboe VIX-methodology volatility indices (VIX9D, VIX, VIX3M, VIX6M) from an SPX chain.

Replicates the Cboe VIX white paper calculation on one session's canonical
``spx_options`` chain:

0. Only roots SPX and SPXW are used (other roots in the frame are ignored).
1. Now = 16:15 ET of the quote date (the close of the SPX option session) unless given.
   ``T = minutes to settlement / 525,600``; settlement 09:30 ET (AM, root SPX) or
   16:00 ET (PM, root SPXW).
2. Eligible expirations: standard SPX monthlies (AM) and SPXW Friday weeklies (PM; a
   Thursday when that Friday is not an NYSE session), excluding SPXW on a date that has an
   SPX standard.  Optionally (VIX3M) also SPXW month-end expirations, i.e. the last NYSE
   session of a month.
3. Near and next terms bracket the target: the largest ``T1 <= target`` and smallest
   ``T2 > target`` (an exact hit uses that term alone).
4. Per term: ``F = K* + e^{RT} (C - P)`` at the strike ``K*`` with the smallest
   ``|C - P|`` among strikes whose call and put both have non-zero bids (mid quotes);
   ``K0`` = first strike at or below ``F``; out-of-the-money puts below ``K0`` and calls
   above it, walking away from ``K0``, skipping zero bids and stopping after two
   consecutive zero bids; at ``K0`` the put and call mids are averaged;
   ``dK`` = half the distance between the neighbouring selected strikes (the full
   distance to the single neighbour at either end);
   ``sigma^2 = (2/T) sum dK/K^2 e^{RT} Q(K) - (1/T)(F/K0 - 1)^2``.
5. ``index = 100 sqrt((T1 sigma1^2 w1 + T2 sigma2^2 w2) N365 / N_target)`` with
   ``w1 = (N_T2 - N_target)/(N_T2 - N_T1)``, ``w2 = 1 - w1`` (all N in minutes).

Rate: Cboe uses Treasury CMT yields; no rate feed is used here.  ``rate=None`` takes the
median put-call-parity implied rate of the session's expiries of at least a week
(:func:`features.option_features.parity_forwards`); a float is a constant rate; a
callable maps ``T`` (years) to a rate.  A +-1 percentage point change moves VIX by ~0.01.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from features import calendar
from features.option_features import MINUTES_PER_YEAR, NY_TZ, parity_forwards

__all__ = ["vix_style_index", "vix_family", "vix_family_frame", "term_variance", "VIX_TARGETS"]

#: output column -> (target calendar days, include SPXW month-end expirations)
VIX_TARGETS: dict[str, tuple[int, bool]] = {
    "vix_9d": (9, False),
    "vix_30d": (30, False),
    "vix_93d": (93, True),
    "vix_183d": (183, False),
}

_NY = ZoneInfo(NY_TZ)
#: option roots the indices are computed from
INDEX_ROOTS = ("SPX", "SPXW")
RateSpec = float | Callable[[float], float] | None


@functools.lru_cache(maxsize=1)
def _nyse_sessions() -> frozenset[date]:
    return frozenset(calendar.all_sessions())


def _eligible(expiries: pl.DataFrame, month_end: bool) -> pl.DataFrame:
    """Filter (root, expiration, settlement) rows to VIX-eligible expirations."""
    sessions = _nyse_sessions()
    standard_dates = set(expiries.filter(pl.col("settlement") == "AM")["expiration"].to_list())

    def weekly_ok(d: date) -> bool:
        if d.weekday() == 4:
            return d not in standard_dates
        if d.weekday() == 3:
            friday = d + timedelta(days=1)
            return friday not in sessions and friday not in standard_dates
        return False

    def month_end_ok(d: date) -> bool:
        nxt = d + timedelta(days=1)
        while nxt not in sessions and nxt.month == d.month:
            nxt += timedelta(days=1)
        return nxt.month != d.month

    rows = expiries.to_dicts()  # a few dozen expirations, not options
    keep = []
    for r in rows:
        d = r["expiration"]
        if r["root"] == "SPX" and r["settlement"] == "AM":
            keep.append(True)
        elif r["settlement"] == "PM":
            keep.append(weekly_ok(d) or (month_end and month_end_ok(d)))
        else:
            keep.append(False)
    return expiries.filter(pl.Series(keep, dtype=pl.Boolean))


def term_variance(
    strike: np.ndarray,
    call_bid: np.ndarray,
    call_ask: np.ndarray,
    put_bid: np.ndarray,
    put_ask: np.ndarray,
    years: float,
    rate: float,
) -> tuple[float, float, float]:
    """White-paper variance of one expiry.

    Parameters
    ----------
    strike, call_bid, call_ask, put_bid, put_ask : numpy.ndarray
        One entry per strike (ascending), quotes in index points (0 bid = no bid).
    years : float
        ``T`` in years (minutes / 525,600).
    rate : float
        Continuously compounded rate ``R`` for the term.

    Returns
    -------
    tuple[float, float, float]
        ``(sigma^2, F, K0)``; NaN variance when no strike has two-sided call and put.
    """
    k = np.asarray(strike, dtype=np.float64)
    cb, ca, pb, pa = (np.asarray(a, dtype=np.float64) for a in (call_bid, call_ask, put_bid, put_ask))
    growth = np.exp(rate * years)
    cm = 0.5 * (cb + ca)
    pm = 0.5 * (pb + pa)
    both = (cb > 0) & (pb > 0)
    if not both.any() or years <= 0:
        return float("nan"), float("nan"), float("nan")
    diff = np.where(both, np.abs(cm - pm), np.inf)
    i_star = int(np.argmin(diff))
    fwd = k[i_star] + growth * (cm[i_star] - pm[i_star])
    below = np.nonzero(k <= fwd)[0]
    if below.size == 0:
        return float("nan"), fwd, float("nan")
    i0 = int(below[-1])
    k0 = k[i0]

    def walk(bids: np.ndarray) -> np.ndarray:
        """Indices (into ``bids``, ordered away from K0) kept by the zero-bid rules."""
        zero = bids <= 0
        stop = np.nonzero(zero[:-1] & zero[1:])[0]
        end = int(stop[0]) if stop.size else bids.size
        idx = np.arange(end)
        return idx[~zero[:end]]

    put_idx = np.arange(i0 - 1, -1, -1)  # strikes below K0, walking down
    call_idx = np.arange(i0 + 1, k.size)  # strikes above K0, walking up
    put_sel = put_idx[walk(pb[put_idx])]
    call_sel = call_idx[walk(cb[call_idx])]
    sel = np.concatenate([put_sel[::-1], [i0], call_sel])
    q = np.concatenate([pm[put_sel[::-1]], [0.5 * (cm[i0] + pm[i0])], cm[call_sel]])
    ks = k[sel]
    if ks.size < 2:
        return float("nan"), fwd, k0
    dk = np.empty_like(ks)
    dk[1:-1] = 0.5 * (ks[2:] - ks[:-2])
    dk[0] = ks[1] - ks[0]
    dk[-1] = ks[-1] - ks[-2]
    var = 2.0 / years * np.sum(dk / ks**2 * growth * q) - (fwd / k0 - 1.0) ** 2 / years
    return float(var), float(fwd), float(k0)


def session_rates(chain: pl.DataFrame) -> dict[date, float]:
    """The ``rate=None`` rate of every session of ``chain``: the median parity-implied rate of
    its expiries (those whose own fit gave one; all of them when none did), per year.

    One :func:`~features.option_features.parity_forwards` pass over all the sessions (they
    are fitted expiry by expiry, so a session's rate never depends on another session)."""
    fits = parity_forwards(chain)
    rates = fits.group_by("quote_date").agg(
        pl.when((pl.col("rate_source") == "parity").any())
        .then(pl.col("rate").filter(pl.col("rate_source") == "parity").median())
        .otherwise(pl.col("rate").median())
    )
    return dict(rates.iter_rows())


def _session_rate(chain: pl.DataFrame) -> float:
    return session_rates(chain)[_single_session(chain)]


def _rate_for(rate: RateSpec, chain: pl.DataFrame) -> Callable[[float], float]:
    if rate is None:
        r = _session_rate(chain)
        return lambda _t: r
    if callable(rate):
        return rate
    r = float(rate)
    return lambda _t: r


def _expiry_minutes(expiries: pl.DataFrame, now: datetime) -> pl.DataFrame:
    # New York wall-clock minutes (1,440 per day, as the white paper counts them)
    now_local = now.astimezone(_NY).replace(tzinfo=None)
    clock = pl.when(pl.col("settlement") == "AM").then(pl.duration(hours=9, minutes=30)).otherwise(pl.duration(hours=16))
    settle = pl.col("expiration").cast(pl.Datetime("us")) + clock
    return expiries.with_columns(
        ((settle - pl.lit(now_local).cast(pl.Datetime("us"))).dt.total_microseconds() / 60e6).alias("minutes")
    )


def _eligible_expiries(chain: pl.DataFrame, now: datetime, month_end: bool) -> pl.DataFrame:
    """The chain's VIX-eligible expirations still ahead of ``now``, with ``minutes``, nearest first."""
    expiries = chain.select("root", "expiration", "settlement").unique()
    return _expiry_minutes(_eligible(expiries, month_end), now).filter(pl.col("minutes") > 0).sort("minutes")


def _terms(expiries: pl.DataFrame, target_days: int) -> list[tuple[dict, float]]:
    """The bracketing (expiry row, weight) pairs for a target, from :func:`_eligible_expiries`."""
    n_target = target_days * 1440.0
    near = expiries.filter(pl.col("minutes") <= n_target).tail(1)
    nxt = expiries.filter(pl.col("minutes") > n_target).head(1)
    if near.height and near["minutes"][0] == n_target:
        return [(near.row(0, named=True), 1.0)]
    if not (near.height and nxt.height):
        return []
    n1, n2 = near["minutes"][0], nxt["minutes"][0]
    w1 = (n2 - n_target) / (n2 - n1)
    return [(near.row(0, named=True), w1), (nxt.row(0, named=True), 1.0 - w1)]


def _strike_quotes(chain: pl.DataFrame) -> dict[tuple[str, date], pl.DataFrame]:
    """Each expiry's calls and puts side by side, ``(root, expiration) -> strike, cb, ca, pb, pa``
    (strikes quoted on both sides, ascending): one join for the whole session."""
    side = lambda kind, b, a: chain.filter(pl.col("option_type") == kind).select(  # noqa: E731
        "root", "expiration", "strike", pl.col("bid").alias(b), pl.col("ask").alias(a))
    wide = side("C", "cb", "ca").join(side("P", "pb", "pa"), on=["root", "expiration", "strike"], how="inner")
    return wide.sort("root", "expiration", "strike").partition_by(["root", "expiration"], as_dict=True,
                                                                  include_key=False)


_NO_QUOTES = pl.DataFrame(schema={"strike": pl.Float64, "cb": pl.Float64, "ca": pl.Float64, "pb": pl.Float64,
                                  "pa": pl.Float64})


def _index_level(terms: list[tuple[dict, float]], quotes: dict[tuple[str, date], pl.DataFrame],
                 rate_fn: Callable[[float], float], target_days: int) -> float:
    """Steps 4 and 5: the index from its (at most two) terms and the session's :func:`_strike_quotes`."""
    if not terms:
        return float("nan")
    total = 0.0
    for row, weight in terms:
        wide = quotes.get((row["root"], row["expiration"]), _NO_QUOTES)
        years = row["minutes"] / MINUTES_PER_YEAR
        var, _f, _k0 = term_variance(
            wide["strike"].to_numpy(),
            wide["cb"].to_numpy(),
            wide["ca"].to_numpy(),
            wide["pb"].to_numpy(),
            wide["pa"].to_numpy(),
            years,
            rate_fn(years),
        )
        total += years * var * weight
    if not np.isfinite(total) or total < 0:
        return float("nan")
    return float(100.0 * np.sqrt(total * MINUTES_PER_YEAR / (target_days * 1440.0)))


def _single_session(chain: pl.DataFrame) -> date:
    dates = chain["quote_date"].unique()
    if dates.len() != 1:
        raise ValueError(f"expected one quote_date, got {dates.len()}")
    return dates[0]


def _index_session(chain: pl.DataFrame, now: datetime | None) -> tuple[pl.DataFrame, datetime]:
    """One session's SPX/SPXW rows (the index is defined on SPX options only; the table may also
    hold SPY/XSP rows) and the calculation time (default 16:15 ET of the quote date)."""
    session = _single_session(chain)
    if now is None:
        now = datetime.combine(session, time(16, 15), tzinfo=_NY)
    return chain.filter(pl.col("root").is_in(list(INDEX_ROOTS))), now


def vix_style_index(
    chain: pl.DataFrame,
    target_days: int,
    rate: RateSpec = None,
    now: datetime | None = None,
    month_end: bool | None = None,
) -> float:
    """VIX-methodology index (volatility points) for one session's chain.

    Parameters
    ----------
    chain : polars.DataFrame
        Canonical ``spx_options`` rows of a single ``quote_date``.
    target_days : int
        Constant maturity in calendar days (9, 30, 93, 183 for VIX9D/VIX/VIX3M/VIX6M).
    rate : float, callable or None
        Continuously compounded rate; see the module docstring.
    now : datetime or None
        Calculation time (tz-aware); default 16:15 ET of the quote date.
    month_end : bool or None
        Include SPXW month-end expirations; default True only for ``target_days == 93``
        (as observed for VIX3M).

    Returns
    -------
    float
        The index level, NaN when the target cannot be bracketed.
    """
    chain, now = _index_session(chain, now)
    if month_end is None:
        month_end = target_days == 93
    terms = _terms(_eligible_expiries(chain, now, month_end), target_days)
    return _index_level(terms, _strike_quotes(chain), _rate_for(rate, chain), target_days)


def vix_family(chain: pl.DataFrame, rate: RateSpec = None, now: datetime | None = None) -> dict[str, float]:
    """``{"vix_9d", "vix_30d", "vix_93d", "vix_183d"}`` for one session's chain.

    ``rate`` and ``now`` as in :func:`vix_style_index`; each equals :func:`vix_style_index`
    for its target (the rate, the eligible expirations and each expiry's strikes are found
    once for the four).
    """
    chain, now = _index_session(chain, now)
    rate_fn = _rate_for(rate, chain)
    expiries = {month_end: _eligible_expiries(chain, now, month_end) for month_end in (False, True)}
    quotes = _strike_quotes(chain)
    return {
        name: _index_level(_terms(expiries[month_end], days), quotes, rate_fn, days)
        for name, (days, month_end) in VIX_TARGETS.items()
    }


def vix_family_frame(chain: pl.DataFrame, rate: RateSpec = None) -> pl.DataFrame:
    """One row per ``quote_date`` with ``vix_9d, vix_30d, vix_93d, vix_183d``.

    End-of-day rows are used when a session has them (the index is then taken at the
    16:15 ET close); otherwise the session's latest snapshot is used, with "now" at its
    ``snapshot_time``.
    """
    has_eod = (pl.col("snapshot_kind") == "eod").any().over("quote_date")
    latest = pl.col("snapshot_time") == pl.col("snapshot_time").max().over("quote_date")
    used = chain.filter(pl.col("root").is_in(list(INDEX_ROOTS))).filter(
        pl.when(has_eod).then(pl.col("snapshot_kind") == "eod").otherwise(latest)
    )
    rates = session_rates(used) if rate is None else None  # every session's rate in one pass
    rows = []
    for (session,), use in used.group_by("quote_date", maintain_order=True):  # sessions, not options
        now = None if use["snapshot_kind"][0] == "eod" else use["snapshot_time"].max()
        rows.append({"quote_date": session, **vix_family(use, rate=rate if rates is None else rates[session], now=now)})
    schema = {"quote_date": pl.Date, **{k: pl.Float64 for k in VIX_TARGETS}}
    sessions = chain.select(pl.col("quote_date").unique())  # a session without SPX/SPXW rows: NaN
    return (sessions.join(pl.DataFrame(rows, schema=schema), on="quote_date", how="left")
            .with_columns(pl.col(list(VIX_TARGETS)).fill_null(float("nan"))).sort("quote_date"))
