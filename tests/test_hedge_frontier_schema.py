"""The hedge_frontier data dictionary names exactly the sweep's periods, metrics and crisis windows."""

from features.hedge_sweep import CRISES, PERIOD_METRICS, PERIODS
from pipelines.assets.hedge_frontier import stored_columns
from pipelines.data_dictionary import CRISIS_WINDOWS, DICTIONARY, FRONTIER_METRICS, PERIOD_NAMES


def test_the_frontier_dictionary_follows_the_sweep_definitions() -> None:
    assert tuple(PERIOD_NAMES) == tuple(PERIODS)
    assert CRISIS_WINDOWS == tuple(CRISES)
    assert tuple(FRONTIER_METRICS) == PERIOD_METRICS
    assert list(DICTIONARY["hedge_frontier"]) == list(stored_columns())
