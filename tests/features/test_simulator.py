"""Specification of the embedded simulator: contracts, determinism, point-in-time, calendars."""

from __future__ import annotations

import csv
from datetime import date
from functools import lru_cache
from pathlib import Path

import exchange_calendars as xc
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from features.simulate import DailyMarket, SimulationConfig, simulate_chain, simulate_daily
from features.events import nth_weekday
from features import calendar as cal
from features.simulate.dynamics import DEFAULT_PARAMS, EventSchedule, risk_neutral_variance
from pipelines.schemas import BREADTH_DAILY, SPX_DAILY, SPX_OPTIONS, VIX_TERM_STRUCTURE, VX_FUTURES

ORIGIN = date(2000, 1, 3)


@lru_cache(maxsize=None)
def sessions_through(end: date) -> tuple[date, ...]:
    xnys = xc.get_calendar("XNYS", start="1999-01-04", end="2026-12-31")
    return tuple(d.date() for d in xnys.sessions_in_range(ORIGIN.isoformat(), end.isoformat()))


def events_frame() -> pl.DataFrame:
    """A scheduled calendar: FOMC every ~6 weeks, CPI and PPI monthly (rule-like, 2000-2026)."""
    rows = []
    for y in range(2000, 2027):
        for m in range(1, 13):
            rows.append((date(y, m, 12), "CPI"))
            rows.append((date(y, m, 14), "PPI"))
            if m % 3 != 2:
                rows.append((nth_weekday(y, m, 2, 3), "FOMC"))  # third Wednesday
    return pl.DataFrame(
        {"date": [r[0] for r in rows], "event": [r[1] for r in rows], "source": ["rule:test"] * len(rows)},
        schema={"date": pl.Date, "event": pl.String, "source": pl.String},
    )


@lru_cache(maxsize=None)
def market(end: date, seed: int = 7) -> DailyMarket:
    return simulate_daily(sessions_through(end), events_frame(), SimulationConfig(seed=seed))


@pytest.mark.parametrize(
    ("name", "schema"),
    [
        ("spx_daily", SPX_DAILY),
        ("vix_term_structure", VIX_TERM_STRUCTURE),
        ("vx_futures", VX_FUTURES),
        ("breadth_daily", BREADTH_DAILY),
    ],
)
def test_daily_frames_pass_canonical_schemas_with_exact_dtypes(name, schema):
    frame = getattr(market(date(2003, 12, 31)), name)
    schema.validate(frame)
    assert frame.schema == pl.Schema({c: col.dtype.type for c, col in schema.columns.items()})


@pytest.mark.parametrize("size", ["default", "small"])
def test_chain_passes_spx_options_schema_with_exact_dtypes(size):
    day = date(2003, 12, 31)
    chain = simulate_chain(day, market(day), SimulationConfig(chain_size=size))
    SPX_OPTIONS.validate(chain)
    assert dict(chain.schema) == {c: col.dtype.type for c, col in SPX_OPTIONS.columns.items()}
    assert chain["source"].unique().to_list() == ["simulator:seed=7"]
    assert chain["snapshot_time"].unique().dt.strftime("%Y-%m-%d %H:%M %Z").to_list() == ["2003-12-31 16:15 EST"]
    assert chain["vendor_iv"].null_count() == chain.height


def test_same_seed_gives_identical_output():
    a = simulate_daily(sessions_through(date(2001, 6, 29)), events_frame(), SimulationConfig(seed=11))
    b = simulate_daily(sessions_through(date(2001, 6, 29)), events_frame(), SimulationConfig(seed=11))
    for name in ("spx_daily", "vix_term_structure", "vx_futures", "breadth_daily", "state"):
        assert_frame_equal(getattr(a, name), getattr(b, name))
    day = date(2001, 6, 29)
    assert_frame_equal(simulate_chain(day, a, SimulationConfig(seed=11)), simulate_chain(day, b, SimulationConfig(seed=11)))


def test_different_seeds_give_different_paths():
    a = market(date(2001, 6, 29), seed=1).spx_daily["close"].to_numpy()
    b = market(date(2001, 6, 29), seed=2).spx_daily["close"].to_numpy()
    assert not np.allclose(a, b)


