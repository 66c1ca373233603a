"""Per-problem logistic in log compute, partially pooled: ``logit p_i(C) = b_i + s_i log10 C``
with ``(b_i, s_i) ~ N(mu, Sigma)`` (emergence: problems near zero for the small models that
rise late, and problems with differing slopes). See :mod:`capability.laws.per_problem`."""

from __future__ import annotations

from capability.laws.base import LadderData, LawFit
from capability.laws.per_problem import fit_per_problem


def fit(data: LadderData, target_compute: float, *, n_draws: int = 400, rng=None) -> LawFit:
    return fit_per_problem(data, target_compute, name="logistic", link="logit",
                           n_draws=n_draws, rng=rng)
