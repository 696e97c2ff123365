"""Resources, configured in one place: the warehouse, the simulated market, the strategy."""

from __future__ import annotations

import os
from dataclasses import replace

import dagster as dg

from features.simulate import SimulationConfig
from features.strategy_config import StrategyConfig
from pipelines.warehouse import Warehouse, warehouse_root


class WarehouseResource(dg.ConfigurableResource):
    """The Parquet + DuckDB warehouse (``$VOLSIGNALS_WAREHOUSE`` or ``./warehouse``)."""

    root: str = ""

    def store(self) -> Warehouse:
        return Warehouse(self.root or warehouse_root())

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Publish the SQL snapshot when a run (in-process) or step is done with the warehouse.

        A no-op when nothing changed; skipped, not waited for, while another writer holds
        the lock (that writer publishes when it is done). ``VOLSIGNALS_PUBLISH_EACH_RUN=0``
        leaves publishing to the caller (e.g. a command that publishes once at its end)."""
        if os.environ.get("VOLSIGNALS_PUBLISH_EACH_RUN", "1") != "0":
            self.store().publish_views(wait=False)


class MarketSimulatorResource(dg.ConfigurableResource):
    """The embedded default market: a seeded simulator (see ``features/simulate``).

    ``chain_size``: ``default`` (10–20 thousand contracts a day) or ``small`` (tests).
    """

    seed: int = 7
    chain_size: str = "default"

    def config(self) -> SimulationConfig:
        return SimulationConfig(seed=self.seed, chain_size=self.chain_size)  # type: ignore[arg-type]


class StrategyResource(dg.ConfigurableResource):
    """The strategy's rule parameters, in one typed place (set them in the UI's launchpad).

    The fields below are the ones traders tune; every other parameter keeps the
    documented default of ``features/strategy_config.py``. The backtest records the full
    parameter set it ran with (``backtest_summary.parameters`` and the run's metadata).
    """

    # condor entry
    target_dte: float = 45.0
    min_dte: float = 30.0
    max_dte: float = 60.0
    strike_method: str = "delta"  # "delta" or "expected_move"
    short_delta: float = 0.16
    expected_move_multiple: float = 1.0
    wing_width: float = 50.0
    risk_fraction: float = 0.02
    entry_frequency: str = "weekly"
    block_event_windows: bool = True
    min_vrp_vol: float = 0.0
    rsi_low: float = 30.0
    rsi_high: float = 70.0
    # management
    profit_take: float = 0.5
    stop_multiple: float = 2.0
    time_exit_dte: float = 21.0
    breach_action: str = "close"  # "close", "roll" or "ignore"
    # fills
    fill_model: str = "spread_fraction"  # "mid", "natural", "spread_fraction", "fixed_ticks"
    spread_fraction: float = 0.5
    commission_per_contract: float = 1.0
    # hedge
    hedge_base_fraction: float = 0.25
    hedge_flattening_threshold: float = 0.95
    hedge_engine_fraction: float = 0.5
    # account
    initial_equity: float = 1_000_000.0
    cash_rate: float = 0.02

    def to_strategy_config(self) -> StrategyConfig:
        base = StrategyConfig()
        return replace(
            base,
            condor=replace(
                base.condor,
                target_dte=self.target_dte,
                min_dte=self.min_dte,
                max_dte=self.max_dte,
                strike_method=self.strike_method,
                short_delta=self.short_delta,
                expected_move_multiple=self.expected_move_multiple,
                wing_width=self.wing_width,
                risk_fraction=self.risk_fraction,
                entry_frequency=self.entry_frequency,
                block_event_windows=self.block_event_windows,
                min_vrp_vol=self.min_vrp_vol,
                rsi_low=self.rsi_low,
                rsi_high=self.rsi_high,
                equity=self.initial_equity,
            ),
            management=replace(
                base.management,
                profit_take=self.profit_take,
                stop_multiple=self.stop_multiple,
                time_exit_dte=self.time_exit_dte,
                breach_action=self.breach_action,
            ),
            fill=replace(
                base.fill,
                model=self.fill_model,
                spread_fraction=self.spread_fraction,
                commission_per_contract=self.commission_per_contract,
            ),
            hedge=replace(
                base.hedge,
                base_fraction=self.hedge_base_fraction,
                flattening_threshold=self.hedge_flattening_threshold,
                engine_fraction=self.hedge_engine_fraction,
            ),
            backtest=replace(base.backtest, initial_equity=self.initial_equity, cash_rate=self.cash_rate),
        )
