"""Daily marking and exits of open iron condors, and the fill model shared by all trades.

Every position is managed independently and in a vectorized way: its four legs are laid on
the grid of sessions from entry to expiration, joined to that day's end-of-day quotes (a leg
without a quote that day is marked with Black-76 at the IV interpolated from the quoted
neighbouring strikes, see :func:`_model_marks`), and the first session on which an exit rule
fires and every leg is quoted closes it at that session's quotes through the fill model.

Accounting (dollars; one SPX contract = 100 x index points):

* ``value_mid`` = sum over legs of ``sign x mid`` (sign +1 long, -1 short), points per condor;
  a short condor has a negative value (its cost to close is ``-value_mid``);
* ``mark = contracts x 100 x value_mid`` while the position is held at the session's end,
  0 on and after the exit session;
* ``cash``: entry ``+contracts x 100 x credit_fill - commissions``; exit
  ``-contracts x 100 x close_cost_fill - commissions`` (or the settlement payoff);
* daily ``pnl = mark_t - mark_{t-1} + cash_t`` so that summed P&L equals the position's
  cash flows (plus the final mark for a position still open at the end of the data);
* a breach roll (option) closes the rolled position with its untested vertical valued at
  mid and opens the successor with the same vertical at mid: the hand-over nets to zero
  across the two positions, so their summed P&L is the economic P&L of the rolled condor.

Greek attribution of each day's P&L uses the previous session's leg Greeks (Black-76 from the
option features) and the changes of the underlying, each leg's IV and the calendar days:
``sign x contracts x 100 x (delta dS + gamma dS^2 / 2 + theta dt + vega d_sigma)``, and
``attr_residual`` = pnl minus the four terms (it also carries fills, commissions and
settlement differences).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from features.black76 import black76_price
from features.condor import eod_quotes
from features.strategy_config import FillConfig, ManagementConfig, StrategyConfig

__all__ = ["buy_price", "sell_price", "manage_positions", "condor_legs", "position_id"]

_LEG_SPECS = (  # leg prefix, option type, sign (+1 long / -1 short)
    ("sp", "P", -1),
    ("lp", "P", 1),
    ("sc", "C", -1),
    ("lc", "C", 1),
)


LEG_STRIKES = ("lp_strike", "sp_strike", "sc_strike", "lc_strike")


def position_id(entry_date: pl.Expr) -> pl.Expr:
    """Id of the position entered on ``entry_date``: ``yyyymmdd x 10`` (at most one entry a
    session); the position a breach roll opens is its parent's id + 1.

    Derived from the entry alone, so the same position has the same id in a full-history
    run, in a run over a later window and in a run continued from stored state.
    """
    return (entry_date.dt.strftime("%Y%m%d").cast(pl.Int64) * 10).alias("position_id")


def _tick(price: pl.Expr) -> pl.Expr:
    return pl.when(price < 3.0).then(0.05).otherwise(0.10)


def buy_price(fill: FillConfig, bid: pl.Expr | str = "bid", ask: pl.Expr | str = "ask") -> pl.Expr:
    """Price paid to buy one option under ``fill.model`` (index points).

    ``mid``: (bid+ask)/2; ``natural``: ask; ``spread_fraction``: mid + f (ask - mid);
    ``fixed_ticks``: min(mid + n tick, ask) with tick 0.05 below 3.00 else 0.10.
    """
    b = pl.col(bid) if isinstance(bid, str) else bid
    a = pl.col(ask) if isinstance(ask, str) else ask
    mid = (b + a) / 2.0
    if fill.model == "mid":
        return mid
    if fill.model == "natural":
        return a
    if fill.model == "spread_fraction":
        return mid + fill.spread_fraction * (a - mid)
    if fill.model == "fixed_ticks":
        return pl.min_horizontal(mid + fill.ticks * _tick(mid), a)
    raise ValueError(f"unknown fill model {fill.model!r}")


def sell_price(fill: FillConfig, bid: pl.Expr | str = "bid", ask: pl.Expr | str = "ask") -> pl.Expr:
    """Price received to sell one option: the mirror image of :func:`buy_price` below the mid
    (``natural`` = bid; ``fixed_ticks`` floored at the bid and at 0)."""
    b = pl.col(bid) if isinstance(bid, str) else bid
    a = pl.col(ask) if isinstance(ask, str) else ask
    mid = (b + a) / 2.0
    if fill.model == "mid":
        return mid
    if fill.model == "natural":
        return b
    if fill.model == "spread_fraction":
        return mid - fill.spread_fraction * (mid - b)
    if fill.model == "fixed_ticks":
        return pl.max_horizontal(mid - fill.ticks * _tick(mid), b, pl.lit(0.0))
    raise ValueError(f"unknown fill model {fill.model!r}")


def condor_legs(entries: pl.DataFrame) -> pl.DataFrame:
    """Long format of the entered condors: one row per position and leg.

    ``entries`` needs ``date, root, expiration, settlement, contracts`` and the strikes
    ``sp_strike, lp_strike, sc_strike, lc_strike`` (as produced by
    :func:`features.condor.condor_decisions`), plus ``position_id``.
    """
    base = ["position_id", "date", "root", "expiration", "settlement", "contracts"]
    parts = [
        entries.select(
            *base,
            pl.lit(leg).alias("leg"),
            pl.lit(opt).alias("option_type"),
            pl.lit(sign, dtype=pl.Int64).alias("sign"),
            pl.col(f"{leg}_strike").alias("strike"),
        )
        for leg, opt, sign in _LEG_SPECS
    ]
    return pl.concat(parts).rename({"date": "entry_date"})


def _model_marks(g: pl.DataFrame, option_features: pl.DataFrame) -> pl.DataFrame:
    """Fill the mid of legs without a quote today with a Black-76 model price.

    A leg whose contract has no usable quote on a session (no row, or ``ask == 0`` so the
    mid is null) is marked at ``black76_price(F, K, T, sigma, D)`` with that session's
    forward, discount and time of its expiry and ``sigma`` interpolated linearly in strike
    between the nearest quoted strikes of the same expiry and type (flat beyond them).
    Carrying the last mid forward instead would mix a stale price into a structure whose
    other legs moved (e.g. a short put unquoted on a crash day).  ``_quoted`` records whether
    the leg had its own quote.  Greeks of such a leg are carried forward.
    """
    g = g.with_columns(pl.col("mid").is_not_null().alias("_quoted"))
    miss = g.filter(~pl.col("_quoted"))
    if miss.height == 0:
        return g
    keys = ["date", "root", "expiration", "option_type"]
    # only the expiries of the unquoted legs matter: restrict the chain to them first
    need = miss.select(pl.col("date").alias("quote_date"), "root", "expiration").unique()
    option_features = option_features.join(need, on=["quote_date", "root", "expiration"], how="semi")
    smile = (
        option_features.filter(pl.col("iv").is_not_null() & pl.col("iv").is_finite() & pl.col("mid").is_not_null())
        .select(pl.col("quote_date").alias("date"), "root", "expiration", "option_type", "strike", "iv")
        .sort("strike")
    )
    expiry = option_features.group_by("quote_date", "root", "expiration").agg(
        pl.col("forward").first().alias("_f"), pl.col("discount_factor").first().alias("_d"),
        pl.col("years_to_expiry").first().alias("_t"),
    ).rename({"quote_date": "date"})
    m = (
        miss.select("position_id", "leg", *keys, "strike").sort("strike")
        .join_asof(smile.rename({"strike": "_k_lo", "iv": "_iv_lo"}), left_on="strike", right_on="_k_lo", by=keys, strategy="backward",
                   check_sortedness=False)
        .join_asof(smile.rename({"strike": "_k_hi", "iv": "_iv_hi"}), left_on="strike", right_on="_k_hi", by=keys, strategy="forward",
                   check_sortedness=False)
        .join(expiry, on=["date", "root", "expiration"], how="left")
        .with_columns(
            pl.when(pl.col("_k_lo").is_not_null() & pl.col("_k_hi").is_not_null() & (pl.col("_k_hi") > pl.col("_k_lo")))
            .then(pl.col("_iv_lo") + (pl.col("_iv_hi") - pl.col("_iv_lo")) * (pl.col("strike") - pl.col("_k_lo")) / (pl.col("_k_hi") - pl.col("_k_lo")))
            .otherwise(pl.coalesce("_iv_lo", "_iv_hi"))
            .alias("_iv")
        )
    )
    ok = m["_iv"].is_not_null() & m["_f"].is_not_null() & (m["_t"].fill_null(0.0) > 0)
    price = np.full(m.height, np.nan)
    if ok.any():
        mo = m.filter(ok)
        price[ok.to_numpy()] = black76_price(
            mo["_f"].to_numpy(), mo["strike"].to_numpy(), mo["_t"].to_numpy(), mo["_iv"].to_numpy(),
            mo["_d"].to_numpy(), (mo["option_type"] == "C").to_numpy(),
        )
    m = m.select("position_id", "leg", "date", pl.Series("_model_mid", price).fill_nan(None), pl.col("_iv").alias("_model_iv"))
    return g.join(m, on=["position_id", "leg", "date"], how="left").with_columns(
        pl.coalesce("mid", "_model_mid").alias("mid"), pl.coalesce("iv", "_model_iv").alias("iv"),
    ).drop("_model_mid", "_model_iv")


def _roll_candidates(
    rolls: pl.DataFrame, option_features: pl.DataFrame, config: StrategyConfig
) -> pl.DataFrame:
    """New tested-side verticals for positions rolled on a breach (vectorized over positions).

    ``rolls``: ``position_id, exit_date, root, expiration, tested`` ("P" or "C").  On the roll
    session, among valid two-sided quotes of the same root/expiration and tested type that
    are out of the money (put strike < forward, call strike > forward), the short strike has
    |delta| nearest ``condor.short_delta`` and the long wing is exactly ``wing_width`` further
    out.  Returns ``position_id, new_short, new_long`` for the positions where both exist.
    """
    cfg = config.condor
    q = option_features.filter((pl.col("bid") > 0) & (pl.col("ask") > pl.col("bid"))).select(
        pl.col("quote_date").alias("exit_date"), "root", "expiration", pl.col("option_type").alias("tested"),
        "strike", "delta", "forward",
    )
    c = rolls.join(q, on=["exit_date", "root", "expiration", "tested"])
    otm = pl.when(pl.col("tested") == "P").then(pl.col("strike") < pl.col("forward")).otherwise(pl.col("strike") > pl.col("forward"))
    short = (
        c.filter(otm)
        .with_columns((pl.col("delta").abs() - cfg.short_delta).abs().alias("_s"))
        .sort(["position_id", "_s", "strike"])
        .group_by("position_id", maintain_order=True)
        .first()
        .select("position_id", "tested", pl.col("strike").alias("new_short"))
        .with_columns(
            pl.when(pl.col("tested") == "P").then(pl.col("new_short") - cfg.wing_width)
            .otherwise(pl.col("new_short") + cfg.wing_width).alias("new_long")
        )
    )
    key = lambda e: (e * 1000).round().cast(pl.Int64)  # noqa: E731
    wings = c.select("position_id", key(pl.col("strike")).alias("_k")).unique()
    return (
        short.with_columns(key(pl.col("new_long")).alias("_k"))
        .join(wings, on=["position_id", "_k"], how="inner")
        .select("position_id", "new_short", "new_long")
    )


def _generation(
    legs: pl.DataFrame,
    info: pl.DataFrame,
    option_features: pl.DataFrame,
    spx_settlement: pl.DataFrame,
    config: StrategyConfig,
    allow_roll: bool,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Mark and exit one generation of positions.

    ``legs``: one row per position and leg with ``position_id, entry_date, root, expiration,
    settlement, contracts, leg, option_type, sign, strike, traded`` (``traded`` False for a
    leg carried over from a rolled position: it opens at mid without commission).
    ``info``: ``position_id, breakeven_put, breakeven_call`` (null: computed from the fill
    credit and the short strikes).
    Returns ``(positions_daily, exits, rolls)``; ``rolls`` lists the positions rolled on a
    breach with the tested side and the new vertical.
    """
    mcfg: ManagementConfig = config.management
    fcfg: FillConfig = config.fill
    days = option_features.select(pl.col("quote_date").unique().alias("date")).sort("date")
    under = option_features.group_by("quote_date").agg(pl.col("underlying_price").first().alias("underlying"))
    grid = legs.join_where(days, (pl.col("date") >= pl.col("entry_date")) & (pl.col("date") <= pl.col("expiration")))
    # An implied vol that no price fits is NaN (never 0); its greeks are NaN too. Treat them
    # as missing so the model mark and the carried-forward greeks apply, instead of letting
    # one NaN leg turn the book's vega (and the hedge sized on it) into NaN.
    # the rows of the held expiries only (a few of the chain's ~60)
    held = option_features.join(legs.select("root", "expiration").unique(), on=["root", "expiration"], how="semi")
    quotes = held.select(
        pl.col("quote_date").alias("date"), "root", "expiration", "strike", "option_type",
        "bid", "ask", "mid", *[pl.col(c).fill_nan(None) for c in ("iv", "delta", "gamma", "vega", "theta")],
    )
    ffill_cols = ["bid", "ask", "mid", "iv", "delta", "gamma", "vega", "theta"]
    settle = spx_settlement.select("date", "open", "close")
    g = grid.join(quotes, on=["date", "root", "expiration", "strike", "option_type"], how="left")
    g = _model_marks(g, held)
    g = (
        g.sort(["position_id", "leg", "date"])
        .with_columns([pl.col(c).forward_fill().over(["position_id", "leg"]) for c in ffill_cols])
        .join(under.rename({"quote_date": "date"}), on="date", how="left")
        .join(settle, on="date", how="left")
        .with_columns(
            # index settlement on the expiration session: AM = special opening quotation (the
            # day's open), PM = the close; the chain's underlying if the row is missing
            pl.when(pl.col("settlement") == "AM").then(pl.col("open")).otherwise(pl.col("close"))
            .fill_null(pl.col("underlying")).alias("_settle_px")
        )
    )
    sgn = pl.col("sign")
    buy = buy_price(fcfg)
    sell = sell_price(fcfg)
    is_put = pl.col("option_type") == "P"
    payoff = pl.when(is_put).then((pl.col("strike") - pl.col("_settle_px")).clip(lower_bound=0)).otherwise(
        (pl.col("_settle_px") - pl.col("strike")).clip(lower_bound=0)
    )
    prev = lambda c: pl.col(c).shift(1).over(["position_id", "leg"], order_by="date")  # noqa: E731
    close_fill = pl.when(sgn < 0).then(buy).otherwise(-sell)  # cost (points) to close the leg
    close_mid = -sgn * pl.col("mid")
    g = g.with_columns(
        (sgn * pl.col("mid")).alias("_v"),
        pl.when(pl.col("traded")).then(pl.when(sgn > 0).then(buy).otherwise(-sell)).otherwise(sgn * pl.col("mid")).alias("_open"),
        pl.col("traded").cast(pl.Float64).alias("_n_open"),
        pl.when(is_put).then(close_fill).otherwise(0.0).alias("_pcf"),
        pl.when(is_put).then(close_mid).otherwise(0.0).alias("_pcm"),
        pl.when(~is_put).then(close_fill).otherwise(0.0).alias("_ccf"),
        pl.when(~is_put).then(close_mid).otherwise(0.0).alias("_ccm"),
        (sgn * payoff).alias("_payoff"),
        (sgn * prev("delta") * (pl.col("underlying") - prev("underlying"))).alias("_a_delta"),
        (sgn * 0.5 * prev("gamma") * (pl.col("underlying") - prev("underlying")) ** 2).alias("_a_gamma"),
        (sgn * prev("theta") * (pl.col("date") - prev("date")).dt.total_days().cast(pl.Float64)).alias("_a_theta"),
        (sgn * prev("vega") * (pl.col("iv") - prev("iv")).fill_null(0.0)).alias("_a_vega"),
        (sgn * pl.col("delta")).alias("_nd"),
        (sgn * pl.col("gamma")).alias("_ng"),
        (sgn * pl.col("vega")).alias("_nv"),
        (sgn * pl.col("theta")).alias("_nt"),
        pl.when((sgn < 0) & is_put).then(pl.col("strike")).alias("_sp"),
        pl.when((sgn < 0) & ~is_put).then(pl.col("strike")).alias("_sc"),
    )
    sums = ["_v", "_open", "_n_open", "_pcf", "_pcm", "_ccf", "_ccm", "_payoff",
            "_a_delta", "_a_gamma", "_a_theta", "_a_vega", "_nd", "_ng", "_nv", "_nt"]
    pos_day = (
        g.group_by("position_id", "date")
        .agg(
            *[pl.col(c).first() for c in ("entry_date", "root", "expiration", "settlement", "contracts", "underlying", "_settle_px")],
            *[pl.col(c).sum() for c in sums],
            pl.col("_sp").max(), pl.col("_sc").max(),
            pl.col("_quoted").all().alias("_all_quoted"),
        )
        .rename({"_v": "value_mid"})
        .sort(["position_id", "date"])
        .join(info, on="position_id", how="left")
    )
    credit = pos_day.filter(pl.col("date") == pl.col("entry_date")).select(
        "position_id", (-pl.col("_open")).alias("credit_fill"), pl.col("_n_open").alias("_legs_opened")
    )
    pos_day = pos_day.join(credit, on="position_id", how="left").with_columns(
        pl.col("breakeven_put").fill_null(pl.col("_sp") - pl.col("credit_fill")),
        pl.col("breakeven_call").fill_null(pl.col("_sc") + pl.col("credit_fill")),
    )

    dte = (pl.col("expiration") - pl.col("date")).dt.total_days().cast(pl.Float64)
    cost_mid = -pl.col("value_mid")
    # an exit needs a live quote on every leg; otherwise it waits for the next session
    live = (pl.col("date") > pl.col("entry_date")) & (pl.col("date") < pl.col("expiration")) & pl.col("_all_quoted")
    below = pl.col("underlying") < pl.col("breakeven_put")
    above = pl.col("underlying") > pl.col("breakeven_call")
    rules: list[tuple[str, pl.Expr]] = []
    if mcfg.profit_take is not None:
        rules.append(("profit_take", cost_mid <= (1.0 - mcfg.profit_take) * pl.col("credit_fill")))
    if mcfg.stop_multiple is not None:
        rules.append(("stop", cost_mid >= (1.0 + mcfg.stop_multiple) * pl.col("credit_fill")))
    if mcfg.time_exit_dte is not None:
        rules.append(("time", dte <= mcfg.time_exit_dte))
    if mcfg.breach_action in ("close", "roll"):
        rules.append(("breach", below | above))
    elif mcfg.breach_action != "ignore":
        raise ValueError(f"unknown breach_action {mcfg.breach_action!r}")
    fired = [pl.when(live & e.fill_null(False)).then(pl.lit(name)) for name, e in rules]
    any_fired = pl.any_horizontal([e.fill_null(False) for _, e in rules]) if rules else pl.lit(False)
    pos_day = pos_day.with_columns(
        (pl.concat_list(fired).list.drop_nulls().list.join("+") if fired else pl.lit("")).alias("_fired"),
        (live & any_fired).alias("_trig"),
        (pl.col("date") == pl.col("expiration")).alias("_expiry_day"),
        pl.when(below).then(pl.lit("P")).when(above).then(pl.lit("C")).alias("_tested"),
    )
    exits = (
        pos_day.filter(pl.col("_trig") | pl.col("_expiry_day"))
        .sort(["position_id", "date"])
        .group_by("position_id", maintain_order=True)
        .first()
        .select(
            "position_id", "root", "expiration", "_tested",
            pl.col("date").alias("exit_date"),
            pl.when(pl.col("_trig")).then(pl.col("_fired")).otherwise(pl.lit("expiration")).alias("exit_reason"),
        )
    )
    rolls = pl.DataFrame(schema={"position_id": pl.Int64, "exit_date": pl.Date, "tested": pl.String,
                                 "new_short": pl.Float64, "new_long": pl.Float64})
    if allow_roll:
        # a breach alone (no profit/stop/time rule the same day) rolls the tested side
        cand = exits.filter(pl.col("exit_reason") == "breach").select(
            "position_id", "exit_date", "root", "expiration", pl.col("_tested").alias("tested")
        )
        rolls = cand.join(_roll_candidates(cand, option_features, config), on="position_id").select(
            "position_id", "exit_date", "tested", "new_short", "new_long"
        )
        exits = exits.join(rolls.select("position_id", pl.lit(True).alias("_rolled")), on="position_id", how="left").with_columns(
            pl.when(pl.col("_rolled").fill_null(False)).then(pl.lit("breach_roll")).otherwise(pl.col("exit_reason")).alias("exit_reason")
        ).drop("_rolled")
    pos_day = pos_day.join(exits.select("position_id", "exit_date", "exit_reason", pl.col("_tested").alias("_exit_tested")),
                           on="position_id", how="left").filter(
        pl.col("exit_date").is_null() | (pl.col("date") <= pl.col("exit_date"))
    )

    is_exit = (pl.col("date") == pl.col("exit_date")).fill_null(False)
    settled = is_exit & (pl.col("exit_reason") == "expiration")
    rolled = is_exit & (pl.col("exit_reason") == "breach_roll")
    roll_put = rolled & (pl.col("_exit_tested") == "P")
    n = pl.col("contracts").cast(pl.Float64)
    per = fcfg.commission_per_contract
    # closing: both sides at fills; a roll closes the tested side at fills and hands the
    # untested side to the rolled position at mid (no trade, no commission)
    exit_cost_pts = (
        pl.when(settled).then(-pl.col("_payoff"))
        .when(roll_put).then(pl.col("_pcf") + pl.col("_ccm"))
        .when(rolled).then(pl.col("_ccf") + pl.col("_pcm"))
        .otherwise(pl.col("_pcf") + pl.col("_ccf"))
    )
    exit_comm = (
        pl.when(settled).then(4.0 * n * per if fcfg.settle_commission else 0.0)
        .when(rolled).then(2.0 * n * per)
        .otherwise(4.0 * n * per)
    )
    entry_comm = pl.col("_legs_opened") * n * per
    pos_day = pos_day.with_columns(
        pl.when(settled).then(pl.col("_settle_px")).alias("settlement_price"),
        pl.when(is_exit).then(exit_cost_pts).alias("exit_cost"),
        (~is_exit).alias("held"),
    ).with_columns(
        (
            pl.when(pl.col("date") == pl.col("entry_date")).then(n * 100.0 * pl.col("credit_fill") - entry_comm).otherwise(0.0)
            - pl.when(is_exit).then(n * 100.0 * pl.col("exit_cost") + exit_comm).otherwise(0.0)
        ).alias("cash"),
        pl.when(is_exit).then(exit_comm).otherwise(0.0).alias("_exit_comm"),
    ).with_columns(
        pl.when(pl.col("held")).then(n * 100.0 * pl.col("value_mid")).otherwise(0.0).alias("mark"),
    ).with_columns(
        (pl.col("mark") - pl.col("mark").shift(1, fill_value=0.0).over("position_id", order_by="date") + pl.col("cash")).alias("pnl"),
        (n * 100.0 * pl.col("_a_delta")).fill_null(0.0).alias("attr_delta"),
        (n * 100.0 * pl.col("_a_gamma")).fill_null(0.0).alias("attr_gamma"),
        (n * 100.0 * pl.col("_a_theta")).fill_null(0.0).alias("attr_theta"),
        (n * 100.0 * pl.col("_a_vega")).fill_null(0.0).alias("attr_vega"),
        pl.when(pl.col("held")).then(n * 100.0 * pl.col("_nd")).otherwise(0.0).alias("net_delta"),
        pl.when(pl.col("held")).then(n * 100.0 * pl.col("_ng")).otherwise(0.0).alias("net_gamma"),
        # vega per 1.00 vol x 100 multiplier / 100 = dollars per vol point
        pl.when(pl.col("held")).then(n * pl.col("_nv")).otherwise(0.0).alias("net_vega"),
        pl.when(pl.col("held")).then(n * 100.0 * pl.col("_nt")).otherwise(0.0).alias("net_theta"),
    ).with_columns(
        (pl.col("pnl") - pl.col("attr_delta") - pl.col("attr_gamma") - pl.col("attr_theta") - pl.col("attr_vega")).alias("attr_residual"),
    )
    daily = pos_day.select(
        "position_id", "date", "entry_date", "expiration", "contracts", "underlying", "value_mid",
        "mark", "cash", "pnl", "held", "net_delta", "net_gamma", "net_vega", "net_theta",
        "attr_delta", "attr_gamma", "attr_theta", "attr_vega", "attr_residual",
    )
    last = (
        pos_day.sort(["position_id", "date"]).group_by("position_id", maintain_order=True).last()
        .select("position_id", pl.col("date").alias("last_date"), "exit_cost", "settlement_price",
                "breakeven_put", "breakeven_call")
    )
    totals = pos_day.group_by("position_id").agg(
        pl.col("cash").sum().alias("cash_total"), pl.col("pnl").sum().alias("pnl"),
        ((pl.col("date") == pl.col("entry_date")).cast(pl.Float64) * pl.col("_legs_opened") * pl.col("contracts") * per
         + pl.col("_exit_comm")).sum().alias("commissions"),
    )
    strikes = legs.select("position_id", pl.col("leg") + "_strike", "strike").pivot(
        on="leg", index="position_id", values="strike"
    )
    # a book with no positions pivots to no strike columns; keep the trades frame's shape
    strikes = strikes.with_columns(
        pl.lit(None, pl.Float64).alias(c) for c in LEG_STRIKES if c not in strikes.columns
    )
    trades = (
        legs.group_by("position_id").agg(
            pl.col("entry_date").first(), pl.col("root").first(), pl.col("expiration").first(),
            pl.col("settlement").first(), pl.col("contracts").first(),
        )
        .join(strikes, on="position_id", how="left")
        .join(credit.drop("_legs_opened"), on="position_id", how="left")
        .join(exits.select("position_id", "exit_date", "exit_reason"), on="position_id", how="left")
        .join(last, on="position_id", how="left")
        .join(totals, on="position_id", how="left")
        .with_columns(pl.col("exit_reason").fill_null("open"), pl.coalesce("exit_date", "last_date").alias("_end"))
        .with_columns((pl.col("_end") - pl.col("entry_date")).dt.total_days().alias("holding_days"))
        .drop("_end", "last_date")
    )
    return daily, trades, rolls


