"""One definition of row validity: the data dictionary, the readers and the contracts agree."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from pipelines import schemas, validity
from pipelines.readers import quality

README = (Path(__file__).resolve().parents[1] / "warehouse" / "README.md").read_text()


def _section() -> str:
    start = README.index("### Plausibility bounds")
    return README[start:README.index("### What a landed file may replace")]


def test_the_data_dictionary_states_the_bounds_the_code_enforces():
    text = _section()
    assert f"[0, {validity.VENDOR_IV_MAX:g}]" in text
    lo, hi = validity.UNDERLYING_RANGE["SPX"]
    assert f"[{lo:g}, {hi:g}] for SPX/SPXW" in text
    lo, hi = validity.UNDERLYING_RANGE["SPY"]
    assert f"[{lo:g}, {hi:g}] for XSP and SPY" in text
    assert f"× {1 + validity.OPTION_PRICE_SLACK:g} + {validity.OPTION_PRICE_ABS_SLACK:g} points" in text
    assert f"outside [{validity.SPX_LEVEL_RANGE[0]:g}, {validity.SPX_LEVEL_RANGE[1]:g}]" in text
    for series, (lo, hi) in validity.INDEX_LEVEL_RANGE.items():
        assert re.search(rf"{series}\b[^|;]* outside \[{lo:g}, {hi:g}\]", text), series
    assert f"[{validity.VX_SETTLE_RANGE[0]:g}, {validity.VX_SETTLE_RANGE[1]:g}] VIX points" in text
    assert validity.CALENDAR_HORIZON.isoformat() in text
    assert f"{validity.VENDOR_CALENDAR_HORIZON_DAYS} days" in text
    for table, rules in validity.RULES.items():
        for reason, _ in rules():
            assert f"| {table} | `{reason}` |" in text, (table, reason)


def test_the_contracts_carry_every_plausibility_rule_by_name():
    for table, rules in validity.RULES.items():
        names = {c.name for c in schemas.SCHEMAS[table].checks}
        assert {reason for reason, _ in rules()} <= names, table


def test_the_option_readers_quarantine_by_the_same_rules():
    reasons = [r for r, _ in quality.option_rules(True)]
    assert [r for r, _ in validity.option_rules()] == reasons[-len(validity.option_rules()):]


def test_no_reader_restates_a_bound():
    """The IV bound lives in validity.py only (it differed between readers and schema before)."""
    src = (Path(__file__).resolve().parents[1] / "pipelines").rglob("*.py")
    offenders = [p.name for p in src if p.name != "validity.py" and re.search(r"IV_MAX\s*=|in_range\(0, 20\)", p.read_text())]
    assert offenders == []


def test_a_row_on_the_bound_passes_and_one_beyond_fails():
    ok = dict(validity.vix_rules())[validity.LEVEL_OUT_OF_RANGE]
    frame = pl.DataFrame({"series": ["VIX", "VIX", "VVIX", "VVIX", "SKEW"], "value": [250.0, 250.01, 500.0, 15.71, 49.9]})
    assert frame.select(ok).to_series().to_list() == [True, False, True, False, False]
    vx = dict(validity.vx_rules())[validity.VX_SETTLE_OUT_OF_RANGE]
    assert pl.DataFrame({"settle": [1.255, 16.62, 166.2]}).select(vx).to_series().to_list() == [False, True, False]
