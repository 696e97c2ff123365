"""The warehouse: atomic partitions, vendor precedence, and readers that never block writers."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest import IngestError, store_rows
from pipelines.schemas import SPX_OPTIONS, conform
from pipelines.warehouse import Warehouse

D1, D2 = date(2024, 1, 2), date(2024, 1, 3)


def vix_rows(days, value: float, source: str = "simulator:seed=7") -> pl.DataFrame:
    return pl.DataFrame(
        {"date": list(days), "series": ["VIX"] * len(days), "value": [value] * len(days), "source": [source] * len(days)}
    )


def daily_rows(n: int, day: date, price: float) -> pl.DataFrame:
    """A big per-session frame (stored under the one-file-per-session grain)."""
    return pl.DataFrame(
        {
            "quote_date": [day] * n,
            "k": list(range(n)),
            "price": [price] * n,
        }
    )


@pytest.fixture
def store(tmp_path) -> Warehouse:
    return Warehouse(tmp_path / "wh")


def test_rewriting_a_partition_is_idempotent(store):
    store.write_partitions("vix_term_structure", vix_rows([D1, D2], 13.0), "simulated", [D1, D2])
    first = store.read("vix_term_structure")
    store.write_partitions("vix_term_structure", vix_rows([D1, D2], 13.0), "simulated", [D1, D2])
    assert store.read("vix_term_structure").equals(first)
    assert first.height == 2


def test_a_write_that_stores_no_file_leaves_the_manifest_as_it_was(store):
    from pipelines.readers.quality import empty_quarantine

    store.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    before = store.manifest_path.read_bytes()
    store.write_quarantine("vix_term_structure__x", empty_quarantine(), [D2])  # nothing to record
    with store.write_lock():
        store.read("vix_term_structure")
    assert store.manifest_path.read_bytes() == before


def test_replace_mode_only_touches_the_dates_written(store):
    store.write_partitions("vix_term_structure", vix_rows([D1, D2], 13.0), "simulated", [D1, D2])
    store.write_partitions("vix_term_structure", vix_rows([D2], 20.0), "simulated", [D2])
    assert store.read("vix_term_structure")["value"].to_list() == [13.0, 20.0]


def test_vendor_rows_win_over_simulated_rows_for_the_same_session(store):
    store.write_partitions("vix_term_structure", vix_rows([D1, D2], 13.0), "simulated", [D1, D2])
    store.write_partitions("vix_term_structure", vix_rows([D2], 17.5, "file:VIX_History.csv"), "vendor", [D2])
    python_view = store.read("vix_term_structure")
    sql_view = store.connect_readonly().sql("SELECT * FROM vix_term_structure ORDER BY date").pl()
    assert python_view["value"].to_list() == [13.0, 17.5]
    assert sql_view["value"].to_list() == [13.0, 17.5]


def test_rows_outside_the_partitions_being_written_are_refused(store):
    with pytest.raises(ValueError, match="outside the partitions"):
        store.write_partitions("vix_term_structure", vix_rows([D1, D2], 13.0), "simulated", [D1])


def test_a_frame_breaking_the_contract_writes_nothing(store):
    store.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    with pytest.raises(IngestError, match="missing columns"):
        store_rows(store, "vix_term_structure", vix_rows([D1], 14.0).drop("value"), "simulated", [D1], "sim")
    assert store.read("vix_term_structure")["value"].to_list() == [13.0]


def test_bad_rows_are_quarantined_with_a_reason_not_dropped(store):
    frame = pl.concat([vix_rows([D1], 13.0), vix_rows([D2], -1.0), vix_rows([D2], 15.0)])
    report = store_rows(store, "vix_term_structure", frame, "simulated", [D1, D2], "sim")
    assert (report.rows_stored, report.rows_quarantined) == (2, 1)
    quarantined = store.read("quarantine")
    assert quarantined["reason"].to_list() == ["value:greater_than(0)"]
    assert json.loads(quarantined["raw"][0])["value"] == -1.0


def test_duplicate_keys_keep_the_first_row_and_quarantine_the_rest(store):
    frame = pl.concat([vix_rows([D1], 13.0), vix_rows([D1], 14.0)])
    report = store_rows(store, "vix_term_structure", frame, "simulated", [D1], "sim")
    assert report.reasons == {"duplicate_key": 1}
    assert store.read("vix_term_structure")["value"].to_list() == [13.0]


def option_rows(days, bid: float) -> pl.DataFrame:
    """Three SPX_OPTIONS rows per session (a table stored one file per session)."""
    rows = [{"quote_date": d, "snapshot_time": datetime(d.year, d.month, d.day, 16, 15), "snapshot_kind": "eod",
             "root": "SPXW", "expiration": date(2024, 2, 16), "settlement": "PM", "strike": 4700.0 + 5 * i,
             "option_type": "C", "bid": bid, "ask": bid + 0.5, "underlying_price": 4750.0, "source": "file:test"}
            for d in days for i in range(3)]
    frame = pl.DataFrame(rows).with_columns(pl.col("snapshot_time").dt.replace_time_zone("America/New_York"))
    return conform(frame, SPX_OPTIONS)


def test_a_sessions_vendor_chain_hides_only_the_simulated_chain_of_its_underlying(store):
    simulated = pl.concat([option_rows([D1], 1.0), option_rows([D1], 1.0).with_columns(root=pl.lit("SPY"))])
    store.write_partitions("spx_options", simulated.with_columns(source=pl.lit("simulator:seed=7")), "simulated", [D1])
    store.write_partitions("spx_options", option_rows([D1], 2.0).with_columns(root=pl.lit("SPY")), "vendor", [D1])
    expected = [("SPXW", 1.0, "simulator:seed=7")] * 3 + [("SPY", 2.0, "file:test")] * 3
    python_view = store.read("spx_options").sort("root").select("root", "bid", "source")
    sql_view = store.connect_readonly().sql("SELECT root, bid, source FROM spx_options ORDER BY root").pl()
    assert python_view.rows() == expected
    assert sql_view.rows() == expected


def test_a_multi_session_write_stores_one_file_per_session_exactly_as_single_writes_do(store, tmp_path):
    days = [D1, D2, date(2024, 1, 4)]
    store.write_partitions("spx_options", option_rows(days, 1.0), "vendor", days)
    one_by_one = Warehouse(tmp_path / "single")
    for d in days:
        one_by_one.write_partitions("spx_options", option_rows([d], 1.0), "vendor", [d])
    assert [f.parent.name for f in store.files("spx_options")] == [f"date={d}" for d in days]
    for mine, single in zip(store.files("spx_options"), one_by_one.files("spx_options")):
        assert pl.read_parquet(mine).equals(pl.read_parquet(single))
    assert not (store.root / "staging").exists()  # nothing staged is left behind


def test_a_multi_session_replace_with_no_rows_at_all_empties_every_session(store):
    store.write_partitions("spx_options", option_rows([D1, D2], 1.0), "vendor", [D1, D2])
    store.write_partitions("spx_options", option_rows([D1], 1.0).clear(), "vendor", [D1, D2])
    assert store.read("spx_options").is_empty()


def test_a_multi_session_replace_empties_a_session_without_rows(store):
    store.write_partitions("spx_options", option_rows([D1, D2], 1.0), "vendor", [D1, D2])
    store.write_partitions("spx_options", option_rows([D1], 2.0), "vendor", [D1, D2])
    stored = store.read("spx_options")
    assert stored["quote_date"].unique().to_list() == [D1] and stored["bid"].unique().to_list() == [2.0]


# --------------------------------------------------------------------------- processes
_HOLD_OPEN = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
    con.sql("SELECT count(*) FROM vix_term_structure").fetchall()
    print("holding", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("mode", ["ro", "rw"])
def test_a_user_session_holding_the_duckdb_file_never_fails_a_write(store, mode):
    store.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    assert store.publish_views()
    held = store.snapshot_path()
    user = subprocess.Popen([sys.executable, "-c", _HOLD_OPEN, str(store.db_path), mode], stdout=subprocess.PIPE, text=True)
    try:
        assert user.stdout.readline().strip() == "holding"
        report = store_rows(store, "vix_term_structure", vix_rows([D2], 14.0), "simulated", [D2], "sim")
        assert report.rows_stored == 1
        assert store.publish_views()  # a new snapshot beside the held one, not skipped, not failed
        assert store.read("vix_term_structure")["value"].to_list() == [13.0, 14.0]
        con = duckdb.connect(str(store.db_path), read_only=True)  # a new session sees the new rows at once
        assert con.sql("SELECT count(*) FROM vix_term_structure").fetchone()[0] == 2
        con.close()
        assert held.exists()  # the user's snapshot stays while it is held
    finally:
        user.kill()
        user.wait()
    import pipelines.warehouse as w

    w.SNAPSHOT_GRACE_SECONDS, grace = 0, w.SNAPSHOT_GRACE_SECONDS
    try:
        store.write_partitions("vix_term_structure", vix_rows([D2], 15.0), "simulated", [D2])
        assert store.publish_views()
    finally:
        w.SNAPSHOT_GRACE_SECONDS = grace
    assert not held.exists()  # released snapshots go


def _writer(root: str, rounds: int, n: int) -> None:
    from pipelines.warehouse import TABLES, Warehouse, register_table

    if "bench_rows" not in TABLES:
        register_table("bench_rows", "quote_date", "date")
    wh = Warehouse(root)
    for i in range(rounds):
        wh.write_partitions("bench_rows", daily_rows(n, D1, float(i)), "derived", [D1])
        wh.publish_views()


def test_queries_during_a_materialization_see_whole_partitions_only(store):
    """Readers open new sessions while a writer rewrites and publishes one partition again and again."""
    from pipelines.warehouse import TABLES, register_table

    if "bench_rows" not in TABLES:
        register_table("bench_rows", "quote_date", "date")
    n = 200_000
    store.write_partitions("bench_rows", daily_rows(n, D1, -1.0), "derived", [D1])
    assert store.publish_views()
    writer = mp.get_context("spawn").Process(target=_writer, args=(str(store.root), 8, n))
    writer.start()
    seen = []
    try:
        while writer.is_alive():
            con = duckdb.connect(str(store.db_path), read_only=True)
            seen.append(con.sql("SELECT count(*), count(DISTINCT price), min(price) FROM bench_rows").fetchone())
            con.close()
    finally:
        writer.join()
    assert writer.exitcode == 0  # the reader never broke the writer
    assert seen, "the reader ran no query while the writer worked"
    assert all(s[:2] == (n, 1) for s in seen), sorted(set(seen))  # never half of one version, never two mixed
    assert len({s[2] for s in seen}) > 1, "the reader saw only one version: the test proved nothing"


_KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from datetime import date
    import polars as pl
    from pipelines.warehouse import Warehouse
    import pipelines.warehouse as w

    def stall(src, dst):  # the process is killed between writing the file and publishing it
        print("written", flush=True)
        time.sleep(60)
    w.os.replace = stall
    frame = pl.DataFrame({"date": [date(2024, 1, 2)], "series": ["VIX"], "value": [99.0], "source": ["sim"]})
    Warehouse(sys.argv[1]).write_partitions("vix_term_structure", frame, "simulated", [date(2024, 1, 2)])
    """
)


