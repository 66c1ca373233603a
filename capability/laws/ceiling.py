"""Per-problem power law with a ceiling: ``p_i(C) = q_i exp(-exp(-b_i - s_i log10 C))``, a
pass rate that levels off at ``q_i <= 1`` (a problem with an ambiguous or wrong test, or a
skill the family never gets). ``(b_i, s_i)`` are pooled as in ``problem_power``; ``q_i`` has a
spike-and-slab prior: no ceiling (``q_i = 1``) or, with an estimated probability, a ceiling
with ``logit q_i`` from an estimated normal (empirical Bayes;
:func:`capability.laws._hierarchical._fit_ceiling_mixture`). See
:mod:`capability.laws.per_problem`."""

from __future__ import annotations

from capability.laws.base import LadderData, LawFit
from capability.laws.per_problem import fit_per_problem


def fit(data: LadderData, target_compute: float, *, n_draws: int = 400, rng=None) -> LawFit:
    return fit_per_problem(data, target_compute, name="ceiling", link="loglog", ceiling=True,
                           n_draws=n_draws, rng=rng)
