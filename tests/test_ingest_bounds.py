"""What a large or hostile file may cost: a flood of unparseable rows is refused after the
first rows (not read whole), and a large chain read a chunk at a time stores exactly what
the whole-file read stores."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import polars.testing
import pytest

sys.path.insert(0, str(Path(__file__).parent / "readers"))
from readers_samples import cboe_text  # noqa: E402

import pipelines.readers as readers  # noqa: E402
from pipelines.readers import cboe_delayed_quotes, table  # noqa: E402
from pipelines.vendor_ingest import IngestOptions, ingest_file  # noqa: E402
from pipelines.warehouse import Warehouse  # noqa: E402

PROBE = 1_000  # the probe's size scaled down with the file (the rule, not the constant, is tested)


@pytest.fixture
def small_probe(monkeypatch):
    monkeypatch.setattr(readers, "PROBE_LINES", PROBE)
    monkeypatch.setattr(readers, "PROBE_MIN_LINES", 4 * PROBE)


def flood(tmp_path: Path, rows: int = 20 * PROBE) -> Path:
    path = tmp_path / "VIX_History.csv"
    path.write_bytes(b"DATE,OPEN,HIGH,LOW,CLOSE\n" + b"??/??/????,x,x,x,x\n" * rows)
    return path


def test_flood_of_unparseable_rows_is_refused_after_the_first_rows(tmp_path, small_probe):
    store = Warehouse(tmp_path / "wh")
    report = ingest_file(store, flood(tmp_path))
    assert report.outcome == "refused"
    assert report.rows_quarantined == PROBE - 1  # the header is the probe's first line
    assert f"other {20 * PROBE - PROBE + 1:,} lines were not read" in report.refused
    assert "--force" in report.refused
    assert store.read("quarantine").height == PROBE - 1  # the evidence is recorded
    assert store.read("vix_term_structure").is_empty()


def test_force_reads_a_flood_whole(tmp_path, small_probe):
    report = ingest_file(Warehouse(tmp_path / "wh"), flood(tmp_path), options=IngestOptions(force=True))
    assert report.outcome == "nothing stored"
    assert report.rows_quarantined == 20 * PROBE


def test_long_file_with_good_first_rows_is_read_whole(tmp_path, small_probe):
    path = tmp_path / "chain.csv"
    text = cboe_text()
    body = text.split("\n")[4:-1]
    path.write_text("\n".join(text.split("\n")[:4] + body * (5 * PROBE // len(body) + 1)) + "\n")
    result = readers.read_file(path)
    assert result.lines_unread == 0
    assert result.rows_read == 2 * len(body) * (5 * PROBE // len(body) + 1)


def _chain_variant(kind: str) -> str:
    """The test chain repeated to ~2,000 lines with shifted strikes, and one problem far in."""
    text = cboe_text()
    lines = text.split("\n")
    head, body = lines[:4], [l for l in lines[4:] if l]
    rows = []
    for k in range(2_000 // len(body) + 1):  # distinct contracts: strikes shifted by 0.001 per copy
        for line in body:
            f = line.split(",")
            strike = float(f[11]) + 0.001 * k
            f[11] = f"{strike:.3f}"
            f[1] = f[1][:-8] + f"{round(strike * 1000):08d}"
            f[12] = f[12][:-8] + f"{round(strike * 1000):08d}"
            rows.append(",".join(f))
    far = len(rows) * 3 // 4
    if kind == "unparseable_in_a_later_chunk":
        f = rows[far].split(","); f[4] = "abc"; rows[far] = ",".join(f)
    elif kind == "duplicate_across_chunks":
        rows.append(rows[3])
    elif kind == "blank_line_in_a_later_chunk":
        rows.insert(far, "")
    elif kind == "foreign_root_in_a_later_chunk":
        rows[far] = rows[far].replace("SPXW", "NDXP")
    return "\n".join(head + rows) + "\n"


@pytest.mark.parametrize("kind", ["clean", "unparseable_in_a_later_chunk", "duplicate_across_chunks",
                                  "blank_line_in_a_later_chunk", "foreign_root_in_a_later_chunk"])
def test_chunked_chain_stores_what_the_whole_file_read_stores(tmp_path, monkeypatch, kind):
    path = tmp_path / "spx_quotedata.csv"
    path.write_text(_chain_variant(kind))

    def land(name: str) -> tuple[str, dict[str, pl.DataFrame]]:
        store = Warehouse(tmp_path / name)
        report = ingest_file(store, path, options=IngestOptions(force=True))
        tables = {t: store.read(t).drop("ingested_at", strict=False) for t in ("spx_options", "quarantine")}
        return report.outcome + str(report.error), tables

    whole = cboe_delayed_quotes.SLICE_LINES
    monkeypatch.setattr(cboe_delayed_quotes, "split_chunks", _never_chunkable)
    expected = land("whole")
    monkeypatch.undo()
    monkeypatch.setattr(cboe_delayed_quotes, "SLICE_LINES", 150)  # ~14 chunks
    assert whole > 2_100
    chunked = land("chunked")
    assert chunked[0] == expected[0]
    for name, frame in expected[1].items():
        key = [c for c in frame.columns if frame.schema[c] != pl.Object]
        pl.testing.assert_frame_equal(chunked[1][name].sort(key), frame.sort(key))


def _never_chunkable(*args, **kwargs):
    raise table.NotChunkable
    yield  # a generator, like split_chunks


def test_line_and_blank_line_counts_do_not_depend_on_the_scan_blocks(monkeypatch):
    """Newlines and blank lines are counted a block at a time; a blank line whose two
    newlines straddle two blocks still counts once (oracle: ``bytes.count`` on the whole)."""
    from pipelines.readers import source

    data = b"a,b\n\n1,2\n\n\n\n3,4\n" * 50 + b"\n\n"
    expected = (data.count(b"\n"), sum(1 for i in range(1, len(data)) if data[i - 1:i + 1] == b"\n\n"))
    for block in (1, 2, 3, 7, 64, 1 << 24):
        monkeypatch.setattr(source, "_SCAN_BYTES", block)
        assert source._newlines_and_blank_lines(data) == expected
