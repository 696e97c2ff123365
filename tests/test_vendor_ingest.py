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
    ingest_file(store, fixed, options=IngestOptions(force=True))
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


def test_the_landing_sensor_ingests_new_files_once_and_requests_their_sessions(tmp_path, monkeypatch):
    from pipelines.definitions import defs

    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv("VOLSIGNALS_LANDING", str(landing))
    monkeypatch.setenv("VOLSIGNALS_WAREHOUSE", str(tmp_path / "wh"))
    write(landing / "spx_quotedata.csv.gz", cboe_text())
    sensor = defs.resolve_sensor_def("landing_folder")
    with dg.build_sensor_context(resources={"warehouse": defs.resources["warehouse"]}, definitions=defs) as ctx:
        first = sensor.evaluate_tick(ctx)
        assert [r.tags["dagster/asset_partition_range_start"] for r in first.run_requests] == ["2023-05-23"]
        assert Warehouse(tmp_path / "wh").read("spx_options").height > 0
        cursor = first.cursor
    with dg.build_sensor_context(
        resources={"warehouse": defs.resources["warehouse"]}, definitions=defs, cursor=cursor
    ) as ctx:
        second = sensor.evaluate_tick(ctx)
    assert not second.run_requests  # the same file is not ingested again
    assert json.loads(cursor)
