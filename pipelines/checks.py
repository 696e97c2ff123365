"""Blocking asset checks: what an asset stored, re-read, satisfies its table's contract.

Every asset writes its tables itself (the warehouse is not an IO manager), so the pandera
contract is enforced twice: before writing (``Warehouse.write_*`` validates) and after, by
re-reading what was stored. The check is blocking: a failure stops the downstream steps of
the same run.

Daily tables have one check result **per session** (the check is partitioned like its
asset): a range run re-reads every session it wrote and reports each session's verdict,
so the UI shows a result beside every partition's materialization and a bad session is
named, not averaged away. The rows are judged in one polars query per batch by
:func:`pipelines.contracts.row_failures` (pandera's own rules, tested to agree with
pandera); a frame-level problem (a missing column, a wrong type) fails every session read.
Whole-history tables are validated with pandera itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import warnings

import dagster as dg
import polars as pl

from pipelines.contracts import INDEX, ContractViolation, row_failures
from pipelines.partitions import trading_days
from pipelines.schemas import SCHEMAS

CHECK_NAME = "matches_contract"
#: Sessions re-read per query: bounds memory to about a month of option contracts.
CHECK_BATCH = 21


def contract_check(table: str, partitioned: bool = False) -> dg.AssetCheckSpec:
    """The blocking contract check of ``table`` (one result per session when ``partitioned``)."""
    with warnings.catch_warnings():
        # Partitioned asset checks are a Dagster "preview" feature (1.13); they are what gives
        # each session its own check result in a range run, which is the point here.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _check_spec(table, partitioned)


def _check_spec(table: str, partitioned: bool) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK_NAME,
        asset=table,
        blocking=True,
        partitions_def=trading_days if partitioned else None,
        description=(
            f"The stored `{table}` rows, re-read from the warehouse, validate against its pandera contract"
            + (" (one result per session)." if partitioned else ".")
        ),
    )


def contract_check_result(store, table: str) -> dg.AssetCheckResult:
    """Validate every stored row of a whole-history ``table`` with pandera."""
    stored = store.read(table)
    errors = None
    try:
        SCHEMAS[table].validate(stored, lazy=True)
    except Exception as err:  # pandera SchemaErrors: report in the UI, don't crash the step
        errors = str(err)[:2000]
    return dg.AssetCheckResult(
        asset_key=table,
        check_name=CHECK_NAME,
        passed=errors is None,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rows_checked": stored.height, **({"errors": errors} if errors else {})},
    )


def session_verdicts(stored: pl.DataFrame, table: str, date_column: str) -> dict[date, tuple[int, dict[str, int]]]:
    """Per session of ``stored``: (rows, {broken rule: rows breaking it})."""
    rows = dict(stored.group_by(date_column).len().iter_rows())
    try:
        failures = row_failures(stored, SCHEMAS[table])
    except ContractViolation as err:  # the frame as a whole does not fit: every session fails
        return {day: (n, {str(err)[:500]: n}) for day, n in rows.items()}
    broken = (
        failures.join(stored.select(pl.col(date_column)).with_row_index(INDEX), on=INDEX)
        .with_columns(pl.col("reason").str.split(";"))
        .explode("reason")
        .group_by(date_column, "reason")
        .len()
    )
    verdicts: dict[date, tuple[int, dict[str, int]]] = {day: (n, {}) for day, n in rows.items()}
    for day, reason, n in broken.iter_rows():
        verdicts[day][1][reason] = n
    return verdicts


def partition_check_results(
    context: dg.AssetExecutionContext, store, table: str, dates: list[date]
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    """The contract check of ``table``, one evaluation per session in ``dates``.

    Yields the check's output (so steps that depend on it run) and then an
    :class:`~dagster.AssetCheckEvaluation` per session. A session without stored rows passes
    (an empty table meets its contract; e.g. a vendor history with a missing day) and says so.
    """
    from pipelines.warehouse import TABLES

    date_column = TABLES[table].date_column
    key = dg.AssetCheckKey(dg.AssetKey(table), CHECK_NAME)
    yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(key))
    for i in range(0, len(dates), CHECK_BATCH):
        batch = dates[i : i + CHECK_BATCH]
        stored = store.read(table, batch[0], batch[-1])
        verdicts = session_verdicts(stored.filter(pl.col(date_column).is_in(batch)), table, date_column)
        for day in batch:
            n, broken = verdicts.get(day, (0, {}))
            yield dg.AssetCheckEvaluation(
                asset_key=key.asset_key,
                check_name=CHECK_NAME,
                passed=not broken,
                partition=day.isoformat(),
                severity=dg.AssetCheckSeverity.ERROR,
                blocking=True,
                metadata={"rows_checked": n, **({"broken_rules": dg.MetadataValue.json(broken)} if broken else {})},
            )
