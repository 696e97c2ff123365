"""Hostile vendor files landed with ``volsignals ingest`` on a warehouse that already holds
good data: no file may destroy, corrupt or hide what is stored.

Every case is one file built here from small synthetic files in the real formats
(``tests/readers/readers_samples.py``). Each asserts the command's exit status, the
message it printed, the quarantine rows recorded for the file, and that every stored
table the file may not change is unchanged row by row (a fingerprint of each row).
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent / "readers"))
from readers_samples import (  # noqa: E402
    cboe_text, cfe_text, daily_text, fomc_text, index_history_text, long_eod_text,
)

from pipelines.cli import main  # noqa: E402
from pipelines.vendor_ingest import ingest_file  # noqa: E402
from pipelines.warehouse import Warehouse  # noqa: E402

RAW = ["spx_options", "spx_daily", "vix_term_structure", "vx_futures", "breadth_daily", "events"]
MAY23 = '"Date: May 23, 2023 at 7:39 PM EDT",Bid: 4133.95,Ask: 4162.55,Size: 1*1,Volume: 0'
MAY24 = '"Date: May 24, 2023 at 5:10 PM EDT",Bid: 4133.95,Ask: 4162.55,Size: 1*1,Volume: 0'
INTRADAY = '"Date: May 23, 2023 at 1:40 PM EDT",Bid: 4133.95,Ask: 4162.55,Size: 1*1,Volume: 0'


# ------------------------------------------------------------------ the stored data
@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """A warehouse holding a good chain, VIX history, S&P daily bars, VX settlements and FOMC dates."""
    root = tmp_path_factory.mktemp("seed")
    store = Warehouse(root / "wh")
    files = {
        "spx_quotedata.csv.gz": gzip.compress(cboe_text().encode()),
        "VIX_History.csv": index_history_text().encode(),
        "GSPC_daily.csv": daily_text().encode(),
        "VX_F15.csv": cfe_text().encode(),
        "fomc.csv": fomc_text().encode(),
    }
    for name, content in files.items():
        (root / name).write_bytes(content)
        assert ingest_file(store, root / name).ok, name
    return root / "wh"


def fingerprint(store: Warehouse, table: str) -> list[int]:
    """One hash per stored row (all columns), sorted: equal lists = the same rows."""
    frame = store.read(table)
    return sorted(frame.hash_rows(seed=0).to_list()) if frame.height else []


@dataclass
class Case:
    name: str
    file: str
    content: bytes | None  # None: the builder below makes a special file
    exit: int
    message: str
    reasons: set[str] = field(default_factory=set)  # quarantine reasons recorded for the file
    changes: set[str] = field(default_factory=set)  # stored tables the file may change
    flags: list[str] = field(default_factory=list)
    check: object = None  # extra assertion on the store


def gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    return buf.getvalue()


def chain_lines(date_line: str = MAY23, **kw) -> list[str]:
    return cboe_text(date_line=date_line, **kw).split("\n")


def chain_with(mutate, date_line: str = MAY24) -> bytes:
    """A chain (by default of 2023-05-24, a session not stored) whose data rows ``mutate`` edits
    field by field (``mutate(i, fields)``, i = data row index)."""
    lines = chain_lines(date_line)
    out = lines[:4]
    for i, line in enumerate(lines[4:]):
        if not line:
            out.append(line)
            continue
        f = line.split(",")
        mutate(i, f)
        out.append(",".join(f))
    return gz("\n".join(out))


def set_field(rows: set[int] | None, col: int | tuple[int, ...], value: str):
    cols = (col,) if isinstance(col, int) else col

    def mutate(i, f):
        if rows is None or i in rows:
            for k in cols:
                f[k] = value
    return mutate


def vix(rows: list[tuple[str, str]], header: str = "DATE,OPEN,HIGH,LOW,CLOSE") -> bytes:
    body = "".join(f"{d},{c},{c},{c},{c}\n" for d, c in rows)
    return (header + "\n" + body).encode()


def vx_line(d: str, settle: str, fut: str = "F (Jan 15)") -> str:
    return f"{d},{fut},14.50,15.10,14.40,15.00,{settle},0.45,12000,10,45000\n"


VX_HEAD = "Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\n"
GOOD_CHAIN = cboe_text()
N_DATA = len(GOOD_CHAIN.strip().split("\n")) - 4  # data lines of the sample chain

CASES = [
    # ---- files that cannot be read at all: rejected, nothing changes
    Case("empty", "empty.csv", b"", 1, "empty_file"),
    Case("whitespace_only", "blank.csv", b"  \n\n \t\n", 1, "empty_file"),
    Case("binary", "garbage.csv", bytes(range(256)) * 8, 1, "not_text"),
    Case("utf16", "spx_quotedata.csv", GOOD_CHAIN.encode("utf-16"), 1, "UTF-16"),
    Case("nul_in_middle", "spx_quotedata.csv", GOOD_CHAIN.encode()[:500] + b"\x00" + GOOD_CHAIN.encode()[500:], 1,
         "not_text"),
    Case("html_error_page", "spx_quotedata.csv", b"<!DOCTYPE html><html><body>429 Too Many Requests</body></html>\n",
         1, "unknown_header"),
    Case("json_error_page", "spx_quotedata.csv", b'{"error": "not found", "status": 404}\n', 1, "unknown_header"),
    Case("broken_gzip", "spx_quotedata.csv.gz", gz(GOOD_CHAIN)[:300], 1, "broken_archive"),
    Case("gzip_garbage_tail", "spx_quotedata.csv.gz", gz(GOOD_CHAIN)[:-8] + b"\xff" * 8, 1, "broken_archive"),
    Case("zip_two_members", "chains.zip", zipped({"a.csv": GOOD_CHAIN.encode(), "b.csv": GOOD_CHAIN.encode()}), 1,
         "several_members_in_archive"),
    Case("zip_empty", "empty.zip", zipped({}), 1, "empty_file"),
    Case("zip_nested_too_deep", "deep.zip",
         zipped({"a.zip": zipped({"b.zip": zipped({"c.zip": zipped({"d.zip": zipped({"x.csv": b"x"})})})})}), 1,
         "nested too deeply"),
    Case("truncated_last_row", "spx_quotedata.csv", GOOD_CHAIN.rstrip("\n")[:-60].encode(), 1, "download the file again"),
    Case("footer_line", "spx_quotedata.csv", (GOOD_CHAIN + "Data provided by Cboe Global Markets\n").encode(), 1,
         "footer_line"),
    Case("ragged_middle_row", "spx_quotedata.csv",
         "\n".join(l + (",1,2,3" if i == 8 else "") for i, l in enumerate(GOOD_CHAIN.split("\n"))).encode(), 1,
         "ragged_row"),
    Case("reordered_columns", "spx_quotedata.csv",
         GOOD_CHAIN.replace("Last Sale,Net,Bid,Ask", "Last Sale,Net,Ask,Bid", 1).encode(), 1, "reordered"),
    Case("renamed_column", "spx_quotedata.csv", GOOD_CHAIN.replace("Open Interest", "OI", 1).encode(), 1,
         "changed_header"),
    Case("extra_column", "spx_quotedata.csv",
         "\n".join(l + ",Extra" if l.startswith("Expiration Date") else l for l in GOOD_CHAIN.split("\n")).encode(),
         1, "changed_header"),
    Case("no_date_line", "spx_quotedata.csv",
         "\n".join(l for l in GOOD_CHAIN.split("\n") if "Date:" not in l).encode(), 1, "snapshot"),
    Case("unparseable_date_line", "spx_quotedata.csv",
         GOOD_CHAIN.replace("May 23, 2023 at 7:39 PM EDT", "Tomorrow at teatime").encode(), 1, "snapshot_time"),
    Case("concatenated_twice", "spx_quotedata.csv", (GOOD_CHAIN + GOOD_CHAIN).encode(), 1, "repeated_header"),
    Case("two_sessions_concatenated", "spx_quotedata.csv", (GOOD_CHAIN + cboe_text(date_line=MAY24)).encode(), 1,
         "several_quote_dates"),
    Case("vix_options_root", "vix_quotedata.csv", GOOD_CHAIN.replace("SPXW2", "VIX2").replace("SPX2", "VIX2").encode(),
         1, "unknown_underlying"),
    Case("unknown_series", "index.csv", index_history_text().encode(), 1, "--series"),
    Case("daily_without_symbol", "bars.csv", daily_text().encode(), 1, "--symbol"),
    Case("bare_dates_without_kind", "dates.csv", b"2023-05-03\n2023-06-14\n", 1, "--event"),
    Case("inconsistent_date_format", "VIX_History.csv",
         vix([("13/01/2023", "20.1"), ("01/16/2023", "20.2")]), 1, "inconsistent_date_format"),
    Case("ambiguous_yahoo_dates", "GSPC_bars.csv",
         b"Date,Open,High,Low,Close,Adj Close,Volume\n01/02/2023,3850,3870,3840,3860,3860,100\n", 1, "--date-order"),
    Case("over_max_lines_flag", "spx_quotedata.csv", (GOOD_CHAIN + "\n" * 5000).encode(), 1, "--max-lines",
         flags=["--max-lines", "1000"]),
    Case("over_line_length_flag", "spx_quotedata.csv", (GOOD_CHAIN + "x" * 5000 + "\n").encode(), 1,
         "--max-line-length", flags=["--max-line-length", "2000"]),
    Case("gzip_over_max_bytes", "flood.csv.gz", gzip.compress(b"\n" * 2_000_000), 1, "--max-bytes",
         flags=["--max-bytes", "100000"]),
    Case("zip_over_max_bytes", "flood.zip", zipped({"x.csv": b"DATE,VIX\n" + b"0" * 2_000_000}), 1, "--max-bytes",
         flags=["--max-bytes", "100000"]),
    Case("gzip_newline_flood_default_limits", "flood.csv.gz", gzip.compress(b"DATE,VIX\n" + b"\n" * 12_000_000), 1,
         "lines exceeds"),
    # under the line cap, but most lines blank: refused before the body is parsed
    Case("blank_line_flood_under_the_line_cap", "spx_quotedata.csv", (GOOD_CHAIN + "\n" * 30_000).encode(), 1,
         "blank_line_flood"),
    Case("gzip_of_only_newlines", "flood.csv.gz", gzip.compress(b"\n" * 3_000_000), 1, "empty_file"),
    Case("long_quoted_line_over_128k", "VIX_History.csv",
         b'DATE,OPEN,HIGH,LOW,CLOSE\n01/03/2023,1,1,1,"' + b"x" * 140_000 + b'"\n', 1, "NOTHING STORED",
         reasons={"unparseable_value"}),
    # a 150 KiB disclaimer where CFE puts its one-line disclaimer: read past, the rows stored
    Case("long_disclaimer_line", "VX_F15.csv", ("x" * 150_000 + "\n" + cfe_text(disclaimer=False)).encode(), 0,
         "stored", changes={"vx_futures"}),
    Case("directory", "a_folder.csv", None, 1, "is a directory"),
    Case("fifo", "pipe.csv", None, 1, "FIFO"),
    Case("dev_zero", "/dev/zero", None, 1, "device"),
    Case("missing", "no_such_file.csv", None, 1, "missing_file"),
    # ---- readable files that would displace better stored data: refused, nothing changes
    Case("mostly_unparseable_same_session", "spx_quotedata_bad.csv.gz",
         chain_with(set_field(set(range(1, 99)), 4, "n/a"), MAY23), 1, "--force",
         reasons={"unparseable_value"}),
    Case("intraday_over_eod", "spx_quotedata_1340.csv.gz", gz(cboe_text(date_line=INTRADAY)), 1, "intraday snapshot"),
    Case("half_chain_over_full", "spx_quotedata_part.csv.gz",
         gz("\n".join(chain_lines()[: 4 + N_DATA // 2]) + "\n"), 1, "less than 90%"),
    Case("revision_from_a_dirty_file", "VIX_History.csv",
         vix([("01/03/2023", "2.29"), ("01/04/2023", "x"), ("01/05/2023", "y"), ("01/06/2023", "21.13")]), 1,
         "would revise", reasons={"unparseable_value"}),
    Case("other_days_rows_appended", "spx_quotedata_0524.csv",
         (cboe_text(date_line=MAY24) + "\n".join(cboe_text(spot="4100.0").split("\n")[4:])).encode(), 1,
         "another export was probably appended", reasons={"duplicate_contract"}),
    # ---- rows outside physical bounds: quarantined with the file's text, the rest stored
    Case("bid_1e12", "spx_quotedata_0524.csv.gz", chain_with(set_field({0}, (4, 5), "1000000000000")), 0, "stored",
         reasons={"price_above_bound"}, changes={"spx_options"}),
    Case("ask_far_above_underlying", "spx_quotedata_0524.csv.gz", chain_with(set_field({1}, 16, "99999")), 0,
         "stored", reasons={"price_above_bound"}, changes={"spx_options"}),
    Case("vendor_iv_15", "spx_quotedata_0524.csv.gz", chain_with(set_field({2}, 7, "15.0")), 0, "stored",
         reasons={"impossible_vendor_iv"}, changes={"spx_options"}),
    Case("delta_3", "spx_quotedata_0524.csv.gz", chain_with(set_field({3}, 8, "3.0")), 0, "stored",
         reasons={"impossible_vendor_greek"}, changes={"spx_options"}),
    Case("bid_above_ask", "spx_quotedata_0524.csv.gz", chain_with(set_field({4}, 4, "9999")), 0, "stored",
         reasons={"bid_gt_ask"}, changes={"spx_options"}),
    Case("negative_bid", "spx_quotedata_0524.csv.gz", chain_with(set_field({5}, 4, "-3")), 0, "stored",
         reasons={"negative_price"}, changes={"spx_options"}),
    Case("underlying_1e6", "spx_quotedata_0524.csv.gz",
         gz(cboe_text(date_line=MAY24).replace("Last: 4145.5801", "Last: 1000000")), 1, "NOTHING STORED",
         reasons={"underlying_out_of_range"}),
    Case("vix_close_5000", "VIX_History.csv",
         vix([("01/09/2023", "21.97"), ("01/10/2023", "5000"), ("01/11/2023", "21.09"), ("01/12/2023", "19.51")]), 0,
         "stored", reasons={"level_out_of_range"}, changes={"vix_term_structure"}),
    Case("vix_close_1e300", "VIX_History.csv",
         vix([("01/09/2023", "21.97"), ("01/10/2023", "1e300"), ("01/11/2023", "21.09"), ("01/12/2023", "19.51")]), 0,
         "stored", reasons={"level_out_of_range"}, changes={"vix_term_structure"}),
    Case("vix_close_in_the_future", "VIX_History.csv",
         vix([("01/09/2023", "21.97"), ("01/10/2023", "21.5"), ("01/11/2023", "21.09"), ("01/14/2030", "19.51")]),
         0, "stored", reasons={"date_in_future"}, changes={"vix_term_structure"}),
    Case("all_vix_dates_unparseable", "VIX_History.csv",
         vix([("someday", "20"), ("never", "21"), ("later", "22")]), 1, "NOTHING STORED",
         reasons={"unparseable_value"}),
    Case("vx_settle_1_255", "VX_F15.csv", (VX_HEAD + vx_line("12/04/2014", "14.30") + vx_line("12/05/2014", "1.255")
                                            + vx_line("12/08/2014", "14.10") + vx_line("12/09/2014", "14.00")).encode(),
         0, "stored", reasons={"vx_settle_out_of_range"}, changes={"vx_futures"}),
    Case("vx_times_ten_after_2007", "VX_F15.csv", (VX_HEAD + vx_line("12/04/2014", "143.0") + vx_line("12/05/2014", "14.2")
                                                    + vx_line("12/08/2014", "14.10") + vx_line("12/09/2014", "14.00")).encode(),
         0, "stored", reasons={"vx_settle_out_of_range"}, changes={"vx_futures"}),
    Case("fomc_in_2099", "fomc.csv", (fomc_text() + "2099-01-28,2099-01-28,scheduled,Jan 27-28\n").encode(), 0, "stored",
         reasons={"beyond_calendar_horizon"}, changes={"events"}),
    Case("spx_level_below_one", "GSPC_daily.csv",
         (daily_text() + "2023-05-25,0.4,0.5,0.3,0.45,0.45,100\n").encode(), 0, "stored",
         reasons={"level_out_of_range"}, changes={"spx_daily"}),
    Case("ohlc_inconsistent", "GSPC_daily.csv",
         (daily_text() + "2023-05-25,4150,4100,4200,4151,4151,100\n").encode(), 0, "stored",
         reasons={"ohlc_inconsistent"}, changes={"spx_daily"}),
    Case("vix_on_a_holiday", "VIX_History.csv",
         vix([("01/09/2023", "21.97"), ("01/16/2023", "21.5"), ("01/17/2023", "21.09"), ("01/18/2023", "19.51")]),
         0, "stored", reasons={"not_a_session"}, changes={"vix_term_structure"}),
    # ---- dates decided per file
    Case("day_first_vix_file", "VIX_History.csv",
         vix([("09/01/2023", "21.97"), ("10/01/2023", "21.5"), ("13/01/2023", "18.35")]), 0, "stored",
         changes={"vix_term_structure"},
         check=lambda s: s.read("vix_term_structure").filter(pl.col("date") == date(2023, 1, 10))["value"].to_list()
         == [21.5]),
    Case("yahoo_month_first", "GSPC_daily.csv",
         b"Date,Open,High,Low,Close,Adj Close,Volume\n5/25/2023,4155,4165,4135,4151.28,4151.28,100\n"
         b"5/26/2023,4156,4212,4156,4205.45,4205.45,100\n", 0, "stored", changes={"spx_daily"},
         check=lambda s: date(2023, 5, 26) in s.read("spx_daily")["date"].to_list()),
    Case("ambiguous_with_date_order_flag", "GSPC_bars.csv",
         b"Date,Open,High,Low,Close,Adj Close,Volume\n06/01/2023,4200,4210,4190,4205,4205,100\n", 0, "stored",
         changes={"spx_daily"}, flags=["--date-order", "mdy", "--symbol", "SPX"],
         check=lambda s: date(2023, 6, 1) in s.read("spx_daily")["date"].to_list()),
    Case("long_eod_day_first", "spxw_long.csv",
         long_eod_text(days=("02/01/2018", "03/01/2018")).replace("01/31/2018", "31/01/2018").encode(), 0, "stored",
         changes={"spx_options"},
         check=lambda s: sorted(s.read("spx_options", date(2018, 1, 1), date(2018, 1, 31))["quote_date"].unique())
         == [date(2018, 1, 2), date(2018, 1, 3)]),
    # ---- benign variants of hostile-looking files: stored, nothing else changes
    Case("same_file_again", "spx_quotedata.csv.gz", gz(GOOD_CHAIN), 0, "stored", changes={"spx_options"}),
    Case("crlf_line_ends", "spx_quotedata_0524.csv", cboe_text(date_line=MAY24).replace("\n", "\r\n").encode(), 0,
         "stored", changes={"spx_options"}),
    Case("utf8_bom", "spx_quotedata_0524.csv", b"\xef\xbb\xbf" + cboe_text(date_line=MAY24).encode(), 0, "stored",
         changes={"spx_options"}),
    Case("chain_in_zip", "spx_0524.zip", zipped({"spx_quotedata.csv": cboe_text(date_line=MAY24).encode()}), 0,
         "stored", changes={"spx_options"}),
]


def _materialize(case: Case, tmp_path: Path) -> str:
    if case.name == "directory":
        (tmp_path / case.file).mkdir()
    elif case.name == "fifo":
        os.mkfifo(tmp_path / case.file)
    elif case.name in ("dev_zero",):
        return case.file
    elif case.content is not None:
        (tmp_path / case.file).write_bytes(case.content)
    return str(tmp_path / case.file)


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 60 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_hostile_file_cannot_destroy_corrupt_or_hide_stored_data(case: Case, seeded: Path, tmp_path: Path,
                                                                    monkeypatch, capsys) -> None:
    root = tmp_path / "wh"
    shutil.copytree(seeded, root)
    monkeypatch.setenv("VOLSIGNALS_WAREHOUSE", str(root))
    store = Warehouse(root)
    before = {t: fingerprint(store, t) for t in RAW}
    log_before = store.read("ingest_log").height
    path = _materialize(case, tmp_path)
    try:
        main(["ingest", "--no-materialize", "--quiet", *case.flags, path])
        status = 0
    except SystemExit as exc:
        status = 0 if exc.code in (0, None) else 1
        print(exc.code)
    out = capsys.readouterr()
    printed = out.out + out.err
    assert status == case.exit, printed
    assert case.message in printed, printed
    assert "Traceback" not in printed
    for table in RAW:
        if table not in case.changes:
            assert fingerprint(store, table) == before[table], f"{table} changed"
    name = Path(path).name
    quarantine = store.read("quarantine").filter(pl.col("source").str.starts_with(f"file:{name}#"))
    recorded = set(quarantine["reason"].to_list())
    assert recorded == case.reasons, printed
    assert quarantine["raw"].str.contains(r"^\{").all()  # the file's own fields, as JSON
    log = store.read("ingest_log")
    assert log.height == log_before + 1
    last = log.row(-1, named=True)
    assert last["outcome"].lower() in printed.lower()
    if case.reasons:
        assert last["rows_quarantined"] >= quarantine.height > 0
    if case.check is not None:
        assert case.check(store)


def test_quarantine_keeps_the_files_own_text(tmp_path: Path, monkeypatch) -> None:
    """A quarantined value is recorded as the file wrote it (``1e+20`` stays ``1e20``)."""
    store = Warehouse(tmp_path / "wh")
    p = tmp_path / "VIX_History.csv"
    p.write_bytes(vix([("01/09/2023", "21.97"), ("01/10/2023", "1e20"), ("01/11/2023", "21.09"),
                       ("01/12/2023", "19.51")]))
    ingest_file(store, p)
    raw = store.read("quarantine")["raw"].to_list()
    assert raw == ['{"DATE":"01/10/2023","OPEN":"1e20","HIGH":"1e20","LOW":"1e20","CLOSE":"1e20"}']


def test_ingest_log_agrees_with_the_report(tmp_path: Path) -> None:
    store = Warehouse(tmp_path / "wh")
    p = tmp_path / "VIX_History.csv"
    p.write_bytes(vix([("someday", "20"), ("01/10/2023", "21.5"), ("01/11/2023", "21.09"), ("01/12/2023", "5000")]))
    report = ingest_file(store, p)
    row = store.read("ingest_log").row(-1, named=True)
    assert (row["rows_stored"], row["rows_quarantined"], row["outcome"]) == (
        report.rows_stored, report.rows_quarantined, report.outcome) == (2, 2, "stored")
    assert store.read("quarantine").height == 2


def test_one_bad_file_does_not_stop_the_batch(seeded: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    root = tmp_path / "wh"
    shutil.copytree(seeded, root)
    monkeypatch.setenv("VOLSIGNALS_WAREHOUSE", str(root))
    bad = tmp_path / "VIX_History.csv"
    bad.write_bytes(b'DATE,OPEN,HIGH,LOW,CLOSE\n01/03/2023,1,1,1,"' + b"x" * 140_000 + b'"\n')
    good = tmp_path / "spx_quotedata_0524.csv.gz"
    good.write_bytes(gz(cboe_text(date_line=MAY24)))
    with pytest.raises(SystemExit) as exc:
        main(["ingest", "--no-materialize", "--quiet", str(bad), str(good)])
    assert "1 of 2 file(s) were not stored" in str(exc.value.code)
    assert date(2023, 5, 24) in Warehouse(root).dates("spx_options")
    assert Warehouse(root).read("ingest_log")["path"].to_list()[-2:] == [str(bad), str(good)]
