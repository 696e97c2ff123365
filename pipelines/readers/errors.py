"""The one exception type the vendor readers raise for bad input.

Reason codes (``VendorFileError.reason``), all stable strings:

==============================  =============================================================
``missing_file``                the path cannot be read
``empty_file``                  no content, or a header without data rows
``broken_archive``              gzip/zip that does not decompress (truncated, corrupted)
``several_members_in_archive``  a zip holding several data files (read them one by one)
``not_text``                    binary content (NUL bytes, undecodable)
``unknown_header``              no known vendor layout starts like this
``changed_header``              a known layout whose header lost/renamed/added a column
``truncated_file``              the last row is cut (fewer fields than the header)
``ragged_row``                  another row with the wrong number of fields
``missing_snapshot_time``       Cboe export without its ``Date:`` line
``unparseable_snapshot_time``   a ``Date:`` line in no known locale/zone
``several_quote_dates``         two exports of different sessions in one Cboe file
``repeated_header``             the same export concatenated twice
``unknown_underlying``          a root/symbol outside the SPX_OPTIONS roots (e.g. VIX), or
                                an underlying the file does not name
``unknown_series``              an index history whose series cannot be told
``unknown_event_kind``          a bare date list whose event kind cannot be told
``not_a_session``               an options file quoting a day the NYSE was closed
``outside_calendar_range``      a date the shipped NYSE calendar does not cover (options files)
``footer_line``                 a last line that is not a data row (a vendor footer)
``unparseable_csv``             quoting the CSV reader cannot follow (e.g. an unterminated quote)
``inconsistent_date_format``    day-first and month-first dates in one file
``ambiguous_date_format``       dates that read as day-first and month-first alike (``--date-order``)
``not_a_regular_file``          a directory, FIFO, device or socket
``over_limit``                  over a size, line-count or line-length limit (the flag that raises it is named)
``blank_line_flood``            more than half of the lines, and over 10,000, blank
==============================  =============================================================
"""

from __future__ import annotations


class VendorFileError(Exception):
    """A vendor file that cannot be read as a whole.

    Row-level problems never raise: those rows go to quarantine with a named
    reason. This error is for problems that make the *file* untrustworthy
    (unknown or changed header, truncation, a broken archive, an unknown
    underlying, several quote dates where one is expected, ...).

    Attributes
    ----------
    file : str
        The file's name (or path) as given to the reader.
    line : int or None
        1-based line of the (decompressed) file where the problem is, if known.
    column : str or None
        The column concerned, if any.
    reason : str
        A short, stable, machine-readable reason code (e.g. ``"changed_header"``).
    detail : str
        Human-readable explanation.
    """

    def __init__(
        self,
        file: str,
        reason: str,
        *,
        line: int | None = None,
        column: str | None = None,
        detail: str = "",
    ) -> None:
        self.file = str(file)
        self.line = line
        self.column = column
        self.reason = reason
        self.detail = detail
        super().__init__(str(self))

    def __str__(self) -> str:
        # a problem of the whole file (its size, its kind, its archive) names no place in it
        where = ", ".join(([f"line {self.line}"] if self.line is not None else [])
                          + ([f"column {self.column!r}"] if self.column is not None else []))
        msg = f"{self.file}: {where + ': ' if where else ''}{self.reason}"
        return f"{msg} ({self.detail})" if self.detail else msg

    def __reduce__(self):  # keep the error picklable (Dagster ships errors across processes)
        return (_rebuild, (self.file, self.reason, self.line, self.column, self.detail))


def _rebuild(file: str, reason: str, line: int | None, column: str | None, detail: str) -> VendorFileError:
    return VendorFileError(file, reason, line=line, column=column, detail=detail)