def test_rows_for_a_date_do_not_depend_on_the_requested_range():
    short, long = market(date(2024, 12, 31)), market(date(2025, 6, 30))
    cut = pl.col("date") <= date(2024, 12, 31)
    for name in ("spx_daily", "vix_term_structure", "vx_futures", "breadth_daily", "state"):
        assert_frame_equal(getattr(short, name), getattr(long, name).filter(cut))
    day = date(2024, 12, 31)
    assert_frame_equal(simulate_chain(day, short, SimulationConfig()), simulate_chain(day, long, SimulationConfig()))


def test_sessions_not_starting_at_the_origin_are_rejected():
    with pytest.raises(ValueError, match="origin"):
        simulate_daily(sessions_through(date(2001, 1, 31))[5:], events_frame(), SimulationConfig())


@pytest.mark.parametrize("day", [date(2000, 3, 15), date(2008, 10, 10), date(2016, 6, 24), date(2024, 12, 31)])
def test_default_chain_has_10_to_20_thousand_contracts(day):
    chain = simulate_chain(day, market(date(2024, 12, 31)), SimulationConfig())
    assert 10_000 <= chain.height <= 20_000


@pytest.mark.parametrize("day", [date(2000, 3, 15), date(2008, 10, 10), date(2024, 12, 31)])
def test_small_chain_has_1_to_2_thousand_contracts(day):
    chain = simulate_chain(day, market(date(2024, 12, 31)), SimulationConfig(chain_size="small"))
    assert 1_000 <= chain.height <= 2_000


def test_chain_lists_am_monthlies_pm_dailies_and_multi_year_leaps():
    day = date(2024, 12, 31)
    chain = simulate_chain(day, market(day), SimulationConfig())
    exps = chain.select("root", "expiration", "settlement").unique()
    spx = exps.filter(pl.col("root") == "SPX")
    assert spx["settlement"].unique().to_list() == ["AM"]
    assert all(d == cal.monthly_option_expiration(d.year, d.month) for d in spx["expiration"].to_list())
    pmdays = sorted(exps.filter(pl.col("root") == "SPXW")["expiration"].to_list())
    assert pmdays[:5] == [date(2025, 1, 2), date(2025, 1, 3), date(2025, 1, 6), date(2025, 1, 7), date(2025, 1, 8)]
    assert max(exps["expiration"].to_list()) >= date(2027, 12, 1)
    assert date(2025, 1, 31) in pmdays  # month-end


def test_chain_strikes_use_five_point_grid_near_the_money():
    day = date(2024, 12, 31)
    chain = simulate_chain(day, market(day), SimulationConfig())
    spot = chain["underlying_price"][0]
    front = chain.filter((pl.col("expiration") == pl.col("expiration").min()) & (pl.col("option_type") == "C"))
    near = np.sort(front.filter((pl.col("strike") - spot).abs() < 0.02 * spot)["strike"].to_numpy())
    assert set(np.diff(near)) == {5.0}
    assert np.all(np.mod(chain["strike"].to_numpy(), 5.0) == 0)


def test_far_out_of_the_money_options_have_zero_bids_and_minimum_ask():
    day = date(2024, 12, 31)
    chain = simulate_chain(day, market(day), SimulationConfig())
    zero = chain.filter(pl.col("bid") == 0)
    assert zero.height > 0
    assert zero["ask"].min() >= 0.05
    assert chain["ask"].min() == pytest.approx(0.05)


def test_quotes_are_on_cboe_ticks():
    day = date(2024, 12, 31)
    chain = simulate_chain(day, market(day), SimulationConfig())
    for col in ("bid", "ask"):
        x = chain[col].to_numpy()
        tick = np.where(x >= 3.0, 0.10, 0.05)
        assert np.allclose(np.round(x / tick), x / tick, atol=1e-6)


