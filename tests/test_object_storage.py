"""The warehouse on an object store (``VOLSIGNALS_WAREHOUSE=s3://bucket/prefix``), against a real S3 server.

``.ci/run`` starts moto's standalone S3 server (scripts/local_s3.sh) and exports
``VOLSIGNALS_TEST_S3_ENDPOINT``; without it these tests skip, with the reason. Each test
gets a bucket of its own; two ``Warehouse`` objects with different cache folders are two
machines sharing the bucket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from scale_support import REPO, s3_endpoint
from test_warehouse import D1, D2, option_rows, vix_rows

from pipelines.object_store import LEASE_KEY, AlreadyExistsError, Lease, LeaseBusy, LeaseLost, PreconditionError, Remote
from pipelines.warehouse import DB_FILE, MANIFEST_FILE, TABLES, Warehouse, cache_root, warehouse_root

D3 = date(2024, 1, 4)


@pytest.fixture
def bucket(monkeypatch) -> str:
    """A fresh bucket on the test server, with the AWS environment obstore reads pointing at it."""
    import boto3

    endpoint = s3_endpoint()
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "volsignals-test",
           "AWS_SECRET_ACCESS_KEY": "volsignals-test", "AWS_REGION": "us-east-1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    name = f"volsignals-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="volsignals-test",
                 aws_secret_access_key="volsignals-test").create_bucket(Bucket=name)
    return name


@pytest.fixture
def url(bucket) -> str:
    return f"s3://{bucket}/warehouse"


def machine(url: str, tmp_path: Path, name: str) -> Warehouse:
    """The warehouse as one machine sees it: the bucket, through a cache folder of its own."""
    return Warehouse(url, cache=tmp_path / f"cache-{name}")


def remote_manifest(url: str) -> bytes:
    return Remote(url).get(MANIFEST_FILE).data


def a_few_writes(store: Warehouse) -> None:
    """Session files with vendor precedence, a year file, and an upsert on top."""
    store.write_partitions("spx_options", option_rows([D1, D2, D3], 1.0).with_columns(source=pl.lit("simulator:seed=7")),
                           "simulated", [D1, D2, D3])
    store.write_partitions("spx_options", option_rows([D2], 2.0), "vendor", [D2])
    store.write_partitions("vix_term_structure", vix_rows([D1, D2], 13.0), "simulated", [D1, D2])
    store.write_partitions("vix_term_structure", vix_rows([D2], 14.0), "simulated", [D2], mode="upsert")


def test_the_server_honours_create_only_and_etag_conditional_puts(url):
    # the lease and the manifest's compare-and-swap rest on these two S3 preconditions
    remote = Remote(url)
    etag = remote.put_if_absent("probe", b"first")
    with pytest.raises(AlreadyExistsError):
        remote.put_if_absent("probe", b"second")
    with pytest.raises(PreconditionError):
        remote.put_if_match("probe", b"second", '"not-the-etag"')
    remote.put_if_match("probe", b"second", etag)
    assert remote.get("probe").data == b"second"


def test_what_one_machine_writes_another_reads_row_for_row(url, tmp_path):
    writer, reader = machine(url, tmp_path, "a"), machine(url, tmp_path, "b")
    a_few_writes(writer)
    for table in ("spx_options", "vix_term_structure"):
        assert reader.read(table).rows() == writer.read(table).rows(), table
    assert reader.read("spx_options").filter(pl.col("quote_date") == D2)["bid"].to_list() == [2.0] * 3
    assert reader.dates("spx_options") == [D1, D2, D3]
    assert reader.manifest() == writer.manifest()


def test_a_reader_fetches_only_the_partitions_it_reads(url, tmp_path):
    a_few_writes(machine(url, tmp_path, "a"))
    reader = machine(url, tmp_path, "b")
    reader.read("spx_options", D3, D3)
    cached = {p.parent.name for p in reader.table_dir("spx_options").glob("date=*/*.parquet")}
    assert cached == {f"date={D3}"}


def test_volsignals_run_on_s3_leaves_the_same_tables_as_a_local_run(url, tmp_path, monkeypatch):
    from pipelines.cli import materialize_range
    from pipelines.fanout import warehouse_fingerprint

    start, end = date(2024, 1, 2), date(2024, 1, 5)
    monkeypatch.setenv("VOLSIGNALS_WAREHOUSE_CACHE", str(tmp_path / "run-cache"))
    for root in (url, str(tmp_path / "local")):
        monkeypatch.setenv("VOLSIGNALS_WAREHOUSE", root)
        materialize_range(start, end, batch_size=40, progress=False, frontier=False)
    tables = [t for t in TABLES if t != "ingest_log"]  # the log records when, so it differs by design
    remote = warehouse_fingerprint(machine(url, tmp_path, "other"), tables)
    assert remote == warehouse_fingerprint(Warehouse(tmp_path / "local"), tables)
    assert remote["spx_options"][0] > 0 and remote["backtest_daily"][0] > 0


def test_the_sql_snapshot_is_in_the_bucket_for_other_machines(url, tmp_path):
    writer = machine(url, tmp_path, "a")
    a_few_writes(writer)
    writer.publish_views()
    downloaded = tmp_path / "fetched.duckdb"
    downloaded.write_bytes(Remote(url).get(DB_FILE).data)
    with duckdb.connect(str(downloaded), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM spx_options").fetchone()[0] == writer.read("spx_options").height
    # and a second machine builds the same SQL tables from its own cache
    with machine(url, tmp_path, "b").connect_readonly() as con:
        assert con.sql("SELECT count(*) FROM vix_term_structure").fetchone()[0] == 2


def test_a_write_that_fails_midway_leaves_the_remote_manifest_unchanged(url, tmp_path):
    store = machine(url, tmp_path, "a")
    store.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    before, keys = remote_manifest(url), set(Remote(url).keys())
    with pytest.raises(RuntimeError, match="midway"), store.write_lock():
        store.write_partitions("vix_term_structure", vix_rows([D1, D2], 99.0), "simulated", [D1, D2])
        raise RuntimeError("failed midway")
    assert remote_manifest(url) == before
    assert set(Remote(url).keys()) == keys  # no file of the failed write was uploaded
    assert machine(url, tmp_path, "b").read("vix_term_structure")["value"].to_list() == [13.0]
    with store.write_lock(blocking=False) as locked:  # and its lease was released
        assert locked


def test_a_killed_writer_publishes_nothing_and_its_stale_lease_is_taken_over(url, tmp_path, monkeypatch):
    store = machine(url, tmp_path, "a")
    store.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    before = remote_manifest(url)
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            sys.path.insert(0, {str(REPO / 'tests')!r})
            from test_warehouse import vix_rows, D1, D2
            from pipelines.warehouse import Warehouse
            store = Warehouse({url!r}, cache={str(tmp_path / 'cache-killed')!r})
            with store.write_lock():
                store.write_partitions("vix_term_structure", vix_rows([D1, D2], 99.0), "simulated", [D1, D2])
                print("holding", flush=True)
                time.sleep(120)
        """)],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ, "VOLSIGNALS_LEASE_SECONDS": "3"},
    )
    try:
        assert child.stdout.readline().strip() == "holding"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert remote_manifest(url) == before
    assert json.loads(Remote(url).get(LEASE_KEY).data)["expires"] > time.time()  # still held, by the dead writer
    started = time.monotonic()
    store.write_partitions("vix_term_structure", vix_rows([D2], 14.0), "simulated", [D2])  # waits, then takes over
    assert time.monotonic() - started < 10
    assert machine(url, tmp_path, "b").read("vix_term_structure")["value"].to_list() == [13.0, 14.0]