def test_a_write_killed_midway_leaves_the_previous_partition_intact(store):
    store.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    env = {**os.environ, "PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(store.root)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "written"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert any((store.root / "staging").iterdir())  # the killed writer's half-done file
    assert store.read("vix_term_structure")["value"].to_list() == [13.0]
    assert store.connect_readonly().sql("SELECT value FROM vix_term_structure").fetchall() == [(13.0,)]
    # the next write succeeds, the lock was released with the dead process, and its staging is gone
    store.write_partitions("vix_term_structure", vix_rows([D1], 14.0), "simulated", [D1])
    assert store.read("vix_term_structure")["value"].to_list() == [14.0]
    assert not (store.root / "staging").exists()


def test_a_rewrite_adds_a_version_and_superseded_versions_go_after_the_grace_period(store, monkeypatch):
    import pipelines.warehouse as w

    store.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    store.write_partitions("vix_term_structure", vix_rows([D1], 14.0), "simulated", [D1])
    folder = store.table_dir("vix_term_structure") / "year=2024"
    assert len(list(folder.glob("simulated-*.parquet"))) == 2  # the old one stays readable for a while
    assert store.read("vix_term_structure")["value"].to_list() == [14.0]
    monkeypatch.setattr(w, "VERSION_GRACE_SECONDS", 0)
    store.write_partitions("vix_term_structure", vix_rows([D1], 15.0), "simulated", [D1])
    assert len(list(folder.glob("simulated-*.parquet"))) == 1
    assert store.connect_readonly().sql("SELECT value FROM vix_term_structure").fetchall() == [(15.0,)]


def test_a_parquet_file_the_store_did_not_write_is_ignored(store):
    """A forged newest version dropped into a partition folder is read by nobody."""
    store.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    folder = store.table_dir("vix_term_structure") / "year=2024"
    forged = vix_rows([D1, D2], 666.0, "forged")
    forged.write_parquet(folder / f"vendor-{time.time_ns() + 10**12}.parquet")
    (store.table_dir("vix_term_structure") / "year=2025").mkdir()
    forged.write_parquet(store.table_dir("vix_term_structure") / "year=2025" / "simulated-1.parquet")
    forged.write_parquet(store.schema_file("vix_term_structure"))  # the column-defining file, now with rows
    assert store.read("vix_term_structure")["value"].to_list() == [13.0]
    assert store.connect_readonly().sql("SELECT value FROM vix_term_structure").fetchall() == [(13.0,)]
    store.write_partitions("vix_term_structure", vix_rows([D2], 14.0), "simulated", [D2])  # nor by the next write
    assert store.read("vix_term_structure")["value"].to_list() == [13.0, 14.0]


def test_a_warehouse_written_before_manifests_is_adopted_once(store):
    """Files of the old layout (no manifest): the newest version of each kind, vendor rows winning."""
    folder = store.table_dir("vix_term_structure") / "year=2024"
    folder.mkdir(parents=True)
    vix_rows([D1, D2], 13.0).write_parquet(folder / "simulated-1.parquet")
    vix_rows([D1, D2], 14.0).write_parquet(folder / "simulated-2.parquet")
    vix_rows([D2], 20.0, "file:x").write_parquet(folder / "vendor-3.parquet")
    assert store.read("vix_term_structure")["value"].to_list() == [14.0, 20.0]
    assert store.manifest_path.exists()


def test_the_quarantine_table_exists_in_sql_when_nothing_was_quarantined(store):
    store_rows(store, "vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1], "sim")
    con = store.connect_readonly()
    assert con.sql("SELECT count(*) FROM quarantine").fetchone() == (0,)
    assert "reason" in [c[0] for c in con.sql("DESCRIBE quarantine").fetchall()]


# --------------------------------------------------------------------------- volsignals sql
@pytest.fixture
def sql_store(store, monkeypatch) -> Warehouse:
    monkeypatch.setenv("VOLSIGNALS_WAREHOUSE", str(store.root))
    store.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    return store


def _sql(query: str) -> str:
    """Run ``volsignals sql QUERY``; return its error line ('' on success)."""
    from pipelines.cli import main

    try:
        main(["sql", query])
    except SystemExit as exc:
        assert exc.code not in (0, None)
        return str(exc.code)
    return ""


@pytest.mark.parametrize("query, target", [
    ("COPY (SELECT 1 AS x) TO '{dir}/out.csv'", "out.csv"),
    ("ATTACH '{dir}/other.duckdb' AS o", "other.duckdb"),
    ("SELECT * FROM read_csv('{dir}/secret.csv')", None),
    ("SELECT * FROM read_parquet('{dir}/secret.parquet')", None),
    ("SET enable_external_access = true", None),
    ("DROP TABLE vix_term_structure", None),
    ("CREATE TABLE mine AS SELECT 1", None),
    ("INSTALL httpfs", None),
])
def test_volsignals_sql_can_read_the_tables_and_nothing_else(sql_store, tmp_path, capsys, query, target):
    (tmp_path / "secret.csv").write_text("password\nhunter2\n")
    pl.DataFrame({"password": ["hunter2"]}).write_parquet(tmp_path / "secret.parquet")
    error = _sql(query.format(dir=tmp_path))
    assert error.startswith("volsignals sql: ") and "\n" not in error
    assert "hunter2" not in capsys.readouterr().out
    if target:
        assert not (tmp_path / target).exists()
    assert _sql("SELECT value FROM vix_term_structure") == ""  # and the table is still there
    assert "13.0" in capsys.readouterr().out


def test_volsignals_sql_runs_exactly_one_statement(sql_store, capsys):
    assert _sql("SELECT 1; SELECT 2") == "volsignals sql: give exactly one SQL statement (got 2)"
    assert _sql("") == "volsignals sql: give exactly one SQL statement (got 0)"
    assert capsys.readouterr().out == ""


def test_volsignals_sql_reports_a_bad_query_in_one_line_without_a_traceback(sql_store, capsys):
    error = _sql("SELEC value FROM vix_term_structure")
    assert error.startswith("volsignals sql: Parser Error") and "\n" not in error
    assert "Traceback" not in capsys.readouterr().err
    assert _sql("SELECT nope FROM vix_term_structure").startswith("volsignals sql: Binder Error")


# --------------------------------------------------------------------------- precedence, one definition
_OPTION_ROOTS = ["SPX", "SPXW", "SPY", "XSP"]


@st.composite
def _writes(draw):
    """A sequence of chain writes: (kind, session, roots, bid)."""
    return draw(st.lists(st.tuples(st.sampled_from(["simulated", "vendor"]), st.sampled_from([D1, D2]),
                                   st.sets(st.sampled_from(_OPTION_ROOTS), min_size=1, max_size=3),
                                   st.integers(1, 50)), min_size=1, max_size=6))


def _chain(day: date, roots: set[str], bid: float, source: str) -> pl.DataFrame:
    return pl.concat([option_rows([day], bid).with_columns(root=pl.lit(r), source=pl.lit(source)) for r in sorted(roots)])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=_writes())
def test_sql_and_python_reads_agree_with_the_precedence_rule_for_any_sequence_of_writes(tmp_path_factory, writes):
    """Vendor rows win per session and underlying: the SQL snapshot, Warehouse.read and a
    brute-force model of the rule (the last write of each kind per session and underlying
    group, simulated shown only where no vendor rows are stored) return the same rows."""
    from pipelines.schemas import UNDERLYING
    from pipelines.warehouse import precedence_group

    store = Warehouse(tmp_path_factory.mktemp("prop"))
    model: dict[tuple[str, date], pl.DataFrame] = {}  # (kind, day) -> stored rows of that kind
    for kind, day, roots, bid in writes:
        frame = _chain(day, roots, float(bid), "file:test" if kind == "vendor" else "simulator:seed=7")
        if kind == "vendor":  # a landed file replaces its underlyings' chains of that session
            store.write_partitions("spx_options", frame, kind, [day], replace_within=precedence_group("spx_options"))
            brought = {UNDERLYING.get(r, r) for r in roots}
            old = model.get((kind, day), frame.clear())
            model[(kind, day)] = pl.concat([old.filter(~pl.col("root").replace_strict(UNDERLYING, default=pl.col("root"))
                                                       .is_in(list(brought))), frame])
        else:  # the simulator replaces the session's simulated chain whole
            store.write_partitions("spx_options", frame, kind, [day])
            model[(kind, day)] = frame
    expected = []
    for day in (D1, D2):
        vendor = model.get(("vendor", day))
        vendor_groups = set() if vendor is None else {UNDERLYING.get(r, r) for r in vendor["root"]}
        if vendor is not None:
            expected += vendor.select("quote_date", "root", "strike", "bid", "source").rows()
        if (sim := model.get(("simulated", day))) is not None:
            expected += [r for r in sim.select("quote_date", "root", "strike", "bid", "source").rows()
                         if UNDERLYING.get(r[1], r[1]) not in vendor_groups]
    python_rows = store.read("spx_options").select("quote_date", "root", "strike", "bid", "source").rows()
    sql_rows = store.connect_readonly().sql("SELECT quote_date, root, strike, bid, source FROM spx_options").fetchall()
    assert sorted(python_rows) == sorted(expected)
    assert sorted(sql_rows) == sorted(expected)


def test_volsignals_sql_answers_from_the_last_snapshot_while_a_writer_holds_the_lock(sql_store, capsys):
    assert sql_store.publish_views()
    with Warehouse(sql_store.root).write_lock():  # a long write in progress
        assert _sql("SELECT count(*) AS n FROM vix_term_structure") == ""
    assert "1" in capsys.readouterr().out


def test_a_snapshot_larger_than_the_working_memory_spills_to_disk_and_publishes(store, monkeypatch):
    """The real-path run's 18.5 M option rows needed DuckDB to spill; the spill folder's parent
    (staging) did not exist, and the publish at the end of a 10-minute run failed."""
    from pipelines import sql_snapshot
    from pipelines.warehouse import TABLES, register_table

    if "bench_rows" not in TABLES:
        register_table("bench_rows", "quote_date", "date")
    monkeypatch.setattr(sql_snapshot, "WORKING_MEMORY", "16MB")
    days = [date(2024, 1, d) for d in range(2, 7)]
    for day in days:
        store.write_partitions("bench_rows", daily_rows(400_000, day, 1.0), "derived", [day])
    assert store.publish_views()
    with duckdb.connect(str(store.db_path), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM bench_rows").fetchone()[0] == 2_000_000


def test_a_publish_flushes_the_folders_of_its_files_before_the_manifest_names_them(tmp_path, monkeypatch):
    import os

    import pipelines.warehouse as wh

    store = wh.Warehouse(tmp_path / "w")
    events: list[tuple[str, str]] = []
    real_fsync_dir, real_replace = wh._fsync_dir, os.replace
    monkeypatch.setattr(wh, "_fsync_dir", lambda p: (events.append(("fsync_dir", str(p))), real_fsync_dir(p))[1])
    monkeypatch.setattr(wh.os, "replace", lambda a, b: (events.append(("replace", str(b))), real_replace(a, b))[1])
    store.write_partitions("vix_term_structure", vix_rows([D1, D2], 13.0), "simulated", [D1, D2])
    manifest_at = max(i for i, (e, p) in enumerate(events) if e == "replace" and p.endswith(wh.MANIFEST_FILE))
    part_dirs = {str(p.parent) for p in store.files("vix_term_structure")}
    flushed_before = {p for e, p in events[:manifest_at] if e == "fsync_dir"}
    assert part_dirs <= flushed_before
    assert ("fsync_dir", str(store.root)) in events[manifest_at:]
