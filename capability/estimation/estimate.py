"""Per-problem estimates from pass counts: pass@k, pass rates with intervals, ``-log pass_rate``.

Pure numpy/scipy: arrays in, arrays or frozen dataclasses out, no I/O.

Notation: for one (model, problem), ``n`` samples were drawn and ``c`` of them passed; ``p`` is
the unknown probability that one sample passes, so ``c ~ Binomial(n, p)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special, stats

from capability.checks import level_iv
from capability.estimation.interval import ConfidenceInterval
from capability.options import NEG_LOG_ESTIMATORS

__all__ = [
    "pass_at_k",
    "PassRateResult",
    "pass_rate",
    "NegLogPassRate",
    "neg_log_pass_rate",
    "NEG_LOG_ESTIMATORS",
    "inverse_sampling_counts",
]



def _counts_iv(n, c) -> tuple[np.ndarray, np.ndarray]:
    """Validate and broadcast counts: whole numbers with ``n >= 1`` and ``0 <= c <= n``."""
    n_arr = np.asarray(n)
    c_arr = np.asarray(c)
    for name, arr in (("n", n_arr), ("c", c_arr)):
        if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and
                                           not np.all(np.isfinite(arr) & (arr == np.round(arr)))):
            raise ValueError(f"`{name}` must hold whole numbers. Got {arr!r} instead.")
    n_arr, c_arr = np.broadcast_arrays(n_arr.astype(np.int64), c_arr.astype(np.int64))
    if np.any(n_arr < 1):
        raise ValueError(f"`n` must be >= 1 (samples drawn). Got min {n_arr.min()} instead.")
    if np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError("`c` must satisfy 0 <= c <= n (samples that passed). Got "
                         f"c in [{c_arr.min()}, {c_arr.max()}] with n down to {n_arr.min()}.")
    return n_arr, c_arr


_PRODUCT_TERMS = 1024  # terms up to which a ratio of binomial coefficients is multiplied out


def _log_binomial_ratio(n: np.ndarray, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``log(C(n - s, t) / C(n, t)) = sum_{i<t} log1p(-s / (n - i))`` elementwise (floats,
    ``s + t <= n``; symmetric in ``s`` and ``t``), summed term by term where ``t <= 1024``,
    else from ``gammaln`` (its error there about ``1e-16 * n log n``, absolute)."""
    out = np.zeros(n.shape)
    long = t > _PRODUCT_TERMS
    idx = np.flatnonzero(~long & (t > 0))
    i = 0
    while idx.size:
        out[idx] += np.log1p(-s[idx] / (n[idx] - i))
        i += 1
        idx = idx[t[idx] > i]
    if np.any(long):
        nl, sl, tl = n[long], s[long], t[long]
        out[long] = (special.gammaln(nl - sl + 1) - special.gammaln(nl - sl - tl + 1)
                     - special.gammaln(nl + 1) + special.gammaln(nl - tl + 1))
    return out


def pass_at_k(n, c, k) -> np.ndarray:
    """Unbiased estimator of pass@k (Chen et al. 2021), vectorised over arrays.

    .. math:: \\widehat{\\text{pass@}k} = 1 - \\binom{n-c}{k} \\Big/ \\binom{n}{k}
              = 1 - \\prod_{i=n-c+1}^{n} \\left(1 - \\frac{k}{i}\\right)

    computed as ``-expm1(sum_{i<t} log1p(-s / (n - i)))`` with ``t = min(c, k)`` and ``s
    = max(c, k)`` (the same ratio, ``C(n-c, k) / C(n, k) = C(n-k, c) / C(n, c)``, over the
    shorter product; ``gammaln`` past 1024 terms): stable where the binomial coefficients
    overflow, and as fast at ``n = 10^6`` as at ``n = 10``.

    Parameters
    ----------
    n, c, k
        Array-likes that broadcast together: samples drawn (``n >= 1``), samples that
        passed (``0 <= c <= n``), and the number of attempts ``k >= 1``.

    Returns
    -------
    numpy.ndarray
        Float array of the broadcast shape. Exactly ``1.0`` where ``n - c < k`` (every
        ``k``-subset of the samples holds a pass). ``NaN`` where ``k > n``: no unbiased
        estimator of pass@k exists from fewer than ``k`` samples.

    References
    ----------
    .. [1] M. Chen et al., "Evaluating Large Language Models Trained on Code", 2021.
    """
    n_arr, c_arr = _counts_iv(n, c)
    k_arr = np.asarray(k)
    if k_arr.dtype.kind not in "iu" or np.any(k_arr < 1):
        raise ValueError(f"`k` must hold whole numbers >= 1. Got {k!r} instead.")
    n_b, c_b, k_b = np.broadcast_arrays(n_arr, c_arr, k_arr.astype(np.int64))
    out = np.full(n_b.shape, np.nan)
    sure = (k_b <= n_b) & (n_b - c_b < k_b)
    out[sure] = 1.0
    rest = (k_b <= n_b) & ~sure
    c_r, k_r = c_b[rest], k_b[rest]
    # C(n-c, k) / C(n, k) = C(n-k, c) / C(n, c): the product over min(c, k) terms.
    out[rest] = -np.expm1(_log_binomial_ratio(n_b[rest].astype(float),
                                              np.maximum(c_r, k_r).astype(float),
                                              np.minimum(c_r, k_r)))
    return out


