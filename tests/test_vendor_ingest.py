"""Landing vendor files: idempotent, atomic per session, and a rejected file changes nothing."""

from __future__ import annotations

import gzip
import json
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent / "readers"))
from readers_samples import cboe_text  # noqa: E402

from pipelines.vendor_ingest import IngestOptions, ingest_file  # noqa: E402
from pipelines.warehouse import Warehouse  # noqa: E402

SESSION = date(2023, 5, 23)


@pytest.fixture
def store(tmp_path) -> Warehouse:
    return Warehouse(tmp_path / "wh")


def write(path: Path, text: str) -> Path:
    path.write_bytes(gzip.compress(text.encode()))
    return path


def chain(store: Warehouse) -> pl.DataFrame:
    return store.read("spx_options").sort("root", "expiration", "strike", "option_type")


def test_a_vendor_chain_is_stored_with_its_provenance(store, tmp_path):
    report = ingest_file(store, write(tmp_path / "spx_quotedata.csv.gz", cboe_text()))
    assert report.ok and report.format == "cboe_delayed_quotes" and report.snapshot_kind == "eod"
    stored = chain(store)
    assert stored["quote_date"].unique().to_list() == [SESSION]
    assert stored["source"].str.starts_with("file:spx_quotedata.csv.gz#sha256=").all()


def test_ingesting_the_same_file_twice_changes_nothing(store, tmp_path):
    path = write(tmp_path / "spx_quotedata.csv.gz", cboe_text())
    ingest_file(store, path)
    first, first_q = chain(store), store.read("quarantine")
    ingest_file(store, path)
    assert chain(store).equals(first)
    assert store.read("quarantine").equals(first_q)


def test_a_file_lands_in_one_publish_with_its_log_line(store, tmp_path):
    ingest_file(store, write(tmp_path / "spx_quotedata.csv.gz", cboe_text()))
    serial = store.manifest()["serial"]
    report = ingest_file(store, write(tmp_path / "spx_quotedata_corrected.csv.gz", cboe_text(spot="4150.0")))
    assert report.ok
    # the chain, the rows it replaced and the ingest_log line: one manifest publish, never a part of them
    assert store.manifest()["serial"] == serial + 1
    assert store.read("ingest_log").height == 2


def test_a_corrected_file_replaces_that_session_whole(store, tmp_path):
    ingest_file(store, write(tmp_path / "spx_quotedata.csv.gz", cboe_text()))
    corrected = cboe_text(spot="4150.0")
    # the correction also drops the last expiry's rows: none of the old rows may survive
    lines = corrected.splitlines()
    corrected = "\n".join(line for line in lines if "Jun 16 2023" not in line) + "\n"
    fixed = write(tmp_path / "spx_quotedata_fixed.csv.gz", corrected)
    # a file with far fewer rows than the stored chain is refused unless forced
    refused = ingest_file(store, fixed)
    assert refused.outcome == "refused" and "--force" in refused.refused
    before = chain(store)
    ingest_file(store, fixed, options=IngestOptions(force=True))
    kept = store.read("replaced_rows")  # the displaced chain is kept, row by row
    assert kept.height == before.height and kept["replaced_by"].str.contains("spx_quotedata_fixed").all()
    stored = chain(store)
    assert stored["underlying_price"].unique().to_list() == [4150.0]
    assert stored["expiration"].unique().to_list() == [date(2023, 5, 26)]
    assert stored["source"].str.contains("spx_quotedata_fixed").all()


def spy_text(**kw) -> str:
    """The sample chain's weeklies as an SPY export (same day, other underlying)."""
    lines = cboe_text(**kw).split("\n")
    return "\n".join(line.replace("SPXW2", "SPY2") for line in lines if ",SPX2" not in line)


def test_chains_of_other_underlyings_on_the_same_day_are_kept_side_by_side(store, tmp_path):
    ingest_file(store, write(tmp_path / "spx_quotedata.csv.gz", cboe_text()))
    spx = chain(store)
    report = ingest_file(store, write(tmp_path / "spy_quotedata.csv.gz", spy_text()))
    stored = chain(store)
    assert stored.filter(pl.col("root") == "SPY").height == report.stored[0].rows_stored > 0
    assert stored.filter(pl.col("root") != "SPY").equals(spx)


def test_a_corrected_file_replaces_only_its_own_underlyings_chain(store, tmp_path):
    ingest_file(store, write(tmp_path / "spx_quotedata.csv.gz", cboe_text()))
    ingest_file(store, write(tmp_path / "spy_quotedata.csv.gz", spy_text()))
    spy = chain(store).filter(pl.col("root") == "SPY")
    ingest_file(store, write(tmp_path / "spx_quotedata_fixed.csv.gz", cboe_text(spot="4150.0")))
    stored = chain(store)
    assert stored.filter(pl.col("root") == "SPY").equals(spy)
    assert stored.filter(pl.col("root") != "SPY")["underlying_price"].unique().to_list() == [4150.0]


def test_a_rejected_file_changes_nothing_already_stored(store, tmp_path):
    ingest_file(store, write(tmp_path / "good.csv.gz", cboe_text()))
    before = chain(store)
    truncated = cboe_text()[:-40]  # cut mid-row
    report = ingest_file(store, write(tmp_path / "bad.csv.gz", truncated))
    assert not report.ok and "bad.csv.gz" in report.error
    assert chain(store).equals(before)
    log = store.read("ingest_log")
    assert log["outcome"].to_list() == ["stored", "rejected"]