def test_volume_and_open_interest_concentrate_near_the_money_and_short_dated():
    day = date(2024, 12, 31)
    chain = simulate_chain(day, market(day), SimulationConfig())
    spot = chain["underlying_price"][0]
    spx = chain.filter(pl.col("root") == "SPX")
    front = spx.filter(pl.col("expiration") == pl.col("expiration").min())
    m = (front["strike"] / spot).log().abs()
    near, far = front.filter(m < 0.02), front.filter(m > 0.10)
    assert near["volume"].mean() > 5 * far["volume"].mean()
    assert near["open_interest"].mean() > far["open_interest"].mean()
    days = (pl.col("expiration") - pl.col("quote_date")).dt.total_days()
    assert chain.filter(days <= 30)["volume"].mean() > 5 * chain.filter(days > 365)["volume"].mean()


def test_vx_futures_list_eight_contracts_expiring_after_each_date():
    vx = market(date(2003, 12, 31)).vx_futures
    counts = vx.group_by("date").len()["len"].unique().to_list()
    assert counts == [8]
    assert vx.filter(pl.col("expiration") <= pl.col("date")).height == 0
    assert vx["contract"][0] == f"VX {vx['expiration'][0].isoformat()}"


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        ((2024, 1), date(2024, 1, 17)),
        ((2024, 5), date(2024, 5, 22)),
        ((2024, 6), date(2024, 6, 18)),  # the Wednesday (June 19) is Juneteenth -> Tuesday
        ((2008, 2), date(2008, 2, 19)),  # the third Friday of March 2008 is Good Friday -> Tuesday
        ((2015, 3), date(2015, 3, 18)),
    ],
)
def test_vx_expiration_rule_known_dates(month, expected):
    assert cal.vx_expiration(*month) == expected


def test_vx_expiration_rule_matches_cfe_last_trading_days(shared_data: Path):
    """Each CFE settlement file ends on its contract's final settlement date (independent oracle)."""
    codes = "FGHJKMNQUVXZ"
    files = sorted((shared_data / "cfe_vx_futures_2008_2015").glob("CFE_*_VX.csv"))
    assert len(files) > 50
    last_row = {}
    for f in files:
        with f.open() as fh:
            last_row[f] = max(_parse_us_or_iso(r[0]) for r in csv.reader(fh) if r and r[0][:1].isdigit())
    data_end = max(last_row.values())  # contracts still trading when the collection stopped
    checked = 0
    for f, last in last_row.items():
        if last == data_end:
            continue
        code = f.stem.split("_")[1]
        month, year = codes.index(code[0]) + 1, 2000 + int(code[1:])
        assert cal.vx_expiration(year, month) == last, f.name
        checked += 1
    assert checked >= 85


def _parse_us_or_iso(s: str) -> date:
    if "/" in s:
        m, d, y = (int(x) for x in s.split("/"))
        return date(y, m, d)
    return date.fromisoformat(s[:10])


def test_business_day_rule_matches_nyse_calendar_except_unscheduled_closures():
    xnys = xc.get_calendar("XNYS", start="2000-01-01", end="2026-12-31")
    official = {d.date() for d in xnys.sessions_in_range("2000-01-03", "2026-12-31")}
    ours = set(cal.business_days(date(2000, 1, 3), date(2026, 12, 31)))
    unscheduled = {date.fromisoformat(d) for d in cal.UNSCHEDULED_CLOSURES}
    assert ours - official == unscheduled
    assert official - ours == set()


def test_monthly_expiration_moves_to_thursday_when_third_friday_is_a_holiday():
    assert cal.monthly_option_expiration(2025, 4) == date(2025, 4, 17)  # Good Friday 2025-04-18
    assert cal.monthly_option_expiration(2024, 1) == date(2024, 1, 19)


def test_vix_family_is_100_sqrt_of_model_fair_variance_at_each_horizon():
    dm = market(date(2003, 12, 31))
    schedule = EventSchedule.from_frame(dm.events)
    row = dm.state.filter(pl.col("date") == date(2003, 6, 2))
    v = row["variance"][0]
    now = date(2003, 6, 2).toordinal() * 1440 + 975
    got = dm.vix_term_structure.filter(pl.col("date") == date(2003, 6, 2))
    for series, days in {"VIX9D": 9, "VIX": 30, "VIX3M": 93, "VIX6M": 183}.items():
        ev = schedule.variance_between(np.array([now]), np.array([now + days * 1440]))[0]
        expected = 100 * np.sqrt(risk_neutral_variance(v, days / 365, DEFAULT_PARAMS.q, ev))
        assert got.filter(pl.col("series") == series)["value"][0] == pytest.approx(float(expected), rel=1e-12)


