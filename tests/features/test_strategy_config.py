"""The one typed strategy configuration: validated when built, readable from flat or nested JSON."""

from __future__ import annotations

import dataclasses

import pytest

from features.backtest import option_dte_bound
from features.strategy_config import SECTIONS, CondorConfig, HedgeConfig, StrategyConfig


def test_flat_prefixed_and_nested_keys_reach_their_sections() -> None:
    c = StrategyConfig.from_dict(
        {"target_dte": 28, "hedge_base_fraction": 0.1, "fill": {"model": "mid"}, "cndr_short_delta": 0.25}
    )
    assert (c.condor.target_dte, c.hedge.base_fraction, c.fill.model, c.cndr.short_delta) == (28.0, 0.1, "mid", 0.25)
    assert c.condor.short_delta == CondorConfig().short_delta  # the bare name is the condor's


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"fill_model": "vwap"}, "FillConfig.model = 'vwap' is not one of"),
        ({"breach_action": "panic"}, "ManagementConfig.breach_action"),
        ({"short_delta": 1.5}, "CondorConfig.short_delta = 1.5 is outside (0.0, 1.0)"),
        ({"min_dte": 70}, "CondorConfig.min_dte = 70.0 must not exceed CondorConfig.max_dte"),
        ({"beta_window": 2.5}, "HedgeConfig.beta_window = 2.5 must be a whole number"),
        ({"target_dte": "28"}, "CondorConfig.target_dte = '28' must be a number"),
        ({"blocked_vol_regimes": "stressed"}, "must be a list of strings"),
        ({"block_event_windows": "no"}, "must be true or false"),
        ({"targt_dte": 28}, "unknown parameter 'targt_dte'"),
        ({"condor": {"targt_dte": 28}}, "unknown condor field(s) ['targt_dte']"),
    ],
)
def test_a_bad_value_is_refused_when_the_configuration_is_built(values: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        StrategyConfig.from_dict(values)
    assert message in str(err.value)


def test_dataclasses_validate_direct_construction_too() -> None:
    with pytest.raises(ValueError, match="HedgeConfig.engine_instrument"):
        HedgeConfig(engine_instrument="straddle")  # type: ignore[arg-type]


def test_to_dict_and_from_dict_round_trip_every_field() -> None:
    changed = {
        name: {f.name: getattr(dc(), f.name) for f in dataclasses.fields(dc)} for name, dc in SECTIONS.items()
    }
    assert StrategyConfig.from_dict(StrategyConfig().to_dict()) == StrategyConfig()
    assert StrategyConfig.from_dict(changed) == StrategyConfig()


def test_the_option_read_follows_max_dte_instead_of_a_fixed_cap() -> None:
    assert option_dte_bound(StrategyConfig.from_dict({"target_dte": 80, "min_dte": 60, "max_dte": 90})) == 90.0
    assert option_dte_bound(StrategyConfig.from_dict({"target_dte": 20, "min_dte": 10, "max_dte": 25})) >= 35.0
