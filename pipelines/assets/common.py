"""What every daily table asset shares: partitions, batched backfills, its contract check."""

import dagster as dg

from pipelines.checks import contract_check
from pipelines.partitions import backfill_in_batches, trading_days

KINDS = {"parquet", "duckdb", "polars"}


def daily_table_asset(
    table: str, *, group: str, owners: list[str], deps: list[str], description: str, code_version: str = "1"
):
    """``@dg.asset`` for a table with one partition per NYSE session.

    Backfills run in batches of sessions; the table's pandera contract is a blocking check
    that the asset reports after writing (see ``pipelines/checks.py``).
    """
    return dg.asset(
        name=table,
        group_name=group,
        owners=owners,
        kinds=KINDS,
        partitions_def=trading_days,
        backfill_policy=backfill_in_batches,
        deps=deps,
        code_version=code_version,
        check_specs=[contract_check(table)],
        description=description,
    )
