"""Specifications of the iron-condor entry decisions (features.condor) on hand-built chains."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from scipy.stats import norm

from features.condor import condor_decisions
from features.strategy_config import CondorConfig

D0 = date(2024, 1, 2)  # a Tuesday
CFG = CondorConfig(equity=1_000_000.0, risk_fraction=0.02, entry_frequency="daily")

# (strike, type, bid, ask, delta): expiry 44 days out; the quotes are made up
LEGS_44 = [
    (3800.0, "P", 3.0, 3.5, -0.05), (3850.0, "P", 6.0, 7.0, -0.10), (3900.0, "P", 10.0, 11.0, -0.15),
    (3950.0, "P", 15.0, 16.0, -0.22), (4050.0, "C", 15.0, 16.0, 0.25), (4100.0, "C", 8.0, 9.0, 0.17),
    (4150.0, "C", 4.0, 5.0, 0.11), (4200.0, "C", 2.0, 2.5, 0.06),
]


def _rows(day: date, dte: int, legs, root: str = "SPXW", shift: float = 0.0) -> list[dict]:
    t = dte / 365.0
    return [
        dict(quote_date=day, root=root, expiration=day + timedelta(days=dte), settlement="PM" if root == "SPXW" else "AM",
             strike=k, option_type=o, bid=b + shift, ask=a + shift, mid=(a + b) / 2 + shift, underlying_price=4000.0,
             forward=4000.0, discount_factor=1.0, years_to_expiry=t, days_to_expiry=float(dte), iv=0.2, delta=dl,
             gamma=0.001, vega=5.0, theta=-0.5)
        for k, o, b, a, dl in legs
    ]


def _chain(days: list[date], legs=LEGS_44, extra: list[dict] | None = None) -> pl.DataFrame:
    rows = []
    for i, d in enumerate(days):
        rows += _rows(d, 44 - i, legs)
        rows += _rows(d, 20 - i, legs)  # too short: outside 30..60
    return pl.DataFrame(rows + (extra or []))


def _features(days: list[date], **over) -> pl.DataFrame:
    base = dict(vix=15.0, vix3m=17.0, vrp_vol=3.0, rsi_14=50.0, macd_hist=1.0, in_event_window=False,
                vol_regime="normal", term_regime="contango", regime="normal/contango")
    base.update(over)
    return pl.DataFrame([
        dict(date=d, available_at=datetime(d.year, d.month, d.day, 16, 15), **base) for d in days
    ])


def test_enters_with_hand_computed_legs_credits_breakevens_and_size():
    d = condor_decisions(_chain([D0]), _features([D0]), CFG).row(0, named=True)
    assert d["action"] == "enter"
    assert d["expiration"] == D0 + timedelta(days=44)
    assert (d["lp_strike"], d["sp_strike"], d["sc_strike"], d["lc_strike"]) == (3850.0, 3900.0, 4100.0, 4150.0)
    assert d["mid_credit"] == pytest.approx(10.5 + 8.5 - 6.5 - 4.5)  # 8.0
    assert d["natural_credit"] == pytest.approx(10.0 + 8.0 - 7.0 - 5.0)  # 6.0
    assert d["max_loss"] == pytest.approx(42.0)
    assert d["max_loss_dollars"] == pytest.approx(4200.0)
    assert (d["breakeven_put"], d["breakeven_call"]) == pytest.approx((3892.0, 4108.0))
    assert d["credit_to_width"] == pytest.approx(0.16)
    assert d["contracts"] == 4  # floor(0.02 * 1e6 / 4200)


def test_pop_is_lognormal_probability_between_breakevens_with_short_leg_ivs():
    d = condor_decisions(_chain([D0]), _features([D0]), CFG).row(0, named=True)
    s = 0.2 * np.sqrt(44 / 365)
    below = norm.cdf((np.log(3892.0 / 4000.0) + 0.5 * s * s) / s)
    above = 1 - norm.cdf((np.log(4108.0 / 4000.0) + 0.5 * s * s) / s)
    assert d["pop"] == pytest.approx(1 - below - above, rel=1e-10)


def test_missing_wing_strike_skips_with_reason():
    legs = [leg for leg in LEGS_44 if leg[0] != 4150.0]
    d = condor_decisions(_chain([D0], legs), _features([D0]), CFG).row(0, named=True)
    assert d["action"] == "skip"
    assert "FAIL legs" in d["reason"]


def test_one_sided_quote_is_not_a_valid_leg():
    legs = [(k, o, 0.0 if k == 3850.0 else b, a, dl) for k, o, b, a, dl in LEGS_44]
    d = condor_decisions(_chain([D0], legs), _features([D0]), CFG).row(0, named=True)
    assert d["action"] == "skip" and "FAIL legs" in d["reason"]


@pytest.mark.parametrize(
    "override, words",
    [
        (dict(vol_regime="stressed"), "FAIL regime"),
        (dict(term_regime="backwardation"), "FAIL regime"),
        (dict(in_event_window=True), "FAIL inside event window"),
        (dict(vrp_vol=-1.0), "FAIL vrp_vol"),
        (dict(rsi_14=80.0), "FAIL trend"),
        (dict(rsi_14=20.0), "FAIL trend"),
    ],
)
def test_each_gate_blocks_entry_and_says_why(override, words):
    d = condor_decisions(_chain([D0]), _features([D0], **override), CFG).row(0, named=True)
    assert d["action"] == "skip"
    assert words in d["reason"]


def test_risk_budget_below_one_contract_skips():
    cfg = CondorConfig(equity=100_000.0, risk_fraction=0.02, entry_frequency="daily")  # 2000 < 4200
    d = condor_decisions(_chain([D0]), _features([D0]), cfg).row(0, named=True)
    assert d["action"] == "skip" and d["contracts"] == 0 and "FAIL size" in d["reason"]


def test_weekly_frequency_enters_only_first_eligible_day_of_week():
    days = [D0, D0 + timedelta(days=1), D0 + timedelta(days=7)]
    cfg = CondorConfig(entry_frequency="weekly")
    d = condor_decisions(_chain(days), _features(days), cfg)
    assert d["action"].to_list() == ["enter", "skip", "enter"]
    assert "already entered" in d["reason"][1]


def test_expected_move_method_places_shorts_at_one_sigma():
    # ATM iv 0.2, T = 44/365 -> move = 4000 * 0.2 * sqrt(44/365) = 277.8 -> 3722 / 4278
    legs = [(float(k), "P", 1.0, 1.5, -0.1) for k in range(3600, 4000, 50)] + [
        (float(k), "C", 1.0, 1.5, 0.1) for k in range(4050, 4450, 50)
    ] + [(4000.0, "C", 50.0, 51.0, 0.5), (4000.0, "P", 50.0, 51.0, -0.5)]
    cfg = CondorConfig(strike_method="expected_move", entry_frequency="daily", min_credit_to_width=-1.0)
    d = condor_decisions(_chain([D0], legs), _features([D0]), cfg).row(0, named=True)
    assert (d["sp_strike"], d["sc_strike"]) == (3700.0, 4300.0)
    assert (d["lp_strike"], d["lc_strike"]) == (3650.0, 4350.0)


def test_features_published_after_the_session_are_not_used():
    f = _features([D0]).with_columns(pl.lit(datetime(2024, 1, 3, 16, 15)).alias("available_at"))
    out = condor_decisions(_chain([D0, D0 + timedelta(days=1)]), f, CFG)
    assert out["vix"].to_list() == [None, 15.0]
    assert out["action"].to_list() == ["skip", "enter"]


def test_a_revision_published_minutes_after_the_decision_does_not_change_it():
    """The decision is taken at 16:15 on its session: a stressed revision of that same
    session's regime published at 16:30 is not seen; one known at 16:15 is."""
    f = _features([D0])
    late = f.with_columns(pl.lit(datetime(2024, 1, 2, 16, 30)).alias("available_at"), pl.lit("stressed").alias("vol_regime"))
    assert condor_decisions(_chain([D0]), pl.concat([f, late]), CFG)["action"].to_list() == ["enter"]
    known = f.with_columns(pl.lit("stressed").alias("vol_regime"))
    assert condor_decisions(_chain([D0]), known, CFG)["action"].to_list() == ["skip"]


