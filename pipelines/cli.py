"""volsignals: what users do outside the Dagster UI.

Runs go to a persistent Dagster instance in $DAGSTER_HOME (default ./.dagster_home), so
the UI started by "volsignals ui" shows them, under the job names of the code location
(event_calendar, daily_pipeline, whole_history). The instance keeps the newest
$VOLSIGNALS_KEEP_RUNS finished runs (default 30) and deletes older ones after each run
command; a run whose process was killed is marked failed the next time volsignals or the
UI's daemon looks. The warehouse is ./warehouse unless $VOLSIGNALS_WAREHOUSE points elsewhere.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

DEFAULT_START = date(2024, 1, 2)
DEFAULT_END = date(2025, 12, 31)
#: Sessions per Dagster run of ``volsignals run``: each run costs ~2 s of Dagster's own work
#: whatever its size, while memory stays bounded by the assets' own 21-session passes (two
#: default years: 118 s and 1.19 GB at 126, 127 s and 1.16 GB at 63; benchmarks/bench_run.py).
DEFAULT_BATCH = 126


def _dagster_home() -> Path:
    """The Dagster home ($DAGSTER_HOME, default ./.dagster_home) with volsignals' dagster.yaml."""
    from pipelines.instance import ensure_home

    home = ensure_home(Path(os.environ.setdefault("DAGSTER_HOME", str(Path.cwd() / ".dagster_home"))))
    os.environ["DAGSTER_HOME"] = str(home)
    return home


class Materializer:
    """Runs the code location's jobs on the persistent Dagster instance, in partition-range batches.

    Every run is a named job of ``pipelines/definitions.py`` (``event_calendar``,
    ``daily_pipeline``, ``whole_history``, ``hedge_frontier_sweep``) restricted to the assets
    asked for, so the UI lists CLI runs under the same names as scheduled ones.
    """

    #: Which job runs which assets.
    DAILY_JOB, WHOLE_JOB, EVENTS_JOB = "daily_pipeline", "whole_history", "event_calendar"
    FRONTIER_JOB, FRONTIER = "hedge_frontier_sweep", "hedge_frontier"

    def __init__(self, progress: bool = True) -> None:
        import dagster as dg

        from pipelines.definitions import all_assets, defs
        from pipelines.instance import fail_orphaned_runs

        _dagster_home()
        self.dg = dg
        self.defs = defs
        self.instance = dg.DagsterInstance.get()
        fail_orphaned_runs(self.instance)
        self.assets = all_assets
        self.progress = progress
        #: per-asset run config, e.g. ``{"spx_options": {"market": "real"}}``
        self.op_config: dict[str, dict] = {}
        specs = [a for a in all_assets if isinstance(a, dg.AssetsDefinition)]
        self.partitioned = {k.to_user_string() for a in specs if a.partitions_def is not None for k in a.keys}
        self.unpartitioned = {k.to_user_string() for a in specs if a.partitions_def is None for k in a.keys}

    def _job_for(self, names: set[str]) -> str:
        if names <= self.partitioned:
            return self.DAILY_JOB
        if names == {self.FRONTIER}:
            return self.FRONTIER_JOB
        return self.EVENTS_JOB if names == {"events"} else self.WHOLE_JOB

    def _run(self, names: set[str], tags: dict[str, str] | None = None) -> None:
        ops = {a: {"config": c} for a, c in self.op_config.items() if a in names}
        job = self.defs.resolve_job_def(self._job_for(names))
        result = job.execute_in_process(
            instance=self.instance,
            asset_selection=[self.dg.AssetKey(n) for n in sorted(names)],
            tags=tags,
            # Progress is the bar; Dagster's step-by-step log goes to the run's page in the UI.
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}} | ({"ops": ops} if ops else {}),
            raise_on_error=False,
        )
        if not result.success:
            raise SystemExit(f"{job.name} failed; see the run in the Dagster UI (volsignals ui)")

    def prune(self) -> int:
        """Delete finished runs beyond the retention count (see pipelines/instance.py)."""
        from pipelines.instance import prune_runs

        return prune_runs(self.instance)

    def sessions(self, names: set[str], sessions: Sequence[date], batch_size: int, desc: str) -> None:
        """Materialize partitioned assets ``names`` for ``sessions``, one run per batch."""
        from tqdm import tqdm

        names = names & self.partitioned
        if not names or not sessions:
            return
        from pipelines.calendar import contiguous_session_runs

        runs = contiguous_session_runs(sessions, batch_size)
        with tqdm(total=len(sessions), unit="session", disable=not self.progress, desc=desc) as bar:
            for run in runs:
                bar.set_postfix_str(f"{run[0]}..{run[-1]}")
                self._run(
                    names,
                    {
                        "dagster/asset_partition_range_start": run[0].isoformat(),
                        "dagster/asset_partition_range_end": run[-1].isoformat(),
                    },
                )
                bar.update(len(run))

    def whole(self, names: set[str]) -> None:
        """Materialize unpartitioned assets ``names`` (those that exist)."""
        names = names & self.unpartitioned
        if names:
            self._run(names)

    def downstream_of_one(self, name: str) -> set[str]:
        return self.downstream_of({name})

    def downstream_of(self, tables: set[str]) -> set[str]:
        # reference tables (T-bill rates, SET values, strategy indices) are stored, not assets
        tables = tables & (self.partitioned | self.unpartitioned)
        if not tables:
            return set()
        selection = self.dg.AssetSelection.assets(*sorted(tables)).downstream(include_self=False)
        return {k.to_user_string() for k in selection.resolve(self.assets)}


