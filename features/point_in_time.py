"""Point-in-time retrieval of feature rows, the feature registry, and column documentation.

A feature row describes a market ``date`` and became known at ``available_at`` (tz-aware).
A date may have several rows — later *revisions* (a vendor correction, a backfill with
more data) carry the same ``date`` and a later ``available_at``. Point-in-time retrieval
must never return a revision that was not yet published at the query time (the Feast
late-arriving-data bug, feast #6615), so every lookup first filters on ``available_at``.

The SQL twin of :func:`as_of` lives in ``warehouse/point_in_time.sql``.

Decisions, hedges and the backtest read every input through :func:`features_at_sessions`
(feature and regime rows, revision-aware, cut at the decision instant) and
:func:`rows_known_at_sessions` (option chains, SPX daily, VX futures: a session's rows only
once they are known at that session's decision instant). The decision instant of a session
is :func:`decision_time`: 16:15 America/New_York, when the end-of-day data are known and the
decision's orders fill.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

import polars as pl

from features.market_features import AVAILABLE_HOUR, AVAILABLE_MINUTE, CONE_QUANTILES, NY_TZ
from features.realized_vol import HORIZONS

#: Column names :func:`features_at_sessions` adds: the matched row's market date and the
#: instant of the decision it was read for.
FEATURE_DATE = "feature_date"
DECISION_TIME = "decision_time"


def decision_time(date_col: str | pl.Expr = "date") -> pl.Expr:
    """The decision instant of a session: 16:15 America/New_York on it (DST-aware).

    End-of-day data of the session are known then (the close is at 16:00, SPX options
    stop trading at 16:15) and the decision's orders fill at that session's end-of-day
    quotes. ``Datetime(us, America/New_York)``.
    """
    d = pl.col(date_col) if isinstance(date_col, str) else date_col
    return (
        d.cast(pl.Date).cast(pl.Datetime("us")) + pl.duration(hours=AVAILABLE_HOUR, minutes=AVAILABLE_MINUTE)
    ).dt.replace_time_zone(NY_TZ)


def _utc(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """An instant column as UTC; a naive Datetime is read as New York wall time, a Date as
    known at that date's decision instant."""
    if dtype == pl.Date:
        return decision_time(expr).dt.convert_time_zone("UTC")
    if getattr(dtype, "time_zone", None) is None:
        return expr.dt.replace_time_zone(NY_TZ).dt.convert_time_zone("UTC")
    return expr.dt.convert_time_zone("UTC")


def features_at_sessions(features: pl.DataFrame, sessions: pl.DataFrame | pl.Series) -> pl.DataFrame:
    """The feature row known at each session's decision instant (timestamp-precise, revision-aware).

    For a session ``s`` with decision instant ``T = decision_time(s)``: among the rows with
    ``known <= T``, where ``known = max(available_at, decision_time(date))`` (a row cannot be
    known before its own session closes, whatever its ``available_at`` says), take the
    latest ``date``, and of that date the latest revision known at ``T``. A revision
    published after ``T`` — even minutes after, on the same day — is not seen.

    Parameters
    ----------
    features : pl.DataFrame
        ``date`` (Date), ``available_at`` (tz-aware Datetime; a naive one is New York wall
        time; a missing column means known at the session's own decision instant) and the
        value columns; several rows per ``date`` are revisions.
    sessions : pl.DataFrame or pl.Series
        Decision sessions (a ``date`` column, or a Series of dates).

    Returns
    -------
    pl.DataFrame
        One row per distinct session, sorted: ``date`` (the session), ``decision_time``,
        ``feature_date`` (market date of the row used; null when none is known) and the
        value columns of ``features`` (``available_at`` is dropped).
    """
    s = sessions.to_frame("date") if isinstance(sessions, pl.Series) else sessions.select("date")
    s = s.unique().sort("date").with_columns(decision_time("date").alias(DECISION_TIME))
    s = s.with_columns(pl.col(DECISION_TIME).dt.convert_time_zone("UTC").alias("_t"))
    values = [c for c in features.columns if c not in ("date", "available_at")]
    own = decision_time("date").dt.convert_time_zone("UTC")
    known = (
        _utc(pl.col("available_at"), features.schema["available_at"]) if "available_at" in features.columns else own
    )
    f = features.select(pl.col("date").cast(pl.Date), pl.max_horizontal(known, own).alias("_known"), *values)
    # the latest market date known at each instant: a running max over publication order
    best = (
        f.select("_known", "date").sort("_known", "date")
        .with_columns(pl.col("date").cum_max().alias(FEATURE_DATE))
        .select("_known", FEATURE_DATE)
    )
    out = s.sort("_t").join_asof(best, left_on="_t", right_on="_known", strategy="backward", check_sortedness=False)
    out = out.drop("_known").sort("_t").join_asof(
        f.rename({"date": FEATURE_DATE}).sort("_known"),
        left_on="_t", right_on="_known", by=FEATURE_DATE, strategy="backward", check_sortedness=False,
    )
    return out.drop("_t", "_known").sort("date").select("date", DECISION_TIME, FEATURE_DATE, *values)


