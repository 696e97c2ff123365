"""A generated corpus of malformed vendor files: each case is one mutation of a small
valid file and the exact reason it must be rejected (VendorFileError) or quarantined."""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines import schemas
from pipelines.readers import VendorFileError, read_file
from readers_samples import (
    breadth_text, cboe_text, cfe_text, daily_text, datashop_text, index_history_text, long_eod_text, optionsdx_text,
)

FIRST = 4  # index of the first data line in cboe_text() (blank, Last, Date, header)


def _edit(text: str, idx: int, field: int, value: str) -> str:
    lines = text.split("\n")
    parts = lines[idx].split(",")
    parts[field] = value
    lines[idx] = ",".join(parts)
    return "\n".join(lines)


def _lines(text: str, fn: Callable[[list[str]], list[str]]) -> str:
    return "\n".join(fn(text.split("\n")))


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, t in members.items():
            zf.writestr(n, t)
    return buf.getvalue()


@dataclass(frozen=True)
class Case:
    id: str
    name: str
    content: Callable[[], str | bytes]
    error: str | None = None       # expected VendorFileError.reason
    quarantine: str | None = None  # expected (only) quarantine reason
    line: int | None = None        # expected error line, when it matters


C = cboe_text
ERRORS = [
    Case("cboe_renamed_header_column", "spx.csv", lambda: C().replace(",Bid,Ask,Volume,IV", ",Bids,Ask,Volume,IV", 1),
         error="changed_header", line=4),
    Case("cboe_dropped_header_column", "spx.csv", lambda: C().replace("Net,Bid,", "Bid,", 1), error="changed_header"),
    Case("empty_file", "spx.csv", lambda: "", error="empty_file"),
    Case("cboe_header_without_rows", "spx.csv", lambda: "\n".join(C().split("\n")[:4]) + "\n", error="empty_file"),
    Case("cboe_last_line_cut_mid_row", "spx.csv", lambda: C().rstrip("\n")[:-40], error="truncated_file", line=19),
    Case("cboe_interior_row_missing_columns", "spx.csv",
         lambda: _lines(C(), lambda ls: ls[:6] + [",".join(ls[6].split(",")[:15])] + ls[7:]), error="ragged_row", line=7),
    Case("broken_gzip", "spx.csv.gz", lambda: _gz(C())[:-200], error="broken_archive"),
    Case("gzip_with_flipped_bytes", "spx.csv.gz",
         lambda: (lambda b: b[:30] + bytes(x ^ 0xFF for x in b[30:60]) + b[60:])(_gz(C())), error="broken_archive"),
    Case("broken_zip", "spx.zip", lambda: _zip({"spx.csv": C()})[:-60], error="broken_archive"),
    Case("zip_with_two_data_members", "spx.zip", lambda: _zip({"a.csv": C(), "b.csv": C()}),
         error="several_members_in_archive"),
    Case("cboe_two_exports_of_different_days", "spx.csv",
         lambda: C() + C(date_line="Date: 24 May 2023, 19:12 UTC\u22124").lstrip("\n"), error="several_quote_dates"),
    Case("cboe_same_export_twice", "spx.csv", lambda: C() + C().lstrip("\n"), error="repeated_header"),
    Case("cboe_unknown_root", "spx.csv", lambda: C().replace("SPXW23", "QQQ23"), error="unknown_underlying", line=5),
    Case("cboe_unreadable_date_line", "spx.csv", lambda: C(date_line="Date: sometime last week,Bid: 1"),
         error="unparseable_snapshot_time", line=3),
    Case("cboe_unknown_time_zone", "spx.csv", lambda: C(date_line="Date: 6 May 2023, 8:40 PM CEST"),
         error="unparseable_snapshot_time"),
    Case("cboe_missing_date_line", "spx.csv", lambda: _lines(C(), lambda ls: ls[:2] + ls[3:]),
         error="missing_snapshot_time"),
    Case("unknown_layout", "data.csv", lambda: "a,b,c\n1,2,3\n", error="unknown_header"),
    Case("binary_garbage", "spx.csv", lambda: bytes(range(256)) * 4, error="not_text"),
    Case("cboe_nul_byte_in_body", "spx.csv", lambda: _edit(C(), FIRST + 3, 5, "1.2\x00"), error="not_text"),
    Case("long_eod_quote_date_on_saturday", "long.csv", lambda: long_eod_text(days=("01/06/2018",)),
         error="not_a_session", line=2),
    Case("long_eod_changed_header", "long.csv", lambda: long_eod_text().replace("impliedvol", "iv"),
         error="changed_header"),
    Case("optionsdx_quote_date_on_holiday", "spx_eod_202305.txt", lambda: optionsdx_text(days=("2023-05-29",)),
         error="not_a_session"),
    Case("optionsdx_underlying_not_named", "eod_202305.txt", lambda: optionsdx_text(), error="unknown_underlying"),
    Case("datashop_vix_root", "ds.csv", lambda: datashop_text(root="VIX", underlying="^VIX"),
         error="unknown_underlying", line=2),
    Case("datashop_changed_header", "ds.csv", lambda: datashop_text().replace("bid_eod", "bid_close"),
         error="changed_header"),
    Case("index_history_changed_header", "VIX_History.csv", lambda: index_history_text().replace("CLOSE", "CLOSING"),
         error="changed_header"),
    Case("index_history_series_unknown", "history.csv", lambda: index_history_text(), error="unknown_series"),
    Case("daily_symbol_unknown", "prices.csv", lambda: daily_text(), error="unknown_underlying"),
    Case("daily_unknown_extra_column", "GSPC.csv", lambda: daily_text().replace("Volume", "Volume,Dividends", 1),
         error="changed_header"),
    Case("cfe_truncated", "CFE_F15_VX.csv", lambda: cfe_text().rstrip("\n")[:-12], error="truncated_file"),
    Case("cfe_changed_header", "CFE_F15_VX.csv", lambda: cfe_text().replace("Settle", "Settlement"),
         error="changed_header"),
    Case("breadth_missing_nyse_column", "breadth.csv", lambda: breadth_text().replace("nyse_decliners", "nyse_dec"),
         error="changed_header"),
]