@dataclass(frozen=True)
class PassRateResult:
    """Per-problem pass-rate estimates ``c / n``; intervals come from :meth:`interval`.

    Attributes
    ----------
    n, c
        The counts (broadcast, int64).
    estimate
        ``c / n``, the unbiased estimate of ``p`` (equal to pass@1).
    """

    n: np.ndarray
    c: np.ndarray
    estimate: np.ndarray

    def interval(self, confidence_level: float = 0.9,
                 method: Literal["jeffreys", "exact"] = "jeffreys") -> ConfidenceInterval:
        """Two-sided interval for ``p``, elementwise (``low`` and ``high`` are arrays).

        ``"jeffreys"``: equal-tailed quantiles of the Jeffreys posterior
        ``Beta(c + 1/2, n - c + 1/2)``, with the bound set to 0 when ``c = 0`` and to 1 when
        ``c = n`` (Brown, Cai & DasGupta 2001). Its coverage is close to nominal on average.
        ``"exact"``: Clopper-Pearson, conservative (coverage at least nominal).
        """
        tail = (1 - level_iv(confidence_level)) / 2
        n, c = self.n, self.c
        if method == "jeffreys":
            low = stats.beta.ppf(tail, c + 0.5, n - c + 0.5)
            high = stats.beta.ppf(1 - tail, c + 0.5, n - c + 0.5)
        elif method == "exact":
            with np.errstate(invalid="ignore"):
                low = stats.beta.ppf(tail, c, n - c + 1)
                high = stats.beta.ppf(1 - tail, c + 1, n - c)
        else:
            raise ValueError(f"`method` must be 'jeffreys' or 'exact'. Got {method!r} instead.")
        low = np.where(c == 0, 0.0, low)
        high = np.where(c == n, 1.0, high)
        return ConfidenceInterval(low=low, high=high)


def pass_rate(n, c) -> PassRateResult:
    """Per-problem pass rates: the estimate ``c / n`` and, via ``.interval()``, intervals."""
    n_arr, c_arr = _counts_iv(n, c)
    return PassRateResult(n=n_arr, c=c_arr, estimate=c_arr / n_arr)


@dataclass(frozen=True)
class NegLogPassRate:
    """Per-problem estimates of ``-log p`` and their approximate sampling variances.

    Attributes
    ----------
    estimate
        The estimates (nats), elementwise; ``inf`` only for the plug-in estimator at ``c = 0``.
    variance
        Delta-method sampling variance ``(1 - p~) / (n p~)`` with ``p~ = (c + 1/2)/(n + 1)``;
        used as weights, not as an interval.
    estimator
        Which estimator made ``estimate`` (see :func:`neg_log_pass_rate`).
    """

    estimate: np.ndarray
    variance: np.ndarray
    estimator: str


_SHORT_TAIL = 64  # n - c up to which H_n - H_c is summed term by term


def harmonic_difference(n, c) -> np.ndarray:
    """``H_n - H_c = sum_{i=c+1}^{n} 1/i`` elementwise, for whole ``0 <= c <= n``.

    Summed term by term where ``n - c <= 64`` (exact to rounding, where the digamma
    difference would cancel: ``n = 10^6, c = n - 1``), else ``digamma(n + 1) - digamma(c +
    1)``: O(1) per element, whatever ``n``.
    """
    n = np.asarray(n, dtype=float)
    c = np.asarray(c, dtype=float)
    n, c = np.broadcast_arrays(n, c)
    out = np.asarray(special.digamma(n + 1.0) - special.digamma(c + 1.0), dtype=float)
    short = (n - c) <= _SHORT_TAIL
    if np.any(short):
        ns, cs = n[short], c[short]
        total = np.zeros(ns.shape)
        for j in range(1, _SHORT_TAIL + 1):
            total += np.where(cs + j <= ns, 1.0 / (cs + j), 0.0)
        out[short] = total
    return out


