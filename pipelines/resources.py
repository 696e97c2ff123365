"""Resources, configured in one place: the warehouse and the simulated market."""

from __future__ import annotations

import dagster as dg

from features.simulate import SimulationConfig
from pipelines.warehouse import Warehouse, warehouse_root


class WarehouseResource(dg.ConfigurableResource):
    """The Parquet + DuckDB warehouse (``$VOLSIGNALS_WAREHOUSE`` or ``./warehouse``)."""

    root: str = ""

    def store(self) -> Warehouse:
        return Warehouse(self.root or warehouse_root())


class MarketSimulatorResource(dg.ConfigurableResource):
    """The embedded default market: a seeded simulator (see ``features/simulate``).

    ``chain_size``: ``default`` (10–20 thousand contracts a day) or ``small`` (tests).
    """

    seed: int = 7
    chain_size: str = "default"

    def config(self) -> SimulationConfig:
        return SimulationConfig(seed=self.seed, chain_size=self.chain_size)  # type: ignore[arg-type]
