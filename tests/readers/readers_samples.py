"""Small, valid vendor files built in code (one per format), for mutation and fuzz tests.

Each builder returns the file's text; values are realistic (SPX near 4150 in May 2023).
Kept deliberately tiny so that the whole corpus parses in milliseconds.
"""

from __future__ import annotations

from datetime import date

CBOE_HEADER = ("Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,"
               "Puts,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest")
STRIKES = [4050, 4100, 4150, 4200, 4250]
EXPIRIES = [date(2023, 5, 26), date(2023, 6, 16)]


def _occ(root: str, exp: date, typ: str, strike: float) -> str:
    return f"{root}{exp:%y%m%d}{typ}{int(round(strike * 1000)):08d}"


def cboe_rows(spot: float = 4145.58, calcs: bool = True) -> list[str]:
    rows = []
    for exp in EXPIRIES:
        roots = ["SPXW", "SPX"] if exp.day >= 15 and exp.day <= 21 else ["SPXW"]
        for root in roots:
            for k in STRIKES:
                c_mid = max(spot - k, 0) + 20.0
                p_mid = max(k - spot, 0) + 20.0
                c = [f"{c_mid:.2f}", "0", f"{c_mid - 0.5:.1f}", f"{c_mid + 0.5:.1f}", "12"]
                p = [f"{p_mid:.2f}", "0", f"{p_mid - 0.5:.1f}", f"{p_mid + 0.5:.1f}", "7"]
                if calcs:
                    c += ["0.1532", "0.5123", "0.0021"]
                    p += ["0.1611", "-0.4877", "0.0021"]
                rows.append(",".join([f"{exp:%a %b %d %Y}", _occ(root, exp, "C", k), *c, "150", f"{k:.2f}",
                                      _occ(root, exp, "P", k), *p, "220"]))
    return rows


def cboe_text(date_line: str = '"Date: May 23, 2023 at 7:39 PM EDT",Bid: 4133.95,Ask: 4162.55,Size: 1*1,Volume: 0',
              spot: str = "4145.5801", calcs: bool = True, trailing_commas: bool = False) -> str:
    header = CBOE_HEADER
    if not calcs:
        header = header.replace("IV,Delta,Gamma,", "")
    pad = ",,," if trailing_commas else ""
    lines = ["", f"Standard & Poors 500 Index,Last: {spot},Change:  -47.0499{pad}", date_line + pad, header + pad,
             *cboe_rows(float(spot) if _is_num(spot) else 4145.58, calcs)]
    return "\n".join(lines) + "\n"


