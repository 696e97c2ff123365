"""Benchmark: what an ingest costs whatever the input — a 200 MB chain and hostile floods.

Run: ``python benchmarks/bench_ingest_limits.py [--chain-mb 200]``. Each case lands one
file with ``ingest_file`` (the path of ``volsignals ingest --no-materialize``) into a
fresh warehouse, in its own process, and prints the outcome, the wall time and that
process's peak RSS (``wait4``). Targets (issue 11): peak RSS <= 1 GB for the 200 MB chain,
floods refused within 5 s.

Files, all generated here (the chain from the largest Cboe delayed-quotes file in
``../shared/data`` when present, replicated with shifted strikes, else from the small
synthetic chain of the tests):

* ``chain_<N>MB.csv``          a real-layout chain of about N MB (default 200), accepted;
* ``blank_flood_21MB.csv``     a header and 21 million blank lines (over the line cap);
* ``blank_flood_9M.csv``       a header and 9 million blank lines (under the cap: parsed);
* ``newlines_100KB.csv.gz``    a 100 KB gzip of a header and ~100 million newlines;
* ``bad_rows_1.6MB.csv.gz``    a 1.6 MB gzip of millions of unparseable index-history rows;
* ``zip_bomb.zip``             a zip whose member expands past the 1 GiB size cap;
* ``/dev/zero`` and a FIFO     not regular files.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests" / "readers"))

DATA = REPO.parent / "shared" / "data"
TARGET_RSS_MB = 1024
TARGET_FLOOD_S = 5.0

CHILD = """
import sys, time
sys.path.insert(0, {repo!r})
from pipelines.vendor_ingest import ingest_file
from pipelines.warehouse import Warehouse
t = time.perf_counter()
r = ingest_file(Warehouse({wh!r}), {path!r})
print(f"{{time.perf_counter() - t:.3f}}|{{r.outcome}}|{{r.rows_stored}}|{{r.rows_quarantined}}|"
      f"{{(r.error or r.refused or '').splitlines()[0][:110] if (r.error or r.refused) else ''}}")