def test_a_stale_snapshot_is_flagged_and_not_stored(store, tmp_path):
    text = cboe_text()
    # zero every bid: the file's quality score marks it stale
    rows = [line.split(",") for line in text.splitlines()]
    for row in rows[4:]:
        row[4] = row[15] = "0"
    path = write(tmp_path / "stale.csv.gz", "\n".join(",".join(r) for r in rows) + "\n")
    report = ingest_file(store, path)
    assert report.skipped and any(f.startswith("stale_snapshot") for f in report.flags)
    assert store.read("spx_options").is_empty()


def _tick(sensor, defs, cursor=None):
    with dg.build_sensor_context(definitions=defs, cursor=cursor) as ctx:
        return sensor.evaluate_tick(ctx)


def test_the_landing_sensor_lands_a_good_file_beside_a_bad_one_through_a_run(tmp_path, monkeypatch):
    """The tick only requests runs; the ingest run lands the good file and moves the bad one
    to landing/rejected/ with its reason; the next tick asks for the recompute runs; the
    cursor has moved past both files, so neither is requested again."""
    from pipelines.definitions import defs

    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv("VOLSIGNALS_LANDING", str(landing))
    monkeypatch.setenv("VOLSIGNALS_WAREHOUSE", str(tmp_path / "wh"))
    write(landing / "spx_quotedata.csv.gz", cboe_text())
    (landing / "broken.csv").write_text("DATE,CLOSE\n" + "1" * 200 + ',"' + "x" * 140_000 + "\n")
    sensor = defs.resolve_sensor_def("landing_folder")
    first = _tick(sensor, defs)
    assert [r.job_name for r in first.run_requests] == ["ingest_landed_files"]
    assert Warehouse(tmp_path / "wh").read("spx_options").is_empty()  # the tick stored nothing itself
    request = first.run_requests[0]
    result = defs.resolve_job_def("ingest_landed_files").execute_in_process(
        run_config=request.run_config, resources={"warehouse": defs.resources["warehouse"]})
    assert result.success
    assert Warehouse(tmp_path / "wh").read("spx_options")["quote_date"].unique().to_list() == [SESSION]
    assert not (landing / "broken.csv").exists()
    reason = (landing / "rejected" / "broken.csv.reason.txt").read_text()
    assert "broken.csv" in reason and "REJECTED" in reason
    second = _tick(sensor, defs, first.cursor)
    recompute = {(r.job_name, r.tags.get("dagster/asset_partition_range_start")) for r in second.run_requests}
    assert ("after_landing", "2023-05-23") in recompute
    assert "ingest_landed_files" not in {r.job_name for r in second.run_requests}
    third = _tick(sensor, defs, second.cursor or first.cursor)
    assert not third.run_requests  # plans consumed, files seen


def test_the_landing_sensor_skips_what_is_not_a_regular_file(tmp_path, monkeypatch):
    import os

    from pipelines.definitions import defs

    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv("VOLSIGNALS_LANDING", str(landing))
    monkeypatch.setenv("VOLSIGNALS_WAREHOUSE", str(tmp_path / "wh"))
    os.mkfifo(landing / "pipe.csv")
    (landing / "folder.csv").mkdir()
    tick = _tick(defs.resolve_sensor_def("landing_folder"), defs)
    assert not tick.run_requests


def test_ingesting_a_chain_without_sp500_history_skips_what_needs_it_and_says_why(tmp_path, monkeypatch, capsys):
    """Issue 11 item 14: the chain is stored and its per-session features computed; market
    features (which need S&P 500 daily bars) and what depends on them are skipped with the
    reason, and the command succeeds."""
    from pipelines.cli import main

    monkeypatch.setenv("VOLSIGNALS_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    path = write(tmp_path / "spx_quotedata.csv.gz", cboe_text())
    main(["ingest", "--quiet", str(path)])
    out = capsys.readouterr().out
    assert "skipped market_features: no spx_daily rows stored" in out and "regimes" in out
    store = Warehouse(tmp_path / "wh")
    assert store.read("option_features")["quote_date"].unique().to_list() == [SESSION]


def test_a_run_from_stored_data_without_end_of_day_chains_skips_the_decisions_and_says_why(
        tmp_path, monkeypatch, capsys):
    """Issue 11 item 11: ``run --no-simulate`` over sessions with S&P 500 and VIX history but no
    end-of-day option rows computes the market features and skips the decisions with the reason."""
    from readers_samples import daily_text

    from pipelines.cli import main

    monkeypatch.setenv("VOLSIGNALS_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    (tmp_path / "GSPC.csv").write_text(daily_text())
    main(["ingest", "--quiet", "--no-materialize", str(tmp_path / "GSPC.csv")])
    main(["run", "--no-simulate", "--quiet", "--start", "2023-05-22", "--end", "2023-05-24"])
    out = capsys.readouterr().out
    assert "no eod spx_options rows stored up to 2023-05-24" in out and "condor_decisions" in out
    store = Warehouse(tmp_path / "wh")
    assert store.read("market_features")["date"].to_list() == [date(2023, 5, 22), date(2023, 5, 23), date(2023, 5, 24)]
    con = store.connect_readonly()
    assert con.sql("SELECT count(*) FROM quarantine").fetchone() == (0,)  # item 13: the table exists, empty
