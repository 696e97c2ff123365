"""Opening a vendor file: decompression (gzip, zip, zip-in-zip), hashing, decoding.

The format is never taken from the file name: :mod:`pipelines.readers.detect` looks
at the decoded text. Compression is recognised by magic bytes, not by extension.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

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
#: Lines kept eagerly for format detection and header parsing.
HEAD_LINES = 20


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


def _gunzip(name: str, data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise VendorFileError(name, "broken_archive", detail=f"gzip: {exc}") from None


def _unzip(name: str, data: bytes, depth: int = 0) -> tuple[str, bytes]:
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
            payload = zf.read(info)
    except VendorFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, ValueError,
            NotImplementedError, RuntimeError, KeyError) as exc:
        raise VendorFileError(name, "broken_archive", detail=f"zip: {exc}") from None
    if payload.startswith(_ZIP_MAGIC) or payload.startswith(_EMPTY_ZIP_MAGIC):
        inner, payload = _unzip(name, payload, depth + 1)
        return f"{info.filename}/{inner}", payload
    if payload.startswith(_GZIP_MAGIC):
        payload = _gunzip(name, payload)
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
        raise VendorFileError(name, "not_text", detail="NUL byte in file")
    if "\r" in text:  # a memchr scan; the replacements copy the whole text, so only when needed
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _is_cp1252(raw: bytes) -> bool:
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def load_source(path: str | Path) -> Source:
    """Read, decompress and hash ``path``, and decode its first lines (the rest on demand).

    Raises
    ------
    VendorFileError
        ``"missing_file"``, ``"empty_file"``, ``"broken_archive"``,
        ``"several_members_in_archive"`` or ``"not_text"``.
    """
    p = Path(path)
    name = p.name
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise VendorFileError(name, "missing_file", detail=str(exc)) from None
    sha12 = hashlib.sha256(data).hexdigest()[:12]
    member = None
    if data.startswith(_GZIP_MAGIC):
        data = _gunzip(name, data)
        if data.startswith(_ZIP_MAGIC):
            member, data = _unzip(name, data)
    elif data.startswith(_ZIP_MAGIC) or data.startswith(_EMPTY_ZIP_MAGIC):
        member, data = _unzip(name, data)
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
    if b"\x00" in data:  # binary content; polars would read NUL as an ordinary character
        raise VendorFileError(name, "not_text", detail="NUL byte in file")
    if not data or data.isspace():  # isspace stops at the first visible byte
        raise VendorFileError(name, "empty_file", line=1, detail="no content")
    end = -1
    for _ in range(HEAD_LINES):  # find the end of the first HEAD_LINES lines
        end = data.find(b"\n", end + 1)
        if end < 0:
            break
    head = decode(name, data if end < 0 else data[:end]).split("\n")[:HEAD_LINES]
    if head and head[-1] == "" and end < 0:
        head.pop()
    return Source(str(path), name, sha12, member, data, head)
