"""Two-state Gaussian hidden Markov model: EM fit and *filtered* state probabilities.

Point-in-time design
--------------------
* Parameters are refit on a fixed schedule anchored at the first observation: the first
  fit at index ``min_train - 1``, then every ``refit_every`` observations. The fit at
  refit index ``r`` uses observations ``0..r`` only (EM, warm-started from the previous
  fit so labels stay stable), so truncating the history at the end never changes an
  earlier fit.
* For ``t`` in ``[r, next refit)``, the output is the **filtered** probability
  ``P(state_t | x_0..x_t)`` under the parameters fitted at ``r`` — the forward algorithm
  only, never the forward–backward smoother (smoothed probabilities at ``t`` use data
  after ``t``).
* Before the first refit the output is NaN.

Model: ``x_t | s_t = k ~ N(mu_k, var_k)``, ``P(s_t = j | s_{t-1} = i) = A[i, j]``, initial
distribution fixed at (1/2, 1/2). State 1 is always the higher-variance ("high vol")
state: labels are swapped after each fit when needed. Missing observations (NaN) carry no
likelihood (the forward step only applies the transition). Variances are floored at
``1e-4`` times the sample variance so a state cannot collapse onto one point.

The recursions are sequential in time, so they are compiled with numba.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


@numba.njit(cache=True)
def _emission(x: float, mu: np.ndarray, var: np.ndarray, out: np.ndarray) -> None:
    for k in range(2):
        if math.isnan(x):
            out[k] = 1.0
        else:
            out[k] = math.exp(-0.5 * (x - mu[k]) ** 2 / var[k]) / math.sqrt(2.0 * math.pi * var[k])


@numba.njit(cache=True)
def _forward(x: np.ndarray, n: int, A: np.ndarray, mu: np.ndarray, var: np.ndarray, alpha: np.ndarray) -> float:
    """Scaled forward pass over ``x[:n]``; fills normalized ``alpha``; returns log-likelihood."""
    b = np.empty(2)
    loglik = 0.0
    prev0, prev1 = 0.5, 0.5
    for t in range(n):
        if t == 0:
            p0, p1 = 0.5, 0.5
        else:
            p0 = prev0 * A[0, 0] + prev1 * A[1, 0]
            p1 = prev0 * A[0, 1] + prev1 * A[1, 1]
        _emission(x[t], mu, var, b)
        a0, a1 = p0 * b[0], p1 * b[1]
        c = a0 + a1
        if c <= 0.0 or math.isnan(c):
            # Numerical underflow on an extreme outlier: keep the prior, skip the evidence.
            a0, a1, c = p0, p1, 1.0
        else:
            loglik += math.log(c)
        prev0, prev1 = a0 / c, a1 / c
        alpha[t, 0] = prev0
        alpha[t, 1] = prev1
    return loglik


@numba.njit(cache=True)
def _em(
    x: np.ndarray, n: int, A: np.ndarray, mu: np.ndarray, var: np.ndarray, max_iter: int, tol: float, var_floor: float
) -> None:
    """Baum–Welch on ``x[:n]``, updating ``A, mu, var`` in place."""
    alpha = np.empty((n, 2))
    beta = np.empty((n, 2))
    b = np.empty(2)
    old = -np.inf
    for _ in range(max_iter):
        ll = _forward(x, n, A, mu, var, alpha)
        # Backward pass with the same per-step scaling as the forward pass.
        beta[n - 1, 0] = 1.0
        beta[n - 1, 1] = 1.0
        for t in range(n - 2, -1, -1):
            _emission(x[t + 1], mu, var, b)
            b0 = b[0] * beta[t + 1, 0]
            b1 = b[1] * beta[t + 1, 1]
            u0 = A[0, 0] * b0 + A[0, 1] * b1
            u1 = A[1, 0] * b0 + A[1, 1] * b1
            s = u0 + u1
            if s <= 0.0 or math.isnan(s):
                u0, u1, s = 1.0, 1.0, 2.0
            beta[t, 0] = u0 / s
            beta[t, 1] = u1 / s
        xi = np.zeros((2, 2))
        g_sum = np.zeros(2)
        g_x = np.zeros(2)
        g_n = np.zeros(2)
        for t in range(n):
            g0 = alpha[t, 0] * beta[t, 0]
            g1 = alpha[t, 1] * beta[t, 1]
            s = g0 + g1
            g0 /= s
            g1 /= s
            if t < n - 1:
                g_sum[0] += g0
                g_sum[1] += g1
                _emission(x[t + 1], mu, var, b)
                z = 0.0
                tmp = np.empty((2, 2))
                for i in range(2):
                    for j in range(2):
                        tmp[i, j] = alpha[t, i] * A[i, j] * b[j] * beta[t + 1, j]
                        z += tmp[i, j]
                if z > 0.0:
                    for i in range(2):
                        for j in range(2):
                            xi[i, j] += tmp[i, j] / z
            if not math.isnan(x[t]):
                g_x[0] += g0 * x[t]
                g_x[1] += g1 * x[t]
                g_n[0] += g0
                g_n[1] += g1
        for k in range(2):
            if g_n[k] > 1e-8:
                mu[k] = g_x[k] / g_n[k]
        for k in range(2):
            acc = 0.0
            for t in range(n):
                if not math.isnan(x[t]):
                    gk = alpha[t, k] * beta[t, k] / (alpha[t, 0] * beta[t, 0] + alpha[t, 1] * beta[t, 1])
                    acc += gk * (x[t] - mu[k]) ** 2
            if g_n[k] > 1e-8:
                var[k] = max(acc / g_n[k], var_floor)
        for i in range(2):
            row = xi[i, 0] + xi[i, 1]
            if row > 0.0:
                for j in range(2):
                    A[i, j] = min(max(xi[i, j] / row, 1e-6), 1.0 - 1e-6)
                s = A[i, 0] + A[i, 1]
                A[i, 0] /= s
                A[i, 1] /= s
        if abs(ll - old) < tol * (1.0 + abs(ll)):
            break
        old = ll


@numba.njit(cache=True)
def _filtered_schedule(
    x: np.ndarray, refit_every: int, min_train: int, max_iter: int, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    n = x.size
    p_high = np.full(n, np.nan)
    fit_index = np.full(n, -1, dtype=np.int64)
    if n < min_train:
        return p_high, fit_index
    # Deterministic initial guess from the first training window.
    m = 0.0
    cnt = 0
    for t in range(min_train):
        if not math.isnan(x[t]):
            m += x[t]
            cnt += 1
    if cnt < 2:
        return p_high, fit_index
    m /= cnt
    v = 0.0
    for t in range(min_train):
        if not math.isnan(x[t]):
            v += (x[t] - m) ** 2
    v /= cnt - 1
    var_floor = 1e-4 * v
    mu = np.array([m, m])
    var = np.array([0.5 * v, 2.0 * v])
    A = np.array([[0.98, 0.02], [0.05, 0.95]])
    alpha = np.empty((n, 2))
    r = min_train - 1
    while r < n:
        _em(x, r + 1, A, mu, var, max_iter, tol, var_floor)
        if var[0] > var[1]:  # keep state 1 = high variance
            mu[0], mu[1] = mu[1], mu[0]
            var[0], var[1] = var[1], var[0]
            a00, a01, a10, a11 = A[0, 0], A[0, 1], A[1, 0], A[1, 1]
            A[0, 0], A[0, 1], A[1, 0], A[1, 1] = a11, a10, a01, a00
        end = min(r + refit_every, n)
        _forward(x, end, A, mu, var, alpha)
        for t in range(r, end):
            p_high[t] = alpha[t, 1]
            fit_index[t] = r
        r += refit_every
    return p_high, fit_index


def hmm_filtered_probabilities(
    x: ArrayLike, refit_every: int = 63, min_train: int = 252, max_iter: int = 100, tol: float = 1e-8
) -> tuple[FloatArray, NDArray[np.int64]]:
    """Filtered probability of the high-variance state, refit on an anchored schedule.

    Parameters
    ----------
    x : array_like
        Observations ordered in time, e.g. daily log returns (decimal) or log VIX.
    refit_every : int
        Observations between refits (63 ≈ one quarter of sessions).
    min_train : int
        Observations in the first fit (first output at index ``min_train - 1``).
    max_iter, tol : int, float
        EM iteration cap and relative log-likelihood tolerance.

    Returns
    -------
    (p_high, fit_index) : tuple of arrays
        ``p_high[t] = P(high-vol state at t | x_0..x_t)`` (NaN before the first fit) and
        the index of the refit whose parameters produced it (-1 before the first fit).
    """
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    if refit_every < 1 or min_train < 2:
        raise ValueError("refit_every >= 1 and min_train >= 2 are required")
    return _filtered_schedule(arr, int(refit_every), int(min_train), int(max_iter), float(tol))


@dataclass(frozen=True)
class GaussianHmmParams:
    """Fitted two-state Gaussian HMM; state 1 is the high-variance state."""

    mu: FloatArray  # state means, units of x
    var: FloatArray  # state variances, units of x squared
    transition: FloatArray  # transition[i, j] = P(s_t = j | s_{t-1} = i)
    loglik: float


def fit_gaussian_hmm(x: ArrayLike, max_iter: int = 500, tol: float = 1e-10) -> GaussianHmmParams:
    """EM fit of the two-state model on all of ``x`` (same initial guess as the schedule)."""
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    ok = arr[~np.isnan(arr)]
    m, v = float(ok.mean()), float(ok.var(ddof=1))
    mu, var = np.array([m, m]), np.array([0.5 * v, 2.0 * v])
    A = np.array([[0.98, 0.02], [0.05, 0.95]])
    _em(arr, arr.size, A, mu, var, int(max_iter), float(tol), 1e-4 * v)
    if var[0] > var[1]:
        mu, var, A = mu[::-1].copy(), var[::-1].copy(), A[::-1, ::-1].copy()
    alpha = np.empty((arr.size, 2))
    ll = _forward(arr, arr.size, A, mu, var, alpha)
    return GaussianHmmParams(mu, var, A, float(ll))


def forward_filter(x: ArrayLike, params: GaussianHmmParams) -> FloatArray:
    """Filtered ``P(s_t = high | x_0..x_t)`` under fixed ``params`` (forward algorithm)."""
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    alpha = np.empty((arr.size, 2))
    _forward(arr, arr.size, np.ascontiguousarray(params.transition), params.mu, params.var, alpha)
    return alpha[:, 1].copy()
