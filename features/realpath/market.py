"""Running rules on the real-path market: the CNDR replica over 2005-2025.

:func:`cndr_replica` builds the monthly (``SPX``) part of the real-path chain year by year
(bounded memory: one year of contracts at a time), computes the same per-contract analytics
as the pipeline (:func:`features.option_features.option_features`: parity forwards, IVs,
Black-76 deltas), and runs the CNDR rules of :func:`features.cndr.cndr_benchmark` on them
with AM settlement on the Cboe SET values and cash at the T-bill yield.
"""

from __future__ import annotations

import polars as pl

from features.cndr import cndr_benchmark
from features.option_features import option_features
from features.realpath.chain import build_chain
from features.realpath.inputs import cash_rates, settlement_prices
from features.strategy_config import StrategyConfig

__all__ = ["cndr_features", "cndr_replica", "CNDR_COLUMNS"]

#: The analytics columns the CNDR rules read (the rest is dropped to keep 20 years small).
CNDR_COLUMNS = ["quote_date", "root", "expiration", "settlement", "strike", "option_type", "bid", "ask", "mid",
                "underlying_price", "years_to_expiry", "days_to_expiry", "forward", "discount_factor", "iv", "delta",
                "gamma", "vega", "theta", "snapshot_kind"]


def cndr_features(inputs: pl.DataFrame, config: StrategyConfig | None = None) -> pl.DataFrame:
    """Analytics of the monthly (``config.cndr.root``) real-path chain of every session in ``inputs``."""
    config = config or StrategyConfig()
    parts = []
    for year in sorted(inputs["date"].dt.year().unique().to_list()):  # one year of contracts at a time
        chain = build_chain(inputs.filter(pl.col("date").dt.year() == year), roots=(config.cndr.root,))
        if chain.height:
            parts.append(option_features(chain).select(CNDR_COLUMNS))
    return pl.concat(parts)


def cndr_replica(inputs: pl.DataFrame, set_values: pl.DataFrame | None,
                 config: StrategyConfig | None = None, risk_fraction: float | None = None,
                 features: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """CNDR rules on the real-path market of the sessions in ``inputs``.

    Parameters
    ----------
    inputs : :func:`features.realpath.inputs.daily_inputs` rows (one per session).
    set_values : stored ``spx_settlement_values`` (None: every AM settlement is the estimate).
    risk_fraction : None for Cboe-style sizing (one condor per index level of T-bills), or the
        share of equity risked per monthly condor (see :func:`features.cndr.cndr_benchmark`).
    features : :func:`cndr_features` of ``inputs`` when already computed.

    Returns
    -------
    daily, trades : as :func:`features.cndr.cndr_benchmark`; ``trades`` also carries
        ``settlement_source`` (``SET`` or ``estimate:open``) of its expiration.
    """
    config = config or StrategyConfig()
    features = cndr_features(inputs, config) if features is None else features
    settle = settlement_prices(inputs.select("date", "open", "close"), set_values)
    sessions = features.select(pl.col("quote_date").unique().alias("date"))
    daily, trades = cndr_benchmark(features, settle, config, cash_rates=cash_rates(sessions, inputs, config.backtest.cash_rate),
                                   risk_fraction=risk_fraction)
    trades = trades.join(settle.select(pl.col("date").alias("expiration"), "settlement_source"), on="expiration",
                         how="left")
    return daily, trades
