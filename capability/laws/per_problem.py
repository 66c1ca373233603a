"""Per-problem laws aggregated to buckets (pure): the shared step behind ``logistic``,
``problem_power``, ``ceiling`` and ``two_step``.

Each problem's curve is fitted on the binomial likelihood of its counts, partially pooled
across all problems (:mod:`capability.laws._hierarchical`); a bucket's value at the target is
the mean over its problems. The point estimate is the posterior mean (over Laplace draws of
every problem's parameters) of ``mean_i p_i`` and of ``mean_i -log p_i``; the draws are the
sampling distribution the interval starts from.
"""

from __future__ import annotations

import numpy as np

from capability.laws._hierarchical import HierarchicalFit, _log_p, fit_hierarchical
from capability.laws.base import LadderData, LawFit, bucket_means

__all__ = ["fit_per_problem"]

_LAW_TEXT = {
    ("logit", False): "logit p_i = b_i + s_i log10 C",
    ("loglog", False): "-log p_i = exp(-b_i - s_i log10 C)",
    ("loglog", True): "p_i = q_i exp(-exp(-b_i - s_i log10 C))",
}


def _details(fit: HierarchicalFit, buckets) -> tuple[dict, ...]:
    out = []
    for b in buckets:
        if not len(b):
            out.append(None)
            continue
        th = fit.theta[b]
        entry = {"median_slope_per_decade": float(np.median(th[:, 1])),
                 "pooled_slope_mean": float(fit.mu[1]),
                 "pooled_slope_sd": float(np.sqrt(fit.sigma[1, 1]))}
        if fit.ceiling:
            entry["median_ceiling"] = float(np.median(1 / (1 + np.exp(-th[:, 2]))))
        out.append(entry)
    return tuple(out)


def fit_per_problem(data: LadderData, target_compute: float, *, name: str, link: str,
                    ceiling: bool = False, n_draws: int = 400, rng=None,
                    covariate: np.ndarray | None = None, target_covariate=None) -> LawFit:
    """Fit the per-problem law and evaluate every bucket at the target.

    ``covariate`` is the per-model x of the law (default ``log10`` compute) and
    ``target_covariate`` its value at the target: a number, or an array of ``n_draws``
    values (the covariate's own uncertainty, for the two-step law).
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    x = np.log10(data.compute) if covariate is None else np.asarray(covariate, float)
    x_t = np.log10(target_compute) if target_covariate is None else target_covariate
    fit = fit_hierarchical(data.n, data.c, x, link=link, ceiling=ceiling)

    x_t_arr = np.asarray(x_t, float)
    if n_draws > 0:
        theta = fit.draws(n_draws, rng)
        # x_t per draw (shape (R, 1, 1)) or one value for all draws.
        x = (x_t_arr - fit.x_center).reshape(-1, 1, 1) if x_t_arr.ndim else \
            np.array([x_t_arr - fit.x_center])
        p = np.exp(_log_p(theta, x, fit.link, fit.ceiling)[0][..., 0])
        p = np.clip(p, 1e-300, 1.0)
        mp_draws = bucket_means(p, data.buckets)
        nl_draws = bucket_means(-np.log(p), data.buckets)
        mean_p, neg_log = mp_draws.mean(0), nl_draws.mean(0)
        method = (f"{n_draws} draws from each problem's Laplace posterior "
                  "(binomial likelihood, empirical-Bayes prior)")
    else:
        xt = float(np.mean(x_t_arr))
        p = np.clip(fit.pass_rate(np.atleast_1d(xt))[..., 0], 1e-300, 1.0)
        mean_p, neg_log = bucket_means(p, data.buckets), bucket_means(-np.log(p), data.buckets)
        mp_draws = nl_draws = np.empty((0, len(data.buckets)))
        method = "no draws"

    def curve(compute):
        if covariate is not None:
            return None
        p_grid = np.clip(fit.pass_rate(np.log10(np.asarray(compute, float))), 1e-300, 1.0)
        return (bucket_means(np.swapaxes(p_grid, -1, -2), data.buckets).T,
                bucket_means(np.swapaxes(-np.log(p_grid), -1, -2), data.buckets).T)

    return LawFit(law=name, mean_pass_rate=np.asarray(mean_p), neg_log_pass_rate=np.asarray(
        neg_log), mean_pass_rate_draws=mp_draws, neg_log_pass_rate_draws=nl_draws,
        noise_method=method, curve=curve, details=_details(fit, data.buckets), extra=fit)
