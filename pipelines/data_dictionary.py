"""The data dictionary: every column of every warehouse table, with its meaning and units.

One definition, used three ways: the column schemas the Dagster UI shows on every asset
(:func:`pipelines.metadata.column_schema`), the column reference at the end of
``warehouse/README.md`` (generated: ``python -m pipelines.data_dictionary --write``; a test
fails when the README and this module disagree), and the tests that every stored column of
every asset is described here. Feature columns are documented where they are computed
(``features/point_in_time.MARKET_FEATURE_DOCS``, ``features/chain_features.CHAIN_FEATURE_DOCS``)
and taken from there.

Conventions: prices, strikes and index levels in index points; volatilities as annualized
decimals (0.20 = 20 %); time to expiry in years ACT/365; money in US dollars; dates are NYSE
sessions; timestamps are time-zone aware (America/New_York).
"""

from __future__ import annotations

import sys
from pathlib import Path

from features.chain_features import CHAIN_FEATURE_DOCS
from features.point_in_time import MARKET_FEATURE_DOCS

#: column -> (description, units)
Columns = dict[str, tuple[str, str]]

SOURCE = ("where the row came from: simulator:seed=<n>, realpath:<model> (the real-path chain) or file:<name>#sha256=<12 hex>", "label")
DATE = ("the NYSE session the row describes", "date")
CONTRACT: Columns = {
    "quote_date": ("the session the quotes belong to", "date"),
    "root": ("option root: SPX (AM-settled monthlies), SPXW (PM-settled), XSP, SPY", "label"),
    "expiration": ("last trading / settlement day", "date"),
    "settlement": ("AM (special opening quotation) or PM (16:00 ET close)", "label"),
    "strike": ("strike price", "index points"),
    "option_type": ("C (call) or P (put)", "label"),
}
SNAPSHOT: Columns = {
    "snapshot_time": ("when the quotes were taken", "timestamp (America/New_York)"),
    "snapshot_kind": ("eod (after the close), overnight (Global Trading Hours, belongs to the next session) or intraday", "label"),
}
GREEKS: Columns = {
    "delta": ("forward delta dV/dF", "per index point of the forward"),
    "gamma": ("d2V/dF2", "per index point squared"),
    "vega": ("dV/dvol", "index points per 1.00 of vol"),
    "theta": ("time decay, forward and rate held fixed", "index points per calendar day"),
}
LEGS = {"sp": "short put", "lp": "long put", "sc": "short call", "lc": "long call"}
LEG_FIELDS: Columns = {
    "strike": ("strike", "index points"),
    "bid": ("bid at the decision's close", "index points"),
    "ask": ("ask at the decision's close", "index points"),
    "mid": ("mid quote", "index points"),
    "iv": ("Black-76 implied vol from mid", "annualized decimal"),
    **GREEKS,
}
HEDGE_LAYERS = ("base", "vxth", "second_engine")
#: hedge_frontier: periods and crisis windows of features/hedge_sweep.py (PERIODS, CRISES)
PERIOD_NAMES = {"is": "in sample 2005-2014", "oos": "out of sample 2015-2025"}
CRISIS_WINDOWS = ("2008-09..2009-03", "2010-05", "2011-08", "2015-08", "2018-02", "2020-02..2020-04", "2022")
FRONTIER_METRICS = {
    "start": ("start", "first session of the period", "text"),
    "end": ("end", "last session of the period", "text"),
    "years": ("years", "length of the period", "years ACT/365"),
    "unhedged_max_drawdown": ("unhedged max drawdown", "worst drawdown of the unhedged book", "fraction (≤ 0)"),
    "max_drawdown": ("max drawdown", "worst drawdown of the hedged book", "fraction (≤ 0)"),
    "dd_ratio": ("drawdown ratio", "hedged / unhedged max drawdown", "ratio"),
    "dd_reduction": ("drawdown reduction", "1 − dd_ratio", "fraction"),
    "hedge_cost_pct_yr": ("net hedge cost", "−hedge P&L per year / initial equity", "fraction per year"),
    "premium_pct_yr": ("gross premium", "premium and costs paid per year / initial equity", "fraction per year"),
    "cvar_95": ("CVaR 95 %", "one-day expected shortfall of the hedged book", "fraction of equity"),
    "cagr": ("CAGR", "compound annual growth of the hedged book", "fraction per year"),
    "unhedged_cagr": ("unhedged CAGR", "compound annual growth of the unhedged book", "fraction per year"),
}
ATTRIBUTION: Columns = {
    "attr_delta": ("P&L explained by delta: previous delta × change of the underlying", "USD"),
    "attr_gamma": ("P&L explained by gamma: ½ × previous gamma × change of the underlying squared", "USD"),
    "attr_theta": ("P&L explained by time decay", "USD"),
    "attr_vega": ("P&L explained by the change of implied vol", "USD"),
    "attr_residual": ("P&L not explained by the other attribution terms", "USD"),
}