QUARANTINES = [
    Case("cboe_bid_above_ask", "spx.csv", lambda: _edit(C(), FIRST, 4, "999.0"), quarantine="bid_gt_ask"),
    Case("cboe_negative_bid", "spx.csv", lambda: _edit(C(), FIRST, 4, "-1.5"), quarantine="negative_price"),
    Case("cboe_unparseable_bid", "spx.csv", lambda: _edit(C(), FIRST, 4, "abc"), quarantine="unparseable_value"),
    Case("cboe_iv_above_ten", "spx.csv", lambda: _edit(C(), FIRST, 7, "12.5"), quarantine="impossible_vendor_iv"),
    Case("cboe_negative_iv", "spx.csv", lambda: _edit(C(), FIRST, 18, "-0.2"), quarantine="impossible_vendor_iv"),
    Case("cboe_delta_above_one", "spx.csv", lambda: _edit(C(), FIRST, 8, "1.7"), quarantine="impossible_vendor_greek"),
    Case("cboe_negative_volume", "spx.csv", lambda: _edit(C(), FIRST, 6, "-5"), quarantine="negative_count"),
    Case("cboe_symbol_disagrees_with_expiry", "spx.csv",
         lambda: _edit(C(), FIRST, 1, "SPXW230527C04050000"), quarantine="inconsistent_contract"),
    Case("cboe_windows_1252_byte_in_symbol", "spx.csv",
         lambda: _edit(C(), FIRST, 1, "SPXW230526C04050000").encode().replace(b"SPXW230526C0405", b"SPXW230526C\xe9405"),
         quarantine="unparseable_value"),
    Case("cboe_duplicated_line", "spx.csv", lambda: _lines(C(), lambda ls: ls[:6] + [ls[5]] + ls[6:]),
         quarantine="duplicate_contract"),
    Case("cboe_no_underlying_price", "spx.csv", lambda: C(spot="--"), quarantine="missing_underlying_price"),
    Case("cboe_expired_line_in_chain", "spx.csv",
         lambda: _lines(C(), lambda ls: ls + [ls[FIRST].replace("Fri May 26 2023", "Mon May 22 2023")
                                              .replace("230526", "230522")]),
         quarantine="expiration_before_quote_date"),
    Case("optionsdx_zero_strike", "spx_eod_202305.txt",
         lambda: _edit(optionsdx_text(days=("2023-05-23",)), 1, 19, " 0.000000"), quarantine="nonpositive_strike"),
    Case("datashop_expired_contract", "ds.csv",
         lambda: _edit(datashop_text(), 1, 3, "2023-05-22"), quarantine="expiration_before_quote_date"),
    Case("long_eod_zero_underlying", "long.csv", lambda: _edit(long_eod_text(), 1, 1, "0"),
         quarantine="missing_underlying_price"),
    Case("daily_high_below_close", "GSPC.csv", lambda: _edit(daily_text(), 1, 2, "4100.00"),
         quarantine="ohlc_inconsistent"),
    Case("daily_zero_open", "GSPC.csv", lambda: _edit(daily_text(), 2, 1, "0"), quarantine="nonpositive_price"),
    Case("daily_saturday_row", "GSPC.csv", lambda: _edit(daily_text(), 3, 0, "2023-05-27"), quarantine="not_a_session"),
    Case("daily_repeated_date", "GSPC.csv", lambda: _lines(daily_text(), lambda ls: ls[:2] + [ls[1]] + ls[2:]),
         quarantine="duplicate_date"),
    Case("index_history_low_above_close", "VIX_History.csv", lambda: _edit(index_history_text(), 1, 3, "23.50"),
         quarantine="ohlc_inconsistent"),
    Case("cfe_zero_settle_placeholder", "CFE_F15_VX.csv", lambda: _edit(cfe_text(), 2, 6, "0.00"),
         quarantine="nonpositive_price"),
    Case("breadth_partial_capture", "breadth.csv", lambda: _edit(_edit(breadth_text(), 8, 1, "120"), 8, 2, "90"),
         quarantine="partial_breadth_count"),
]


