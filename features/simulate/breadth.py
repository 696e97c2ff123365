"""Simulated NYSE breadth: advancing, declining and unchanged issues per session.

About 3000 listed issues (a slow, deterministic drift between ~2800 and ~3200). The share of
advancers among the changed issues is Phi(0.55 z + 0.3 e), where z is the index's log return
standardized by the session's model volatility and e is independent noise, so breadth is
strongly but not perfectly correlated with index returns. Unchanged issues are 0.5–3 % of
the total; at least 1 % of the changed issues move each way. Counts are binomial draws;
randomness comes from a range-independent stream.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
from scipy.special import ndtr, ndtri

from features.simulate.dynamics import SESSION_DT, _block_draws

#: Smallest share of the changed issues on the minority side of a session.
MIN_SHARE = 0.01


def breadth_frame(
    dates: list[date], ordinals: np.ndarray, log_returns: np.ndarray, variance_day: np.ndarray, seed: int, source: str
) -> pl.DataFrame:
    """Frame (date, advancing, declining, unchanged, source) for each session.

    Parameters
    ----------
    log_returns : close-to-close index log return of each session (first: from the origin level).
    variance_day : model variance in force during the session (annualized decimal).
    """
    n = len(dates)
    z_noise, u = _block_draws(seed, n, 1, 3, stream=2)
    years = (ordinals - ordinals[0]) / 365.25
    total = np.round(3000 + 200 * np.sin(2 * np.pi * years / 17.0)).astype(np.int64)
    unchanged = np.round(total * (0.005 + 0.025 * u[:, 0])).astype(np.int64)
    changed = total - unchanged
    z = log_returns / np.sqrt(variance_day * SESSION_DT)
    # at least 1 % of the changed issues move against the index: on the NYSE's most one-sided
    # sessions (e.g. 2020-03-16, 2008-10-15) a few percent still advanced; an unbounded
    # normal share gave a crash day 0 advancers
    share = np.clip(ndtr(0.55 * z + 0.3 * z_noise[:, 0]), MIN_SHARE, 1.0 - MIN_SHARE)
    # Binomial(changed, share) via its normal approximation (n ~ 3000), inverse-CDF sampled
    # from the block stream so it stays range independent.
    mean = changed * share
    sd = np.sqrt(changed * share * (1 - share))
    adv = np.clip(np.round(mean + sd * ndtri(u[:, 1])), 0, changed).astype(np.int64)
    return pl.DataFrame(
        {
            "date": pl.Series("date", dates, dtype=pl.Date),
            "advancing": adv,
            "declining": changed - adv,
            "unchanged": unchanged,
            "source": [source] * n,
        }
    )

