"""Reading the real files the real-path market is built and checked from (the I/O of features/realpath).

* :func:`load_real_otm`: the 14 real Cboe SPX chains as OTM analytics with the session's
  VIX family and SKEW (for the surface fit and its check);
* :func:`load_inputs`: the daily inputs, SET values and published CNDR from the files under
  a data folder laid out like ``../shared/data`` (for the CNDR report and its test);
* :func:`cndr_yardstick`: the CNDR replica against the published index.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl

from features.option_features import option_features
from features.realpath.calibration import otm_quotes
from features.realpath.chain import build_chain
from features.realpath.inputs import MAX_CARRY_DAYS, SPX_OPTIONS_COLUMNS, daily_inputs, settlement_prices
from features.realpath.market import cndr_features, cndr_replica
from features.realpath.yardstick import compare, crisis_returns, regression, regression_by_period, summary
from features.strategy_config import StrategyConfig
from pipelines.calendar import previous_session
from pipelines.readers import read_file

SERIES = ("VIX9D", "VIX", "VIX3M", "VIX6M", "SKEW")
#: The real-path run's span (the last session of the stored VX long file).
START, END = date(2005, 1, 3), date(2025, 3, 19)

def load_real_otm(data: Path) -> pl.DataFrame:
    """OTM analytics of every SPX chain with the session's VIX family and SKEW (``chain`` = file name)."""
    vix = pl.concat([read_file(data / "cboe_vix_indices" / f"{s}_History.csv").tables["vix_term_structure"]
                     for s in SERIES]).pivot(on="series", index="date", values="value")
    frames = []
    for path in sorted((data / "cboe_delayed_quotes").glob("spx_quotedata_*.csv.gz")):
        r = read_file(path)
        of = option_features(r.tables["spx_options"]).with_columns(pl.lit(path.name).alias("chain"))
        frames.append(of)
    allf = pl.concat(frames, how="vertical_relaxed")
    market_day = pl.when(pl.col("snapshot_kind") == "overnight").then(
        pl.col("quote_date").map_elements(previous_session, return_dtype=pl.Date)).otherwise(pl.col("quote_date"))
    allf = allf.with_columns(market_day.alias("_market_date")).join(vix, left_on="_market_date", right_on="date")
    return otm_quotes(allf)


def load_spxw_2018_otm(data: Path) -> pl.DataFrame:
    """OTM analytics of the 40 SPXW sessions of Jan-Feb 2018 (``optopsy_spxw_2018``; ``chain`` =
    the session), with each session's VIX family and SKEW: an out-of-sample check that includes
    the February 2018 volatility spike."""
    vix = pl.concat([read_file(data / "cboe_vix_indices" / f"{s}_History.csv").tables["vix_term_structure"]
                     for s in SERIES]).pivot(on="series", index="date", values="value")
    chain = read_file(data / "optopsy_spxw_2018" / "SPX_2018.csv.gz").tables["spx_options"]
    of = option_features(chain).with_columns(pl.col("quote_date").cast(pl.String).alias("chain"))
    return otm_quotes(of.join(vix, left_on="quote_date", right_on="date"))