def manage_positions(
    entries: pl.DataFrame,
    option_features: pl.DataFrame,
    spx_settlement: pl.DataFrame,
    config: StrategyConfig,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Mark every entered condor daily and close it by the first rule that fires.

    Exit rules, evaluated on the end-of-day quotes of each session strictly after entry and
    before expiration (mid marks; ``credit`` = the credit actually received at the fill):

    * ``profit_take``: ``-value_mid <= (1 - profit_take) x credit``;
    * ``stop``: ``-value_mid >= (1 + stop_multiple) x credit`` (loss of ``stop_multiple``
      credits);
    * ``time``: calendar days to expiry ``<= time_exit_dte``;
    * ``breach``: the index (the chain's ``underlying_price``) closes below the put
      breakeven or above the call breakeven of the entry decision.  ``breach_action``:
      ``"close"`` (default) closes the condor; ``"roll"`` closes only the tested vertical and
      sells a new vertical of the same width on that side, same expiration, short strike at
      the entry ``short_delta`` — the untested vertical is carried over at mid (no trade),
      and the result is managed as a new position (``parent_id`` = the rolled one, credit =
      its value at the roll, breakevens = its short strikes -/+ that credit) that is closed,
      not rolled again, on a further breach; when no new vertical is quoted the condor is
      closed.  ``"ignore"`` disables the rule.

    Several rules firing the same day are all named in ``exit_reason`` (joined by "+"); a
    roll happens only when the breach is the sole rule firing (``exit_reason`` =
    ``breach_roll``).  A position reaching its expiration session is cash-settled on the index
    settlement: SPX (AM) on the special opening quotation, taken as the ``open`` of
    ``spx_settlement`` on the expiration date; SPXW (PM) on that day's ``close``.  When the
    settlement row is missing, the chain's ``underlying_price`` of that session is used.  A
    position whose expiration lies beyond the data stays ``open`` (marked at mid).

    Parameters
    ----------
    entries : pl.DataFrame
        Decision rows (``action == "enter"`` rows are used when ``action`` is present).
    option_features : pl.DataFrame
        The end-of-day chain with Greeks (``quote_date, root, expiration, strike,
        option_type, bid, ask, mid, iv, delta, gamma, vega, theta, underlying_price,
        forward``).
    spx_settlement : pl.DataFrame
        ``date, open, close`` of the SPX index.
    config : StrategyConfig

    Returns
    -------
    positions_daily : pl.DataFrame
        One row per position per session from entry to exit: ``position_id, date,
        entry_date, expiration, contracts, underlying, value_mid, mark, cash, pnl, held,
        net_delta, net_gamma, net_vega, net_theta`` (dollar Greeks: per index point, per
        index point squared, per vol point, per day) and ``attr_delta, attr_gamma,
        attr_theta, attr_vega, attr_residual``.
    trades : pl.DataFrame
        One row per position: ``position_id, parent_id, entry_date, exit_date, exit_reason,
        root, expiration, settlement, contracts, {lp,sp,sc,lc}_strike, credit_fill,
        exit_cost`` (points), ``settlement_price, breakeven_put, breakeven_call,
        cash_total, commissions, pnl`` (dollars), ``holding_days``.
    """
    mcfg: ManagementConfig = config.management
    option_features = eod_quotes(option_features)
    if "action" in entries.columns:
        entries = entries.filter(pl.col("action") == "enter")
    entries = entries.sort("date").with_columns(position_id(pl.col("date")))
    legs = condor_legs(entries).with_columns(pl.lit(True).alias("traded"))
    info = entries.select("position_id", "breakeven_put", "breakeven_call")
    daily, trades, rolls = _generation(legs, info, option_features, spx_settlement, config, mcfg.breach_action == "roll")
    trades = trades.with_columns(pl.lit(None, dtype=pl.Int64).alias("parent_id"))
    if rolls.height:
        # second generation: the untested vertical carried at mid plus the new tested vertical
        new_id = rolls.select(
            "position_id", (pl.col("position_id") + 1).alias("new_id"),
            "exit_date", "tested", "new_short", "new_long",
        )
        kept = legs.join(new_id, on="position_id").filter(pl.col("option_type") != pl.col("tested"))
        kept = kept.with_columns(pl.lit(False).alias("traded"))
        base = ["new_id", "exit_date", "root", "expiration", "settlement", "contracts"]
        first = legs.group_by("position_id").agg(pl.col(c).first() for c in ("root", "expiration", "settlement", "contracts"))
        nr = new_id.join(first, on="position_id")
        added = pl.concat([
            nr.select(*base, pl.when(pl.col("tested") == "P").then(pl.lit("sp")).otherwise(pl.lit("sc")).alias("leg"),
                      pl.col("tested").alias("option_type"), pl.lit(-1, dtype=pl.Int64).alias("sign"),
                      pl.col("new_short").alias("strike")),
            nr.select(*base, pl.when(pl.col("tested") == "P").then(pl.lit("lp")).otherwise(pl.lit("lc")).alias("leg"),
                      pl.col("tested").alias("option_type"), pl.lit(1, dtype=pl.Int64).alias("sign"),
                      pl.col("new_long").alias("strike")),
        ]).with_columns(pl.lit(True).alias("traded"))
        kept = kept.select(*base, "leg", "option_type", "sign", "strike", "traded")
        legs2 = pl.concat([kept, added]).rename({"new_id": "position_id", "exit_date": "entry_date"}).select(legs.columns)
        info2 = new_id.select(pl.col("new_id").alias("position_id"), pl.lit(None, dtype=pl.Float64).alias("breakeven_put"),
                              pl.lit(None, dtype=pl.Float64).alias("breakeven_call"))
        roll_cfg = StrategyConfig(
            condor=config.condor, management=ManagementConfig(
                profit_take=mcfg.profit_take, stop_multiple=mcfg.stop_multiple, time_exit_dte=mcfg.time_exit_dte,
                breach_action="close"),
            hedge=config.hedge, fill=config.fill, backtest=config.backtest, cndr=config.cndr,
        )
        daily2, trades2, _ = _generation(legs2, info2, option_features, spx_settlement, roll_cfg, False)
        trades2 = trades2.join(new_id.select(pl.col("new_id").alias("position_id"), pl.col("position_id").alias("parent_id")),
                               on="position_id", how="left")
        daily = pl.concat([daily, daily2])
        trades = pl.concat([trades, trades2.select(trades.columns)])
    order = ["position_id", "parent_id", "entry_date", "exit_date", "exit_reason", "root", "expiration", "settlement",
             "contracts", *LEG_STRIKES, "credit_fill", "exit_cost",
             "settlement_price", "breakeven_put", "breakeven_call", "cash_total", "commissions", "pnl", "holding_days"]
    return daily.sort(["date", "position_id"]), trades.select(order).sort("position_id")