def _write(tmp_path: Path, case: Case) -> Path:
    p = tmp_path / case.name
    content = case.content()
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


def test_corpus_is_large_enough() -> None:
    assert len(ERRORS) + len(QUARANTINES) >= 30


@pytest.mark.parametrize("case", ERRORS, ids=[c.id for c in ERRORS])
def test_malformed_file_is_rejected_with_its_reason(tmp_path: Path, case: Case) -> None:
    path = _write(tmp_path, case)
    with pytest.raises(VendorFileError) as e:
        read_file(path)
    assert e.value.reason == case.error
    assert e.value.file == case.name and case.name in str(e.value)
    if case.line is not None:
        assert e.value.line == case.line and f"line {case.line}" in str(e.value)


@pytest.mark.parametrize("case", QUARANTINES, ids=[c.id for c in QUARANTINES])
def test_bad_row_is_quarantined_with_its_reason(tmp_path: Path, case: Case) -> None:
    r = read_file(_write(tmp_path, case))
    assert set(r.quarantine["reason"].to_list()) == {case.quarantine}
    assert r.rows_read == sum(len(t) for t in r.tables.values()) + len(r.quarantine)
    for name, table in r.tables.items():
        schemas.SCHEMAS[name].validate(table)
    schemas.QUARANTINE.validate(r.quarantine)


def test_quarantined_row_keeps_its_line_and_raw_values(tmp_path: Path) -> None:
    r = read_file(_write(tmp_path, QUARANTINES[0]))
    row = r.quarantine.row(0, named=True)
    assert row["line"] == FIRST + 1
    assert ('"bid":"999.0"' in row["raw"] or '"bid":999.0' in row["raw"]) and '"side":"C"' in row["raw"]


