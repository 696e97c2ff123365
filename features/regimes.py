"""Market regime labels: a documented rule-based classifier with hysteresis, and an HMM.

Rule-based regimes (:func:`rule_regimes`)
-----------------------------------------
Three independent labels per session, each with *hysteresis*: a label is entered when its
input crosses the enter threshold, and left only when the input crosses the (looser) exit
threshold, so a VIX hovering around 30 does not flip the label every day. Optionally a
change must be indicated on ``confirm_days`` consecutive sessions before it is adopted.

* ``vol_regime`` from the VIX close (points), ordered calm < normal < elevated < stressed.
  Moving *up* into level k needs ``vix >= vol_enter[k]``; moving *down* out of level k
  needs ``vix < vol_exit[k]`` (``vol_exit[k] < vol_enter[k]``). Defaults: normal from 15
  (back to calm below 14), elevated from 20 (back below 18), stressed from 30 (back below
  25). ``vix_pct_rank_252`` is carried alongside as context but does not drive the label:
  a percentile is relative to the last year, so after a long calm spell a VIX of 16 can be
  "90th percentile" without being stressed.
* ``term_regime`` from ``ts_vix_vix3m = VIX / VIX3M``: contango < flat < backwardation.
  Flat from 0.95 (back to contango below 0.92), backwardation from 1.00 (back to flat below
  0.97).
* ``trend_regime`` from the close versus its 200-session simple moving average: "up" when
  ``close > sma * (1 + band)``, "down" when ``close < sma * (1 - band)``, unchanged inside
  the band (band 1 %). The first label is the sign of ``close - sma``.

Missing inputs: when the driving input is null the label is ``"unknown"`` and the state
machine restarts from the plain bucket at the next valid value (the label has no evidence
to persist). VIX3M exists only from 2009-09 in Cboe's published history (VXV); before that
``term_regime`` is ``"unknown"`` — no proxy from another tenor is substituted, because a
VIX/VIX6M ratio has different natural levels and would need its own thresholds.

``regime`` is ``"<vol_regime>/<term_regime>"``; ``regime_changed`` is true when it differs
from the previous session's (false on the first row). Every output row carries its
inputs and the thresholds in force, so "why stressed on this day?" is a SQL query.

HMM (:func:`hmm_regime_probabilities`)
--------------------------------------
A two-state Gaussian HMM on daily log returns, refit quarterly on an anchored schedule,
reporting *filtered* probabilities only (see :mod:`features.hmm`).

Hysteresis is path-dependent, so it is a sequential loop over sessions (a few thousand
iterations of scalar state, ~ms); everything else is vectorized.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from features.hmm import hmm_filtered_probabilities
from features.technicals import sma

VOL_LABELS: tuple[str, ...] = ("calm", "normal", "elevated", "stressed")
TERM_LABELS: tuple[str, ...] = ("contango", "flat", "backwardation")
TREND_LABELS: tuple[str, ...] = ("down", "up")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class RegimeThresholds:
    """Thresholds of :func:`rule_regimes` (VIX in points, ratios dimensionless).

    ``vol_enter[i]`` / ``vol_exit[i]`` are the enter / exit thresholds of the level
    ``VOL_LABELS[i + 1]`` (normal, elevated, stressed); likewise ``term_enter`` /
    ``term_exit`` for flat and backwardation.
    """

    vol_enter: tuple[float, float, float] = (15.0, 20.0, 30.0)
    vol_exit: tuple[float, float, float] = (14.0, 18.0, 25.0)
    term_enter: tuple[float, float] = (0.95, 1.00)
    term_exit: tuple[float, float] = (0.92, 0.97)
    trend_sma_window: int = 200
    trend_band: float = 0.01
    confirm_days: int = 1

    def __post_init__(self) -> None:
        for enter, exit_ in ((self.vol_enter, self.vol_exit), (self.term_enter, self.term_exit)):
            if list(enter) != sorted(enter) or list(exit_) != sorted(exit_):
                raise ValueError("thresholds must increase with the level")
            if any(x > e for e, x in zip(enter, exit_)):
                raise ValueError("an exit threshold must not exceed its enter threshold")
        if self.confirm_days < 1:
            raise ValueError("confirm_days >= 1")


def hysteresis_levels(
    x: NDArray[np.float64],
    enter: tuple[float, ...],
    exit_: tuple[float, ...],
    confirm_days: int = 1,
    start_levels: NDArray[np.int64] | None = None,
) -> NDArray[np.int64]:
    """Ordered level with hysteresis; -1 where ``x`` is NaN.

    ``up = #(x >= enter)``, ``down = #(x >= exit)`` (so ``down >= up``). From state ``s``
    the proposal is ``up`` if ``up > s``, ``down`` if ``down < s``, else ``s``; a proposal
    different from ``s`` is adopted once it has been made ``confirm_days`` sessions in a row.
    The machine starts (and restarts after a NaN) at ``start_levels[t]`` (default ``up``).
    """
    x = np.asarray(x, dtype=np.float64)
    nan = np.isnan(x)
    up = (x[:, None] >= np.asarray(enter)[None, :]).sum(axis=1)
    down = (x[:, None] >= np.asarray(exit_)[None, :]).sum(axis=1)
    start_l = (up if start_levels is None else np.asarray(start_levels)).tolist()
    out = np.full(x.size, -1, dtype=np.int64)
    state, pending, streak = -1, -1, 0
    up_l, down_l, nan_l = up.tolist(), down.tolist(), nan.tolist()
    for t in range(x.size):  # sequential by nature: the state is path-dependent
        if nan_l[t]:
            state, pending, streak = -1, -1, 0
            continue
        if state < 0:
            state = start_l[t]
        else:
            proposal = up_l[t] if up_l[t] > state else (down_l[t] if down_l[t] < state else state)
            if proposal == state:
                pending, streak = -1, 0
            else:
                streak = streak + 1 if proposal == pending else 1
                pending = proposal
                if streak >= confirm_days:
                    state, pending, streak = proposal, -1, 0
        out[t] = state
    return out


def _trend_levels(
    close: NDArray[np.float64], avg: NDArray[np.float64], band: float, confirm_days: int
) -> NDArray[np.int64]:
    # close/sma - 1 against symmetric thresholds: up needs > +band, down needs < -band;
    # a (re)start takes the plain sign of close - sma.
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = close / avg - 1.0
    start = (rel > 0.0).astype(np.int64)
    return hysteresis_levels(rel, (band,), (-band,), confirm_days, start_levels=start)


def _labels(levels: NDArray[np.int64], names: tuple[str, ...]) -> pl.Series:
    lookup = np.array([UNKNOWN, *names], dtype=object)
    return pl.Series(lookup[levels + 1].astype(str))


def rule_regimes(features: pl.DataFrame, thresholds: RegimeThresholds = RegimeThresholds()) -> pl.DataFrame:
    """Rule-based regime labels with hysteresis (see module docstring).

    Parameters
    ----------
    features : pl.DataFrame
        Needs ``date, available_at, close, vix, ts_vix_vix3m, vix_pct_rank_252`` (the
        :func:`features.market_features.market_features` frame), sorted or not.
    thresholds : RegimeThresholds

    Returns
    -------
    pl.DataFrame
        ``date, available_at, vol_regime, term_regime, trend_regime, regime,
        regime_changed`` plus the inputs ``vix, ts_vix_vix3m, vix_pct_rank_252, close,
        sma_trend`` and threshold columns ``vol_enter_normal, vol_exit_normal, ...,
        term_enter_flat, ..., trend_band, confirm_days``.
    """
    f = features.sort("date")
    th = thresholds
    vix = f["vix"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    ratio = f["ts_vix_vix3m"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    close = f["close"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    avg = sma(close, th.trend_sma_window)
    vol = hysteresis_levels(vix, th.vol_enter, th.vol_exit, th.confirm_days)
    term = hysteresis_levels(ratio, th.term_enter, th.term_exit, th.confirm_days)
    trend = _trend_levels(close, avg, th.trend_band, th.confirm_days)
    out = pl.DataFrame(
        {
            "date": f["date"],
            "available_at": f["available_at"],
            "vol_regime": _labels(vol, VOL_LABELS),
            "term_regime": _labels(term, TERM_LABELS),
            "trend_regime": _labels(trend, TREND_LABELS),
        }
    ).with_columns(regime=pl.col("vol_regime") + "/" + pl.col("term_regime"))
    out = out.with_columns(regime_changed=(pl.col("regime") != pl.col("regime").shift(1)).fill_null(False))
    thresh_cols = {
        **{f"vol_enter_{VOL_LABELS[i + 1]}": th.vol_enter[i] for i in range(3)},
        **{f"vol_exit_{VOL_LABELS[i + 1]}": th.vol_exit[i] for i in range(3)},
        **{f"term_enter_{TERM_LABELS[i + 1]}": th.term_enter[i] for i in range(2)},
        **{f"term_exit_{TERM_LABELS[i + 1]}": th.term_exit[i] for i in range(2)},
        "trend_band": th.trend_band,
    }
    return out.with_columns(
        vix=f["vix"].cast(pl.Float64),
        ts_vix_vix3m=f["ts_vix_vix3m"].cast(pl.Float64),
        vix_pct_rank_252=f["vix_pct_rank_252"].cast(pl.Float64),
        close=f["close"].cast(pl.Float64),
        sma_trend=pl.Series(avg).fill_nan(None),
        **{k: pl.lit(v, pl.Float64) for k, v in thresh_cols.items()},
        trend_sma_window=pl.lit(th.trend_sma_window, pl.Int64),
        confirm_days=pl.lit(th.confirm_days, pl.Int64),
    )


def hmm_regime_probabilities(
    features: pl.DataFrame,
    column: str = "close",
    transform: str = "log_return",
    refit_every: int = 63,
    min_train: int = 252,
    max_iter: int = 100,
) -> pl.DataFrame:
    """Filtered two-state HMM probabilities per session.

    Parameters
    ----------
    features : pl.DataFrame
        Needs ``date`` and ``column``.
    column, transform : str
        The observation: ``"log_return"`` of ``column`` (default: daily SPX log returns,
        decimal) or ``"log"`` of ``column`` (e.g. ``column="vix"``).
    refit_every, min_train, max_iter : int
        See :func:`features.hmm.hmm_filtered_probabilities`.

    Returns
    -------
    pl.DataFrame
        ``date, hmm_p_high_vol`` (0..1, null before the first fit), ``hmm_state`` (1 when
        ``hmm_p_high_vol > 0.5``, else 0; null before the first fit) and ``hmm_fit_date``
        (the refit date whose parameters were used).
    """
    f = features.sort("date")
    v = f[column].cast(pl.Float64).fill_null(np.nan).to_numpy()
    if transform == "log_return":
        x = np.concatenate([[np.nan], np.diff(np.log(v))])
    elif transform == "log":
        x = np.log(v)
    else:
        raise ValueError(f"unknown transform {transform!r}")
    p, fit_index = hmm_filtered_probabilities(x, refit_every, min_train, max_iter)
    dates = f["date"]
    fit_dates = (
        dates.gather(np.maximum(fit_index, 0))
        .to_frame("d")
        .select(pl.when(pl.Series(fit_index >= 0)).then(pl.col("d")).alias("d"))["d"]
    )
    p_s = pl.Series("hmm_p_high_vol", p).fill_nan(None)
    return pl.DataFrame(
        {
            "date": dates,
            "hmm_p_high_vol": p_s,
            "hmm_state": (p_s > 0.5).cast(pl.Int8),
            "hmm_fit_date": fit_dates,
        }
    )


def market_regimes(
    features: pl.DataFrame,
    thresholds: RegimeThresholds = RegimeThresholds(),
    hmm_refit_every: int = 63,
    hmm_min_train: int = 252,
) -> pl.DataFrame:
    """:func:`rule_regimes` joined with :func:`hmm_regime_probabilities` on ``date``."""
    rules = rule_regimes(features, thresholds)
    hmm = hmm_regime_probabilities(features, refit_every=hmm_refit_every, min_train=hmm_min_train)
    return rules.join(hmm, on="date", how="left")
