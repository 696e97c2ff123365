"""What every table asset shares: partitions, batched backfills, contract check, UI metadata,
and a code version that changes when the code that computes the table does."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from functools import cache
from pathlib import Path

import dagster as dg

from pipelines.checks import contract_check
from pipelines.metadata import definition_metadata
from pipelines.partitions import backfill_in_batches, trading_days

KINDS = {"parquet", "duckdb", "polars"}
#: Packages whose source counts toward an asset's code version.
_OWN_PACKAGES = ("features", "pipelines")


@cache  # asked for every import of every asset module while the definitions load
def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # e.g. ``features.x.SOME_NAME``: a name, not a module
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


@cache  # each module parsed once, however many assets' code versions include it
def _imports(path: Path) -> frozenset[str]:
    """The project modules ``path`` imports (``features.*`` / ``pipelines.*``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            candidates = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        names |= {c for c in candidates if c.split(".")[0] in _OWN_PACKAGES and _module_file(c)}
    return frozenset(names)


def source_modules(module: str) -> set[str]:
    """``module`` and every ``features``/``pipelines`` module it imports, transitively."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name)
        if path is not None:
            todo += sorted(_imports(path) - seen)
    return seen


@cache
def code_version(module: str) -> str:
    """A hash of the source of :func:`source_modules` of ``module``: it changes whenever code
    that can change the asset's output changes (``module``: the asset's ``__name__``)."""
    digest = hashlib.sha256()
    for name in sorted(source_modules(module)):
        path = _module_file(name)
        if path is not None:
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def daily_table_asset(
    table: str, *, group: str, owners: list[str], deps: list[str], description: str,
    module: str | None = None, date_column: str = "date",
):
    """``@dg.asset`` for a table with one partition per NYSE session.

    Backfills run in batches of sessions; the table's pandera contract is a blocking check
    with one result per session (see ``pipelines/checks.py``); the column schema with units
    comes from the data dictionary; ``module`` (default: the calling module) sets the code version.
    """
    module = module or sys._getframe(1).f_globals["__name__"]
    return dg.asset(
        name=table,
        group_name=group,
        owners=owners,
        kinds=KINDS,
        partitions_def=trading_days,
        backfill_policy=backfill_in_batches,
        deps=deps,
        code_version=code_version(module),
        check_specs=[contract_check(table, partitioned=True)],
        metadata=definition_metadata(table, date_column),
        description=description,
    )
