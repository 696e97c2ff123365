"""The warehouse: immutable Parquet partitions, with DuckDB views for people.

Why this design. DuckDB lets one process write a database file *or* many processes
read it, never both: a user's ``duckdb -readonly`` session would make a writing
materialization fail, and a long write would block the user's queries. So the
pipeline never writes the DuckDB file while it materializes. Data lives in Parquet
files, one per partition:

    <root>/data/<table>/<partition>/<kind>-<version>.parquet

where ``<partition>`` is ``date=YYYY-MM-DD`` for large per-session tables (the option
chain and its features) and ``year=YYYY`` for small daily tables, ``<kind>`` is
``simulated``, ``vendor`` (rows from a real file) or ``derived`` (computed features), and
``<version>`` is the write time in nanoseconds. A file name is never reused: a rewrite
adds a new version (written to a temporary name, then renamed: a reader never sees half
a file) and readers take the newest version of each partition. Rewriting a file in place
is not enough: DuckDB opens a Parquet file more than once during a scan (one handle per
thread), and was measured mixing two versions of a replaced file in one query.
Superseded versions are deleted once they have been superseded for
``VERSION_GRACE_SECONDS``, so a query that listed them just before still finds them. A
killed write leaves the previous version intact. Writers are serialized by an advisory
lock on ``<root>/.write.lock``; readers take no lock at all.

``<root>/volsignals.duckdb`` holds only *views* over those files (and the SQL macros of
``warehouse/*.sql``). The views read the Parquet glob at query time, so they show new
partitions without being rewritten; the pipeline refreshes the file when it can and
simply skips that step while a user holds it open.

Precedence: when a session has both vendor and simulated rows in a table, the vendor
rows win (both in the DuckDB views and in :meth:`Warehouse.read`); for the option chain
this holds per underlying (:data:`PRECEDENCE_GROUPS`).
"""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandera.polars as pa
import polars as pl

from pipelines import contracts
from pipelines.schemas import SCHEMAS, UNDERLYING, empty_frame, unique_keys

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO_ROOT / "warehouse"
SQL_DIR = REPO_ROOT / "warehouse"
DB_FILE = "volsignals.duckdb"

SourceKind = str  # "simulated" | "vendor" | "derived"
SOURCE_KINDS = ("simulated", "vendor", "derived")


@dataclass(frozen=True)
class TableLayout:
    """How one table is stored: its date column and partition grain."""

    name: str
    date_column: str
    grain: str  # "date" (a file per session), "year", "source" (quarantine) or "all" (one file)
    schema: pa.DataFrameSchema | None = None


def _layout(name: str, date_column: str, grain: str) -> TableLayout:
    return TableLayout(name, date_column, grain, SCHEMAS.get(name))


#: Every table the pipeline writes. The raw tables carry a pandera schema; derived
#: tables are validated by the schemas of the modules that produce them.
TABLES: dict[str, TableLayout] = {
    t.name: t
    for t in [
        _layout("spx_options", "quote_date", "date"),
        _layout("spx_daily", "date", "year"),
        _layout("vix_term_structure", "date", "year"),
        _layout("vx_futures", "date", "year"),
        _layout("breadth_daily", "date", "year"),
        _layout("events", "date", "year"),
        _layout("treasury_bill_rates", "date", "year"),
        _layout("spx_settlement_values", "soq_date", "year"),
        _layout("strategy_indices", "date", "year"),
        _layout("quarantine", "quote_date", "source"),
        # derived tables (features, decisions, backtest)
        _layout("option_features", "quote_date", "date"),
        _layout("chain_features", "quote_date", "year"),
        _layout("market_features", "date", "year"),
        _layout("regimes", "date", "year"),
        _layout("feature_registry", "first_date", "all"),
        _layout("condor_decisions", "date", "all"),
        _layout("condor_positions", "date", "all"),
        _layout("condor_trades", "entry_date", "all"),
        _layout("hedge_layers", "date", "all"),
        _layout("backtest_daily", "date", "all"),
        _layout("backtest_summary", "start_date", "all"),
        _layout("amm_comparison", "date", "all"),
        _layout("amm_summary", "start_date", "all"),
        _layout("ingest_log", "ingested_at", "all"),
    ]
}


