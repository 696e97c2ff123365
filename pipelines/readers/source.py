"""Opening a vendor file: decompression (gzip, zip, zip-in-zip), hashing, decoding.

The format is never taken from the file name: :mod:`pipelines.readers.detect` looks
at the decoded text. Compression is recognised by magic bytes, not by extension.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from pipelines.readers.errors import VendorFileError

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_UTF8_BOM = b"\xef\xbb\xbf"
#: A carriage return that does not end a line (old Mac files), which polars would not split on.
_BARE_CR = re.compile(rb"\r(?!\n)")
#: Archive members that describe a delivery rather than hold its data.
_DOC_MEMBER = re.compile(r"(description|readme|license)", re.IGNORECASE)
_DATA_MEMBER = re.compile(r"\.(csv|txt|zip)$", re.IGNORECASE)
_MAX_NESTING = 3
#: Deflate expands one byte to at most ~1032 (RFC 1951's longest match per 258 bytes).
_DEFLATE_MAX_RATIO = 1032
#: Lines kept eagerly for format detection and header parsing.
HEAD_LINES = 20


@dataclass(frozen=True)
class Limits:
    """What one vendor file may cost, whatever its content (each limit has a CLI flag).

    Attributes
    ----------
    max_bytes : int
        Decompressed size in bytes (``--max-bytes``). A year of full Cboe chains in one
        file is ~20 GB, so one file is a few sessions at most; 1 GiB bounds the memory an
        ingest needs to a few GiB whatever a gzip or zip bomb expands to.
    max_lines : int
        Lines in the decompressed file (``--max-lines``); 10 million is ~40 full SPX
        end-of-day chains. Counted with one ``memchr`` pass before anything is parsed,
        so a flood of blank lines is refused in milliseconds, not parsed.
    max_line_bytes : int
        Bytes in one line (``--max-line-length``); the longest real line (a delayed-quotes
        chain row) is ~200 bytes, a disclaimer a few KiB.
    """

    max_bytes: int = 1 << 30
    max_lines: int = 10_000_000
    max_line_bytes: int = 1 << 20


DEFAULT_LIMITS = Limits()
#: A file of which more than half the lines are blank, and at least this many, is a flood,
#: not an export (real exports hold a handful of blank lines at most).
BLANK_FLOOD_MIN = 10_000
_FLAG = {"max_bytes": "--max-bytes", "max_lines": "--max-lines", "max_line_bytes": "--max-line-length"}


def limit_error(name: str, what: str, limits: Limits, field: str, *, line: int | None = None) -> VendorFileError:
    """The error for a file over one of its :class:`Limits`: what, the limit, and the flag that raises it."""
    return VendorFileError(
        name, "over_limit", line=line,
        detail=f"{what} exceeds the limit of {getattr(limits, field):,}; if the file is genuine, "
               f"pass {_FLAG[field]} with a larger value",
    )


@dataclass(frozen=True)
class Source:
    """A vendor file, decompressed; decoded on demand.

    Attributes
    ----------
    path : str
        The path given by the caller.
    name : str
        File name on disk (used in ``source`` tags and error messages).
    sha12 : str
        First 12 hex digits of the SHA-256 of the file's bytes *as stored*.
    member : str or None
        The archive member that was read, for zip deliveries.
    data : bytes
        The decompressed content, BOM removed.
    head : list[str]
        The first :data:`HEAD_LINES` lines, decoded (headers, preambles); ``head[i]`` is
        line ``i + 1``.
    text : str
        The whole file decoded (UTF-8, or plain-text Windows-1252; carriage returns
        removed). Decoded on first use: the fast path of the readers hands the bytes
        straight to polars' CSV parser, which checks UTF-8 itself.
    lines : list[str]
        All lines of ``text`` (computed on first use).
    """

    path: str
    name: str
    sha12: str
    member: str | None
    data: bytes
    head: list[str]
    #: The date order the caller stated (``"mdy"``, ``"dmy"``, ``"ymd"``), else decided
    #: from the file (:mod:`pipelines.readers.dates`).
    date_order: str | None = None

    @cached_property
    def newlines(self) -> int:
        """Newline bytes in :attr:`data` (counted once, when the file is opened)."""
        return self.data.count(b"\n")

    @cached_property
    def text(self) -> str:
        return decode(self.name, self.data)

    @cached_property
    def lines(self) -> list[str]:
        lines = self.text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the terminator of the last line, not an extra line
        return lines

    def text_from(self, idx: int) -> str:
        """The text from the start of line ``idx + 1`` (0-based ``idx``) to the end."""
        pos = _line_start(self.text, "\n", idx)
        return "" if pos is None else self.text[pos:]

    @cached_property
    def csv_bytes(self) -> bytes:
        """The content as bytes whose lines polars' CSV parser splits exactly as :attr:`lines`:
        ``data`` itself (no copy) when every carriage return ends a line (LF or CRLF
        files; polars reads CRLF natively), else the text with CRs removed, re-encoded."""
        if b"\r" not in self.data:  # a memchr scan, the common case
            return self.data
        return self.data if _BARE_CR.search(self.data) is None else self.text.encode()

    def line_offset(self, idx: int) -> int | None:
        """Offset in :attr:`csv_bytes` where line ``idx + 1`` starts (None past the end)."""
        return _line_start(self.csv_bytes, b"\n", idx)

    def release(self) -> None:
        """Drop the decompressed content (and what was decoded from it) once every row is
        read: a 200 MB chain's bytes are not held while its rows are finished and stored.
        Only the name, tag and head stay usable."""
        object.__setattr__(self, "data", None)  # frozen for callers; the reader owns the read
        for cached in ("text", "lines", "csv_bytes", "newlines"):
            self.__dict__.pop(cached, None)

    @property
    def tag(self) -> str:
        """The ``source`` value stored on every row read from this file."""
        return f"file:{self.name}#sha256={self.sha12}"

    def error(self, reason: str, *, line: int | None = None, column: str | None = None, detail: str = "") -> VendorFileError:
        return VendorFileError(self.name, reason, line=line, column=column, detail=detail)


def _line_start(content, newline, idx: int) -> int | None:
    """Offset where line ``idx + 1`` starts in ``content`` (str or bytes); None past the end."""
    pos = 0
    for _ in range(idx):  # idx is a header offset (< HEAD_LINES), not a row count
        nxt = content.find(newline, pos)
        if nxt < 0:
            return None
        pos = nxt + 1
    return pos


def _gunzip(name: str, data: bytes, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Decompress a gzip stream, stopping as soon as it expands past ``limits.max_bytes``.

    When the stream declares more than the cap (its ISIZE trailer, modulo 4 GiB), it is
    first decompressed without keeping the output, so a bomb is refused without holding
    the cap in memory (and a corrupt trailer is told from a bomb); a lying trailer still
    stops at the cap below."""
    declared = int.from_bytes(data[-4:], "little") if len(data) >= 18 else 0
    if declared > limits.max_bytes:
        if declared <= _DEFLATE_MAX_RATIO * len(data):  # a size deflate can reach: believe it
            raise limit_error(name, f"declared decompressed size ({declared:,} bytes)", limits, "max_bytes")
        _gunzip_size_check(name, data, limits)  # a trailer deflate cannot honour: corrupt, or a lie
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            out = gz.read(limits.max_bytes + 1)  # reads in chunks: a bomb stops at the cap
    except (OSError, EOFError, zlib.error) as exc:
        raise VendorFileError(name, "broken_archive", detail=f"gzip: {exc}") from None
    if len(out) > limits.max_bytes:
        raise limit_error(name, "decompressed size", limits, "max_bytes")
    return out


