"""The assembled daily market-features frame: contract, formulas and point-in-time truth."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.market_features import MARKET_FEATURE_COLUMNS, market_features
from synthetic_market import SyntheticMarket, simulate_market
from features.term_structure import vx_constant_maturity, vx_roll_yield

N_DAYS = 420


@lru_cache(maxsize=1)
def market() -> SyntheticMarket:
    return simulate_market(N_DAYS, seed=3, start=date(2019, 6, 3), missing_share=0.03)


@lru_cache(maxsize=1)
def full_features() -> pl.DataFrame:
    m = market()
    return market_features(m.spx_daily, m.breadth, m.vix_ts, m.vx_futures, m.events)


def cut(m: SyntheticMarket, last: date) -> SyntheticMarket:
    """History known at the close of `last`: market data cut, release calendar kept whole."""
    keep = pl.col("date") <= last
    return SyntheticMarket(
        m.spx_daily.filter(keep), m.breadth.filter(keep), m.vix_ts.filter(keep), m.vx_futures.filter(keep), m.events
    )


def test_columns_are_exactly_the_contract() -> None:
    assert full_features().columns == MARKET_FEATURE_COLUMNS


def test_one_row_per_spx_session_in_date_order() -> None:
    f = full_features()
    assert f["date"].to_list() == market().spx_daily["date"].sort().to_list()


def test_available_at_is_1615_new_york_in_winter_and_summer() -> None:
    f = full_features()
    assert f.schema["available_at"] == pl.Datetime("us", "America/New_York")
    ny = ZoneInfo("America/New_York")
    for row in f.select("date", "available_at").iter_rows():
        if row[0] in (date(2019, 7, 1), date(2019, 12, 2)):
            assert row[1] == datetime(row[0].year, row[0].month, row[0].day, 16, 15, tzinfo=ny)
    utc_hours = f.select(pl.col("available_at").dt.convert_time_zone("UTC").dt.hour())["available_at"].unique().sort()
    assert utc_hours.to_list() == [20, 21]  # EDT and EST


def test_vrp_is_vix_squared_minus_realized_variance_points() -> None:
    f = full_features().drop_nulls(["vrp"])
    np.testing.assert_allclose(f["vrp"], f["vix"] ** 2 - (100.0 * f["rv_cc_21"]) ** 2, rtol=1e-10)
    np.testing.assert_allclose(f["vrp_vol"], f["vix"] - 100.0 * f["rv_cc_21"], rtol=1e-12)


def test_term_structure_ratios_divide_the_named_series() -> None:
    f = full_features().drop_nulls(["vix9d", "vix", "vix3m", "vix6m"])
    np.testing.assert_allclose(f["ts_vix9d_vix"], f["vix9d"] / f["vix"])
    np.testing.assert_allclose(f["ts_vix_vix3m"], f["vix"] / f["vix3m"])
    np.testing.assert_allclose(f["ts_vix3m_vix6m"], f["vix3m"] / f["vix6m"])


def test_replicated_values_fill_only_missing_official_closes() -> None:
    m = market()
    vix = m.vix_ts.filter(pl.col("series") == "VIX")
    dropped = vix["date"][10]
    kept = vix["date"][11]
    vix_ts = m.vix_ts.filter(~((pl.col("series") == "VIX") & (pl.col("date") == dropped)))
    replicated = pl.DataFrame(
        {
            "date": [dropped, kept],
            "vix_9d": [None, None],
            "vix_30d": [99.0, 98.0],
            "vix_93d": [None, None],
            "vix_183d": [None, None],
        },
        schema_overrides={"vix_9d": pl.Float64, "vix_93d": pl.Float64, "vix_183d": pl.Float64},
    )
    f = market_features(m.spx_daily, m.breadth, vix_ts, m.vx_futures, m.events, replicated)
    got = dict(f.select("date", "vix").iter_rows())
    assert got[dropped] == 99.0
    assert got[kept] == vix.filter(pl.col("date") == kept)["value"][0]


def vx_frame(trade: date, rows: list[tuple[date, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [trade] * len(rows),
            "contract": [f"VX {e}" for e, _ in rows],
            "expiration": [e for e, _ in rows],
            "settle": [s for _, s in rows],
            "volume": [1] * len(rows),
            "open_interest": [1] * len(rows),
            "source": ["test"] * len(rows),
        }
    )


def test_vx_cm30_interpolates_between_bracketing_monthlies_ignoring_weeklies() -> None:
    trade = date(2024, 1, 3)
    vx = vx_frame(
        trade,
        [(date(2024, 1, 17), 14.0), (date(2024, 1, 24), 99.0), (date(2024, 2, 14), 16.0), (date(2024, 3, 20), 17.0)],
    )
    # monthlies at 14 and 42 calendar days; 2024-01-24 is a weekly
    w = (42 - 30) / (42 - 14)
    assert vx_constant_maturity(vx)["vx_cm30"][0] == pytest.approx(w * 14.0 + (1 - w) * 16.0, rel=1e-14)


def test_vx_roll_yield_is_m2_minus_m1_over_m1_and_skips_expiring_contract() -> None:
    trade = date(2024, 1, 17)  # the January contract settles this morning
    vx = vx_frame(trade, [(date(2024, 1, 17), 13.0), (date(2024, 2, 14), 15.0), (date(2024, 3, 20), 16.5)])
    assert vx_roll_yield(vx)["vx_roll_yield"][0] == pytest.approx((16.5 - 15.0) / 15.0, rel=1e-14)


def test_days_to_release_count_xnys_sessions() -> None:
    m = market()
    f = full_features()
    cal = xcals.get_calendar("XNYS", start="2019-01-01", end="2021-12-31")
    fomc = sorted(m.events.filter(pl.col("event") == "FOMC")["date"].to_list())
    for d, days in f.select("date", "days_to_fomc").rows()[::37]:
        nxt = next(e for e in fomc if e >= d)
        sessions = cal.sessions_in_range(d.isoformat(), nxt.isoformat())
        assert days == len(sessions) - 1


def test_event_window_defaults_to_day_before_and_day_of() -> None:
    f = full_features()
    nearest = pl.min_horizontal("days_to_fomc", "days_to_cpi", "days_to_ppi")
    expected = f.select((nearest <= 1).fill_null(False).alias("w"))["w"]
    assert (f["in_event_window"] == expected).all()
    assert (f.filter(pl.col("is_cpi_day"))["days_to_cpi"] == 0).all()


def test_missing_breadth_day_is_null_not_filled() -> None:
    m = market()
    missing = set(m.spx_daily["date"]) - set(m.breadth["date"])
    assert missing
    f = full_features().filter(pl.col("date").is_in(list(missing)))
    assert f["net_advances"].null_count() == f.height


def test_empty_optional_inputs_give_null_columns() -> None:
    m = market()
    f = market_features(m.spx_daily, m.breadth.clear(), m.vix_ts.clear(), m.vx_futures.clear(), m.events.clear())
    assert f.columns == MARKET_FEATURE_COLUMNS
    assert f["vix"].null_count() == f.height and f["vx_cm30"].null_count() == f.height
    assert f["days_to_fomc"].null_count() == f.height and not f["is_event_day"].any()
    assert f["rsi_14"].null_count() == 14


@settings(max_examples=12, deadline=None)
@given(st.integers(min_value=1, max_value=N_DAYS - 1))
def test_every_column_is_invariant_to_truncating_the_history(t: int) -> None:
    m = market()
    last = m.spx_daily["date"][t]
    c = cut(m, last)
    truncated = market_features(c.spx_daily, c.breadth, c.vix_ts, c.vx_futures, c.events)
    expected = full_features().filter(pl.col("date") <= last)
    assert_frame_equal(truncated, expected, check_exact=False, rtol=1e-12, atol=1e-12)


def test_future_data_does_not_leak_into_rsi_at_a_shock() -> None:
    # A huge move on the last day must not change any earlier row.
    m = market()
    spx = m.spx_daily.with_columns(
        pl.when(pl.int_range(pl.len()) == pl.len() - 1).then(pl.col(c) * 2.0).otherwise(pl.col(c)).alias(c)
        for c in ("open", "high", "low", "close")
    )
    shocked = market_features(spx, m.breadth, m.vix_ts, m.vx_futures, m.events)
    assert_frame_equal(shocked.head(N_DAYS - 1), full_features().head(N_DAYS - 1))
    assert not math.isclose(shocked["rsi_14"][-1], full_features()["rsi_14"][-1])


def test_forward_vix_of_a_flat_term_structure_is_the_same_level():
    from features.term_structure import model_vx_futures

    d = date(2024, 1, 2)
    ts = pl.DataFrame({"date": [d] * 4, "series": ["VIX9D", "VIX", "VIX3M", "VIX6M"], "value": [18.0] * 4})
    exps = pl.DataFrame({"date": [d, d, d], "expiration": [date(2024, 1, 17), date(2024, 2, 14), date(2024, 6, 18)]})
    vx = model_vx_futures(ts, exps)
    assert vx["settle"].to_list() == pytest.approx([18.0, 18.0, 18.0], abs=1e-9)


def test_forward_vix_matches_forward_variance_by_hand():
    from features.term_structure import model_vx_futures

    d = date(2024, 1, 2)
    ts = pl.DataFrame({"date": [d] * 4, "series": ["VIX9D", "VIX", "VIX3M", "VIX6M"], "value": [12.0, 14.0, 16.0, 18.0]})
    # expiry 31.5 days out: forward window [31.5, 61.5] days lies between the 30d and 93d tenors
    exps = pl.DataFrame({"date": [d], "expiration": [d + timedelta(days=31)]})
    w = lambda tau: (0.14**2 * 30 + (0.16**2 * 93 - 0.14**2 * 30) * (tau - 30) / 63) / 365  # noqa: E731
    expected = 100 * ((w(61) - w(31)) * 365 / 30) ** 0.5
    assert model_vx_futures(ts, exps)["settle"][0] == pytest.approx(expected, rel=1e-12)