def rows_known_at_sessions(
    frame: pl.DataFrame, date_col: str = "date", available_col: str | None = None, kind_col: str = "snapshot_kind"
) -> pl.DataFrame:
    """The rows of a per-session market table known at their session's decision instant.

    A row of session ``s`` (``date_col``) may be used by the decision, marks and fills of
    ``s`` only if it was known at ``decision_time(s)``. Its known instant is its
    ``available_col`` (e.g. an option chain's ``snapshot_time``), except for end-of-day
    snapshots (``kind_col == "eod"``): those hold the session's closing quotes, known at the
    close whenever the file was pulled. Tables without such a column (SPX daily, VX
    settlements) are end-of-day values, known at the session's close. Rows are never moved to
    another session, so a session's decision can never see a later session's rows.
    """
    if available_col is None or available_col not in frame.columns or frame.is_empty():
        return frame
    t = decision_time(date_col).dt.convert_time_zone("UTC")
    known = _utc(pl.col(available_col), frame.schema[available_col]) <= t
    if kind_col in frame.columns:
        known = known | (pl.col(kind_col) == "eod")
    return frame.filter(known)


def eod_rows_known_at_sessions(option_features: pl.DataFrame) -> pl.DataFrame:
    """The option rows every decision, mark and fill of a session uses: its end-of-day
    snapshot (``snapshot_kind == "eod"`` when the column exists), known at its decision
    instant (:func:`rows_known_at_sessions` on ``quote_date``/``snapshot_time``).

    Overnight or intraday snapshots of the same session are left out so that no contract
    appears twice.
    """
    f = option_features
    if "snapshot_kind" in f.columns:
        f = f.filter(pl.col("snapshot_kind") == "eod")
    return rows_known_at_sessions(f, "quote_date", "snapshot_time")


def latest_revisions(features: pl.DataFrame, as_of_time: datetime) -> pl.DataFrame:
    """For each ``date``, the row with the latest ``available_at <= as_of_time``.

    ``as_of_time`` must be timezone-aware (any zone; compared as an instant).
    """
    if as_of_time.tzinfo is None:
        raise ValueError("as_of_time must be timezone-aware")
    tz = getattr(features.schema["available_at"], "time_zone", None)
    if tz is None:
        raise ValueError("features.available_at must be a timezone-aware Datetime")
    cutoff = pl.lit(as_of_time).dt.convert_time_zone(tz)
    return (
        features.filter(pl.col("available_at") <= cutoff)
        .sort("date", "available_at")
        .unique(subset="date", keep="last", maintain_order=True)
    )