def _gunzip_size_check(name: str, data: bytes, limits: Limits) -> None:
    """Decompress ``data`` in 16 MiB chunks, discarding them: over the cap -> ``over_limit``."""
    total, chunk = 0, 1 << 24
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            while block := gz.read(chunk):
                total += len(block)
                if total > limits.max_bytes:
                    raise limit_error(name, "decompressed size", limits, "max_bytes")
    except (OSError, EOFError, zlib.error) as exc:
        raise VendorFileError(name, "broken_archive", detail=f"gzip: {exc}") from None


def _unzip(name: str, data: bytes, depth: int = 0, limits: Limits = DEFAULT_LIMITS) -> tuple[str, bytes]:
    """The single data member of a zip (recursing into zip-in-zip deliveries)."""
    if depth > _MAX_NESTING:
        raise VendorFileError(name, "broken_archive", detail="zip nested too deeply")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            data_infos = [i for i in infos if _DATA_MEMBER.search(i.filename)]
            if len(data_infos) > 1:
                data_infos = [i for i in data_infos if not _DOC_MEMBER.search(i.filename)]
            if not data_infos:
                raise VendorFileError(name, "empty_file", detail="zip archive holds no data member")
            if len(data_infos) > 1:
                members = ", ".join(i.filename for i in data_infos)
                raise VendorFileError(
                    name, "several_members_in_archive",
                    detail=f"read one member at a time; found {members}",
                )
            info = data_infos[0]
            if info.file_size > limits.max_bytes:  # declared size: an honest bomb stops here
                raise limit_error(name, f"declared size of {info.filename} ({info.file_size:,} bytes)", limits,
                                  "max_bytes")
            with zf.open(info) as member:  # the declared size may lie: read at most the cap
                payload = member.read(limits.max_bytes + 1)
            if len(payload) > limits.max_bytes:
                raise limit_error(name, f"decompressed size of {info.filename}", limits, "max_bytes")
    except VendorFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, ValueError,
            NotImplementedError, RuntimeError, KeyError) as exc:
        raise VendorFileError(name, "broken_archive", detail=f"zip: {exc}") from None
    if payload.startswith(_ZIP_MAGIC) or payload.startswith(_EMPTY_ZIP_MAGIC):
        inner, payload = _unzip(name, payload, depth + 1, limits)
        return f"{info.filename}/{inner}", payload
    if payload.startswith(_GZIP_MAGIC):
        payload = _gunzip(name, payload, limits)
    return info.filename, payload