def neg_log_pass_rate(n, c, *, estimator: str = "series") -> NegLogPassRate:
    """Estimate ``-log p`` per problem from ``c`` passes in ``n`` samples.

    The plug-in ``-log(c/n)`` is biased upwards by about ``(1 - p)/(2 n p)`` (Jensen; the
    bias is large exactly where pass rates are small, i.e. for the hard problems and small
    models that drive an extrapolation) and infinite at ``c = 0``. Estimators:

    ``"series"`` (default)
        Expands ``-log p = sum_{j>=1} (1 - p)^j / j`` and replaces each ``(1-p)^j`` by its
        unbiased estimate ``C(n-c, j) / C(n, j)`` (the chance that ``j`` samples drawn
        without replacement all fail, i.e. ``1 - pass@j``):

        .. math:: \\hat L = \\sum_{j=1}^{n-c} \\frac{1}{j}
                  \\binom{n-c}{j} \\Big/ \\binom{n}{j}.

        The sum equals ``H_n - H_c = digamma(n + 1) - digamma(c + 1)`` (the
        harmonic numbers; :func:`harmonic_difference`), so it costs O(1) at any ``n``.
        It is exactly unbiased for the series truncated at ``j = n``; the only bias is the
        tail ``-sum_{j>n} (1-p)^j / j``, below ``(1-p)^{n+1} / ((n+1) p)`` -- negligible
        once ``n p`` is a few, and it keeps the estimate finite (``H_n``, the n-th harmonic
        number) at ``c = 0``: no estimate can exceed what ``n`` samples can show.
    ``"jeffreys"``
        Posterior mean of ``-log p`` under the Jeffreys prior:
        ``digamma(n + 1) - digamma(c + 1/2)``. Finite at ``c = 0``; shrinks towards 1/2.
    ``"plugin"``
        ``-log(c / n)``: what the GPT-4 report's method implies. ``inf`` at ``c = 0``.

    Returns
    -------
    NegLogPassRate
    """
    if estimator not in NEG_LOG_ESTIMATORS:
        raise ValueError(f"`estimator` must be one of {', '.join(NEG_LOG_ESTIMATORS)}. "
                         f"Got {estimator!r} instead.")
    n_arr, c_arr = _counts_iv(n, c)
    if estimator == "series":
        est = harmonic_difference(n_arr, c_arr)
    elif estimator == "jeffreys":
        est = special.digamma(n_arr + 1.0) - special.digamma(c_arr + 0.5)
    else:
        with np.errstate(divide="ignore"):
            est = -np.log(c_arr / n_arr)
    p_smooth = (c_arr + 0.5) / (n_arr + 1.0)
    variance = (1.0 - p_smooth) / (n_arr * p_smooth)
    return NegLogPassRate(estimate=np.asarray(est, dtype=float), variance=variance,
                          estimator=estimator)


def inverse_sampling_counts(n, c, r) -> tuple[np.ndarray, np.ndarray]:
    """Counts to feed the estimators above when sampling stopped at the ``r``-th pass.

    Adaptive budgets sample a problem until ``r`` samples passed or a cap ``n_max`` is
    reached. Where the ``r``-th pass stopped the sampling (``c == r``), the last sample is
    not a free draw, and ``c / n`` is biased upwards. Rao-Blackwell on the first sample
    gives the unbiased estimate ``(r - 1) / (n - 1)`` (Haldane 1945), and in general every
    estimator of this module stays unbiased if it is applied to the first ``n - 1`` samples,
    which hold ``r - 1`` passes in exchangeable order: the chance that ``j`` given samples
    all fail given the stopped path is ``C(n-1-j, r-1) / C(n-1, r-1)``, the binomial
    formula with ``(n - 1, r - 1)``. Where the cap stopped it (``c < r``), the path is a
    plain binomial one and ``(n, c)`` stand. The likelihood is ``p^c (1-p)^(n-c)`` with the
    counts as drawn under either rule, so the Jeffreys intervals need no change, and a
    likelihood fit reads the counts as drawn, not these: its score ``c/p - (n-c)/(1-p)``
    has mean 0 at the true ``p`` with them and ``-1/p`` with ``(n - 1, c - 1)``
    (:meth:`capability.laws.base.LadderData.likelihood_counts`).

    Parameters
    ----------
    n, c
        Samples drawn and passes, per (model, problem).
    r
        The pass target of the stopping rule (>= 2), or 0/NaN where sampling was not
        adaptive.

    Returns
    -------
    (n_eff, c_eff)
        ``(n - 1, c - 1)`` where ``c == r``, else ``(n, c)``.
    """
    n_arr, c_arr = _counts_iv(n, c)
    r_arr = np.nan_to_num(np.asarray(r, dtype=float), nan=0.0)
    stopped = (r_arr >= 2) & (c_arr == r_arr)  # then n >= c >= 2, so n - 1 >= 1
    return np.where(stopped, n_arr - 1, n_arr), np.where(stopped, c_arr - 1, c_arr)
