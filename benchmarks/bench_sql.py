"""Benchmark: the users' SQL through the documented ``duckdb`` CLI, beside a native DuckDB table.

Run on a built warehouse (the default two years: ``VOLSIGNALS_WAREHOUSE=/tmp/wh volsignals run``):

    python benchmarks/bench_sql.py [--warehouse DIR] [--repeat 15] [--as-is]

Steps, each timed: (1) publish the SQL snapshot from scratch (the working copy is removed
first, so this is the full cost a first publish pays; ``--as-is`` skips publishing and
measures whatever ``volsignals.duckdb`` holds, e.g. a warehouse written by older code),
then an incremental publish with nothing changed; (2) build a native DuckDB database
holding the same rows (``CREATE TABLE … AS SELECT * FROM`` each table of the views file);
(3) run a fixed set of user queries through ``.venv/bin/duckdb -readonly`` on both files
(``.timer on``, output discarded with ``.mode trash``), each ``--repeat`` times in one CLI
session, and once cold (a fresh CLI process: open + first query, timed from outside).
The two files are timed in alternating CLI sessions (three rounds) so that the load of a
shared machine drifts over both alike. Prints the publish cost (seconds, rows/s), per query
the median and mean warm time and the cold time on both, the ratio of the medians (each
floored at the CLI timer's 1 ms resolution) and whether it meets the targets (within 3x of
native; one session's chain under 100 ms), wall time and peak memory (ru_maxrss of this
process and of the CLI children).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from pipelines.warehouse import SQL_DIR, Warehouse, warehouse_root  # noqa: E402

DUCKDB_CLI = Path(sys.executable).with_name("duckdb")

#: The fixed query set: (name, SQL). Dates are sessions of the default 2024-2025 range.
QUERIES: list[tuple[str, str]] = [
    ("count spx_options", "SELECT count(*) FROM spx_options"),
    ("count option_features", "SELECT count(*) FROM option_features"),
    ("one session's chain", "SELECT * FROM spx_options WHERE quote_date = DATE '2025-06-16'"),
    ("one expiry across a month",
     "SELECT quote_date, strike, option_type, bid, ask FROM spx_options "
     "WHERE expiration = DATE '2025-07-18' AND quote_date BETWEEN DATE '2025-06-01' AND DATE '2025-06-30' "
     "ORDER BY quote_date, strike, option_type"),
    ("month of option x chain features",
     "SELECT o.quote_date, o.expiration, o.strike, o.option_type, o.iv, o.iv - c.atm_iv_30d AS iv_vs_atm, c.vix_30d "
     "FROM option_features o JOIN chain_features c ON c.quote_date = o.quote_date "
     "WHERE o.quote_date BETWEEN DATE '2025-06-01' AND DATE '2025-06-30'"),
    ("README: chain VIX vs official",
     "SELECT c.quote_date, c.vix_30d, v.value AS vix FROM chain_features c JOIN vix_term_structure v "
     "ON v.date = c.quote_date AND v.series = 'VIX' ORDER BY 1 DESC LIMIT 5"),
    ("README: regime of a day",
     "SELECT date, regime, vix, vol_enter_stressed, vol_exit_stressed, ts_vix_vix3m FROM regimes "
     "WHERE date = DATE '2025-01-15'"),
    ("README: features as of",
     "SELECT * FROM features_as_of(TIMESTAMPTZ '2025-03-03 09:00:00-05') ORDER BY date DESC LIMIT 1"),
]
#: CLI sessions per file and query, alternated (each runs ``--repeat / ROUNDS`` timed queries).
ROUNDS = 3
TIMER = re.compile(r"Run Time \(s\): real ([0-9.]+)")


def _cli_times(db: Path, sql: str, repeat: int) -> list[float]:
    """Warm times (s) of ``sql`` run ``repeat`` times in one CLI session (after one unmeasured run)."""
    script = ".mode trash\n" + f"{sql};\n" + ".timer on\n" + f"{sql};\n" * repeat
    out = subprocess.run([str(DUCKDB_CLI), "-readonly", str(db)], input=script, capture_output=True, text=True)
    if out.returncode != 0 or "Error" in out.stderr:
        raise SystemExit(f"{db.name}: {sql}\n{out.stderr.strip()}")
    times = [float(t) for t in TIMER.findall(out.stdout + out.stderr)]
    if len(times) != repeat:
        raise SystemExit(f"expected {repeat} timings, got {len(times)}: {out.stdout[-500:]}")
    return times


def _cold(db: Path, sql: str) -> float:
    """Seconds for a fresh CLI process to open ``db`` and answer ``sql`` (what a one-off query costs)."""
    t0 = time.perf_counter()
    subprocess.run([str(DUCKDB_CLI), "-readonly", str(db), "-c", ".mode trash", "-c", sql], check=True,
                   capture_output=True)
    return time.perf_counter() - t0


def build_native(views_file: Path, native: Path) -> tuple[float, int]:
    """A native DuckDB database with the same rows (and macros) as ``views_file``; (seconds, rows)."""
    native.unlink(missing_ok=True)
    t0 = time.perf_counter()
    con = duckdb.connect(str(native))
    con.execute(f"ATTACH '{views_file}' AS w (READ_ONLY)")
    names = [r[0] for r in con.sql(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'w' AND schema_name = 'main' "
        "UNION SELECT view_name FROM duckdb_views() WHERE database_name = 'w' AND NOT internal").fetchall()]
    rows = 0
    for name in sorted(names):
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM w.{name}")
        rows += con.sql(f"SELECT count(*) FROM {name}").fetchone()[0]
    con.execute("DETACH w")
    for sql_file in sorted(SQL_DIR.glob("*.sql")):
        con.execute(sql_file.read_text())
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - t0, rows


def build_parquet_views(store: Warehouse, path: Path) -> float:
    """The design not chosen, for comparison: views over the manifest's current Parquet files.

    Per-session tables get hive partitioning on their ``date=`` folders (a hive column
    ``date`` is added), so a filter on that column opens one file; the fixed file list is
    what a manifest-reading view would scan at best (DuckDB takes no subquery as a
    table-function argument, so a real view could not even read the manifest)."""
    from pipelines.warehouse import TABLES

    path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    con = duckdb.connect(str(path))
    for table, layout in TABLES.items():
        files = store.files(table) or ([store.schema_file(table)] if store.schema_file(table).exists() else [])
        if not files:
            continue
        listed = ", ".join(f"'{f.as_posix()}'" for f in files)
        hive = ", hive_partitioning = true" if layout.grain == "date" else ", hive_partitioning = false"
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}], union_by_name = true{hive})")
    for sql_file in sorted(SQL_DIR.glob("*.sql")):
        con.execute(sql_file.read_text())
    con.close()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, default=None, help="default: $VOLSIGNALS_WAREHOUSE or ./warehouse")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--as-is", action="store_true", help="do not publish; measure volsignals.duckdb as it is")
    parser.add_argument("--parquet-views", action="store_true",
                        help="also time views over the current Parquet files (the layout not chosen)")
    args = parser.parse_args()
    t_start = time.perf_counter()
    store = Warehouse(args.warehouse or warehouse_root())
    full = None
    if not args.as_is:
        store.working_db.unlink(missing_ok=True)  # force a publish from scratch
        store.db_path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        store.publish_views()
        full = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.publish_views()
        noop = time.perf_counter() - t0
        size = store.snapshot_path().stat().st_size / 2**20
        print(f"publish from scratch {full:.1f} s ({size:,.0f} MiB snapshot); "
              f"publish with nothing changed {noop * 1000:.0f} ms")
    views_file = store.db_path
    with tempfile.TemporaryDirectory(prefix="bench-sql-") as tmp:
        native = Path(tmp) / "native.duckdb"
        secs, rows = build_native(views_file, native)
        print(f"native comparison database: {rows:,} rows in {secs:.1f} s")
        if full is not None:
            print(f"snapshot publish from scratch: {rows / full:,.0f} rows/s")
        parquet_views = Path(tmp) / "parquet_views.duckdb"
        if args.parquet_views:
            print(f"parquet views over the manifest's files: {build_parquet_views(store, parquet_views):.1f} s")
        print(f"\n{'query':<36}{'warehouse ms (med/mean/cold)':>30}{'native ms (med/mean/cold)':>30}"
              f"{'ratio':>9}  target" + ("   parquet views ms (med/mean/cold)" if args.parquet_views else ""))
        failed = 0
        for name, sql in QUERIES:
            mine: list[float] = []
            ref: list[float] = []
            for _ in range(ROUNDS):  # alternate the two files so that load drift hits both alike
                mine += _cli_times(views_file, sql, args.repeat // ROUNDS)
                ref += _cli_times(native, sql, args.repeat // ROUNDS)
            cold_mine, cold_ref = _cold(views_file, sql), _cold(native, sql)
            ratio = max(statistics.median(mine), 0.001) / max(statistics.median(ref), 0.001)
            ok = ratio <= 3.0 and (name != "one session's chain" or statistics.median(mine) < 0.100)
            failed += not ok
            line = (f"{name:<36}{statistics.median(mine) * 1e3:>12.1f}{statistics.mean(mine) * 1e3:>9.1f}"
                    f"{cold_mine * 1e3:>9.0f}{statistics.median(ref) * 1e3:>12.1f}{statistics.mean(ref) * 1e3:>9.1f}"
                    f"{cold_ref * 1e3:>9.0f}{ratio:>9.2f}  {'ok    ' if ok else 'MISSED'}")
            if args.parquet_views:
                alt_sql = sql.replace("WHERE quote_date = DATE", "WHERE date = DATE")  # the hive column prunes files
                alt = _cli_times(parquet_views, alt_sql, args.repeat)
                line += (f"{statistics.median(alt) * 1e3:>14.1f}{statistics.mean(alt) * 1e3:>9.1f}"
                         f"{_cold(parquet_views, alt_sql) * 1e3:>9.0f}")
            print(line)
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # (the CLI children's ru_maxrss is not shown: a forked child starts with its parent's figure)
    print(f"\nwall {time.perf_counter() - t_start:.1f} s; peak RSS of this process (publish, native build) "
          f"{self_rss:,.0f} MiB; {len(QUERIES) - failed}/{len(QUERIES)} queries meet the targets")
    print(f"(machine: {os.cpu_count()} cores; numbers depend on load)")


if __name__ == "__main__":
    main()