def test_a_lease_held_by_another_writer_blocks(url, tmp_path, monkeypatch):
    holder, other = machine(url, tmp_path, "a"), machine(url, tmp_path, "b")
    monkeypatch.setenv("VOLSIGNALS_LEASE_WAIT", "1")
    with holder.write_lock():
        with other.write_lock(blocking=False) as locked:
            assert not locked
        with pytest.raises(LeaseBusy, match="held by"):
            other.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    other.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])  # released: free again


def test_two_machines_writing_at_once_serialize_through_the_lease_and_lose_nothing(url, tmp_path):
    days = [date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9)]
    errors: list[BaseException] = []

    def write(store: Warehouse, mine: list[date], value: float) -> None:
        try:
            for d in mine:
                store.write_partitions("spx_options", option_rows([d], value), "vendor", [d])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(machine(url, tmp_path, n), days[i::2], 1.0 + i))
               for i, n in enumerate("ab")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = machine(url, tmp_path, "c").read("spx_options")
    assert rows.group_by("quote_date").agg(pl.col("bid").first()).sort("quote_date").rows() == [
        (d, 1.0 + i % 2) for i, d in enumerate(days)]
    assert json.loads(remote_manifest(url))["serial"] == len(days)  # every write published


def test_a_writer_whose_lease_was_taken_over_publishes_nothing(url, tmp_path):
    store = machine(url, tmp_path, "a")
    store.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    before = remote_manifest(url)
    remote = Remote(url)
    with pytest.raises(LeaseLost):
        with store.write_lock():
            store.write_partitions("vix_term_structure", vix_rows([D1], 99.0), "simulated", [D1])
            taker = Lease(remote, seconds=60)
            remote.put(LEASE_KEY, json.dumps({"owner": "x", "expires": 0}).encode())  # it "expired" ...
            assert taker.acquire(blocking=False)  # ... and another writer took it over
            taker.release()
    assert remote_manifest(url) == before


