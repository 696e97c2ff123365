"""Shared test fixtures.

Real market data lives in ``../shared/data`` beside the checkout. Tests that use it
are marked with :data:`requires_shared_data` and skip cleanly when it is absent; the
project itself never needs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

requires_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"real market data not present at {SHARED_DATA}"
)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data not present at {SHARED_DATA}")
    return SHARED_DATA