def _is_num(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


OPTIONSDX_HEADER = ("[QUOTE_UNIXTIME], [QUOTE_READTIME], [QUOTE_DATE], [QUOTE_TIME_HOURS], [UNDERLYING_LAST], "
                    "[EXPIRE_DATE], [EXPIRE_UNIX], [DTE], [C_DELTA], [C_GAMMA], [C_VEGA], [C_THETA], [C_RHO], [C_IV], "
                    "[C_VOLUME], [C_LAST], [C_SIZE], [C_BID], [C_ASK], [STRIKE], [P_BID], [P_ASK], [P_SIZE], [P_LAST], "
                    "[P_DELTA], [P_GAMMA], [P_VEGA], [P_THETA], [P_RHO], [P_IV], [P_VOLUME], [STRIKE_DISTANCE], "
                    "[STRIKE_DISTANCE_PCT]")


def optionsdx_text(days: tuple[str, ...] = ("2023-05-22", "2023-05-23")) -> str:
    lines = [OPTIONSDX_HEADER]
    spot = 4145.58
    for d in days:
        for exp, exp_unix, dte in [("2023-05-26", 1685131200, 3.0), ("2023-06-16", 1686945600, 24.0)]:
            for k in STRIKES:
                c_mid, p_mid = max(spot - k, 0) + 20.0, max(k - spot, 0) + 20.0
                lines.append(", ".join([
                    "1684872000", f"{d} 16:00", d, "16.000000", f"{spot:.6f}", exp, str(exp_unix), f"{dte:.6f}",
                    "0.512300", "0.002100", "2.100000", "-1.500000", "0.800000", "0.153200", "12.000000",
                    f"{c_mid:.6f}", "10 x 12", f"{c_mid - 0.5:.6f}", f"{c_mid + 0.5:.6f}", f"{k:.6f}",
                    f"{p_mid - 0.5:.6f}", f"{p_mid + 0.5:.6f}", "8 x 9", f"{p_mid:.6f}", "-0.487700", "0.002100",
                    "2.100000", "-1.400000", "-0.700000", "0.161100", "7.000000", f"{abs(k - spot):.1f}",
                    f"{abs(k - spot) / spot:.3f}",
                ]))
    return "\n".join(lines) + "\n"


LONG_HEADER = ("underlying,underlying_last, exchange,optionroot,optionext,type,expiration,quotedate,strike,last,bid,"
               "ask,volume,openinterest,impliedvol,delta,gamma,theta,vega,optionalias")


def long_eod_text(days: tuple[str, ...] = ("01/02/2018", "01/03/2018")) -> str:
    lines = ["\ufeff" + LONG_HEADER]
    for d in days:
        for k in [2650, 2700, 2750]:
            for typ in ["call", "put"]:
                sym = _occ("SPXW", date(2018, 1, 31), typ[0].upper(), k)
                mid = max(2695.79 - k, 0) + 15 if typ == "call" else max(k - 2695.79, 0) + 15
                lines.append(f"SPXW,2695.79,W,{sym},,{typ},01/31/2018,{d},{k},{mid:.2f},{mid - 0.5:.2f},{mid + 0.5:.2f},"
                             f"3,120,0.1100,{0.5 if typ == 'call' else -0.5},0.0031,-1.2,2.1,{sym}")
    return "\n".join(lines) + "\n"


DATASHOP_CALCS_HEADER = (
    "underlying_symbol,quote_date,root,expiration,strike,option_type,open,high,low,close,trade_volume,bid_size_1545,"
    "bid_1545,ask_size_1545,ask_1545,underlying_bid_1545,underlying_ask_1545,implied_underlying_price_1545,"
    "active_underlying_price_1545,implied_volatility_1545,delta_1545,gamma_1545,theta_1545,vega_1545,rho_1545,"
    "bid_size_eod,bid_eod,ask_size_eod,ask_eod,underlying_bid_eod,underlying_ask_eod,vwap,open_interest,delivery_code")


def datashop_text(root: str = "SPXW", underlying: str = "^SPX", quote_date: str = "2023-05-23") -> str:
    lines = [DATASHOP_CALCS_HEADER]
    for k in STRIKES:
        for typ in "CP":
            mid = (max(4145.58 - k, 0) if typ == "C" else max(k - 4145.58, 0)) + 20
            lines.append(",".join([
                underlying, quote_date, root, "2023-05-26", f"{k:.3f}", typ, "20.0000", "25.0000", "18.0000",
                f"{mid:.4f}", "40", "10", f"{mid - 0.4:.4f}", "12", f"{mid + 0.4:.4f}", "4140.1000", "4140.3000",
                "4140.2500", "4140.2000", "0.1500", "0.5000" if typ == "C" else "-0.5000", "0.0020", "-1.5000",
                "2.1000", "0.3000", "11", f"{mid - 0.5:.4f}", "13", f"{mid + 0.5:.4f}", "4145.5000", "4145.7000",
                f"{mid:.4f}", "250", ""]))
    return "\n".join(lines) + "\n"


def index_history_text() -> str:
    return ("DATE,OPEN,HIGH,LOW,CLOSE\n01/03/2023,23.09,23.76,22.73,22.90\n01/04/2023,22.90,23.12,21.84,22.01\n"
            "01/05/2023,22.27,22.84,21.96,22.46\n01/06/2023,22.55,22.87,20.90,21.13\n")


def cfe_text(disclaimer: bool = True) -> str:
    head = ("CFE data is compiled for the convenience of site visitors and is furnished without responsibility for "
            "accuracy.\n") if disclaimer else ""
    return head + (
        "Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\n"
        "12/01/2014,F (Jan 15),14.50,15.10,14.40,15.00,14.95,0.45,12000,10,45000\n"
        "12/02/2014,F (Jan 15),14.95,15.20,14.60,14.80,14.85,-0.10,11000,0,46000\n"
        "12/03/2014,F (Jan 15),14.85,14.90,14.20,14.30,14.35,-0.50,9000,5,47000\n")


def daily_text() -> str:
    return ("Date,Open,High,Low,Close,Adj Close,Volume\n"
            "2023-05-22,4190.78,4209.22,4179.68,4192.63,4192.63,3728520000\n"
            "2023-05-23,4176.80,4185.68,4142.54,4145.58,4145.58,4155320000\n"
            "2023-05-24,4132.96,4132.96,4103.98,4115.24,4115.24,3739160000\n")


def breadth_text() -> str:
    return ("date,nyse_advancers,nyse_decliners,nyse_ad,nasdaq_advancers,nasdaq_decliners\n"
            + "".join(f"2023-06-{d:02d},{800 + d},{750 - d},{50 + 2 * d}.0,900,1200\n" for d in [21, 22, 23, 26, 27, 28, 29, 30]))


def fomc_text() -> str:
    return "date,meeting_end,kind,notes\n2023-05-03,2023-05-03,scheduled,May 2-3\n2023-06-14,2023-06-14,scheduled,Jun 13-14\n"
