"""Typed, frozen configuration for the iron-condor strategy, its management, the ALVH hedge,
the fill model and the backtest.

Every rule parameter of :mod:`features.condor`, :mod:`features.condor_management`,
:mod:`features.vix_hedge`, :mod:`features.backtest` and :mod:`features.cndr` lives here, with
its default and unit, so that a run can record exactly what it used
(:meth:`StrategyConfig.to_dict`).  Units: prices in index points, widths in strike points,
deltas as absolute option deltas (0.16 = 16-delta), volatilities as decimals, rates as
annualized decimals (ACT/365 simple accrual), money in dollars (SPX and VIX options both
carry a $100 multiplier).

Every configuration is validated when it is built (``__post_init__``): each value must have
its field's type, each option one of its ``Literal`` choices and each number inside its
range (:data:`BOUNDS`), with an error naming the field, the value and what is allowed.
:meth:`StrategyConfig.from_dict` builds one from the nested (``{"condor": {...}}``) or flat
(``{"target_dte": 28}``) JSON form; :class:`pipelines.resources.StrategyResource` generates
its Dagster config fields from these dataclasses, so a field added here is settable in the
launchpad and by ``VOLSIGNALS_STRATEGY`` with no other change.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

StrikeMethod = Literal["delta", "expected_move"]
EntryFrequency = Literal["daily", "weekly", "monthly"]
BreachAction = Literal["close", "roll", "ignore"]
FillModel = Literal["mid", "natural", "spread_fraction", "fixed_ticks"]
HedgeInstrument = Literal["call", "call_spread"]


def _validated(cls: type) -> type:
    """Give a config dataclass the shared validation of :func:`validate_fields` (kept as a
    decorator so that adding a field never touches validation code)."""
    cls.__post_init__ = lambda self: validate_fields(self)  # type: ignore[attr-defined]  # defined below
    return cls


@dataclass(frozen=True)
@_validated
class CondorConfig:
    """Entry rules of the short iron condor (see :func:`features.condor.condor_decisions`).

    Attributes
    ----------
    roots : tuple of str
        Option roots eligible for entry ("SPX" AM-settled monthlies, "SPXW" PM-settled).
    target_dte, min_dte, max_dte : float
        Calendar days to expiry: the expiration nearest ``target_dte`` inside
        ``[min_dte, max_dte]`` is used.
    strike_method : {"delta", "expected_move"}
        "delta": short strikes whose Black-76 |delta| is nearest ``short_delta``;
        "expected_move": short strikes nearest ``F -/+ expected_move_multiple * F * iv_atm * sqrt(T)``.
    short_delta : float
        Target absolute delta of the short put and short call.
    expected_move_multiple : float
        Multiple of the one-sigma expected move (``F sigma_ATM sqrt T``) for the short strikes.
    wing_width : float
        Distance in strike points from each short strike to its long wing; the wing strike
        must be listed with a two-sided quote that day (no nearest-strike substitution).
    risk_fraction : float
        Fraction of ``equity`` put at max loss by one entry; contracts =
        ``floor(risk_fraction * equity / (max_loss_points * 100))``.
    equity : float
        Dollars used for sizing.  Sizing is on fixed (initial) equity, not compounding,
        so that a decision for date t never depends on the outcome of earlier trades.
    entry_frequency : {"daily", "weekly", "monthly"}
        At most one entry per calendar period: the first day of the ISO week / month on which
        every gate passes (later eligible days of the period are skipped with that reason).
    blocked_vol_regimes, blocked_term_regimes : tuple of str
        No entry when ``vol_regime`` / ``term_regime`` is one of these.
    block_event_windows : bool
        No entry while ``in_event_window`` (FOMC/CPI/PPI window) is true.
    min_vrp_vol : float
        Minimum ``vrp_vol`` (VIX minus 21-day realized vol, vol points) to enter.
    rsi_low, rsi_high : float
        RSI(14) band outside which the trend is judged too strong to sell both sides.
    use_macd_filter : bool
        If true, also require ``|macd_hist| <= max_abs_macd_hist``.
    max_abs_macd_hist : float
        MACD histogram bound in index points (only with ``use_macd_filter``).
    min_credit_to_width : float
        Minimum mid credit / widest wing; a credit must be positive in any case.
    """

    roots: tuple[str, ...] = ("SPX", "SPXW")
    target_dte: float = 45.0
    min_dte: float = 30.0
    max_dte: float = 60.0
    strike_method: StrikeMethod = "delta"
    short_delta: float = 0.16
    expected_move_multiple: float = 1.0
    wing_width: float = 50.0
    risk_fraction: float = 0.02
    equity: float = 1_000_000.0
    entry_frequency: EntryFrequency = "weekly"
    blocked_vol_regimes: tuple[str, ...] = ("stressed",)
    blocked_term_regimes: tuple[str, ...] = ("backwardation",)
    block_event_windows: bool = True
    min_vrp_vol: float = 0.0
    rsi_low: float = 30.0
    rsi_high: float = 70.0
    use_macd_filter: bool = False
    max_abs_macd_hist: float = 20.0
    min_credit_to_width: float = 0.0


@dataclass(frozen=True)
@_validated
class ManagementConfig:
    """Exit rules of open condors (see :func:`features.condor_management.manage_positions`).

    Attributes
    ----------
    profit_take : float | None
        Close when the mid cost to close is at most ``(1 - profit_take) * credit``
        (0.5 = take 50 % of the credit received).  None disables.
    stop_multiple : float | None
        Close when the unrealized loss at mid reaches ``stop_multiple * credit``, i.e. the
        mid cost to close is at least ``(1 + stop_multiple) * credit``.  None disables.
    time_exit_dte : float | None
        Close when calendar days to expiry are at most this.  None disables.
    breach_action : {"close", "roll", "ignore"}
        What to do when the index closes beyond a breakeven (below the put breakeven or
        above the call breakeven): "close" the whole condor (default); "roll" the tested
        vertical to a new one at the entry delta, same width and expiration (once per
        position; see :func:`features.condor_management.manage_positions`); or "ignore" (let
        the profit/stop/time rules and expiration decide).
    """

    profit_take: float | None = 0.5
    stop_multiple: float | None = 2.0
    time_exit_dte: float | None = 21.0
    breach_action: BreachAction = "close"


@dataclass(frozen=True)
@_validated
class FillConfig:
    """How an order fills against the day's end-of-day quote, plus commissions.

    Models (buy price; a sale mirrors it below the mid):

    * ``mid``: the mid quote;
    * ``natural``: cross the spread (buy at the ask, sell at the bid);
    * ``spread_fraction``: ``mid + spread_fraction * (ask - mid)`` (0 = mid, 1 = natural);
    * ``fixed_ticks``: ``mid + ticks * tick``, tick = 0.05 below 3.00 and 0.10 at or above
      (the SPX minimum increments), capped at the natural price.

    Attributes
    ----------
    model : str
        One of the four above.  Default ``spread_fraction`` with 0.5 (half-way to natural),
        a conservative middle ground for multi-leg SPX orders.
    spread_fraction, ticks : float
        Parameters of the two slippage models.
    commission_per_contract : float
        Dollars per option contract per leg per side (exchange + broker fees).
    settle_commission : bool
        Whether cash settlement at expiry costs a commission (default False: no trade).
    vix_half_spread : float
        Half bid-ask spread in VIX points assumed for the model-priced VIX options
        (no VIX option quotes are stored), paid on every hedge contract traded.
    """

    model: FillModel = "spread_fraction"
    spread_fraction: float = 0.5
    ticks: float = 1.0
    commission_per_contract: float = 1.0
    settle_commission: bool = False
    vix_half_spread: float = 0.05


@dataclass(frozen=True)
@_validated
class HedgeConfig:
    """Adaptive Layered VIX Hedge (see :mod:`features.vix_hedge` for the rules).

    Defaults of the layer sizes and triggers (``base_fraction``, ``engine_fraction``,
    ``vxth_weight_scale``, ``monetize_multiple``, ``resize_band``) are the configuration chosen
    by :func:`features.hedge_sweep.choose_default` on the real-path market of 2005-2014 (the
    smallest in-sample drawdown ratio among configurations costing at most 1.5 % of equity a
    year): a tenth of VXTH's weights, no base layer, no second engine.  No configuration of the
    sweep reduced the book's maximum drawdown in or out of sample (README, "the hedge frontier").

    Attributes
    ----------
    base_fraction : float
        Fraction of the condor book's stress-scenario loss covered by the base layer's VIX
        calls (0 turns the layer off).
    flattening_threshold : float
        VIX/VIX3M ratio at or above which a rising ratio switches the second engine on.
    engine_fraction : float
        Fraction of the reference stress loss covered by the second engine (0 = off).
    engine_regimes_vol, engine_regimes_term : tuple of str
        Regimes that also switch the second engine on (it should usually fire before them).
    reference_window : int
        Sessions over which the book's largest stress loss is remembered for the engine's size,
        so it can be sized after the condors have been stopped out.
    beta_window : int
        Trailing sessions of the regression of daily changes of the 30-day constant-maturity
        VX future (``vx_cm30``) on changes of VIX (VX points per VIX point); point in time.
    beta_floor, beta_cap : float
        Bounds on that slope.
    beta_prior : float
        Slope used before 20 daily changes are available.
    horizon_days : float
        The hedge buys the VX contract whose expiration is nearest ``t + horizon_days``
        (one month, as VXTH).
    min_days_to_expiry : float
        A held contract is rolled when fewer days than this are left; contracts closer than
        this are never bought.
    call_delta : float
        Black-76 delta (under the VIX smile) of the long VIX call (0.30, as VXTH).
    spread_short_delta : float
        Delta of the short call when the engine trades a call spread.
    engine_instrument : {"call", "call_spread"}
        Instrument of the second engine.
    default_vix_vol : float
        VVIX / 100 assumed when VVIX is missing (decimal).
    stress_spx_move, stress_vix_move : float
        The design scenario: SPX moves ``stress_spx_move`` (decimal) and VIX ``stress_vix_move``
        points at once; the book's loss in it sizes the base layer and the engine.
    stress_vvix_move : float
        VVIX points added in the scenario when valuing the calls' gain (0: conservative).
    resize_band : float
        The base layer is re-sized (same strike and expiry) only when the book's stress loss
        moves outside ``[1 - band, 1 + band]`` times the loss it was sized on.
    vxth_weight_scale : float
        Multiplier of Cboe VXTH's published weights for the ``vxth`` layer (0 = off, 1 = VXTH).
    vxth_low, vxth_mid, vxth_high : float
        VX future levels of VXTH's bands (no calls at or below ``low`` or above ``high``).
    vxth_weight_low, vxth_weight_high : float
        Portfolio weight (premium / equity) in the ``(low, mid]`` and ``(mid, high]`` bands.
    engine_lookback : int
        Sessions over which the engine measures the rise of VIX/VIX3M, VIX and VVIX.
    engine_vix_rise, engine_vvix_rise : float
        Minimum relative rises of VIX and of VVIX over the lookback for the "VVIX rising with
        VIX" trigger (decimals, both required).
    engine_on_events : bool
        Whether FOMC/CPI/PPI event windows switch the engine on.
    engine_off_days : int
        The engine's position is sold after its signal has been off this many sessions.
    engine_floor_equity_fraction : float
        Floor of the engine's reference stress loss as a fraction of equity, so it can buy
        protection with no condor open.
    monetize_multiple : float | None
        A position is sold when its mark reaches this multiple of the premium paid (None:
        never on this rule).
    monetize_vix : float
        ... or when VIX closes at or above this level with the position in profit.
    """

    base_fraction: float = 0.0
    flattening_threshold: float = 0.95
    engine_fraction: float = 0.0
    engine_regimes_vol: tuple[str, ...] = ("stressed",)
    engine_regimes_term: tuple[str, ...] = ("backwardation",)
    reference_window: int = 21
    beta_window: int = 63
    beta_floor: float = 0.1
    beta_cap: float = 1.5
    beta_prior: float = 0.6
    horizon_days: float = 30.0
    min_days_to_expiry: float = 7.0
    call_delta: float = 0.30
    spread_short_delta: float = 0.10
    engine_instrument: HedgeInstrument = "call"
    default_vix_vol: float = 0.9
    stress_spx_move: float = -0.10
    stress_vix_move: float = 15.0
    stress_vvix_move: float = 0.0
    resize_band: float = 0.25
    vxth_weight_scale: float = 0.1
    vxth_low: float = 15.0
    vxth_mid: float = 30.0
    vxth_high: float = 50.0
    vxth_weight_low: float = 0.01
    vxth_weight_high: float = 0.005
    engine_lookback: int = 5
    engine_vix_rise: float = 0.15
    engine_vvix_rise: float = 0.10
    engine_on_events: bool = False
    engine_off_days: int = 5
    engine_floor_equity_fraction: float = 0.02
    monetize_multiple: float | None = None
    monetize_vix: float = 40.0


@dataclass(frozen=True)
@_validated
class BacktestConfig:
    """Backtest accounting.

    Attributes
    ----------
    initial_equity : float
        Starting equity in dollars for every strategy.
    cash_rate : float
        Annual rate (decimal, ACT/365 simple daily accrual on the previous day's equity)
        earned on equity held as one-month T-bills by every strategy; CNDR's collateral.
    periods_per_year : int
        Trading days per year to annualize daily volatility and Sharpe/Sortino.
    var_level : float
        Confidence level of the historical daily VaR / CVaR.
    """

    initial_equity: float = 1_000_000.0
    cash_rate: float = 0.02
    periods_per_year: int = 252
    var_level: float = 0.95


@dataclass(frozen=True)
@_validated
class CndrConfig:
    """Cboe S&P 500 Iron Condor index (CNDR) rules as replicated in :mod:`features.cndr`.

    Attributes
    ----------
    short_delta, long_delta : float
        Absolute deltas of the short (≈0.20) and long (≈0.05) calls and puts.
    root : str
        Root of the monthly options (standard AM-settled "SPX").
    """

    short_delta: float = 0.20
    long_delta: float = 0.05
    root: str = "SPX"


@dataclass(frozen=True)
class StrategyConfig:
    """Everything a backtest run needs; ``to_dict`` records it with the run."""

    condor: CondorConfig = field(default_factory=CondorConfig)
    management: ManagementConfig = field(default_factory=ManagementConfig)
    hedge: HedgeConfig = field(default_factory=HedgeConfig)
    fill: FillConfig = field(default_factory=FillConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    cndr: CndrConfig = field(default_factory=CndrConfig)

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (tuples become lists) suitable for JSON run metadata."""

        def plain(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, (tuple, list)):
                return [plain(x) for x in v]
            return v

        return plain(asdict(self))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> StrategyConfig:
        """Build (and validate) a configuration from plain values; defaults for the rest.

        Accepted keys, mixable: a section with a dict (``{"condor": {"target_dte": 28}}``);
        ``<section>_<field>`` (``"hedge_base_fraction"``, ``"fill_model"``,
        ``"cndr_short_delta"``); a bare field name (``"target_dte"``), which means the first
        section in :data:`SECTIONS` order that has it (``short_delta`` is the condor's; the
        CNDR benchmark's needs ``cndr_short_delta``). An unknown key or a value of the wrong
        type or out of range raises ``ValueError`` naming it.
        """
        per: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
        for key, value in (values or {}).items():
            if key in SECTIONS and isinstance(value, Mapping):
                known = {f.name for f in dataclasses.fields(SECTIONS[key])}
                bad = sorted(set(value) - known)
                if bad:
                    raise ValueError(f"strategy config: unknown {key} field(s) {bad}; valid: {sorted(known)}")
                per[key].update(value)
                continue
            section, name = resolve_key(key)
            per[section][name] = value
        return cls(**{name: SECTIONS[name](**kw) for name, kw in per.items()})


#: The sections of :class:`StrategyConfig`, in the order bare field names are resolved.
SECTIONS: dict[str, type] = {
    "condor": CondorConfig,
    "management": ManagementConfig,
    "hedge": HedgeConfig,
    "fill": FillConfig,
    "backtest": BacktestConfig,
    "cndr": CndrConfig,
}


def resolve_key(key: str) -> tuple[str, str]:
    """``(section, field)`` of a flat key: ``<section>_<field>`` or a bare field name."""
    for section, dc in SECTIONS.items():
        prefix = f"{section}_"
        if key.startswith(prefix) and key[len(prefix):] in {f.name for f in dataclasses.fields(dc)}:
            return section, key[len(prefix):]
    for section, dc in SECTIONS.items():
        if key in {f.name for f in dataclasses.fields(dc)}:
            return section, key
    valid = sorted(f"{s}.{f.name}" for s, dc in SECTIONS.items() for f in dataclasses.fields(dc))
    raise ValueError(f"strategy config: unknown parameter {key!r}; valid parameters: {valid}")


#: Allowed range of numeric fields: ``(low, high, low_inclusive, high_inclusive)``, None = open.
Bound = tuple[float | None, float | None, bool, bool]
_POS: Bound = (0.0, None, False, True)
_NONNEG: Bound = (0.0, None, True, True)
_UNIT_OPEN: Bound = (0.0, 1.0, False, False)
_FRACTION: Bound = (0.0, 1.0, True, True)
BOUNDS: dict[str, dict[str, Bound]] = {
    "CondorConfig": {
        "target_dte": _NONNEG, "min_dte": _NONNEG, "max_dte": _NONNEG, "short_delta": _UNIT_OPEN,
        "expected_move_multiple": _POS, "wing_width": _POS, "risk_fraction": (0.0, 1.0, False, True),
        "equity": _POS, "rsi_low": (0.0, 100.0, True, True), "rsi_high": (0.0, 100.0, True, True),
        "max_abs_macd_hist": _NONNEG,
    },
    "ManagementConfig": {"profit_take": (0.0, 1.0, False, True), "stop_multiple": _POS, "time_exit_dte": _NONNEG},
    "FillConfig": {"spread_fraction": _FRACTION, "ticks": _NONNEG, "commission_per_contract": _NONNEG,
                   "vix_half_spread": _NONNEG},
    "HedgeConfig": {
        "base_fraction": _NONNEG, "flattening_threshold": _POS,
        "engine_fraction": _NONNEG, "reference_window": (1, None, True, True),
        "beta_window": (2, None, True, True), "horizon_days": _POS,
        "min_days_to_expiry": _NONNEG, "call_delta": _UNIT_OPEN, "spread_short_delta": _UNIT_OPEN,
        "default_vix_vol": _POS, "resize_band": _NONNEG, "vxth_weight_scale": _NONNEG,
        "engine_lookback": (1, None, True, True), "engine_floor_equity_fraction": _NONNEG,
    },
    "BacktestConfig": {"initial_equity": _POS, "cash_rate": (-0.1, 1.0, True, True),
                       "periods_per_year": (1, None, True, True), "var_level": _UNIT_OPEN},
    "CndrConfig": {"short_delta": _UNIT_OPEN, "long_delta": _UNIT_OPEN},
}
#: Orderings between fields of one section: ``(lower, higher)`` must satisfy lower <= higher.
ORDERS: dict[str, list[tuple[str, str]]] = {
    "CondorConfig": [("min_dte", "max_dte"), ("rsi_low", "rsi_high")],
    "HedgeConfig": [("beta_floor", "beta_cap")],
    "CndrConfig": [("long_delta", "short_delta")],
}


def field_choices(tp: Any) -> tuple[Any, ...] | None:
    """The allowed values of a ``Literal`` annotation (also inside ``X | None``), else None."""
    if typing.get_origin(tp) is Literal:
        return typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if typing.get_origin(arg) is Literal:
                return typing.get_args(arg)
    return None


def _check_value(owner: str, name: str, tp: Any, value: Any) -> Any:
    """``value`` coerced to the annotation ``tp`` (int -> float, list -> tuple) or ValueError."""
    where = f"strategy config: {owner}.{name} = {value!r}"
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        tp = next(a for a in args if a is not type(None))
        args = typing.get_args(tp)
    choices = field_choices(tp)
    if choices is not None:
        if value not in choices:
            raise ValueError(f"{where} is not one of {list(choices)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false")
        return value
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (tp is int and not float(value).is_integer()):
            raise ValueError(f"{where} must be a {'whole number' if tp is int else 'number'}")
        return tp(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string")
        return value
    if typing.get_origin(tp) is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where} must be a list of strings")
        return tuple(value)
    return value


def validate_fields(self: Any) -> None:
    """Coerce and check every field of a config dataclass (types, choices, :data:`BOUNDS`,
    :data:`ORDERS`); raise ``ValueError`` with the field, its value and what is allowed."""
    owner = type(self).__name__
    hints = typing.get_type_hints(type(self))
    for f in dataclasses.fields(self):
        value = _check_value(owner, f.name, hints[f.name], getattr(self, f.name))
        object.__setattr__(self, f.name, value)
        bound = BOUNDS.get(owner, {}).get(f.name)
        if bound is None or value is None:
            continue
        lo, hi, lo_in, hi_in = bound
        ok = (lo is None or (value >= lo if lo_in else value > lo)) and (hi is None or (value <= hi if hi_in else value < hi))
        if not ok:
            lo_s = "-inf" if lo is None else lo
            hi_s = "inf" if hi is None else hi
            raise ValueError(
                f"strategy config: {owner}.{f.name} = {value!r} is outside "
                f"{'[' if lo_in else '('}{lo_s}, {hi_s}{']' if hi_in else ')'}"
            )
    for low, high in ORDERS.get(owner, []):
        a, b = getattr(self, low), getattr(self, high)
        if a is not None and b is not None and a > b:
            raise ValueError(f"strategy config: {owner}.{low} = {a!r} must not exceed {owner}.{high} = {b!r}")
