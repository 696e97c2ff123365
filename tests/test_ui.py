"""What the Dagster UI and the CLI show, checked against a real Dagster instance.

A small simulated market is materialized by ``volsignals run``'s own code path
(:func:`pipelines.cli.materialize_range`) into a fresh Dagster home configured like a
user's (``pipelines/instance.py``), in two partition-range runs; the tests then read what
Dagster recorded: materializations and check results per partition, the definitions'
column schemas, job names, code versions, previews.
"""

from __future__ import annotations

import argparse
import ast
import os
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.calendar import sessions_between
from pipelines.checks import CHECK_NAME, session_verdicts
from pipelines.data_dictionary import DICTIONARY, README, reference_markdown
from pipelines.instance import ensure_home, fail_orphaned_runs, prune_runs
from pipelines.warehouse import TABLES, Warehouse

REPO = Path(__file__).resolve().parents[1]
START, END = date(2024, 1, 2), date(2024, 1, 19)
BATCH = 7  # 13 sessions -> two range runs
DAILY = ["spx_options", "spx_daily", "vix_term_structure", "vx_futures", "breadth_daily",
         "option_features", "chain_features", "market_features", "regimes"]


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """(instance, warehouse) after ``materialize_range`` over START..END in a fresh home."""
    from pipelines.cli import materialize_range

    root = tmp_path_factory.mktemp("ui")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(ensure_home(root / "home")))
        mp.setenv("VOLSIGNALS_WAREHOUSE", str(root / "warehouse"))
        materialize_range(START, END, batch_size=BATCH, progress=False)
        instance = dg.DagsterInstance.get()
        yield instance, Warehouse()


def _materializations(instance, table: str) -> dict[str, dg.AssetMaterialization]:
    records = instance.fetch_materializations(dg.AssetKey(table), limit=1000).records
    out: dict[str, dg.AssetMaterialization] = {}
    for r in records:  # newest first
        out.setdefault(r.partition_key, r.asset_materialization)
    return out


@pytest.mark.parametrize("table", DAILY)
def test_every_partition_of_a_range_run_reports_its_own_row_count(ran, table):
    instance, store = ran
    column = TABLES[table].date_column
    stored = dict(store.read(table, START, END, columns=[column]).group_by(column).len().iter_rows())
    events = _materializations(instance, table)
    sessions = sessions_between(START, END)
    assert sorted(events) == [d.isoformat() for d in sessions]
    for day in sessions:
        assert events[day.isoformat()].metadata["dagster/row_count"].value == stored[day], (table, day)


@pytest.mark.parametrize("table", DAILY)
def test_every_session_of_a_range_run_has_its_own_contract_check_result(ran, table):
    instance, _ = ran
    key = dg.AssetCheckKey(dg.AssetKey(table), CHECK_NAME)
    records = instance.event_log_storage.get_asset_check_execution_history(key, limit=1000)
    by_partition = {r.partition: r.status.value for r in records}
    assert by_partition == {d.isoformat(): "SUCCEEDED" for d in sessions_between(START, END)}


def test_a_session_that_breaks_the_contract_fails_its_own_check_only():
    good = pl.DataFrame({
        "date": [date(2024, 1, 2), date(2024, 1, 3)], "advancing": [1500, 1400], "declining": [1400, 1500],
        "unchanged": [100, 100], "source": ["test", "test"],
    })
    bad = good.with_columns(advancing=pl.when(pl.col("date") == date(2024, 1, 3)).then(-5).otherwise(pl.col("advancing")))
    verdicts = session_verdicts(bad, "breadth_daily", "date")
    assert verdicts[date(2024, 1, 2)] == (1, {})
    rows, broken = verdicts[date(2024, 1, 3)]
    assert rows == 1 and broken and all(n == 1 for n in broken.values())


def test_the_newest_partition_previews_its_newest_rows(ran):
    instance, _ = ran
    newest = _materializations(instance, "market_features")[END.isoformat()]
    assert END.isoformat() in newest.metadata["preview"].value
    assert "preview" not in _materializations(instance, "market_features")[START.isoformat()].metadata


def test_whole_history_previews_start_with_the_newest_row(ran):
    instance, store = ran
    event = instance.get_latest_materialization_event(dg.AssetKey("backtest_daily")).asset_materialization
    first_row = event.metadata["preview"].value.splitlines()[2]
    assert str(store.read("backtest_daily")["date"].max()) in first_row


def test_every_asset_has_a_column_schema_with_units_for_every_stored_column(ran):
    from pipelines.definitions import defs

    _, store = ran
    assert store.publish_views()
    con = duckdb.connect(str(store.db_path), read_only=True)
    checked, wrong_types = set(), []
    for spec in defs.resolve_all_asset_specs():
        table = spec.key.to_user_string()
        schema = spec.metadata.get("dagster/column_schema")
        assert schema is not None, f"{table} is not in pipelines/data_dictionary.py"
        stored = {name: dtype.lower() for name, dtype, *_ in con.sql(f"DESCRIBE {table}").fetchall()}
        described = {c.name: c for c in schema.columns}
        assert set(described) == set(stored), table
        for name, column in described.items():
            assert column.description and column.description.endswith("]"), (table, name)
            if column.type != stored[name]:
                wrong_types.append((table, name, column.type, stored[name]))
        checked.add(table)
    assert not wrong_types, "\n".join(map(str, wrong_types))
    # every table has an asset, except the logs and the published index series (read by scripts only)
    assert checked >= set(DICTIONARY) - {"quarantine", "ingest_log", "replaced_rows", "strategy_indices"}


