"""RSI and MACD equal TA-Lib (the reference implementation) after warm-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from features.technicals import ema, macd, rsi, sma


def random_walk(seed: int, n: int = 1500) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 3000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.012, n)))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rsi_equals_talib_on_random_walks(seed: int) -> None:
    x = random_walk(seed)
    np.testing.assert_allclose(rsi(x, 14), talib.RSI(x, timeperiod=14), rtol=0, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("period", [2, 5, 14, 30])
def test_rsi_equals_talib_for_other_periods(period: int) -> None:
    x = random_walk(7, 400)
    np.testing.assert_allclose(rsi(x, period), talib.RSI(x, timeperiod=period), atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_macd_equals_talib_on_random_walks(seed: int) -> None:
    x = random_walk(seed)
    ours = macd(x, 12, 26, 9)
    ref = talib.MACD(x, fastperiod=12, slowperiod=26, signalperiod=9)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9, equal_nan=True)


def test_macd_first_value_is_at_index_33() -> None:
    line, sig, hist = macd(random_walk(5, 100))
    for arr in (line, sig, hist):
        assert np.isnan(arr[:33]).all() and not np.isnan(arr[33])


def test_macd_with_other_periods_equals_talib() -> None:
    x = random_walk(11, 500)
    ours = macd(x, 5, 35, 5)
    ref = talib.MACD(x, fastperiod=5, slowperiod=35, signalperiod=5)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, atol=1e-9, equal_nan=True)


def test_ema_and_sma_equal_talib() -> None:
    x = random_walk(9, 300)
    np.testing.assert_allclose(ema(x, 19), talib.EMA(x, timeperiod=19), atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(sma(x, 200), talib.SMA(x, timeperiod=200), atol=1e-9, equal_nan=True)


def test_short_history_is_all_nan() -> None:
    assert np.isnan(rsi(random_walk(1, 14))).all()
    assert all(np.isnan(a).all() for a in macd(random_walk(1, 33)))


def test_rsi_and_macd_equal_talib_on_real_sp500_history(shared_data: Path) -> None:
    path = shared_data / "yahoo_gspc_daily" / "GSPC_2005-04-12_2025-04-04_jasonli.csv"
    if not path.exists():
        pytest.skip(f"{path} absent")
    close = pd.read_csv(path)["close"].to_numpy(dtype=np.float64)
    assert close.size > 5000
    np.testing.assert_allclose(rsi(close), talib.RSI(close, 14), atol=1e-9, equal_nan=True)
    for a, b in zip(macd(close), talib.MACD(close, 12, 26, 9)):
        np.testing.assert_allclose(a, b, atol=1e-9, equal_nan=True)
