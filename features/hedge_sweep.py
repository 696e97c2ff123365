"""The hedge frontier: a sweep of ALVH configurations, chosen in sample, reported out of sample.

The condor book does not depend on the hedge, so it is computed once
(:func:`build_sweep_inputs`: decisions, positions, the daily condor P&L and the book's
stress-scenario loss); every configuration then runs only the hedge
(:func:`evaluate_config`, a pure function of ``(config, inputs)`` so that a cluster can map it
over configurations) and is measured on two periods:

* in sample ``2005-01-01 .. 2014-12-31`` and out of sample ``2015-01-01 .. 2025-12-31``
  (:data:`PERIODS`); each period's equity starts at ``initial_equity`` with the P&L of its
  own sessions (positions opened before a period's start carry their later P&L into it);
* per period: max drawdown of the hedged and unhedged book and their ratio, net hedge cost per
  year (``-sum(hedge P&L) / years / equity``: premium, bid/ask and commissions minus what the
  calls paid), gross premium per year, CVaR 95 % (one day) and CAGR of the hedged book;
* per crisis window (:data:`CRISES`): the hedged and unhedged P&L in % of equity.

Selection rule (:func:`choose_default`), using in-sample columns only: among configurations
with an in-sample net hedge cost of at most ``max_cost`` (1.5 % of equity a year), the one
with the smallest ratio of hedged to unhedged max drawdown (ties: the cheaper); if none is
that cheap, the cheapest.  The goal (:func:`meets_goal`) is then checked out of sample:
drawdown ratio at most 0.60 at a cost of at most 1.5 % a year.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, fields, replace
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from features.backtest import equity_with_interest
from features.condor import condor_decisions, eod_quotes
from features.condor_management import manage_positions
from features.performance import CRISES, cash_rate_per_session, drawdown_metrics
from features.strategy_config import HedgeConfig, StrategyConfig
from features.vix_hedge import condor_book_stress, hedge_layers

__all__ = [
    "PERIODS", "CRISES", "SweepInputs", "build_sweep_inputs", "sweep_inputs_from_book", "evaluate_config", "sweep_grid", "run_sweep",
    "choose_default", "meets_goal", "GOAL_DD_RATIO", "GOAL_COST", "PERIOD_METRICS",
]

PERIODS = {"is": (date(2005, 1, 1), date(2014, 12, 31)), "oos": (date(2015, 1, 1), date(2025, 12, 31))}
#: Keys of :func:`_period_metrics` (``start``/``end`` are ISO dates as text, the rest decimals).
PERIOD_METRICS = ("start", "end", "years", "unhedged_max_drawdown", "max_drawdown", "dd_ratio", "dd_reduction",
                  "hedge_cost_pct_yr", "premium_pct_yr", "cvar_95", "cagr", "unhedged_cagr")
GOAL_DD_RATIO = 0.60
GOAL_COST = 0.015


@dataclass(frozen=True)
class SweepInputs:
    """What every configuration shares: the hedge-independent condor book and the market.

    book : ``date, condor_pnl, stress_loss`` (dollars), one row per session.
    features_asof, vx_futures : as :func:`features.vix_hedge.hedge_layers` takes them.
    config : the strategy configuration the hedge overrides are applied to.
    cash_rates : ``date, rate`` or None (the configured constant).
    periods, crises : the in-/out-of-sample periods (keys ``is``, ``oos``) and crisis windows.
    """

    book: pl.DataFrame
    features_asof: pl.DataFrame
    vx_futures: pl.DataFrame
    config: StrategyConfig
    cash_rates: pl.DataFrame | None = None
    periods: dict[str, tuple[date, date]] = field(default_factory=lambda: dict(PERIODS))
    crises: dict[str, tuple[date, date]] = field(default_factory=lambda: dict(CRISES))


def build_sweep_inputs(
    option_features: pl.DataFrame, features_asof: pl.DataFrame, spx_daily: pl.DataFrame, vx_futures: pl.DataFrame,
    config: StrategyConfig, cash_rates: pl.DataFrame | None = None, **windows: dict[str, tuple[date, date]],
) -> SweepInputs:
    """Run the condor decisions and positions once and keep what the hedge needs."""
    option_features = eod_quotes(option_features)
    days = option_features.select(pl.col("quote_date").unique().alias("date")).sort("date")
    decisions = condor_decisions(option_features, features_asof, config, equity=config.backtest.initial_equity)
    pos_daily, trades = manage_positions(decisions, option_features, spx_daily, config)
    return sweep_inputs_from_book(pos_daily, trades, days, features_asof, vx_futures, config, cash_rates, **windows)


def sweep_inputs_from_book(
    positions: pl.DataFrame, trades: pl.DataFrame, days: pl.DataFrame, features_asof: pl.DataFrame, vx_futures: pl.DataFrame,
    config: StrategyConfig, cash_rates: pl.DataFrame | None = None, **windows: dict[str, tuple[date, date]],
) -> SweepInputs:
    """:class:`SweepInputs` from an already computed condor book (``positions`` and
    ``trades`` of :func:`features.condor_management.manage_positions`) over the sessions ``days``."""
    pnl = positions.group_by("date").agg(pl.col("pnl").sum().alias("condor_pnl"))
    stress = condor_book_stress(positions, trades, features_asof, days, config)
    book = days.select("date").join(pnl, on="date", how="left").join(stress, on="date", how="left").fill_null(0.0).sort("date")
    return SweepInputs(book, features_asof, vx_futures, config, cash_rates, **windows)


def _hedge_config(base: HedgeConfig, overrides: dict[str, Any] | HedgeConfig) -> HedgeConfig:
    if isinstance(overrides, HedgeConfig):
        return overrides
    names = {f.name for f in fields(HedgeConfig)}
    unknown = set(overrides) - names
    if unknown:
        raise ValueError(f"unknown hedge settings {sorted(unknown)}")
    return replace(base, **overrides)


def _period_metrics(dates: np.ndarray, condor: np.ndarray, hedge: np.ndarray, premium: np.ndarray, inputs: SweepInputs,
                    start: date, end: date) -> dict[str, float]:
    cfg = inputs.config.backtest
    sel = (dates >= np.datetime64(start)) & (dates <= np.datetime64(end))
    if sel.sum() < 2:
        return {}
    d = dates[sel]
    rate = cash_rate_per_session(d, cfg.cash_rate, inputs.cash_rates)
    e0 = cfg.initial_equity
    eq_u, _ = equity_with_interest(d, condor[sel], e0, rate)
    eq_h, _ = equity_with_interest(d, condor[sel] + hedge[sel], e0, rate)
    years = float((d[-1] - d[0]).astype(float)) / 365.0
    r = np.diff(np.r_[e0, eq_h]) / np.r_[e0, eq_h[:-1]]
    q = float(np.quantile(r, 0.05))
    mdd_u, mdd_h = drawdown_metrics(eq_u, e0), drawdown_metrics(eq_h, e0)
    return {
        "start": str(d[0]), "end": str(d[-1]), "years": years,
        "unhedged_max_drawdown": mdd_u,
        "max_drawdown": mdd_h,
        "dd_ratio": mdd_h / mdd_u if mdd_u < 0 else float("nan"),
        "dd_reduction": 1.0 - mdd_h / mdd_u if mdd_u < 0 else float("nan"),
        "hedge_cost_pct_yr": -float(hedge[sel].sum()) / years / e0,
        "premium_pct_yr": float(premium[sel].sum()) / years / e0,
        "cvar_95": -float(r[r <= q].mean()),
        "cagr": (eq_h[-1] / e0) ** (1.0 / years) - 1.0 if eq_h[-1] > 0 else float("nan"),
        "unhedged_cagr": (eq_u[-1] / e0) ** (1.0 / years) - 1.0 if eq_u[-1] > 0 else float("nan"),
    }


def evaluate_config(config: dict[str, Any] | HedgeConfig, inputs: SweepInputs) -> dict[str, Any]:
    """Run the hedge of one configuration over the shared inputs and measure it.

    Parameters
    ----------
    config : HedgeConfig field overrides (e.g. ``{"base_fraction": 0.5, "vxth_weight_scale": 0}``)
        applied to ``inputs.config.hedge``, or a whole :class:`HedgeConfig`.
    inputs : :class:`SweepInputs`.

    Returns
    -------
    A flat dict: ``config`` (JSON of the overrides), ``<period>_<metric>`` for ``period`` in
    ``is``/``oos`` (see the module docstring; absent when the period has < 2 sessions), and
    ``crisis_<window>_hedged`` / ``crisis_<window>_unhedged`` (P&L in % of initial equity,
    NaN when the window holds no session).
    """
    overrides = config if isinstance(config, dict) else {f.name: getattr(config, f.name) for f in fields(HedgeConfig)}
    h = _hedge_config(inputs.config.hedge, config)
    cfg = replace(inputs.config, hedge=h)
    layers = hedge_layers(inputs.book.select("date", "stress_loss"), inputs.features_asof, inputs.vx_futures, cfg)
    per_day = layers.with_columns(
            # premium of the contracts bought: a whole new position, or a re-size's additions
        pl.when(pl.col("event").str.ends_with("open")).then(pl.col("contracts"))
        .when(pl.col("event") == "resize").then((pl.col("contracts") - pl.col("contracts").shift(1).over("layer", order_by="date")).clip(lower_bound=0.0))
        .otherwise(0.0).mul(100.0 * pl.col("price")).fill_null(0.0).alias("_premium")
    ).group_by("date").agg(pl.col("pnl").sum().alias("hedge_pnl"), (pl.col("_premium") + pl.col("costs")).sum().alias("premium"))
    d = inputs.book.join(per_day, on="date", how="left").fill_null(0.0).sort("date")
    dates = d["date"].to_numpy().astype("datetime64[D]")
    condor, hedge, premium = (d[c].to_numpy().astype(float) for c in ("condor_pnl", "hedge_pnl", "premium"))
    out: dict[str, Any] = {"config": json.dumps(overrides, sort_keys=True, default=list)}
    for name, (start, end) in inputs.periods.items():
        out.update({f"{name}_{k}": v for k, v in _period_metrics(dates, condor, hedge, premium, inputs, start, end).items()})
    e0 = inputs.config.backtest.initial_equity
    for name, (start, end) in inputs.crises.items():
        sel = (dates >= np.datetime64(start)) & (dates <= np.datetime64(end))
        out[f"crisis_{name}_unhedged"] = float(condor[sel].sum()) / e0 if sel.any() else float("nan")
        out[f"crisis_{name}_hedged"] = float((condor[sel] + hedge[sel]).sum()) / e0 if sel.any() else float("nan")
    return out


def sweep_grid(
    base_fraction: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5),
    vxth_weight_scale: tuple[float, ...] = (0.0, 0.1, 0.25, 1.0),
    engine_fraction: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5),
    monetize_multiple: tuple[float | None, ...] = (3.0, None),
    resize_band: tuple[float, ...] = (0.25, 0.5),
) -> list[dict[str, Any]]:
    """Configurations over layers on/off and sizes, the monetization trigger (None = never)
    and the base layer's re-size band (the holding rule); the all-off configuration is the
    unhedged book.  Sizes reach down to a tenth of a layer (VXTH's weights cost about 12 % of
    equity a year in premium at full scale) so that the frontier spans the 1.5 %/yr budget."""
    grid = []
    for b, v, e, m, r in itertools.product(base_fraction, vxth_weight_scale, engine_fraction, monetize_multiple, resize_band):
        if b == 0 and r != resize_band[0]:
            continue  # the band only matters with a base layer
        grid.append({"base_fraction": b, "vxth_weight_scale": v, "engine_fraction": e, "monetize_multiple": m, "resize_band": r})
    return grid


#: ``map_configs(fn, configs, inputs) -> [fn(c, inputs) for c in configs]``, evaluated wherever
#: the mapper runs them (e.g. ``pipelines.distributed.map_on_dask``), results in order.
ConfigMapper = Callable[[Callable[[Any, SweepInputs], dict[str, Any]], Sequence[Any], SweepInputs], list[dict[str, Any]]]


def run_sweep(configs: list[dict[str, Any]], inputs: SweepInputs, map_configs: ConfigMapper | None = None) -> pl.DataFrame:
    """:func:`evaluate_config` over ``configs``, one row per configuration with a ``config_id``
    (position in ``configs``): serially here, or by ``map_configs`` (a cluster's mapper)."""
    results = (map_configs(evaluate_config, configs, inputs) if map_configs is not None
               else [evaluate_config(c, inputs) for c in configs])
    rows = [{"config_id": i, **r} for i, r in enumerate(results)]
    return pl.DataFrame(rows, infer_schema_length=None)


def choose_default(results: pl.DataFrame, max_cost: float = GOAL_COST) -> dict[str, Any]:
    """The configuration chosen on in-sample columns only (see the module docstring).

    Hedged configurations only (a positive in-sample premium); returns its row as a dict.
    """
    cand = results.filter(pl.col("is_premium_pct_yr") > 0)
    cheap = cand.filter(pl.col("is_hedge_cost_pct_yr") <= max_cost)
    pool = cheap.sort(["is_dd_ratio", "is_hedge_cost_pct_yr"]) if cheap.height else cand.sort("is_hedge_cost_pct_yr")
    return pool.row(0, named=True)


def meets_goal(row: dict[str, Any], period: str = "oos") -> bool:
    """Drawdown at most 60 % of the unhedged book's at a net cost of at most 1.5 %/yr."""
    return bool(row[f"{period}_dd_ratio"] <= GOAL_DD_RATIO and row[f"{period}_hedge_cost_pct_yr"] <= GOAL_COST)
