"""Shared test fixtures.

Real market data lives in ``../shared/data`` beside the checkout. Tests that use it
are marked with :data:`requires_shared_data` and skip cleanly when it is absent; the
project itself never needs it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Tests never touch the repository's warehouse or Dagster instance, and simulate small
# chains (1–2 thousand contracts a day) so the suite stays fast on two cores.
_SCRATCH = Path(tempfile.mkdtemp(prefix="volsignals-tests-"))
os.environ["VOLSIGNALS_WAREHOUSE"] = str(_SCRATCH / "warehouse")
os.environ["DAGSTER_HOME"] = str(_SCRATCH / "dagster_home")
os.environ["VOLSIGNALS_CHAIN_SIZE"] = "small"
# The same instance configuration users run on (storage, retention, run monitoring).
from pipelines.instance import ensure_home  # noqa: E402

ensure_home(_SCRATCH / "dagster_home")

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
