"""A constant-product AMM pool of SPX against cash, beside the hedged iron-condor book.

Question answered (issue #14): is a (hedged) short iron condor "the same thing" as a
liquidity provider's impermanent loss?  Both are short convexity paid for by a carry
(premium for the condor, fees for the pool); this module puts the two side by side on
the same SPX path with numbers.

The pool (Uniswap v2 style, no fees inside the pool's accounting):

* reserves ``x`` (SPX units: dollars per index point) and ``y`` (cash, dollars) with
  ``x y = k``; arbitrageurs keep the pool's price ``y / x`` equal to the index ``S``
  (index points) at every observation, hence ``x = sqrt(k / S)``, ``y = sqrt(k S)`` and
  the pool value ``V = x S + y = 2 sqrt(k S)`` (dollars);
* deposited at the first session with capital ``V_0`` split half and half:
  ``x_0 = V_0 / (2 S_0)``, ``y_0 = V_0 / 2``, ``k = x_0 y_0``;
* holding the initial deposit instead is worth ``H = x_0 S + y_0 = V_0 (1 + r) / 2`` with
  ``r = S / S_0``; impermanent loss ``IL = V / H - 1 = 2 sqrt(r) / (1 + r) - 1 <= 0``, so
  ``V - H = -(V_0 / 2) (sqrt(r) - 1)^2`` dollars;
* the pool's greeks: delta ``dV/dS = x`` (half the value in SPX), gamma
  ``d2V/dS2 = -V / (4 S^2)``, so its *dollar gamma* ``1/2 Gamma S^2 = -V / 8``: a move of
  return ``R`` costs ``V R^2 / 8`` against a delta hedge — the same number for every price;
* loss-versus-rebalancing (Milionis, Moallemi, Roughgarden, Zhang 2022): against the
  self-financing portfolio that holds the pool's ``x`` SPX units (rebalanced at each
  session close, the observation grid), the pool loses per step
  ``LVR_t = x_{t-1} (S_t - S_{t-1}) - (V_t - V_{t-1}) = (V_{t-1} / 2) (sqrt(S_t/S_{t-1}) - 1)^2 >= 0``,
  whose continuous-time rate is ``sigma^2 / 8`` of pool value per year.  Under driftless
  GBM the exact one-step expectation is ``E[LVR_t] = V_{t-1} (1 - exp(-sigma^2 dt / 8))``.
* the fee income that breaks even against LVR, from realized variance:
  ``fee*_t = V_{t-1} (ln S_t/S_{t-1})^2 / 8`` dollars; over a period the breakeven fee
  yield on pool value is ``sigma_realized^2 / 8`` per year.

The condor book (from the backtest, :mod:`features.backtest`): ``attr_gamma`` is the daily
``1/2 Gamma dS^2`` of the legs held overnight (short convexity, paid by ``attr_theta``),
``attr_vega`` the implied-vol term, the hedge layers' P&L and greek terms are the
``alvh_hedged`` minus ``unhedged`` rows.  Its dollar gamma ``1/2 net_gamma S^2`` and theta
give the *breakeven volatility* ``sigma_be = sqrt(365 theta_day / (-1/2 Gamma S^2))``: the
realized vol (ACT/365) at which theta exactly pays the gamma bleed — for one option under
Black–Scholes with zero rates this is its implied vol.  A pool whose fee yield is ``f``
per year has breakeven vol ``sqrt(8 f)`` by the same bookkeeping.

Units: prices in index points; dollars for values and P&L; vol as a decimal, annualized
ACT/365 (calendar days, the options' clock); returns are log returns between sessions.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = [
    "impermanent_loss",
    "lvr_step_expectation",
    "constant_product_pool",
    "condor_decomposition",
    "amm_vs_condor_daily",
    "condor_payoff",
    "payoff_curves",
    "payoff_metrics",
    "comparison_summary",
    "HEDGE_LAYERS_PREFIX",
]

FloatArray = npt.NDArray[np.float64]
#: Column prefix of the per-layer hedge P&L in ``backtest_daily``.
HEDGE_LAYERS_PREFIX = "hedge_pnl_"
_ATTR = ("attr_delta", "attr_gamma", "attr_theta", "attr_vega")


def impermanent_loss(price_ratio: npt.ArrayLike) -> FloatArray:
    """Impermanent loss of a constant-product pool for a price ratio ``r = S_T / S_0``.

    .. math:: IL(r) = \\frac{2\\sqrt{r}}{1 + r} - 1 \\le 0

    A fraction of the value of holding the deposit (``IL = V/H - 1``); 0 at ``r = 1``,
    about ``-(ln r)^2 / 8`` near it, and ``-1`` as ``r -> 0`` or ``r -> inf``.

    Raises
    ------
    ValueError
        When a ratio is not positive.
    """
    r = np.asarray(price_ratio, dtype=float)
    if np.any(~(r > 0)):
        raise ValueError("price ratios must be positive and finite")
    return 2.0 * np.sqrt(r) / (1.0 + r) - 1.0


def lvr_step_expectation(sigma: float, dt: float) -> float:
    """Exact expected LVR of one step, per dollar of pool value, under driftless GBM.

    With ``r = exp(-sigma^2 dt / 2 + sigma sqrt(dt) Z)``: ``E[(sqrt r - 1)^2] / 2 =
    1 - exp(-sigma^2 dt / 8)`` which is ``sigma^2 dt / 8`` to first order (``dt`` in years,
    ``sigma`` annualized).
    """
    return float(1.0 - np.exp(-(sigma**2) * dt / 8.0))


def _check_prices(prices: pl.DataFrame) -> pl.DataFrame:
    missing = {"date", "price"} - set(prices.columns)
    if missing:
        raise ValueError(f"prices need columns date, price; missing {sorted(missing)}")
    p = prices.select("date", pl.col("price").cast(pl.Float64)).sort("date")
    if p.height < 2:
        raise ValueError("the pool needs at least two sessions of prices")
    if p["date"].is_duplicated().any():
        raise ValueError("prices have duplicate dates")
    bad = p.filter(~(pl.col("price") > 0) | pl.col("price").is_null() | ~pl.col("price").is_finite())
    if bad.height:
        raise ValueError(f"prices must be positive and finite; first bad date {bad['date'][0]}")
    return p


def constant_product_pool(prices: pl.DataFrame, capital: float) -> pl.DataFrame:
    """Mark a constant-product pool of SPX against cash along a price path.

    Parameters
    ----------
    prices : pl.DataFrame
        ``date, price``: one row per session, the SPX close (index points).
    capital : float
        Dollars deposited at the first session, half in SPX and half in cash.

    Returns
    -------
    pl.DataFrame
        One row per session: ``date, price, price_ratio`` (``S/S_0``), ``log_return``
        (``ln S_t/S_{t-1}``, 0 on the first row), ``days`` (calendar days since the previous
        session), ``pool_x`` (SPX units, dollars per index point), ``pool_y`` (cash, $),
        ``pool_value`` (``2 sqrt(k S)``, $), ``hold_value`` (``x_0 S + y_0``, $),
        ``impermanent_loss`` (``V/H - 1``, fraction), ``rebalancing_value`` (the
        self-financing portfolio holding ``pool_x`` units, $), ``lvr`` (that step's
        loss-versus-rebalancing, $, >= 0), ``lvr_cum`` (= rebalancing - pool value, $),
        ``breakeven_fee`` (``V_{t-1} (ln S_t/S_{t-1})^2 / 8``, $), ``arb_volume`` (cash the
        arbitrageurs traded with the pool that step, ``|y_t - y_{t-1}|``, $),
        ``pool_dollar_gamma`` (``-V/8``, $ per unit squared return).
    """
    if not (np.isfinite(capital) and capital > 0):
        raise ValueError(f"capital must be positive, got {capital}")
    p = _check_prices(prices)
    s = p["price"].to_numpy()
    s0 = s[0]
    x0, y0 = capital / (2.0 * s0), capital / 2.0
    k = x0 * y0
    x = np.sqrt(k / s)
    y = np.sqrt(k * s)
    v = 2.0 * np.sqrt(k * s)
    hold = x0 * s + y0
    ds = np.r_[0.0, np.diff(s)]
    x_prev = np.r_[x0, x[:-1]]
    v_prev = np.r_[capital, v[:-1]]
    rebal = capital + np.cumsum(x_prev * ds)
    step = np.r_[1.0, s[1:] / s[:-1]]
    lvr = 0.5 * v_prev * (np.sqrt(step) - 1.0) ** 2
    logret = np.log(step)
    days = p.select(pl.col("date").diff().dt.total_days().fill_null(0).cast(pl.Float64))["date"].to_numpy()
    return p.with_columns(
        pl.Series("price_ratio", s / s0),
        pl.Series("log_return", logret),
        pl.Series("days", days),
        pl.Series("pool_x", x),
        pl.Series("pool_y", y),
        pl.Series("pool_value", v),
        pl.Series("hold_value", hold),
        pl.Series("impermanent_loss", v / hold - 1.0),
        pl.Series("rebalancing_value", rebal),
        pl.Series("lvr", lvr),
        pl.Series("lvr_cum", rebal - v),
        pl.Series("breakeven_fee", v_prev * logret**2 / 8.0),
        pl.Series("arb_volume", np.abs(np.r_[0.0, np.diff(y)])),
        pl.Series("pool_dollar_gamma", -v / 8.0),
    )


def condor_decomposition(backtest_daily: pl.DataFrame, positions: pl.DataFrame) -> pl.DataFrame:
    """The condor book's daily P&L split into greeks, and the hedge layers beside it.

    Parameters
    ----------
    backtest_daily : pl.DataFrame
        The backtest's daily rows (:func:`features.backtest.run_backtest`): ``strategy,
        date, condor_pnl, hedge_pnl, hedge_pnl_<layer>..., attr_delta, attr_gamma,
        attr_theta, attr_vega``.  The ``unhedged`` rows carry the condor's own attribution;
        ``alvh_hedged`` minus ``unhedged`` is the hedge's (same condors, plus the layers).
    positions : pl.DataFrame
        ``condor_positions``: ``date, held, underlying, net_delta`` ($ per index point),
        ``net_gamma`` ($ per index point^2),
        ``net_theta`` ($ per calendar day), ``net_vega`` ($ per vol point).

    Returns
    -------
    pl.DataFrame
        One row per session: ``condor_pnl, condor_delta_pnl, condor_gamma_pnl,
        condor_theta_pnl, condor_vega_pnl, condor_residual`` (the five sum to
        ``condor_pnl``; the residual holds higher-order terms, fills, commissions and
        settlement), ``hedge_pnl`` and ``hedge_pnl_<layer>``, ``hedge_gamma_pnl``,
        ``hedge_vega_pnl`` ($), and end-of-session book greeks ``condor_positions_open``,
        ``condor_dollar_gamma`` (``1/2 net_gamma S^2``, $ per unit squared return),
        ``condor_theta`` ($/day), ``condor_vega`` ($/vol point), ``condor_delta_dollars``
        (``net_delta S``: $ per unit return), ``condor_breakeven_vol``
        (``sqrt(365 theta / -dollar_gamma)`` when short gamma and positive theta, else null).
    """
    need = {"strategy", "date", "condor_pnl", *_ATTR}
    missing = need - set(backtest_daily.columns)
    if missing:
        raise ValueError(f"backtest_daily lacks {sorted(missing)}")
    un = backtest_daily.filter(pl.col("strategy") == "unhedged")
    if un.height == 0:
        raise ValueError("backtest_daily has no 'unhedged' rows: the condor's own attribution is missing")
    layers = [c for c in backtest_daily.columns if c.startswith(HEDGE_LAYERS_PREFIX)]
    base = un.select(
        "date", "condor_pnl",
        pl.col("attr_delta").alias("condor_delta_pnl"),
        pl.col("attr_gamma").alias("condor_gamma_pnl"),
        pl.col("attr_theta").alias("condor_theta_pnl"),
        pl.col("attr_vega").alias("condor_vega_pnl"),
    ).with_columns(
        (pl.col("condor_pnl") - pl.sum_horizontal("condor_delta_pnl", "condor_gamma_pnl", "condor_theta_pnl", "condor_vega_pnl"))
        .alias("condor_residual")
    )
    hedged = backtest_daily.filter(pl.col("strategy") == "alvh_hedged")
    if hedged.height:
        h = hedged.select(
            "date", "hedge_pnl", *layers, *[pl.col(c).alias(f"_h_{c}") for c in _ATTR]
        )
        base = base.join(h, on="date", how="left").join(
            un.select("date", *[pl.col(c).alias(f"_u_{c}") for c in _ATTR]), on="date", how="left"
        ).with_columns(
            (pl.col("_h_attr_gamma") - pl.col("_u_attr_gamma")).alias("hedge_gamma_pnl"),
            (pl.col("_h_attr_vega") - pl.col("_u_attr_vega")).alias("hedge_vega_pnl"),
        ).drop([f"_h_{c}" for c in _ATTR] + [f"_u_{c}" for c in _ATTR])
    else:
        base = base.with_columns(
            pl.lit(0.0).alias("hedge_pnl"), *[pl.lit(0.0).alias(c) for c in layers],
            pl.lit(0.0).alias("hedge_gamma_pnl"), pl.lit(0.0).alias("hedge_vega_pnl"),
        )
    held = positions.filter(pl.col("held")) if positions.height else positions
    if held.height:
        book = held.group_by("date").agg(
            pl.len().cast(pl.Int64).alias("condor_positions_open"),
            (0.5 * pl.col("net_gamma") * pl.col("underlying") ** 2).sum().alias("condor_dollar_gamma"),
            pl.col("net_theta").sum().alias("condor_theta"),
            pl.col("net_vega").sum().alias("condor_vega"),
            (pl.col("net_delta") * pl.col("underlying")).sum().alias("condor_delta_dollars"),
        )
    else:
        book = pl.DataFrame(schema={"date": pl.Date, "condor_positions_open": pl.Int64, "condor_dollar_gamma": pl.Float64,
                                    "condor_theta": pl.Float64, "condor_vega": pl.Float64,
                                    "condor_delta_dollars": pl.Float64})
    out = base.join(book, on="date", how="left").with_columns(
        pl.col("condor_positions_open").fill_null(0),
        *[pl.col(c).fill_null(0.0) for c in ("condor_dollar_gamma", "condor_theta", "condor_vega", "condor_delta_dollars",
                                              "hedge_pnl", *layers,
                                              "hedge_gamma_pnl", "hedge_vega_pnl")],
    ).with_columns(
        pl.when((pl.col("condor_dollar_gamma") < 0) & (pl.col("condor_theta") > 0))
        .then((365.0 * pl.col("condor_theta") / -pl.col("condor_dollar_gamma")).sqrt())
        .alias("condor_breakeven_vol"),
    )
    return out.sort("date")


def amm_vs_condor_daily(pool: pl.DataFrame, condor: pl.DataFrame, implied_vol: pl.DataFrame | None = None) -> pl.DataFrame:
    """The pool and the condor book on one row per session, with cumulative sums.

    ``pool`` from :func:`constant_product_pool`, ``condor`` from
    :func:`condor_decomposition` (sessions where the backtest has no row get zeros; a
    backtest session without a price is an error);
    ``implied_vol`` (optional): ``date, implied_vol`` (e.g. VIX / 100, decimal) kept as a
    column so the summary can set the condor's breakeven vol against it.
    Adds ``breakeven_fee_cum``, ``condor_gamma_pnl_cum``,
    ``condor_theta_pnl_cum``, ``condor_pnl_cum``, ``hedge_pnl_cum`` ($) and
    ``condor_gamma_bleed_expected`` (``-dollar_gamma_{t-1} (ln S_t/S_{t-1})^2``: the
    bleed the previous close's book greeks predict from the realized move, $).
    """
    missing = condor.join(pool.select("date"), on="date", how="anti")
    if missing.height:
        # the book's P&L on such a session would silently drop out of every comparison
        raise ValueError(f"no SPX price for {missing.height} session(s) of the condor book, first {missing['date'].min()}")
    cols = [c for c in condor.columns if c != "date"]
    d = pool.join(condor, on="date", how="left").sort("date")
    if implied_vol is not None:
        d = d.join(implied_vol.select("date", pl.col("implied_vol").cast(pl.Float64)), on="date", how="left")
    d = d.with_columns(
        *[pl.col(c).fill_null(0) for c in cols if c != "condor_breakeven_vol"],
    ).with_columns(
        (-pl.col("condor_dollar_gamma").shift(1).fill_null(0.0) * pl.col("log_return") ** 2).alias("condor_gamma_bleed_expected"),
        pl.col("breakeven_fee").cum_sum().alias("breakeven_fee_cum"),
        pl.col("condor_gamma_pnl").cum_sum().alias("condor_gamma_pnl_cum"),
        pl.col("condor_theta_pnl").cum_sum().alias("condor_theta_pnl_cum"),
        pl.col("condor_pnl").cum_sum().alias("condor_pnl_cum"),
        pl.col("hedge_pnl").cum_sum().alias("hedge_pnl_cum"),
    )
    return d


def condor_payoff(strikes: dict[str, float], credit: float, contracts: float, price: npt.ArrayLike) -> FloatArray:
    """Dollar P&L at expiry of a short iron condor for settlement prices ``price``.

    ``strikes``: ``lp, sp, sc, lc`` (long put < short put <= short call < long call, index
    points); ``credit``: the credit received per condor (points).  P&L =
    ``100 contracts (credit - (sp - S)^+ + (lp - S)^+ - (S - sc)^+ + (S - lc)^+)``; bounded
    below by ``-100 contracts (max wing - credit)``.
    """
    s = np.asarray(price, dtype=float)
    lp, sp, sc, lc = (float(strikes[k]) for k in ("lp", "sp", "sc", "lc"))
    if not (lp < sp <= sc < lc):
        raise ValueError(f"condor strikes out of order: {strikes}")
    pts = credit - np.maximum(sp - s, 0) + np.maximum(lp - s, 0) - np.maximum(s - sc, 0) + np.maximum(s - lc, 0)
    return 100.0 * contracts * pts


def payoff_curves(trade: dict, entry_dollar_gamma: float, entry_theta: float, ratios: npt.ArrayLike) -> pl.DataFrame:
    """Condor and pool P&L at the condor's expiry, against the price ratio ``r = S_T / S_entry``.

    The pool is *gamma-matched*: its value ``V_m = 8 |entry dollar gamma|`` gives it the
    condor's dollar gamma at entry (``-V_m/8``), and it earns fees at the condor's entry
    breakeven: ``entry_theta`` dollars a day for the holding days (so the two have the same
    curvature and the same carry at ``r = 1`` to first order).  Pool P&L against holding
    the deposit (its delta hedge at entry): ``fees - (V_m / 2)(sqrt r - 1)^2``.

    ``trade``: a ``condor_trades`` row (``lp_strike, sp_strike, sc_strike, lc_strike,
    credit_fill, contracts, entry_date, expiration``) plus ``entry_underlying``.
    Returns ``price_ratio, condor_pnl, pool_pnl, pool_il_pnl, pool_fees`` ($).
    """
    r = np.asarray(ratios, dtype=float)
    s = trade["entry_underlying"] * r
    strikes = {k: trade[f"{k}_strike"] for k in ("lp", "sp", "sc", "lc")}
    condor = condor_payoff(strikes, trade["credit_fill"], trade["contracts"], s)
    days = float((trade["expiration"] - trade["entry_date"]).days)
    v_m = 8.0 * abs(entry_dollar_gamma)
    fees = max(entry_theta, 0.0) * days
    il = -0.5 * v_m * (np.sqrt(r) - 1.0) ** 2
    return pl.DataFrame({
        "price_ratio": r, "condor_pnl": condor, "pool_pnl": fees + il, "pool_il_pnl": il,
        "pool_fees": np.full(r.size, fees),
    })


def payoff_metrics(curves: pl.DataFrame, trade: dict, at: tuple[float, ...] = (0.8, 0.9, 1.1, 1.2)) -> list[dict]:
    """P&L of the condor and of its gamma-matched pool at price ratios ``at``, per dollar of the
    condor's credit (rows as :func:`comparison_summary`'s).  ``curves`` from
    :func:`payoff_curves` (its grid must contain ``at``), ``trade`` the same trade."""
    credit = 100.0 * trade["contracts"] * trade["credit_fill"]
    rows = [("payoff_trade_credit", credit, "$", f"credit of the condor entered {trade['entry_date']} (expiry {trade['expiration']})"),
            ("payoff_pool_fees", float(curves["pool_fees"][0]), "$", "fees of its gamma-matched pool over the same days")]
    for r in at:
        row = curves.filter((pl.col("price_ratio") - r).abs() < 1e-9)
        if row.height == 0:
            raise ValueError(f"price ratio {r} is not on the payoff grid")
        rows += [
            (f"payoff_condor_at_{r:g}", float(row["condor_pnl"][0]) / credit, "multiple of credit",
             f"condor P&L at expiry if S(expiry) = {r:g} S(entry)"),
            (f"payoff_pool_at_{r:g}", float(row["pool_pnl"][0]) / credit, "multiple of the condor's credit",
             f"gamma-matched pool's P&L against holding, fees included, at r = {r:g}"),
        ]
    return [{"metric": m, "value": float(v), "units": u, "description": desc} for m, v, u, desc in rows]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def comparison_summary(daily: pl.DataFrame, capital: float, trades: pl.DataFrame | None = None,
                       tail_share: float = 0.05) -> list[dict]:
    """The answer in numbers: one dict per metric (``metric, value, units, description``).

    ``daily`` from :func:`amm_vs_condor_daily`; ``capital`` the pool's deposit ($);
    ``trades`` the unhedged ``condor_trades`` rows (for the wing cap).  Annualization is
    ACT/365 over the calendar days of the sample.  ``tail_share``: the share of sessions
    with the largest ``|log return|`` used for "both lose most on large moves".
    """
    d = daily.sort("date")
    years = float(d["days"].sum()) / 365.0
    lr = d["log_return"].to_numpy()
    rv = float(np.sum(lr**2) / years) if years > 0 else float("nan")
    vbar = float(d["pool_value"].mean())
    lvr = d["lvr"].to_numpy()
    gamma = d["condor_gamma_pnl"].to_numpy()
    open_ = d["condor_positions_open"].to_numpy() > 0
    # the book's greeks at the previous close are the ones that earn the next day's P&L
    held_prev = np.r_[False, open_[:-1]]
    dg = d["condor_dollar_gamma"].to_numpy()
    th = d["condor_theta"].to_numpy()
    short_gamma = (dg < 0) & (th > 0)
    be_vol = float(np.sqrt(365.0 * th[short_gamma].sum() / -dg[short_gamma].sum())) if short_gamma.any() else float("nan")
    n_tail = max(1, int(round(tail_share * d.height)))
    tail = np.argsort(-np.abs(lr))[:n_tail]
    days = d["days"].to_numpy()
    open_years = float(days[held_prev].sum()) / 365.0
    rv_open = float(np.sum(lr[held_prev] ** 2) / open_years) if open_years > 0 else float("nan")
    idx_open = np.flatnonzero(held_prev)
    tail_open = idx_open[np.argsort(-np.abs(lr[idx_open]))[: max(1, int(round(tail_share * idx_open.size)))]] if idx_open.size else idx_open
    gamma_loss_open = -gamma[held_prev].sum()
    delta_share = (float(np.mean(np.abs(d["condor_delta_dollars"].to_numpy()[open_]))) / capital
                   if open_.any() and "condor_delta_dollars" in d.columns else float("nan"))
    gamma_loss = -gamma.sum()
    arb_vol = float(d["arb_volume"].sum())
    rows = [
        ("sessions", d.height, "sessions", "sessions compared (the backtest's sessions)"),
        ("condor_open_sessions", int(open_.sum()), "sessions", "sessions with at least one condor held at the close"),
        ("realized_vol", np.sqrt(rv), "decimal, ACT/365", "realized vol of SPX closes over the sample: sqrt(sum ln^2(S_t/S_t-1) / years)"),
        ("pool_capital", capital, "$", "pool deposit, half SPX half cash (the backtest's initial equity)"),
        ("pool_final_il", float(d["impermanent_loss"][-1]), "fraction of hold value", "impermanent loss at the end: 2 sqrt(r)/(1+r) - 1"),
        ("pool_worst_il", float(d["impermanent_loss"].min()), "fraction of hold value", "worst impermanent loss over the sample"),
        ("pool_lvr_total", float(lvr.sum()), "$", "loss-versus-rebalancing over the sample (daily rebalancing)"),
        ("pool_lvr_rate", float(lvr.sum()) / vbar / years if years > 0 else float("nan"), "fraction of pool value per year",
         "measured LVR rate; theory sigma^2/8 (next row)"),
        ("pool_lvr_rate_theory", rv / 8.0, "fraction of pool value per year", "sigma_realized^2 / 8 (Milionis et al. 2022)"),
        ("pool_breakeven_fee_total", float(d["breakeven_fee"].sum()), "$", "fees that break even against LVR, from realized variance"),
        ("pool_breakeven_fee_tier", float(lvr.sum()) / arb_vol if arb_vol > 0 else float("nan"), "fraction of volume",
         "fee tier on the daily arbitrage volume that pays the LVR (volume sampled once a day: a lower bound on real volume)"),
        ("pool_dollar_gamma", -vbar / 8.0, "$ per unit squared return", "average pool dollar gamma, -V/8"),
        ("pool_delta_share", 0.5, "fraction of pool value", "the pool always holds half its value in SPX (delta = x)"),
        ("condor_pnl_total", float(d["condor_pnl"].sum()), "$", "condor book P&L (unhedged strategy)"),
        ("condor_gamma_pnl_total", float(gamma.sum()), "$", "sum of 1/2 Gamma dS^2 of the legs held overnight"),
        ("condor_theta_pnl_total", float(d["condor_theta_pnl"].sum()), "$", "sum of theta x calendar days"),
        ("condor_vega_pnl_total", float(d["condor_vega_pnl"].sum()), "$", "sum of vega x change of each leg's implied vol"),
        ("condor_delta_pnl_total", float(d["condor_delta_pnl"].sum()), "$", "sum of delta x dS"),
        ("condor_residual_total", float(d["condor_residual"].sum()), "$", "higher-order terms, fills, commissions, settlement"),
        ("theta_over_gamma", float(d["condor_theta_pnl"].sum()) / gamma_loss if gamma_loss > 0 else float("nan"), "ratio",
         "theta collected per dollar of gamma bleed (1 = theta exactly paid the realized moves)"),
        ("hedge_pnl_total", float(d["hedge_pnl"].sum()), "$", "ALVH layers' P&L (alvh_hedged strategy)"),
        ("hedge_gamma_pnl_total", float(d["hedge_gamma_pnl"].sum()), "$", "ALVH layers' 1/2 Gamma dF^2 on the VX future: long convexity"),
        ("condor_dollar_gamma_mean_open", float(dg[open_].mean()) if open_.any() else float("nan"), "$ per unit squared return",
         "average 1/2 net_gamma S^2 of the book on sessions with a condor open"),
        ("condor_short_gamma_share", float((dg[open_] < 0).mean()) if open_.any() else float("nan"), "fraction",
         "share of open sessions on which the book is short gamma"),
        ("gamma_matched_pool_value", 8.0 * abs(float(dg[open_].mean())) if open_.any() else float("nan"), "$",
         "pool value with the condor book's average dollar gamma: 8 |1/2 Gamma S^2|"),
        ("condor_breakeven_vol", be_vol, "decimal, ACT/365",
         "gamma-weighted breakeven vol of the book: sqrt(365 sum theta / sum -dollar gamma) over short-gamma sessions"),
        ("pool_breakeven_vol_at_condor_yield",
         float(np.sqrt(8.0 * 365.0 * th[short_gamma].sum() / short_gamma.sum() / capital)) if short_gamma.any() else float("nan"),
         "decimal, ACT/365", "vol at which a pool of the same capital, earning the condor's average theta as fees, breaks even: sqrt(8 f)"),
        ("pool_fee_yield_at_condor_price", be_vol**2 / 8.0, "fraction of pool value per year",
         "fee yield that prices the pool's gamma as the option market priced the condor's: sigma_be^2 / 8"),
        ("gamma_per_premium_condor", float(-dg[short_gamma].sum() * 1e-4 / th[short_gamma].sum()) if short_gamma.any() else float("nan"),
         "$ lost on a 1% move per $ of daily theta", "= 365 * 1e-4 / sigma_be^2"),
        ("gamma_per_fee_pool", 1e-4 / 8.0 / (rv / 8.0 / 365.0) if rv > 0 else float("nan"),
         "$ lost on a 1% move per $ of daily breakeven fee", "= 365 * 1e-4 / sigma_realized^2 for the pool at its breakeven fee"),
        ("realized_vol_condor_open", np.sqrt(rv_open), "decimal, ACT/365",
         "realized vol over the sessions that began with a condor held (what the book's gamma actually faced)"),
        ("condor_delta_share", delta_share, "fraction of capital",
         "average |net delta x S| of the condor book over open sessions, per dollar of capital (the pool: 0.5)"),
        ("corr_lvr_gamma_all", _corr(lvr[1:], -gamma[1:]), "correlation",
         "daily correlation of pool LVR with the condor's gamma bleed (-attr_gamma), all sessions"),
        ("corr_lvr_gamma_open", _corr(lvr[held_prev], -gamma[held_prev]), "correlation",
         "the same, on sessions that began with a condor held"),
        ("lvr_tail_share", float(lvr[tail].sum() / lvr.sum()) if lvr.sum() > 0 else float("nan"), "fraction",
         f"share of total LVR earned on the {tail_share:.0%} of sessions with the largest |return|"),
        ("condor_gamma_tail_share", float(-gamma[tail].sum() / gamma_loss) if gamma_loss > 0 else float("nan"), "fraction",
         f"share of the condor's gamma bleed on those same sessions"),
        ("lvr_tail_share_open", float(lvr[tail_open].sum() / lvr[idx_open].sum()) if idx_open.size and lvr[idx_open].sum() > 0
         else float("nan"), "fraction",
         f"on sessions that began with a condor held: share of LVR on the {tail_share:.0%} largest |return| sessions"),
        ("condor_gamma_tail_share_open", float(-gamma[tail_open].sum() / gamma_loss_open) if gamma_loss_open > 0 else float("nan"),
         "fraction", "the same for the condor's gamma bleed"),
        ("pool_arb_volume_total", arb_vol, "$", "cash traded by arbitrageurs with the pool, sampled at the closes"),
        ("pool_rebalancing_sessions", int((d["arb_volume"].to_numpy() > 0).sum()), "sessions",
         "sessions on which the pool rebalanced (every session the price moved)"),
    ]
    if "implied_vol" in d.columns:
        both = d.filter(pl.col("condor_breakeven_vol").is_not_null() & pl.col("implied_vol").is_not_null())
        fee_rate = d["breakeven_fee"].to_numpy()[1:] / d["pool_value"].to_numpy()[:-1]
        iv_prev = d["implied_vol"].to_numpy()[:-1]
        ok = np.isfinite(iv_prev)
        rows += [
            ("corr_breakeven_vol_implied", _corr(both["condor_breakeven_vol"].to_numpy(), both["implied_vol"].to_numpy()),
             "correlation", "the condor's daily breakeven vol against the market's implied vol (VIX): premium scales with implied vol"),
            ("breakeven_vol_over_implied", float((both["condor_breakeven_vol"] / both["implied_vol"]).median()) if both.height
             else float("nan"), "ratio", "median of the condor's breakeven vol / VIX (its strikes sit on the smile's wings)"),
            ("corr_breakeven_fee_implied", _corr(fee_rate[ok], iv_prev[ok] ** 2), "correlation",
             "the pool's daily breakeven fee rate (realized ln^2 / 8) against the previous close's implied variance"),
        ]
    if trades is not None and trades.height:
        t = trades
        width = pl.max_horizontal(pl.col("sp_strike") - pl.col("lp_strike"), pl.col("lc_strike") - pl.col("sc_strike"))
        caps = t.select((100.0 * pl.col("contracts") * (width - pl.col("credit_fill"))).alias("cap"),
                        (100.0 * pl.col("contracts") * pl.col("credit_fill")).alias("credit"))
        rows += [
            ("condor_trades", t.height, "trades", "condor trades (unhedged strategy), each held until an exit rule or expiry"),
            ("condor_max_loss_per_credit", float((caps["cap"] / caps["credit"]).median()), "ratio",
             "median wing cap: the most a condor can lose at expiry, per dollar of credit"),
            ("condor_exits_managed", int(t.filter(~pl.col("exit_reason").is_in(["expiration", "open"])).height), "trades",
             "trades closed by a management rule (the condor's only 'rebalancing')"),
        ]
    # + 0.0 turns a -0.0 (a zero gamma bleed in the tail, negated) into 0.0
    return [{"metric": m, "value": float(v) + 0.0, "units": u, "description": desc} for m, v, u, desc in rows]
