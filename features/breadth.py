"""Market breadth: Advance–Decline line, A/D ratio, McClellan oscillator and summation index.

"A/D line" here is the breadth Advance–Decline line (cumulative advancing − declining
issues), not Chaikin's Accumulation/Distribution line of one instrument's OHLCV.
Counts are numbers of issues; every output at index ``t`` uses only rows ``<= t``.

McClellan seeding convention
----------------------------
The oscillator is ``EMA19(net) - EMA39(net)`` with ``alpha = 2/(n+1)`` (0.10 and 0.05,
McClellan's "10 % and 5 % trends"). Each EMA is seeded TA-Lib style with the simple mean
of its first ``n`` values, *independently* (the 19-day one at index 18, the 39-day one at
index 38), so the oscillator starts at index 38 and is null before. The summation index
is the running sum of the oscillator from its first value, with no constant offset (some
publishers add 1,000).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from features.technicals import ema

FloatArray = NDArray[np.float64]


def net_advances(advancing: ArrayLike, declining: ArrayLike) -> FloatArray:
    """Advancing minus declining issues (count)."""
    return np.asarray(advancing, dtype=np.float64) - np.asarray(declining, dtype=np.float64)


def advance_decline_line(advancing: ArrayLike, declining: ArrayLike) -> FloatArray:
    """Advance–Decline line: cumulative sum of ``advancing - declining`` from the first row."""
    return np.cumsum(net_advances(advancing, declining))


def advance_decline_ratio(advancing: ArrayLike, declining: ArrayLike) -> FloatArray:
    """``advancing / declining`` (NaN when no issue declined)."""
    a = np.asarray(advancing, dtype=np.float64)
    d = np.asarray(declining, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, a / np.where(d > 0, d, 1.0), np.nan)


def mcclellan(
    advancing: ArrayLike, declining: ArrayLike, fast: int = 19, slow: int = 39
) -> tuple[FloatArray, FloatArray]:
    """McClellan oscillator and summation index (issue counts), see module docstring.

    Returns
    -------
    (oscillator, summation) : tuple of arrays
        NaN before index ``slow - 1``.
    """
    net = net_advances(advancing, declining)
    osc = ema(net, fast) - ema(net, slow)
    summation = np.full(net.shape, np.nan)
    valid = ~np.isnan(osc)
    summation[valid] = np.cumsum(osc[valid])
    return osc, summation


def breadth_features(breadth: pl.DataFrame) -> pl.DataFrame:
    """Breadth columns on the breadth frame's own dates (sorted by date).

    Input columns: ``date``, ``advancing``, ``declining``. Output columns: ``date``,
    ``net_advances``, ``ad_line``, ``ad_ratio``, ``mcclellan_osc``, ``mcclellan_sum``.
    The line and EMAs run over the breadth rows present (a missing breadth day is skipped,
    not filled), so they match a vendor's series computed on the same rows.
    """
    b = breadth.sort("date")
    adv = b["advancing"].cast(pl.Float64).to_numpy()
    dec = b["declining"].cast(pl.Float64).to_numpy()
    osc, summ = mcclellan(adv, dec)
    return pl.DataFrame(
        {
            "date": b["date"],
            "net_advances": net_advances(adv, dec),
            "ad_line": advance_decline_line(adv, dec),
            "ad_ratio": advance_decline_ratio(adv, dec),
            "mcclellan_osc": osc,
            "mcclellan_sum": summ,
        }
    ).with_columns(pl.exclude("date").fill_nan(None))
