"""Property-based fuzzing of every reader: whatever the bytes, the only exception is
VendorFileError, and whatever is returned reconciles and validates."""

from __future__ import annotations

import gzip
import io
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import schemas
from pipelines.readers import VendorFileError, read_file
from readers_samples import (
    breadth_text, cboe_text, cfe_text, daily_text, datashop_text, fomc_text, index_history_text, long_eod_text,
    optionsdx_text,
)

SAMPLES = {
    "spx_quotedata.csv": cboe_text(),
    "spx_eod_202305.txt": optionsdx_text(),
    "long_eod.csv": long_eod_text(),
    "datashop.csv": datashop_text(),
    "VIX_History.csv": index_history_text(),
    "CFE_F15_VX.csv": cfe_text(),
    "GSPC_daily.csv": daily_text(),
    "breadth.csv": breadth_text(),
    "fomc_days.csv": fomc_text(),
}
FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)
        try:
            r = read_file(p)
        except VendorFileError as e:
            assert e.reason and name in str(e)
            return
    assert r.rows_read == sum(len(t) for t in r.tables.values()) + len(r.quarantine)
    for table_name, table in r.tables.items():
        schemas.SCHEMAS[table_name].validate(table)
    schemas.QUARANTINE.validate(r.quarantine)


def _drop_column(text: str, k: int) -> str:
    return "\n".join(",".join(f for i, f in enumerate(line.split(",")) if i != k) for line in text.split("\n"))


mutation = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=8)),
    st.tuples(st.just("drop_column"), st.integers(0, 35)),
    st.tuples(st.just("header_edit"), st.tuples(st.integers(0, 200), st.text(min_size=0, max_size=3))),
    st.tuples(st.just("gzip_truncate"), st.floats(0, 1)),
    st.tuples(st.just("zip_flip"), st.tuples(st.floats(0, 1), st.integers(1, 255))),
)


def _mutate(text: str, m) -> bytes:
    kind, arg = m
    raw = text.encode()
    if kind == "truncate":
        return raw[: int(len(raw) * arg)]
    if kind == "flip":
        b = bytearray(raw)
        for pos, x in arg:
            i = min(int(pos * len(b)), len(b) - 1)
            b[i] ^= x
        return bytes(b)
    if kind == "drop_column":
        return _drop_column(text, arg).encode()
    if kind == "header_edit":
        pos, s = arg
        lines = text.split("\n")
        h = next(i for i, line in enumerate(lines) if line.strip())
        lines[h] = lines[h][:pos] + s + lines[h][pos + len(s):]
        return "\n".join(lines).encode()
    if kind == "zip_flip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("data.csv", raw)
        z = bytearray(buf.getvalue())
        pos, x = arg
        z[min(int(pos * len(z)), len(z) - 1)] ^= x
        return bytes(z)
    z = gzip.compress(raw)
    return z[: int(len(z) * arg)]


@pytest.mark.parametrize("name", list(SAMPLES))
@FUZZ
@given(m=mutation)
def test_mutated_vendor_file_raises_only_vendor_file_error(name: str, m) -> None:
    _check(name, _mutate(SAMPLES[name], m))


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=600), name=st.sampled_from(list(SAMPLES)))
def test_random_bytes_raise_only_vendor_file_error(data: bytes, name: str) -> None:
    _check(name, data)


@settings(max_examples=30, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789,.-: \nDATEOPNHIGLWCSxy\"[]")), max_size=400),
       name=st.sampled_from(list(SAMPLES)))
def test_random_csv_like_text_raises_only_vendor_file_error(text: str, name: str) -> None:
    _check(name, text.encode())
