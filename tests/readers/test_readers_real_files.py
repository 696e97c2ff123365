"""Every real vendor file in SHARED_DATA parses, reconciles and validates; known facts hold.

Oracles are independent of the readers: line counts from the csv module / PROVENANCE.md,
published VX expiration dates, the files' own preamble text.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import io
import zipfile
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from pipelines import schemas
from pipelines.readers import VendorFileError, read_file
from pipelines.readers.cboe_datashop import parse_datashop
from pipelines.readers.cfe_vx import vx_expiration


def _shared_data_dir() -> Path:
    """tests/conftest.py's SHARED_DATA, loaded by path (needed at collection time for
    parametrization; importing it as ``conftest`` could clash with other conftest files)."""
    spec = importlib.util.spec_from_file_location("_volsignals_tests_conftest", Path(__file__).parents[1] / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SHARED_DATA


SHARED_DATA = _shared_data_dir()

VENDOR_GLOBS = [
    "cboe_delayed_quotes/*.csv.gz", "optopsy_spxw_2018/*.csv.gz", "cboe_vix_indices/*_History.csv",
    "cfe_vx_futures_2008_2015/*.csv", "yahoo_gspc_daily/*.csv*", "breadth_shoppafund/advance_decline_*.csv",
    "macro_calendar/*.csv",
]
NOT_VENDOR = ["breadth_shoppafund/market_regime_2010_2026.csv", "cboe_vix_indices/PCR_RATIOS_HISTORICO.csv"]


def _vendor_files() -> list[Path]:
    if not SHARED_DATA.is_dir():
        return []
    return sorted(p for g in VENDOR_GLOBS for p in SHARED_DATA.glob(g))


def _id(p: Path) -> str:
    return p.name


_CACHE: dict[Path, object] = {}


def _read(p: Path):
    if p not in _CACHE:
        _CACHE[p] = read_file(p)
    return _CACHE[p]


def _skip_absent(p: Path) -> None:
    if not p.exists():
        pytest.skip(f"{p} not present")


requires = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="real market data not present")


@requires
@pytest.mark.parametrize("path", _vendor_files(), ids=_id)
def test_real_file_reconciles_validates_and_tags_its_source(path: Path) -> None:
    r = _read(path)
    main = sum(len(t) for t in r.tables.values())
    assert r.rows_read == main + len(r.quarantine)
    sha12 = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    tag = f"file:{path.name}#sha256={sha12}"
    for name, table in r.tables.items():
        schemas.SCHEMAS[name].validate(table)
        assert table["source"].unique().to_list() in ([tag], [])
    schemas.QUARANTINE.validate(r.quarantine)
    assert r.quarantine["source"].unique().to_list() in ([tag], [])


# --- Cboe delayed quotes -------------------------------------------------------------------------------------------
# (file, PROVENANCE data rows, quote_date, snapshot_kind)
CBOE_FACTS = [
    ("spx_quotedata_2023-02-07.csv.gz", 9481, date(2023, 2, 7), "eod"),
    ("spx_quotedata_2023-04-10.csv.gz", 9084, date(2023, 4, 11), "overnight"),   # 20:51 -> next session's GTH
    ("spx_quotedata_2023-04-14.csv.gz", 9048, date(2023, 4, 14), "eod"),
    ("spx_quotedata_2023-04-17.csv.gz", 8971, date(2023, 4, 18), "overnight"),   # 22:53 -> next session's GTH
    ("spx_quotedata_2023-05-05.csv.gz", 8680, date(2023, 5, 5), "eod"),          # Saturday 20:40
    ("spx_quotedata_2023-05-19.csv.gz", 8963, date(2023, 5, 19), "eod"),         # Saturday 11:33
    ("spx_quotedata_2023-05-23.csv.gz", 8670, date(2023, 5, 23), "eod"),
    ("spx_quotedata_2023-05-26.csv.gz", 8677, date(2023, 5, 26), "eod"),
    ("spx_quotedata_2023-06-08.csv.gz", 8979, date(2023, 6, 8), "eod"),
    ("spx_quotedata_2023-06-09_intraday1340.csv.gz", 8894, date(2023, 6, 9), "intraday"),
    ("spx_quotedata_2023-08-18.csv.gz", 10171, date(2023, 8, 21), "overnight"),  # Sunday 22:42 is after 20:15
    ("spx_quotedata_2023-09-14.csv.gz", 9960, date(2023, 9, 14), "eod"),         # 16:31
    ("spx_quotedata_2024-01-05.csv.gz", 10519, date(2024, 1, 5), "eod"),         # Sunday 10:52
    ("spy_quotedata_2023-04-14.csv.gz", 4072, date(2023, 4, 14), "eod"),
    ("spy_quotedata_2023-05-19.csv.gz", 3840, date(2023, 5, 19), "eod"),
    ("xsp_quotedata_2023-09-14.csv.gz", 5441, date(2023, 9, 14), "eod"),
]


@requires
@pytest.mark.parametrize("name,rows,quote_date,kind", CBOE_FACTS, ids=[f[0] for f in CBOE_FACTS])
def test_cboe_file_has_provenance_rows_and_session(name: str, rows: int, quote_date: date, kind: str) -> None:
    path = SHARED_DATA / "cboe_delayed_quotes" / name
    _skip_absent(path)
    r = _read(path)
    assert r.format == "cboe_delayed_quotes"
    assert r.rows_read == 2 * rows
    assert r.quote_dates == [quote_date]
    assert r.snapshot_kind == kind


@requires
def test_overnight_snapshot_quarantines_the_expiry_that_just_settled() -> None:
    path = SHARED_DATA / "cboe_delayed_quotes" / "spx_quotedata_2023-04-10.csv.gz"
    _skip_absent(path)
    r = _read(path)
    text = gzip.decompress(path.read_bytes()).decode()
    settled_lines = sum(1 for line in text.splitlines() if line.startswith("Mon Apr 10 2023,"))
    q = r.quarantine.filter(pl.col("reason") == "expiration_before_quote_date")
    assert len(q) == 2 * settled_lines > 0


@requires
def test_cboe_snapshot_time_is_kept_exactly_in_new_york_time() -> None:
    path = SHARED_DATA / "cboe_delayed_quotes" / "spx_quotedata_2023-04-14.csv.gz"
    _skip_absent(path)
    t = _read(path).tables["spx_options"]["snapshot_time"].unique()
    assert t.dtype.time_zone == "America/New_York"
    assert t.to_list() == [datetime(2023, 4, 14, 19, 12, tzinfo=ZoneInfo("America/New_York"))]


@requires
def test_cboe_row_values_match_the_raw_line() -> None:
    path = SHARED_DATA / "cboe_delayed_quotes" / "spx_quotedata_2023-05-23.csv.gz"
    _skip_absent(path)
    r = _read(path)
    first = next(csv.reader(io.StringIO(gzip.decompress(path.read_bytes()).decode().splitlines()[4])))
    # Tue May 23 2023,SPXW230523C01200000,2996.07,0,2936.3,2958.2,0,0,0,0,3,1200.00,SPXW230523P01200000,...
    row = r.tables["spx_options"].filter(
        (pl.col("root") == "SPXW") & (pl.col("expiration") == date(2023, 5, 23)) & (pl.col("strike") == 1200.0)
        & (pl.col("option_type") == "C")).row(0, named=True)
    assert (row["bid"], row["ask"], row["last"], row["open_interest"]) == (
        float(first[4]), float(first[5]), float(first[2]), int(first[10]))
    assert row["vendor_iv"] is None  # Cboe's 0 IV = no IV
    assert row["underlying_price"] == pytest.approx(4145.5801)
    assert row["settlement"] == "PM"
    spx = r.tables["spx_options"].filter(pl.col("root") == "SPX")["settlement"].unique().to_list()
    assert spx == ["AM"]


@requires
def test_zeroed_bids_snapshot_is_flagged_and_not_accepted_as_eod() -> None:
    path = SHARED_DATA / "cboe_delayed_quotes" / "spx_quotedata_2023-04-06_bids_zeroed.csv.gz"
    _skip_absent(path)
    r = _read(path)
    assert any(f.startswith("stale_snapshot") for f in r.flags)
    assert r.quality["accepted_as_eod"] == 0.0


@requires
@pytest.mark.parametrize("name", [f[0] for f in CBOE_FACTS if f[3] == "eod"])
def test_normal_eod_cboe_files_are_not_flagged(name: str) -> None:
    path = SHARED_DATA / "cboe_delayed_quotes" / name
    _skip_absent(path)
    r = _read(path)
    assert r.flags == []
    assert r.quality["accepted_as_eod"] == 1.0


# --- long EOD (optopsy) ----------------------------------------------------------------------------------------------
@requires
def test_long_eod_file_has_40_sessions_and_provenance_counts() -> None:
    path = SHARED_DATA / "optopsy_spxw_2018" / "SPX_2018.csv.gz"
    _skip_absent(path)
    r = _read(path)
    t = r.tables["spx_options"]
    assert r.format == "long_eod" and r.rows_read == 14438
    assert len(r.quote_dates) == 40 and r.quote_dates[0] == date(2018, 1, 2) and r.quote_dates[-1] == date(2018, 2, 28)
    assert t.group_by("expiration").len().sort("expiration").rows() == [(date(2018, 1, 31), 7588), (date(2018, 2, 28), 6850)]
    spot = t.group_by("quote_date").agg(pl.col("underlying_price").first())
    assert dict(spot.rows())[date(2018, 2, 5)] == pytest.approx(2648.98)


# --- DataShop -------------------------------------------------------------------------------------------------------
def _datashop_members(tmp_path: Path) -> list[Path]:
    outer = SHARED_DATA / "cboe_datashop_sample" / "OptionEODSummary_Sample_2016-06-01.zip"
    _skip_absent(outer)
    out = []
    with zipfile.ZipFile(outer) as zf:
        for n in zf.namelist():
            if n.endswith(".zip"):
                p = tmp_path / n
                p.write_bytes(zf.read(n))
                out.append(p)
    return sorted(out)


@requires
def test_datashop_sample_outer_zip_asks_for_one_member(tmp_path: Path) -> None:
    outer = SHARED_DATA / "cboe_datashop_sample" / "OptionEODSummary_Sample_2016-06-01.zip"
    _skip_absent(outer)
    with pytest.raises(VendorFileError) as e:
        read_file(outer)
    assert e.value.reason == "several_members_in_archive"


@requires
def test_datashop_vix_sample_is_rejected_as_unknown_underlying(tmp_path: Path) -> None:
    for p in _datashop_members(tmp_path):
        with pytest.raises(VendorFileError) as e:
            read_file(p)
        assert (e.value.reason, e.value.column, e.value.line) == ("unknown_underlying", "root", 2)
        assert "'VIX'" in str(e.value) and p.name in str(e.value)


@requires
@pytest.mark.parametrize("quote_time", ["eod", "1545"])
def test_datashop_vix_sample_parses_fully_and_matches_the_csv(tmp_path: Path, quote_time: str) -> None:
    for p in _datashop_members(tmp_path):
        frame = parse_datashop(p, quote_time=quote_time)
        with zipfile.ZipFile(p) as zf:
            rows = list(csv.DictReader(io.StringIO(zf.read(zf.namelist()[0]).decode())))
        assert len(frame) == len(rows) == 724
        assert frame["_bad"].null_count() == len(frame)
        assert frame["root"].unique().to_list() == ["VIX"]
        assert frame["quote_date"].unique().to_list() == [date(2016, 6, 1)]
        got = frame.select("bid", "ask").rows()
        sfx = "eod" if quote_time == "eod" else "1545"
        assert got == [(float(r[f"bid_{sfx}"]), float(r[f"ask_{sfx}"])) for r in rows]
        assert frame["option_type"].value_counts().sort("option_type").rows() == [
            ("C", sum(r["option_type"] == "C" for r in rows)), ("P", sum(r["option_type"] == "P" for r in rows))]


# --- index histories, VX, daily, breadth, macro -------------------------------------------------------------------
@requires
@pytest.mark.parametrize("name,series,first,last_value", [
    ("VIX_History.csv", "VIX", date(1990, 1, 2), 16.64), ("VIX9D_History.csv", "VIX9D", date(2011, 1, 4), 14.88),
    ("VIX3M_History.csv", "VIX3M", date(2009, 9, 18), 19.54), ("VIX6M_History.csv", "VIX6M", date(2008, 1, 2), 23.27),
    ("VVIX_History.csv", "VVIX", date(2006, 3, 6), 95.55), ("SKEW_History.csv", "SKEW", date(1990, 1, 2), 150.19),
])
def test_index_history_series_and_values(name: str, series: str, first: date, last_value: float) -> None:
    path = SHARED_DATA / "cboe_vix_indices" / name
    _skip_absent(path)
    t = _read(path).tables["vix_term_structure"]
    assert t["series"].unique().to_list() == [series]
    assert t["date"].min() == first
    assert t.sort("date")["value"][-1] == pytest.approx(last_value)


@requires
def test_vix_values_on_nyse_holidays_are_quarantined_not_fatal() -> None:
    path = SHARED_DATA / "cboe_vix_indices" / "VIX_History.csv"
    _skip_absent(path)
    q = _read(path).quarantine
    assert date(2022, 5, 30) in q.filter(pl.col("reason") == "not_a_session")["quote_date"].to_list()


@pytest.mark.parametrize("year,month,expected", [
    (2008, 3, date(2008, 3, 19)), (2008, 5, date(2008, 5, 21)), (2015, 1, date(2015, 1, 21)),
    (2014, 3, date(2014, 3, 18)),  # the April 2014 third Friday was Good Friday -> Tuesday
    (2011, 1, date(2011, 1, 19)), (2012, 10, date(2012, 10, 17)),
])
def test_vx_expiration_matches_published_settlement_dates(year: int, month: int, expected: date) -> None:
    assert vx_expiration(year, month) == expected


@requires
def test_vx_files_end_on_their_expiration_and_are_rescaled_before_2007_03_26() -> None:
    folder = SHARED_DATA / "cfe_vx_futures_2008_2015"
    checked = 0
    for p in sorted(folder.glob("CFE_*_VX.csv")):
        t = _read(p).tables["vx_futures"]
        exp = t["expiration"].unique().to_list()
        assert len(exp) == 1
        if exp[0] < date(2015, 4, 1):
            assert t["date"].max() == exp[0], p.name
            checked += 1
    assert checked > 80
    k08 = _read(folder / "CFE_K08_VX.csv").tables["vx_futures"]
    assert k08.filter(pl.col("date") == date(2006, 4, 24))["settle"].item() == pytest.approx(16.62)
    assert k08["settle"].max() < 100


@requires
def test_breadth_uses_nyse_counts_and_quarantines_the_partial_last_row() -> None:
    path = SHARED_DATA / "breadth_shoppafund" / "advance_decline_2023-06-21_2026-06-18.csv"
    _skip_absent(path)
    r = _read(path)
    t = r.tables["breadth_daily"]
    assert t.filter(pl.col("date") == date(2023, 6, 21)).select("advancing", "declining").row(0) == (797, 756)
    assert r.quarantine.select("quote_date", "reason").rows() == [(date(2026, 6, 18), "partial_breadth_count")]


@requires
def test_daily_gspc_known_close_and_pre_calendar_rows_quarantined() -> None:
    path = SHARED_DATA / "yahoo_gspc_daily" / "GSPC_1927-12-30_2023-12-28_fja05680.csv.gz"
    _skip_absent(path)
    r = _read(path)
    t = r.tables["spx_daily"]
    assert t.filter(pl.col("date") == date(2023, 5, 23))["close"].item() == pytest.approx(4145.58, abs=0.01)
    assert set(r.quarantine["reason"].to_list()) == {"outside_calendar_range"}
    assert r.quarantine["quote_date"].max() < date(1990, 1, 2)


@requires
def test_macro_calendars_give_fomc_and_cpi_and_ppi_events() -> None:
    folder = SHARED_DATA / "macro_calendar"
    fomc = _read(folder / "fomc_days_2019_2026_magis.csv").tables["events"]
    assert date(2020, 3, 15) in fomc["date"].to_list() and len(fomc) == 66
    ff = _read(folder / "forexfactory_calendar_2022-01-02_2022-10-29.csv").tables["events"]
    assert (date(2022, 1, 12), "CPI") in ff.select("date", "event").rows()
    assert (date(2022, 1, 13), "PPI") in ff.select("date", "event").rows()
    assert (date(2022, 1, 26), "FOMC") in ff.select("date", "event").rows()
    cpi = _read(folder / "us_cpi_release_dates_fullsack73.csv").tables["events"]
    assert date(2022, 6, 10) in cpi["date"].to_list() and len(cpi) == 59


@requires
@pytest.mark.parametrize("rel", NOT_VENDOR)
def test_non_vendor_files_are_rejected_as_unknown_header(rel: str) -> None:
    path = SHARED_DATA / rel
    _skip_absent(path)
    with pytest.raises(VendorFileError) as e:
        read_file(path)
    assert e.value.reason == "unknown_header"


@requires
def test_real_chain_without_iv_delta_gamma_columns_gives_the_same_quotes(tmp_path: Path) -> None:
    path = SHARED_DATA / "cboe_delayed_quotes" / "spx_quotedata_2023-05-26.csv.gz"
    _skip_absent(path)
    lines = gzip.decompress(path.read_bytes()).decode().split("\n")
    keep = [i for i in range(22) if i not in (7, 8, 9, 18, 19, 20)]  # IV, Delta, Gamma on both sides
    body = pl.read_csv("\n".join(lines[3:]).encode(), infer_schema=False)  # header line 4 = first CSV line
    dropped = body.select([body.columns[i] for i in keep])
    header = ",".join(lines[3].split(",")[i] for i in keep)
    p = tmp_path / "no_calcs.csv"
    p.write_text("\n".join(lines[:3] + [header]) + "\n" + dropped.write_csv(include_header=False))
    full, slim = _read(path), read_file(p)
    key = ["root", "expiration", "strike", "option_type"]
    a = full.tables["spx_options"].select(*key, "bid", "ask", "open_interest").sort(key)
    b = slim.tables["spx_options"].select(*key, "bid", "ask", "open_interest").sort(key)
    assert a.equals(b)
    assert slim.tables["spx_options"]["vendor_iv"].null_count() == len(b)


@requires
def test_nyse_session_list_is_not_an_event_calendar() -> None:
    path = SHARED_DATA / "yahoo_gspc_daily" / "nyse_open_dates_1927_2026_fja05680.txt"
    _skip_absent(path)
    with pytest.raises(VendorFileError) as e:
        read_file(path)
    assert e.value.reason == "unknown_event_kind"
