"""``volsignals run --market real``: the option chain asset builds the real-path market from
stored real daily rows, on a real Dagster instance and a real (temporary) warehouse."""

from __future__ import annotations

from datetime import date

import dagster as dg
import polars as pl
import pytest

from features.realpath.chain import SOURCE
from pipelines.calendar import sessions_between
from pipelines.ingest import store_rows
from pipelines.warehouse import Warehouse

DAYS = sessions_between(date(2023, 5, 15), date(2023, 5, 19))


def _store_real_daily(store: Warehouse) -> None:
    n = len(DAYS)
    spx = pl.DataFrame({"date": DAYS, "open": [4100.0] * n, "high": [4150.0] * n, "low": [4050.0] * n,
                        "close": [4120.0 + i for i in range(n)], "volume": [1] * n, "source": ["file:test"] * n})
    store_rows(store, "spx_daily", spx, "vendor", DAYS, source="file:test")
    vix = pl.DataFrame([(d, s, v, "file:test") for d in DAYS for s, v in
                        [("VIX9D", 16.0), ("VIX", 17.0), ("VIX3M", 18.5), ("VIX6M", 19.5), ("SKEW", 135.0)]],
                       schema=["date", "series", "value", "source"], orient="row")
    store_rows(store, "vix_term_structure", vix, "vendor", DAYS, source="file:test", mode="upsert")
    bills = pl.DataFrame({"date": DAYS, "series": ["DTB3"] * n, "discount_rate": [0.05] * n,
                          "bond_equivalent_yield": [0.0515] * n, "source": ["file:test"] * n})
    store_rows(store, "treasury_bill_rates", bills, "vendor", DAYS, source="file:test", mode="upsert")


def _materialize_chain(market: str) -> dg.ExecuteInProcessResult:
    from pipelines.definitions import all_assets, defs

    return dg.materialize(
        all_assets, selection=dg.AssetSelection.assets("spx_options"), resources=defs.resources,
        instance=dg.DagsterInstance.get(), raise_on_error=False,
        tags={"dagster/asset_partition_range_start": DAYS[0].isoformat(),
              "dagster/asset_partition_range_end": DAYS[-1].isoformat()},
        run_config={"ops": {"spx_options": {"config": {"market": market}}}},
    )


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("VOLSIGNALS_WAREHOUSE", str(tmp_path / "wh"))
    return Warehouse()


def test_real_market_chain_is_built_from_stored_real_rows_and_tagged(store):
    _store_real_daily(store)
    assert _materialize_chain("real").success
    chain = store.read("spx_options")
    assert sorted(chain["quote_date"].unique().to_list()) == DAYS
    assert chain["source"].unique().to_list() == [SOURCE]
    # priced off the stored close of each session
    assert chain.group_by("quote_date").agg(pl.col("underlying_price").first()).sort("quote_date")[
        "underlying_price"].to_list() == [4120.0 + i for i in range(len(DAYS))]


def test_a_vendor_chain_wins_over_the_real_path_rows_of_its_session(store):
    _store_real_daily(store)
    assert _materialize_chain("real").success
    modelled = store.read("spx_options", DAYS[2], DAYS[2])
    vendor = modelled.head(10).with_columns(pl.lit("file:vendor.csv#sha256=0").alias("source"))
    store_rows(store, "spx_options", vendor, "vendor", [DAYS[2]], source="file:vendor.csv")
    assert store.read("spx_options", DAYS[2], DAYS[2])["source"].unique().to_list() == ["file:vendor.csv#sha256=0"]
    assert store.read("spx_options", DAYS[1], DAYS[1])["source"].unique().to_list() == [SOURCE]


def test_real_market_without_stored_real_data_fails_with_a_clear_message(store):
    result = _materialize_chain("real")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "ingest the real files first" in str(failure.event_specific_data.error)


def test_ingesting_a_reference_series_does_not_try_to_materialize_it(store, tmp_path, capsys):
    from pipelines.cli import main

    path = tmp_path / "DTB3.csv"
    path.write_text("observation_date,DTB3\n2023-05-15,5.10\n2023-05-16,5.12\n")
    main(["ingest", "--quiet", str(path)])  # the T-bill table has no asset downstream: nothing to run
    assert "treasury_bill_rates: 2 rows in, 2 stored" in capsys.readouterr().out
    assert store.read("treasury_bill_rates")["discount_rate"].to_list() == [0.051, 0.0512]


def test_real_path_chain_of_a_session_is_the_same_whatever_is_stored_after_it(store, tmp_path):
    """Truncation invariance: the chain of DAYS[1] built from a store holding the whole week equals
    the one built from a store that ends on DAYS[1]."""
    from pipelines.realpath import realpath_chain

    _store_real_daily(store)
    full = realpath_chain(store, DAYS[1:2])
    cut = Warehouse(tmp_path / "cut")
    for table in ("spx_daily", "vix_term_structure", "treasury_bill_rates"):
        rows = store.read(table).filter(pl.col("date") <= DAYS[1])
        store_rows(cut, table, rows, "vendor", sorted(set(rows["date"].to_list())), source="file:test", mode="upsert")
    assert realpath_chain(cut, DAYS[1:2]).equals(full)
    assert full["quote_date"].unique().to_list() == [DAYS[1]]
