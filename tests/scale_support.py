"""What the scale tests share: a throwaway Dagster instance and the reference (serial) warehouse."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

REPO = Path(__file__).resolve().parents[1]
#: A PostgreSQL server URL (any database): the tests create and drop their own database on it.
POSTGRES_ENV = "VOLSIGNALS_TEST_POSTGRES_URL"
#: Eight sessions in two batches of four: two partition-range runs at once.
START, END, BATCH = date(2024, 1, 2), date(2024, 1, 11), 4
TABLES = ("spx_daily", "vix_term_structure", "vx_futures", "breadth_daily", "spx_options",
          "option_features", "chain_features", "market_features", "regimes")


def service_address(env: str, tests: str, server: str, script: str) -> str:
    """A test service's address from ``env``; skip when none runs here, fail under CI
    (``.ci/run`` always starts one)."""
    address = os.environ.get(env)
    if not address:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the {tests} tests: {env} is not set (see .ci/run)")
        pytest.skip(f"no {server}: set {env} ({script} start DIR prints one)")
    return address


def postgres_url() -> str:
    """The test PostgreSQL server's URL."""
    return service_address(POSTGRES_ENV, "PostgreSQL", "PostgreSQL server", "scripts/local_postgres.sh")


@contextmanager
def postgres_database(server_url: str):
    """A fresh database on the server for one test module, dropped afterwards."""
    import psycopg2

    name = f"volsignals_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = server_url.rpartition("/")
        # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; dagster-postgres installs psycopg2
        yield f"{base}/{name}".replace("postgresql://", "postgresql+psycopg2://", 1)
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def sqlite_instance(home: Path) -> dg.DagsterInstance:
    """A persistent SQLite instance in ``home`` (what multiprocess and Dask steps need)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.from_config(str(home))


#: An S3-compatible server's endpoint (``http://127.0.0.1:PORT``) for tests/test_object_storage.py.
S3_ENV = "VOLSIGNALS_TEST_S3_ENDPOINT"


def s3_endpoint() -> str:
    """The test S3 server's endpoint."""
    return service_address(S3_ENV, "object-storage", "S3-compatible server", "scripts/local_s3.sh")
