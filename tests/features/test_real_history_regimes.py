"""Regime labels on real S&P 500 and Cboe VIX-family history (skips without shared data).

Checked facts (Cboe VIX closes): October 2008 every close > 39; 2018-02-05 VIX 37.3 with
closes 25.6–33.5 through 2018-02-12 (VIXmageddon); March 2020 every close > 30; 2017 the
calmest year on record (median close ~11). VIX3M history starts 2009-09-18 in this file
(Cboe's VXV/VIX3M; the index itself was first published in late 2007), so the 2008 term
regime is "unknown" and only the volatility label is asserted there.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

import polars as pl
import pytest

from features.market_features import market_features
from features.regimes import market_regimes

SERIES_FILES = {
    "VIX": "VIX_History.csv",
    "VIX9D": "VIX9D_History.csv",
    "VIX3M": "VIX3M_History.csv",
    "VIX6M": "VIX6M_History.csv",
}


def load_history(root: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    spx_path = root / "yahoo_gspc_daily" / "GSPC_2005-04-12_2025-04-04_jasonli.csv"
    if not spx_path.exists():
        pytest.skip(f"{spx_path} absent")
    spx = pl.read_csv(spx_path, try_parse_dates=True).select(
        pl.col("date").cast(pl.Date),
        *[pl.col(c).cast(pl.Float64) for c in ("open", "high", "low", "close")],
        pl.col("volume").cast(pl.Int64),
        source=pl.lit("file:GSPC_2005-04-12_2025-04-04_jasonli.csv"),
    )
    frames = []
    for series, name in SERIES_FILES.items():
        path = root / "cboe_vix_indices" / name
        if not path.exists():
            pytest.skip(f"{path} absent")
        frames.append(
            pl.read_csv(path).select(
                pl.col("DATE").str.strptime(pl.Date, "%m/%d/%Y").alias("date"),
                series=pl.lit(series),
                value=pl.col("CLOSE").cast(pl.Float64),
                source=pl.lit(f"file:{name}"),
            )
        )
    return spx, pl.concat(frames)


@pytest.fixture
def regimes(shared_data: Path) -> pl.DataFrame:
    """Computed once per session (cached on the data root) from the conftest fixture's path."""
    return compute_regimes(shared_data)


@lru_cache(maxsize=1)
def compute_regimes(root: Path) -> pl.DataFrame:
    spx, vix_ts = load_history(root)
    empty_breadth = pl.DataFrame(
        schema={
            "date": pl.Date,
            "advancing": pl.Int64,
            "declining": pl.Int64,
            "unchanged": pl.Int64,
            "source": pl.String,
        }
    )
    empty_vx = pl.DataFrame(
        schema={
            "date": pl.Date,
            "contract": pl.String,
            "expiration": pl.Date,
            "settle": pl.Float64,
            "volume": pl.Int64,
            "open_interest": pl.Int64,
            "source": pl.String,
        }
    )
    empty_events = pl.DataFrame(schema={"date": pl.Date, "event": pl.String, "source": pl.String})
    features = market_features(spx, empty_breadth, vix_ts, empty_vx, empty_events)
    out = market_regimes(features)
    shares = (
        out.group_by("vol_regime").len().with_columns(share=pl.col("len") / out.height).sort("share", descending=True)
    )
    with pl.Config(tbl_rows=40):
        print("\nvol regime shares 2005-04..2025-04:\n", shares)
        print(
            "regime shares:\n",
            out.group_by("regime").len().with_columns(share=pl.col("len") / out.height).sort("share", descending=True),
        )
    return out


def month(frame: pl.DataFrame, year: int, m: int) -> pl.DataFrame:
    return frame.filter((pl.col("date").dt.year() == year) & (pl.col("date").dt.month() == m))


def test_every_session_of_october_2008_is_stressed(regimes: pl.DataFrame) -> None:
    oct08 = month(regimes, 2008, 10)
    assert oct08.height == 23
    assert (oct08["vol_regime"] == "stressed").all()
    assert (oct08["term_regime"] == "unknown").all()  # no VIX3M before 2009-09


def test_february_5_to_12_2018_is_stressed_through_hysteresis(regimes: pl.DataFrame) -> None:
    window = regimes.filter(pl.col("date").is_between(date(2018, 2, 5), date(2018, 2, 12)))
    assert window.height == 6
    assert (window["vol_regime"] == "stressed").all()
    # 2018-02-06 closed below the 30 entry level (29.98) yet stays stressed above the 25 exit.
    feb6 = window.filter(pl.col("date") == date(2018, 2, 6))
    assert feb6["vix"][0] < feb6["vol_enter_stressed"][0]
    assert regimes.filter(pl.col("date") == date(2018, 2, 2))["vol_regime"][0] != "stressed"


def test_every_session_of_march_2020_is_stressed_and_mostly_backwardated(regimes: pl.DataFrame) -> None:
    mar20 = month(regimes, 2020, 3)
    assert mar20.height == 22
    assert (mar20["vol_regime"] == "stressed").all()
    assert (mar20["term_regime"] == "backwardation").mean() > 0.8


def test_2017_is_mostly_calm_and_in_contango(regimes: pl.DataFrame) -> None:
    y17 = regimes.filter(pl.col("date").dt.year() == 2017)
    assert (y17["vol_regime"] == "calm").mean() > 0.8
    assert (y17["term_regime"] == "contango").mean() > 0.8
    assert (y17["trend_regime"] == "up").mean() > 0.9


def test_hmm_high_vol_probability_is_high_in_october_2008_and_low_in_2017(regimes: pl.DataFrame) -> None:
    assert month(regimes, 2008, 10)["hmm_p_high_vol"].mean() > 0.9
    assert regimes.filter(pl.col("date").dt.year() == 2017)["hmm_p_high_vol"].mean() < 0.3
