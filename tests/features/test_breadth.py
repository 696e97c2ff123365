"""Breadth: Advance–Decline line, A/D ratio and McClellan against hand computations."""

from __future__ import annotations

import numpy as np
import polars as pl
import talib

from features.breadth import (
    advance_decline_line,
    advance_decline_ratio,
    breadth_features,
    mcclellan,
    net_advances,
)


def test_ad_line_is_cumulative_net_advances() -> None:
    adv = [1500, 1000, 2000]
    dec = [1000, 1800, 700]
    # 500, 500-800=-300, -300+1300=1000
    np.testing.assert_array_equal(advance_decline_line(adv, dec), [500.0, -300.0, 1000.0])
    np.testing.assert_array_equal(net_advances(adv, dec), [500.0, -800.0, 1300.0])


def test_ad_ratio_is_nan_when_nothing_declined() -> None:
    out = advance_decline_ratio([1500, 10], [500, 0])
    assert out[0] == 3.0 and np.isnan(out[1])


def hand_mcclellan(net: list[float]) -> tuple[list[float], list[float]]:
    """Plain-loop McClellan: 10 % and 5 % trends, each seeded with its simple mean."""

    def trend(values: list[float], n: int, a: float) -> list[float | None]:
        out: list[float | None] = [None] * len(values)
        level = sum(values[:n]) / n
        out[n - 1] = level
        for i in range(n, len(values)):
            level = level + a * (values[i] - level)
            out[i] = level
        return out

    t10, t05 = trend(net, 19, 0.10), trend(net, 39, 0.05)
    osc, summ, running = [], [], 0.0
    for a, b in zip(t10, t05):
        if a is None or b is None:
            osc.append(float("nan"))
            summ.append(float("nan"))
        else:
            running += a - b
            osc.append(a - b)
            summ.append(running)
    return osc, summ


def test_mcclellan_matches_hand_computation() -> None:
    rng = np.random.default_rng(4)
    adv = rng.integers(500, 2500, 80)
    dec = 3000 - adv
    osc, summ = mcclellan(adv, dec)
    h_osc, h_sum = hand_mcclellan([float(a - d) for a, d in zip(adv, dec)])
    np.testing.assert_allclose(osc, h_osc, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(summ, h_sum, atol=1e-9, equal_nan=True)


def test_mcclellan_oscillator_is_talib_ema_difference() -> None:
    rng = np.random.default_rng(5)
    adv = rng.integers(500, 2500, 300).astype(float)
    dec = 3000 - adv
    net = adv - dec
    osc, _ = mcclellan(adv, dec)
    np.testing.assert_allclose(osc, talib.EMA(net, 19) - talib.EMA(net, 39), atol=1e-9, equal_nan=True)


def test_mcclellan_starts_at_index_38() -> None:
    osc, summ = mcclellan(np.full(50, 1600), np.full(50, 1400))
    assert np.isnan(osc[:38]).all() and osc[38] == 0.0 and summ[38] == 0.0


def test_breadth_features_use_null_for_warm_up() -> None:
    frame = pl.DataFrame(
        {"date": pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 1, 10), eager=True), "advancing": 1, "declining": 0}
    )
    out = breadth_features(frame)
    assert out["mcclellan_osc"].null_count() == 10
    assert out["ad_ratio"].null_count() == 10