def calibration_split(otm: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    files = sorted(otm["chain"].unique().to_list())
    cal = files[0::2]
    return otm.filter(pl.col("chain").is_in(cal)), otm.filter(~pl.col("chain").is_in(cal))


def load_inputs(data: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(daily inputs, SET values, published CNDR levels) from the real files under ``data``."""
    y = data / "yahoo_gspc_daily"
    old = read_file(y / "GSPC_1927-12-30_2023-12-28_fja05680.csv.gz").tables["spx_daily"]
    new = read_file(y / "GSPC_2005-04-12_2025-04-04_jasonli.csv").tables["spx_daily"]
    spx = pl.concat([old.filter(pl.col("date") < new["date"].min()), new]).filter(pl.col("date") >= date(2004, 10, 1))
    vix = pl.concat([read_file(data / "cboe_vix_indices" / f"{s}_History.csv").tables["vix_term_structure"]
                     for s in ("VIX", "VIX9D", "VIX3M", "VIX6M", "SKEW", "VVIX")])
    rs = data / "rates_and_settlements"
    bills = read_file(rs / "DTB3_1954-01-04_2026-03-26_fred.csv").tables["treasury_bill_rates"]
    sets = read_file(rs / "SPX_SET_soq_monthly_1998-04_2025-05_cboe.csv").tables["spx_settlement_values"]
    pub = read_file(data / "cboe_strategy_indices" / "CNDR_History.csv").tables["strategy_indices"]
    inputs = daily_inputs(spx, vix, bills).filter(pl.col("date").is_between(date(2004, 12, 1), END))
    return inputs, sets, pub.filter(pl.col("index_name") == "CNDR").select("date", pl.col("value").alias("level"))

def cndr_yardstick(data: Path) -> dict[str, object]:
    """CNDR rules on the real-path market vs the published CNDR over START..END (see
    :func:`features.realpath.yardstick.compare`), plus ``beta``/``alpha_monthly`` (published
    monthly return regressed on the replica's) and ``median_risk_share`` (the replica's
    maximum loss per monthly condor as a share of equity)."""
    inputs, sets, published = load_inputs(data)
    config = StrategyConfig()
    features = cndr_features(inputs, config)
    daily, trades = cndr_replica(inputs, sets, config, features=features)
    # the same rules at the condor book's risk per entry, for a side-by-side comparison
    matched, _ = cndr_replica(inputs, sets, config, risk_fraction=config.condor.risk_fraction, features=features)
    result = compare(daily.select("date", pl.col("equity").alias("level")), published, START, END)
    result["trades"] = trades
    m = result["monthly"]
    fit = regression(m)
    result["beta"], result["alpha_monthly"] = fit["beta"], fit["alpha_monthly"]
    result["periods"] = regression_by_period(m, [(2005, 2009), (2010, 2014), (2015, 2019), (2020, 2025)])
    entered = trades.filter(pl.col("entry_date") >= START)
    width = pl.max_horizontal(pl.col("sp_strike") - pl.col("lp_strike"), pl.col("lc_strike") - pl.col("sc_strike"))
    risk = pl.col("units") * (width - pl.col("credit_fill")) * 100.0
    eq = daily.select(pl.col("date").alias("entry_date"), "equity")
    result["median_risk_share"] = float(entered.join(eq, on="entry_date").select(risk / pl.col("equity")).to_series().median())
    rm = matched.select("date", pl.col("equity").alias("level")).filter(pl.col("date").is_between(START, END))
    result["risk_matched"] = {"risk_fraction": config.condor.risk_fraction, **summary(rm, "level"),
                              "crises": crisis_returns(rm, "level")}
    return result


def stored_settlements(store) -> pl.DataFrame:
    """``date, open, close, settlement_source`` from the warehouse: ``open`` is the AM settlement
    value (Cboe SET where stored, else the stored open, flagged ``estimate:open``)."""
    sets = store.read("spx_settlement_values") if store.files("spx_settlement_values") else None
    return settlement_prices(store.read("spx_daily", columns=["date", "open", "close"]), sets)


class RealDataMissing(RuntimeError):
    """The stored real daily data a real-path chain needs is not there (ingest it first)."""


def realpath_chain(store, batch: list[date]) -> pl.DataFrame:
    """The real-path chain of ``batch`` from stored rows dated on or before each session."""
    lookback = batch[0] - timedelta(days=MAX_CARRY_DAYS + 5)  # room to carry SKEW and the rate forward
    spx = store.read("spx_daily", lookback, batch[-1])
    vix = store.read("vix_term_structure", lookback, batch[-1])
    bills = store.read("treasury_bill_rates", lookback, batch[-1]) if store.files("treasury_bill_rates") else None
    if spx.height == 0 or vix.height == 0:
        raise RealDataMissing(f"no stored S&P 500 / VIX rows for {batch[0]}..{batch[-1]}: ingest the real files first "
                         "(README, 'The real market, 2005-2025')")
    inputs = daily_inputs(spx, vix, bills).filter(pl.col("date").is_in(batch))
    chain = build_chain(inputs)
    return chain if chain.height else pl.DataFrame(schema=SPX_OPTIONS_COLUMNS)