def merge_revisions(stored: pl.DataFrame, fresh: pl.DataFrame, learned_at: datetime) -> pl.DataFrame:
    """Combine stored feature rows with freshly computed ones, keeping history.

    For each ``date`` of ``fresh``:

    * not stored yet: the fresh row is kept with its own ``available_at`` (the market
      time its inputs were known: a backfill states what *would* have been known);
    * stored, and the latest stored revision has the same values: nothing changes (a
      re-run is idempotent);
    * stored with different values (inputs were corrected later, e.g. vendor data
      landed): the old revisions stay and the fresh row is appended as a new revision
      with ``available_at = max(its market time, learned_at)``, so a lookup as of an
      earlier time still returns what was known then.

    Rows of ``stored`` for dates not in ``fresh`` are returned unchanged.
    """
    if stored.is_empty():
        return fresh
    values = [c for c in fresh.columns if c != "available_at"]
    latest = stored.sort("date", "available_at").unique(subset="date", keep="last", maintain_order=True)
    fresh_h = fresh.select("date", pl.struct(values).hash().alias("_h"))
    latest_h = latest.select("date", pl.struct(values).hash().alias("_h_old"))
    cmp = fresh_h.join(latest_h, on="date", how="left")
    changed_dates = cmp.filter(pl.col("_h_old").is_not_null() & (pl.col("_h") != pl.col("_h_old")))["date"]
    new_dates = cmp.filter(pl.col("_h_old").is_null())["date"]
    learned = pl.lit(learned_at).dt.convert_time_zone(fresh.schema["available_at"].time_zone)
    revisions = fresh.filter(pl.col("date").is_in(changed_dates.implode())).with_columns(
        available_at=pl.max_horizontal("available_at", learned)
    )
    return pl.concat(
        [stored, fresh.filter(pl.col("date").is_in(new_dates.implode())), revisions], how="diagonal_relaxed"
    ).sort("date", "available_at")


def as_of(
    features: pl.DataFrame,
    dates: Iterable[date] | pl.Series,
    as_of_time: datetime,
    ttl: timedelta | None = None,
) -> pl.DataFrame:
    """Features known at ``as_of_time`` for each requested date.

    For each requested date ``d``: among rows with ``date <= d`` and
    ``available_at <= as_of_time``, the one with the latest ``date``, and of that date the
    latest revision. Rows are returned in the order requested.

    Parameters
    ----------
    features : pl.DataFrame
        Must have ``date`` (Date) and ``available_at`` (tz-aware Datetime).
    dates : iterable of date or pl.Series
        Requested dates (duplicates allowed).
    as_of_time : datetime
        Timezone-aware knowledge cutoff.
    ttl : timedelta, optional
        Time-to-live in calendar days: a match whose ``date`` is more than ``ttl`` before
        the requested date is treated as stale and returned as nulls (applied after the
        as-of match, as the join itself has one inequality). ``None``: no limit.

    Returns
    -------
    pl.DataFrame
        ``requested_date`` followed by every column of ``features`` (``date`` is the
        matched row's market date; all null when nothing qualifies).
    """
    known = latest_revisions(features, as_of_time)
    req = pl.DataFrame(
        {"requested_date": pl.Series(list(dates) if not isinstance(dates, pl.Series) else dates).cast(pl.Date)}
    )
    req = req.with_row_index("_order")
    joined = (
        req.sort("requested_date")
        .join_asof(known, left_on="requested_date", right_on="date", strategy="backward", check_sortedness=False)
        .sort("_order")
        .drop("_order")
    )
    if ttl is not None:
        stale = (pl.col("requested_date") - pl.col("date")) > pl.lit(ttl)
        joined = joined.with_columns(
            pl.when(stale.fill_null(False)).then(None).otherwise(pl.col(c)).alias(c) for c in features.columns
        )
    return joined.select("requested_date", *features.columns)