@contextmanager
def publishing_once():
    """Runs inside leave the SQL snapshot alone; it is published once when they are done
    (also after a failure: what the finished runs stored). Each publish copies the snapshot
    file, so one per command instead of one per Dagster run (measured in warehouse/README.md)."""
    from pipelines.warehouse import Warehouse

    before = os.environ.get("VOLSIGNALS_PUBLISH_EACH_RUN")
    os.environ["VOLSIGNALS_PUBLISH_EACH_RUN"] = "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("VOLSIGNALS_PUBLISH_EACH_RUN", None)
        else:
            os.environ["VOLSIGNALS_PUBLISH_EACH_RUN"] = before
        Warehouse().publish_views()


#: The raw tables the simulator writes (everything else is derived from stored data).
RAW_ASSETS = {"spx_options", "spx_daily", "vix_term_structure", "vx_futures", "breadth_daily"}


def materialize_range(
    start: date, end: date, batch_size: int = DEFAULT_BATCH, progress: bool = True, simulate: bool = True, market: str = "simulated",
    frontier: bool = True,
) -> None:
    """Materialize every asset for the NYSE sessions ``start``..``end``.

    The event calendar first, then every daily asset as one Dagster run per batch of
    sessions (a partition-range run, never one run per day), then the whole-history
    assets (registry, decisions, backtest), then (``frontier``) the hedge sweep. ``simulate=False`` skips the simulated raw
    tables and derives everything from what is stored (e.g. vendor files you ingested).
    ``market="real"``: the daily tables are the stored real ones (ingested), and the option
    chain is the real-path market built from them (``features/realpath``).
    """
    from pipelines.calendar import sessions_between

    sessions = sessions_between(start, end)
    if not sessions:
        raise SystemExit(f"no NYSE sessions between {start} and {end}")
    m = Materializer(progress)
    skipped: dict[str, str] = {}
    # derived from stored rows only: what has no inputs is skipped, with the reason (the real
    # market builds its chain in this run, so nothing is missing up front)
    if not simulate and market != "real":
        from pipelines.recompute import skip_report, skipped_assets
        from pipelines.warehouse import Warehouse

        skipped = skipped_assets(Warehouse(), m.partitioned | m.unpartitioned, sessions[-1], m.downstream_of_one)
        for line in skip_report(skipped):
            print(line)
    with publishing_once():
        _materialize_every_asset(m, sessions, batch_size, simulate, market, frontier, skipped)
    m.prune()


def _materialize_every_asset(m: Materializer, sessions: list[date], batch_size: int, simulate: bool, market: str,
                             frontier: bool, skipped: dict[str, str]) -> None:
    m.whole({"events"})
    if market == "real":
        m.op_config["spx_options"] = {"market": "real"}
        raw = RAW_ASSETS - {"spx_options"}
    else:
        raw = set() if simulate else RAW_ASSETS
    m.sessions(m.partitioned - raw - set(skipped), sessions, batch_size, "materializing")
    m.whole(m.unpartitioned - {"events", m.FRONTIER} - set(skipped))
    if frontier:
        m.whole({m.FRONTIER} - set(skipped))


def materialize_after_ingest(touched: dict[str, list[date]], progress: bool = True) -> None:
    """Update what depends on newly landed vendor rows (the policy of :mod:`pipelines.recompute`,
    shared with the landing sensor)."""
    from pipelines.recompute import PER_SESSION_ASSETS, last_stored_session, recompute_plan
    from pipelines.warehouse import Warehouse

    if not touched:
        return
    from pipelines.recompute import skip_report, skipped_assets

    m = Materializer(progress)
    downstream = m.downstream_of(set(touched))
    store = Warehouse()
    plan = recompute_plan((d for ds in touched.values() for d in ds), last_stored_session(store))
    skipped = skipped_assets(store, downstream, plan.history[-1] if plan.history else None, m.downstream_of_one)
    for line in skip_report(skipped):
        print(line)
    downstream -= set(skipped)
    with publishing_once():
        m.sessions(downstream & PER_SESSION_ASSETS, plan.per_session, 260, "per-session features")
        m.sessions(downstream - PER_SESSION_ASSETS, plan.history, 260, "history features")
        m.whole(downstream - {m.FRONTIER})  # the sweep runs weekly or on demand, not per landed file
    m.prune()