def test_decisions_unchanged_when_later_chains_and_features_are_appended():
    days = [D0 + timedelta(days=i) for i in range(6)]
    chain = _chain(days)
    feats = _features(days).with_columns(pl.Series("rsi_14", [50.0, 80.0, 50.0, 50.0, 20.0, 50.0]))
    full = condor_decisions(chain, feats, CondorConfig())
    cut = days[2]
    part = condor_decisions(chain.filter(pl.col("quote_date") <= cut), feats.filter(pl.col("date") <= cut), CondorConfig())
    assert part.equals(full.filter(pl.col("date") <= cut))


def test_only_end_of_day_snapshot_rows_are_used():
    eod = _chain([D0]).with_columns(pl.lit("eod").alias("snapshot_kind"))
    # an overnight snapshot of the same session quoting a much richer 3900 put must be ignored
    night = eod.filter(pl.col("strike") == 3900.0).with_columns(
        pl.lit("overnight").alias("snapshot_kind"), pl.col("bid") + 50, pl.col("ask") + 50, pl.col("mid") + 50
    )
    d = condor_decisions(pl.concat([eod, night]), _features([D0]), CFG).row(0, named=True)
    assert d["mid_credit"] == pytest.approx(8.0)


def test_session_without_known_features_is_skipped():
    later = D0 + timedelta(days=1)
    d = condor_decisions(_chain([D0]), _features([later]), CFG).row(0, named=True)
    assert d["action"] == "skip" and "FAIL features" in d["reason"]


def test_strategy_config_records_as_plain_json():
    import json

    from features.strategy_config import StrategyConfig

    rec = json.loads(json.dumps(StrategyConfig().to_dict()))
    assert rec["condor"]["target_dte"] == 45.0 and rec["condor"]["short_delta"] == 0.16
    assert rec["management"]["profit_take"] == 0.5 and rec["management"]["time_exit_dte"] == 21.0
    assert rec["condor"]["blocked_vol_regimes"] == ["stressed"]
