"""Resources, configured in one place: the warehouse, the simulated market, the strategy."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import types
import typing
from typing import Any

import dagster as dg
from pydantic import Field, create_model

from features.simulate import SimulationConfig
from features.strategy_config import SECTIONS, StrategyConfig
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


def _attribute_docs(dc: type) -> dict[str, str]:
    """Field descriptions from the numpydoc ``Attributes`` section of a config dataclass."""
    doc = inspect.getdoc(dc) or ""
    lines = doc.split("Attributes\n----------\n", 1)[-1].splitlines() if "Attributes" in doc else []
    out: dict[str, str] = {}
    names: list[str] = []
    for line in lines:
        if line and not line.startswith(" ") and " : " in line:
            names = [n.strip() for n in line.split(" : ", 1)[0].split(",")]
            for n in names:
                out[n] = ""
        elif line.startswith(" ") and names:
            for n in names:
                out[n] = (out[n] + " " + line.strip()).strip()
    return out


def _config_type(tp: Any) -> Any:
    """The Dagster/pydantic field type of a dataclass annotation: tuples of strings become
    lists, ``X | None`` becomes ``Optional[X]``; ``Literal`` choices stay (an enum in the UI)."""
    if typing.get_origin(tp) is tuple:
        return list[str]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return typing.Optional[_config_type(inner[0])]  # noqa: UP045 (Dagster's config reads Optional)
    return tp


def _section_config(name: str, dc: type) -> type[dg.Config]:
    """A Dagster ``Config`` class with one field per field of the dataclass ``dc`` (its type,
    default and documented meaning), so the launchpad shows every knob with its default."""
    hints = typing.get_type_hints(dc)
    docs = _attribute_docs(dc)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(dc):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if isinstance(default, tuple):
            default = list(default)
        fields[f.name] = (_config_type(hints[f.name]), Field(default=default, description=docs.get(f.name) or None))
    return create_model(f"{dc.__name__}Fields", __base__=dg.Config, __doc__=inspect.getdoc(dc), **fields)


#: One generated Dagster config class per section of :class:`StrategyConfig`.
SECTION_CONFIGS: dict[str, type[dg.Config]] = {name: _section_config(name, dc) for name, dc in SECTIONS.items()}


class StrategyResource(dg.ConfigurableResource):
    """The strategy's rule parameters: every field of ``features/strategy_config.py``, one
    section each (condor, management, hedge, fill, backtest, cndr), generated from those
    dataclasses (their defaults and descriptions; options as choices).

    Set them in the UI's launchpad or with ``VOLSIGNALS_STRATEGY`` (JSON: nested sections,
    ``<section>_<field>`` or bare field names, see :meth:`StrategyConfig.from_dict`). The
    values are validated when the resource is built, with an error naming the field. The
    backtest records the full parameter set it ran with (``backtest_summary.parameters``).
    """

    condor: SECTION_CONFIGS["condor"] = SECTION_CONFIGS["condor"]()  # type: ignore[valid-type]
    management: SECTION_CONFIGS["management"] = SECTION_CONFIGS["management"]()  # type: ignore[valid-type]
    hedge: SECTION_CONFIGS["hedge"] = SECTION_CONFIGS["hedge"]()  # type: ignore[valid-type]
    fill: SECTION_CONFIGS["fill"] = SECTION_CONFIGS["fill"]()  # type: ignore[valid-type]
    backtest: SECTION_CONFIGS["backtest"] = SECTION_CONFIGS["backtest"]()  # type: ignore[valid-type]
    cndr: SECTION_CONFIGS["cndr"] = SECTION_CONFIGS["cndr"]()  # type: ignore[valid-type]

    def __init__(self, **values: Any) -> None:
        # Dagster re-creates the resource from section objects; a user passes dicts or flat keys
        plain = {k: ({f: getattr(v, f) for f in type(v).model_fields} if isinstance(v, dg.Config) else v)
                 for k, v in values.items()}
        nested = StrategyConfig.from_dict(plain).to_dict()  # validates; flat keys -> sections
        super().__init__(**nested)

    @classmethod
    def from_json(cls, text: str | None) -> StrategyResource:
        """From ``VOLSIGNALS_STRATEGY``'s JSON (empty: the defaults); a clear error otherwise."""
        try:
            values = json.loads(text) if text and text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"VOLSIGNALS_STRATEGY is not valid JSON: {exc}") from exc
        if not isinstance(values, dict):
            raise ValueError("VOLSIGNALS_STRATEGY must be a JSON object, e.g. '{\"target_dte\": 28}'")
        return cls(**values)

    def to_strategy_config(self) -> StrategyConfig:
        """The validated :class:`StrategyConfig` these settings describe."""
        return StrategyConfig.from_dict(
            {name: {k: getattr(getattr(self, name), k) for k in SECTION_CONFIGS[name].model_fields} for name in SECTIONS}
        )
