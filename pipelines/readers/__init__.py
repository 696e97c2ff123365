"""Readers for real vendor files: detection, parsing, data-quality rules, quarantine.

Public API::

    from pipelines.readers import read_file, ReadResult, VendorFileError
    result = read_file("spx_quotedata.csv.gz")
    result.tables["spx_options"]      # conforms to pipelines.schemas.SPX_OPTIONS
    result.quarantine                 # rows that failed a row rule, with the reason

``read_file`` recognises the format from the content (plain, gzip, zip or
zip-in-zip), stores on every row ``source = "file:<name>#sha256=<12 hex>"`` and
raises only :class:`VendorFileError` for files it cannot trust. Row problems never
raise: those rows are quarantined (``rows_read == stored + quarantined``).
See :mod:`pipelines.readers.quality` for the rules and thresholds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.readers.errors import VendorFileError
from pipelines.readers.result import ReadResult
from pipelines.readers.source import DEFAULT_LIMITS, Limits

__all__ = ["VendorFileError", "ReadResult", "read_file", "FORMATS", "Limits"]

FORMATS = (
    "cboe_delayed_quotes", "cboe_datashop_eod", "optionsdx_eod", "long_eod", "cboe_index_history",
    "cfe_vx_settlement", "daily_ohlcv", "breadth_daily", "macro_calendar",
    "fred_dtb3", "cboe_spx_settlement_values", "cboe_strategy_index", "cfe_vx_long",
)


#: A file of more than :data:`PROBE_MIN_LINES` lines is first read on its first
#: :data:`PROBE_LINES` lines (the quarantine's record cap, :data:`~pipelines.readers.quality.
#: QUARANTINE_RECORD_MAX`): when none of those rows passes the row rules, the rest is not read
#: (:attr:`ReadResult.lines_unread`), so a flood of millions of unparseable rows costs the
#: reading of 100,000 (a 5.4-million-line flood took seconds and >1 GB read whole). Real
#: vendor files hold < 50,000 lines and are never probed; a large good file pays the probe
#: (< 1/4 of its reading) once.
PROBE_LINES = 100_000
PROBE_MIN_LINES = 4 * PROBE_LINES


def read_file(path: str | Path, limits: Limits = DEFAULT_LIMITS, *, probe: bool = True,
              **options: Any) -> ReadResult:
    """Read one vendor file, whatever its (supported) format.

    Parameters
    ----------
    path : the file (plain text, gzip, zip or zip-in-zip with one data member).
    limits : size, line-count and line-length caps (:class:`Limits`).
    probe : read a long file's first :data:`PROBE_LINES` lines first, and stop there when
        none of their rows passes the row rules (``volsignals ingest --force`` reads it whole).
    **options : passed to the detected format's reader when it accepts them:
        ``allowed_roots`` (option readers), ``quote_time="eod"|"1545"`` (DataShop),
        ``underlying`` (OptionsDX), ``series`` (index histories), ``symbol`` (daily
        OHLCV), ``event`` (headerless date lists); ``date_order`` (``"mdy"``, ``"dmy"``,
        ``"ymd"``) for every format whose dates are decided per file.

    Raises
    ------
    VendorFileError
        For every problem with the file as a whole (see each reader's docstring);
        no other exception escapes for bad input.
    """
    from pipelines.readers.detect import FORMATS as _READERS, detect_format
    from pipelines.readers.source import load_source

    src = load_source(path, limits)
    if options.get("date_order") is not None:
        import dataclasses

        from pipelines.readers.dates import ORDERS

        if options["date_order"] not in ORDERS:
            raise TypeError(f"date_order must be one of {sorted(ORDERS)}")
        src = dataclasses.replace(src, date_order=options["date_order"])
    options = {k: v for k, v in options.items() if k != "date_order" and v is not None}
    fmt = detect_format(src)
    module = _READERS[fmt][1]
    kwargs = _accepted(module.read, options)
    if probe and src.newlines > PROBE_MIN_LINES:
        first = _probe(src, module, kwargs)
        if first is not None:
            return first
    return module.read(src, **kwargs)


def _probe(src, module, kwargs: dict[str, Any]) -> ReadResult | None:
    """The read of ``src``'s first :data:`PROBE_LINES` lines when none of their rows passes
    (with ``lines_unread`` set), else None (the whole file is then read)."""
    import dataclasses

    from pipelines.readers.table import after_lines

    end = after_lines(src.data, 0, PROBE_LINES)
    head = dataclasses.replace(src, data=src.data[:end])
    try:
        first = module.read(head, **kwargs)
    except VendorFileError:  # the cut may break what the whole file holds: the whole read decides
        return None
    if any(frame.height for frame in first.tables.values()):
        return None
    unread = src.newlines - PROBE_LINES + (0 if src.data.endswith(b"\n") else 1)
    return dataclasses.replace(first, lines_unread=unread)


def _accepted(fn, options: dict[str, Any]) -> dict[str, Any]:
    import inspect

    params = inspect.signature(fn).parameters
    unknown = set(options) - set(params)
    known_anywhere = {"allowed_roots", "quote_time", "underlying", "series", "symbol", "event"}
    if unknown - known_anywhere:
        raise TypeError(f"unknown reader option(s): {sorted(unknown - known_anywhere)}")
    return {k: v for k, v in options.items() if k in params}