def test_scheduled_event_raises_fair_variance_by_its_variance_over_the_horizon():
    q = DEFAULT_PARAMS.q
    base = risk_neutral_variance(0.03, 30 / 365, q)
    bumped = risk_neutral_variance(0.03, 30 / 365, q, 0.006**2)
    assert float(bumped - base) == pytest.approx(0.006**2 / (30 / 365), rel=1e-12)


def test_event_shock_changes_the_path_only_from_the_event_day_on():
    sessions = sessions_through(date(2000, 6, 30))
    fomc = date(2000, 3, 21)
    ev = pl.DataFrame({"date": [fomc], "event": ["FOMC"], "source": ["t"]})
    none = pl.DataFrame(schema={"date": pl.Date, "event": pl.String, "source": pl.String})
    a = simulate_daily(sessions, ev, SimulationConfig()).spx_daily
    b = simulate_daily(sessions, none, SimulationConfig()).spx_daily
    before = pl.col("date") < fomc
    assert_frame_equal(a.filter(before), b.filter(before))
    on = pl.col("date") == fomc
    assert a.filter(on)["open"][0] == b.filter(on)["open"][0]  # FOMC is at 14:00, after the open
    assert a.filter(on)["close"][0] != b.filter(on)["close"][0]


def test_breadth_totals_about_3000_and_tracks_index_returns():
    dm = market(date(2003, 12, 31))
    b = dm.breadth_daily.join(dm.spx_daily, on="date")
    total = (b["advancing"] + b["declining"] + b["unchanged"]).to_numpy()
    assert total.min() >= 2700 and total.max() <= 3300
    ret = np.diff(np.log(b["close"].to_numpy()))
    net = (b["advancing"] - b["declining"]).to_numpy()[1:]
    assert 0.6 < np.corrcoef(ret, net)[0, 1] < 0.98


def test_index_level_in_2024_is_a_few_thousand_points():
    close = market(date(2024, 12, 31)).spx_daily.filter(pl.col("date") >= date(2024, 1, 1))["close"]
    assert 1500 < close.min() and close.max() < 12000


def test_open_gaps_and_intraday_ranges_are_plausible():
    d = market(date(2024, 12, 31)).spx_daily
    rng = np.log(d["high"] / d["low"]).to_numpy()
    gap = np.abs(np.log(d["open"].to_numpy()[1:] / d["close"].to_numpy()[:-1]))
    assert 0.005 < np.median(rng) < 0.02  # real S&P 500 1990-2023: about 1.0 %
    assert np.median(gap) < 0.5 * np.median(rng)


def test_no_strike_lies_beyond_the_real_chains_reach_of_2_6_times_the_forward():
    """Real SPX chains stop near 2.6x spot; the coarsening outer band once listed 4.8x."""
    dm = market(date(2025, 12, 31))
    days = [date(2025, 3, 3), date(2025, 4, 8), date(2025, 11, 14)]  # the simulated crisis year
    chain = pl.concat([simulate_chain(d, dm, SimulationConfig(seed=7)) for d in days])
    ratio = chain["strike"] / chain["underlying_price"]
    assert ratio.max() <= 2.6 * 1.15  # the forward of a 3-year LEAPS sits up to ~15 % above spot
    assert ratio.max() > 1.5  # the wings are still there


def test_every_simulated_session_has_advancing_and_declining_issues():
    breadth = market(date(2025, 12, 31)).breadth_daily
    # the minority side's expected share is at least 1 %; the binomial draw scatters around it
    assert (breadth["advancing"] > 0).all() and (breadth["declining"] > 0).all()
    changed = breadth["advancing"] + breadth["declining"]
    minority = breadth.select(pl.min_horizontal("advancing", "declining"))["advancing"]
    assert (minority / changed).min() > 0.003
