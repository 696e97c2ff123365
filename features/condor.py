"""Daily short iron-condor entry decisions on SPX options.

One row per trading day says ``enter`` or ``skip`` and why.  An entry sells an out-of-the-money
put and call at the expiration nearest the target days to expiry and buys wings a fixed
number of strike points further out:

    long put  Klp = Ksp - w  <  short put Ksp  <  F  <  short call Ksc  <  long call Klc = Ksc + w

Conventions: prices, strikes, credits and losses in index points per one condor (one contract
of each leg); dollars are points x 100 (the SPX multiplier); days are calendar days; volatility
is an annualized decimal; ``years`` is ACT/365.

Point in time: the decision for session ``t`` is taken at its decision instant (16:15
America/New_York, :func:`features.point_in_time.decision_time`) on that session's end-of-day
chain and the market-feature row known at that instant, revision by revision
(:func:`features.point_in_time.features_at_sessions`); a revision published later, even the
same evening, is not seen.  The fills of the management module happen at the
same end-of-day quotes the decision saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl
from scipy.special import ndtr

from features.black76 import black76_price
from features.point_in_time import eod_rows_known_at_sessions, features_at_sessions
from features.strategy_config import CondorConfig, StrategyConfig

__all__ = ["condor_decisions", "eod_quotes", "select_condor_legs", "valid_quotes"]

LEGS = ("sp", "lp", "sc", "lc")  # short put, long put, short call, long call
LEG_FIELDS = ("strike", "bid", "ask", "mid", "iv", "delta", "gamma", "vega", "theta")
FEATURE_COLUMNS = (
    "close", "rsi_14", "macd", "macd_signal", "macd_hist", "vix", "vix3m", "vvix", "vrp_vol",
    "ts_vix_vix3m", "vx_cm30", "in_event_window", "regime", "vol_regime", "term_regime",
    "regime_changed",
)


def _condor_cfg(config: CondorConfig | StrategyConfig) -> CondorConfig:
    return config.condor if isinstance(config, StrategyConfig) else config


def eod_quotes(option_features: pl.DataFrame) -> pl.DataFrame:
    """The end-of-day option rows known at each session's decision instant (see
    :func:`features.point_in_time.eod_rows_known_at_sessions`, the one point-in-time read
    of option chains)."""
    return eod_rows_known_at_sessions(option_features)


def valid_quotes(option_features: pl.DataFrame) -> pl.DataFrame:
    """Rows with a usable two-sided quote: ``bid > 0`` and ``ask > bid``."""
    return option_features.filter((pl.col("bid") > 0) & (pl.col("ask") > pl.col("bid")))


def _leg_frame(chain: pl.DataFrame, prefix: str) -> pl.DataFrame:
    return chain.select(
        "quote_date", *[pl.col(c).alias(f"{prefix}_{c}") for c in LEG_FIELDS]
    )


def select_condor_legs(option_features: pl.DataFrame, config: CondorConfig | StrategyConfig) -> pl.DataFrame:
    """Pick the expiration and the four strikes for every quote date (vectorized over days).

    Expiration: among ``config.roots`` expirations with ``min_dte <= days_to_expiry <= max_dte``
    that have valid quotes, the one nearest ``target_dte`` (ties: order of ``roots``, then the
    earlier date).  Short strikes: with ``strike_method="delta"`` the OTM put (strike below
    the forward) and OTM call (strike above) whose ``|delta|`` is nearest ``short_delta``
    (ties to the further OTM strike); with ``"expected_move"`` the strikes nearest
    ``F (1 -/+ m sigma_ATM sqrt T)``, ``sigma_ATM`` the mean put/call IV at the strike nearest
    ``F``.  Wings: exactly ``short -/+ wing_width``, which must have a valid quote.

    Returns
    -------
    pl.DataFrame
        One row per quote date that has an eligible expiration: ``date, root, expiration,
        settlement, dte, years_to_expiry, underlying_price, forward, discount_factor`` and for
        each leg ``{sp,lp,sc,lc}_{strike,bid,ask,mid,iv,delta,gamma,vega,theta}`` (null when the
        leg is missing).
    """
    cfg = _condor_cfg(config)
    valid = valid_quotes(eod_quotes(option_features)).filter(pl.col("root").is_in(list(cfg.roots)))
    root_rank = pl.col("root").replace_strict(
        {r: i for i, r in enumerate(cfg.roots)}, default=len(cfg.roots), return_dtype=pl.Int64
    )
    expiries = (
        valid.group_by("quote_date", "root", "expiration")
        .agg(
            pl.col("days_to_expiry").first().alias("dte"),
            pl.col("settlement").first(),
            pl.col("years_to_expiry").first(),
            pl.col("underlying_price").first(),
            pl.col("forward").first(),
            pl.col("discount_factor").first(),
        )
        .filter(pl.col("dte").is_between(cfg.min_dte, cfg.max_dte))
        .with_columns((pl.col("dte") - cfg.target_dte).abs().alias("_dist"), root_rank.alias("_rank"))
        .sort(["quote_date", "_dist", "_rank", "expiration"])
        .group_by("quote_date", maintain_order=True)
        .first()
        .drop("_dist", "_rank")
    )
    chain = valid.join(expiries.select("quote_date", "root", "expiration"), on=["quote_date", "root", "expiration"])
    puts = chain.filter(pl.col("option_type") == "P")
    calls = chain.filter(pl.col("option_type") == "C")

    if cfg.strike_method == "delta":
        put_score = (pl.col("delta").abs() - cfg.short_delta).abs()
        call_score = put_score
    elif cfg.strike_method == "expected_move":
        atm = (
            chain.with_columns((pl.col("strike") - pl.col("forward")).abs().alias("_d"))
            .filter(pl.col("_d") == pl.col("_d").min().over("quote_date"))
            .group_by("quote_date")
            .agg(pl.col("iv").mean().alias("_atm_iv"))
        )
        move = pl.col("forward") * cfg.expected_move_multiple * pl.col("_atm_iv") * pl.col("years_to_expiry").sqrt()
        puts = puts.join(atm, on="quote_date")
        calls = calls.join(atm, on="quote_date")
        put_score = (pl.col("strike") - (pl.col("forward") - move)).abs()
        call_score = (pl.col("strike") - (pl.col("forward") + move)).abs()
    else:
        raise ValueError(f"unknown strike_method {cfg.strike_method!r}")

    short_put = (
        puts.filter(pl.col("strike") < pl.col("forward"))
        .with_columns(put_score.alias("_s"))
        .sort(["quote_date", "_s", "strike"])
        .group_by("quote_date", maintain_order=True)
        .first()
    )
    short_call = (
        calls.filter(pl.col("strike") > pl.col("forward"))
        .with_columns(call_score.alias("_s"))
        .sort(["quote_date", "_s", pl.col("strike")], descending=[False, False, True])
        .group_by("quote_date", maintain_order=True)
        .first()
    )
    # strikes are joined on an integer key (1/1000 point) so float noise cannot drop a wing
    w = cfg.wing_width

    def k(expr: pl.Expr, name: str) -> pl.Expr:
        return (expr * 1000).round().cast(pl.Int64).alias(name)

    sp = _leg_frame(short_put, "sp").with_columns(k(pl.col("sp_strike"), "_kp"))
    sc = _leg_frame(short_call, "sc").with_columns(k(pl.col("sc_strike"), "_kc"))
    lp = _leg_frame(puts, "lp").with_columns(k(pl.col("lp_strike") + w, "_kp"))
    lc = _leg_frame(calls, "lc").with_columns(k(pl.col("lc_strike") - w, "_kc"))

    out = (
        expiries.rename({"quote_date": "date"})
        .join(sp.rename({"quote_date": "date"}), on="date", how="left")
        .join(sc.rename({"quote_date": "date"}), on="date", how="left")
        .join(lp.rename({"quote_date": "date"}), on=["date", "_kp"], how="left")
        .join(lc.rename({"quote_date": "date"}), on=["date", "_kc"], how="left")
        .drop("_kp", "_kc")
        .sort("date")
    )
    return out


def _pop_and_ev(d: pl.DataFrame) -> pl.DataFrame:
    """Risk-neutral probability of profit and expected value at expiry (see condor_decisions)."""
    n = d.height
    f = d["forward"].to_numpy().astype(float) if n else np.array([])
    t = d["years_to_expiry"].to_numpy().astype(float)
    disc = d["discount_factor"].to_numpy().astype(float)
    be_p = d["breakeven_put"].to_numpy().astype(float)
    be_c = d["breakeven_call"].to_numpy().astype(float)
    iv_p = d["sp_iv"].to_numpy().astype(float)
    iv_c = d["sc_iv"].to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        sp = iv_p * np.sqrt(t)
        sc = iv_c * np.sqrt(t)
        # P(S_T < K) = N(-d2), P(S_T > K) = N(d2), d2 = ln(F/K)/s - s/2 under the forward measure
        p_below = ndtr(-(np.log(f / be_p) / sp - 0.5 * sp))
        p_above = ndtr(np.log(f / be_c) / sc - 0.5 * sc)
    pop = 1.0 - p_below - p_above
    ok = np.isfinite(f) & np.isfinite(t) & np.isfinite(iv_p) & np.isfinite(iv_c) & (t > 0)
    ev = np.full(n, np.nan)
    if ok.any():
        fo, to, do = f[ok], t[ok], disc[ok]
        calls = np.ones(ok.sum(), dtype=bool)
        put_spread = black76_price(fo, d["sp_strike"].to_numpy()[ok], to, iv_p[ok], do, ~calls) - black76_price(
            fo, d["lp_strike"].to_numpy()[ok], to, iv_p[ok], do, ~calls
        )
        call_spread = black76_price(fo, d["sc_strike"].to_numpy()[ok], to, iv_c[ok], do, calls) - black76_price(
            fo, d["lc_strike"].to_numpy()[ok], to, iv_c[ok], do, calls
        )
        ev[ok] = d["mid_credit"].to_numpy()[ok] - put_spread - call_spread
    pop = np.where(ok, pop, np.nan)
    return d.with_columns(
        pl.Series("pop", pop, dtype=pl.Float64).fill_nan(None),
        pl.Series("expected_value", ev, dtype=pl.Float64).fill_nan(None),
    )


def _rule(passed: pl.Expr, text_pass: pl.Expr, text_fail: pl.Expr, missing: str) -> pl.Expr:
    return pl.when(passed.is_null()).then(pl.lit(missing)).when(passed).then(text_pass).otherwise(text_fail)


def condor_decisions(
    option_features: pl.DataFrame,
    features_asof: pl.DataFrame,
    config: CondorConfig | StrategyConfig,
    equity: float | None = None,
    entered_before: Sequence[date] = (),
) -> pl.DataFrame:
    """Enter-or-skip decision for a short iron condor on every quote date.

    Gates (all must pass; each is reported in ``reason`` with its values):

    1. ``features``: a market-feature row is known by the session.
    2. ``regime``: ``vol_regime`` not in ``blocked_vol_regimes`` and ``term_regime`` not in
       ``blocked_term_regimes`` (default: no entry when stressed or backwardated).
    3. ``event``: not ``in_event_window`` (FOMC/CPI/PPI), if ``block_event_windows``.
    4. ``vrp``: ``vrp_vol > min_vrp_vol`` (implied rich to realized).
    5. ``trend``: ``rsi_low <= rsi_14 <= rsi_high`` (and ``|macd_hist| <= max_abs_macd_hist``
       if ``use_macd_filter``).
    6. ``legs``: an expiration in range and all four strikes quoted two-sided.
    7. ``credit``: mid credit > 0 and credit / widest wing >= ``min_credit_to_width``.
    8. ``size``: the risk budget buys at least one contract.
    9. ``frequency``: first eligible session of its week/month (``entry_frequency``).

    Quantities (index points per condor unless stated):

    * ``mid_credit = sp_mid + sc_mid - lp_mid - lc_mid``; ``natural_credit = sp_bid + sc_bid -
      lp_ask - lc_ask`` (what crossing every spread would get);
    * ``max_loss = max(put_width, call_width) - mid_credit``; ``max_loss_dollars = 100 x`` that;
    * ``breakeven_put = Ksp - mid_credit``, ``breakeven_call = Ksc + mid_credit``;
    * ``credit_to_width = mid_credit / max(width)``;
    * ``pop``: risk-neutral probability that the index settles between the breakevens,
      Black-76 digitals ``1 - N(-d2(BE_put, iv_sp)) - N(d2(BE_call, iv_sc))`` with
      ``d2 = ln(F/K)/(sigma sqrt T) - sigma sqrt T / 2`` and each side's short-leg IV (the IV
      nearest its breakeven; the smile between strike and breakeven is ignored);
    * ``expected_value``: ``mid_credit`` minus the present value of the two spreads' payoffs
      under a lognormal with each side's short-leg IV for both of its strikes; it measures
      what the skew between short and long strikes is worth to the seller (0 with a flat
      smile, negative when the wings are cheap relative to the short strike's vol);
    * ``contracts = floor(risk_fraction * equity / max_loss_dollars)``.

    Parameters
    ----------
    option_features : pl.DataFrame
        Per-contract end-of-day features (see module docstring of the option features).
    features_asof : pl.DataFrame
        Market features + regimes with ``date`` and ``available_at``.
    config : CondorConfig or StrategyConfig
    equity : float, optional
        Sizing equity in dollars; defaults to ``config.equity``.
    entered_before : sequence of date
        Entries made before the first quote date (a run continued from stored state): a
        week or month that already holds one takes no further entry.

    Returns
    -------
    pl.DataFrame
        One row per quote date: ``date, action, reason``, the feature values, and the leg /
        credit / risk columns (null on days without a selectable condor).
    """
    cfg = _condor_cfg(config)
    eq = cfg.equity if equity is None else float(equity)
    option_features = eod_quotes(option_features)
    days = option_features.select(pl.col("quote_date").unique().alias("date")).sort("date")
    feats = features_at_sessions(features_asof, days)
    keep = ["date", "feature_date", *[c for c in FEATURE_COLUMNS if c in feats.columns]]
    feats = feats.select(keep)
    for c in ("vol_regime", "term_regime", "regime"):
        if c not in feats.columns:
            feats = feats.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    for c in ("vrp_vol", "rsi_14", "macd_hist"):
        if c not in feats.columns:
            feats = feats.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
    if "in_event_window" not in feats.columns:
        feats = feats.with_columns(pl.lit(None, dtype=pl.Boolean).alias("in_event_window"))

    legs = select_condor_legs(option_features, cfg)
    d = days.join(feats, on="date", how="left").join(legs, on="date", how="left")

    put_w = pl.col("sp_strike") - pl.col("lp_strike")
    call_w = pl.col("lc_strike") - pl.col("sc_strike")
    d = d.with_columns(
        put_w.alias("put_width"),
        call_w.alias("call_width"),
        (pl.col("sp_mid") + pl.col("sc_mid") - pl.col("lp_mid") - pl.col("lc_mid")).alias("mid_credit"),
        (pl.col("sp_bid") + pl.col("sc_bid") - pl.col("lp_ask") - pl.col("lc_ask")).alias("natural_credit"),
    ).with_columns(
        (pl.max_horizontal("put_width", "call_width") - pl.col("mid_credit")).alias("max_loss"),
        (pl.col("sp_strike") - pl.col("mid_credit")).alias("breakeven_put"),
        (pl.col("sc_strike") + pl.col("mid_credit")).alias("breakeven_call"),
        (pl.col("mid_credit") / pl.max_horizontal("put_width", "call_width")).alias("credit_to_width"),
    ).with_columns(
        (pl.col("max_loss") * 100.0).alias("max_loss_dollars"),
    ).with_columns(
        pl.when(pl.col("max_loss_dollars") > 0)
        .then((cfg.risk_fraction * eq / pl.col("max_loss_dollars")).floor())
        .otherwise(0.0)
        .cast(pl.Int64)
        .alias("contracts"),
    )
    d = _pop_and_ev(d)

    features_ok = pl.col("feature_date").is_not_null()
    regime_ok = ~pl.col("vol_regime").is_in(list(cfg.blocked_vol_regimes)) & ~pl.col("term_regime").is_in(
        list(cfg.blocked_term_regimes)
    )
    event_ok = ~pl.col("in_event_window") if cfg.block_event_windows else pl.lit(True)
    vrp_ok = pl.col("vrp_vol") > cfg.min_vrp_vol
    trend_ok = pl.col("rsi_14").is_between(cfg.rsi_low, cfg.rsi_high)
    if cfg.use_macd_filter:
        trend_ok = trend_ok & (pl.col("macd_hist").abs() <= cfg.max_abs_macd_hist)
    legs_ok = pl.all_horizontal([pl.col(f"{g}_strike").is_not_null() for g in LEGS])
    credit_ok = (pl.col("mid_credit") > 0) & (pl.col("credit_to_width") >= cfg.min_credit_to_width)
    size_ok = pl.col("contracts") >= 1

    r2 = lambda c: pl.col(c).round(2).cast(pl.String)  # noqa: E731
    reason_parts = [
        pl.when(features_ok).then(pl.format("features of {}", pl.col("feature_date").cast(pl.String)))
        .otherwise(pl.lit("FAIL features: none known")),
        _rule(regime_ok,
              pl.format("regime {}/{} ok", pl.col("vol_regime"), pl.col("term_regime")),
              pl.format("FAIL regime {}/{} blocked", pl.col("vol_regime"), pl.col("term_regime")),
              "FAIL regime: missing"),
        _rule(event_ok, pl.lit("no event window"), pl.lit("FAIL inside event window"), "FAIL event window: missing"),
        _rule(vrp_ok,
              pl.format("vrp_vol {} > {}", r2("vrp_vol"), pl.lit(str(cfg.min_vrp_vol))),
              pl.format("FAIL vrp_vol {} <= {}", r2("vrp_vol"), pl.lit(str(cfg.min_vrp_vol))),
              "FAIL vrp_vol: missing"),
        _rule(trend_ok,
              pl.format("rsi {} in [{}, {}]", r2("rsi_14"), pl.lit(str(cfg.rsi_low)), pl.lit(str(cfg.rsi_high))),
              pl.format("FAIL trend: rsi {} / macd_hist {} outside bounds", r2("rsi_14"), r2("macd_hist").fill_null("na")),
              "FAIL trend: missing"),
        pl.when(legs_ok).then(
            pl.format("legs {} {} {}P/{}P {}C/{}C dte {}", pl.col("root"), pl.col("expiration").cast(pl.String),
                      r2("lp_strike"), r2("sp_strike"), r2("sc_strike"), r2("lc_strike"), r2("dte"))
        ).when(pl.col("expiration").is_null()).then(pl.lit("FAIL legs: no expiration in DTE range"))
        .otherwise(pl.format("FAIL legs: wing/short missing (sp {} lp {} sc {} lc {})",
                             r2("sp_strike").fill_null("na"), r2("lp_strike").fill_null("na"),
                             r2("sc_strike").fill_null("na"), r2("lc_strike").fill_null("na"))),
        _rule(credit_ok,
              pl.format("credit {} ({} of width)", r2("mid_credit"), pl.col("credit_to_width").round(3).cast(pl.String)),
              pl.format("FAIL credit {} ({} of width)", r2("mid_credit"), pl.col("credit_to_width").round(3).cast(pl.String)),
              "FAIL credit: no condor"),
        _rule(size_ok,
              pl.format("{} contracts", pl.col("contracts").cast(pl.String)),
              pl.format("FAIL size: budget {} < max loss {}", pl.lit(str(round(cfg.risk_fraction * eq, 2))), r2("max_loss_dollars").fill_null("n/a")),
              "FAIL size: no condor"),
    ]
    eligible = (features_ok & regime_ok & event_ok & vrp_ok & trend_ok & legs_ok & credit_ok & size_ok).fill_null(False)
    if cfg.entry_frequency == "daily":
        period = pl.col("date")
    elif cfg.entry_frequency == "weekly":
        period = pl.col("date").dt.truncate("1w")
    elif cfg.entry_frequency == "monthly":
        period = pl.col("date").dt.truncate("1mo")
    else:
        raise ValueError(f"unknown entry_frequency {cfg.entry_frequency!r}")
    d = d.with_columns(eligible.alias("_elig"), period.alias("_period"))
    before = pl.DataFrame({"date": pl.Series(list(entered_before), dtype=pl.Date)}).select(period.alias("_p"))
    d = d.with_columns(
        (pl.col("_elig").cast(pl.Int64).cum_sum().over("_period", order_by="date")
         + pl.col("_period").is_in(before["_p"].implode()).cast(pl.Int64)).alias("_nth")
    ).with_columns(
        (pl.col("_elig") & (pl.col("_nth") == 1)).alias("_enter"),
    )
    freq_part = (
        pl.when(pl.col("_elig") & (pl.col("_nth") > 1))
        .then(pl.lit(f"FAIL frequency: already entered this {cfg.entry_frequency} period"))
        .otherwise(pl.lit(f"first eligible of {cfg.entry_frequency} period"))
    )
    d = d.with_columns(
        pl.when(pl.col("_enter")).then(pl.lit("enter")).otherwise(pl.lit("skip")).alias("action"),
        pl.concat_str([p.fill_null("(n/a)") for p in [*reason_parts, freq_part]], separator="; ").alias("reason"),
    ).drop("_elig", "_period", "_nth", "_enter")
    front = ["date", "action", "reason"]
    return d.select(*front, *[c for c in d.columns if c not in front])