"""


def run_case(path: str, tmp: Path) -> tuple[float, float, str]:
    """Ingest ``path`` in a child process: (seconds inside the child, peak RSS MB, summary)."""
    wh = tmp / f"wh_{time.time_ns()}"
    proc = subprocess.Popen([sys.executable, "-c", CHILD.format(repo=str(REPO), wh=str(wh), path=path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    if status != 0:
        return float("nan"), usage.ru_maxrss / 1024, f"CRASHED: {err.strip().splitlines()[-1] if err else status}"
    secs, outcome, stored, quarantined, message = out.strip().splitlines()[-1].split("|", 4)
    summary = f"{outcome}: {int(stored):,} stored, {int(quarantined):,} quarantined" + (f" — {message}" if message else "")
    return float(secs), usage.ru_maxrss / 1024, summary


def chain_text(target_mb: float) -> str:
    """A delayed-quotes chain of about ``target_mb`` MB (real file replicated, or the test sample)."""
    from bench_ingest_vendor import _replicate

    real = sorted((DATA / "cboe_delayed_quotes").glob("spx_quotedata_2024-01-05.csv.gz"))
    if real:
        base = gzip.decompress(real[0].read_bytes()).decode()
    else:
        from readers_samples import cboe_text

        base = cboe_text()
    n = max(1, round(target_mb * 1e6 / len(base)))
    return _replicate(base, n)


def generate(tmp: Path, chain_mb: float) -> list[tuple[str, str, bool]]:
    """Write the case files into ``tmp``; returns (label, path, is_flood) per case."""
    cases: list[tuple[str, str, bool]] = []
    chain = tmp / f"chain_{chain_mb:.0f}MB.csv"
    chain.write_text(chain_text(chain_mb))
    cases.append((f"chain {chain.stat().st_size / 1e6:.0f} MB", str(chain), False))
    flood = tmp / "blank_flood_21MB.csv"
    flood.write_bytes(b"DATE,OPEN,HIGH,LOW,CLOSE\n" + b"\n" * 21_000_000)
    cases.append(("blank lines, 21 MB", str(flood), True))
    (tmp / "b9").mkdir()
    flood9 = tmp / "b9" / "VIX_History.csv"
    flood9.write_bytes(b"DATE,OPEN,HIGH,LOW,CLOSE\n01/03/2023,23.09,23.76,22.73,22.90\n" + b"\n" * 9_000_000)
    cases.append(("blank lines, 9 M (under the line cap)", str(flood9), True))
    gz = tmp / "newlines_100KB.csv.gz"
    gz.write_bytes(gzip.compress(b"DATE,OPEN,HIGH,LOW,CLOSE\n" + b"\n" * 100_000_000, compresslevel=9))
    cases.append((f"gzip of newlines, {gz.stat().st_size / 1e3:.0f} KB", str(gz), True))
    (tmp / "bad").mkdir()
    bad = tmp / "bad" / "VIX_History.csv.gz"
    bad.write_bytes(gzip.compress(b"DATE,OPEN,HIGH,LOW,CLOSE\n" + b"??/??/????,x,x,x,x\n" * 5_400_000,
                                  compresslevel=9))
    cases.append((f"gzip of bad rows, {bad.stat().st_size / 1e6:.1f} MB, 5.4 M rows", str(bad), True))
    bomb = tmp / "zip_bomb.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("x.csv", "w", force_zip64=True) as member:
            member.write(b"DATE,VIX\n")
            block = b"0" * (1 << 24)
            for _ in range(70):  # 1.1 GiB of zeros, a few MB zipped
                member.write(block)
    bomb.write_bytes(buf.getvalue())
    cases.append((f"zip bomb, {bomb.stat().st_size / 1e6:.1f} MB -> 1.1 GiB", str(bomb), True))
    gzb = tmp / "gzip_bomb.csv.gz"
    with gzip.open(gzb, "wb", compresslevel=9) as fh:
        fh.write(b"DATE,VIX\n")
        for _ in range(70):
            fh.write(b"0" * (1 << 24))
    cases.append((f"gzip bomb, {gzb.stat().st_size / 1e6:.1f} MB -> 1.1 GiB", str(gzb), True))
    fifo = tmp / "pipe.csv"
    os.mkfifo(fifo)
    cases.append(("FIFO", str(fifo), True))
    cases.append(("/dev/zero", "/dev/zero", True))
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chain-mb", type=float, default=200.0)
    ap.add_argument("--generate", help=argparse.SUPPRESS)  # internal: write the files into this folder
    args = ap.parse_args()
    if args.generate:
        for case in generate(Path(args.generate), args.chain_mb):
            print("|".join(map(str, case)))
        return
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        # the files are made in another process: a child forked from a parent holding them
        # would report the parent's memory as its own peak
        out = subprocess.run([sys.executable, __file__, "--generate", d, "--chain-mb", str(args.chain_mb)],
                             check=True, capture_output=True, text=True).stdout
        cases = [(label, path, flood == "True") for label, path, flood in
                 (line.split("|") for line in out.strip().splitlines())]
        print(f"{'case':44s} {'s':>7s} {'peak MB':>8s}  outcome")
        for label, path, is_flood in cases:
            secs, rss, summary = run_case(path, tmp)
            verdict = ""
            if is_flood and not secs <= TARGET_FLOOD_S:
                verdict = "  over the 5 s target"
            if rss > TARGET_RSS_MB:
                verdict += "  over the 1 GB target"
            print(f"{label:44s} {secs:7.2f} {rss:8.0f}  {summary}{verdict}")
        size = Path(cases[0][1]).stat().st_size / 1e6
        print(f"\ntargets: peak RSS <= {TARGET_RSS_MB} MB (the {size:.0f} MB chain included), floods refused "
              f"within {TARGET_FLOOD_S:.0f} s; times are inside the child (interpreter start excluded)")


if __name__ == "__main__":
    main()