def register_table(name: str, date_column: str, grain: str, schema: pa.DataFrameSchema | None = None) -> None:
    """Declare a derived table (features, decisions, backtest) so it gets a view."""
    TABLES[name] = TableLayout(name, date_column, grain, schema)


def warehouse_root() -> Path:
    """The warehouse folder: ``$VOLSIGNALS_WAREHOUSE`` or ``<repo>/warehouse``."""
    return Path(os.environ.get("VOLSIGNALS_WAREHOUSE", DEFAULT_ROOT)).resolve()


def _partition_name(layout: TableLayout, d: date) -> str:
    return f"date={d.isoformat()}" if layout.grain == "date" else f"year={d.year}"


#: How long a superseded file version stays readable for queries that listed it.
VERSION_GRACE_SECONDS = 600
#: SQL views show a new version once it is this old (see ``Warehouse.view_sql``).
VISIBILITY_DELAY_SECONDS = 2.0


def _atomic_write(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` so that readers only ever see a whole, durable file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    encoded = io.BytesIO()  # encoding in memory is ~15 % faster than polars' own file sink
    frame.write_parquet(encoded, compression="zstd", statistics=True)
    with open(tmp, "wb") as fh:
        fh.write(encoded.getbuffer())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _version(path: Path) -> int:
    return int(path.stem.rsplit("-", 1)[1])


def _versions(directory: Path, kind: str) -> list[Path]:
    """The stored versions of one kind in one partition folder, oldest first."""
    try:
        entries = os.scandir(directory)  # one directory read; Path.glob costs ~3x more per partition
    except (FileNotFoundError, NotADirectoryError):
        return []
    prefix = f"{kind}-"
    with entries:
        found = [Path(e.path) for e in entries if e.name.startswith(prefix) and e.name.endswith(".parquet")]
    return sorted(found, key=_version)


def latest_version(directory: Path, kind: str) -> Path | None:
    versions = _versions(directory, kind)
    return versions[-1] if versions else None


def _publish(frame: pl.DataFrame, directory: Path, kind: str, previous: list[Path] | None = None) -> Path:
    """Store ``frame`` as the newest version of ``kind`` in ``directory``; prune old ones.

    ``previous``: the folder's versions, when the caller has just listed them."""
    return _install(directory, kind, lambda path: _atomic_write(frame, path), previous)


def _install(directory: Path, kind: str, put: Callable[[Path], None], previous: list[Path] | None = None) -> Path:
    """Make ``put`` write the newest version of ``kind`` in ``directory``; prune old versions."""
    previous = _versions(directory, kind) if previous is None else previous
    version = max(time.time_ns(), _version(previous[-1]) + 1 if previous else 0)
    path = directory / f"{kind}-{version}.parquet"
    put(path)
    # a version may go once the one that superseded it is older than the grace period
    cutoff = time.time_ns() - VERSION_GRACE_SECONDS * 1_000_000_000
    for old, successor in zip(previous, [*previous[1:], path]):
        if _version(successor) < cutoff:
            old.unlink(missing_ok=True)
    return path


def _move_durably(staged: Path, path: Path) -> None:
    """Move a finished file into place, flushed to disk first (same file system: atomic)."""
    with open(staged, "rb") as fh:
        os.fsync(fh.fileno())
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, path)


#: Tables whose vendor rows take a session's place group by group, not as a whole:
#: (column, value -> group). A session's vendor SPY chain leaves its simulated SPX chain
#: in place, as a landed SPY file leaves the SPX file of that day in place.
PRECEDENCE_GROUPS: dict[str, tuple[str, dict[str, str]]] = {"spx_options": ("root", UNDERLYING)}


def precedence_group(table: str) -> pl.Expr | None:
    """The group a row of ``table`` belongs to for vendor precedence (None: the whole session)."""
    if table not in PRECEDENCE_GROUPS:
        return None
    column, groups = PRECEDENCE_GROUPS[table]
    return pl.col(column).replace_strict(groups, default=pl.col(column))


def _precedence_group_sql(table: str, relation: str) -> str:
    """:func:`precedence_group` in SQL, over the columns of ``relation`` (a constant when none)."""
    if table not in PRECEDENCE_GROUPS:
        return "0"
    column, groups = PRECEDENCE_GROUPS[table]
    cases = " ".join(f"WHEN '{value}' THEN '{group}'" for value, group in groups.items())
    return f"(CASE {relation}.{column} {cases} ELSE {relation}.{column} END)"


def _split_by_partition(frame: pl.DataFrame, layout: TableLayout,
                        by_partition: dict[str, list[date]]) -> dict[str, pl.DataFrame]:
    """``frame``'s rows per partition name (one pass; a partition without rows gets an empty frame)."""
    if len(by_partition) == 1:
        return {next(iter(by_partition)): frame}
    part_of = {d: part for part, dates in by_partition.items() for d in dates}
    tagged = frame.with_columns(
        pl.col(layout.date_column).replace_strict(part_of, return_dtype=pl.String).alias("_partition")
    )
    split = {key[0]: rows for key, rows in
             tagged.partition_by("_partition", as_dict=True, maintain_order=True, include_key=False).items()}
    return {part: split.get(part, frame.clear()) for part in by_partition}


class Warehouse:
    """Reads and writes the partitioned Parquet store under one root folder."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).resolve() if root is not None else warehouse_root()
        self.data = self.root / "data"

    # ------------------------------------------------------------------ writing
    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Serialize writers across processes (readers never take it)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".write.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def table_dir(self, table: str) -> Path:
        return self.data / table

    def schema_file(self, table: str) -> Path:
        """The zero-row Parquet file that fixes a table's columns for the views."""
        return self.table_dir(table) / "_schema" / "empty.parquet"

    def ensure_schema_file(self, table: str, frame: pl.DataFrame | None = None) -> None:
        """Keep a zero-row Parquet file that fixes the table's columns for the views."""
        layout = TABLES[table]
        path = self.schema_file(table)
        if path.exists():
            return
        if frame is None:
            if layout.schema is None:
                return
            frame = empty_frame(layout.schema)
        _atomic_write(frame.clear(), path)

    def write_partitions(
        self,
        table: str,
        frame: pl.DataFrame,
        kind: SourceKind,
        dates: Sequence[date],
        mode: str = "replace",
        validated: bool = False,
        replace_within: pl.Expr | None = None,
    ) -> dict[str, int]:
        """Store ``frame``'s rows for ``dates`` of ``table`` as ``kind`` rows.

        ``mode="replace"``: the rows of ``kind`` for each of ``dates`` become exactly the
        rows of ``frame`` for that date (a date with no rows in ``frame`` is emptied).
        With ``replace_within`` (an expression grouping rows, e.g. the underlying of an
        option's root, for a one-file-per-session table), only the stored rows of the
        groups that ``frame`` brings for a date are replaced: an SPY chain landed for a
        day does not remove that day's SPX chain.
        ``mode="upsert"``: rows of ``frame`` replace stored rows with the same key
        (the schema's ``unique`` columns), other stored rows of those dates stay.

        The frame is validated against the table's pandera schema first (unless the
        caller already did, ``validated=True``); on error nothing is written. Returns rows written per partition.
        """
        if kind not in SOURCE_KINDS:
            raise ValueError(f"unknown source kind {kind!r}")
        layout = TABLES[table]
        if layout.schema is not None and not validated:
            frame = contracts.validate(frame, layout.schema)
        col = layout.date_column
        wanted = sorted(set(dates))
        outside = frame.get_column(col).filter(~frame.get_column(col).is_in(wanted))
        if outside.len():
            raise ValueError(
                f"{table}: {outside.len()} rows dated outside the partitions being written "
                f"(e.g. {outside[0]})"
            )
        by_partition: dict[str, list[date]] = {}
        for d in wanted:
            by_partition.setdefault(_partition_name(layout, d), []).append(d)
        with self.write_lock():
            self.ensure_schema_file(table, frame)
            if replace_within is not None:
                frame = self._with_other_groups(table, frame, kind, by_partition, replace_within)
            if layout.grain == "date" and len(by_partition) > 1:
                return self._publish_sessions(table, frame, kind, by_partition)
            return self._publish_partitions(table, frame, kind, by_partition, mode)

    def _with_other_groups(self, table: str, frame: pl.DataFrame, kind: str, by_partition: dict[str, list[date]],
                           group: pl.Expr) -> pl.DataFrame:
        """``frame`` plus the stored rows of its sessions whose group it does not bring."""
        layout = TABLES[table]
        if layout.grain != "date":
            raise ValueError(f"{table}: replace_within needs one file per session, not per {layout.grain}")
        col = layout.date_column
        stored = [v[-1] for part in by_partition if (v := _versions(self.table_dir(table) / part, kind))]
        if not stored:
            return frame
        brought = frame.select(col, group.alias("_group")).unique()
        kept = [
            pl.read_parquet(path).with_columns(group.alias("_group")).join(brought, on=[col, "_group"], how="anti")
            .drop("_group")
            for path in stored
        ]
        return pl.concat([*kept, frame], how="vertical_relaxed")

    def _publish_partitions(self, table: str, frame: pl.DataFrame, kind: str, by_partition: dict[str, list[date]],
                            mode: str) -> dict[str, int]:
        """One partition after the other; a year partition merges with its stored rows."""
        layout = TABLES[table]
        col = layout.date_column
        rows_of = _split_by_partition(frame, layout, by_partition)
        keys = (unique_keys(layout.schema) if layout.schema is not None else None) or [col]

        def write(part: str) -> int:
            directory = self.table_dir(table) / part
            new_rows = rows_of[part]
            versions = _versions(directory, kind)
            if layout.grain == "year" and versions:
                old = pl.read_parquet(versions[-1])
                if mode == "upsert":
                    old = old.join(new_rows.select(keys), on=keys, how="anti")
                else:
                    old = old.filter(~pl.col(col).is_in(by_partition[part]))
                new_rows = pl.concat([old, new_rows], how="vertical_relaxed")
            if not new_rows[col].is_sorted():
                new_rows = new_rows.sort(col, maintain_order=True)
            _publish(new_rows, directory, kind, versions)
            return new_rows.height

        return {part: write(part) for part in by_partition}

    def _publish_sessions(self, table: str, frame: pl.DataFrame, kind: str,
                          by_partition: dict[str, list[date]]) -> dict[str, int]:
        """Several session partitions at once (a multi-day vendor file, a simulated year).

        Encoding a small Parquet file costs ~1.5 ms whatever its size, so polars encodes
        all partitions in one parallel pass, into a staging folder outside the data tree
        (views never see it); each file is then installed as its partition's newest
        version. A session without rows gets an empty file (``mode="replace"``)."""
        col = TABLES[table].date_column
        part_of = {d: part for part, dates in by_partition.items() for d in dates}
        key = pl.col(col).replace_strict(part_of, return_dtype=pl.String).alias("_partition")
        staging = self.root / "staging" / f"{table}-{os.getpid()}-{time.time_ns()}"
        try:
            frame.lazy().sink_parquet(
                pl.PartitionBy(staging, key=key, include_key=False, max_rows_per_file=None,
                               approximate_bytes_per_file=None,
                               file_path_provider=lambda f: f"{f.partition_keys['_partition'][0]}.{f.index_in_partition}"),
                mkdir=True, compression="zstd", statistics=True,
            )
            rows = dict(frame.group_by(key).len().iter_rows())
            staged: dict[str, list[Path]] = {}  # partition -> its files, "<partition>.<index>"
            for f in sorted(staging.iterdir() if staging.exists() else [], key=lambda f: int(f.suffix[1:])):
                staged.setdefault(f.stem, []).append(f)
            for part in by_partition:
                directory, files = self.table_dir(table) / part, staged.get(part, [])
                if len(files) == 1:  # the normal case
                    _install(directory, kind, lambda path: _move_durably(files[0], path))
                else:  # no rows for this session, or (never seen) polars split it into several files
                    _publish(pl.concat([frame.clear(), *map(pl.read_parquet, files)]), directory, kind)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            with suppress(OSError):  # another writer's staging may still be there
                staging.parent.rmdir()
        return {part: rows.get(part, 0) for part in by_partition}

    def write_table(self, table: str, frame: pl.DataFrame) -> int:
        """Replace a whole-table (``grain="all"``) derived table atomically."""
        layout = TABLES[table]
        if layout.grain != "all":
            raise ValueError(f"{table} is partitioned by {layout.grain}; use write_partitions")
        if layout.schema is not None:
            frame = contracts.validate(frame, layout.schema)
        with self.write_lock():
            self.ensure_schema_file(table, frame)
            _publish(frame, self.table_dir(table) / "all", "derived")
        return frame.height

    def append(self, table: str, rows: pl.DataFrame) -> None:
        """Append rows to a small whole-table log (read, extend, replace atomically)."""
        directory = self.table_dir(table) / "all"
        with self.write_lock():
            self.ensure_schema_file(table, rows)
            current = latest_version(directory, "derived")
            if current is not None:
                rows = pl.concat([pl.read_parquet(current), rows], how="vertical_relaxed")
            _publish(rows, directory, "derived")

    def write_quarantine(self, source_name: str, frame: pl.DataFrame, dates: Sequence[date]) -> None:
        """Replace the quarantined rows recorded for one source on ``dates``.

        Quarantine is kept per source (a vendor file or the simulator), so re-ingesting a
        file is idempotent and a corrected file's record replaces the old one's dates.
        """
        layout = TABLES["quarantine"]
        frame = contracts.validate(frame, layout.schema)  # type: ignore[union-attr]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in source_name)
        directory = self.table_dir("quarantine") / f"source={safe}"
        with self.write_lock():
            current = latest_version(directory, "derived")
            if frame.is_empty() and current is None:
                return
            self.ensure_schema_file("quarantine")
            if current is not None:
                old = pl.read_parquet(current).filter(~pl.col("quote_date").is_in(list(dates)))
                frame = pl.concat([old, frame], how="vertical_relaxed")
            _publish(frame, directory, "derived")

    # ------------------------------------------------------------------ reading
    def files(self, table: str) -> list[Path]:
        """The newest version of every (partition, kind) file of ``table``."""
        base = self.table_dir(table)
        if not base.exists():
            return []
        newest: dict[tuple[Path, str], Path] = {}
        for p in base.glob("*/*-*.parquet"):
            key = (p.parent, p.stem.rsplit("-", 1)[0])
            if key not in newest or _version(p) > _version(newest[key]):
                newest[key] = p
        return sorted(newest.values())

    def read(
        self,
        table: str,
        start: date | None = None,
        end: date | None = None,
        columns: Sequence[str] | None = None,
        where: pl.Expr | None = None,
    ) -> pl.DataFrame:
        """Rows of ``table`` dated ``start``..``end`` (inclusive), vendor rows winning.

        Only the partitions that can hold those dates are opened; ``columns`` and the
        ``where`` predicate are pushed down into the Parquet scan.
        """
        layout = TABLES[table]
        col = layout.date_column
        paths = self.files(table)
        if layout.grain == "date":
            paths = [p for p in paths if _in_range(date.fromisoformat(p.parent.name[5:]), start, end)]
        elif layout.grain == "year":
            paths = [
                p
                for p in paths
                if (start is None or int(p.parent.name[5:]) >= start.year)
                and (end is None or int(p.parent.name[5:]) <= end.year)
            ]
        if not paths:
            schema_file = self.schema_file(table)
            if schema_file.exists():
                frame = pl.read_parquet(schema_file)
            elif layout.schema is not None:
                frame = empty_frame(layout.schema)
            else:  # a derived table nothing has written yet
                frame = pl.DataFrame(schema={c: pl.Null for c in columns or []})
            return frame.select(columns) if columns else frame
        frames = [pl.scan_parquet(p).with_columns(pl.lit(p.stem.rsplit("-", 1)[0]).alias("_kind")) for p in paths]
        lf = pl.concat(frames, how="diagonal_relaxed")
        if start is not None:
            lf = lf.filter(pl.col(col) >= start)
        if end is not None:
            lf = lf.filter(pl.col(col) <= end)
        if layout.grain != "source" and any(p.stem.startswith("vendor-") for p in paths):
            group = precedence_group(table)
            keys = [col] if group is None else [col, "_group"]
            if group is not None:
                lf = lf.with_columns(group.alias("_group"))
            vendor_keys = lf.filter(pl.col("_kind") == "vendor").select(keys).unique()
            lf = pl.concat(
                [
                    lf.filter(pl.col("_kind") != "simulated"),
                    lf.filter(pl.col("_kind") == "simulated").join(vendor_keys, on=keys, how="anti"),
                ],
                how="vertical_relaxed",
            ).drop(keys[1:])
        lf = lf.drop("_kind")
        if where is not None:
            lf = lf.filter(where)
        if columns:
            lf = lf.select(columns)
        return lf.collect().sort(col, maintain_order=True)

    def dates(self, table: str) -> list[date]:
        """Distinct dates stored in ``table``."""
        frame = self.read(table, columns=[TABLES[table].date_column])
        return frame.get_column(TABLES[table].date_column).unique().sort().to_list()

    # ------------------------------------------------------------------ DuckDB
    @property
    def db_path(self) -> Path:
        return self.root / DB_FILE

    def view_sql(self, table: str) -> str:
        """``CREATE VIEW`` text for one table: newest file versions only, vendor rows winning.

        The newest version of each (partition, kind) is chosen from a ``glob()`` listing at
        query time; files that do not carry a version (the zero-row schema file) are kept.
        """
        layout = TABLES[table]
        glob = (self.table_dir(table) / "*" / "*.parquet").as_posix().replace("'", "''")
        col = layout.date_column
        # The scan and this listing are two listings of the folder, taken at slightly
        # different instants; a version younger than VISIBILITY_DELAY_SECONDS may be in one
        # and not the other, so the newest *settled* version is chosen (both listings hold
        # it: versions are deleted only long after they are superseded). A brand-new
        # partition shows up VISIBILITY_DELAY_SECONDS after its first write.
        settled = f"epoch_ns(get_current_timestamp()) - {int(VISIBILITY_DELAY_SECONDS * 1e9)}"
        newest = (
            "SELECT file FROM ("
            r"SELECT file, regexp_extract(file, '^(.*)-[0-9]+\.parquet$', 1) AS series, "
            r"TRY_CAST(regexp_extract(file, '-([0-9]+)\.parquet$', 1) AS BIGINT) AS version "
            f"FROM glob('{glob}')) QUALIFY row_number() OVER (PARTITION BY series "
            f"ORDER BY (version IS NULL OR version <= {settled}) DESC, version DESC NULLS LAST) = 1"
        )
        scan = (
            f"SELECT * FROM read_parquet('{glob}', union_by_name = true, filename = true) "
            f"WHERE filename IN (SELECT file FROM newest)"
        )
        if layout.grain == "source":
            body = f"WITH newest AS ({newest}), f AS ({scan}) SELECT * EXCLUDE (filename) FROM f"
        else:
            # a session's vendor rows hide its simulated rows of the same precedence group
            body = (
                f"WITH newest AS ({newest}), f AS ({scan}), "
                f"v AS (SELECT DISTINCT r.{col}, {_precedence_group_sql(table, 'r')} AS _group "
                f"FROM f AS r WHERE r.filename LIKE '%/vendor-%') "
                f"SELECT * EXCLUDE (filename) FROM f "
                f"WHERE NOT (filename LIKE '%/simulated-%' AND EXISTS (SELECT 1 FROM v "
                f"WHERE v.{col} = f.{col} AND v._group = {_precedence_group_sql(table, 'f')}))"
            )
        return f"CREATE OR REPLACE VIEW {table} AS {body}"

    def _define_views(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create a view for every table that has data or a schema file, and the macros."""
        for table in TABLES:
            if self.schema_file(table).exists() or self.files(table):
                con.execute(self.view_sql(table))
        for sql_file in sorted(SQL_DIR.glob("*.sql")):
            con.execute(sql_file.read_text())

    def publish_views(self) -> bool:
        """(Re)create the DuckDB views and macros; skip quietly if a user holds the file.

        Returns True when the views were written. Views read the Parquet glob at query
        time, so skipping only delays views for *new tables*, never new rows.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.db_path))
        except (duckdb.IOException, duckdb.ConnectionException):
            return False  # a user holds the file: the existing views stay valid
        try:
            self._define_views(con)
        finally:
            con.close()
        return True

    def connect_readonly(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB session with the same views (takes no lock on any file)."""
        con = duckdb.connect()
        self._define_views(con)
        return con

    def remove(self) -> None:
        """Delete the whole warehouse folder (used by tests and `volsignals reset`)."""
        shutil.rmtree(self.root, ignore_errors=True)


def _in_range(d: date, start: date | None, end: date | None) -> bool:
    return (start is None or d >= start) and (end is None or d <= end)
