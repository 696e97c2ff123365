"""Analytics on the real Cboe delayed-quote SPX chains (skipped when the data is absent).

Oracles: Cboe's own IV column in the same files, and Cboe's official daily closes of
VIX, VIX9D, VIX3M and VIX6M.  Run with ``-s`` to see the per-file and per-date tables.

Qualifying end-of-day chains for the index comparison (see ``real_chains.EOD_SPX_FILES``):
2023-02-07, 2023-04-14, 2023-05-05, 2023-05-19, 2023-05-23, 2023-05-26, 2023-06-08,
2023-09-14, 2024-01-05.

The file named 2023-08-18 was downloaded on Sunday 2023-08-20 at 22:42 ET, after the
Sunday 20:15 start of the overnight session, so it is excluded as an overnight snapshot of
2023-08-21 (which is how the project reader labels it).  Its quotes nevertheless look like
the Friday close: timed from Sunday 22:42 our IVs differ from Cboe's column by a median of
~0.57 vol points (short expiries by many points), timed as the 2023-08-18 close by
~0.09.  That file is therefore printed in the IV table but not asserted on.
"""

from __future__ import annotations

import functools
from pathlib import Path

import polars as pl
import pytest

from features.option_features import option_features
from features.vix_index import vix_family
from real_chains import AMBIGUOUS_FILE, EOD_SPX_FILES, OTHER_SPX_FILES, load_chain, official_closes

TOLERANCE = {"vix_30d": 0.10, "vix_9d": 0.15, "vix_93d": 0.20, "vix_183d": 0.30}
KEYS = ["quote_date", "root", "expiration", "strike", "option_type"]


@functools.lru_cache(maxsize=1)
def _load_all(quotes_dir: Path) -> dict[str, pl.DataFrame]:
    out = {}
    loaders = set()
    for name in list(EOD_SPX_FILES) + list(OTHER_SPX_FILES):  # 13 files
        frame, how = load_chain(quotes_dir / name)
        out[name] = frame.filter(pl.col("root").is_in(["SPX", "SPXW"]))
        loaders.add(how)
    print(f"\nchains loaded with: {', '.join(sorted(loaders))}")
    return out


@pytest.fixture
def chains(shared_data: Path) -> dict[str, pl.DataFrame]:
    """All SPX chains, parsed once per session (``shared_data`` skips when the data is absent)."""
    return _load_all(shared_data / "cboe_delayed_quotes")


def test_eod_files_are_end_of_day_snapshots_of_the_expected_session(chains):
    for name, session in EOD_SPX_FILES.items():
        frame = chains[name]
        assert frame["quote_date"].unique().to_list() == [session]
        assert frame["snapshot_kind"].unique().to_list() == ["eod"]


def test_other_files_are_labelled_intraday_or_overnight(chains):
    for name, (session, kind, _snap) in OTHER_SPX_FILES.items():
        frame = chains[name]
        assert frame["quote_date"].unique().to_list() == [session]
        assert frame["snapshot_kind"].unique().to_list() == [kind]


def test_implied_vol_matches_cboe_iv_column(chains):
    print("\nfile                                          n   median|dIV|  p90|dIV|  (vol points)")
    medians = {}
    for name, chain in chains.items():
        feats = option_features(chain)
        both = feats.join(chain.select(KEYS + ["vendor_iv"]), on=KEYS)
        # two-sided quotes whose price carries vol information (vega >= 0.5 point per 1.00 vol)
        m = both.filter(
            (pl.col("bid") > 0) & (pl.col("vendor_iv") > 0) & pl.col("iv").is_not_nan() & (pl.col("vega") >= 0.5)
        )
        diff = (m["iv"] - m["vendor_iv"]).abs() * 100
        note = "  (ambiguous session, not asserted)" if name == AMBIGUOUS_FILE else ""
        print(f"{name:44s} {m.height:6d}   {diff.median():8.3f}   {diff.quantile(0.9):8.3f}{note}")
        assert m.height > 5000
        if name != AMBIGUOUS_FILE:
            medians[name] = diff.median()
    assert len(medians) == 12
    assert max(medians.values()) <= 0.5


def test_replicated_indices_match_official_closes(chains, shared_data):
    closes = official_closes(shared_data / "cboe_vix_indices")
    print("\ndate        " + "  ".join(f"{c:>22s}" for c in TOLERANCE))
    worst = {c: 0.0 for c in TOLERANCE}
    for name, session in EOD_SPX_FILES.items():
        ours = vix_family(chains[name])
        official = closes.filter(pl.col("quote_date") == session).row(0, named=True)
        cells = []
        for col in TOLERANCE:
            err = ours[col] - official[col]
            worst[col] = max(worst[col], abs(err))
            cells.append(f"{ours[col]:7.3f} vs {official[col]:6.2f} {err:+.3f}")
        print(f"{session}  " + "  ".join(cells))
    print("max |error|: " + ", ".join(f"{c} {worst[c]:.3f}" for c in TOLERANCE))
    for col, tol in TOLERANCE.items():
        assert worst[col] <= tol, col
