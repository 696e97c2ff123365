"""Loading the real Cboe delayed-quote chains for the analytics tests.

The project's reader (``pipelines.readers.read_file``) is preferred.  When it is not
importable (it was written concurrently with these tests), a minimal private parse of the
Cboe delayed-quotes CSV layout documented in the fixture folder's PROVENANCE.md is used
instead, so the analytics can still be checked against Cboe's own IV column and the
official index closes.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

NY = ZoneInfo("America/New_York")

#: The end-of-day SPX chains (session, snapshot time in ET) per PROVENANCE.md: taken after
#: the 16:15 close and before the 20:15 ET start of the next overnight session, or on a
#: weekend before Sunday 20:15 (so they still hold the Friday close).  Excluded: the
#: bids-zeroed 2023-04-06 fixture, the 13:40 intraday 2023-06-09 file and the snapshots
#: taken after 20:15 ET: 2023-04-10 20:51, 2023-04-17 22:53 and the "2023-08-18" file,
#: downloaded Sunday 2023-08-20 22:42 (after the Sunday 20:15 GTH open, so by the rule an
#: overnight snapshot of 2023-08-21, as the project reader labels it -- although its quotes
#: look like the Friday close; see test_real_chains_analytics.py).
EOD_SPX_FILES: dict[str, date] = {
    "spx_quotedata_2023-02-07.csv.gz": date(2023, 2, 7),
    "spx_quotedata_2023-04-14.csv.gz": date(2023, 4, 14),
    "spx_quotedata_2023-05-05.csv.gz": date(2023, 5, 5),
    "spx_quotedata_2023-05-19.csv.gz": date(2023, 5, 19),
    "spx_quotedata_2023-05-23.csv.gz": date(2023, 5, 23),
    "spx_quotedata_2023-05-26.csv.gz": date(2023, 5, 26),
    "spx_quotedata_2023-06-08.csv.gz": date(2023, 6, 8),
    "spx_quotedata_2023-09-14.csv.gz": date(2023, 9, 14),
    "spx_quotedata_2024-01-05.csv.gz": date(2024, 1, 5),
}

#: Non-EOD chains that the IV comparison still covers (session, kind, ET snapshot time).
OTHER_SPX_FILES: dict[str, tuple[date, str, datetime]] = {
    "spx_quotedata_2023-06-09_intraday1340.csv.gz": (
        date(2023, 6, 9),
        "intraday",
        datetime(2023, 6, 9, 13, 40, tzinfo=NY),
    ),
    "spx_quotedata_2023-04-10.csv.gz": (date(2023, 4, 11), "overnight", datetime(2023, 4, 10, 20, 51, tzinfo=NY)),
    "spx_quotedata_2023-04-17.csv.gz": (date(2023, 4, 18), "overnight", datetime(2023, 4, 17, 22, 53, tzinfo=NY)),
    "spx_quotedata_2023-08-18.csv.gz": (date(2023, 8, 21), "overnight", datetime(2023, 8, 20, 22, 42, tzinfo=NY)),
}
#: The one file whose session is ambiguous: snapshot after 20:15 ET but Friday-close quotes.
AMBIGUOUS_FILE = "spx_quotedata_2023-08-18.csv.gz"

_NAMES = [
    "expiration_text", "call_symbol", "c_last", "c_net", "c_bid", "c_ask", "c_volume", "c_iv", "c_delta", "c_gamma",
    "c_oi", "strike", "put_symbol", "p_last", "p_net", "p_bid", "p_ask", "p_volume", "p_iv", "p_delta", "p_gamma",
    "p_oi",
]


def _reader_tables(path: Path) -> pl.DataFrame | None:
    try:
        from pipelines.readers import read_file  # type: ignore[attr-defined]

        return read_file(path).tables["spx_options"]
    except ImportError:
        # the reader package is absent or incomplete: its own imports fail
        return None


def _private_parse(path: Path) -> pl.DataFrame:
    """Minimal parse of one Cboe delayed-quotes CSV into canonical ``spx_options`` columns."""
    name = path.name
    if name in EOD_SPX_FILES:
        session, kind = EOD_SPX_FILES[name], "eod"
        snap = datetime.combine(session, time(16, 15), tzinfo=NY)
    else:
        session, kind, snap = OTHER_SPX_FILES[name]
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("Expiration Date"))
    spot = float(next(m.group(1) for line in lines[:header] if (m := re.search(r"Last:\s*([0-9.]+)", line))))
    rows = [r[:22] for r in csv.reader(io.StringIO("\n".join(lines[header + 1 :]))) if len(r) >= 22]
    raw = pl.DataFrame(rows, schema=_NAMES, orient="row")
    raw = raw.with_columns(
        pl.col("expiration_text").str.strptime(pl.Date, "%a %b %d %Y").alias("expiration"),
        pl.col("strike").cast(pl.Float64),
        pl.col("call_symbol").str.extract(r"^([A-Z]+)").alias("root"),
    )

    def side(prefix: str, option_type: str) -> pl.DataFrame:
        return raw.select(
            "expiration",
            "root",
            "strike",
            pl.lit(option_type).alias("option_type"),
            pl.col(f"{prefix}_bid").cast(pl.Float64).alias("bid"),
            pl.col(f"{prefix}_ask").cast(pl.Float64).alias("ask"),
            pl.col(f"{prefix}_last").cast(pl.Float64).alias("last"),
            pl.col(f"{prefix}_volume").cast(pl.Float64).cast(pl.Int64).alias("volume"),
            pl.col(f"{prefix}_oi").cast(pl.Float64).cast(pl.Int64).alias("open_interest"),
            pl.col(f"{prefix}_iv").cast(pl.Float64).alias("vendor_iv"),
            pl.col(f"{prefix}_delta").cast(pl.Float64).alias("vendor_delta"),
            pl.col(f"{prefix}_gamma").cast(pl.Float64).alias("vendor_gamma"),
        )

    out = pl.concat([side("c", "C"), side("p", "P")])
    return out.filter(pl.col("expiration") >= session).with_columns(
        pl.lit(session).alias("quote_date"),
        pl.lit(snap).cast(pl.Datetime("us", "America/New_York")).alias("snapshot_time"),
        pl.lit(kind).alias("snapshot_kind"),
        pl.when(pl.col("root") == "SPX").then(pl.lit("AM")).otherwise(pl.lit("PM")).alias("settlement"),
        pl.lit(None, pl.Int64).alias("bid_size"),
        pl.lit(None, pl.Int64).alias("ask_size"),
        pl.lit(spot).alias("underlying_price"),
        pl.lit(f"file:{name}").alias("source"),
    )


def load_chain(path: Path) -> tuple[pl.DataFrame, str]:
    """The canonical ``spx_options`` frame of one fixture file and which loader produced it."""
    frame = _reader_tables(path)
    if frame is not None:
        return frame, "pipelines.readers.read_file"
    return _private_parse(path), "private parse (pipelines.readers.read_file not importable)"


def official_closes(index_dir: Path) -> pl.DataFrame:
    """Official daily closes of VIX, VIX9D, VIX3M and VIX6M keyed by date."""
    frames = []
    for series, fname in [("vix_30d", "VIX_History.csv"), ("vix_9d", "VIX9D_History.csv"),
                          ("vix_93d", "VIX3M_History.csv"), ("vix_183d", "VIX6M_History.csv")]:
        df = pl.read_csv(index_dir / fname, infer_schema_length=0)
        frames.append(
            df.select(
                pl.col("DATE").str.strptime(pl.Date, "%m/%d/%Y").alias("quote_date"),
                pl.col("CLOSE").cast(pl.Float64).alias(series),
            )
        )
    out = frames[0]
    for f in frames[1:]:
        out = out.join(f, on="quote_date", how="full", coalesce=True)
    return out
