"""The GPT-4 report's law per bucket, ``-E_P[log pass_rate(C)] = alpha * C^(-k)``: weighted
least squares of the bucket means of per-problem ``-log p`` estimates on ``log C``, exponents
partially pooled across buckets (:func:`capability.laws.fit.fit_bucket_laws`). Its draws are that
function's parametric bootstrap (binomial noise, problems re-bucketed per resample)."""

from __future__ import annotations

import numpy as np

from capability.laws.base import LadderData, LawFit
from capability.laws.fit import fit_bucket_laws


def fit(data: LadderData, target_compute: float, *, n_draws: int = 400, rng=None) -> LawFit:
    laws = fit_bucket_laws(data.n, data.c, list(data.buckets), data.compute,
                           target_compute=target_compute, estimator=data.estimator,
                           confidence_level=data.confidence_level,
                           n_resamples=n_draws, rng=rng, pool_slopes=data.pool_slopes,
                           reassign=data.reassign)
    nb = len(laws)
    mean_p = np.array([np.nan if w is None else w.mean_pass_rate.estimate for w in laws])
    neg_log = np.array([np.nan if w is None else w.neg_log_pass_rate.estimate for w in laws])
    mp_draws = np.full((n_draws, nb), np.nan)
    nl_draws = np.full((n_draws, nb), np.nan)
    for j, w in enumerate(laws):
        if w is not None and w.mean_pass_rate.bootstrap_distribution.size == n_draws:
            mp_draws[:, j] = w.mean_pass_rate.bootstrap_distribution
            nl_draws[:, j] = w.neg_log_pass_rate.bootstrap_distribution

    def curve(compute):
        compute = np.asarray(compute, float)
        mp = np.full((nb, compute.size), np.nan)
        nl = np.full((nb, compute.size), np.nan)
        for j, w in enumerate(laws):
            if w is not None:
                # Far below the ladder the law's value may overflow to inf: pass rate 0.
                with np.errstate(over="ignore"):
                    ratio = (compute / target_compute) ** (-w.fit.k)
                    nl[j] = w.fit.value_at_ref * ratio
                    mp[j] = np.exp(-w.per_problem[:, None] * ratio[None]).mean(0)
        return mp, nl

    method = (f"parametric bootstrap over binomial sampling noise ({n_draws} resamples from "
              "the fitted laws, problems re-bucketed)" if n_draws else "no draws")
    return LawFit(law="power", mean_pass_rate=mean_p, neg_log_pass_rate=neg_log,
                  mean_pass_rate_draws=mp_draws, neg_log_pass_rate_draws=nl_draws,
                  noise_method=method, curve=curve, extra=laws)