def decode(name: str, raw: bytes) -> str:
    """UTF-8 text without BOM or carriage returns; binary content is rejected."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Some vendors still export Windows-1252; accept it only when it is plainly text.
        if b"\x00" in raw:
            raise VendorFileError(name, "not_text", detail=f"undecodable byte at offset {exc.start}") from None
        text = raw.decode("cp1252", errors="strict") if _is_cp1252(raw) else None
        if text is None:
            raise VendorFileError(name, "not_text", detail=f"undecodable byte at offset {exc.start}") from None
    if "\x00" in text:
        raise VendorFileError(name, "not_text", detail=_nul_detail(raw))
    if "\r" in text:  # a memchr scan; the replacements copy the whole text, so only when needed
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _is_cp1252(raw: bytes) -> bool:
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def _nul_detail(data: bytes) -> str:
    """Why a file with NUL bytes is not text: UTF-16/32 exports are named as such."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) > 3 and (data[1:2] == b"\x00" or data[0:1] == b"\x00")):
        return "the file is UTF-16 or UTF-32 encoded; re-save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)"
    offset = data.find(b"\x00")
    return f"binary content (NUL byte at offset {offset}); this is not a CSV export"


def _read_regular(p: Path, limits: Limits) -> bytes:
    """The bytes of ``p`` if it is a regular file (or a link to one) within the size cap.

    FIFOs, devices (``/dev/zero``), sockets and directories are refused before they
    are opened, so a read can neither block forever nor grow without bound."""
    name = p.name
    try:
        st = os.stat(p)
    except OSError as exc:
        raise VendorFileError(name, "missing_file", detail=f"{exc.strerror}: {p}; check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise VendorFileError(name, "not_a_regular_file", detail=f"{p} is a directory; pass the files inside it")
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if (
            stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) else "a socket or special file"
        raise VendorFileError(name, "not_a_regular_file", detail=f"{p} is {kind}; copy the data into a regular file")
    if st.st_size > limits.max_bytes:
        raise limit_error(name, f"file size {st.st_size:,} bytes", limits, "max_bytes")
    try:
        with open(p, "rb") as fh:
            data = fh.read(limits.max_bytes + 1)  # the file may grow after stat
    except OSError as exc:
        raise VendorFileError(name, "missing_file", detail=f"{exc.strerror}: {p}") from None
    if len(data) > limits.max_bytes:
        raise limit_error(name, "file size", limits, "max_bytes")
    return data


def check_lines(name: str, data: bytes, limits: Limits) -> int:
    """Refuse content with more lines, or a longer line, than ``limits`` allow, or mostly blank
    lines (``blank_line_flood``); returns the count of newline bytes.

    Lines and blank lines are counted in one NumPy pass (:func:`_newlines_and_blank_lines`),
    before anything is decoded or parsed. The line lengths take one ``rfind`` per
    window of ``max_line_bytes``: the last newline of each window starts the next, so
    a window without one holds a line that is too long."""
    n, blank = _newlines_and_blank_lines(data)
    if n > limits.max_lines:
        raise limit_error(name, f"{n:,} lines", limits, "max_lines")
    if blank > BLANK_FLOOD_MIN and 2 * blank > n:
        raise VendorFileError(
            name, "blank_line_flood",
            detail=f"{blank:,} of its {n:,} lines are blank; a vendor export is not; if the data is "
                   f"genuine, delete the blank lines (sed -i '/^\\s*$/d' FILE) and ingest again",
        )
    pos, cap = 0, limits.max_line_bytes
    while len(data) - pos > cap:
        nl = data.rfind(b"\n", pos, pos + cap + 1)
        if nl < 0:
            line = data.count(b"\n", 0, pos) + 1
            raise limit_error(name, f"line {line} (more than {cap:,} bytes)", limits, "max_line_bytes", line=line)
        pos = nl + 1
    return n


#: Bytes scanned at a time by :func:`_newlines_and_blank_lines` (its temporaries: ~3x this).
_SCAN_BYTES = 1 << 24


def _newlines_and_blank_lines(data: bytes) -> tuple[int, int]:
    """Newline bytes in ``data``, and newlines that directly follow one (a blank line after
    the first). NumPy compares the bytes a block at a time: 3.5x faster than
    ``bytes.count`` for the newlines and for the pairs (a 32 MB chain: 11 ms instead of 40 ms)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = blank = 0
    for start in range(0, len(buf), _SCAN_BYTES):
        is_nl = buf[start:start + _SCAN_BYTES + 1] == ord("\n")  # one byte of overlap: pairs across blocks
        newlines += int(np.count_nonzero(is_nl[: _SCAN_BYTES]))
        blank += int(np.count_nonzero(is_nl[1:] & is_nl[:-1]))
    return newlines, blank


def load_source(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Source:
    """Read, decompress and hash ``path``, and decode its first lines (the rest on demand).

    Raises
    ------
    VendorFileError
        ``"missing_file"``, ``"not_a_regular_file"``, ``"over_limit"`` (see
        :class:`Limits`), ``"empty_file"``, ``"broken_archive"``,
        ``"several_members_in_archive"`` or ``"not_text"``.
    """
    p = Path(path)
    name = p.name
    data = _read_regular(p, limits)
    sha12 = hashlib.sha256(data).hexdigest()[:12]
    member = None
    if data.startswith(_GZIP_MAGIC):
        data = _gunzip(name, data, limits)
        if data.startswith(_ZIP_MAGIC):
            member, data = _unzip(name, data, limits=limits)
    elif data.startswith(_ZIP_MAGIC) or data.startswith(_EMPTY_ZIP_MAGIC):
        member, data = _unzip(name, data, limits=limits)
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
    if b"\x00" in data:  # binary content; polars would read NUL as an ordinary character
        raise VendorFileError(name, "not_text", detail=_nul_detail(data))
    if not data or data.isspace():  # isspace stops at the first visible byte
        raise VendorFileError(name, "empty_file", line=1, detail="no content")
    newlines = check_lines(name, data, limits)
    end = -1
    for _ in range(HEAD_LINES):  # find the end of the first HEAD_LINES lines
        end = data.find(b"\n", end + 1)
        if end < 0:
            break
    head = decode(name, data if end < 0 else data[:end]).split("\n")[:HEAD_LINES]
    if head and head[-1] == "" and end < 0:
        head.pop()
    src = Source(str(path), name, sha12, member, data, head)
    src.__dict__["newlines"] = newlines  # counted above: the cached value, not a second scan
    return src