def _features(names: list[str]) -> Columns:
    docs = MARKET_FEATURE_DOCS | CHAIN_FEATURE_DOCS
    return {n: docs[n] for n in names}


MARKET_FEATURE_COLUMNS = [c for c in MARKET_FEATURE_DOCS if c not in {
    "vol_regime", "term_regime", "trend_regime", "regime", "regime_changed", "sma_trend",
    "vol_enter_normal", "vol_enter_elevated", "vol_enter_stressed", "vol_exit_normal",
    "vol_exit_elevated", "vol_exit_stressed", "term_enter_flat", "term_enter_backwardation",
    "term_exit_flat", "term_exit_backwardation", "trend_band", "trend_sma_window",
    "confirm_days", "hmm_p_high_vol", "hmm_state", "hmm_fit_date",
}]

DICTIONARY: dict[str, Columns] = {
    "spx_options": {
        **CONTRACT,
        **SNAPSHOT,
        "bid": ("best bid; 0 means no bid", "index points (×100 USD per contract)"),
        "ask": ("best ask", "index points (×100 USD per contract)"),
        "bid_size": ("contracts bid", "contracts"),
        "ask_size": ("contracts offered", "contracts"),
        "last": ("last sale, null when none", "index points"),
        "volume": ("contracts traded in the session", "contracts"),
        "open_interest": ("open contracts", "contracts"),
        "underlying_price": ("SPX level the vendor attached to the snapshot", "index points"),
        "vendor_iv": ("the vendor's implied vol, null when absent or 0", "annualized decimal"),
        "vendor_delta": ("the vendor's delta, when present", "per index point"),
        "vendor_gamma": ("the vendor's gamma, when present", "per index point squared"),
        "source": SOURCE,
    },
    "spx_daily": {
        "date": DATE,
        "open": ("S&P 500 open", "index points"),
        "high": ("session high", "index points"),
        "low": ("session low", "index points"),
        "close": ("S&P 500 close", "index points"),
        "volume": ("shares traded, null when unknown", "shares"),
        "source": SOURCE,
    },
    "vix_term_structure": {
        "date": DATE,
        "series": ("VIX9D, VIX, VIX3M, VIX6M, VVIX or SKEW", "label"),
        "value": ("the index close", "index points"),
        "source": SOURCE,
    },
    "vx_futures": {
        "date": DATE,
        "contract": ("VX YYYY-MM-DD (monthly) or VXW YYYY-MM-DD (weekly), named by expiration", "label"),
        "expiration": ("final settlement day (CFE rule: 30 days before the next month's third Friday)", "date"),
        "settle": ("daily settlement price (pre-2007-03-26 CFE prices divided by 10)", "index points"),
        "volume": ("contracts traded", "contracts"),
        "open_interest": ("open contracts", "contracts"),
        "source": SOURCE,
    },
    "breadth_daily": {
        "date": DATE,
        "advancing": ("NYSE issues that closed up", "issues"),
        "declining": ("NYSE issues that closed down", "issues"),
        "unchanged": ("NYSE issues that closed unchanged", "issues"),
        "source": SOURCE,
    },
    "events": {
        "date": ("the event day", "date"),
        "event": ("FOMC decision day, CPI or PPI release day", "label"),
        "source": ("historical (a published date shipped with the project) or rule:volsignals-v1 (features/events.py)", "label"),
    },
    "treasury_bill_rates": {
        "date": ("the observation date (bond-market calendar)", "date"),
        "series": ("DTB3: 3-month Treasury bill, secondary market (FRED / H.15)", "label"),
        "discount_rate": ("the rate as published, bank-discount basis", "annual decimal"),
        "bond_equivalent_yield": ("the same 91-day bill as a simple ACT/365 yield: 365 d / (360 - 91 d); the rate cash earns", "annual decimal"),
        "source": SOURCE,
    },
    "spx_settlement_values": {
        "soq_date": ("the session whose opening trades set the value", "date"),
        "expiry_month": ("the standard monthly expiration's month", "YYYY-MM"),
        "set_value": ("Cboe SET: the special opening quotation AM-settled SPX options settle on", "index points"),
        "date_source": ("cboe (Cboe's record gives the date) or derived (third Friday, Thursday before a holiday)", "label"),
        "origin": ("where the value was taken from (the derived file's own source column)", "label"),
        "note": ("the quirk that applies to the row, if any", "text"),
        "source": SOURCE,
    },
    "strategy_indices": {
        "date": DATE,
        "index_name": ("the Cboe strategy index, e.g. CNDR (S&P 500 Iron Condor)", "label"),
        "value": ("published index level", "index points"),
        "source": SOURCE,
    },
    "quarantine": {
        "table_name": ("the table the row was meant for", "label"),
        "quote_date": ("the session of the row, when known", "date"),
        "source": SOURCE,
        "line": ("1-based line in the vendor file, when known", "line number"),
        "reason": ("the broken rules' names, e.g. bid_gt_ask, duplicate_key", "label"),
        "raw": ("the row as it arrived", "JSON"),
    },
    "ingest_log": {
        "ingested_at": ("when the file was stored", "timestamp (America/New_York)"),
        "path": ("the file as given", "path"),
        "format": ("the format detected from the content", "label"),
        "first_date": ("first session in the file", "date"),
        "last_date": ("last session in the file", "date"),
        "snapshot_kind": SNAPSHOT["snapshot_kind"],
        "rows_stored": ("rows stored", "rows"),
        "rows_quarantined": ("rows sent to quarantine", "rows"),
        "reasons": ("quarantine reasons with their row counts", "JSON"),
        "flags": ("file-level warnings (e.g. stale snapshot)", "JSON"),
        "outcome": ("stored, nothing stored, rejected (unreadable), refused (by a rule) or not stored (flagged)", "label"),
    },
    "replaced_rows": {
        "table_name": ("the table the displaced row was in", "label"),
        "date": ("the session of the displaced row", "date"),
        "source": ("the file the displaced row came from", "label"),
        "replaced_by": ("the file that replaced it", "label"),
        "row": ("the displaced row, whole", "JSON"),
        "replaced_at": ("when it was replaced", "timestamp (America/New_York)"),
    },
    "option_features": {
        **CONTRACT,
        "bid": ("best bid", "index points"),
        "ask": ("best ask", "index points"),
        "mid": ("(bid + ask) / 2, null when there is no ask", "index points"),
        "underlying_price": ("SPX level of the snapshot", "index points"),
        **SNAPSHOT,
        "source": SOURCE,
        "settlement_time": ("exact settlement: 09:30 ET (AM) or 16:00 ET (PM) on expiration", "timestamp (America/New_York)"),
        "years_to_expiry": ("snapshot to settlement, wall-clock minutes / 525,600", "years ACT/365"),
        "days_to_expiry": ("calendar days from the session to expiration", "days"),
        "forward": ("parity-implied forward of the expiry (C − P = D (F − K))", "index points"),
        "discount_factor": ("parity-implied discount factor D of the expiry", "ratio"),
        "intrinsic": ("discount_factor × max(±(forward − strike), 0): exercise value against the discounted parity forward (null without one)", "index points"),
        "extrinsic": ("mid − intrinsic (time value; below 0 only by quote noise, within half the spread)", "index points"),
        "iv": ("Black-76 implied vol from mid; NaN where no vol fits the price", "annualized decimal"),
        "iv_bid": ("implied vol from the bid", "annualized decimal"),
        "iv_ask": ("implied vol from the ask", "annualized decimal"),
        **GREEKS,
        "log_moneyness": ("ln(K / F)", "log ratio"),
        "delta_moneyness": ("N(d1), the call-equivalent delta", "probability"),
    },
    "chain_features": {"quote_date": DATE, **CHAIN_FEATURE_DOCS},
    "market_features": _features(MARKET_FEATURE_COLUMNS),
    "regimes": _features([
        "date", "available_at", "vol_regime", "term_regime", "trend_regime", "regime", "regime_changed",
        "vix", "ts_vix_vix3m", "vix_pct_rank_252", "close", "sma_trend", "vol_enter_normal",
        "vol_enter_elevated", "vol_enter_stressed", "vol_exit_normal", "vol_exit_elevated",
        "vol_exit_stressed", "term_enter_flat", "term_enter_backwardation", "term_exit_flat",
        "term_exit_backwardation", "trend_band", "trend_sma_window", "confirm_days",
        "hmm_p_high_vol", "hmm_state", "hmm_fit_date",
    ]),
    "feature_registry": {
        "name": ("the feature (column) name", "label"),
        "table_name": ("the table holding it", "label"),
        "description": ("what it measures", "text"),
        "units": ("its units", "text"),
        "source_asset": ("the Dagster asset that computes it", "label"),
        "code_version": ("code version of that asset when the registry was built", "label"),
        "first_date": ("first session with a value", "date"),
        "last_date": ("last session with a value", "date"),
    },
    "condor_decisions": {
        "date": ("the session of the decision (16:15 ET, after the close)", "date"),
        "action": ("enter or skip", "label"),
        "reason": ("every gate with its values, in words", "text"),
        "feature_date": ("the session of the feature row known at the decision", "date"),
        **_features([
            "close", "rsi_14", "macd", "macd_signal", "macd_hist", "vix", "vix3m", "vvix", "vrp_vol",
            "ts_vix_vix3m", "vx_cm30", "in_event_window", "regime", "vol_regime", "term_regime", "regime_changed",
        ]),
        "root": CONTRACT["root"],
        "expiration": ("expiration of the chosen expiry", "date"),
        "dte": ("calendar days to expiration", "days"),
        "settlement": CONTRACT["settlement"],
        "years_to_expiry": ("decision to settlement", "years ACT/365"),
        "underlying_price": ("SPX level at the decision", "index points"),
        "forward": ("parity-implied forward of the expiry", "index points"),
        "discount_factor": ("parity-implied discount factor of the expiry", "ratio"),
        **{f"{leg}_{field}": (f"{name}: {desc}", unit) for leg, name in LEGS.items() for field, (desc, unit) in LEG_FIELDS.items()},
        "put_width": ("short put strike − long put strike", "index points"),
        "call_width": ("long call strike − short call strike", "index points"),
        "mid_credit": ("credit at mids", "index points per condor"),
        "natural_credit": ("credit selling at bids and buying at asks", "index points per condor"),
        "max_loss": ("widest wing − credit", "index points per condor"),
        "breakeven_put": ("short put strike − credit", "index points"),
        "breakeven_call": ("short call strike + credit", "index points"),
        "credit_to_width": ("credit / widest wing", "ratio"),
        "max_loss_dollars": ("max_loss × 100 × contracts", "USD"),
        "contracts": ("condors to open", "contracts"),
        "pop": ("risk-neutral probability of settling between the breakevens", "probability"),
        "expected_value": ("risk-neutral expected P&L at expiration", "index points per condor"),
    },
    "condor_positions": {
        "position_id": ("the position (one per entered condor)", "id"),
        "date": DATE,
        "entry_date": ("session the condor was opened", "date"),
        "expiration": ("expiration of its legs", "date"),
        "contracts": ("condors held", "contracts"),
        "underlying": ("SPX level of the session", "index points"),
        "value_mid": ("cost to close at mids", "index points per condor"),
        "mark": ("market value of the open position (0 once closed)", "USD"),
        "cash": ("cash flow of the session: credit on entry, cost on exit, commissions", "USD"),
        "pnl": ("change of mark plus cash", "USD"),
        "held": ("still open after the session", "boolean"),
        "net_delta": ("position delta", "USD per index point"),
        "net_gamma": ("position gamma", "USD per index point squared"),
        "net_vega": ("position vega", "USD per vol point"),
        "net_theta": ("position theta", "USD per calendar day"),
        **ATTRIBUTION,
    },
    "condor_trades": {
        "position_id": ("the position: entry session as yyyymmdd × 10, + 1 for the position a breach roll opens", "id"),
        "parent_id": ("the position this one rolled from; null for a fresh entry (always, unless breach_action is roll)", "id"),
        "units": ("CNDR benchmark: fractional condors held (equity / (100 × index) at the roll); null for the condor strategies", "condors"),
        "entry_date": ("session opened", "date"),
        "exit_date": ("session closed", "date"),
        "exit_reason": ("profit_take, stop, time, breach, expiration…", "label"),
        "root": CONTRACT["root"],
        "expiration": ("expiration of the legs", "date"),
        "settlement": CONTRACT["settlement"],
        "contracts": ("condors traded", "contracts"),
        **{f"{leg}_strike": (f"{name} strike", "index points") for leg, name in LEGS.items()},
        "credit_fill": ("credit received at entry", "index points per condor"),
        "exit_cost": ("cost paid to close (or settlement value)", "index points per condor"),
        "settlement_price": ("settlement value of SPX when held to expiration", "index points"),
        "breakeven_put": ("short put strike − credit", "index points"),
        "breakeven_call": ("short call strike + credit", "index points"),
        "cash_total": ("sum of the trade's cash flows", "USD"),
        "commissions": ("commissions and fees", "USD"),
        "pnl": ("profit or loss of the trade", "USD"),
        "holding_days": ("calendar days held", "days"),
        "strategy": ("the strategy the trade belongs to", "label"),
        "settlement_source": ("for a position cash-settled at expiration: SET (Cboe special opening quotation, stored), estimate:open (AM value estimated by the open) or close (PM); null otherwise", "label"),
    },
    "hedge_layers": {
        "date": DATE,
        "vvix": ("VVIX known at the session's close", "index points"),
        "stress_loss": ("the condor book's loss in the hedge's stress scenario (SPX stress_spx_move, VIX stress_vix_move)", "USD"),
        "layer": ("base, vxth or second_engine", "label"),
        "on": ("whether the layer holds a position after the close", "boolean"),
        "event": ("open, hold, resize, roll, monetize, close or none (+open when a roll re-buys)", "label"),
        "why": ("the rule behind the event, in words", "text"),
        "instrument": ("call or call_spread on VIX", "label"),
        "expiry": ("expiration of the VIX option held; null when off", "date"),
        "strike": ("long strike", "index points"),
        "short_strike": ("short strike of a call spread; null for a plain call or a layer that is off", "index points"),
        "forward": ("the VX future the option is marked on", "index points"),
        "years": ("time to the option's expiry", "years ACT/365"),
        "price": ("model price of one unit (Black-76 on the VX future, smile scaled by VVIX)", "index points"),
        "vol": ("model vol of the VIX option", "annualized decimal"),
        "delta": ("option delta to the VX future", "per index point"),
        "gamma": ("option gamma", "per index point squared"),
        "vega": ("option vega", "index points per 1.00 of vol"),
        "theta": ("option theta", "index points per calendar day"),
        "contracts": ("VIX options held", "contracts"),
        "traded": ("contracts bought or sold in the session", "contracts"),
        "entry_price": ("average price paid per unit of the position held", "index points"),
        "covered_loss": ("what the position pays in the stress scenario", "USD"),
        "pnl": ("the layer's P&L of the session, after costs", "USD"),
        "costs": ("half-spread and commissions paid in the session", "USD"),
        "stale_mark": ("the held contract had no VX settlement: marked on the last known future", "boolean"),
        **ATTRIBUTION,
        "state_blocked_expiry": ("VX expiry a monetized base/vxth layer stays out of; -1 none", "days since 1970-01-01"),
        "state_armed": ("whether the second engine may open on its signal's next onset", "boolean"),
        "state_off_count": ("sessions the second engine's signal has been off while held", "sessions"),
        "state_last_vxth_expiry": ("VX expiry at which the vxth layer last decided; -1 none", "days since 1970-01-01"),
    },
    "backtest_daily": {
        "strategy": ("unhedged condors, ALVH-hedged condors or the CNDR-rules benchmark", "label"),
        "date": DATE,
        "condor_pnl": ("condor P&L of the session", "USD"),
        "hedge_pnl": ("hedge P&L of the session (all layers)", "USD"),
        **{f"hedge_pnl_{layer}": (f"P&L of the {layer} hedge layer", "USD") for layer in HEDGE_LAYERS},
        "trading_pnl": ("condor_pnl + hedge_pnl", "USD"),
        "interest": ("interest earned on the equity", "USD"),
        "pnl": ("trading_pnl + interest", "USD"),
        "equity": ("account value at the close", "USD"),
        "drawdown": ("equity / running peak − 1", "fraction (≤ 0)"),
        **{k: v for k, v in ATTRIBUTION.items() if k != "attr_residual"},
        "attr_carry": ("P&L from interest", "USD"),
        "attr_residual": ATTRIBUTION["attr_residual"],
    },
    "hedge_frontier": {
        "config_id": ("position of the configuration in the sweep grid", "id"),
        "config": ("the HedgeConfig settings of the configuration", "JSON"),
        **{f"{period}_{key}": (f"{label} ({PERIOD_NAMES[period]}): {meaning}", unit)
           for period in PERIOD_NAMES for key, (label, meaning, unit) in FRONTIER_METRICS.items()},
        **{f"crisis_{name}_{book}": (f"P&L of the {book} book in the {name} crisis window / initial equity", "fraction")
           for name in CRISIS_WINDOWS for book in ("unhedged", "hedged")},
        "chosen": ("the configuration chosen on the in-sample period", "boolean"),
        "first_session": ("first session of the condor book swept", "date"),
        "last_session": ("last session of the condor book swept", "date"),
    },
    "backtest_summary": {
        "strategy": ("the strategy", "label"),
        "final_equity": ("equity on the last session", "USD"),
        "total_pnl": ("final equity − initial equity", "USD"),
        "cagr": ("compound annual growth rate", "fraction per year"),
        "annual_vol": ("volatility of daily returns, annualized", "annualized decimal"),
        "sharpe": ("annualized Sharpe ratio of daily returns", "ratio"),
        "sortino": ("annualized Sortino ratio", "ratio"),
        "max_drawdown": ("worst drawdown", "fraction (≤ 0)"),
        "calmar": ("cagr / |max_drawdown|", "ratio"),
        "var_95": ("one-day historical 95 % value at risk", "fraction of equity"),
        "cvar_95": ("one-day historical 95 % expected shortfall", "fraction of equity"),
        "condor_n_trades": ("closed condor trades", "trades"),
        "condor_win_rate": ("share of closed condor trades with positive P&L", "fraction"),
        "n_trades": ("closed trades: condors, plus hedge positions for the hedged strategy", "trades"),
        "win_rate": ("share of those trades with positive P&L", "fraction"),
        "avg_holding_days": ("mean calendar days held", "days"),
        "hedge_turnover": ("hedge contracts traded / contracts held per session (hedged strategy)", "ratio"),
        "hedge_contracts_traded_per_year": ("hedge contracts traded per year", "contracts per year"),
        "hedge_costs_per_year": ("hedge half-spread and commissions per year", "USD per year"),
        "hedge_pnl_per_year_pct": ("hedge P&L per year / initial equity", "fraction per year"),
        "hedge_hit_rate": ("share of closed hedge positions with positive P&L", "fraction"),
        "hedge_n_positions": ("hedge positions opened", "positions"),
        "stale_marks": ("hedge rows marked on a stale VX future", "rows (count, double)"),
        "start_date": ("first session of the backtest", "date"),
        "end_date": ("last session of the backtest", "date"),
        "parameters": ("the full strategy configuration used", "JSON"),
    },
}


