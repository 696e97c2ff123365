"""CNDR yardstick: the CNDR rules on the real-path market vs Cboe's published CNDR, 2005-2025.

    python scripts/cndr_report.py [--data ../shared/data] [--chart docs/cndr_replica.png]

Reads the real files with the project's readers (the same files `volsignals ingest` stores):
S&P 500 daily (Yahoo), Cboe VIX9D/VIX/VIX3M/VIX6M/SKEW/VVIX histories, FRED DTB3, Cboe SET
settlements and CNDR_History.csv. Prints the four target figures, the per-crisis returns and
a diagnosis of the gap (markdown, as in the README), and draws both equity curves.
Nothing here was tuned on the reported period: the surface and spreads are fitted on 2023 Cboe
chains, the CNDR rules are those of features/cndr.py as they stood before this report.
"""

from __future__ import annotations

import argparse
from pathlib import Path


from features.realpath.yardstick import CRISES
from pipelines.realpath import END, START, cndr_yardstick
#: Targets of issue #10.
TARGETS = {"monthly_correlation": 0.90, "annual_return_gap": 0.010, "max_drawdown_gap": 0.03}

ROOT = Path(__file__).resolve().parents[1]






def table(r: dict[str, object]) -> str:
    rep, pub = r["replica"], r["published"]
    ok = {
        "corr": r["monthly_correlation"] >= TARGETS["monthly_correlation"],
        "ret": abs(rep["annual_return"] - pub["annual_return"]) <= TARGETS["annual_return_gap"],
        "dd": abs(rep["max_drawdown"] - pub["max_drawdown"]) <= TARGETS["max_drawdown_gap"],
    }
    yes = {True: "yes", False: "**no**"}
    lines = [
        f"CNDR rules on the real-path market vs Cboe CNDR, {START} .. {END} ({r['sessions']} sessions, {r['months']} months)",
        "",
        "| figure | replica | published CNDR | target | met |",
        "|---|---:|---:|---|:-:|",
        f"| monthly-return correlation | {r['monthly_correlation']:.3f} | | >= 0.90 | {yes[ok['corr']]} |",
        f"| annualized return | {rep['annual_return']:.2%} | {pub['annual_return']:.2%} | within 1.0 point | {yes[ok['ret']]} |",
        f"| annualized volatility (monthly) | {rep['annual_vol']:.2%} | {pub['annual_vol']:.2%} | (reported) | |",
        f"| maximum drawdown | {rep['max_drawdown']:.2%} | {pub['max_drawdown']:.2%} | within 3 points | {yes[ok['dd']]} |",
        "",
        "| crisis window | replica | published CNDR |",
        "|---|---:|---:|",
    ]
    for name in CRISES:
        lines.append(f"| {name} | {r['crises']['replica'][name]:.2%} | {r['crises']['published'][name]:.2%} |")
    lines += [
        "",
        f"Diagnosis: published monthly return = {r['alpha_monthly']:+.2%} + {r['beta']:.2f} x replica monthly return "
        "(least squares). A slope above 1 says the index carries more option exposure per dollar than one condor "
        "per index level of T-bills (sizing); a negative intercept says it earns less premium per unit of exposure "
        "(credit level / fills / strike rule).",
    ]
    lines += ["", "| years | monthly corr | beta (published on replica) | alpha, % a month | replica mean | published mean |",
              "|---|---:|---:|---:|---:|---:|"]
    for p in r["periods"].iter_rows(named=True):
        lines.append(f"| {p['period']} | {p['corr']:.3f} | {p['beta']:.2f} | {p['alpha_monthly']:+.2%} | "
                     f"{p['mean_replica']:.2%} | {p['mean_published']:.2%} |")
    rm = r["risk_matched"]
    lines += [
        "",
        f"The same CNDR rules at the condor book's risk ({rm['risk_fraction']:.0%} of equity lost at most per monthly "
        f"condor): annualized return {rm['annual_return']:.2%}, volatility {rm['annual_vol']:.2%}, maximum drawdown "
        f"{rm['max_drawdown']:.2%}; crises: " + ", ".join(f"{k} {v:.2%}" for k, v in rm["crises"].items()) + ".",
    ]
    if r.get("median_risk_share") is not None:
        lines.append(f"Replica risk per monthly condor (units x (widest wing - credit) / equity), median: "
                     f"{r['median_risk_share']:.1%} of equity (the condor book risks 2 % per entry).")
    return "\n".join(lines)


def chart(r: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = r["daily"]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(d["date"], d["replica"] / d["replica"][0] * 100, label="CNDR rules, real-path market")
    ax.plot(d["date"], d["published"] / d["published"][0] * 100, label="Cboe CNDR (published)")
    for lo, hi in CRISES.values():
        ax.axvspan(lo, hi, color="grey", alpha=0.15, lw=0)
    ax.set_ylabel("growth of 100")
    ax.set_title(f"CNDR replica vs published, {START}..{END}; shaded: crisis windows")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--chart", type=Path, default=ROOT / "docs" / "cndr_replica.png")
    args = ap.parse_args()
    r = cndr_yardstick(args.data)
    print(table(r))
    chart(r, args.chart)
    print(f"\nchart: {args.chart}")


if __name__ == "__main__":
    main()