def summary() -> str:
    """What is in the warehouse, where, and how to open it."""
    from pipelines.warehouse import TABLES, Warehouse

    store = Warehouse()
    where = f"{store.url} (cache {store.root})" if store.url else str(store.root)
    lines = [f"warehouse: {where}", ""]
    con = store.connect_readonly()
    try:
        for table, layout in TABLES.items():
            if not store.files(table) and not store.schema_file(table).exists():
                continue
            n, first, last = con.sql(
                f"SELECT count(*), min({layout.date_column}), max({layout.date_column}) FROM {table}"
            ).fetchone()
            # a table keyed by something other than a date (the frontier's config_id) shows no span
            span = "empty" if not n else f"{first} .. {last}" if isinstance(first, date) else ""
            lines.append(f"  {table:<22} {n:>12,} rows  {span}")
    finally:
        con.close()
    published = store.publish_views()
    lines += [
        "",
        f"open it:  {duckdb_command()} -readonly {shlex.quote(str(store.db_path))}"
        + ("" if published else "   (views not refreshed: file in use)"),
        f"(DuckDB CLI 1.5.6, installed with volsignals)   the UI:  {_venv_command('volsignals')} ui",
    ]
    return "\n".join(lines)


def _venv_command(name: str) -> str:
    """``name`` as a user can type it: the script beside this Python when it is there (the
    venv's bin/ is often not on PATH), else the bare name."""
    script = Path(sys.executable).parent / name
    return shlex.quote(str(script)) if script.exists() else name


def duckdb_command() -> str:
    """The DuckDB CLI installed with volsignals (duckdb-cli 1.5.6), as a user can type it."""
    return _venv_command("duckdb")