def feature_registry_rows(
    frame: pl.DataFrame,
    table: str,
    source_asset: str,
    code_version: str,
    descriptions: Mapping[str, tuple[str, str]],
) -> pl.DataFrame:
    """One registry row per feature column of ``frame`` (keys ``date``/``available_at`` excluded).

    Columns: ``name, table_name, description, units, source_asset, code_version,
    first_date, last_date`` where the dates bound the non-null values of the column (null
    when the column is entirely null). Raises ``KeyError`` naming every undocumented
    column, so a new column cannot be registered without a description.
    """
    names = [c for c in frame.columns if c not in ("date", "available_at")]
    missing = [c for c in names if c not in descriptions]
    if missing:
        raise KeyError(f"undocumented feature columns: {missing}")
    bounds = frame.select(
        *[pl.col("date").filter(pl.col(c).is_not_null()).min().alias(f"{c}__first") for c in names],
        *[pl.col("date").filter(pl.col(c).is_not_null()).max().alias(f"{c}__last") for c in names],
    )
    return pl.DataFrame(
        {
            "name": names,
            "table_name": [table] * len(names),
            "description": [descriptions[c][0] for c in names],
            "units": [descriptions[c][1] for c in names],
            "source_asset": [source_asset] * len(names),
            "code_version": [code_version] * len(names),
            "first_date": pl.Series([bounds[f"{c}__first"][0] for c in names], dtype=pl.Date),
            "last_date": pl.Series([bounds[f"{c}__last"][0] for c in names], dtype=pl.Date),
        }
    )


def _rv_docs() -> dict[str, tuple[str, str]]:
    est = {
        "cc": "zero-mean close-to-close realized vol, sqrt(252/h * sum r^2)",
        "parkinson": "Parkinson high-low realized vol",
        "gk": "Garman-Klass OHLC realized vol",
        "yz": "Yang-Zhang realized vol (overnight + open-to-close + Rogers-Satchell)",
    }
    out: dict[str, tuple[str, str]] = {}
    for h in HORIZONS:
        for k, text in est.items():
            out[f"rv_{k}_{h}"] = (
                f"{text} over the trailing {h} sessions, annualized with 252",
                "annualized vol, decimal",
            )
        for q, level in CONE_QUANTILES:
            out[f"rv_cc_{h}_cone_{q}"] = (
                f"volatility cone: {int(level * 100)}th percentile of rv_cc_{h} over the trailing 252 sessions",
                "annualized vol, decimal",
            )
        out[f"rv_cc_{h}_pctile"] = (
            f"share of the trailing 252 sessions' rv_cc_{h} values <= today's",
            "share 0..1",
        )
    return out


