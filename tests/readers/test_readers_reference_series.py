"""Readers of the real-path reference series: FRED DTB3, Cboe SET settlements, Cboe
strategy indices (CNDR), the CFE VX all-listed long file.

Each behaviour is specified on a small file written here; the real files in
``../shared/data`` are checked against facts stated in their PROVENANCE.md (independent
of the readers) when present.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines import schemas
from pipelines.contracts import validate
from pipelines.readers import read_file
from pipelines.readers.cfe_vx import vx_expiration


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- DTB3
def test_dtb3_current_header_empty_missing_values_are_quarantined(tmp_path):
    path = _write(tmp_path, "dtb3.csv", "observation_date,DTB3\n2026-01-16,3.60\n2026-01-19,\n2026-01-20,3.59\n")
    r = read_file(path)
    t = r.tables["treasury_bill_rates"]
    assert r.format == "fred_dtb3"
    assert t["date"].to_list() == [date(2026, 1, 16), date(2026, 1, 20)]
    assert r.quarantine["reason"].to_list() == ["missing_value"]
    assert r.rows_read == t.height + r.quarantine.height


def test_dtb3_old_header_dot_is_a_missing_value(tmp_path):
    path = _write(tmp_path, "DTB3.csv", "DATE,DTB3\n2015-09-18,-0.02\n2015-10-12,.\n2015-10-13,0.01\n")
    r = read_file(path)
    t = r.tables["treasury_bill_rates"]
    assert t["discount_rate"].to_list() == pytest.approx([-0.0002, 0.0001])  # negative rates are kept
    assert r.quarantine["reason"].to_list() == ["missing_value"]


def test_dtb3_bond_equivalent_yield_is_the_discount_rate_converted_for_a_91_day_bill(tmp_path):
    r = read_file(_write(tmp_path, "d.csv", "observation_date,DTB3\n2023-08-01,5.00\n"))
    row = r.tables["treasury_bill_rates"].row(0, named=True)
    price = 1 - 0.05 * 91 / 360  # bank-discount price of the bill
    assert row["discount_rate"] == pytest.approx(0.05)
    assert row["bond_equivalent_yield"] == pytest.approx((1 / price - 1) * 365 / 91)


def test_dtb3_implausible_and_unparseable_values_are_quarantined(tmp_path):
    r = read_file(_write(tmp_path, "d.csv", "observation_date,DTB3\n2023-08-01,52.0\n2023-08-02,n/a\n2023-08-03,5.2\n"))
    assert sorted(r.quarantine["reason"].to_list()) == ["implausible_rate", "unparseable_value"]
    validate(r.tables["treasury_bill_rates"], schemas.TREASURY_BILL_RATES)


# ----------------------------------------------------------------------------- SET
SET_HEADER = "expiry_month,soq_date,soq_date_source,set_value,raw_value,source,note\n"


def test_set_rows_keep_the_published_value_and_date(tmp_path):
    text = SET_HEADER + "2008-03,2008-03-20,derived,1288.88,1288.88,wornSweater_html,Good Friday\n" \
        "2003-05,2003-05-16,derived,943.62,943.62*,wornSweater_html,\n"
    r = read_file(_write(tmp_path, "set.csv", text))
    t = r.tables["spx_settlement_values"].sort("soq_date")
    assert r.format == "cboe_spx_settlement_values"
    assert t["set_value"].to_list() == [943.62, 1288.88]
    assert t["soq_date"].to_list() == [date(2003, 5, 16), date(2008, 3, 20)]


def test_set_row_whose_date_is_outside_its_month_or_not_a_session_is_quarantined(tmp_path):
    text = SET_HEADER + "2008-04,2008-03-20,derived,1288.88,1288.88,x,\n2008-03,2008-03-21,derived,1288.88,1288.88,x,\n"
    r = read_file(_write(tmp_path, "set.csv", text))
    assert sorted(r.quarantine["reason"].to_list()) == ["month_mismatch", "not_a_session"]  # 2008-03-21: Good Friday


# ----------------------------------------------------------------------------- CNDR
def test_strategy_index_is_told_apart_from_the_vvix_layout(tmp_path):
    r = read_file(_write(tmp_path, "x.csv", "DATE,CNDR\n01/02/2008,296.470000\n01/03/2008,296.810000\n"))
    assert r.format == "cboe_strategy_index"
    assert r.tables["strategy_indices"]["index_name"].unique().to_list() == ["CNDR"]
    v = read_file(_write(tmp_path, "y.csv", "DATE,VVIX\n01/02/2008,80.1\n"))
    assert v.format == "cboe_index_history"


def test_strategy_index_rows_before_the_calendar_are_quarantined_not_dropped(tmp_path):
    r = read_file(_write(tmp_path, "x.csv", "DATE,CNDR\n06/20/1986,100.000000\n01/02/2008,296.470000\n"))
    assert r.tables["strategy_indices"].height == 1
    assert r.quarantine["reason"].to_list() == ["outside_calendar_range"]


# ----------------------------------------------------------------------------- VX long
VX_HEADER = "Trade Date,Tenor_Days,Tenor_Trade_Days,Settle,Num_Tenor\n"


def test_vx_long_expiry_is_trade_date_plus_tenor_with_one_day_across_the_dst_switch(tmp_path):
    # 2020-03-04 is standard time, the April 2020 contract expires 2020-04-15 (daylight):
    # the file's tenor is one day short; 2020-03-18 (daylight) -> 2020-04-15 is exact.
    text = VX_HEADER + "2020-03-04,41,29,24.5,2\n2020-03-18,28,20,70.475,1\n2020-03-18,0,0,69.76,0\n"
    t = read_file(_write(tmp_path, "vx.csv", text)).tables["vx_futures"].sort("date", "expiration")
    assert t["expiration"].to_list() == [date(2020, 4, 15), date(2020, 3, 18), date(2020, 4, 15)]
    assert t["contract"].to_list() == ["VX 2020-04-15", "VX 2020-03-18", "VX 2020-04-15"]
    assert t.filter(pl.col("expiration") == pl.col("date"))["settle"].to_list() == [69.76]  # final settlement


def test_vx_long_weeklies_are_named_apart_from_monthlies(tmp_path):
    text = VX_HEADER + "2020-03-18,7,5,65.0,1\n2020-03-18,28,20,70.475,2\n"
    t = read_file(_write(tmp_path, "vx.csv", text)).tables["vx_futures"].sort("expiration")
    assert t["contract"].to_list() == ["VXW 2020-03-25", "VX 2020-04-15"]


def test_vx_long_zero_settlements_of_2013_are_quarantined_with_their_own_reason(tmp_path):
    text = VX_HEADER + "2013-05-01,14,10,0.00,1\n2013-05-01,49,34,15.1,2\n2014-05-01,20,14,0.00,1\n"
    r = read_file(_write(tmp_path, "vx.csv", text))
    assert sorted(r.quarantine["reason"].to_list()) == ["nonpositive_price", "zero_settle_placeholder"]
    assert r.tables["vx_futures"].height == 1


def test_vx_long_is_detected_before_the_per_contract_layout(tmp_path):
    assert read_file(_write(tmp_path, "vx.csv", VX_HEADER + "2020-03-18,28,20,70.475,1\n")).format == "cfe_vx_long"


# ----------------------------------------------------------------------------- real files
def test_real_dtb3_monthly_means_match_provenance(shared_data):
    r = read_file(shared_data / "rates_and_settlements" / "DTB3_1954-01-04_2026-03-26_fred.csv")
    t = r.tables["treasury_bill_rates"]
    assert t.height + r.quarantine.height == 18844 and r.quarantine.height == 796
    means = dict(t.group_by(pl.col("date").dt.strftime("%Y-%m").alias("m")).agg(
        (pl.col("discount_rate").mean() * 100).round(2)).iter_rows())
    assert means["2005-01"] == 2.33 and means["2007-06"] == 4.61 and means["2023-08"] == 5.30
    validate(t, schemas.TREASURY_BILL_RATES)


def test_real_set_file_has_every_month_but_the_documented_gaps(shared_data):
    t = read_file(shared_data / "rates_and_settlements" / "SPX_SET_soq_monthly_1998-04_2025-05_cboe.csv").tables[
        "spx_settlement_values"]
    assert t.height == 325
    months = set(t["expiry_month"].to_list())
    assert "1999-10" not in months and "2025-05" in months and "2025-06" not in months
    assert t.filter(pl.col("expiry_month") == "2008-09")["set_value"].item() == 1279.31  # PROVENANCE.md


def test_real_cndr_history_rows_from_1990_are_stored(shared_data):
    r = read_file(shared_data / "cboe_strategy_indices" / "CNDR_History.csv")
    t = r.tables["strategy_indices"]
    assert r.rows_read == 10125  # PROVENANCE.md
    assert t["date"].min() == date(1990, 1, 2) and t["date"].max() == date(2026, 9, 4)
    assert t["value"].max() == 816.24
    assert set(r.quarantine["reason"].unique().to_list()) == {"outside_calendar_range"}


def test_real_vx_long_file_every_monthly_row_lands_on_an_official_expiry(shared_data):
    r = read_file(shared_data / "cfe_vx_futures_2015_2025" / "all_listed_2004_2025" / "vix_futures_history.csv")
    t = r.tables["vx_futures"]
    assert r.rows_read == 47416
    reasons = dict(r.quarantine.group_by("reason").len().iter_rows())
    # 2007-03-26 (the day CFE stopped quoting at 10x) is at 1/10 scale upstream (1.338 for 13.38),
    # and a 2008-04-21 row settles at 1: the warehouse's VX plausibility range quarantines them
    assert reasons == {"zero_settle_placeholder": 842, "not_a_session": 25, "vx_settle_out_of_range": 9}
    monthly = t.filter(pl.col("contract").str.starts_with("VX "))
    official = {vx_expiration(y, m) for y in range(2004, 2026) for m in range(1, 13)}
    assert set(monthly["expiration"].unique().to_list()) <= official
    assert t.filter(pl.col("contract").str.starts_with("VXW ")).height == 5422  # PROVENANCE.md
    # PROVENANCE.md plausibility: 2020-03-16, March 2020 contract 72.625, April 59.15
    day = t.filter(pl.col("date") == date(2020, 3, 16)).sort("expiration")
    assert day.filter(pl.col("expiration") == date(2020, 3, 18))["settle"].item() == 72.625
    assert day.filter(pl.col("expiration") == date(2020, 4, 15))["settle"].item() == 59.15
