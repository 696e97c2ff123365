"""Black-76 pricing, Greeks and implied volatility for European options on a forward.

Conventions (used by every function in this module)
----------------------------------------------------
* ``forward`` ``F`` and ``strike`` ``K`` in index points; ``years`` ``T`` = time to
  expiry in years (ACT/365, minutes / 525,600 for the Cboe convention);
* ``vol`` ``sigma`` is the annualized volatility as a decimal (0.20 = 20 %);
* ``discount`` ``D`` is the discount factor to expiry, ``D = exp(-r T)``;
* prices are *discounted* premiums in index points:
  ``call = D [F N(d1) - K N(d2)]``, ``put = D [K N(-d2) - F N(-d1)]`` with
  ``d1,2 = ln(F/K)/(sigma sqrt T) +- sigma sqrt T / 2``;
* ``is_call`` is a boolean array (True = call, False = put).

All inputs broadcast against each other (NumPy rules) and the outputs have the broadcast
shape.  The work is done in numba kernels (``parallel=True``, ``fastmath=False``: IEEE
semantics are kept so NaN handling and the last bits of accuracy are preserved).

Implied volatility
------------------
The solver works on the *normalised out-of-the-money* price, following the set-up of
P. Jäckel, "Let's Be Rational" (Wilmott 2015): with ``x = ln(F/K)`` and
``s = sigma sqrt(T)``, the undiscounted price divided by ``sqrt(F K)`` is, for the option
that is out of the money (``x <= 0`` after the symmetry ``x -> -|x|``),

    b(x, s) = exp(x/2) N(x/s + s/2) - exp(-x/2) N(x/s - s/2).

An in-the-money quote is first turned into its out-of-the-money twin through put-call
parity (subtracting the intrinsic ``theta (F - K)``), which keeps full relative accuracy
for the part of the price that carries information about volatility.  ``b`` is convex in
``s`` below ``s_c = sqrt(2|x|)`` and concave above, so the solver picks the branch by
comparing the target with ``b(x, s_c)`` and starts from a closed-form guess for that
branch: below ``s_c`` the small-``s`` tail expansion
``b ~ phi(0) s^3/x^2 exp(-x^2/(2 s^2) - s^2/8)`` (solved by fixed point) or, nearer the
money, the Corrado-Miller quadratic; above ``s_c`` the inversion
``s = -2 N^{-1}((e^{x/2} - b)/(e^{x/2} + e^{-x/2}))`` of the large-``s`` tail (exact at
the money).  It then runs safeguarded Householder(3) (fourth-order) iterations on
``ln b`` (lower branch, where ``b`` spans many orders of magnitude) or on ``b`` (upper
branch), inside a bracket, bisecting whenever a step would leave it.  Typically two or
three price evaluations reach machine precision; Jäckel's rational-cubic initial guess is
not implemented, so a few percent of options need four or five.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numpy.typing import ArrayLike

__all__ = ["black76_price", "implied_vol", "black76_greeks"]

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_HALF_LN_2PI = 0.5 * math.log(2.0 * math.pi)
_DAYS_PER_YEAR = 365.0

_JIT = dict(cache=True, fastmath=False, nogil=True)


# --------------------------------------------------------------------------- scalar helpers
@nb.njit(**_JIT)
def _norm_cdf(z: float) -> float:
    # erfc keeps full relative accuracy in the lower tail, where deep OTM prices live.
    return 0.5 * math.erfc(-z * _SQRT1_2)


@nb.njit(**_JIT)
def _norm_inv(p: float) -> float:
    """Standard normal quantile, Wichura AS241 (PPND16) central and intermediate regions.

    Only used for the solver's starting point, so the far tail (p < 1.4e-11) uses the
    intermediate rational function extrapolated; the Halley iterations fix any error.
    """
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r
                   + 45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r
                + 133.14166789178437745) * r + 3.387132872796366608)
        den = (((((((5226.495278852854561 * r + 28729.085735721942674) * r + 39307.89580009271061) * r
                   + 21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r
                + 42.313330701600911252) * r + 1.0)
        return q * num / den
    r = p if q < 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r)) - 1.6
    num = (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177) * r
               + 1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055) * r
            + 4.6303378461565452959) * r + 1.42343711074968357734)
    den = (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r
               + 0.14810397642748007459) * r + 0.68976733498510000455) * r + 1.6763848301838038494) * r
            + 2.05319162663775882187) * r + 1.0)
    val = num / den
    return -val if q < 0.0 else val


@nb.njit(**_JIT)
def _b_otm(x: float, s: float, ex: float, emx: float) -> float:
    """Normalised OTM price b(x, s) for x <= 0; ex = exp(x/2), emx = exp(-x/2)."""
    h = x / s
    t = 0.5 * s
    return ex * _norm_cdf(h + t) - emx * _norm_cdf(h - t)


@nb.njit(**_JIT)
def _b_vega(x: float, s: float) -> float:
    """d b / d s = exp(x/2) phi(x/s + s/2) = phi(0) exp(-x^2/(2 s^2) - s^2/8)."""
    h = x / s
    return _INV_SQRT_2PI * math.exp(-0.5 * h * h - 0.125 * s * s)


@nb.njit(**_JIT)
def _solve_s(x: float, beta: float) -> float:
    """Total implied standard deviation s with b(x, s) = beta, for x <= 0, 0 < beta < exp(x/2)."""
    ex = math.exp(0.5 * x)
    emx = math.exp(-0.5 * x)
    sc = math.sqrt(-2.0 * x)
    lower = False
    if x < 0.0:
        # at s = s_c, d1 = 0 and d2 = -s_c, so b(x, s_c) needs a single erfc
        lower = beta < 0.5 * ex - emx * _norm_cdf(-sc)
    if lower:
        ax = -x
        lnb = math.log(beta)
        # (a) tail expansion b ~ phi(0) s^3/x^2 exp(-x^2/(2 s^2) - s^2/8), solved by fixed point
        s = ax / math.sqrt(-2.0 * lnb)
        for _ in range(3):
            arg = 3.0 * math.log(s) - 2.0 * math.log(ax) - _HALF_LN_2PI - 0.125 * s * s - lnb
            if arg <= 0.0:
                break
            s_new = ax / math.sqrt(2.0 * arg)
            if not (s_new > 0.0 and s_new < sc):
                break
            s = s_new
        if ax < 5.0 * s:
            # (b) the expansion is poor when |x|/s is small: Corrado-Miller quadratic guess
            # s ~ sqrt(2 pi)/(e^{x/2}+e^{-x/2}) [c + sqrt(c^2 - (e^{x/2}-e^{-x/2})^2/pi)],
            # c = beta - (e^{x/2}-e^{-x/2})/2
            m = ex - emx
            cc = beta - 0.5 * m
            disc = cc * cc - m * m / math.pi
            # (a negative discriminant, deeper out of the money, is clipped to zero)
            s_cm = math.sqrt(2.0 * math.pi) / (ex + emx) * (cc + math.sqrt(max(disc, 0.0)))
            if s_cm > 0.0 and s_cm < sc:
                s = s_cm
        lo = 0.0
        hi = sc
        if not (s > lo and s < hi):
            s = 0.5 * sc
    else:
        # large-s tail: exp(x/2) - b ~ (exp(x/2) + exp(-x/2)) N(-s/2); exact at x = 0
        p = (ex - beta) / (ex + emx)
        s = -2.0 * _norm_inv(p)
        lo = sc
        hi = math.inf
        if not (s > lo):
            s = 2.0 * sc + 1e-3
    for _ in range(50):
        b = _b_otm(x, s, ex, emx)
        if lower and b <= 0.0:
            # underflow: the guess is far too small, move towards the bracket's top
            lo = s
            s = 0.5 * (lo + hi)
            continue
        vega = _b_vega(x, s)
        if b > beta:
            hi = s
        else:
            lo = s
        # derivative ratios of b: h2 = b''/b', h3 = b'''/b'
        h2 = x * x / (s * s * s) - 0.25 * s
        h3 = h2 * h2 - 3.0 * x * x / (s * s * s * s) - 0.25
        if lower:
            # objective g = ln b - ln beta (b spans many decades here)
            q = vega / b
            f = math.log(b) - math.log(beta)
            fp = q
            r2 = h2 - q  # g''/g'
            r3 = h3 - 3.0 * h2 * q + 2.0 * q * q  # g'''/g'
        else:
            f = b - beta
            fp = vega
            r2 = h2
            r3 = h3
        if f == 0.0:
            return s
        if not (fp > 0.0):
            step = math.nan
        else:
            # Householder(3): nu (1 + nu r2/2) / (1 + nu r2 + nu^2 r3/6), nu = -f/f' (4th order)
            nu = -f / fp
            step = nu * (1.0 + 0.5 * nu * r2) / (1.0 + nu * (r2 + nu * r3 / 6.0))
        if abs(step) <= 1e-5 * s:
            # quartic convergence: a relative step this small leaves an error far below
            # rounding, so the updated value is final without another evaluation.
            return s + step
        s_new = s + step
        if not (s_new >= lo and s_new <= hi):
            s_new = 0.5 * (lo + hi) if hi < math.inf else 2.0 * s
        if hi - lo <= 4e-16 * s:
            return s
        s = s_new
    return s


@nb.njit(**_JIT)
def _iv_one(price: float, f: float, k: float, t: float, d: float, is_call: bool) -> float:
    if not (price >= 0.0 and f > 0.0 and k > 0.0 and t > 0.0 and d > 0.0):
        return math.nan  # also catches NaN inputs
    if not (math.isfinite(price) and math.isfinite(f) and math.isfinite(k) and math.isfinite(t)
            and math.isfinite(d)):
        return math.nan
    theta = 1.0 if is_call else -1.0
    c = price / d
    if c >= (f if is_call else k):
        return math.nan  # at or above the no-arbitrage upper bound (checked before rounding)
    x = math.log(f / k)
    otm = c
    if theta * x > 0.0:
        # parity: OTM twin = price - intrinsic (same normalised value by symmetry)
        otm = c - theta * (f - k)
    beta = otm / math.sqrt(f * k)
    xt = -abs(x)
    if not (beta > 0.0 and beta < math.exp(0.5 * xt)):
        return math.nan
    return _solve_s(xt, beta) / math.sqrt(t)


@nb.njit(**_JIT)
def _price_one(f: float, k: float, t: float, v: float, d: float, is_call: bool) -> float:
    theta = 1.0 if is_call else -1.0
    intrinsic = max(theta * (f - k), 0.0)
    s = v * math.sqrt(t) if t > 0.0 else 0.0
    if not (s > 0.0):
        if s == 0.0 or t <= 0.0:
            return d * intrinsic
        return math.nan
    x = math.log(f / k)
    xt = -abs(x)
    otm = math.sqrt(f * k) * _b_otm(xt, s, math.exp(0.5 * xt), math.exp(-0.5 * xt))
    return d * (intrinsic + otm)


# --------------------------------------------------------------------------- array kernels
@nb.njit(parallel=True, **_JIT)
def _iv_kernel(price, f, k, t, d, is_call, out):
    for i in nb.prange(out.shape[0]):
        out[i] = _iv_one(price[i], f[i], k[i], t[i], d[i], is_call[i])


@nb.njit(parallel=True, **_JIT)
def _price_kernel(f, k, t, v, d, is_call, out):
    for i in nb.prange(out.shape[0]):
        out[i] = _price_one(f[i], k[i], t[i], v[i], d[i], is_call[i])


@nb.njit(parallel=True, **_JIT)
def _greeks_kernel(f, k, t, v, d, is_call, delta, gamma, vega, theta, price):
    for i in nb.prange(f.shape[0]):
        fi = f[i]
        ki = k[i]
        ti = t[i]
        vi = v[i]
        di = d[i]
        sq = math.sqrt(ti) if ti > 0.0 else math.nan
        s = vi * sq
        if not (s > 0.0 and fi > 0.0 and ki > 0.0 and di > 0.0):
            delta[i] = math.nan
            gamma[i] = math.nan
            vega[i] = math.nan
            theta[i] = math.nan
            price[i] = math.nan
            continue
        d1 = math.log(fi / ki) / s + 0.5 * s
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1)
        p = _price_one(fi, ki, ti, vi, di, is_call[i])
        if is_call[i]:
            delta[i] = di * _norm_cdf(d1)
        else:
            delta[i] = -di * _norm_cdf(-d1)
        gamma[i] = di * pdf / (fi * s)
        vega[i] = di * fi * pdf * sq
        r = -math.log(di) / ti
        # dV/dT at fixed F and r: V = e^{-rT} B(T) -> -r V + D F phi(d1) sigma / (2 sqrt T)
        theta[i] = (r * p - di * fi * pdf * vi / (2.0 * sq)) / _DAYS_PER_YEAR
        price[i] = p


def _prepare(*arrays: ArrayLike) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Broadcast inputs and return the shape plus contiguous 1-D float64 views (last = bool)."""
    b = np.broadcast_arrays(*[np.asarray(a) for a in arrays])
    shape = b[0].shape
    flat = [np.ascontiguousarray(a, dtype=np.float64).ravel() for a in b[:-1]]
    flat.append(np.ascontiguousarray(b[-1], dtype=np.bool_).ravel())
    return shape, flat