# The AMM comparison (features/amm.py): a constant-product pool beside the condor book.
DICTIONARY["amm_comparison"] = {
    "date": DATE,
    "price": ("SPX close", "index points"),
    "price_ratio": ("S / S at the pool's deposit", "ratio"),
    "log_return": ("ln(S / previous S); 0 on the first session", "log return"),
    "days": ("calendar days since the previous session", "days"),
    "pool_x": ("SPX units in the pool, sqrt(k / S)", "USD per index point"),
    "pool_y": ("cash in the pool, sqrt(k S)", "USD"),
    "pool_value": ("pool value x S + y = 2 sqrt(k S)", "USD"),
    "hold_value": ("value of holding the initial deposit instead", "USD"),
    "impermanent_loss": ("pool value / hold value − 1 = 2 sqrt(r) / (1 + r) − 1", "fraction (≤ 0)"),
    "rebalancing_value": ("self-financing portfolio holding the pool's SPX units, rebalanced at each close", "USD"),
    "lvr": ("loss-versus-rebalancing of the session: (V₋₁ / 2)(sqrt(S / S₋₁) − 1)²", "USD"),
    "lvr_cum": ("rebalancing value − pool value", "USD"),
    "breakeven_fee": ("fee income that pays the session's LVR, from realized variance: V₋₁ ln²(S / S₋₁) / 8", "USD"),
    "arb_volume": ("cash the arbitrageurs traded with the pool in the session", "USD"),
    "pool_dollar_gamma": ("½ Γ S² of the pool = −V / 8", "USD per unit squared return"),
    "condor_pnl": ("condor book P&L of the session (unhedged strategy)", "USD"),
    "condor_delta_pnl": ("condor P&L explained by delta", "USD"),
    "condor_gamma_pnl": ("condor P&L explained by gamma: ½ Γ dS² of the legs held overnight", "USD"),
    "condor_theta_pnl": ("condor P&L explained by time decay", "USD"),
    "condor_vega_pnl": ("condor P&L explained by the legs' implied-vol changes", "USD"),
    "condor_residual": ("condor P&L not explained by the four greeks (higher order, fills, commissions, settlement)", "USD"),
    "hedge_pnl": ("ALVH P&L of the session (all layers)", "USD"),
    **{f"hedge_pnl_{layer}": (f"P&L of the {layer} hedge layer", "USD") for layer in HEDGE_LAYERS},
    "hedge_gamma_pnl": ("ALVH P&L explained by gamma on the VX future (alvh_hedged − unhedged attribution)", "USD"),
    "hedge_vega_pnl": ("ALVH P&L explained by vega (alvh_hedged − unhedged attribution)", "USD"),
    "condor_positions_open": ("condors held at the close", "positions"),
    "condor_dollar_gamma": ("½ × net gamma × S² of the book at the close", "USD per unit squared return"),
    "condor_theta": ("theta of the book at the close", "USD per calendar day"),
    "condor_vega": ("vega of the book at the close", "USD per vol point"),
    "condor_delta_dollars": ("net delta × S of the book at the close", "USD per unit return"),
    "condor_breakeven_vol": ("realized vol at which theta pays the gamma bleed: sqrt(365 θ / −½ΓS²); null unless short gamma", "annualized decimal"),
    "implied_vol": ("VIX / 100 at the close", "annualized decimal"),
    "condor_gamma_bleed_expected": ("−previous dollar gamma × ln²(S / S₋₁)", "USD"),
    "breakeven_fee_cum": ("cumulative breakeven_fee", "USD"),
    "condor_gamma_pnl_cum": ("cumulative condor_gamma_pnl", "USD"),
    "condor_theta_pnl_cum": ("cumulative condor_theta_pnl", "USD"),
    "condor_pnl_cum": ("cumulative condor_pnl", "USD"),
    "hedge_pnl_cum": ("cumulative hedge_pnl", "USD"),
}
DICTIONARY["amm_summary"] = {
    "metric": ("name of the measure (LVR vs σ²/8, theta vs gamma, breakeven vols, correlations, payoffs…)", "label"),
    "value": ("its value; null when undefined on the sample (e.g. no condor held)", "see units"),
    "units": ("units of value", "text"),
    "description": ("what the measure is and how it is computed", "text"),
    "start_date": ("first session compared", "date"),
    "end_date": ("last session compared", "date"),
}


