"""Point-in-time retrieval (Python and DuckDB SQL) against brute-force references."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.market_features import MARKET_FEATURE_COLUMNS, market_features
from features.point_in_time import (
    MARKET_FEATURE_DOCS,
    as_of,
    feature_registry_rows,
    features_at_sessions,
    rows_known_at_sessions,
)
from features.regimes import market_regimes
from synthetic_market import simulate_market

SQL = Path(__file__).resolve().parents[2] / "warehouse" / "point_in_time.sql"
NY = ZoneInfo("America/New_York")
Row = tuple[date, datetime, float]


def random_rows(seed: int) -> list[Row]:
    """Sessions with an original row at 16:15 ET and 0-2 revisions up to 10 days later."""
    rng = random.Random(seed)
    day = date(2024, 1, 2)
    rows: list[Row] = []
    for _ in range(rng.randint(1, 25)):
        day += timedelta(days=rng.randint(1, 3))
        first = datetime(day.year, day.month, day.day, 16, 15, tzinfo=NY)
        offsets = sorted(rng.sample(range(1, 10 * 24 * 60), rng.randint(0, 2)))
        for k, minutes in enumerate([0, *offsets]):
            rows.append((day, first + timedelta(minutes=minutes), rng.random() + k))
    rng.shuffle(rows)
    return rows


def to_frame(rows: list[Row]) -> pl.DataFrame:
    return pl.DataFrame(
        {"date": [r[0] for r in rows], "available_at": [r[1] for r in rows], "x": [r[2] for r in rows]},
        schema={"date": pl.Date, "available_at": pl.Datetime("us", "America/New_York"), "x": pl.Float64},
    )


def ref_as_of(rows: list[Row], wanted: date, cutoff: datetime, ttl_days: int | None = None) -> Row | None:
    known = [r for r in rows if r[0] <= wanted and r[1] <= cutoff]
    if not known:
        return None
    best = max(known, key=lambda r: (r[0], r[1]))
    if ttl_days is not None and (wanted - best[0]).days > ttl_days:
        return None
    return best


def ref_known_at(rows: list[Row], ts: datetime) -> Row | None:
    known = [r for r in rows if r[1] <= ts]
    return max(known, key=lambda r: (r[0], r[1])) if known else None


def queries(seed: int, rows: list[Row]) -> tuple[list[date], list[datetime]]:
    rng = random.Random(seed + 1000)
    lo = min(r[0] for r in rows) - timedelta(days=3)
    span = (max(r[0] for r in rows) - lo).days + 15
    days = [lo + timedelta(days=rng.randint(0, span)) for _ in range(12)]
    times = [
        datetime(lo.year, lo.month, lo.day, tzinfo=NY) + timedelta(minutes=rng.randint(0, span * 1440))
        for _ in range(6)
    ]
    return days, times


def as_tuple(row: dict) -> Row | None:
    if row["date"] is None:
        return None
    return (row["date"], row["available_at"].astimezone(timezone.utc), row["x"])


def norm(r: Row | None) -> Row | None:
    return None if r is None else (r[0], r[1].astimezone(timezone.utc), r[2])


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    c.execute(SQL.read_text())  # the macros are defined before the table exists
    return c


def load(con: duckdb.DuckDBPyConnection, rows: list[Row]) -> None:
    frame = to_frame(rows)
    con.register("src", frame.to_arrow())
    con.execute("CREATE OR REPLACE TABLE market_features AS SELECT * FROM src")


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_python_as_of_equals_brute_force(seed: int) -> None:
    rows = random_rows(seed)
    days, times = queries(seed, rows)
    frame = to_frame(rows)
    for cutoff in times:
        got = as_of(frame, days, cutoff)
        assert got["requested_date"].to_list() == days
        for wanted, row in zip(days, got.iter_rows(named=True)):
            assert as_tuple(row) == norm(ref_as_of(rows, wanted, cutoff))


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=5))
def test_python_as_of_ttl_nulls_stale_matches(seed: int, ttl: int) -> None:
    rows = random_rows(seed)
    days, times = queries(seed, rows)
    got = as_of(to_frame(rows), days, times[0], ttl=timedelta(days=ttl))
    for wanted, row in zip(days, got.iter_rows(named=True)):
        assert as_tuple(row) == norm(ref_as_of(rows, wanted, times[0], ttl))


def test_revision_is_invisible_before_it_is_published() -> None:
    d = date(2024, 3, 1)
    first = datetime(2024, 3, 1, 16, 15, tzinfo=NY)
    rows = [(d, first, 1.0), (d, first + timedelta(days=2), 2.0)]
    frame = to_frame(rows)
    assert as_of(frame, [d], first + timedelta(days=1))["x"][0] == 1.0
    assert as_of(frame, [d], first + timedelta(days=2))["x"][0] == 2.0
    assert as_of(frame, [d], first - timedelta(minutes=1))["x"][0] is None


def test_as_of_requires_a_timezone_aware_cutoff() -> None:
    with pytest.raises(ValueError):
        as_of(to_frame(random_rows(1)), [date(2024, 2, 1)], datetime(2024, 2, 1, 12))


@pytest.mark.parametrize("seed", range(15))
def test_sql_features_as_of_equals_brute_force(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    rows = random_rows(seed)
    load(con, rows)
    _, times = queries(seed, rows)
    for cutoff in times:
        got = con.execute("SELECT date, available_at, x FROM features_as_of(?) ORDER BY date", [cutoff]).fetchall()
        dates = sorted({r[0] for r in rows if r[1] <= cutoff})
        expected = [norm(ref_as_of(rows, d, cutoff)) for d in dates]
        assert [norm(g) for g in got] == expected


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("ttl", [None, 0, 2])
def test_sql_feature_as_of_dates_equals_brute_force(con: duckdb.DuckDBPyConnection, seed: int, ttl: int | None) -> None:
    rows = random_rows(seed)
    load(con, rows)
    days, times = queries(seed, rows)
    con.register("wanted_src", pl.DataFrame({"date": days}).to_arrow())
    con.execute("CREATE OR REPLACE TABLE wanted AS SELECT * FROM wanted_src")
    for cutoff in times:
        got = con.execute(
            "SELECT requested_date, date, available_at, x FROM feature_as_of_dates('wanted', ?, ttl_days := ?)",
            [cutoff, ttl],
        ).fetchall()
        assert [g[0] for g in got] == sorted(set(days))
        for g in got:
            assert (None if g[1] is None else norm(g[1:])) == norm(ref_as_of(rows, g[0], cutoff, ttl))


@pytest.mark.parametrize("seed", range(15))
def test_sql_features_known_at_equals_brute_force(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    rows = random_rows(seed)
    load(con, rows)
    _, times = queries(seed, rows)
    times += [r[1] for r in rows]  # exactly at publication instants (ties)
    con.register("asks_src", pl.DataFrame({"ts": times}).to_arrow())
    con.execute("CREATE OR REPLACE TABLE asks AS SELECT * FROM asks_src")
    got = con.execute("SELECT request_ts, date, available_at, x FROM features_known_at('asks')").fetchall()
    assert len(got) == len(set(times))
    for g in got:
        assert (None if g[1] is None else norm(g[1:])) == norm(ref_known_at(rows, g[0]))


def test_sql_macros_accept_another_table_name(con: duckdb.DuckDBPyConnection) -> None:
    rows = random_rows(3)
    frame = to_frame(rows)
    con.register("other_src", frame.to_arrow())
    con.execute("CREATE TABLE other AS SELECT * FROM other_src")
    cutoff = max(r[1] for r in rows)
    n = con.execute("SELECT count(*) FROM features_as_of(?, tbl := 'other')", [cutoff]).fetchone()[0]
    assert n == len({r[0] for r in rows})


def test_registry_rows_bound_non_null_values_and_carry_docs() -> None:
    f = pl.DataFrame(
        {
            "date": [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)],
            "available_at": [datetime(2024, 1, 2, 16, 15)] * 3,
            "rsi_14": [None, 55.0, 56.0],
            "vix": [13.0, 14.0, None],
        }
    )
    reg = feature_registry_rows(f, "market_features", "market_features_asset", "1", MARKET_FEATURE_DOCS)
    assert reg.columns == [
        "name",
        "table_name",
        "description",
        "units",
        "source_asset",
        "code_version",
        "first_date",
        "last_date",
    ]
    rows = {r["name"]: r for r in reg.iter_rows(named=True)}
    assert (rows["rsi_14"]["first_date"], rows["rsi_14"]["last_date"]) == (date(2024, 1, 3), date(2024, 1, 4))
    assert (rows["vix"]["first_date"], rows["vix"]["last_date"]) == (date(2024, 1, 2), date(2024, 1, 3))
    assert rows["vix"]["units"] == "index points"


def test_registry_refuses_undocumented_columns() -> None:
    f = pl.DataFrame({"date": [date(2024, 1, 2)], "mystery": [1.0]})
    with pytest.raises(KeyError, match="mystery"):
        feature_registry_rows(f, "t", "a", "1", MARKET_FEATURE_DOCS)


def test_docs_cover_every_market_feature_and_regime_column() -> None:
    m = simulate_market(300, seed=2)
    f = market_features(m.spx_daily, m.breadth, m.vix_ts, m.vx_futures, m.events)
    r = market_regimes(f, hmm_min_train=200)
    missing = (set(MARKET_FEATURE_COLUMNS) | set(r.columns)) - set(MARKET_FEATURE_DOCS)
    assert not missing
    assert all(desc and units for desc, units in MARKET_FEATURE_DOCS.values())


# --------------------------------------------------------------------------- revisions
def _rows(values, hour=16):
    from datetime import date as _d
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    return pl.DataFrame(
        {
            "date": [_d(2024, 1, 2 + i) for i in range(len(values))],
            "available_at": [datetime(2024, 1, 2 + i, hour, 15, tzinfo=ny) for i in range(len(values))],
            "vix": values,
        }
    ).with_columns(pl.col("available_at").dt.convert_time_zone("America/New_York"))


def test_merge_revisions_is_idempotent_for_unchanged_values():
    from features.point_in_time import merge_revisions

    stored = _rows([13.0, 14.0])
    again = merge_revisions(stored, _rows([13.0, 14.0]), datetime(2024, 6, 1, tzinfo=timezone.utc))
    assert again.equals(stored)


def test_a_changed_value_is_a_new_revision_and_the_old_one_stays_visible_as_of_before():
    from features.point_in_time import as_of, merge_revisions

    learned = datetime(2024, 6, 1, 12, tzinfo=timezone.utc)
    merged = merge_revisions(_rows([13.0, 14.0]), _rows([13.0, 15.5]), learned)
    assert merged.height == 3
    before = as_of(merged, [date(2024, 1, 3)], datetime(2024, 2, 1, tzinfo=timezone.utc))
    after = as_of(merged, [date(2024, 1, 3)], datetime(2024, 7, 1, tzinfo=timezone.utc))
    assert before["vix"].to_list() == [14.0]
    assert after["vix"].to_list() == [15.5]


@pytest.mark.parametrize("seed", range(40))
def test_features_at_sessions_equals_brute_force_at_each_decision_instant(seed: int) -> None:
    """Each session reads, at 16:15 New York on it, the latest row known then (the latest
    date, then its latest revision): the reference scans every row."""
    rows = random_rows(seed)
    sessions = sorted({r[0] + timedelta(days=k) for r in rows for k in (0, 1, 5)})
    got = features_at_sessions(to_frame(rows), pl.Series(sessions))
    assert got["date"].to_list() == sessions
    for s, feature_date, x in zip(got["date"], got["feature_date"], got["x"]):
        instant = datetime(s.year, s.month, s.day, 16, 15, tzinfo=NY)
        ref = ref_known_at(rows, instant)
        assert (feature_date, x) == ((ref[0], ref[2]) if ref else (None, None))


def test_a_revision_published_after_the_decision_instant_is_not_read() -> None:
    day = date(2024, 3, 5)
    close = datetime(2024, 3, 5, 16, 15, tzinfo=NY)
    rows = [(day, close, 1.0), (day, close + timedelta(minutes=1), 2.0), (day, close + timedelta(days=1), 3.0)]
    got = features_at_sessions(to_frame(rows), pl.Series([day, date(2024, 3, 6), date(2024, 3, 7)]))
    assert got["x"].to_list() == [1.0, 3.0, 3.0]


def test_a_row_cannot_be_known_before_its_own_session_closes() -> None:
    """An ``available_at`` earlier than the row's own session (a data error) does not let a
    decision of an earlier session read it."""
    rows = [(date(2024, 3, 5), datetime(2024, 3, 4, 9, 0, tzinfo=NY), 1.0)]
    got = features_at_sessions(to_frame(rows), pl.Series([date(2024, 3, 4), date(2024, 3, 5)]))
    assert got["x"].to_list() == [None, 1.0]


def test_option_rows_are_used_only_by_the_session_that_knew_them() -> None:
    """An intraday snapshot stamped after the decision instant is not a row of that session's
    decision; an end-of-day snapshot pulled in the evening holds the closing quotes."""
    at = lambda h, m: datetime(2024, 3, 5, h, m, tzinfo=NY)  # noqa: E731
    frame = pl.DataFrame(
        {"quote_date": [date(2024, 3, 5)] * 3, "snapshot_time": [at(12, 0), at(16, 40), at(18, 0)],
         "snapshot_kind": ["intraday", "intraday", "eod"]},
        schema_overrides={"snapshot_time": pl.Datetime("us", "America/New_York")},
    )
    kept = rows_known_at_sessions(frame, "quote_date", "snapshot_time")
    assert kept["snapshot_time"].dt.hour().to_list() == [12, 18]
