"""Candidate laws behind one interface (pure).

Every law is ``fit(data: LadderData, target_compute, *, n_draws, rng) -> LawFit | None``
(None: the law does not apply to this ladder, e.g. ``two_step`` without losses):

============== =========================================================================
``power``      the report's law per bucket, ``-E_P[log p] = alpha C^-k`` (the reference)
``problem_power`` the report's law per problem, pooled across problems (binomial likelihood)
``logistic``   per-problem logistic in log compute, pooled (emergence, differing slopes)
``bent``       the same on a compute axis bent by one ``gamma`` the counts read (growth
               that slows or speeds up for every problem at once: the two-step law's shape
               without losses)
``ceiling``    per-problem power law that levels off at ``q_i <= 1``
``two_step``   compute -> loss -> pass rate (when losses are given)
``no_change``  the largest ladder model's value (baseline)
``linear``     a straight line in log compute (baseline)
============== =========================================================================
"""

from __future__ import annotations

from capability.laws import (
    baselines,
    bent,
    ceiling,
    logistic,
    power,
    problem_power,
    two_step,
)
from capability.laws._hierarchical import LINKS, interaction_variance
from capability.laws.base import LadderData, LawFit, bucket_means
from capability.options import LAW_NAMES

__all__ = ["LAWS", "LINKS", "LadderData", "LawFit", "bucket_means", "interaction_variance"]

LAWS = {
    "power": power.fit,
    "problem_power": problem_power.fit,
    "logistic": logistic.fit,
    "bent": bent.fit,
    "ceiling": ceiling.fit,
    "two_step": two_step.fit,
    "no_change": baselines.no_change,
    "linear": baselines.linear,
}
assert tuple(LAWS) == LAW_NAMES, "capability.options.LAW_NAMES must name every law"
