"""Realized-volatility estimators on daily OHLC bars, and the volatility cone.

All estimators return **annualized volatility as a decimal** (0.20 = 20 %), annualized
with 252 trading days, over a trailing window of ``h`` daily bars ending at (and
including) day ``t``; NaN until ``h`` complete bars are available. Each window is
evaluated independently (:func:`numpy.lib.stride_tricks.sliding_window_view`), so the
value at ``t`` uses bars ``t-h+1 .. t`` (and the close of ``t-h`` where a previous close
is needed) and nothing later.

Notation: ``O, H, L, C`` today's open/high/low/close, ``C'`` the previous close,
``r = ln(C/C')``, ``o = ln(O/C')`` (overnight), ``c = ln(C/O)`` (open-to-close),
``u = ln(H/O)``, ``d = ln(L/O)``.

* close-to-close: ``sigma^2 = 252/h * sum(r^2)`` — zero-mean, the convention of variance
  swaps and of the VIX-vs-realized variance risk premium;
* Parkinson (1980): ``sigma^2 = 252/(4 ln 2 h) * sum(ln(H/L)^2)``;
* Garman–Klass (1980): ``sigma^2 = 252/h * sum(0.5 ln(H/L)^2 - (2 ln 2 - 1) c^2)``;
* Yang–Zhang (2000): ``sigma^2 = 252 * (V_o + k V_c + (1-k) V_rs)`` with ``V_o``, ``V_c``
  the sample variances (ddof=1) of ``o`` and ``c`` over the window,
  ``V_rs = mean(u (u - c) + d (d - c))`` (Rogers–Satchell) and
  ``k = 0.34 / (1.34 + (h+1)/(h-1))``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
TRADING_DAYS = 252.0
HORIZONS: tuple[int, ...] = (5, 10, 21, 63)


def _f(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _prev(x: FloatArray) -> FloatArray:
    out = np.empty_like(x)
    out[0] = np.nan
    out[1:] = x[:-1]
    return out


def _rolling(values: FloatArray, window: int, reducer) -> FloatArray:
    """Apply ``reducer(windows, axis=1)`` to each trailing window; NaN for incomplete ones."""
    out = np.full(values.shape, np.nan)
    if values.size >= window:
        out[window - 1 :] = reducer(sliding_window_view(values, window), axis=1)
    return out


def realized_vol_close_to_close(close: ArrayLike, window: int) -> FloatArray:
    """Zero-mean close-to-close realized vol, annualized decimal (see module docstring)."""
    c = _f(close)
    r2 = np.log(c / _prev(c)) ** 2
    return np.sqrt(TRADING_DAYS * _rolling(r2, window, np.mean))


def realized_variance_close_to_close(close: ArrayLike, window: int) -> FloatArray:
    """Annualized zero-mean realized variance (decimal², e.g. 0.04 for 20 % vol)."""
    c = _f(close)
    r2 = np.log(c / _prev(c)) ** 2
    return TRADING_DAYS * _rolling(r2, window, np.mean)


def realized_vol_parkinson(high: ArrayLike, low: ArrayLike, window: int) -> FloatArray:
    """Parkinson high–low estimator, annualized decimal."""
    hl2 = np.log(_f(high) / _f(low)) ** 2
    return np.sqrt(TRADING_DAYS / (4.0 * np.log(2.0)) * _rolling(hl2, window, np.mean))


def realized_vol_garman_klass(
    open_: ArrayLike, high: ArrayLike, low: ArrayLike, close: ArrayLike, window: int
) -> FloatArray:
    """Garman–Klass estimator (no overnight term), annualized decimal."""
    hl = np.log(_f(high) / _f(low))
    co = np.log(_f(close) / _f(open_))
    per_day = 0.5 * hl**2 - (2.0 * np.log(2.0) - 1.0) * co**2
    var = TRADING_DAYS * _rolling(per_day, window, np.mean)
    # The GK per-day term can be negative on doji-like bars; the window mean is
    # non-negative for any realistic window, but clip so sqrt never yields NaN.
    return np.sqrt(np.maximum(var, 0.0))


def realized_vol_yang_zhang(
    open_: ArrayLike, high: ArrayLike, low: ArrayLike, close: ArrayLike, window: int
) -> FloatArray:
    """Yang–Zhang drift-independent estimator with overnight jumps, annualized decimal.

    Needs ``window >= 2`` (sample variances); the first value is at index ``window``
    because the overnight return of day 0 has no previous close.
    """
    if window < 2:
        raise ValueError("Yang–Zhang needs window >= 2")
    o_, h_, l_, c_ = _f(open_), _f(high), _f(low), _f(close)
    overnight = np.log(o_ / _prev(c_))
    oc = np.log(c_ / o_)
    u = np.log(h_ / o_)
    d = np.log(l_ / o_)
    rs = u * (u - oc) + d * (d - oc)
    var_o = _rolling(overnight, window, lambda w, axis: np.var(w, axis=axis, ddof=1))
    var_c = _rolling(oc, window, lambda w, axis: np.var(w, axis=axis, ddof=1))
    var_rs = _rolling(rs, window, np.mean)
    k = 0.34 / (1.34 + (window + 1.0) / (window - 1.0))
    return np.sqrt(TRADING_DAYS * (var_o + k * var_c + (1.0 - k) * var_rs))


def trailing_percentile_rank(x: ArrayLike, window: int = 252, min_periods: int = 126) -> FloatArray:
    """Share (0..1) of the non-NaN values in the trailing ``window`` rows (today included)
    that are ``<= x[t]``; NaN when ``x[t]`` is NaN or fewer than ``min_periods`` are valid.
    """
    x = _f(x)
    out = np.full(x.shape, np.nan)
    n = x.size
    if n == 0:
        return out
    pad = np.concatenate([np.full(window - 1, np.nan), x])
    w = sliding_window_view(pad, window)  # row t = x[t-window+1 .. t]
    valid = ~np.isnan(w)
    count = valid.sum(axis=1)
    with np.errstate(invalid="ignore"):
        le = (w <= x[:, None]) & valid
    rank = le.sum(axis=1) / np.maximum(count, 1)
    ok = (count >= min_periods) & ~np.isnan(x)
    out[ok] = rank[ok]
    return out


def trailing_quantiles(
    x: ArrayLike, qs: tuple[float, ...] = (0.1, 0.5, 0.9), window: int = 252, min_periods: int = 126
) -> FloatArray:
    """Trailing-window quantiles (linear interpolation, NaNs ignored): the volatility cone.

    Returns an array of shape ``(len(x), len(qs))``; rows with fewer than ``min_periods``
    valid values in the window are NaN.
    """
    x = _f(x)
    out = np.full((x.size, len(qs)), np.nan)
    if x.size == 0:
        return out
    pad = np.concatenate([np.full(window - 1, np.nan), x])
    w = np.sort(sliding_window_view(pad, window), axis=1)  # NaNs sort to the end of each row
    count = (~np.isnan(w)).sum(axis=1)
    ok = count >= min_periods
    if not ok.any():
        return out
    w, n = w[ok], count[ok]
    for j, q in enumerate(qs):  # a handful of quantile levels
        # numpy's default "linear" method: position (n - 1) q between order statistics
        pos = (n - 1) * q
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        frac = pos - lo
        a = np.take_along_axis(w, lo[:, None], axis=1)[:, 0]
        b = np.take_along_axis(w, hi[:, None], axis=1)[:, 0]
        out[ok, j] = a + (b - a) * frac
    return out
