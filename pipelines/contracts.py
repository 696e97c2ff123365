"""Checking a frame against its pandera contract in one query.

pandera runs each check of a schema as its own polars query and collects it twice (the
pass/fail flag, then the failure cases), so a contract costs a few milliseconds per check
whatever the frame's size: about 60 ms for the 30 checks of ``spx_options`` on a
20 k-row chain, more than parsing the vendor file. Here the *same* ``Check`` objects are
evaluated with pandera's own check functions: a check that selects one expression (all of
pandera's built-in polars checks do, and ours) contributes that expression; any other
runs through pandera's check backend (``PolarsCheckBackend.apply``). All verdicts are
computed in one query, and the common case, every row passing, is answered with one
boolean per rule. The rules and their names are pandera's, so a rule added to a schema in
``pipelines/schemas.py`` is enforced here without any change; ``tests/test_contracts.py``
checks that the failures found are exactly the ones pandera reports.

Failure labels are ``"<column>:<check>"`` as pandera names them (``"bid:not_nullable"``,
``"strike:greater_than(0)"``, ``"spx_options:bid_le_ask"`` for a check of the whole row).

Supported schema features: column presence, ``strict``, exact dtypes, ``nullable``
(NaN counts as null for float columns, as in pandera), column and frame checks
(``ignore_na`` honoured), ``unique`` columns and the frame's ``unique`` set. Schemas
that ask pandera to coerce or match columns by regex are refused (:class:`TypeError`):
none of ours do, and this module would silently not do it.
"""

from __future__ import annotations

import copy

import pandera.backends.polars.builtin_checks  # noqa: F401  (registers the polars versions of Check.gt, ...)
import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData
from pandera.backends.polars.checks import PolarsCheckBackend
from pandera.constants import CHECK_OUTPUT_KEY

#: Row index column of :func:`row_failures`' result (position in the checked frame).
INDEX = "index"


class ContractViolation(ValueError):
    """A frame that breaks its table's contract."""