def test_duplicate_resolution_keeps_the_two_sided_quote_whatever_the_order(tmp_path: Path) -> None:
    base = C().split("\n")
    one_sided = _edit(base[FIRST], 0, 4, "0")  # same contract, call bid withdrawn
    for order in ([base[FIRST], one_sided], [one_sided, base[FIRST]]):
        p = tmp_path / "spx.csv"
        p.write_text("\n".join(base[:FIRST] + order + base[FIRST + 1:]))
        r = read_file(p)
        calls = r.tables["spx_options"].filter(
            (r.tables["spx_options"]["strike"] == 4050.0) & (r.tables["spx_options"]["option_type"] == "C")
            & (r.tables["spx_options"]["root"] == "SPXW") & (r.tables["spx_options"]["expiration"].dt.day() == 26))
        assert calls["bid"].to_list() == [float(base[FIRST].split(",")[4])]
        # the tie between the identical puts goes to the lower line number
        assert r.quarantine.filter(r.quarantine["raw"].str.contains('"side":"P"'))["line"].to_list() == [FIRST + 2]


def _careful(text: str, variant: str) -> str:
    """The same chain in a shape only the careful (line-by-line) parser reads."""
    lines = text.split("\n")
    if variant == "blank_line":
        return "\n".join(lines[:FIRST + 2] + [""] + lines[FIRST + 2:])
    # quoted expiration fields, as a spreadsheet re-export writes them
    quoted = [f'"{exp}",{rest}' for exp, rest in (line.split(",", 1) for line in lines[FIRST:] if line)]
    return "\n".join(lines[:FIRST] + quoted)


@pytest.mark.parametrize("variant", ["blank_line", "quoted_fields"])
def test_careful_parser_stores_exactly_what_the_fast_parser_stores(tmp_path: Path, variant: str) -> None:
    fast, careful = tmp_path / "fast.csv", tmp_path / "careful.csv"
    fast.write_text(C())
    careful.write_text(_careful(C(), variant))
    a, b = read_file(fast), read_file(careful)
    assert (a.rows_read, len(a.quarantine)) == (b.rows_read, len(b.quarantine)) == (30, 0)
    assert a.tables["spx_options"].drop("source").equals(b.tables["spx_options"].drop("source"))


@pytest.mark.parametrize("variant", ["no_calcs", "trailing_commas", "gzip", "zip", "crlf", "cr"])
def test_valid_variants_read_cleanly(tmp_path: Path, variant: str) -> None:
    text = C(calcs=variant != "no_calcs", trailing_commas=variant == "trailing_commas")
    text = text.replace("\n", {"crlf": "\r\n", "cr": "\r"}.get(variant, "\n"))
    p = tmp_path / "quotes.bin"
    p.write_bytes(_gz(text) if variant == "gzip" else _zip({"spx_quotedata.csv": text}) if variant == "zip" else text.encode())
    r = read_file(p)
    assert (r.format, r.rows_read, len(r.quarantine)) == ("cboe_delayed_quotes", 30, 0)
    schemas.SPX_OPTIONS.validate(r.tables["spx_options"])
    if variant == "no_calcs":
        assert r.tables["spx_options"]["vendor_iv"].null_count() == 30


CFE_ROW = ",F (Jan 15),14.50,15.10,14.40,15.00,15.05,0.45,12000,10,45000"


@pytest.mark.parametrize("name, text, reason, column", [
    ("GSPC_bars.csv", "Date,Open,High,Low,Close,Adj Close,Volume\n01/02/2023,3850,3870,3840,3860,3860,100\n",
     "ambiguous_date_format", "Date"),
    ("VIX_History.csv", "DATE,OPEN,HIGH,LOW,CLOSE\n13/01/2023,20,20,20,20\n01/16/2023,20,20,20,20\n",
     "inconsistent_date_format", "DATE"),
    ("CFE_F15_VX.csv", "Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\n"
     f"13/01/2015{CFE_ROW}\n01/16/2015{CFE_ROW}\n", "inconsistent_date_format", "Trade Date"),
    ("breadth.csv", "date,nyse_advancers,nyse_decliners\n13/01/2023,1500,1400\n01/16/2023,1500,1400\n",
     "inconsistent_date_format", "date"),
    ("fomc.csv", "date,meeting_end,kind,notes\n13/01/2023,,scheduled,\n01/16/2023,,scheduled,\n",
     "inconsistent_date_format", "date"),
])
def test_a_date_format_refusal_names_the_column_as_the_file_does(tmp_path: Path, name, text, reason, column):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(VendorFileError) as err:
        read_file(path)
    assert (err.value.reason, err.value.column) == (reason, column)
