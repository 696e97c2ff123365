"""What the Dagster UI shows for every table an asset writes."""

from __future__ import annotations

import base64
import io

import dagster as dg
import polars as pl

_DTYPE_NAMES = {pl.Float64: "double", pl.Int64: "bigint", pl.String: "varchar", pl.Date: "date", pl.Boolean: "boolean"}


def column_schema(frame: pl.DataFrame, docs: dict[str, str] | None = None) -> dg.TableSchema:
    docs = docs or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, _DTYPE_NAMES.get(dtype.base_type(), str(dtype)), description=docs.get(name))
            for name, dtype in frame.schema.items()
        ]
    )


def preview(frame: pl.DataFrame, rows: int = 8) -> dg.MetadataValue:
    """A markdown table of the first rows."""
    head = frame.head(rows)
    header = "| " + " | ".join(head.columns) + " |"
    rule = "|" + "---|" * len(head.columns)
    body = ["| " + " | ".join("" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v)) for v in row) + " |" for row in head.iter_rows()]
    return dg.MetadataValue.md("\n".join([header, rule, *body]))


def table_metadata(frame: pl.DataFrame, table: str, docs: dict[str, str] | None = None, **extra) -> dict:
    """Row count, column schema, a preview and the SQL to query it, for the UI."""
    return {
        "dagster/row_count": frame.height,
        "dagster/column_schema": column_schema(frame, docs),
        "dagster/table_name": table,
        "preview": preview(frame),
        "sql": dg.MetadataValue.md(f"```sql\nSELECT * FROM {table} LIMIT 10;\n```"),
        **extra,
    }


def png_markdown(fig) -> dg.MetadataValue:
    """Embed a matplotlib figure as a PNG in markdown metadata (the UI renders it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode()
    return dg.MetadataValue.md(f"![chart](data:image/png;base64,{data})")