def test_a_writer_whose_starting_manifest_was_replaced_publishes_nothing(url, tmp_path):
    first, second = machine(url, tmp_path, "a"), machine(url, tmp_path, "b")
    first.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    with pytest.raises(RuntimeError, match="another writer published first"):
        with first.write_lock():
            first.write_partitions("vix_term_structure", vix_rows([D1], 99.0), "simulated", [D1])
            # what a writer that took over an expired lease would have published meanwhile
            Remote(url).put(MANIFEST_FILE, json.dumps({**second.manifest(), "serial": 99}).encode())
    assert json.loads(remote_manifest(url))["serial"] == 99


def test_superseded_files_leave_the_bucket_after_the_grace_period(url, tmp_path, monkeypatch):
    import pipelines.warehouse as warehouse

    store = machine(url, tmp_path, "a")
    store.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    first = {k for k in Remote(url).keys("data/vix_term_structure/year=2024")}
    monkeypatch.setattr(warehouse, "VERSION_GRACE_SECONDS", 0)
    store.write_partitions("vix_term_structure", vix_rows([D1], 14.0), "simulated", [D1])
    now = {k for k in Remote(url).keys("data/vix_term_structure/year=2024")}
    assert len(now) == 1 and not now & first


def test_a_remote_root_is_named_by_its_url_and_cached_per_bucket_and_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("VOLSIGNALS_WAREHOUSE", "s3://bucket/some/prefix/")
    monkeypatch.delenv("VOLSIGNALS_WAREHOUSE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert warehouse_root() == "s3://bucket/some/prefix"
    store = Warehouse()
    assert (store.url, store.root) == ("s3://bucket/some/prefix", tmp_path / "volsignals/s3/bucket/some/prefix")
    assert cache_root("s3://other") == tmp_path / "volsignals/s3/other/_"


def test_a_local_warehouse_has_no_object_store_lease_or_remote_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("VOLSIGNALS_WAREHOUSE", str(tmp_path / "wh"))
    store = Warehouse()
    assert (store.url, store.remote, store.root) == (None, None, tmp_path / "wh")
    store.write_partitions("vix_term_structure", vix_rows([D1], 13.0), "simulated", [D1])
    assert "schema_files" not in json.loads(store.manifest_path.read_text())
