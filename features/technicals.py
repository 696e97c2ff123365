"""Price technicals with TA-Lib's exact definitions: SMA-seeded EMA, Wilder RSI, MACD.

Every function takes a 1-D float array ordered by date and returns arrays of the same
length with ``NaN`` during the warm-up. Values at index ``t`` depend only on inputs at
indices ``<= t`` (the recursions run forward from the first observation), so truncating
the history at the end never changes earlier outputs.

Recursions are evaluated with :func:`scipy.signal.lfilter` (a compiled first-order IIR
filter) instead of a Python loop: ``y[t] = a*x[t] + (1 - a)*y[t-1]`` is exactly a
one-pole filter whose initial state is the SMA seed.

Conventions (TA-Lib, see ``/work/shared/notes/domain.md``)
----------------------------------------------------------
* EMA(n): ``alpha = 2/(n+1)``; the first value, at index ``n-1``, is the simple mean of
  the first ``n`` inputs.
* RSI(n): Wilder smoothing (``alpha = 1/n``) of gains and losses of the close-to-close
  changes; the first average gain/loss (at index ``n``) is the simple mean of the first
  ``n`` changes. ``RSI = 100 * avg_gain / (avg_gain + avg_loss)`` (0 when both are 0).
* MACD(fast, slow, signal): fast and slow EMAs are *aligned*: both are seeded at index
  ``slow-1``, the fast one with the mean of the ``fast`` inputs ending there. The signal
  line is an EMA(signal) of the MACD line seeded with the mean of its first ``signal``
  values; TA-Lib reports all three outputs only from index ``slow + signal - 2``
  (33 for 12/26/9).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import lfilter

FloatArray = NDArray[np.float64]


def _as_float(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def seeded_recursion(x: ArrayLike, alpha: float, seed_index: int, seed: float) -> FloatArray:
    """Exponential smoothing ``y[t] = alpha*x[t] + (1-alpha)*y[t-1]`` started from a seed.

    Parameters
    ----------
    x : array_like
        Input series (any units; the output has the same units).
    alpha : float
        Smoothing weight of the newest observation, in (0, 1].
    seed_index : int
        Index at which ``y`` equals ``seed``; earlier outputs are NaN.
    seed : float
        Value of ``y[seed_index]``.
    """
    x = _as_float(x)
    out = np.full(x.shape, np.nan)
    if seed_index >= x.size:
        return out
    out[seed_index] = seed
    tail = x[seed_index + 1 :]
    if tail.size:
        # lfilter's zi is the filter state "before" the first tail sample: (1-alpha)*seed.
        y, _ = lfilter([alpha], [1.0, -(1.0 - alpha)], tail, zi=np.array([(1.0 - alpha) * seed]))
        out[seed_index + 1 :] = y
    return out


def ema(x: ArrayLike, period: int, start: int = 0) -> FloatArray:
    """TA-Lib EMA: ``alpha = 2/(period+1)``, seeded with the SMA of ``x[start:start+period]``.

    The first value is at index ``start + period - 1``. ``start`` lets a caller skip a
    leading warm-up of NaNs (used for the MACD signal line).
    """
    x = _as_float(x)
    seed_index = start + period - 1
    if seed_index >= x.size:
        return np.full(x.shape, np.nan)
    seed = float(np.mean(x[start : seed_index + 1]))
    return seeded_recursion(x, 2.0 / (period + 1.0), seed_index, seed)


def sma(x: ArrayLike, period: int) -> FloatArray:
    """Simple moving average over ``period`` observations (NaN for the first ``period-1``)."""
    x = _as_float(x)
    out = np.full(x.shape, np.nan)
    if x.size >= period:
        c = np.cumsum(np.concatenate([[0.0], x]))
        out[period - 1 :] = (c[period:] - c[:-period]) / period
    return out


def rsi(close: ArrayLike, period: int = 14) -> FloatArray:
    """Relative Strength Index, Wilder smoothing, TA-Lib seeding; in points 0..100.

    ``avg_gain[n] = mean(gain[1..n])``, then
    ``avg_gain[t] = (avg_gain[t-1]*(n-1) + gain[t]) / n`` (same for losses), and
    ``RSI[t] = 100 * avg_gain[t] / (avg_gain[t] + avg_loss[t])``. First value at index ``n``.
    """
    close = _as_float(close)
    out = np.full(close.shape, np.nan)
    if close.size <= period:
        return out
    change = np.diff(close)  # change[i] is the move from close[i] to close[i+1]
    gain = np.where(change > 0.0, change, 0.0)
    loss = np.where(change < 0.0, -change, 0.0)
    alpha = 1.0 / period
    # Work on the change arrays (index shifted by one): seed at change index period-1.
    g = seeded_recursion(gain, alpha, period - 1, float(np.mean(gain[:period])))
    lo = seeded_recursion(loss, alpha, period - 1, float(np.mean(loss[:period])))
    total = g + lo
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(total > 0.0, 100.0 * g / total, 0.0)
    value[np.isnan(g)] = np.nan
    out[1:] = value
    return out


def macd(
    close: ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line, signal line and histogram as TA-Lib computes them (index points).

    Returns
    -------
    (macd, signal, hist) : tuple of arrays
        ``macd = EMA_fast - EMA_slow`` (EMAs aligned at index ``slow-1``),
        ``signal = EMA_signal(macd)``, ``hist = macd - signal``; all NaN before index
        ``slow + signal - 2``.
    """
    close = _as_float(close)
    n = close.size
    nan = np.full(close.shape, np.nan)
    first = slow + signal - 2
    if n <= first:
        return nan, nan.copy(), nan.copy()
    slow_ema = ema(close, slow)
    # TA-Lib seeds the fast EMA at the slow EMA's first index with the mean of the
    # `fast` inputs ending there (not at index fast-1).
    fast_ema = ema(close, fast, start=slow - fast)
    line = fast_ema - slow_ema  # valid from slow-1
    sig = ema(line, signal, start=slow - 1)  # valid from slow+signal-2
    hist = line - sig
    line = line.copy()
    line[:first] = np.nan
    return line, sig, hist
