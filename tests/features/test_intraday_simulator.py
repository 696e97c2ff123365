"""Intraday snapshots of the simulated chain (features/simulate/intraday.py), used for sizing."""

from __future__ import annotations

import copy
from datetime import date, datetime

import polars as pl
import pytest

from features.calendar import NY, LAST_CALENDAR_DAY, sessions_between
from features.simulate import SimulationConfig, simulate_chain, simulate_daily
from features.simulate.intraday import simulate_intraday_chains, snapshot_times
from pipelines.contracts import validate
from pipelines.events_calendar import events_between
from pipelines.schemas import SCHEMAS

CONFIG = SimulationConfig(chain_size="small")
DAY = date(2024, 3, 1)


@pytest.fixture(scope="module")
def market():
    return simulate_daily(sessions_between(CONFIG.origin, DAY), events_between(CONFIG.origin, LAST_CALENDAR_DAY), CONFIG)


def test_a_full_session_has_78_five_minute_snapshots_from_0935_to_1600():
    times = snapshot_times(DAY)
    assert len(times) == 78
    assert times[0] == datetime(2024, 3, 1, 9, 35, tzinfo=NY)
    assert times[-1] == datetime(2024, 3, 1, 16, 0, tzinfo=NY)


def test_an_early_close_ends_the_snapshots_at_1300():
    times = snapshot_times(date(2024, 11, 29))  # the day after Thanksgiving closes at 13:00
    assert len(times) == 42 and times[-1] == datetime(2024, 11, 29, 13, 0, tzinfo=NY)


def test_the_last_snapshot_is_the_end_of_day_chain_at_the_close(market):
    intraday = simulate_intraday_chains(DAY, market, CONFIG)
    last = intraday.filter(pl.col("snapshot_time") == intraday["snapshot_time"].max())
    eod = simulate_chain(DAY, market, CONFIG)
    assert last.drop("snapshot_time", "snapshot_kind").equals(eod.drop("snapshot_time", "snapshot_kind"))
    assert intraday["snapshot_time"].n_unique() == 78
    assert intraday.group_by("snapshot_time").agg(pl.col("underlying_price").n_unique())["underlying_price"].max() == 1
    assert intraday["underlying_price"].n_unique() > 70  # the index moves during the day


def test_intraday_rows_meet_the_chain_contract_keyed_by_snapshot(market):
    schema = copy.deepcopy(SCHEMAS["spx_options"])
    schema.unique = [*schema.unique, "snapshot_time"]
    frame = simulate_intraday_chains(DAY, market, CONFIG)
    assert validate(frame, schema).height == frame.height