MARKET_FEATURE_DOCS: dict[str, tuple[str, str]] = {
    "date": ("NYSE session the row describes", "date"),
    "available_at": ("time the row's inputs are known: 16:15 America/New_York on date", "timestamp (America/New_York)"),
    "close": ("S&P 500 index close", "index points"),
    "rsi_14": ("RSI(14), Wilder smoothing, TA-Lib seeding (SMA of first 14 changes)", "points 0..100"),
    "macd": ("MACD line EMA12 - EMA26 (TA-Lib, SMA-seeded, first value at index 33)", "index points"),
    "macd_signal": ("MACD signal line: EMA9 of the MACD line (TA-Lib)", "index points"),
    "macd_hist": ("MACD histogram: macd - macd_signal", "index points"),
    "ad_line": ("Advance-Decline line: cumulative sum of advancing - declining issues", "issues"),
    "net_advances": ("advancing - declining issues", "issues"),
    "ad_ratio": ("advancing / declining issues", "ratio"),
    "mcclellan_osc": ("McClellan oscillator EMA19 - EMA39 of net advances, each EMA seeded with its SMA", "issues"),
    "mcclellan_sum": (
        "McClellan summation index: running sum of mcclellan_osc from its first value, no offset",
        "issues",
    ),
    **_rv_docs(),
    "vix": ("Cboe VIX close (official; replicated 30-day value where missing)", "index points"),
    "vix9d": ("Cboe VIX9D close (official; replicated 9-day value where missing)", "index points"),
    "vix3m": ("Cboe VIX3M close (official; replicated 93-day value where missing)", "index points"),
    "vix6m": ("Cboe VIX6M close (official; replicated 183-day value where missing)", "index points"),
    "vvix": ("Cboe VVIX close", "index points"),
    "vrp": ("variance risk premium VIX^2 - 10^4 * 21-session zero-mean realized variance", "variance points"),
    "vrp_vol": ("VIX - 100 * rv_cc_21", "vol points"),
    "vix_pct_rank_252": ("share of the trailing 252 sessions' VIX closes <= today's", "share 0..1"),
    "ts_vix9d_vix": ("VIX9D / VIX", "ratio"),
    "ts_vix_vix3m": ("VIX / VIX3M (>1: backwardation)", "ratio"),
    "ts_vix3m_vix6m": ("VIX3M / VIX6M", "ratio"),
    "vx_cm30": (
        "30-calendar-day constant-maturity VX future, linear between bracketing monthly contracts",
        "index points",
    ),
    "vx_roll_yield": ("VX roll yield (M2 - M1) / M1 of the first two monthly contracts (>0: contango)", "ratio"),
    "is_event_day": ("a FOMC, CPI or PPI release is scheduled on date", "bool"),
    "is_fomc_day": ("a FOMC decision is scheduled on date", "bool"),
    "is_cpi_day": ("a CPI release is scheduled on date", "bool"),
    "is_ppi_day": ("a PPI release is scheduled on date", "bool"),
    "days_to_fomc": (
        "NYSE sessions to the next scheduled FOMC decision (0 on the day), from the published calendar",
        "sessions",
    ),
    "days_to_cpi": (
        "NYSE sessions to the next scheduled CPI release (0 on the day), from the published calendar",
        "sessions",
    ),
    "days_to_ppi": (
        "NYSE sessions to the next scheduled PPI release (0 on the day), from the published calendar",
        "sessions",
    ),
    "in_event_window": ("within the event window (default: the session before or of a release)", "bool"),
    # Regime table (features.regimes)
    "vol_regime": ("VIX level regime calm/normal/elevated/stressed with hysteresis; unknown without VIX", "label"),
    "term_regime": ("VIX/VIX3M regime contango/flat/backwardation with hysteresis; unknown without VIX3M", "label"),
    "trend_regime": ("close vs 200-session SMA with a +/-1% hysteresis band: up/down; unknown in warm-up", "label"),
    "regime": ("vol_regime/term_regime", "label"),
    "regime_changed": ("regime differs from the previous session's", "bool"),
    "sma_trend": ("simple moving average of close over trend_sma_window sessions", "index points"),
    "vol_enter_normal": ("VIX at or above which the vol regime rises to normal", "index points"),
    "vol_enter_elevated": ("VIX at or above which the vol regime rises to elevated", "index points"),
    "vol_enter_stressed": ("VIX at or above which the vol regime rises to stressed", "index points"),
    "vol_exit_normal": ("VIX below which the vol regime falls from normal to calm", "index points"),
    "vol_exit_elevated": ("VIX below which the vol regime falls from elevated", "index points"),
    "vol_exit_stressed": ("VIX below which the vol regime falls from stressed", "index points"),
    "term_enter_flat": ("VIX/VIX3M at or above which the term regime rises to flat", "ratio"),
    "term_enter_backwardation": ("VIX/VIX3M at or above which the term regime becomes backwardation", "ratio"),
    "term_exit_flat": ("VIX/VIX3M below which the term regime falls from flat to contango", "ratio"),
    "term_exit_backwardation": ("VIX/VIX3M below which the term regime falls from backwardation", "ratio"),
    "trend_band": ("relative band around the SMA for trend changes", "ratio"),
    "trend_sma_window": ("SMA length of the trend regime", "sessions"),
    "confirm_days": ("consecutive sessions a regime change must be indicated before it is adopted", "sessions"),
    "hmm_p_high_vol": (
        "filtered probability of the high-variance state of a 2-state Gaussian HMM on daily log returns",
        "probability 0..1",
    ),
    "hmm_state": ("1 when hmm_p_high_vol > 0.5 else 0", "state"),
    "hmm_fit_date": (
        "session of the quarterly refit whose parameters produced hmm_p_high_vol (data <= that date)",
        "date",
    ),
}
