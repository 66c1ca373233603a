"""Per-problem laws aggregated to buckets (pure): the shared step behind ``logistic``,
``problem_power``, ``ceiling`` and ``two_step``.

Each problem's curve is fitted on the binomial likelihood of its counts, partially pooled
across all problems (:mod:`capability.laws._hierarchical`); a bucket's value at the target is
the mean over its problems. Where the ladder's counts scatter about each problem's curve
by more than the binomial noise (a problem-by-model effect of variance ``omega^2`` on the
link scale), each count's likelihood is down-weighted accordingly (quasi-likelihood), so a
single problem's trend is trusted less and the curve is the population average. The point
estimate is the posterior mean (over Laplace draws of
every problem's parameters) of ``mean_i p_i`` and of ``mean_i -log p_i``; the draws are the
sampling distribution the interval starts from.

With the log-log link (``problem_power``) the pooling is robust (``ROBUST``): a problem
whose counts say it follows a slope of its own -- one that gets worse with scale among
problems that all improve alike -- is not shrunk onto the others' slope
(:func:`capability.laws._hierarchical._fit_wide_mixture`). The logistic laws keep the common
normal alone: their slopes already spread widely, and on ladders of 20 samples per problem
the robust pooling moved weight between laws for no gain.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from capability.laws._hierarchical import fit_hierarchical
from capability.laws._memo import Memo, digest
from capability.laws.base import LadderData, LawFit, bucket_means

__all__ = ["fit_per_problem"]

# The links whose fit lets a problem follow a slope of its own (fit_hierarchical's `robust`).
ROBUST = ("loglog",)
_fits = Memo(16)   # _fit_and_draws's memo, the 16 latest


def _fit_and_draws(data: LadderData, x: np.ndarray, link: str, ceiling: bool, n_draws: int,
                   rng: np.random.Generator):
    """The pooled fit, ``n_draws`` parameter draws from it and as many shifts of its modes
    with the prior's mean (:meth:`HierarchicalFit.prior_mean_shifts`), memoised on everything they
    depend on (counts, covariate, link, ceiling, scatter, the generator's state): the
    rolling backtests fit the same origin once per model they predict, and only where they
    evaluate it differs. A hit returns what the computation would, bit for bit; it leaves
    ``rng`` where it was, which is safe because no law draws from it afterwards."""
    robust = link in ROBUST and not ceiling
    interaction = None if data.interaction is None else data.interaction.get(link)
    n, c = data.likelihood_counts()
    key = digest(n, c, x, extra=(n.shape, link, ceiling, robust, interaction, n_draws,
                                 rng.bit_generator.state))

    def compute():
        fit = fit_hierarchical(n, c, x, link=link, ceiling=ceiling, robust=robust,
                               interaction=interaction)
        theta = shifts = None
        if n_draws > 0:
            theta = fit.draws(n_draws, rng)
            shifts = fit.prior_mean_shifts(n_draws, rng)   # after the draws, as they were
            theta.setflags(write=False)
            shifts.delta.setflags(write=False)
        return fit, theta, shifts

    return _fits.get(key, compute)


def _shared_shifts(fit, shifts, x_draws, buckets, chunk: int = 100) -> np.ndarray:
    """Each bucket's mean pass rate at the target moved by the prior mean's shifts, less
    at the modes, ``(R, n_buckets)``, a chunk of draws at a time (the shifted parameters of
    every problem are ``R x P x d``). The modes' values are computed once where every draw
    shares the target's covariate, per draw where it has its own (``two_step``)."""
    per_draw = np.ndim(x_draws) == 3
    if not per_draw:
        base = bucket_means(fit.pass_rate(x_draws, fit.theta)[..., 0], buckets)
    out = []
    for start in range(0, len(shifts), chunk):
        moved = fit.theta[None] + shifts.rows(start, start + chunk)
        x = x_draws[start:start + chunk] if per_draw else x_draws
        if per_draw:
            base = bucket_means(fit.pass_rate(x, np.broadcast_to(fit.theta, moved.shape))
                                [..., 0], buckets)
        out.append(bucket_means(fit.pass_rate(x, moved)[..., 0], buckets) - base)
    return np.concatenate(out)


def fit_per_problem(data: LadderData, target_compute: float, *, name: str, link: str,
                    ceiling: bool = False, n_draws: int = 400, rng=None,
                    covariate: np.ndarray | None = None, target_covariate=None,
                    axis: Callable | None = None) -> LawFit:
    """Fit the per-problem law and evaluate every bucket at the target.

    ``covariate`` is the per-model x of the law (default ``log10`` compute) and
    ``target_covariate`` its value at the target: a number, or an array of ``n_draws``
    values (the covariate's own uncertainty, for the two-step law). ``axis`` instead maps
    ``log10`` compute to the covariate (the bent law's axis): the ladder's, the target's and
    the curve's covariates are its values.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    to_x = (lambda v: v) if axis is None else axis
    x = to_x(np.log10(data.compute)) if covariate is None else np.asarray(covariate, float)
    x_t = to_x(np.log10(target_compute)) if target_covariate is None else target_covariate
    x_t_arr = np.asarray(x_t, float)
    fit, theta, shifts = _fit_and_draws(data, x, link, ceiling, n_draws, rng)

    if n_draws > 0:
        # The target's covariate per draw (shape (R, 1, 1)), or one value for all draws.
        x_draws = x_t_arr.reshape(-1, 1, 1) if x_t_arr.ndim else np.atleast_1d(x_t_arr)
        p = np.clip(fit.pass_rate(x_draws, theta)[..., 0], 1e-300, 1.0)
        mp_draws = bucket_means(p, data.buckets)
        nl_draws = bucket_means(-np.log(p), data.buckets)
        mean_p, neg_log = mp_draws.mean(0), nl_draws.mean(0)
        shared = _shared_shifts(fit, shifts, x_draws, data.buckets)
        method = (f"{n_draws} draws from each problem's Laplace posterior "
                  "(binomial likelihood, empirical-Bayes prior)")
    else:
        xt = float(np.mean(x_t_arr))
        p = np.clip(fit.pass_rate(np.atleast_1d(xt))[..., 0], 1e-300, 1.0)
        mean_p, neg_log = bucket_means(p, data.buckets), bucket_means(-np.log(p), data.buckets)
        mp_draws = nl_draws = shared = np.empty((0, len(data.buckets)))
        method = "no draws"

    def curve(compute):
        p_grid = np.clip(fit.pass_rate(to_x(np.log10(np.asarray(compute, float)))), 1e-300,
                         1.0)
        return (bucket_means(np.swapaxes(p_grid, -1, -2), data.buckets).T,
                bucket_means(np.swapaxes(-np.log(p_grid), -1, -2), data.buckets).T)

    def at_target(n: int, gen: np.random.Generator):
        """Every problem's pass rate at the target: at the modes (the covariate's mean) and
        ``n`` posterior draws, each at its own draw of the covariate where it has draws
        (the first ``n``, cycled)."""
        modes = fit.pass_rate(np.atleast_1d(np.mean(x_t_arr)))[..., 0]
        x_n = (np.resize(x_t_arr, n).reshape(-1, 1, 1) if x_t_arr.ndim else
               np.atleast_1d(x_t_arr))
        return modes, fit.pass_rate(x_n, fit.draws(n, gen))[..., 0]

    return LawFit(law=name, mean_pass_rate=np.asarray(mean_p), neg_log_pass_rate=np.asarray(
        neg_log), mean_pass_rate_draws=mp_draws, neg_log_pass_rate_draws=nl_draws,
        noise_method=method, curve=None if covariate is not None else curve, extra=fit,
        mean_pass_rate_shared=shared, at_target=at_target)
