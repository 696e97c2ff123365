"""The SQL face of the warehouse: a DuckDB file of native tables, published as snapshots.

Why native tables and not views over the Parquet files. Views over Parquet cannot name
the current file versions (DuckDB refuses a subquery as a table-function argument, so a
view cannot read a manifest), and even with a fixed file list a query decodes Parquet
where a native table is read from DuckDB's own columnar storage: measured on the default
two-year warehouse (warehouse/README.md), Parquet views were 8-400x slower than a native
table (a month join 8x, counts and scans 30-400x). So the pipeline keeps the Parquet store (the
record: versions, manifest, Python reads) and publishes what the manifest lists into a
DuckDB file that users open.

How a publish keeps every promise. The pipeline brings a private working file
(``views/working.duckdb``, never opened by users) up to date *partition by partition*
(only the partitions whose published file changed since the last publish are deleted and
re-inserted), copies it to a new ``views/volsignals-<serial>-<sql>-<ns>.duckdb`` and moves
the link ``volsignals.duckdb`` onto the copy with one rename. A user's session — read-only
or not — holds the snapshot it opened: the pipeline never opens that file again, so the
session never blocks a write, and it sees whole partitions of one manifest state. A
snapshot nobody holds goes once it has been superseded for ``SNAPSHOT_GRACE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

if TYPE_CHECKING:
    from pipelines.warehouse import Warehouse

#: DuckDB's memory limit while the pipeline builds the working copy (it spills beyond it).
WORKING_MEMORY = "512MB"

#: Bookkeeping inside every snapshot: which file each partition's rows came from.
META_SCHEMA = "_volsignals"


def _sql_files() -> list[Path]:
    from pipelines.warehouse import SQL_DIR

    return sorted(SQL_DIR.glob("*.sql"))


def _sql_hash() -> str:
    digest = hashlib.sha256()
    for f in _sql_files():
        digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _file_list(paths: list[Path]) -> str:
    return "[" + ", ".join(_quote(p.as_posix()) for p in paths) + "]"


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.sql(f"DESCRIBE {relation}").fetchall()]


def sync_working(store: Warehouse, manifest: dict) -> None:
    """Bring ``store.working_db`` to the manifest's state (one transaction)."""
    from pipelines.schemas import empty_frame
    from pipelines.warehouse import TABLES

    store.views.mkdir(parents=True, exist_ok=True)
    # bounded memory whatever the history: DuckDB spills to the staging folder beyond this (it
    # creates only the last folder of the path, and the write lock has just removed staging)
    spill = store.staging / "duckdb_tmp"
    spill.mkdir(parents=True, exist_ok=True)
    # insertion order is not kept: files are still read in date order, so each block holds a few
    # adjacent sessions (min/max pruning intact), and loading is ~25 % faster (two-year build:
    # 11.2 s instead of 15.3 s); ORDER BY and SQL results are unaffected
    con = duckdb.connect(str(store.working_db), config={"memory_limit": WORKING_MEMORY,
                                                       "temp_directory": str(spill),
                                                       "preserve_insertion_order": False})
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}")
        con.execute(f"CREATE TABLE IF NOT EXISTS {META_SCHEMA}.published "
                    "(table_name VARCHAR, partition VARCHAR, file VARCHAR)")
        loaded: dict[str, dict[str, str]] = {}
        for table, part, file in con.sql(f"SELECT * FROM {META_SCHEMA}.published").fetchall():
            loaded.setdefault(table, {})[part] = file
        existing = {r[0] for r in con.sql(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database()"
        ).fetchall()}
        con.execute("BEGIN TRANSACTION")
        for table, layout in TABLES.items():
            want = {part: path.as_posix() for part, path in store.partitions(table).items()}
            have = loaded.get(table, {})
            if table in existing and want == have:
                continue
            schema_file = store.schema_file(table)
            if not want and not schema_file.exists():
                # never written: an empty table when its contract names every column (e.g.
                # quarantine, part of the user contract even when nothing was quarantined)
                if layout.schema is not None and layout.date_column in layout.schema.columns:
                    con.register("_empty", empty_frame(layout.schema).to_arrow())
                    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _empty")
                    con.unregister("_empty")
                continue
            _sync_table(con, table, layout.date_column, layout.grain, want, have if table in existing else None,
                        schema_file if schema_file.exists() else None)
            con.execute(f"DELETE FROM {META_SCHEMA}.published WHERE table_name = ?", [table])
            if want:  # one statement, not one per partition (20 years: 5,000 sessions per table)
                con.register("_published", pl.DataFrame(
                    {"table_name": table, "partition": list(want), "file": list(want.values())}).to_arrow())
                con.execute(f"INSERT INTO {META_SCHEMA}.published SELECT * FROM _published")
                con.unregister("_published")
        for sql_file in _sql_files():
            con.execute(sql_file.read_text())
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _sync_table(con: duckdb.DuckDBPyConnection, table: str, col: str, grain: str, want: dict[str, str],
                have: dict[str, str] | None, schema_file: Path | None) -> None:
    """Make native table ``table`` hold exactly the rows of the ``want`` files."""
    changed = [part for part in want if (have or {}).get(part) != want[part]]
    removed = [part for part in (have or {}) if part not in want]
    if have is not None and grain == "date" and len(changed) + len(removed) <= max(len(want) // 2, 1):
        # per-session tables: replace only the sessions whose file changed
        scan = f"read_parquet({_file_list([Path(want[p]) for p in changed])}, union_by_name = true, hive_partitioning = false)"
        if not changed or _columns(con, f"SELECT * FROM {scan}") == _columns(con, table):
            days = ", ".join(f"DATE {_quote(part.split('=', 1)[1])}" for part in [*changed, *removed])
            con.execute(f"DELETE FROM {table} WHERE {col} IN ({days})")
            if changed:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {scan}")
            return
    sources = ([schema_file] if schema_file is not None else []) + [Path(f) for f in want.values()]
    # the schema file gives the columns (and their types) even when no partition is stored; never rows
    scan = (f"SELECT * EXCLUDE (filename) FROM read_parquet({_file_list(sources)}, union_by_name = true, "
            f"hive_partitioning = false, filename = true)")
    if schema_file is not None:
        scan += f" WHERE filename <> {_quote(schema_file.as_posix())}"
    # in date order, so that DuckDB's per-block min/max skips most of a table for one session or
    # month; per-session files are listed in date order already (and sorting 8 M wide rows costs GBs)
    order = f" ORDER BY {col}" if grain != "date" and col in dict(_columns(con, scan)) else ""
    con.execute(f"CREATE OR REPLACE TABLE {table} AS {scan}{order}")


def _held(path: Path) -> bool:
    """Whether some session holds snapshot ``path`` open (DuckDB's own file lock says so)."""
    try:
        duckdb.connect(str(path)).close()
    except duckdb.Error:
        return True
    return False


def publish(store: Warehouse, manifest: dict) -> Path:
    """Publish the manifest's state as the snapshot ``volsignals.duckdb`` points at (under the write lock)."""
    tag = f"{manifest.get('serial', 0)}-{_sql_hash()}"
    current = store.snapshot_path()
    if current is None or not current.name.startswith(f"volsignals-{tag}-"):
        sync_working(store, manifest)
        store.staging.mkdir(parents=True, exist_ok=True)
        name = f"volsignals-{tag}-{time.time_ns()}.duckdb"
        tmp = store.staging / name
        shutil.copyfile(store.working_db, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, store.views / name)
        link = store.staging / "volsignals.duckdb.link"
        link.unlink(missing_ok=True)
        link.symlink_to(Path(store.views.name) / name)
        os.replace(link, store.db_path)  # the one atomic step: new sessions open the new snapshot
        current = store.views / name
    cutoff = time.time() - _grace()
    for old in store.views.glob("volsignals-*.duckdb"):
        if old != current and old.stat().st_mtime < cutoff and not _held(old):
            old.unlink(missing_ok=True)
            Path(f"{old}.wal").unlink(missing_ok=True)
    return current


def _grace() -> float:
    from pipelines import warehouse

    return warehouse.SNAPSHOT_GRACE_SECONDS