def describe(table: str, column: str) -> str | None:
    """``"description [units]"`` of a column, or None when the dictionary lacks it."""
    entry = DICTIONARY.get(table, {}).get(column)
    return f"{entry[0]} [{entry[1]}]" if entry else None


def missing(table: str, columns: list[str]) -> list[str]:
    """The columns of ``table`` the dictionary does not describe."""
    return [c for c in columns if c not in DICTIONARY.get(table, {})]


BEGIN = "<!-- column reference: generated by `python -m pipelines.data_dictionary --write`; do not edit by hand -->"
END = "<!-- end of column reference -->"
README = Path(__file__).resolve().parents[1] / "warehouse" / "README.md"


def reference_markdown() -> str:
    """The column reference of ``warehouse/README.md``: one table per warehouse table."""
    parts = [BEGIN, "", "## Column reference", "",
             "Every column of every table with its meaning and units (`pipelines/data_dictionary.py`;",
             "the Dagster UI shows the same text in each asset's column schema).", ""]
    for table, columns in DICTIONARY.items():
        parts += [f"### `{table}`", "", "| column | meaning | units |", "|---|---|---|"]
        parts += [f"| {c} | {d.replace('|', '/')} | {u} |" for c, (d, u) in columns.items()]
        parts.append("")
    parts.append(END)
    return "\n".join(parts) + "\n"


def readme_with_reference(text: str) -> str:
    """``text`` (the README) with its column reference replaced by (or appended as) the current one."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        return head + reference_markdown() + tail
    return text.rstrip("\n") + "\n\n" + reference_markdown()


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        README.write_text(readme_with_reference(README.read_text()))
        print(f"column reference written to {README}")
    else:
        sys.stdout.write(reference_markdown())
