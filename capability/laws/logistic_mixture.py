"""Per-problem logistic in log compute with a mixture prior: ``logit p_i(C) = b_i + s_i log10
C`` as :mod:`capability.laws.logistic`, but ``(b_i, s_i)`` drawn from a mixture of two
normals, fitted by empirical Bayes
(:func:`capability.laws._hierarchical._fit_normal_mixture`).

A problem no ladder model solves tells nothing of its slope; its rise at the target is the
prior's. One normal extends the visible problems' slopes to the hard side along a straight
line, and shrinks them; two can bend that line where the visible problems do. On simulated
ladders of per-problem logistic laws with lognormal slopes, one normal read the slopes'
variance at about half the true one, and the hardest bucket came out 6-9 points low. The
mixture is a candidate beside the one-normal law, not in its place: the backtests weigh the
two, and where they cannot tell them apart the average widens where they disagree (on
`few-samples` ladders the mixture alone lost its backtests, and on `slowing` ladders it
looked better in them than it extrapolates: docs/accuracy-history.md)."""

from __future__ import annotations

from capability.laws.base import LadderData, LawFit
from capability.laws.per_problem import fit_per_problem


def fit(data: LadderData, target_compute: float, *, n_draws: int = 400, rng=None) -> LawFit:
    return fit_per_problem(data, target_compute, name="logistic_mixture", link="logit",
                           n_draws=n_draws, rng=rng, mixture=True)