def frame_problems(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> list[str]:
    """Problems of the frame as a whole: missing or extra columns, wrong dtypes."""
    _require_supported(schema)
    problems = [f"missing column {name!r}" for name in schema.columns if name not in frame.columns]
    if schema.strict:
        problems += [f"unexpected column {name!r}" for name in frame.columns if name not in schema.columns]
    layout = frame.schema
    for name, col in schema.columns.items():
        if name in layout and layout[name] != col.dtype.type:
            problems.append(f"column {name!r} is {layout[name]}, contract says {col.dtype.type}")
    return problems


def row_failures(frame: pl.DataFrame, schema: pa.DataFrameSchema, *, uniqueness: bool = True) -> pl.DataFrame:
    """The rows of ``frame`` that break a rule of ``schema``, and which rules.

    Returns a frame with :data:`INDEX` (UInt32, the row's position in ``frame``) and
    ``reason``: the failed rules' labels, sorted and joined by ``";"``. Rows that pass
    every rule are absent. ``uniqueness=False`` leaves the ``unique`` rules out (for
    callers that resolve duplicate keys themselves).

    Raises
    ------
    ContractViolation
        When the frame as a whole does not fit (see :func:`frame_problems`), or a check
        that judges the whole frame at once fails.
    """
    problems = frame_problems(frame, schema)
    if problems:
        raise ContractViolation(f"{schema.name}: " + "; ".join(problems))
    lf = frame.lazy()
    rules = [] if frame.is_empty() else [
        (label, verdict if verdict is not None else _check_frame(check, lf, key))
        for label, verdict, check, key in _compiled_rules(schema, frame.schema)
    ]
    if rules and uniqueness:
        rules += _unique_rules(frame, schema)
    if not rules or _all_pass(frame, [verdict for _, verdict in rules]):
        return pl.DataFrame(schema={INDEX: pl.UInt32, "reason": pl.String})
    names = [f"_rule{i}" for i in range(len(rules))]
    labels = [pl.when(~pl.col(n)).then(pl.lit(label)) for n, (label, _) in zip(names, rules)]
    return (
        _verdicts(lf, [verdict for _, verdict in rules], names)
        .with_row_index(INDEX)
        .filter(~pl.all_horizontal(names))
        .select(INDEX, pl.concat_list(labels).list.drop_nulls().list.unique().list.sort().list.join(";").alias("reason"))
        .collect()
    )


def validate(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """``frame`` unchanged if it meets ``schema`` in full; else :class:`ContractViolation`
    naming each broken rule, how many rows break it and the first such row."""
    failures = row_failures(frame, schema)
    if failures.is_empty():
        return frame
    by_rule = (
        failures.with_columns(pl.col("reason").str.split(";")).explode("reason")
        .group_by("reason").agg(pl.len().alias("rows"), pl.col(INDEX).min().alias("first_row")).sort("reason")
    )
    detail = "; ".join(f"{r} ({n} rows, first at row {i})" for r, n, i in by_rule.iter_rows())
    raise ContractViolation(f"{schema.name}: {failures.height} of {frame.height} rows break the contract: {detail}")


def repeated_keys(frame: pl.DataFrame, keys: list[str]) -> pl.Series | None:
    """True for each row whose ``keys`` already occurred earlier in ``frame`` (the first
    occurrence is False), so ``frame.filter(~mask)`` keeps one row per key in frame order;
    None when no key can repeat (the common case, settled by :func:`may_repeat`)."""
    if not may_repeat(frame, keys):
        return None
    return frame.select(pl.struct(keys).is_first_distinct().not_()).to_series()


def may_repeat(frame: pl.DataFrame, keys: list[str]) -> bool:
    """Whether some key could repeat in ``frame``: its 64-bit hash does (a collision only costs the exact
    check). Counting distinct hashes is ~3x faster than an exact duplicate search on keys."""
    step = 1 << 18  # hashed a slice at a time: on a frame of many chunks, one hash_rows call copies it whole
    hashes = pl.concat([frame.slice(i, step).select(keys).hash_rows() for i in range(0, frame.height, step)]
                       or [pl.Series(dtype=pl.UInt64)])
    return hashes.n_unique() < hashes.len()


# --------------------------------------------------------------------------- rules
# A rule is (label, verdict); the verdict is True where a row passes, never null, either
# as an expression on the frame or, for a check that is not a plain ``select`` of one
# expression, as a LazyFrame of one boolean column (CHECK_OUTPUT_KEY).
Rule = tuple[str, "pl.Expr | pl.LazyFrame"]
#: A schema's checks compiled for one frame layout: (label, expression or None, check, key);
#: None means the check runs through pandera's backend on the data itself.
CompiledRule = tuple[str, "pl.Expr | None", "pa.Check | None", str]
_COMPILED: dict[tuple[int, tuple], tuple[pa.DataFrameSchema, list[CompiledRule]]] = {}


def _compiled_rules(schema: pa.DataFrameSchema, layout: pl.Schema) -> list[CompiledRule]:
    """The column and frame rules of ``schema`` for frames shaped like ``layout``, compiled
    once: building them costs more than evaluating them on a day's chain."""
    key = (id(schema), tuple(layout.items()))
    hit = _COMPILED.get(key)
    if hit is None or hit[0] is not schema:  # an id can be reused once a schema is gone
        empty = pl.LazyFrame(schema=layout)
        hit = _COMPILED[key] = (schema, _column_rules(empty, schema) + _frame_rules(empty, schema))
    return hit[1]


def _all_pass(frame: pl.DataFrame, verdicts: list[pl.Expr | pl.LazyFrame]) -> bool:
    """Whether every row passes every rule: one boolean per rule, the common case answered
    without building per-row results (3x faster on a day's chain)."""
    if not all(isinstance(v, pl.Expr) for v in verdicts):
        return False  # a check run through pandera's backend: look at the rows
    return all(frame.select(v.all().alias(f"_rule{i}") for i, v in enumerate(verdicts)).row(0))


def _verdicts(lf: pl.LazyFrame, verdicts: list[pl.Expr | pl.LazyFrame], names: list[str]) -> pl.LazyFrame:
    """All verdicts as boolean columns ``names`` of one query."""
    exprs = [v.alias(n) for v, n in zip(verdicts, names) if isinstance(v, pl.Expr)]
    frames = [lf.select(exprs)] if exprs else []
    frames += [v.select(pl.col(CHECK_OUTPUT_KEY).alias(n)) for v, n in zip(verdicts, names) if isinstance(v, pl.LazyFrame)]
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="horizontal").select(names)


def _column_rules(lf: pl.LazyFrame, schema: pa.DataFrameSchema) -> list[CompiledRule]:
    rules: list[CompiledRule] = []
    for name, col in schema.columns.items():
        if not col.nullable:
            present = pl.col(name).is_not_null()
            if col.dtype.type.is_float():  # pandera treats NaN as missing in float columns
                present = present & pl.col(name).is_not_nan()
            rules.append((f"{name}:not_nullable", present, None, name))
        rules += [_check_rule(c, lf, name) for c in col.checks]
    return rules


def _frame_rules(lf: pl.LazyFrame, schema: pa.DataFrameSchema) -> list[CompiledRule]:
    return [_check_rule(c, lf, "*", label=f"{schema.name}:{_check_name(c)}") for c in schema.checks]


def _check_rule(check: pa.Check, lf: pl.LazyFrame, key: str, label: str | None = None) -> CompiledRule:
    check = _resolved(check)
    expr = _selected_expression(check, lf, key)
    return (label or f"{key}:{_check_name(check)}", None if expr is None else _resolve_nulls(expr, check), check, key)


def _unique_rules(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> list[Rule]:
    rules: list[Rule] = [
        (f"{name}:field_uniqueness", pl.col(name).is_duplicated().not_())
        for name, col in schema.columns.items() if col.unique and may_repeat(frame, [name])
    ]
    if schema.unique and may_repeat(frame, list(schema.unique)):
        rules.append((f"{schema.name}:multiple_fields_uniqueness", pl.struct(list(schema.unique)).is_duplicated().not_()))
    return rules


def _check_frame(check: pa.Check, lf: pl.LazyFrame, key: str) -> pl.Expr | pl.LazyFrame:
    """The verdict of a check that is not one ``select``: pandera's backend runs it on the data,
    nulls resolved as pandera resolves them (``ignore_na``: a null passes; otherwise it fails)."""
    out = PolarsCheckBackend(check).apply(PolarsData(lf, key))
    if isinstance(out, bool):
        if not out:
            raise ContractViolation(f"{key}:{_check_name(check)} fails for the frame as a whole")
        return pl.repeat(True, pl.len())
    return out.select(_resolve_nulls(pl.col(CHECK_OUTPUT_KEY), check))


def _resolve_nulls(verdict: pl.Expr, check: pa.Check) -> pl.Expr:
    return verdict | verdict.is_null() if check.ignore_na else verdict.fill_null(False)


class _Selection:
    """Stands in for the LazyFrame a pandera polars check receives, to learn what it selects:
    pandera's built-in polars checks, and ours, are ``data.lazyframe.select(<one expression>)``.
    Knowing the expression lets every check of a schema run in one ``select``."""

    def __init__(self) -> None:
        self.exprs: tuple = ()

    def select(self, *exprs):
        self.exprs = exprs
        return self


def _selected_expression(check: pa.Check, lf: pl.LazyFrame, key: str) -> pl.Expr | None:
    """The one boolean expression ``check`` selects, or None when it does something else (an
    element-wise check, several columns, another method): those run through pandera's backend."""
    if check.element_wise:
        return None
    selection = _Selection()
    try:
        out = check._check_fn(PolarsData(selection, key), **check._check_kwargs)  # type: ignore[arg-type]
    except (AttributeError, TypeError):  # the check used more of the LazyFrame API than select
        return None
    if out is not selection or len(selection.exprs) != 1 or not isinstance(selection.exprs[0], pl.Expr):
        return None
    expr = selection.exprs[0]
    return expr if lf.select(expr).collect_schema().len() == 1 else None


def _resolved(check: pa.Check) -> pa.Check:
    """The check with its built-in function looked up now, as ``Check.__call__`` does: a
    ``Check.gt(0)`` made before pandera registered its polars implementations holds a
    dispatcher that does not know polars data yet."""
    name = getattr(check._check_fn, "__name__", None)
    if name is None or not check.is_builtin_check(name):
        return check
    current = copy.copy(check)
    current._check_fn = check.get_builtin_check_fn(name)
    return current


def _check_name(check: pa.Check) -> str:
    """The name pandera reports a failed check under."""
    return check.error if check.error is not None else check.name if check.name is not None else str(check)


def _require_supported(schema: pa.DataFrameSchema) -> None:
    if schema.coerce or any(col.coerce or col.regex for col in schema.columns.values()):
        raise TypeError(f"{schema.name}: coercion and regex columns are not evaluated by pipelines.contracts")
