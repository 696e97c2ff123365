"""StrategyResource is generated from the strategy dataclasses: every knob settable, validated."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import dagster as dg
import pytest

from features.strategy_config import SECTIONS, StrategyConfig
from pipelines.resources import StrategyResource, _section_config


def _schema_fields(section: str):
    schema = StrategyResource().get_resource_definition().config_schema.config_type
    return schema.fields[section].config_type.fields


@pytest.mark.parametrize("section", list(SECTIONS))
def test_every_dataclass_field_is_a_launchpad_field_with_its_default(section: str) -> None:
    fields = _schema_fields(section)
    dc = SECTIONS[section]
    assert set(fields) == {f.name for f in dataclasses.fields(dc)}
    defaults = StrategyResource().to_strategy_config()
    assert getattr(defaults, section) == dc()


def test_options_are_choices_in_the_launchpad() -> None:
    model = _schema_fields("fill")["model"].config_type
    assert sorted(v.config_value for v in model.enum_values) == ["fixed_ticks", "mid", "natural", "spread_fraction"]


def test_a_field_added_to_a_dataclass_becomes_a_config_field() -> None:
    @dataclass(frozen=True)
    class Extra:
        """Attributes
        ----------
        new_knob : float
            A knob added later.
        """

        new_knob: float = 1.5

    cfg = _section_config("extra", Extra)
    assert cfg().new_knob == 1.5
    assert cfg.model_fields["new_knob"].description == "A knob added later."


def test_hedge_knobs_set_in_the_run_config_reach_the_strategy() -> None:
    seen = {}

    @dg.asset
    def probe(strategy: StrategyResource) -> None:
        seen["config"] = strategy.to_strategy_config()

    run_config = {"resources": {"strategy": {"config": {
        "hedge": {"beta_window": 40, "engine_instrument": "call", "vxth_weight_scale": 0.5},
        "condor": {"max_dte": 90.0, "target_dte": 80.0},
    }}}}
    assert dg.materialize([probe], resources={"strategy": StrategyResource()}, run_config=run_config).success
    c: StrategyConfig = seen["config"]
    assert (c.hedge.beta_window, c.hedge.engine_instrument, c.hedge.vxth_weight_scale) == (40, "call", 0.5)
    assert (c.condor.max_dte, c.condor.target_dte) == (90.0, 80.0)


def test_an_out_of_range_run_config_fails_naming_the_field() -> None:
    @dg.asset
    def probe(strategy: StrategyResource) -> None:
        pass

    run_config = {"resources": {"strategy": {"config": {"condor": {"short_delta": 2.0}}}}}
    with pytest.raises(dg.DagsterResourceFunctionError) as err:
        dg.materialize([probe], resources={"strategy": StrategyResource()}, run_config=run_config)
    causes = []
    e: BaseException | None = err.value
    while e is not None:
        causes.append(str(e))
        e = e.__cause__
    assert any("CondorConfig.short_delta = 2.0 is outside (0.0, 1.0)" in c for c in causes)


def test_the_cli_json_accepts_flat_and_nested_keys_and_rejects_bad_json() -> None:
    r = StrategyResource.from_json('{"target_dte": 28, "min_dte": 14, "max_dte": 35, "hedge": {"base_fraction": 0.1}}')
    c = r.to_strategy_config()
    assert (c.condor.target_dte, c.hedge.base_fraction) == (28.0, 0.1)
    with pytest.raises(ValueError, match="not valid JSON"):
        StrategyResource.from_json("{target_dte: 28}")
    with pytest.raises(ValueError, match="ManagementConfig.breach_action"):
        StrategyResource.from_json('{"breach_action": "hold"}')
