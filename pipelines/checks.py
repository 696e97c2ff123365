"""Blocking asset checks: what an asset stored, re-read, satisfies its table's contract.

Every asset writes its tables itself (the warehouse is not an IO manager), so the
pandera contract is enforced twice: before writing (``Warehouse.write_*`` validates) and
after, by re-reading what was stored. The check is blocking: a failure stops the
downstream steps of the same run.
"""

from datetime import date

import dagster as dg

from pipelines.schemas import SCHEMAS

CHECK_NAME = "matches_contract"


def contract_check(table: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK_NAME,
        asset=table,
        blocking=True,
        description=f"The stored `{table}` rows, re-read from the warehouse, validate against its pandera contract.",
    )


def contract_check_result(store, table: str, start: date | None = None, end: date | None = None) -> dg.AssetCheckResult:
    """Validate the stored rows of ``table`` dated ``start``..``end`` (all rows when None)."""
    stored = store.read(table, start, end)
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
