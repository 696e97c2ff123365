"""The warehouse: immutable Parquet partitions listed in a manifest, and a SQL snapshot for people.

Why this design. DuckDB lets one process write a database file *or* many processes
read it, never both: a user's ``duckdb -readonly`` session would make a writing
materialization fail, and a long write would block the user's queries. So the
pipeline never writes a DuckDB file that a user can hold. Data lives in Parquet
files, one per partition and source kind:

    <root>/data/<table>/<partition>/<kind>-<version>.parquet

where ``<partition>`` is ``date=YYYY-MM-DD`` for large per-session tables (the option
chain and its features), ``year=YYYY`` for small daily tables, ``source=<name>`` for the
quarantine and ``all`` for whole-history results; ``<kind>`` is ``simulated``, ``vendor``
(rows from a real file), ``derived`` (computed features) or ``resolved`` (the rows everybody
reads when a partition holds vendor and simulated rows: precedence applied once, when the
partition is written, by :func:`resolve_precedence`); ``<version>`` is the write time in
nanoseconds. A file name is never reused: a rewrite adds a new version (written in
``<root>/staging``, then renamed into place: a reader never sees half a file).

``<root>/manifest.json`` names the current file of every partition and kind; it is
replaced atomically at the end of each write, under the writers' advisory lock on
``<root>/.write.lock``. Readers take no lock: one read of the manifest is a consistent
state, and only the files it names are ever read, so a file the store did not write
is ignored. A killed write publishes no manifest and loses nothing (its leftovers in
``staging`` go on the next write). Superseded versions are deleted once they have been
superseded for ``VERSION_GRACE_SECONDS``, so a reader that took the manifest just
before still finds them.

``<root>/volsignals.duckdb`` is a link to the newest SQL snapshot: native DuckDB tables
holding the manifest's rows, plus the macros of ``warehouse/*.sql`` (see
:mod:`pipelines.sql_snapshot` for why native tables and how a publish keeps users'
sessions and writes apart).

On an object store (``s3://bucket/prefix``, :mod:`pipelines.object_store`) the same layout
lives under the prefix, and the bucket is the record: each process works in a local cache
folder (``VOLSIGNALS_WAREHOUSE_CACHE``, default ``~/.cache/volsignals/s3/<bucket>/<prefix>``)
with every path above, so the code paths are the local ones. Readers take the remote
manifest (a conditional GET: unchanged, it is not downloaded again) and fetch only the files
they open that the cache lacks. A writer holds the cache's file lock *and* the bucket's
writer lease (:class:`~pipelines.object_store.Lease`), starts from the remote manifest, and
on a clean exit uploads the files it registered (versioned names: create-only, never
overwritten), then the manifest in one PUT conditional on the ETag it started from (a
snapshot for readers, and a compare-and-swap against any other writer), then deletes the
superseded files it dropped. A failed or killed write publishes nothing remotely. The SQL
snapshot is built in the cache (DuckDB cannot read s3:// here) and uploaded as
``<prefix>/volsignals.duckdb`` for other machines to download.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandera.polars as pa
import polars as pl

from pipelines import contracts
from pipelines.object_store import AlreadyExistsError, Lease, PreconditionError, Remote, is_remote, parallel, split_url
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


def warehouse_root() -> Path | str:
    """The warehouse: ``$VOLSIGNALS_WAREHOUSE`` (a folder or an ``s3://bucket/prefix`` URL) or ``<repo>/warehouse``."""
    value = os.environ.get("VOLSIGNALS_WAREHOUSE")
    if value and is_remote(value):
        return value.rstrip("/")
    return Path(value or DEFAULT_ROOT).resolve()


#: The local working copy of a remote warehouse (one folder per warehouse and machine).
CACHE_ENV = "VOLSIGNALS_WAREHOUSE_CACHE"


def cache_root(url: str) -> Path:
    """Where a process keeps its working copy of ``url``: ``$VOLSIGNALS_WAREHOUSE_CACHE``, else
    ``$XDG_CACHE_HOME`` (default ``~/.cache``) ``/volsignals/s3/<bucket>/<prefix>``.

    Processes of one machine share it (they serialize writes on its file lock, as on a local
    warehouse); it only ever holds copies of published, immutable files, so it may be deleted."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).resolve()
    bucket, prefix = split_url(url)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return (base / "volsignals" / "s3" / bucket / (prefix or "_")).resolve()


def _partition_name(layout: TableLayout, d: date) -> str:
    return f"date={d.isoformat()}" if layout.grain == "date" else f"year={d.year}"


#: Partition grains: one file per session, per calendar year, per source (quarantine),
#: or one file for the whole table (small results recomputed as a whole, e.g. a backtest).
GRAINS = ("date", "year", "source", "all")


#: How long a superseded file version stays readable for a reader that took the manifest
#: just before it was superseded (Python readers open the files after reading the manifest).
VERSION_GRACE_SECONDS = 600
#: How long a superseded SQL snapshot stays on disk when nobody holds it open (a user's
#: ``duckdb`` may have resolved the ``volsignals.duckdb`` link just before it moved).
SNAPSHOT_GRACE_SECONDS = 60
MANIFEST_FILE = "manifest.json"
#: Remote manifests only: the tables whose ``_schema/empty.parquet`` is in the bucket.
SCHEMA_FILES = "schema_files"
#: The name of the file version that holds a partition's rows after vendor precedence.
RESOLVED = "resolved"


def _atomic_write(frame: pl.DataFrame, path: Path, staging: Path) -> None:
    """Write ``frame`` to ``path`` so that readers only ever see a whole, durable file.

    The temporary file lives in ``staging`` (same file system, cleaned on the next write
    if a writer is killed), so no half-written file is ever inside the data tree."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir(parents=True, exist_ok=True)
    tmp = staging / f"{path.name}.tmp-{os.getpid()}"
    encoded = io.BytesIO()  # encoding in memory is ~15 % faster than polars' own file sink
    frame.write_parquet(encoded, compression="zstd", statistics=True)
    with open(tmp, "wb") as fh:
        fh.write(encoded.getbuffer())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _version(name: str | Path) -> int:
    return int(Path(name).stem.rsplit("-", 1)[1])


def _fsync(path: Path) -> None:
    """Flush a finished file's contents to disk."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _flush_all(paths: Sequence[Path]) -> None:
    """Flush finished files to disk together: the disk overlaps concurrent flushes (40 session
    files of a multi-day file: ~10 ms instead of ~17 ms one after another)."""
    parallel(_fsync, list(paths))


def _move_into_place(staged: Path, path: Path) -> None:
    """Move a finished, flushed file into place (same file system: atomic)."""
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


def resolve_precedence(table: str, vendor: pl.DataFrame, simulated: pl.DataFrame) -> pl.DataFrame:
    """The rows of one partition that everybody reads: **the** vendor-precedence rule.

    A session's vendor rows hide its simulated rows of the same precedence group
    (:func:`precedence_group`; the whole session when the table has none). It runs once,
    when a partition is written; the SQL snapshot and :meth:`Warehouse.read` both read
    its result, so they cannot disagree."""
    col = TABLES[table].date_column
    group = precedence_group(table)
    keys = [col] if group is None else [col, "_group"]
    if group is not None:
        vendor_keys = vendor.select(col, group.alias("_group")).unique()
        kept = simulated.with_columns(group.alias("_group")).join(vendor_keys, on=keys, how="anti").drop("_group")
    else:
        kept = simulated.join(vendor.select(col).unique(), on=col, how="anti")
    return pl.concat([vendor, kept], how="diagonal_relaxed").sort(col, maintain_order=True)


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
    """Reads and writes the partitioned Parquet store under one root folder or object-store prefix.

    Every path the store touches is built here from ``root`` (``data``, ``staging``,
    ``views``, the manifest). For an ``s3://`` URL, ``root`` is the local cache folder
    (``cache``, default :func:`cache_root`) and ``url``/``remote`` name the bucket, which
    this class keeps in step (see the module docstring)."""

    def __init__(self, root: Path | str | None = None, cache: Path | str | None = None) -> None:
        root = root if root is not None else warehouse_root()
        self.url: str | None = None
        self.remote: Remote | None = None
        if is_remote(root):
            self.url = str(root).rstrip("/")
            self.remote = Remote(self.url)
            self.root = Path(cache).resolve() if cache is not None else cache_root(self.url)
        else:
            self.root = Path(root).resolve()
        self._seen: tuple[bytes, str, dict] | None = None  # the remote manifest last read: bytes, ETag, parsed
        self.data = self.root / "data"
        self.staging = self.root / "staging"
        self.views = self.root / "views"
        self._writing = threading.local()  # the manifest being changed by this thread's write

    @property
    def _manifest(self) -> dict | None:
        """The manifest this thread is changing under the write lock (None outside a write)."""
        return getattr(self._writing, "manifest", None)

    @_manifest.setter
    def _manifest(self, value: dict | None) -> None:
        self._writing.manifest = value

    # ------------------------------------------------------------------ the manifest
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_FILE

    def manifest(self) -> dict:
        """The published state: ``{"tables": {table: {partition: entry}}}``.

        An entry names the current file of each source kind in the partition folder, the
        ``published`` file that everybody reads (vendor precedence already applied) and
        the ``superseded`` files still kept for readers that took an older manifest. Only
        files named here are ever read: a file dropped into the data tree by anything but
        this class is ignored. The file is replaced atomically, so one read is a snapshot.
        """
        if self._manifest is not None:
            return self._manifest
        if self.remote is not None:
            return self._remote_manifest()[1]
        try:
            return json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            if not self.data.exists():
                return {"format": 1, "tables": {}}
            with self.write_lock():  # a warehouse written before manifests: adopt its files once
                return self.manifest()

    def _write_manifest(self, manifest: dict) -> None:
        self.staging.mkdir(parents=True, exist_ok=True)
        tmp = self.staging / f"{MANIFEST_FILE}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(manifest, sort_keys=True))
        _fsync(tmp)
        # the renames that put this write's files in place must be on disk before a manifest
        # that names them, and the manifest's own rename after it (else a crash can leave a
        # manifest naming a file whose rename was lost)
        parallel(_fsync_dir, sorted({p.parent for p in self._writing.added if p.parent.exists()}))
        os.replace(tmp, self.manifest_path)
        _fsync_dir(self.root)

    def _adopt_legacy_files(self) -> dict:
        """Manifest for a warehouse written before manifests: newest version of each kind."""
        manifest: dict = {"format": 1, "tables": {}}
        self._manifest = manifest
        for table_dir in sorted(p for p in self.data.iterdir() if p.is_dir()) if self.data.exists() else []:
            if table_dir.name not in TABLES:
                continue
            for part_dir in sorted(p for p in table_dir.iterdir() if p.is_dir() and p.name != "_schema"):
                newest: dict[str, str] = {}
                for f in part_dir.glob("*-*.parquet"):
                    kind = f.stem.rsplit("-", 1)[0]
                    if kind in SOURCE_KINDS and f.stem.rsplit("-", 1)[1].isdigit():
                        if kind not in newest or _version(f) > _version(newest[kind]):
                            newest[kind] = f.name
                for kind, name in newest.items():
                    self._register(table_dir.name, part_dir.name, kind, name)
        return manifest

    # ------------------------------------------------------------------ writing
    @contextmanager
    def write_lock(self, blocking: bool = True) -> Iterator[bool]:
        """Serialize writers across processes (readers never take it).

        Whoever holds the lock is the only writer, so anything left in ``staging`` is
        from a writer that was killed: it is removed first. The manifest is loaded on
        entry and published on a clean exit; a write that fails or is killed publishes
        nothing, and the previous state stays as it was. ``blocking=False``: yields False
        at once (and does nothing) when another writer holds the lock.

        On an object store the writer also holds the bucket's writer lease (other machines),
        starts from the remote manifest, and publishes there (:meth:`_publish_remote`);
        ``blocking=True`` waits for another machine's lease up to ``VOLSIGNALS_LEASE_WAIT``
        seconds, then raises :class:`~pipelines.object_store.LeaseBusy`."""
        if self._manifest is not None:  # re-entered by the same writer
            yield True
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".write.lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            lease = Lease(self.remote) if self.remote is not None else None
            if lease is not None and not lease.acquire(blocking):
                fcntl.flock(fh, fcntl.LOCK_UN)
                yield False
                return
            try:
                shutil.rmtree(self.staging, ignore_errors=True)
                # changed: a file was registered (a 20-year manifest is 1.5 MB of JSON, so
                # comparing dumps before and after cost ~50 ms per write)
                self._writing.changed = False
                self._writing.added = set()  # files written during this write (what a remote write uploads)
                self._writing.dropped = []  # superseded files deleted during this write
                etag = None
                if lease is not None:
                    etag, self._manifest = self._remote_manifest(fresh=True)  # under the lease
                else:
                    try:
                        self._manifest = json.loads(self.manifest_path.read_text())
                    except FileNotFoundError:
                        self._manifest, self._writing.changed = self._adopt_legacy_files(), True
                yield True
                if self._writing.changed:
                    self._manifest["serial"] = self._manifest.get("serial", 0) + 1
                    if lease is not None:
                        lease.check()
                        self._publish_remote(self._manifest, etag)
                    else:
                        self._write_manifest(self._manifest)
            finally:
                self._manifest = None
                shutil.rmtree(self.staging, ignore_errors=True)
                if lease is not None:
                    lease.release()
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ the object store
    def _key(self, path: Path) -> str:
        """The object key of a cache path (the same relative path under the bucket prefix)."""
        return path.relative_to(self.root).as_posix()

    def _remote_manifest(self, fresh: bool = False) -> tuple[str | None, dict]:
        """The published remote manifest and its ETag (None: nothing published yet).

        An unchanged manifest is not downloaded again (a GET with ``If-None-Match``);
        ``fresh=True`` returns a copy the caller may change. The schema files it lists
        are fetched into the cache, so ``schema_file(...).exists()`` answers as locally."""
        assert self.remote is not None
        seen = self._seen
        try:
            blob = self.remote.get(MANIFEST_FILE, if_none_match=seen[1] if seen else None)
        except FileNotFoundError:
            return None, {"format": 1, "tables": {}}
        if blob is not None:
            seen = self._seen = (blob.data, blob.etag, json.loads(blob.data))
            self._fetch([self.schema_file(t) for t in seen[2].get(SCHEMA_FILES, [])])
        assert seen is not None
        return seen[1], (json.loads(seen[0]) if fresh else seen[2])

    def _fetch(self, paths: Iterable[Path]) -> None:
        """Download the cache paths that are missing (remote warehouses; a no-op locally)."""
        if self.remote is None:
            return
        missing = [p for p in paths if not p.exists()]
        self.remote.download(((self._key(p), p) for p in missing), self.root / ".fetch")

    def _local(self, table: str, part: str, name: str) -> Path:
        """A file of a partition in the cache, fetched first if the cache lacks it."""
        path = self.table_dir(table) / part / name
        self._fetch([path])
        return path

    def _publish_remote(self, manifest: dict, etag: str | None) -> None:
        """Publish a write to the bucket: new files, then the manifest, then drop superseded files.

        The files go first (create-only: versioned names are never reused), so the manifest
        never names a missing object. The manifest PUT is conditional on the ETag the write
        started from: if anything else published meanwhile (a writer that took over an
        expired lease) it fails with PreconditionError and this write publishes nothing."""
        assert self.remote is not None
        before = set(manifest.get(SCHEMA_FILES, []))
        schemas = {t for t in TABLES if self.schema_file(t).exists()}
        uploads = [p for p in self._writing.added if p.exists()]
        uploads += [self.schema_file(t) for t in sorted(schemas - before)]
        self.remote.upload_new((p, self._key(p)) for p in uploads)
        manifest[SCHEMA_FILES] = sorted(schemas | before)
        body = json.dumps(manifest, sort_keys=True).encode()
        try:
            if etag is None:
                new_etag = self.remote.put_if_absent(MANIFEST_FILE, body)
            else:
                new_etag = self.remote.put_if_match(MANIFEST_FILE, body, etag)
        except (PreconditionError, AlreadyExistsError) as exc:
            raise RuntimeError(f"{self.url}: another writer published first; this write published nothing") from exc
        self._seen = (body, new_etag, json.loads(body))
        self.remote.delete([self._key(p) for p in self._writing.dropped])

    def table_dir(self, table: str) -> Path:
        return self.data / table

    def schema_file(self, table: str) -> Path:
        """The zero-row Parquet file that fixes a table's columns for the views."""
        return self.table_dir(table) / "_schema" / "empty.parquet"

    def ensure_schema_file(self, table: str, frame: pl.DataFrame | None = None) -> None:
        """Keep a zero-row Parquet file that fixes the table's columns for the views."""
        layout = TABLES[table]
        path = self.schema_file(table)
        if path.exists() or (frame is None and layout.schema is None):
            return
        with self.write_lock():  # its temporary file lives in staging, which belongs to the lock holder
            if not path.exists():
                _atomic_write((frame if frame is not None else empty_frame(layout.schema)).clear(), path, self.staging)

    def _entry(self, table: str, part: str) -> dict:
        assert self._manifest is not None, "writes happen under write_lock()"
        return self._manifest["tables"].setdefault(table, {}).setdefault(part, {})

    def _current(self, table: str, part: str, kind: str) -> Path | None:
        """The current file of ``kind`` in a partition (from the manifest being written)."""
        name = self._entry(table, part).get(kind)
        return self._local(table, part, name) if name else None

    def _register(self, table: str, part: str, kind: str, name: str) -> None:
        """Make ``name`` the current ``kind`` file of a partition and re-derive what is read."""
        entry = self._entry(table, part)
        self._writing.changed = True
        now = time.time_ns()
        superseded = entry.setdefault("superseded", [])
        if entry.get(kind) and entry[kind] != name:
            superseded.append([entry[kind], now])
        entry[kind] = name
        kinds = [k for k in SOURCE_KINDS if entry.get(k)]
        directory = self.table_dir(table) / part
        if "vendor" in kinds and "simulated" in kinds:
            resolved = resolve_precedence(
                table, pl.read_parquet(self._local(table, part, entry["vendor"])),
                pl.read_parquet(self._local(table, part, entry["simulated"])),
            )
            if "derived" in kinds:
                resolved = pl.concat([resolved, pl.read_parquet(self._local(table, part, entry["derived"]))],
                                     how="diagonal_relaxed")
            published = f"{RESOLVED}-{self._next_version(entry)}.parquet"
            _atomic_write(resolved, directory / published, self.staging)
        elif len(kinds) == 1:
            published = entry[kinds[0]]
        else:  # derived rows beside source rows: never written by the pipeline, kept readable anyway
            published = f"{RESOLVED}-{self._next_version(entry)}.parquet"
            _atomic_write(pl.concat([pl.read_parquet(self._local(table, part, entry[k])) for k in kinds],
                                    how="diagonal_relaxed"), directory / published, self.staging)
        if entry.get("published") and entry["published"] != published and entry["published"].startswith(RESOLVED):
            superseded.append([entry["published"], now])
        entry["published"] = published
        self._writing.added.update((directory / entry[kind], directory / published))
        # a superseded file goes once it has been superseded for longer than the grace period
        cutoff = now - VERSION_GRACE_SECONDS * 1_000_000_000
        keep = []
        for old, when in superseded:
            if when <= cutoff:
                (directory / old).unlink(missing_ok=True)
                self._writing.dropped.append(directory / old)
            else:
                keep.append([old, when])
        entry["superseded"] = keep

    def _next_version(self, entry: dict) -> int:
        """A version number newer than every file of the partition (write time, ns)."""
        names = [entry.get(k) for k in (*SOURCE_KINDS, "published")] + [old for old, _ in entry.get("superseded", [])]
        return max([time.time_ns(), *(_version(n) + 1 for n in names if n)])

    def _publish(self, frame: pl.DataFrame, table: str, part: str, kind: str) -> Path:
        """Store ``frame`` as the newest ``kind`` version of a partition."""
        return self._install(table, part, kind, lambda path: _atomic_write(frame, path, self.staging))

    def _install(self, table: str, part: str, kind: str, put: Callable[[Path], None]) -> Path:
        """Make ``put`` write the newest version of ``kind`` in a partition and register it."""
        path = self.table_dir(table) / part / f"{kind}-{self._next_version(self._entry(table, part))}.parquet"
        put(path)
        self._register(table, part, kind, path.name)
        return path

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
        stored = [path for part in by_partition if (path := self._current(table, part, kind))]
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
            new_rows = rows_of[part]
            current = self._current(table, part, kind)
            if layout.grain == "year" and current is not None:
                old = pl.read_parquet(current)
                if mode == "upsert":
                    old = old.join(new_rows.select(keys), on=keys, how="anti")
                else:
                    old = old.filter(~pl.col(col).is_in(by_partition[part]))
                new_rows = pl.concat([old, new_rows], how="vertical_relaxed")
            if not new_rows[col].is_sorted():
                new_rows = new_rows.sort(col, maintain_order=True)
            self._publish(new_rows, table, part, kind)
            return new_rows.height

        return {part: write(part) for part in by_partition}

    def _publish_sessions(self, table: str, frame: pl.DataFrame, kind: str,
                          by_partition: dict[str, list[date]]) -> dict[str, int]:
        """Several session partitions at once (a multi-day vendor file, a simulated year).

        Encoding a small Parquet file costs ~1.5 ms whatever its size, so polars encodes
        all partitions in one parallel pass, into the staging folder outside the data tree
        (nothing reads it; a killed writer's leftovers go on the next write); each file is
        then installed as its partition's newest version. A session without rows gets an
        empty file (``mode="replace"``)."""
        col = TABLES[table].date_column
        part_of = {d: part for part, dates in by_partition.items() for d in dates}
        key = pl.col(col).replace_strict(part_of, return_dtype=pl.String).alias("_partition")
        staging = self.staging / f"{table}-{os.getpid()}-{time.time_ns()}"
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
            _flush_all([files[0] for files in staged.values() if len(files) == 1])
            for part in by_partition:
                files = staged.get(part, [])
                if len(files) == 1:  # the normal case
                    self._install(table, part, kind, lambda path: _move_into_place(files[0], path))
                else:  # no rows for this session, or (never seen) polars split it into several files
                    self._publish(pl.concat([frame.clear(), *map(pl.read_parquet, files)]), table, part, kind)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
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
            self._publish(frame, table, "all", "derived")
        return frame.height

    def append(self, table: str, rows: pl.DataFrame) -> None:
        """Append rows to a small whole-table log (read, extend, replace atomically)."""
        with self.write_lock():
            self.ensure_schema_file(table, rows)
            current = self._current(table, "all", "derived")
            if current is not None:
                rows = pl.concat([pl.read_parquet(current), rows], how="vertical_relaxed")
            self._publish(rows, table, "all", "derived")

    def write_quarantine(self, source_name: str, frame: pl.DataFrame, dates: Sequence[date]) -> None:
        """Replace the quarantined rows recorded for one source on ``dates``.

        Quarantine is kept per source (a vendor file or the simulator), so re-ingesting a
        file is idempotent and a corrected file's record replaces the old one's dates.
        """
        layout = TABLES["quarantine"]
        frame = contracts.validate(frame, layout.schema)  # type: ignore[union-attr]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in source_name)
        part = f"source={safe}"
        with self.write_lock():
            current = self._current("quarantine", part, "derived")
            if frame.is_empty() and current is None:
                return
            self.ensure_schema_file("quarantine")
            if current is not None:
                old = pl.read_parquet(current).filter(~pl.col("quote_date").is_in(list(dates)))
                frame = pl.concat([old, frame], how="vertical_relaxed")
            self._publish(frame, "quarantine", part, "derived")

    # ------------------------------------------------------------------ reading
    def partitions(self, table: str) -> dict[str, Path]:
        """The file everybody reads for each partition of ``table`` (from the manifest), in the
        cache when the warehouse is remote (missing ones are fetched)."""
        parts = self._published(table)
        self._fetch(parts.values())
        return parts

    def _published(self, table: str) -> dict[str, Path]:
        """Where each partition's published file is (or will be, once fetched) under ``root``."""
        entries = self.manifest()["tables"].get(table, {})
        base = self.table_dir(table)
        return {part: base / part / e["published"] for part, e in sorted(entries.items()) if e.get("published")}

    def files(self, table: str) -> list[Path]:
        """The published file of every partition of ``table`` (vendor precedence applied)."""
        return list(self.partitions(table).values())

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
        ``where`` predicate are pushed down into the Parquet scan. Precedence was applied
        when the partitions were written (:func:`resolve_precedence`).
        """
        layout = TABLES[table]
        col = layout.date_column
        parts = self._published(table)
        if layout.grain == "date":
            paths = [p for part, p in parts.items() if _in_range(date.fromisoformat(part[5:]), start, end)]
        elif layout.grain == "year":
            paths = [
                p
                for part, p in parts.items()
                if (start is None or int(part[5:]) >= start.year) and (end is None or int(part[5:]) <= end.year)
            ]
        else:
            paths = list(parts.values())
        self._fetch(paths)  # only the partitions that can hold the dates asked for
        if not paths:
            schema_file = self.schema_file(table)
            if schema_file.exists():
                frame = pl.read_parquet(schema_file).clear()  # its columns only, whatever it holds
            elif layout.schema is not None:
                frame = empty_frame(layout.schema)
            else:  # a derived table nothing has written yet
                frame = pl.DataFrame(schema={c: pl.Null for c in columns or []})
            return frame.select(columns) if columns else frame
        lf = pl.concat([pl.scan_parquet(p) for p in paths], how="diagonal_relaxed")
        if start is not None:
            lf = lf.filter(pl.col(col) >= start)
        if end is not None:
            lf = lf.filter(pl.col(col) <= end)
        if where is not None:
            lf = lf.filter(where)
        if columns:
            lf = lf.select(columns)
        return lf.collect().sort(col, maintain_order=True)

    def dates(self, table: str) -> list[date]:
        """Distinct dates stored in ``table``."""
        frame = self.read(table, columns=[TABLES[table].date_column])
        return frame.get_column(TABLES[table].date_column).unique().sort().to_list()

    # ------------------------------------------------------------------ SQL
    @property
    def db_path(self) -> Path:
        """``volsignals.duckdb``: a link to the newest SQL snapshot (what users open)."""
        return self.root / DB_FILE

    @property
    def working_db(self) -> Path:
        """The pipeline's private copy of the SQL tables, brought up to date before each snapshot."""
        return self.views / "working.duckdb"

    def snapshot_path(self) -> Path | None:
        """The SQL snapshot ``volsignals.duckdb`` points at (None before the first publish)."""
        return self.db_path.resolve() if self.db_path.is_symlink() and self.db_path.resolve().exists() else None

    def publish_views(self, wait: bool = True) -> bool:
        """Publish the manifest's current rows as a new SQL snapshot, if anything changed.

        The SQL face is a DuckDB file of native tables (with the macros of
        ``warehouse/*.sql``): the working copy is brought up to date partition by
        partition, copied to ``views/volsignals-<version>.duckdb`` and the link
        ``volsignals.duckdb`` is moved onto the copy in one rename. A user's session keeps
        the snapshot it opened (whole partitions, never a mix) and never blocks this; the
        next session sees the new one. Snapshots nobody holds open go after
        ``SNAPSHOT_GRACE_SECONDS``. ``wait=False``: give up (False) when a writer holds the lock.
        Returns True when the snapshot is current.
        """
        from pipelines import sql_snapshot

        with self.write_lock(blocking=wait) as locked:
            if not locked:
                return self.snapshot_path() is not None
            before = self.snapshot_path()
            current = sql_snapshot.publish(self, self.manifest())
            if self.remote is not None and current != before:
                # under the lease, so the bucket's snapshot never goes back to an older state
                self.remote.put(DB_FILE, current)
        return True

    def connect_readonly(self, safe: bool = False) -> duckdb.DuckDBPyConnection:
        """A read-only DuckDB session on the current SQL snapshot (published first if stale).

        ``safe=True``: no file access at all beyond the snapshot (``enable_external_access``
        off, configuration locked, no extension loading) — for ``volsignals sql``."""
        self.publish_views(wait=False)
        path = self.snapshot_path()
        if path is None:
            raise FileNotFoundError(f"no SQL snapshot in {self.root}: run `volsignals run` or `volsignals views` first")
        config = dict(SAFE_SQL_CONFIG) if safe else {}
        return duckdb.connect(str(path), read_only=True, config=config)

    def remove(self) -> None:
        """Delete the whole warehouse folder (used by tests and `volsignals reset`); for a
        remote warehouse, every object under its prefix and this machine's cache."""
        if self.remote is not None:
            self.remote.delete(self.remote.keys())
            self._seen = None
        shutil.rmtree(self.root, ignore_errors=True)


#: DuckDB settings of a `volsignals sql` session: the snapshot file and nothing else.
SAFE_SQL_CONFIG = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


def _in_range(d: date, start: date | None, end: date | None) -> bool:
    return (start is None or d >= start) and (end is None or d <= end)
