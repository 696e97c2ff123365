"""Turning the data lines of a delimited vendor file into a string frame with line numbers.

Every reader goes through :func:`split_rows` so that truncation, ragged rows and
1-based line numbers are handled the same way everywhere. All fields come out as
stripped strings (empty -> null); typing happens in the readers with
:func:`num`/:func:`integer`/:func:`parse_failed` so that a value that does not
parse sends its row to quarantine instead of crashing the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import polars as pl

from pipelines.readers.source import Source

LINE = "line"
# The csv module's default field limit (128 KiB) raised an uncaught ``_csv.Error`` on a
# long quoted disclaimer; line lengths are bounded by ``Limits.max_line_bytes`` before
# any line gets here, so the module's own cap is lifted to that bound's maximum.
csv.field_size_limit(2**31 - 1)


def header_fields(line: str) -> list[str]:
    """Header names, stripped, with the trailing empty names of padded headers removed."""
    try:
        fields = [f.strip() for f in next(csv.reader([line]), [])]
    except csv.Error:  # e.g. a stray quote in a preamble line: not a header
        return []
    while fields and fields[-1] == "":
        fields.pop()
    return fields


def check_header(src: Source, got: list[str], expected: list[str], line: int) -> None:
    """Raise ``changed_header`` naming the first column that differs from ``expected``."""
    if got == expected:
        return
    if sorted(got) == sorted(expected):
        moved = next(i for i, (g, e) in enumerate(zip(got, expected)) if g != e)
        raise src.error(
            "changed_header", line=line, column=expected[moved],
            detail=f"the columns are reordered (field {moved + 1} is {got[moved]!r}, expected "
                   f"{expected[moved]!r}); export in the vendor's column order: {', '.join(expected)}",
        )
    for i, exp in enumerate(expected):
        if i >= len(got) or got[i] != exp:
            found = got[i] if i < len(got) else "<missing>"
            raise src.error(
                "changed_header", line=line, column=exp,
                detail=f"header field {i + 1} is {found!r}, expected {exp!r}; the vendor changed its "
                       f"layout or this is another export: expected columns {', '.join(expected)}",
            )
    raise src.error(
        "changed_header", line=line, column=got[len(expected)],
        detail=f"unexpected extra column {got[len(expected)]!r} after {expected[-1]!r}; remove it "
               f"or export without it",
    )


def split_rows(src: Source, first_idx: int, names: list[str],
               dtypes: dict[str, type[pl.DataType] | pl.DataType] | None = None,
               body_check: Callable[[], None] | None = None) -> pl.DataFrame:
    """Data lines ``src.lines[first_idx:]`` as columns ``names`` plus ``line``.

    Columns are strings, except that when ``dtypes`` is given and the whole body
    parses with those types (the normal case for a clean file) they come out typed
    directly; any failure falls back to strings, so callers must type with
    :func:`num`/:func:`integer`, which accept both.

    Blank lines are skipped (they are not data rows). Lines may carry trailing
    padding commas. A last line with too few fields is a truncated file; any other
    line with the wrong number of fields is a ragged file.

    ``body_check`` (a reader's search for stray preambles or headers in the body) runs
    only when the body does not parse with ``dtypes``: a body that does holds nothing
    but complete data lines, so a large clean file is never scanned twice.

    Raises
    ------
    VendorFileError
        ``"empty_file"`` (no data line), ``"truncated_file"``, ``"ragged_row"``.
    """
    n = len(names)
    if dtypes and (typed := _split_fast(src, first_idx, names, dtypes)) is not None:
        return typed
    if body_check is not None:
        body_check()
    fast = _split_fast(src, first_idx, names, None)
    if fast is not None:
        return fast
    frame = _body_lines(src, first_idx).filter(pl.col("raw").str.strip_chars() != "")
    if frame.is_empty():
        raise src.error("empty_file", line=first_idx, detail="header present but no data rows")
    if frame["raw"].str.contains('"', literal=True).any():
        return _split_quoted(src, frame, names)
    nf = pl.col("raw").str.count_matches(",", literal=True) + 1
    frame = frame.with_columns(
        pl.when(nf > n).then(pl.col("raw").str.replace(r",+$", "")).otherwise(pl.col("raw")).alias("raw")
    ).with_columns(nf.alias("_nf"))
    _check_counts(src, frame, n)
    return frame.select(
        pl.col("raw").str.split_exact(",", n - 1).struct.rename_fields(names).alias("_s"), LINE
    ).unnest("_s").with_columns(_clean(names))


#: Lines of a clean body parsed at a time by :func:`split_chunks` (~40 MB of a delayed-quotes
#: chain, ~20 full SPX chains): a large file's wide rows are never all in memory at once,
#: while any real day's file is one chunk.
CHUNK_LINES = 50_000


#: Lines of a file up to which its queries run on polars' in-memory engine rather than its
#: streaming one: on a day's file (a few thousand to ~15,000 lines) the streaming engine's
#: start-up costs more than the rows (an SPY chain's row rules: 10.1 -> 8.3 ms; a full SPX
#: chain's: 14.6 -> 9.7 ms), while a file of several chunks keeps the streaming engine's
#: bounded intermediates (a 200 MB chain's slices on the in-memory engine: 1.04 GB peak, not 0.99).
IN_MEMORY_MAX_LINES = CHUNK_LINES


def engine_for(src: Source) -> str:
    """The polars engine for the queries over the rows of ``src`` (see :data:`IN_MEMORY_MAX_LINES`)."""
    return "in-memory" if src.newlines <= IN_MEMORY_MAX_LINES else "streaming"


class NotChunkable(Exception):
    """The body needs :func:`split_rows`' careful path (quotes, blank or short lines, ragged
    rows, or typed and untyped chunks that would differ from a whole-file read)."""


def split_chunks(src: Source, first_idx: int, names: list[str],
                 dtypes: dict[str, type[pl.DataType] | pl.DataType] | None = None,
                 body_check: Callable[[], None] | None = None,
                 chunk_lines: int | None = None) -> Iterator[pl.DataFrame]:
    """:func:`split_rows` of a clean body, ``chunk_lines`` (default :data:`CHUNK_LINES`) lines
    at a time.

    Yields, in order, exactly the rows (values, types and ``line`` numbers) that
    :func:`split_rows` returns when its fast path succeeds: typed with ``dtypes`` when
    every chunk parses with them, else strings throughout (``body_check`` first, as there).
    Raises :class:`NotChunkable`, possibly after some chunks were yielded, whenever
    :func:`split_rows` would not take its fast path, or when a typed chunk was already
    yielded and a later one parses only as strings (a whole-file read would be strings
    throughout); the caller then drops what it has and calls :func:`split_rows`.
    """
    data, start = src.csv_bytes, src.line_offset(first_idx)
    if start is None or start >= len(data) or data.find(b'"', start) >= 0:
        raise NotChunkable
    line, typed = first_idx + 1, bool(dtypes)
    chunk_lines = chunk_lines or CHUNK_LINES
    whole = data is src.data and src.newlines - first_idx < chunk_lines  # usually: the body is one chunk
    width = max(1, (len(data) - start) // max(1, src.newlines - first_idx))  # bytes per line, on average
    while start < len(data):
        end = len(data) if whole else after_lines(data, start, chunk_lines, width)
        piece = data[start:end]
        out = _parse_clean(piece, names, dtypes) if typed else None
        if out is None:
            if typed and line > first_idx + 1:
                raise NotChunkable  # earlier chunks came out typed; a whole-file read would not
            if typed and body_check is not None:
                body_check()
            typed = False
            out = _parse_clean(piece, names, None)
            if out is None:
                raise NotChunkable
        del piece
        strings = [c for c in names if out.schema[c] == pl.String]
        yield out.with_columns(pl.int_range(line, line + out.height, dtype=pl.Int64).alias(LINE), *_clean(strings))
        line += out.height
        start = end


def after_lines(data: bytes, start: int, n: int, width: int = 256) -> int:
    """Offset just past the ``n``-th newline at or after ``start`` (``len(data)`` if fewer).

    Newlines are counted with ``bytes.count`` (memchr) over byte ranges sized from
    ``width`` (bytes per line, estimated; refined from the lines seen), halved on
    overshoot, so a chunk costs a few scans, not ``n`` calls."""
    pos, left = start, n
    while left > 0 and pos < len(data):
        if left <= 64:
            nxt = data.find(b"\n", pos)
            pos, left = (len(data) if nxt < 0 else nxt + 1), left - 1
            continue
        step = max(4096, left * width * 15 // 16)  # aim just short of the n-th newline
        while (k := data.count(b"\n", pos, pos + step)) > left:
            step //= 2
        if k:
            width = max(1, step // k)
        pos, left = min(pos + step, len(data)), left - k
    return pos


def _parse_clean(data: bytes, names: list[str],
                 dtypes: dict[str, type[pl.DataType] | pl.DataType] | None, skip_lines: int = 0) -> pl.DataFrame | None:
    """``data`` (whole lines after ``skip_lines``, no header) as columns ``names``: None
    unless every line is a complete row."""
    try:
        out = pl.read_csv(data, skip_lines=skip_lines, has_header=False, quote_char=None,
                          schema={c: (dtypes or {}).get(c, pl.String) for c in names},
                          truncate_ragged_lines=False, raise_if_empty=False)
    except (pl.exceptions.PolarsError, ValueError):
        return None
    # a blank line comes back as a row of nulls, a short row with its last fields null:
    # either way the careful path takes over (a row with too many fields raised above)
    if out.is_empty() or out[names[-1]].null_count():
        return None
    return out


def _body_lines(src: Source, first_idx: int) -> pl.DataFrame:
    """Lines ``first_idx + 1 ..`` of ``src`` as a ``raw`` string column with their 1-based
    ``line``: split by polars in one buffer (a Python list of ten million blank lines
    took gigabytes)."""
    body = src.text_from(first_idx)
    if body.endswith("\n"):
        body = body[:-1]
    lines = pl.Series("raw", [body], dtype=pl.String).str.split("\n").explode()
    return pl.DataFrame({"raw": lines}).with_columns(
        pl.int_range(first_idx + 1, first_idx + 1 + lines.len(), dtype=pl.Int64).alias(LINE))


def _split_fast(src: Source, first_idx: int, names: list[str],
                dtypes: dict[str, type[pl.DataType] | pl.DataType] | None) -> pl.DataFrame | None:
    """The common case, straight from the file's bytes with polars' CSV parser: no
    quotes, no blank lines, every row complete. Returns None whenever the careful path
    is needed (it then finds and reports the exact problem)."""
    data, start = src.csv_bytes, src.line_offset(first_idx)
    if start is None or start >= len(data) or data.find(b'"', start) >= 0:
        return None
    out = _parse_clean(data, names, dtypes, skip_lines=first_idx)
    if out is None:
        return None
    strings = [c for c in names if out.schema[c] == pl.String]
    return out.with_columns(
        pl.int_range(first_idx + 1, first_idx + 1 + out.height, dtype=pl.Int64).alias(LINE), *_clean(strings)
    )


def _clean(names: list[str]) -> list[pl.Expr]:
    return [pl.col(c).str.strip_chars().replace("", None) for c in names]


def _check_counts(src: Source, frame: pl.DataFrame, n: int) -> None:
    bad = frame.filter(pl.col("_nf") != n)
    if bad.is_empty():
        return
    line, got, text = bad[LINE][0], bad["_nf"][0], bad["raw"][0]
    shown = text if len(text) <= 80 else text[:77] + "..."
    last_line = frame[LINE][-1]
    if line == last_line and got < n:
        if got == 1 and not any(ch.isdigit() for ch in text[:40]):
            raise src.error("footer_line", line=line, detail=f"the last line {shown!r} is not a data row "
                            f"(1 of {n} fields); delete the footer and ingest again")
        raise src.error("truncated_file", line=line, detail=f"last row has {got} of {n} fields ({shown!r}); "
                        f"the download was probably cut: download the file again")
    raise src.error("ragged_row", line=line, detail=f"row has {got} fields, header has {n} ({shown!r}); "
                    f"fix or delete that line")


def _split_quoted(src: Source, frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Slow path for files that quote fields (commas inside values): the csv module."""
    n = len(names)
    try:
        rows = list(csv.reader(io.StringIO("\n".join(frame["raw"].to_list()))))
    except csv.Error as exc:  # e.g. a NUL inside quotes, or an unterminated quote at the end
        raise src.error("unparseable_csv", detail=f"{exc}; check the quoting of the file") from None
    if len(rows) != frame.height:  # a quoted field spans lines: line numbers would be wrong
        raise src.error("ragged_row", detail="quoted field spans several lines")
    counts = []
    for r in rows:  # one len() per row; the field split itself is the csv module's C loop
        while len(r) > n and r[-1] == "":
            r.pop()
        counts.append(len(r))
    frame = frame.with_columns(pl.Series("_nf", counts, dtype=pl.Int64))
    _check_counts(src, frame, n)
    cols = {name: [r[i] for r in rows] for i, name in enumerate(names)}
    out = pl.DataFrame(cols, schema={c: pl.String for c in names}).with_columns(frame[LINE])
    return out.with_columns(_clean(names))


def num(col: str) -> pl.Expr:
    """A decimal field as Float64 (null when empty or unparseable)."""
    x = pl.col(col).cast(pl.Float64, strict=False)
    return pl.when(x.is_finite()).then(x)  # "nan"/"inf" are not prices


def integer(col: str) -> pl.Expr:
    """A count field as Int64; accepts ``12`` and ``12.0`` (Yahoo writes volumes as floats)."""
    x = pl.col(col).cast(pl.Float64, strict=False)
    return pl.when(x.is_finite() & (x.abs() < 9e15)).then(x.round(0)).cast(pl.Int64)


def parse_failed(raw_col: str, typed: pl.Expr) -> pl.Expr:
    """True where a non-empty field did not parse, or parsed to a non-finite number."""
    failed = pl.col(raw_col).is_not_null() & typed.is_null()
    return failed


def first_failed(checks: dict[str, pl.Expr]) -> pl.Expr:
    """Name of the first column whose check is true (null when none)."""
    expr = pl.lit(None, pl.String)
    for col, cond in reversed(list(checks.items())):
        expr = pl.when(cond).then(pl.lit(col)).otherwise(expr)
    return expr
