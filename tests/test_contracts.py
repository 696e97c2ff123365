"""The one-query contract check finds exactly the failures pandera itself reports."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandera.polars as pa
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import contracts, schemas

MAYBE = st.one_of(st.none(), st.just(float("nan")), st.floats(-2, 30, allow_nan=False))
NY = schemas.NY_TZ


def _pandera_failures(frame: pl.DataFrame, schema: pa.DataFrameSchema, *, uniqueness: bool) -> dict[int, str]:
    """Row -> sorted ``column:check`` labels, from pandera's own lazy validation."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        if not uniqueness:
            cases = cases.filter(~pl.col("check").is_in(["field_uniqueness", "multiple_fields_uniqueness"]))
        cases = cases.filter(pl.col("index").is_not_null())
        if "multiple_fields_uniqueness" in cases["check"].to_list():
            # pandera reports the multi-column uniqueness rule under the frame's name
            cases = cases.with_columns(
                pl.when(pl.col("check") == "multiple_fields_uniqueness").then(pl.lit(schema.name))
                .otherwise(pl.col("column")).alias("column")
            )
        grouped = cases.group_by("index").agg((pl.col("column") + ":" + pl.col("check")).unique().sort().str.join(";"))
        return dict(grouped.iter_rows())
    return {}


def _ours(frame: pl.DataFrame, schema: pa.DataFrameSchema, *, uniqueness: bool) -> dict[int, str]:
    return dict(contracts.row_failures(frame, schema, uniqueness=uniqueness).iter_rows())


@st.composite
def option_rows(draw) -> pl.DataFrame:
    n = draw(st.integers(1, 12))
    quote = date(2024, 3, 1)

    def col(strategy):
        return [draw(strategy) for _ in range(n)]

    frame = pl.DataFrame(
        {
            "quote_date": [quote] * n,
            "snapshot_time": [datetime(2024, 3, 1, 16, 15)] * n,
            "snapshot_kind": col(st.sampled_from(["eod", "overnight", "bogus", None])),
            "root": col(st.sampled_from(["SPX", "SPXW", "VIX"])),
            "expiration": [quote + timedelta(days=d) for d in col(st.integers(-2, 3))],
            "settlement": col(st.sampled_from(["AM", "PM", "XX"])),
            "strike": col(st.sampled_from([0.0, 4000.0, 4005.0, -5.0])),
            "option_type": col(st.sampled_from(["C", "P"])),
            "bid": col(MAYBE),
            "ask": col(MAYBE),
            "bid_size": col(st.one_of(st.none(), st.integers(-2, 5))),
            "ask_size": col(st.one_of(st.none(), st.integers(-2, 5))),
            "last": col(MAYBE),
            "volume": col(st.one_of(st.none(), st.integers(-2, 5))),
            "open_interest": col(st.one_of(st.none(), st.integers(-2, 5))),
            "underlying_price": col(st.sampled_from([5000.0, 0.0, None])),
            "vendor_iv": col(MAYBE),
            "vendor_delta": col(st.one_of(st.none(), st.floats(-1.5, 1.5))),
            "vendor_gamma": col(st.one_of(st.none(), st.floats(0, 1))),
            "source": ["test"] * n,
        },
        schema_overrides={"snapshot_time": pl.Datetime("us", NY)},
    )
    return schemas.conform(frame, schemas.SPX_OPTIONS)


@settings(max_examples=60, deadline=None)
@given(option_rows(), st.booleans())
def test_option_rows_fail_the_same_rules_as_under_pandera(frame, uniqueness):
    assert _ours(frame, schemas.SPX_OPTIONS, uniqueness=uniqueness) == _pandera_failures(
        frame, schemas.SPX_OPTIONS, uniqueness=uniqueness
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(-1, 5), st.floats(-1, 5)), min_size=1, max_size=8))
def test_daily_rows_fail_the_same_rules_as_under_pandera(rows):
    frame = pl.DataFrame(
        {
            "date": [date(2024, 1, 2) + timedelta(days=d) for d, _, _ in rows],
            "open": [o for _, o, _ in rows],
            "high": [h for _, _, h in rows],
            "low": [1.0] * len(rows),
            "close": [2.0] * len(rows),
            "volume": [None] * len(rows),
            "source": ["t"] * len(rows),
        },
        schema_overrides={"volume": pl.Int64},
    )
    assert _ours(frame, schemas.SPX_DAILY, uniqueness=True) == _pandera_failures(
        frame, schemas.SPX_DAILY, uniqueness=True
    )


def test_checks_that_are_not_one_select_run_through_pandera_and_agree_with_it():
    schema = pa.DataFrameSchema(
        {
            "x": pa.Column(pl.Float64, [
                pa.Check(lambda v: v < 10, element_wise=True, name="below_ten"),
                pa.Check(lambda d: d.lazyframe.with_columns(pl.col(d.key) * 2).select(pl.col(d.key) > 0),
                         name="doubled_positive"),
            ], nullable=True),
            "y": pa.Column(pl.Int64),
        },
        checks=[pa.Check(lambda d: d.lazyframe.select(pl.col("x") > 0, pl.col("y") > 0), name="both_positive")],
        name="custom",
    )
    frame = pl.DataFrame({"x": [1.0, -2.0, 12.0, None], "y": [1, 2, -3, 4]})
    ours = _ours(frame, schema, uniqueness=True)
    assert ours == _pandera_failures(frame, schema, uniqueness=True)
    assert ours == {1: "custom:both_positive;x:doubled_positive", 2: "custom:both_positive;x:below_ten"}


def test_a_clean_frame_has_no_failures():
    frame = schemas.empty_frame(schemas.VIX_TERM_STRUCTURE).vstack(
        pl.DataFrame({"date": [date(2024, 1, 2)], "series": ["VIX"], "value": [13.2], "source": ["t"]})
    )
    assert contracts.row_failures(frame, schemas.VIX_TERM_STRUCTURE).is_empty()
    assert contracts.validate(frame, schemas.VIX_TERM_STRUCTURE) is frame


def test_validate_names_each_broken_rule_with_its_row_count():
    frame = pl.DataFrame({"date": [date(2024, 1, 2)] * 2, "series": ["VIX", "VIX"], "value": [13.2, -1.0],
                          "source": ["t", "t"]})
    with pytest.raises(contracts.ContractViolation) as err:
        contracts.validate(frame, schemas.VIX_TERM_STRUCTURE)
    msg = str(err.value)
    assert "value:greater_than(0) (1 rows, first at row 1)" in msg
    assert "vix_term_structure:multiple_fields_uniqueness (2 rows, first at row 0)" in msg


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda f: f.drop("value"), "missing column 'value'"),
        (lambda f: f.with_columns(pl.lit(1).alias("extra")), "unexpected column 'extra'"),
        (lambda f: f.with_columns(pl.col("value").cast(pl.Float32)), "column 'value' is Float32"),
    ],
    ids=["missing", "extra", "dtype"],
)
def test_a_frame_that_does_not_fit_is_refused_whole(change, problem):
    frame = pl.DataFrame({"date": [date(2024, 1, 2)], "series": ["VIX"], "value": [13.2], "source": ["t"]})
    with pytest.raises(contracts.ContractViolation, match=problem):
        contracts.row_failures(change(frame), schemas.VIX_TERM_STRUCTURE)


def test_every_contract_uses_only_features_evaluated_here():
    for schema in schemas.SCHEMAS.values():
        contracts.frame_problems(schemas.empty_frame(schema), schema)  # raises TypeError otherwise