# --------------------------------------------------------------------------- public API
def black76_price(
    forward: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    discount: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray:
    """Black-76 discounted option premium in index points.

    Parameters
    ----------
    forward, strike : array-like
        Forward ``F`` and strike ``K`` (index points, > 0).
    years : array-like
        Time to expiry ``T`` in years.  ``T <= 0`` or ``vol == 0`` gives the discounted
        intrinsic value ``D max(theta (F - K), 0)``.
    vol : array-like
        Annualized volatility (decimal).
    discount : array-like
        Discount factor ``D = exp(-r T)``.
    is_call : array-like of bool
        True for calls, False for puts.

    Returns
    -------
    numpy.ndarray
        ``D [theta F N(theta d1) - theta K N(theta d2)]``, computed as discounted intrinsic
        plus ``sqrt(F K) b(-|ln F/K|, sigma sqrt T)`` (the OTM time value), which keeps full
        relative precision for deep out-of-the-money options.
    """
    shape, (f, k, t, v, d, c) = _prepare(forward, strike, years, vol, discount, is_call)
    out = np.empty(f.shape[0], dtype=np.float64)
    _price_kernel(f, k, t, v, d, c, out)
    return out.reshape(shape)


def implied_vol(
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    discount: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray:
    """Black-76 implied volatility (annualized decimal) of a discounted option premium.

    Parameters
    ----------
    price : array-like
        Discounted option premium in index points (e.g. a mid quote).  It is divided by
        ``discount`` internally.
    forward, strike, years, discount, is_call : array-like
        As in :func:`black76_price`.

    Returns
    -------
    numpy.ndarray
        The volatility ``sigma`` with ``black76_price(F, K, T, sigma, D, is_call) == price``.
        NaN (never 0) where no volatility fits: a price at or below the discounted intrinsic
        value, at or above the upper bound (``D F`` for a call, ``D K`` for a put),
        ``T <= 0``, a non-positive forward/strike/discount, or any non-finite input.

    Notes
    -----
    Accuracy: the solution is exact to a few ulps of ``sigma sqrt T`` whenever the price
    carries information about volatility (non-negligible vega relative to the rounding
    of the price); deep in-the-money quotes whose time value is lost to rounding are
    inherently ill-conditioned.
    """
    shape, (p, f, k, t, d, c) = _prepare(price, forward, strike, years, discount, is_call)
    out = np.empty(p.shape[0], dtype=np.float64)
    _iv_kernel(p, f, k, t, d, c, out)
    return out.reshape(shape)


def black76_greeks(
    forward: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    discount: ArrayLike,
    is_call: ArrayLike,
) -> dict[str, np.ndarray]:
    """Black-76 price and Greeks.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``price``
            Discounted premium (index points), as :func:`black76_price`.
        ``delta``
            Forward delta ``dV/dF``: ``D N(d1)`` for a call, ``-D N(-d1)`` for a put
            (per one index point of the forward).  For SPX the forward moves one-for-one
            with spot up to the factor ``F/S``, which is within ~0.5 % of 1 for a year.
        ``gamma``
            ``d2V/dF2 = D phi(d1) / (F sigma sqrt T)`` per one index point of the forward.
        ``vega``
            ``dV/dsigma = D F phi(d1) sqrt T`` per 1.00 (100 vol points) of volatility;
            divide by 100 for "per vol point".
        ``theta``
            ``-dV/dT / 365`` in index points per calendar day, holding ``F`` and the rate
            ``r = -ln(D)/T`` fixed: ``(r V - D F phi(d1) sigma / (2 sqrt T)) / 365``.
        Entries are NaN where ``T <= 0`` or ``vol <= 0``.
    """
    shape, (f, k, t, v, d, c) = _prepare(forward, strike, years, vol, discount, is_call)
    n = f.shape[0]
    out = {name: np.empty(n, dtype=np.float64) for name in ("delta", "gamma", "vega", "theta", "price")}
    _greeks_kernel(f, k, t, v, d, c, out["delta"], out["gamma"], out["vega"], out["theta"], out["price"])
    return {name: a.reshape(shape) for name, a in out.items()}
