"""What the Dagster UI shows for every table an asset writes.

Two kinds of metadata, kept apart so that a range run stays cheap and every partition tells
the truth about itself:

* **Definition metadata** (:func:`definition_metadata`, set once on the asset): the column
  schema with each column's meaning and units from the data dictionary
  (``pipelines/data_dictionary.py``), the table name and the SQL to query it. It is not
  repeated in every materialization event.
* **Partition metadata** (:func:`record_partitions`): each session's own row count, and for
  the newest session of the run a preview of its newest rows. Dagster writes one
  materialization event per partition of a range run and copies the run's
  ``MaterializeResult`` metadata into each, so range assets keep that empty and put what
  differs per session here (``context.add_asset_metadata(..., partition_key=...)``).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from datetime import date

import dagster as dg
import polars as pl

from pipelines.data_dictionary import DICTIONARY, describe

#: Rows shown in a preview.
PREVIEW_ROWS = 8

_TYPE_BY_UNIT = {
    "date": "date",
    "label": "varchar",
    "YYYY-MM": "varchar",
    "text": "varchar",
    "JSON": "varchar",
    "path": "varchar",
    "boolean": "boolean",
    "bool": "boolean",
    "sessions": "bigint",
    "state": "tinyint",
    "id": "bigint",
    "contracts": "bigint",
    "shares": "bigint",
    "issues": "bigint",
    "rows": "bigint",
    "trades": "bigint",
    "line number": "bigint",
}
#: Columns whose stored type is not the one their unit suggests (tests/test_ui.py compares
#: every column's type with the stored table's).
_TYPE_OVERRIDES = {
    ("market_features", "ad_line"): "double",
    ("market_features", "net_advances"): "double",
    ("market_features", "mcclellan_osc"): "double",
    ("market_features", "mcclellan_sum"): "double",
    ("condor_decisions", "dte"): "double",
    ("condor_trades", "holding_days"): "bigint",
    ("hedge_layers", "contracts"): "double",
    ("hedge_layers", "traded"): "double",
    ("hedge_layers", "state_blocked_expiry"): "bigint",
    ("hedge_layers", "state_last_vxth_expiry"): "bigint",
    ("backtest_summary", "condor_n_trades"): "double",
    ("backtest_summary", "n_trades"): "double",
    ("chain_features", "parity_violations"): "bigint",
    ("chain_features", "parity_pairs"): "bigint",
    ("amm_comparison", "condor_positions_open"): "bigint",
}


def column_type(table: str, column: str, unit: str) -> str:
    """The DuckDB type of a dictionary column, from its units (tested against stored tables)."""
    if (table, column) in _TYPE_OVERRIDES:
        return _TYPE_OVERRIDES[(table, column)]
    if unit.startswith("timestamp"):
        return "timestamp with time zone"
    return _TYPE_BY_UNIT.get(unit, "double")


def column_schema(table: str) -> dg.TableSchema:
    """The table's columns from the data dictionary: name, type, "meaning [units]"."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, column_type(table, name, unit), description=describe(table, name))
            for name, (_, unit) in DICTIONARY[table].items()
        ]
    )


def definition_metadata(table: str, date_column: str | None = None) -> dict:
    """Metadata of the asset definition: column schema, table name, how to query it.

    A table missing from the data dictionary gets no column schema (tests/test_ui.py fails
    until it is described there) rather than breaking the code location's import.
    """
    order = f" ORDER BY {date_column} DESC" if date_column else ""
    return {
        **({"dagster/column_schema": column_schema(table)} if table in DICTIONARY else {}),
        "dagster/table_name": table,
        "sql": dg.MetadataValue.md(f"```sql\nSELECT * FROM {table}{order} LIMIT 10;\n```"),
    }


def preview(frame: pl.DataFrame, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """A markdown table of the first ``rows`` rows of ``frame``."""
    head = frame.head(rows)
    header = "| " + " | ".join(head.columns) + " |"
    rule = "|" + "---|" * len(head.columns)
    body = ["| " + " | ".join("" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v)) for v in row) + " |" for row in head.iter_rows()]
    return dg.MetadataValue.md("\n".join([header, rule, *body]))


def newest_rows(frame: pl.DataFrame, date_column: str | None, rows: int = PREVIEW_ROWS) -> pl.DataFrame:
    """The ``rows`` newest rows by ``date_column`` (the frame's last rows when there is none)."""
    if date_column and date_column in frame.columns:
        return frame.sort(date_column, descending=True, maintain_order=True, nulls_last=True).head(rows)
    return frame.tail(rows).reverse()


def rows_per_session(frame: pl.DataFrame, date_column: str) -> dict[date, int]:
    """How many rows of ``frame`` each session has."""
    return dict(frame.group_by(date_column).len().iter_rows())


def stored_rows_per_session(store, table: str, frame: pl.DataFrame, date_column: str, quarantined: int) -> dict[date, int]:
    """Rows stored per session after writing ``frame``: its own count when nothing was
    quarantined, else re-counted from the warehouse (a quarantined row is not stored)."""
    if not quarantined or frame.is_empty():
        return rows_per_session(frame, date_column)
    days = frame[date_column]
    stored = store.read(table, days.min(), days.max(), columns=[date_column])
    return rows_per_session(stored.filter(pl.col(date_column).is_in(days.unique().implode())), date_column)


def record_partitions(
    context: dg.AssetExecutionContext,
    table: str,
    dates: Iterable[date],
    rows: dict[date, int],
    newest: pl.DataFrame,
    **newest_extra,
) -> None:
    """Per-partition metadata of a range run: each session's row count; the newest session
    also gets a preview of its newest rows and ``newest_extra``."""
    dates = list(dates)
    for day in dates:
        metadata: dict = {"dagster/row_count": int(rows.get(day, 0))}
        if day == dates[-1]:
            metadata |= {"preview": preview(newest), **newest_extra}
        context.add_asset_metadata(metadata, asset_key=table, partition_key=day.isoformat())


def table_metadata(frame: pl.DataFrame, date_column: str | None = None, **extra) -> dict:
    """Metadata of a whole-history table's materialization: row count, newest rows, ``extra``."""
    return {"dagster/row_count": frame.height, "preview": preview(newest_rows(frame, date_column)), **extra}


def png_markdown(fig) -> dg.MetadataValue:
    """Embed a matplotlib figure as a PNG in markdown metadata (the UI renders it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode()
    return dg.MetadataValue.md(f"![chart](data:image/png;base64,{data})")
