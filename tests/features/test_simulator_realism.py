"""Realism of the embedded simulator: each statistic against a fixed band and against real data.

The statistics, bands and tolerances live in ``scripts/realism_report.py`` (``CHECKS``), which
also prints the README table; stated here for the reader:

* VIX percentiles p5/p25/p50/p75/p95 within 25/25/20/25/30 % of Cboe's VIX 1990-2026;
* share of days with VIX/VIX3M > 1 within ±0.07 of Cboe's (about 0.08); median VIX3M/VIX and
  VIX6M/VIX within ±0.10 / ±0.15 of Cboe's (1.13 / 1.24);
* daily-return excess kurtosis in [5, 40] and within 60 % of ^GSPC 1990-2023 (about 10.6);
* autocorrelation of |returns| at lags 1, 5, 20 within ±0.15 of the real ones (0.28/0.33/0.23)
  and above 0.10/0.10/0.05;
* corr(daily return, daily VIX change) in [-0.95, -0.60] and within ±0.15 of real (-0.79);
* default-size chain contracts per day in [10 000, 20 000] and within 50 % of the real Cboe files;
* median relative spread of OTM quotes by |ln K/S| bucket within a factor 2 of the real chains;
* VVIX median in [75, 110] and within 15 % of Cboe's (about 91); corr(VVIX, VIX) of levels in
  [0.15, 0.80] and within ±0.20 of real (+0.42); of daily changes in [0.40, 0.90] and within
  ±0.15 of real (+0.71): VVIX rises with VIX;
* annualized realized vol of VX futures with 8-45 days left in [0.45, 0.95] and within 25 % of
  the CFE settlements 2007-2015 (about 0.68).

Without the shared real data only the fixed bands are checked.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from features.simulate import SimulationConfig, simulate_daily

_SPEC = importlib.util.spec_from_file_location(
    "_volsignals_realism_report", Path(__file__).resolve().parents[2] / "scripts" / "realism_report.py"
)
report = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = report  # dataclasses resolve their module while the script is executed
_SPEC.loader.exec_module(report)


@lru_cache(maxsize=None)
def simulated() -> dict[str, float]:
    return report.simulated_statistics(seed=7, n_chain_days=3)


@lru_cache(maxsize=None)
def real(root: Path) -> dict[str, float]:
    return report.real_statistics(root)


@pytest.mark.parametrize("name", list(report.CHECKS))
def test_simulated_statistic_lies_in_its_fixed_band(name):
    lo, hi = report.CHECKS[name].band
    assert lo <= simulated()[name] <= hi


@pytest.mark.parametrize("name", list(report.CHECKS))
def test_simulated_statistic_is_close_to_real_data(name, shared_data: Path):
    chk = report.CHECKS[name]
    s, r = simulated()[name], real(shared_data)[name]
    if chk.kind == "rel":
        assert abs(s / r - 1.0) <= chk.tol, (s, r)
    else:
        assert abs(s - r) <= chk.tol, (s, r)


def test_real_statistics_reproduce_published_magnitudes(shared_data: Path):
    """Guards the minimal parsers: known facts about the real series."""
    r = real(shared_data)
    assert 17.0 < r["VIX p50"] < 18.5  # Cboe VIX median since 1990 is about 17.6
    assert r["corr(return, dVIX)"] < -0.7
    assert 17_000 < r["chain contracts per day"] < 22_000  # 8.7k-10.5k strike lines x 2
    assert 85 < r["VVIX median"] < 95 and r["corr(dVVIX, dVIX) daily changes"] > 0.6
    assert 0.6 < r["VX 8-45 day realized vol"] < 0.75


def test_volatility_crises_triple_within_weeks_and_then_decay():
    sessions = report.simulated_sessions()
    events = pl.DataFrame(schema={"date": pl.Date, "event": pl.String, "source": pl.String})
    dm = simulate_daily(sessions, events, SimulationConfig(seed=7))
    vix = dm.vix_term_structure.filter(pl.col("series") == "VIX")["value"].to_numpy()
    n = len(vix)
    found = False
    for peak in np.argsort(vix)[::-1][:200]:
        if peak < 60 or peak + 250 >= n:
            continue
        calm = vix[peak - 40 : peak].min()  # within the previous ~8 weeks
        after = vix[peak : peak + 250].min()  # the following year
        if vix[peak] >= 2.5 * calm and after <= 0.5 * vix[peak]:
            found = True
            break
    assert found


def test_realism_report_prints_a_markdown_table(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(report, "simulated_statistics", lambda seed: simulated())
    code = report.main(["--data", str(tmp_path / "absent")])
    out = capsys.readouterr().out
    assert "| statistic | simulated | real | accepted | ok |" in out
    assert out.count("\n|") >= len(report.CHECKS) + 1
    assert code == 0