def test_the_warehouse_readme_column_reference_is_generated_from_the_dictionary():
    assert reference_markdown() in README.read_text(), "run: python -m pipelines.data_dictionary --write"


def test_cli_runs_appear_under_the_named_jobs(ran):
    instance, _ = ran
    names = {r.job_name for r in instance.get_runs()}
    assert names == {"event_calendar", "daily_pipeline", "whole_history", "hedge_frontier_sweep"}


def test_code_versions_follow_the_source(tmp_path, monkeypatch):
    from pipelines.assets.common import code_version, source_modules

    assert {"features.option_features", "features.black76"} <= source_modules("pipelines.assets.option_analytics")
    module = tmp_path / "vs_code_version_probe.py"
    module.write_text("from features.black76 import *\nX = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = code_version("vs_code_version_probe")
    module.write_text("from features.black76 import *\nX = 2\n")
    code_version.cache_clear()
    assert code_version("vs_code_version_probe") != before


def test_every_asset_links_to_its_source_and_declares_no_automation_the_daemon_would_not_run():
    from pipelines.definitions import defs

    for spec in defs.resolve_all_asset_specs():
        references = spec.metadata["dagster/code_references"].code_references
        assert any(Path(r.file_path).is_file() for r in references), spec.key
        assert spec.automation_condition is None, spec.key


def test_every_table_an_asset_module_reads_is_a_declared_dependency():
    from pipelines.definitions import ASSET_MODULES, defs

    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    for module in ASSET_MODULES:
        tree = ast.parse(Path(module.__file__).read_text())
        read = {
            node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "read"
            and node.args and isinstance(node.args[0], ast.Constant)
        }
        own = {k for k, s in specs.items() if s.group_name == module.GROUP}
        declared = own | {d.asset_key.to_user_string() for k in own for d in specs[k].deps}
        assert read <= declared, (module.__name__, read - declared)


def test_event_storage_commits_without_an_fsync_per_event(ran):
    instance, _ = ran
    with instance.event_log_storage.index_connection() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_a_killed_run_is_marked_failed(tmp_path):
    home = ensure_home(tmp_path / "home")
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent("""
        import time, dagster as dg
        @dg.asset
        def slow():
            time.sleep(600)
        dg.materialize([slow], instance=dg.DagsterInstance.get())
    """))
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    stderr = open(tmp_path / "slow.err", "w")
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DAGSTER_HOME", str(home))
            instance = dg.DagsterInstance.get()
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                runs = instance.get_runs()
                if runs and runs[0].status == dg.DagsterRunStatus.STARTED and fail_orphaned_runs(instance) == []:
                    break
                time.sleep(0.5)
            else:
                pytest.fail(f"the run never started: {[r.status for r in runs]}\n{(tmp_path / 'slow.err').read_text()[-3000:]}")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            assert fail_orphaned_runs(instance) == [runs[0].run_id]
            assert instance.get_run_by_id(runs[0].run_id).status == dg.DagsterRunStatus.FAILURE
    finally:
        if proc.poll() is None:
            proc.kill()
        stderr.close()


def test_two_processes_opening_a_fresh_home_at_once_both_run(tmp_path):
    home = tmp_path / "home"
    script = tmp_path / "one_run.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        import dagster as dg
        from pipelines.instance import ensure_home
        os.environ["DAGSTER_HOME"] = str(ensure_home(Path({str(home)!r})))
        @dg.asset
        def tiny():
            return None
        dg.materialize([tiny], instance=dg.DagsterInstance.get(), resources={{"io_manager": dg.mem_io_manager}})
    """))
    env = {k: v for k, v in os.environ.items() if k != "VOLSIGNALS_DAGSTER_PG_URL"}
    procs = [subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home))
        runs = dg.DagsterInstance.get().get_runs()
        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2


def test_pruning_keeps_the_newest_runs_and_every_run_holding_a_latest_materialization(tmp_path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(ensure_home(tmp_path / "home")))
        instance = dg.DagsterInstance.get()

        @dg.asset
        def once():
            return None

        @dg.asset
        def often():
            return None

        kw = dict(instance=instance, resources={"io_manager": dg.mem_io_manager})
        first = dg.materialize([once], **kw).run_id
        runs = [dg.materialize([often], **kw).run_id for _ in range(5)]
        assert prune_runs(instance, keep=2) == 3
        assert {r.run_id for r in instance.get_runs()} == {first, *runs[-2:]}
        storage = Path(instance.event_log_storage._base_dir)
        assert not any((storage / f"{r}.db").exists() for r in runs[:3])


def test_help_is_complete_and_plain():
    from pipelines.cli import build_parser

    parser = build_parser()
    assert "``" not in parser.format_help()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        assert "``" not in sub.format_help(), name
        for action in sub._actions:
            assert action.help, (name, action.dest)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_ui_starts_from_the_venv_without_it_on_path(tmp_path):
    port = _free_port()
    script = Path(sys.executable).parent / "volsignals"
    env = {**os.environ, "PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([str(script), "ui", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
                    assert response.status == 200
                    return
            except OSError:
                time.sleep(1)
        pytest.fail("the UI did not answer")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_printed_duckdb_hint_works_as_typed(ran):
    from pipelines.cli import summary

    _, store = ran
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VOLSIGNALS_WAREHOUSE", str(store.root))
        hint = next(line for line in summary().splitlines() if line.startswith("open it:"))
    command = shlex.split(hint.removeprefix("open it:").split("   (")[0])
    result = subprocess.run([*command, "-c", "SELECT count(*) FROM spx_daily"], capture_output=True, text=True,
                            env={**os.environ, "PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert str(len(sessions_between(START, END))) in result.stdout
