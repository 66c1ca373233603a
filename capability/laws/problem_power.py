"""The report's law per problem, partially pooled: ``-log p_i(C) = exp(-b_i - s_i log10 C)``
(a power law in ``C`` with its own exponent ``s_i / ln 10`` per problem), ``(b_i, s_i) ~
N(mu, Sigma)`` -- or, for a problem whose counts say so (one that gets worse with scale),
with the slope's variance widened by 1 (a contaminated normal, ``robust``) -- fitted on the
binomial likelihood, so never-solved problems count. See :mod:`capability.laws.per_problem`."""

from __future__ import annotations

from capability.laws.base import LadderData, LawFit
from capability.laws.per_problem import fit_per_problem


def fit(data: LadderData, target_compute: float, *, n_draws: int = 400, rng=None) -> LawFit:
    return fit_per_problem(data, target_compute, name="problem_power", link="loglog",
                           n_draws=n_draws, rng=rng)
