"""Specifications of VIX option pricing (features.vix_options): Black-76 on the VX future with a
VVIX-scaled smile calibrated to Cboe's DataShop VIX chain of 2016-06-01."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from features.black76 import black76_price, implied_vol
from features.vix_options import DATASHOP_SMILE, T30, fit_vix_smile, price_vix_options, vix_call_strike, vix_option_vol

VVIX_2016_06_01 = 78.9  # Cboe VVIX close of the sample day


def _datashop_otm(shared: Path) -> pl.DataFrame:
    outer = zipfile.ZipFile(shared / "cboe_datashop_sample" / "OptionEODSummary_Sample_2016-06-01.zip")
    inner_name = next(n for n in outer.namelist() if "Calcs" in n)
    inner = zipfile.ZipFile(io.BytesIO(outer.read(inner_name)))
    df = pl.read_csv(inner.read(inner.namelist()[0]))
    df = df.with_columns(pl.col("expiration").str.to_date(), pl.col("quote_date").str.to_date()).filter(
        pl.col("expiration") > pl.col("quote_date")
    )
    t = (df["expiration"] - df["quote_date"]).dt.total_days().to_numpy() / 365.0
    f = df["implied_underlying_price_1545"].to_numpy()
    k = df["strike"].to_numpy()
    mid = 0.5 * (df["bid_1545"].to_numpy() + df["ask_1545"].to_numpy())
    iv = implied_vol(mid, f, k, t, 1.0, (df["option_type"] == "C").to_numpy())
    x = np.log(k / f)
    out = df.with_columns(pl.Series("t", t), pl.Series("x", x), pl.Series("iv", iv))
    otm = ((pl.col("option_type") == "C") & (pl.col("x") >= 0)) | ((pl.col("option_type") == "P") & (pl.col("x") < 0))
    return out.filter(otm & (pl.col("bid_1545") > 0) & pl.col("iv").is_finite())


def test_smile_refitted_on_the_datashop_chain_matches_the_defaults_and_the_measured_ratios(shared_data):
    q = _datashop_otm(shared_data)
    smile, fit = fit_vix_smile(q["x"].to_numpy(), q["t"].to_numpy(), q["iv"].to_numpy(), VVIX_2016_06_01)
    print("DataShop VIX smile fit:", fit)
    assert fit["n_smile"] >= 50
    assert fit["rmse_ratio"] < 0.05  # iv/VVIX within 0.05 RMS on the one-month quotes
    # the measured ratios of domain.md: ~0.97 ATM, ~1.18 at 30-delta, ~1.4 at 10-delta
    assert fit["atm_ratio"] == pytest.approx(0.97, abs=0.04)
    assert fit["ratio_30d"] == pytest.approx(1.18, abs=0.04)
    assert fit["ratio_10d"] == pytest.approx(1.40, abs=0.06)
    for name in ("a", "b", "c", "term_power"):
        assert getattr(smile, name) == pytest.approx(getattr(DATASHOP_SMILE, name), abs=0.01), name


def test_default_smile_reprices_the_one_month_datashop_calls_within_their_quotes(shared_data):
    q = _datashop_otm(shared_data).filter(
        (pl.col("option_type") == "C") & (pl.col("t") * 365 == 49) & (pl.col("delta_1545") >= 0.08)
    )
    g = price_vix_options(
        q["implied_underlying_price_1545"].to_numpy(), q["strike"].to_numpy(), q["t"].to_numpy(),
        np.full(q.height, VVIX_2016_06_01), 0.0,
    )
    mid = 0.5 * (q["bid_1545"] + q["ask_1545"]).to_numpy()
    spread = (q["ask_1545"] - q["bid_1545"]).to_numpy()
    # model price within one bid-ask spread of the mid for every 8-delta-and-up call
    assert np.all(np.abs(g["price"] - mid) <= spread + 1e-9), np.c_[q["strike"].to_numpy(), g["price"], mid]


def test_price_is_black76_on_the_future_at_the_smile_vol():
    f, k, t = np.array([20.0, 20.0]), np.array([20.0, 28.0]), np.array([T30, T30])
    g = price_vix_options(f, k, t, np.array([100.0, 100.0]), 0.03)
    vol = vix_option_vol(k, f, t, np.array([100.0, 100.0]))
    assert vol[0] == pytest.approx(DATASHOP_SMILE.a)
    assert vol[1] > vol[0]  # upward smile: OTM calls dearer in vol
    ref = black76_price(f, k, t, vol, np.exp(-0.03 * t), np.array([True, True]))
    np.testing.assert_allclose(g["price"], ref, rtol=1e-12)


def test_call_strike_has_the_target_delta_under_the_smile():
    f, t, vv = np.array([18.0, 30.0]), np.array([T30, T30]), np.array([90.0, 140.0])
    k = vix_call_strike(f, t, vv, 0.0, 0.30, grid=1e-9)
    g = price_vix_options(f, k, t, vv, 0.0)
    np.testing.assert_allclose(g["delta"], 0.30, atol=1e-4)
    assert np.all(vix_call_strike(f, t, vv, 0.0, 0.30) % 0.5 == 0)
