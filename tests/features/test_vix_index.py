"""VIX white-paper replication against closed forms on synthetic lognormal chains."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from features.vix_index import term_variance, vix_family, vix_family_frame, vix_style_index
from synthetic_chain import make_chain, settlement_years

QD = date(2024, 3, 4)  # Monday; Good Friday 2024-03-29 is an NYSE holiday
RATE = 0.05


def _listing() -> list[tuple[str, date]]:
    """SPXW every Friday (Thursday 03-28 for Good Friday) for ~7 months, SPX on third Fridays,
    plus non-eligible SPXW Monday/Wednesday dailies and an SPXW month-end Tuesday."""
    out: list[tuple[str, date]] = []
    d = QD + timedelta(days=4)  # Friday 2024-03-08
    while d <= date(2024, 10, 4):
        if d == date(2024, 3, 29):
            out.append(("SPXW", date(2024, 3, 28)))
        else:
            out.append(("SPXW", d))
            if 15 <= d.day <= 21:
                out.append(("SPX", d))
        d += timedelta(days=7)
    out += [("SPXW", date(2024, 3, 11)), ("SPXW", date(2024, 3, 13)), ("SPXW", date(2024, 4, 30)),
            ("SPXW", date(2024, 6, 5))]
    return out


def _term_vol(expiration: date) -> float:
    """A distinct flat vol per expiry (decimal), so picking the wrong expiry shows."""
    return 0.12 + 0.0004 * (expiration - QD).days + (0.05 if expiration.weekday() != 4 else 0.0)


@pytest.fixture(scope="module")
def flat_chain() -> pl.DataFrame:
    return make_chain(QD, _listing(), vol=0.2, rate=RATE, div_yield=0.015, strike_step=5.0,
                      strike_range=(0.2, 3.0), min_price=0.005)


@pytest.fixture(scope="module")
def term_chain() -> pl.DataFrame:
    frames = [
        make_chain(QD, [(root, exp)], vol=_term_vol(exp), rate=RATE, div_yield=0.015, strike_step=5.0,
                   strike_range=(0.2, 3.0), min_price=0.005)
        for root, exp in _listing()  # a few dozen expiries
    ]
    return pl.concat(frames)


@pytest.mark.parametrize("days", [9, 30, 93, 183])
def test_flat_lognormal_chain_gives_100_sigma(flat_chain, days):
    # dense 5-point strikes over 0.2..3x spot: discretisation and truncation bias < 0.02
    assert vix_style_index(flat_chain, days, rate=RATE) == pytest.approx(20.0, abs=0.02)


def _closed_form(chain: pl.DataFrame, target_days: int, near: tuple[str, date], nxt: tuple[str, date]) -> float:
    """100 sqrt((T1 s1^2 w1 + T2 s2^2 w2) / T_target) with minute weights."""
    t1 = settlement_years(QD, near[1], "AM" if near[0] == "SPX" else "PM")
    t2 = settlement_years(QD, nxt[1], "AM" if nxt[0] == "SPX" else "PM")
    tt = target_days / 365.0
    w1 = (t2 - tt) / (t2 - t1)
    v1, v2 = _term_vol(near[1]), _term_vol(nxt[1])
    return 100.0 * math.sqrt((t1 * v1**2 * w1 + t2 * v2**2 * (1 - w1)) / tt)


def test_vix30_uses_thursday_weekly_when_friday_is_a_holiday(term_chain):
    # 30 days from 2024-03-04 16:15 is 2024-04-03: near = Thu 03-28 (Good Friday), next = Fri 04-05
    expected = _closed_form(term_chain, 30, ("SPXW", date(2024, 3, 28)), ("SPXW", date(2024, 4, 5)))
    assert vix_style_index(term_chain, 30, rate=RATE) == pytest.approx(expected, abs=0.02)


def test_vix9d_skips_daily_expiries_and_uses_am_standard_on_third_friday(term_chain):
    # 9 days -> 2024-03-13: near = Fri 03-08, next = SPX AM 03-15 (not Mon/Wed dailies, not SPXW 03-15)
    expected = _closed_form(term_chain, 9, ("SPXW", date(2024, 3, 8)), ("SPX", date(2024, 3, 15)))
    assert vix_style_index(term_chain, 9, rate=RATE) == pytest.approx(expected, abs=0.02)


def test_vix3m_can_use_month_end_but_vix6m_and_vix_do_not(term_chain):
    # target 93 days from 03-04 is 06-05; the SPXW Wednesday 06-05 is not eligible for any index
    expected = _closed_form(term_chain, 93, ("SPXW", date(2024, 5, 31)), ("SPXW", date(2024, 6, 7)))
    assert vix_style_index(term_chain, 93, rate=RATE) == pytest.approx(expected, abs=0.02)
    # with a 56-day target (04-29 16:15) the month-end Tuesday 04-30 brackets only when month-ends are allowed
    with_me = _closed_form(term_chain, 56, ("SPXW", date(2024, 4, 26)), ("SPXW", date(2024, 4, 30)))
    without = _closed_form(term_chain, 56, ("SPXW", date(2024, 4, 26)), ("SPXW", date(2024, 5, 3)))
    assert vix_style_index(term_chain, 56, rate=RATE, month_end=True) == pytest.approx(with_me, abs=0.02)
    assert vix_style_index(term_chain, 56, rate=RATE, month_end=False) == pytest.approx(without, abs=0.02)


def test_target_beyond_listed_expiries_is_nan(flat_chain):
    assert math.isnan(vix_style_index(flat_chain, 400, rate=RATE))


def test_term_variance_applies_zero_bid_rules_and_delta_k_by_hand():
    k = np.array([80.0, 85, 90, 95, 100, 105, 110, 115, 120])
    # puts: walking down from K0=100: 95 quoted, 90 and 85 zero -> stop (80 is dropped)
    pb = np.array([0.3, 0.0, 0.0, 0.5, 2.0, 4.0, 8.0, 12.0, 17.0])
    pa = pb + 0.2
    # calls: walking up: 105 quoted, 110 zero bid (skipped), 115 and 120 quoted
    cb = np.array([21.0, 16.0, 11.0, 6.5, 2.1, 0.6, 0.0, 0.2, 0.1])
    ca = cb + 0.2
    t, r = 30 / 365, 0.05
    var, fwd, k0 = term_variance(k, cb, ca, pb, pa, t, r)
    growth = math.exp(r * t)
    # K* = 100 (smallest |C - P| among two-sided pairs): F = 100 + e^{RT}(2.2 - 2.1)
    f_expected = 100 + growth * ((2.1 + 2.3) / 2 - (2.0 + 2.2) / 2)
    assert fwd == pytest.approx(f_expected, abs=1e-12)
    assert k0 == 100.0
    sel = {95.0: (5.0, 0.6), 100.0: (5.0, ((2.1 + 2.3) / 2 + (2.0 + 2.2) / 2) / 2), 105.0: (7.5, 0.7),
           115.0: (7.5, 0.3), 120.0: (5.0, 0.2)}
    contrib = sum(dk / kk**2 * growth * q for kk, (dk, q) in sel.items())
    expected = 2 / t * contrib - (f_expected / 100.0 - 1) ** 2 / t
    assert var == pytest.approx(expected, rel=1e-12)


def test_one_point_rate_change_moves_vix_by_hundredths(flat_chain):
    base = vix_style_index(flat_chain, 30, rate=RATE)
    bumped = vix_style_index(flat_chain, 30, rate=RATE + 0.01)
    assert 0.0 < abs(bumped - base) < 0.05


def test_default_rate_comes_from_put_call_parity(flat_chain):
    assert vix_style_index(flat_chain, 30) == pytest.approx(vix_style_index(flat_chain, 30, rate=RATE), abs=1e-3)


def test_vix_family_returns_the_four_tenors(flat_chain):
    fam = vix_family(flat_chain, rate=RATE)
    assert set(fam) == {"vix_9d", "vix_30d", "vix_93d", "vix_183d"}
    assert all(v == pytest.approx(20.0, abs=0.02) for v in fam.values())


def test_vix_family_frame_has_one_row_per_session(flat_chain):
    second = flat_chain.with_columns(pl.lit(date(2024, 3, 5)).alias("quote_date"))
    out = vix_family_frame(pl.concat([flat_chain, second]), rate=RATE)
    assert out["quote_date"].to_list() == [QD, date(2024, 3, 5)]
    assert out.columns == ["quote_date", "vix_9d", "vix_30d", "vix_93d", "vix_183d"]


def test_chain_with_several_sessions_is_rejected_by_single_index(flat_chain):
    second = flat_chain.with_columns(pl.lit(date(2024, 3, 5)).alias("quote_date"))
    with pytest.raises(ValueError):
        vix_style_index(pl.concat([flat_chain, second]), 30)


def test_rows_of_other_roots_are_ignored(flat_chain):
    spy = make_chain(QD, [("SPXW", date(2024, 4, 5))], vol=0.6, rate=RATE, spot=400.0, strike_step=1.0,
                     min_price=0.005).with_columns(pl.lit("SPY").alias("root"))
    mixed = pl.concat([flat_chain, spy])
    assert vix_style_index(mixed, 30, rate=RATE) == pytest.approx(vix_style_index(flat_chain, 30, rate=RATE),
                                                                 abs=1e-12)


def test_intraday_snapshot_is_timed_from_its_snapshot_time():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    snap = datetime(2024, 3, 4, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    chain = make_chain(QD, _listing(), vol=0.2, rate=RATE, strike_step=5.0, strike_range=(0.2, 3.0),
                       min_price=0.005, snapshot_kind="intraday", snapshot_time=snap)
    # priced with T from 12:00: timing it from 12:00 recovers 20; from 16:15 it would not
    framed = vix_family_frame(chain, rate=RATE)
    assert framed["vix_9d"][0] == pytest.approx(20.0, abs=0.02)
    assert vix_style_index(chain, 9, rate=RATE) != pytest.approx(20.0, abs=0.02)
