"""Strategy sweeps on Dask: one task per configuration, every task reading the same inputs.

A sweep maps a picklable per-configuration function ``fn(config, inputs) -> dict`` over
configurations. :func:`map_in_process` does it in this process; :func:`map_on_dask` does it
on a Dask ``distributed`` cluster — a ``LocalCluster`` of ``workers`` processes by default,
or the scheduler at ``address`` (``VOLSIGNALS_DASK_SCHEDULER``, e.g. ``tcp://host:8786``) to
use a real one. Results come back in the order of the configurations, so the two maps can be
compared element by element (tests/test_scale_dask.py shows they are equal).

``inputs`` is shipped to the workers once (``scatter(broadcast=True)``), not once per task.
For a cluster, pass a :class:`StoreBacktestInputs` instead of frames: it is a folder name,
and each worker process reads the feature store from that folder (a shared file system, or
an object-store mount) the first time a task needs it, then reuses what it read.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import polars as pl

from features.backtest import run_backtest
from features.strategy_config import StrategyConfig

SCHEDULER_ENV = "VOLSIGNALS_DASK_SCHEDULER"


@dataclass(frozen=True)
class BacktestInputs:
    """The four inputs of :func:`features.backtest.run_backtest`, in memory."""

    option_features: pl.DataFrame
    features_asof: pl.DataFrame
    spx_daily: pl.DataFrame
    vx_futures: pl.DataFrame


@dataclass(frozen=True)
class StoreBacktestInputs:
    """The backtest inputs as the pipeline reads them from the warehouse at ``root``."""

    root: str

    def load(self) -> BacktestInputs:
        return _load_store_inputs(self.root)


@lru_cache(maxsize=4)
def _load_store_inputs(root: str) -> BacktestInputs:
    """Read once per worker process and root, with the ``strategy_backtest`` asset's own
    readers: the point-in-time features, SPX settlements (Cboe SET where stored), VX
    futures (modelled where none is stored) and every end-of-day option row. The asset
    reads only the expiries its configuration can touch; a sweep's configurations differ
    in that bound, so all of them are read here."""
    from pipelines.assets.decisions import OPTION_COLUMNS, point_in_time_features, vx_futures_with_model
    from pipelines.realpath import stored_settlements
    from pipelines.warehouse import Warehouse

    store = Warehouse(root)
    options = store.read("option_features", columns=OPTION_COLUMNS, where=pl.col("snapshot_kind") == "eod")
    return BacktestInputs(
        options, point_in_time_features(store), stored_settlements(store),
        vx_futures_with_model(store, options["quote_date"].unique()),
    )


def resolve(inputs: BacktestInputs | StoreBacktestInputs) -> BacktestInputs:
    """In-memory inputs as they are; store-backed ones read (once per process)."""
    return inputs.load() if isinstance(inputs, StoreBacktestInputs) else inputs


def backtest_summary(config: StrategyConfig, inputs: BacktestInputs | StoreBacktestInputs) -> dict[str, Any]:
    """One sweep point: the backtest summary of ``config`` (one dict per strategy, by name)."""
    data = resolve(inputs)
    result = run_backtest(data.option_features, data.features_asof, data.spx_daily, data.vx_futures, config)
    return {row["strategy"]: row for row in result.summary.to_dicts()}


def map_in_process(fn: Callable[[Any, Any], dict], configs: Sequence[Any], inputs: Any) -> list[dict]:
    """``fn(config, inputs)`` for every configuration, here, in order."""
    return [fn(config, inputs) for config in configs]


def map_on_dask(
    fn: Callable[[Any, Any], dict],
    configs: Sequence[Any],
    inputs: Any,
    *,
    address: str | None = None,
    workers: int = 2,
) -> list[dict]:
    """``fn(config, inputs)`` for every configuration as Dask tasks, results in order.

    ``address``: a running scheduler (default ``$VOLSIGNALS_DASK_SCHEDULER``); without one a
    ``LocalCluster`` of ``workers`` single-threaded processes is started and stopped here
    (single-threaded: numba and polars already use the cores a process is given).
    """
    from dask.distributed import Client, LocalCluster

    address = address or os.environ.get(SCHEDULER_ENV) or None
    cluster = None if address else LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    try:
        with Client(address or cluster) as client:
            [shared] = client.scatter([inputs], broadcast=True)
            run = uuid.uuid4().hex[:8]  # task keys unique per sweep: a shared scheduler may run several
            futures = [client.submit(fn, config, shared, key=f"sweep-{run}-{i}", pure=False) for i, config in enumerate(configs)]
            return client.gather(futures)
    finally:
        if cluster is not None:
            cluster.close()
