"""Adaptive Layered VIX Hedge (ALVH): long VIX calls held for their life, sized on stress losses.

Why this design.  A decomposition of the first ALVH (weekly re-striking, daily re-sizing on
the condor book's signed vega) showed that half its loss was bid/ask and commission from
churn, that signed vega flips sign when the put side is tested (the hedge shrank on the worst
day), and that a second engine tied to recently open condors never fired in a crisis.  So:

* **Hold.**  A layer buys its calls on one day and holds strike, expiry and size until a
  stated trigger fires (below); nothing is re-struck or re-sized in between.
* **Size on stress, not on vega.**  The book's loss in a stated scenario (SPX moves
  ``stress_spx_move``, VIX moves ``stress_vix_move`` points; :func:`book_stress_loss`) is
  what a layer covers: ``n = fraction x loss / gain``, with ``gain`` the scenario gain of one
  call (its VX future moves ``beta x stress_vix_move``, :func:`vx_vix_beta`; VVIX moves
  ``stress_vvix_move``), rounded to whole contracts.
* **Instrument.**  One-month VIX calls at ``call_delta`` (≈30-delta, as Cboe's VXTH) on the
  monthly VX contract (:func:`monthly_contracts`) nearest ``t + horizon_days`` with at least
  ``min_days_to_expiry`` left, priced by :mod:`features.vix_options` (Black-76 on that
  future, smile scaled by VVIX), strikes on the 0.5-point grid.  Marks are the model price; every traded contract pays
  ``fill.vix_half_spread`` plus commission per leg.

Layers (one row per session per layer in :func:`hedge_layers`):

``base``
    Covers ``base_fraction`` of the book's stress loss.  Opens when the book has a stress
    loss and no base position is held; re-sized (same strike and expiry) only when the
    book's stress loss leaves ``[1 - resize_band, 1 + resize_band] x`` the loss it was sized
    on (a new condor, or condors closed).
``vxth``
    Cboe VXTH's rule as a first-class option, scaled by ``vxth_weight_scale`` (0 = off):
    once per VIX expiry, premium = weight x equity with the weight set by the target VX
    future at the roll (``vxth_weight_low`` for ``vxth_low < F <= vxth_mid``,
    ``vxth_weight_high`` for ``vxth_mid < F <= vxth_high``, none at or below ``vxth_low`` or
    above ``vxth_high``: VXTH's published 15/30/50 bands and 1 %/0.5 % weights).  Independent
    of the condor book.
``second_engine``
    Switches on *before* a regime change, whether or not a condor is open: when the term
    structure flattens (``vix/vix3m >= flattening_threshold`` and rising over
    ``engine_lookback`` sessions), when VVIX rises with VIX (both up by at least
    ``engine_vvix_rise`` / ``engine_vix_rise`` over ``engine_lookback`` sessions), inside an
    event window if ``engine_on_events``, or in a stressed/backwardated regime.  On the
    signal's onset it buys calls (or a call spread to ``spread_short_delta``) covering
    ``engine_fraction`` of ``max(stress loss now, its trailing max over reference_window,
    engine_floor_equity_fraction x equity)`` and holds them until the signal has been off for
    ``engine_off_days`` sessions, the expiry rolls (re-bought if the signal is still on) or
    monetization.

Sub-tick instruments.  A call (or spread) whose model price is under one VIX option tick
(``VIX_TICK``, 0.05 index points = $5) is not bought, and a base or engine layer does not open
or re-size on a scenario gain under one tick: a price that cannot be quoted cannot be paid, and dividing a stress loss by a
near-zero gain would size millions of contracts (it did on the real 2006 VVIX prints of
15.7-37.9, which price one-month calls at 1e-26).

Triggers common to every layer.  *Roll*: when the held contract has fewer than
``min_days_to_expiry`` days left it is sold at the model mark and, if the layer still wants
a position, the next one-month contract is bought the same session.  *Monetize*: the position
is sold when its mark reaches ``monetize_multiple x`` the premium paid, or when VIX closes at
or above ``monetize_vix`` with the position in profit; the layer then stays out until the
next expiry (base, vxth) or until the engine's signal has switched off and on again.

Point in time.  Every decision at session t uses the features known by t's close
(:func:`features.point_in_time.features_at_sessions`), t's VX settlements and the book as of t; the trade
fills at t's model price.  A trailing-only beta and trailing-only signals make the rows of a
run truncated at any date identical to the full run's rows up to that date (tested).

Stale marks.  When the held contract has no VX settlement on a session the mark reuses the
last known future with today's time and VVIX, and the row says ``stale_mark = true``.

Continuation.  A run continued from stored rows (``carry``: each layer's row of the last
stored session, with its ``state_*`` columns) resumes the loop with exactly the held
position (strike, expiry, size, entry price, last mark and future, covered loss) and the
triggers' memory (blocked expiry, engine arming and off count, last VXTH expiry), so its
rows equal a full run's (tested in ``tests/features/test_backtest_continuation.py``).

The loop over sessions in :func:`hedge_layers` is deliberate: holding rules are path
dependent (a monetized layer stays out, a re-size depends on what was sized before), and it
runs a few scalar steps per session (no loop over options).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from features.black76 import black76_price
from features.point_in_time import FEATURE_DATE, features_at_sessions
from features.strategy_config import HedgeConfig, StrategyConfig
from features.vix_options import price_vix_options, vix_call_price, vix_call_strike, vix_option_vol

__all__ = ["STATE_COLUMNS", "hedge_layers", "hedge_pnl", "vx_vix_beta", "book_stress_loss", "condor_book_stress", "engine_signal", "vxth_weight", "LAYERS"]

LAYERS = ("base", "vxth", "second_engine")
#: Minimum price increment of VIX options, index points (Cboe: $0.05 below $3, per unit of 100).
VIX_TICK = 0.05
BETA_MIN_OBS = 20
ATTR = ("attr_delta", "attr_gamma", "attr_theta", "attr_vega")


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


def book_stress_loss(positions: pl.DataFrame, trades: pl.DataFrame, vix: pl.DataFrame, spx_move: float, vix_move: float) -> pl.DataFrame:
    """Loss of the open condor book, in dollars (>= 0), if SPX moved ``spx_move`` (decimal)
    and VIX ``vix_move`` points at once, per session.

    Each held condor is revalued with Black-76 at the shocked index (``underlying x (1 +
    spx_move)``) and a flat vol ``(VIX + vix_move) / 100`` (the scenario's 30-day implied
    vol; the smile is ignored, which understates the put-wing loss a little) at its
    remaining time; the loss is ``-100 x contracts x (value' - value_mid)``, floored at 0.

    Parameters
    ----------
    positions : ``position_id, date, expiration, contracts, underlying, value_mid, held``
        (:func:`features.condor_management.manage_positions`).
    trades : ``position_id, lp_strike, sp_strike, sc_strike, lc_strike``.
    vix : ``date, vix`` known at each session's close.

    Returns
    -------
    ``date, stress_loss`` for the sessions with a held position.
    """
    if positions.height == 0:
        return pl.DataFrame(schema={"date": pl.Date, "stress_loss": pl.Float64})
    p = (
        positions.filter(pl.col("held"))
        .join(trades.select("position_id", "lp_strike", "sp_strike", "sc_strike", "lc_strike").unique("position_id"), on="position_id", how="inner")
        .join(vix.select("date", "vix"), on="date", how="left")
    )
    if p.height == 0:
        return pl.DataFrame(schema={"date": pl.Date, "stress_loss": pl.Float64})
    f = p["underlying"].to_numpy().astype(float) * (1.0 + spx_move)
    t = np.maximum((p["expiration"] - p["date"]).dt.total_days().to_numpy().astype(float), 0.5) / 365.0
    vol = (p["vix"].fill_null(20.0).to_numpy().astype(float) + vix_move) / 100.0
    leg = lambda col, call: black76_price(f, p[col].to_numpy().astype(float), t, vol, 1.0, np.full(f.size, call))  # noqa: E731
    value = leg("lp_strike", False) - leg("sp_strike", False) - leg("sc_strike", True) + leg("lc_strike", True)
    loss = np.maximum(-100.0 * p["contracts"].to_numpy().astype(float) * (value - p["value_mid"].to_numpy().astype(float)), 0.0)
    # summed in (date, position) order: a continued run's sum repeats a full run's bit for bit
    return (
        p.select("date", "position_id").with_columns(pl.Series("stress_loss", loss)).sort("date", "position_id")
        .group_by("date", maintain_order=True).agg(pl.col("stress_loss").sum()).sort("date")
    )


def condor_book_stress(positions: pl.DataFrame, trades: pl.DataFrame, features_asof: pl.DataFrame, days: pl.DataFrame, config: StrategyConfig) -> pl.DataFrame:
    """``date, stress_loss`` for every session in ``days``: :func:`book_stress_loss` in the
    hedge's design scenario with VIX as known at each close (0 when no condor is held)."""
    h = config.hedge
    vix = features_at_sessions(features_asof, days.select("date"))
    vix = vix.select("date", pl.col("vix") if "vix" in vix.columns else pl.lit(None, dtype=pl.Float64).alias("vix"))
    stress = book_stress_loss(positions, trades, vix, h.stress_spx_move, h.stress_vix_move)
    return days.select("date").join(stress, on="date", how="left").with_columns(pl.col("stress_loss").fill_null(0.0)).sort("date")


def vxth_weight(vx_level: np.ndarray, h: HedgeConfig) -> np.ndarray:
    """VXTH's portfolio weight of VIX calls for the VX future level at the roll (scaled by
    ``vxth_weight_scale``): low band weight above ``vxth_low`` up to ``vxth_mid``, high band
    weight above ``vxth_mid`` up to ``vxth_high``, 0 otherwise."""
    x = np.asarray(vx_level, dtype=float)
    w = np.where((x > h.vxth_low) & (x <= h.vxth_mid), h.vxth_weight_low,
                 np.where((x > h.vxth_mid) & (x <= h.vxth_high), h.vxth_weight_high, 0.0))
    return np.where(np.isfinite(x), w * h.vxth_weight_scale, 0.0)


def engine_signal(feats: pl.DataFrame, h: HedgeConfig) -> pl.DataFrame:
    """The second engine's switch per session, from features known at each close.

    ``feats``: one row per session (``date, vix, vix3m, vvix, in_event_window, vol_regime,
    term_regime``), sorted by date.  Returns ``date, engine_on, engine_why``; the lookback
    changes use the rows of earlier sessions only.
    """
    k = h.engine_lookback
    ratio = pl.col("vix") / pl.col("vix3m")
    flat = (ratio >= h.flattening_threshold) & (ratio > ratio.shift(k))
    volvol = (pl.col("vvix") / pl.col("vvix").shift(k) - 1.0 >= h.engine_vvix_rise) & (
        pl.col("vix") / pl.col("vix").shift(k) - 1.0 >= h.engine_vix_rise
    )
    event = pl.col("in_event_window").fill_null(False) & pl.lit(h.engine_on_events)
    regime = pl.col("vol_regime").is_in(list(h.engine_regimes_vol)) | pl.col("term_regime").is_in(list(h.engine_regimes_term))
    parts = {"flattening": flat, "vvix_with_vix": volvol, "event_window": event, "regime": regime}
    out = feats.sort("date").with_columns(**{f"_{n}": e.fill_null(False) for n, e in parts.items()})
    return out.select(
        "date",
        pl.any_horizontal(*[f"_{n}" for n in parts]).alias("engine_on"),
        pl.concat_str([pl.when(pl.col(f"_{n}")).then(pl.lit(n + " ")).otherwise(pl.lit("")) for n in parts]).str.strip_chars().alias("engine_why"),
    )


def _scalar_price(f: float, k1: float, k2: float, t: float, vvix: float, rate: float) -> float:
    """Model price (VIX points) of a call (k2 NaN) or call spread k1 < k2."""
    p = vix_call_price(f, k1, t, vvix, rate)
    return p - vix_call_price(f, k2, t, vvix, rate) if k2 == k2 else p


def monthly_contracts(vx_futures: pl.DataFrame) -> pl.DataFrame:
    """The standard monthly VX contracts: the futures that standard VIX options expire with.

    Weekly futures (``contract`` ``VXW …``, listed from 2015) are dropped: they are listed
    only weeks before their expiry, so a call held on one had no settlement to mark on most
    sessions (236 stale marks over 2015-2025 on the real path).  Rows without a ``contract``
    name (modelled curves) are monthly by construction."""
    if "contract" not in vx_futures.columns:
        return vx_futures
    return vx_futures.filter(pl.col("contract").is_null() | ~pl.col("contract").str.starts_with("VXW"))


def _daily_inputs(book: pl.DataFrame, features_asof: pl.DataFrame, vx_futures: pl.DataFrame, config: StrategyConfig) -> pl.DataFrame:
    """One row per session: features as of its close, beta, engine signal, target contract."""
    h = config.hedge
    days = book.select("date", pl.col("stress_loss").fill_null(0.0)).sort("date")
    feats = features_at_sessions(features_asof, days.select("date"))
    for c, dt in (("vix", pl.Float64), ("vix3m", pl.Float64), ("vvix", pl.Float64), ("in_event_window", pl.Boolean),
                  ("vol_regime", pl.String), ("term_regime", pl.String)):
        if c not in feats.columns:
            feats = feats.with_columns(pl.lit(None, dtype=dt).alias(c))
    beta = vx_vix_beta(features_asof, h.beta_window, h.beta_prior, h.beta_floor, h.beta_cap)
    d = (
        days.join(feats, on="date", how="left")
        .join(beta, on="feature_date", how="left")
        .with_columns(pl.col("beta").fill_null(h.beta_prior), pl.col("vvix").fill_null(100.0 * h.default_vix_vol))
    )
    d = d.join(engine_signal(d.select("date", "vix", "vix3m", "vvix", "in_event_window", "vol_regime", "term_regime"), h), on="date", how="left")
    target = (
        monthly_contracts(vx_futures).select("date", "expiration", "settle")
        .with_columns((pl.col("expiration") - pl.col("date")).dt.total_days().cast(pl.Float64).alias("_tau"))
        .filter(pl.col("_tau") >= h.min_days_to_expiry)
        .with_columns((pl.col("_tau") - h.horizon_days).abs().alias("_dist"))
        .sort(["date", "_dist", "expiration"])
        .group_by("date", maintain_order=True)
        .first()
        .select("date", pl.col("expiration").alias("target_expiry"), pl.col("settle").alias("target_forward"))
    )
    return d.join(target, on="date", how="left").sort("date").with_columns(
        pl.col("stress_loss").rolling_max(window_size=h.reference_window, min_samples=1).alias("stress_ref"),
    )


#: Per-layer loop state written on every row, so a continued run can resume it exactly.
STATE_COLUMNS = ("state_blocked_expiry", "state_armed", "state_off_count", "state_last_vxth_expiry")


def hedge_layers(
    book: pl.DataFrame, features_asof: pl.DataFrame, vx_futures: pl.DataFrame, config: StrategyConfig,
    carry: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """ALVH positions, trades, marks and daily P&L per session per layer.

    Parameters
    ----------
    book : ``date, stress_loss`` (dollars, >= 0, the condor book's loss in the stress
        scenario, :func:`book_stress_loss`; 0 when flat), one row per session.
    features_asof : market features + regimes with ``available_at`` (``vix, vix3m, vvix,
        vx_cm30, in_event_window, vol_regime, term_regime``).
    vx_futures : ``date, expiration, settle``.
    carry : optional, the stored rows of one session (one per layer) of an earlier run.
        ``book`` then also holds the warm-up sessions up to and including that session
        (for the trailing stress maximum and the engine's lookback); the loop starts after
        it from the carried positions and trigger state, and the rows of ``book``'s sessions
        up to it are not recomputed (drop them: they repeat the stored ones only in part).

    Returns
    -------
    One row per session per layer: ``date, layer, on`` (a position is held after the close),
    ``event`` (open / hold / resize / roll / monetize / close / none), ``why``, ``instrument,
    expiry, strike, short_strike, forward, vvix, vol, years, price, delta, gamma, vega,
    theta`` (per unit, VIX points, of the position held after the close), ``contracts,
    traded, entry_price, stress_loss, covered_loss`` (dollars the position pays in the
    scenario), ``stale_mark``, and the session's ``pnl, costs, attr_delta, attr_gamma,
    attr_theta, attr_vega, attr_residual`` in dollars (the residual is ``pnl`` minus the four) (``pnl = 100 n_{t-1} (P_t(held) - P_{t-1}) - costs``),
    and the layer's trigger state after the close (:data:`STATE_COLUMNS`; day numbers since
    1970-01-01, -1 for none).
    """
    h: HedgeConfig = config.hedge
    fill = config.fill
    rate = config.backtest.cash_rate
    equity = config.backtest.initial_equity
    d = _daily_inputs(book, features_asof, vx_futures, config)
    n = d.height
    dates = d["date"].to_numpy().astype("datetime64[D]")
    day_no = dates.astype(np.int64)
    vix = d["vix"].fill_null(np.nan).to_numpy().astype(float)
    vvix = d["vvix"].to_numpy().astype(float)
    beta = d["beta"].to_numpy().astype(float)
    stress = d["stress_loss"].to_numpy().astype(float)
    stress_ref = d["stress_ref"].to_numpy().astype(float)
    sig = d["engine_on"].fill_null(False).to_numpy()
    sig_why = d["engine_why"].fill_null("").to_list()
    t_exp = d["target_expiry"].to_numpy().astype("datetime64[D]")
    t_exp_no = np.where(np.isnat(t_exp), -1, t_exp.astype(np.int64))
    t_fwd = d["target_forward"].fill_null(np.nan).to_numpy().astype(float)
    t_years = np.where(t_exp_no >= 0, (t_exp_no - day_no) / 365.0, np.nan)
    # the entry instrument of each session (vectorized): strikes, price and scenario gain
    with np.errstate(invalid="ignore"):
        k1 = vix_call_strike(t_fwd, t_years, vvix, rate, h.call_delta)
        k2 = vix_call_strike(t_fwd, t_years, vvix, rate, h.spread_short_delta)
    k2 = np.where(k2 > k1, k2, k1 + 0.5)
    shock_f = t_fwd + beta * h.stress_vix_move
    shock_v = vvix + h.stress_vvix_move

    def unit(f, k, t, v):
        return price_vix_options(f, k, t, v, rate)["price"]

    with np.errstate(invalid="ignore"):
        call_p = unit(t_fwd, k1, t_years, vvix)
        call_gain = unit(shock_f, k1, t_years, shock_v) - call_p
        spread_p = call_p - unit(t_fwd, k2, t_years, vvix)
        spread_gain = call_gain - (unit(shock_f, k2, t_years, shock_v) - unit(t_fwd, k2, t_years, vvix))
    vx = {(int(a), int(b)): float(s) for a, b, s in zip(
        vx_futures["date"].to_numpy().astype("datetime64[D]").astype(np.int64),
        vx_futures["expiration"].to_numpy().astype("datetime64[D]").astype(np.int64),
        vx_futures["settle"].to_numpy(), strict=True)}
    cost_per = 100.0 * fill.vix_half_spread + fill.commission_per_contract
    vxth_w = vxth_weight(t_fwd, h)
    stress_l, stress_ref_l, vix_l, vvix_l, beta_l = (a.tolist() for a in (stress, stress_ref, vix, vvix, beta))
    day_l, texp_l, tfwd_l, sig_l = day_no.tolist(), t_exp_no.tolist(), t_fwd.tolist(), sig.tolist()

    first = 0
    carried: dict[str, dict] = {}
    if carry is not None and carry.height:
        cdate = carry["date"].max()
        if (d["date"] == cdate).sum() != 1:
            raise ValueError(f"hedge carry dated {cdate}: the book must include that session")
        first = int(np.searchsorted(dates, np.datetime64(cdate, "D"))) + 1
        carried = {r["layer"]: r for r in carry.filter(pl.col("date") == cdate).iter_rows(named=True)}
        if set(carried) != set(LAYERS):
            raise ValueError(f"hedge carry needs one row per layer {LAYERS}, got {sorted(carried)}")
    state_cols = ("blocked", "armed", "off", "last_vxth")

    frames = []
    for layer in LAYERS:
        spread = layer == "second_engine" and h.engine_instrument == "call_spread"
        legs = 2.0 if spread else 1.0
        cols = {c: np.full(n, np.nan) for c in ("strike", "short_strike", "forward", "years", "price", "contracts",
                                                  "traded", "entry_price", "covered_loss", "pnl", "costs", "expiry_no", "mark_forward")}
        on = np.zeros(n, dtype=bool)
        stale = np.zeros(n, dtype=bool)
        event = ["none"] * n
        why = [""] * n
        held = False
        K1 = K2 = E = F_last = entry = covered = 0.0
        nc = 0.0
        price_prev = 0.0
        blocked_expiry = -1  # base/vxth: out until the target expiry differs from this one
        armed = True  # engine: re-armed when its signal is off
        off_count = 0
        last_vxth_expiry = -1
        st = {c: np.full(n, -1, dtype=np.int64) for c in state_cols}
        if first:
            c = carried[layer]
            held, nc = bool(c["on"]), float(c["contracts"])
            nan = lambda v: math.nan if v is None else float(v)  # noqa: E731
            K1, K2, F_last = nan(c["strike"]), nan(c["short_strike"]), nan(c["forward"])
            E = float(np.datetime64(c["expiry"], "D").astype(np.int64)) if c["expiry"] is not None else 0.0
            entry, covered, price_prev = float(c["entry_price"]), float(c["covered_loss"]), nan(c["price"])
            blocked_expiry, armed = int(c["state_blocked_expiry"]), bool(c["state_armed"])
            off_count, last_vxth_expiry = int(c["state_off_count"]), int(c["state_last_vxth_expiry"])
            # the carried session's row: the position held overnight into the first new session
            j = first - 1
            if held:
                cols["strike"][j], cols["short_strike"][j], cols["expiry_no"][j] = K1, K2, E
                cols["forward"][j], cols["years"][j], cols["price"][j] = F_last, (E - day_l[j]) / 365.0, price_prev
                cols["contracts"][j] = nc
                on[j] = True
        for i in range(first, n):
            pnl = 0.0
            traded = 0.0
            ev = "none"
            text = ""
            mark = math.nan
            if held:
                f = vx.get((int(day_l[i]), int(E)))
                if f is None:
                    f = F_last
                    stale[i] = True
                F_last = f
                cols["mark_forward"][i] = f
                t_left = (E - day_l[i]) / 365.0
                mark = _scalar_price(f, K1, K2 if spread else math.nan, max(t_left, 1.0 / 365.0), vvix_l[i], rate)
                pnl = 100.0 * nc * (mark - price_prev)
                price_prev = mark
                ev = "hold"
                roll = (E - day_l[i]) < h.min_days_to_expiry
                monetize = (h.monetize_multiple is not None and mark >= h.monetize_multiple * entry) or (
                    math.isfinite(vix_l[i]) and vix_l[i] >= h.monetize_vix and mark > entry)
                if layer == "second_engine":
                    off_count = 0 if sig_l[i] else off_count + 1
                stop = layer == "second_engine" and off_count >= h.engine_off_days
                if monetize or roll or stop:
                    traded += nc
                    ev = "monetize" if monetize else ("roll" if roll else "close")
                    text = (f"mark {mark:.2f} vs paid {entry:.2f}, VIX {vix_l[i]:.1f}" if monetize
                            else f"{int(E - day_l[i])} days left" if roll else f"signal off {off_count} sessions")
                    if monetize and layer != "second_engine":
                        blocked_expiry = int(texp_l[i])
                    held, nc = False, 0.0
            if not sig_l[i]:
                armed = True
            # decide what the layer wants after the close
            gain = spread_gain[i] if spread else call_gain[i]
            unit_p = spread_p[i] if spread else call_p[i]
            can = texp_l[i] >= 0 and math.isfinite(tfwd_l[i]) and math.isfinite(unit_p) and unit_p >= VIX_TICK
            covers = math.isfinite(gain) and gain >= VIX_TICK  # sizing on the scenario gain needs one
            want = 0.0
            reason = ""
            if layer == "base":
                if held:
                    target_cover = h.base_fraction * stress_l[i]
                    if target_cover < (1.0 - h.resize_band) * covered or target_cover > (1.0 + h.resize_band) * covered:
                        gnow = _scalar_price(F_last + beta_l[i] * h.stress_vix_move, K1, math.nan, max((E - day_l[i]) / 365.0, 1 / 365), shock_v[i], rate) - mark
                        new = float(np.round(target_cover / (100.0 * gnow))) if gnow >= VIX_TICK else nc
                        if new != nc:
                            traded += abs(new - nc)
                            ev, text = "resize", f"stress loss ${stress_l[i]:,.0f} left the band around ${covered / h.base_fraction:,.0f}"
                            entry = (entry * nc + mark * max(new - nc, 0.0)) / max(new, 1.0) if new > nc else entry
                            nc = new
                            covered = nc * 100.0 * gnow
                            held = nc > 0
                elif can and covers and stress_l[i] > 0 and blocked_expiry != texp_l[i]:
                    want = float(np.round(h.base_fraction * stress_l[i] / (100.0 * gain)))
                    reason = f"covers {h.base_fraction:.0%} of stress loss ${stress_l[i]:,.0f} (SPX {h.stress_spx_move:+.0%}, VIX {h.stress_vix_move:+.0f})"
            elif layer == "vxth":
                if not held and can and texp_l[i] != last_vxth_expiry and blocked_expiry != texp_l[i]:
                    w = vxth_w[i]
                    last_vxth_expiry = int(texp_l[i])
                    if w > 0:
                        want = float(np.floor(w * equity / (100.0 * unit_p)))
                        reason = f"VXTH weight {w:.2%} of equity at VX {tfwd_l[i]:.2f}"
            else:  # second_engine
                if not held and sig_l[i] and (armed or ev == "roll") and can and covers:
                    ref = max(stress_l[i], stress_ref_l[i], h.engine_floor_equity_fraction * equity)
                    want = float(np.round(h.engine_fraction * ref / (100.0 * gain)))
                    reason = f"signal: {sig_why[i]}; covers {h.engine_fraction:.0%} of ${ref:,.0f}"
                    armed = False
                    off_count = 0
            if want > 0:
                held, nc = True, want
                K1, K2, E = float(k1[i]), float(k2[i]) if spread else math.nan, float(texp_l[i])
                F_last = float(tfwd_l[i])
                entry = mark = price_prev = float(unit_p)
                covered = nc * 100.0 * gain
                traded += nc
                ev = "open" if ev in ("none", "hold") else ev + "+open"
                text = reason if not text else text + "; " + reason
            if held:
                price_prev = mark if math.isfinite(mark) else price_prev
                cols["strike"][i], cols["short_strike"][i], cols["expiry_no"][i] = K1, K2, E
                cols["forward"][i], cols["years"][i], cols["price"][i] = F_last, (E - day_l[i]) / 365.0, price_prev
                cols["contracts"][i], cols["entry_price"][i], cols["covered_loss"][i] = nc, entry, covered
                on[i] = True
            costs = traded * legs * cost_per
            cols["traded"][i], cols["costs"][i], cols["pnl"][i] = traded, costs, pnl - costs
            st["blocked"][i], st["armed"][i], st["off"][i], st["last_vxth"][i] = blocked_expiry, armed, off_count, last_vxth_expiry
            event[i], why[i] = ev, text or (f"holding {int(nc)} x {K1:g} expiring in {int(E - day_l[i])} days" if held else "")
        frame = _layer_frame(d, layer, spread, on, stale, event, why, cols, vvix, rate).with_columns(
            pl.Series("state_blocked_expiry", st["blocked"]), pl.Series("state_armed", st["armed"] == 1),
            pl.Series("state_off_count", st["off"]), pl.Series("state_last_vxth_expiry", st["last_vxth"]),
        )
        frames.append(frame)
    return pl.concat(frames).sort(["date", "layer"])


def _layer_frame(d, layer, spread, on, stale, event, why, cols, vvix, rate) -> pl.DataFrame:
    """Greeks of the held position and the Taylor attribution of each session's P&L."""
    f, k, ks, t = cols["forward"], cols["strike"], cols["short_strike"], cols["years"]
    tt = np.maximum(np.nan_to_num(t, nan=1.0), 1.0 / 365.0)
    ff, kk = np.nan_to_num(f, nan=1.0), np.nan_to_num(k, nan=1.0)
    with np.errstate(invalid="ignore"):
        g = price_vix_options(ff, kk, tt, vvix, rate)
        if spread:
            g2 = price_vix_options(ff, np.nan_to_num(ks, nan=1.0), tt, vvix, rate)
            g = {x: g[x] - g2[x] if x != "vol" else g[x] for x in g}
    greeks = {x: np.where(on, g[x], np.nan) for x in ("delta", "gamma", "vega", "theta", "vol")}
    frame = d.select("date", "vvix", "stress_loss").with_columns(
        pl.lit(layer).alias("layer"),
        pl.Series("on", on),
        pl.Series("event", event),
        pl.Series("why", why),
        pl.lit("call_spread" if spread else "call").alias("instrument"),
        pl.Series("expiry", np.where(np.isfinite(cols["expiry_no"]), cols["expiry_no"], 0).astype("datetime64[D]")),
        *[pl.Series(c, cols[c]).fill_nan(None) for c in ("strike", "short_strike", "forward", "years", "price")],
        *[pl.Series(c, greeks[c]).fill_nan(None) for c in ("vol", "delta", "gamma", "vega", "theta")],
        pl.Series("contracts", np.nan_to_num(cols["contracts"], nan=0.0)),
        *[pl.Series(c, np.nan_to_num(cols[c], nan=0.0)) for c in ("traded", "entry_price", "covered_loss", "pnl", "costs")],
        pl.Series("stale_mark", stale),
    ).with_columns(pl.when(pl.col("on")).then(pl.col("expiry")).alias("expiry"))
    # the position held overnight, marked today before any trade: its future and smile vol
    mf = cols["mark_forward"]
    pk, pt = np.r_[np.nan, k[:-1]], np.r_[np.nan, t[:-1]]
    days_gap = np.r_[0.0, np.diff(d["date"].to_numpy().astype("datetime64[D]").astype(np.int64))].astype(float)
    with np.errstate(invalid="ignore"):
        mark_vol = vix_option_vol(np.nan_to_num(pk, nan=1.0), np.nan_to_num(mf, nan=1.0), np.maximum(np.nan_to_num(pt, nan=1.0) - days_gap / 365.0, 1.0 / 365.0), vvix)
    frame = frame.with_columns(pl.Series("_mf", mf).fill_nan(None), pl.Series("_mv", np.where(np.isfinite(mf), mark_vol, np.nan)).fill_nan(None))
    prev = lambda c: pl.col(c).shift(1)  # noqa: E731
    mult = 100.0 * prev("contracts").fill_null(0.0)
    same = prev("on").fill_null(False) & pl.col("_mf").is_not_null()
    d_f = (pl.col("_mf") - prev("forward"))
    d_days = (pl.col("date") - prev("date")).dt.total_days().cast(pl.Float64)
    d_vol = (pl.col("_mv") - prev("vol"))
    # Taylor terms of the position held overnight (zero when nothing was held or it was sold today)
    return frame.with_columns(
        pl.when(same).then(mult * prev("delta") * d_f).otherwise(0.0).fill_null(0.0).alias("attr_delta"),
        pl.when(same).then(mult * 0.5 * prev("gamma") * d_f ** 2).otherwise(0.0).fill_null(0.0).alias("attr_gamma"),
        pl.when(same).then(mult * prev("theta") * d_days).otherwise(0.0).fill_null(0.0).alias("attr_theta"),
        pl.when(same).then(mult * prev("vega") * d_vol).otherwise(0.0).fill_null(0.0).alias("attr_vega"),
    ).with_columns(
        # what the Taylor terms leave: costs, jumps beyond second order, rolls and monetizations
        (pl.col("pnl") - pl.sum_horizontal(*ATTR)).alias("attr_residual"),
    ).drop("_mf", "_mv")


def hedge_pnl(layers: pl.DataFrame, config: StrategyConfig | None = None) -> pl.DataFrame:
    """Daily P&L of each ALVH layer with its Greek attribution: ``date, layer, pnl, costs,
    attr_delta, attr_gamma, attr_theta, attr_vega`` (dollars; see :func:`hedge_layers`)."""
    return layers.select("date", "layer", "pnl", "costs", *ATTR)