def cmd_run(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    materialize_range(
        args.start, args.end, batch_size=args.batch_size, progress=not args.quiet, simulate=not args.no_simulate,
        market=args.market,
    )
    print(f"\nmaterialized {args.start} .. {args.end} in {time.perf_counter() - t0:.1f} s\n")
    print(summary())


def ingest_options(args: argparse.Namespace):
    """The :class:`~pipelines.vendor_ingest.IngestOptions` of ``volsignals ingest``'s flags."""
    from pipelines.readers import Limits
    from pipelines.vendor_ingest import IngestOptions

    reader = {k: getattr(args, k) for k in ("series", "symbol", "event", "date_order") if getattr(args, k, None)}
    return IngestOptions(
        accept_flagged=args.accept_flagged, force=args.force, reader=reader,
        limits=Limits(max_bytes=args.max_bytes, max_lines=args.max_lines, max_line_bytes=args.max_line_length),
    )


def cmd_ingest(args: argparse.Namespace) -> None:
    """Land each file (a bad one never stops the others); exit 1 when any file was rejected,
    refused, flagged or stored nothing."""
    from pipelines.vendor_ingest import ingest_file
    from pipelines.warehouse import Warehouse

    store = Warehouse()
    options = ingest_options(args)
    touched: dict[str, set[date]] = {}
    failures = 0
    for path in args.paths:
        report = ingest_file(store, path, options=options)
        print(report)
        failures += not report.ok
        for table, dates in report.touched().items():
            touched.setdefault(table, set()).update(dates)
    if touched and not args.no_materialize:
        materialize_after_ingest({t: sorted(d) for t, d in touched.items()}, progress=not args.quiet)
    store.publish_views()
    if failures:
        sys.exit(f"{failures} of {len(args.paths)} file(s) were not stored (see the lines marked REJECTED, "
                 f"REFUSED, NOT STORED or NOTHING STORED above)")


def cmd_sql(args: argparse.Namespace) -> None:
    """One read-only statement on the SQL snapshot; any error is one line on stderr and exit 1.

    The session can read the snapshot's tables and nothing else: no file access
    (``COPY``, ``read_csv``, ``ATTACH`` are refused), no settings change, no extensions."""
    import duckdb

    from pipelines.warehouse import Warehouse

    def fail(message: str) -> None:
        first = next((line.strip() for line in str(message).splitlines() if line.strip()), "unknown error")
        sys.exit(f"volsignals sql: {first}")

    try:
        statements = duckdb.extract_statements(args.query)
    except duckdb.Error as exc:
        return fail(exc)
    if len(statements) != 1:
        return fail(f"give exactly one SQL statement (got {len(statements)})")
    try:
        con = Warehouse().connect_readonly(safe=True)
        result = con.sql(args.query)
        if result is None:
            print("ok")
        else:
            result.show(max_rows=args.max_rows)
    except (duckdb.Error, OSError) as exc:
        fail(exc)


def cmd_views(args: argparse.Namespace) -> None:
    from pipelines.warehouse import Warehouse

    store = Warehouse()
    store.publish_views()
    print(f"SQL snapshot published: {store.db_path} -> {store.snapshot_path()}")


def ui_command(host: str, port: int, workspace: Path) -> list[str]:
    """``dagster dev`` run by this Python (so it works without the venv on PATH)."""
    return [sys.executable, "-m", "dagster", "dev", "-w", str(workspace), "--host", host, "--port", str(port)]


def cmd_ui(args: argparse.Namespace) -> None:
    from pipelines.instance import fail_orphaned_runs

    _dagster_home()
    import dagster as dg

    fail_orphaned_runs(dg.DagsterInstance.get())
    root = Path(__file__).resolve().parents[1]
    print(f"Dagster UI on http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
    sys.exit(subprocess.run(ui_command(args.host, args.port, root / "workspace.yaml"), check=False).returncode)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="volsignals", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="materialize every asset over a range of sessions",
        description="Materialize every asset for the NYSE sessions START..END: the event calendar, the daily "
        "assets as one Dagster run per batch of sessions, then the registry, decisions and backtest.",
    )
    run.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START, metavar="YYYY-MM-DD",
                     help=f"first session (default {DEFAULT_START})")
    run.add_argument("--end", type=date.fromisoformat, default=DEFAULT_END, metavar="YYYY-MM-DD",
                     help=f"last session (default {DEFAULT_END})")
    run.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=f"sessions per Dagster run (default {DEFAULT_BATCH})")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--no-simulate", action="store_true", help="do not simulate raw tables; derive from stored (vendor) data only"
    )
    run.add_argument(
        "--market", choices=["simulated", "real"], default="simulated",
        help="real: stored real daily data (volsignals ingest) and the real-path option chain built from it",
    )
    run.set_defaults(func=cmd_run)

    ingest = sub.add_parser("ingest", help="land vendor files and update what depends on them")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="vendor files (the format is detected from the content)")
    ingest.add_argument("--accept-flagged", action="store_true", help="store files flagged as stale snapshots")
    ingest.add_argument("--force", action="store_true",
                        help="store a file even when it would replace a more complete or more trustworthy stored "
                             "chain or values, or most of its rows were quarantined; read a long file whole even when "
                             "none of its first 100,000 lines passes")
    from pipelines.readers import Limits

    ingest.add_argument("--max-bytes", type=int, default=Limits.max_bytes,
                        help=f"largest decompressed file, bytes (default {Limits.max_bytes:,})")
    ingest.add_argument("--max-lines", type=int, default=Limits.max_lines,
                        help=f"most lines in one file (default {Limits.max_lines:,})")
    ingest.add_argument("--max-line-length", type=int, default=Limits.max_line_bytes,
                        help=f"longest line, bytes (default {Limits.max_line_bytes:,})")
    ingest.add_argument("--date-order", choices=["mdy", "dmy", "ymd"],
                        help="the order of the files' dates when the file cannot show it (e.g. 01/02/2024)")
    ingest.add_argument("--series", help="the index of a Cboe history whose file does not name it (VIX, VIX3M, ...)")
    ingest.add_argument("--symbol", help="the index of Yahoo-style daily bars (SPX or VIX)")
    ingest.add_argument("--event", help="the event kind of a bare list of dates (FOMC, CPI or PPI)")
    ingest.add_argument("--no-materialize", action="store_true", help="store only; do not update downstream assets")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.set_defaults(func=cmd_ingest)

    sql = sub.add_parser("sql", help="run one read-only SQL statement on the warehouse (no file access)")
    sql.add_argument("query", help="one DuckDB SQL statement over the warehouse tables")
    sql.add_argument("--max-rows", type=int, default=40, help="rows to print (default 40)")
    sql.set_defaults(func=cmd_sql)

    views = sub.add_parser("views", help="publish the SQL snapshot (volsignals.duckdb) now")
    views.set_defaults(func=cmd_views)

    ui = sub.add_parser(
        "ui",
        help="start the Dagster UI (dagster dev) on this project",
        description="Start the Dagster UI and its daemon (schedules, sensors, run monitoring) on the "
        "instance volsignals runs write to.",
    )
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    ui.add_argument("--port", type=int, default=3000, help="port (default 3000)")
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
