"""What every candidate law takes and returns (pure).

A law is a function ``fit(data, target_compute, *, n_draws, rng) -> LawFit``: it is fitted
per bucket to the ladder's counts and evaluated at ``target_compute``; the result carries,
per bucket, the mean pass rate ``E_P[pass_rate]`` and ``-E_P[log pass_rate]`` with draws
from their sampling distribution (how the estimate varies with the binomial noise of the
counts, or the posterior of the law's parameters), from which the calibrated interval is
made (:mod:`capability.prediction.calibrate`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LadderData", "LawFit", "bucket_means", "chunk_rows"]

CHUNK_CELLS = 1 << 18   # cells per chunk of the arrays the laws build a chunk at a time


def chunk_rows(cells_per_row: int) -> int:
    """Rows (draws, proposals) per chunk where each row holds ``cells_per_row`` cells:
    ``CHUNK_CELLS`` cells at a time, at least one row. Arrays of (rows, models, problems)
    run to hundreds of MB at once for a thousand problems."""
    return max(1, CHUNK_CELLS // max(1, int(cells_per_row)))


@dataclass(frozen=True)
class LadderData:
    """A ladder's counts as a law sees them.

    Attributes
    ----------
    n, c
        Counts of shape ``(M, P)``: ladder models (smallest compute first) by problems.
    compute
        Training compute per ladder model, FLOPs, shape ``(M,)``.
    buckets
        Per bucket, the column indices of its problems.
    loss
        Final loss per ladder model, or None.
    estimator
        The per-problem ``-log p`` estimator
        (:func:`capability.estimation.estimate.neg_log_pass_rate`).
    pool_slopes
        Partially pool the report's law's exponents across buckets.
    reassign
        The bucketing rule rerun on resampled counts (see
        :func:`capability.laws.fit.fit_bucket_laws`), or None.
    loss_fit
        The loss law already fitted to these models at this target compute
        (:class:`capability.laws.fit.LossLawFit`), so that ``two_step`` does not fit it again;
        None: ``two_step`` fits it.
    interaction
        Per link of the per-problem laws (``"logit"``, ``"loglog"``), the problem-by-model
        variance ``omega^2`` on the link scale
        (:func:`capability.laws._hierarchical.interaction_variance`), estimated once from the
        whole ladder so that a backtest's origin of two models has it too; None: each fit
        estimates its own from its counts.
    confidence_level
        The level of the report's law's own bootstrap interval (``BucketLaw``, kept in
        ``prediction.json`` as the reference), the prediction's level.
    drawn
        The counts as drawn, ``(n, c)`` of the same shape, where they differ from ``n, c``:
        an adaptive budget's (sampling stopped at the ``r``-th pass), whose ``n, c`` are
        the estimators' ``(n - 1, c - 1)``
        (:func:`capability.estimation.estimate.inverse_sampling_counts`). The likelihood
        fits read these (:meth:`likelihood_counts`); None: ``n, c`` are as drawn.
    """

    n: np.ndarray
    c: np.ndarray
    compute: np.ndarray
    buckets: tuple[np.ndarray, ...]
    loss: np.ndarray | None = None
    estimator: str = "series"
    pool_slopes: bool = True
    reassign: Callable | None = field(default=None, repr=False, compare=False)
    loss_fit: object = field(default=None, repr=False, compare=False)
    interaction: dict[str, float] | None = None
    confidence_level: float = 0.9
    drawn: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def likelihood_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """The counts a likelihood reads: as drawn. Under any stopping rule that looks only
        at the draws so far, the path's likelihood is ``p^c (1 - p)^(n - c)`` with the counts
        as drawn, and its score ``c / p - (n - c) / (1 - p)`` has mean 0 at the true ``p``
        (for sampling to the ``r``-th pass, ``E[n] = r / p``). With the estimators' ``(n - 1,
        c - 1)`` it would have mean ``-1 / p``: every fit pulled low, the more so the more of
        a model's problems stopped at their ``r``-th pass."""
        return (self.n, self.c) if self.drawn is None else self.drawn


@dataclass(frozen=True)
class LawFit:
    """One law fitted to a ladder and evaluated at the target's compute.

    Attributes
    ----------
    law
        The law's name.
    mean_pass_rate, neg_log_pass_rate
        Per bucket ``E_P[pass_rate]`` and ``-E_P[log pass_rate]`` at the target (NaN where
        the law has no value for the bucket).
    mean_pass_rate_draws, neg_log_pass_rate_draws
        Draws of the same, shape ``(R, n_buckets)`` (``R = 0`` without draws).
    noise_method
        How the draws were obtained, in words.
    curve
        ``curve(compute) -> (mean_pass_rate, neg_log_pass_rate)``, each of shape
        ``(n_buckets, G)`` for a grid of ``G`` computes (FLOPs), or None where the law's
        covariate is not compute (``two_step``).
    extra
        The law's own fitted object (the report's law: its ``BucketLaw`` list).
    mean_pass_rate_shared
        The part of the mean pass rate's uncertainty that every bucket shares and the draws
        leave out, ``(R, n_buckets)`` draws of each bucket's shift (``R = 0`` where the
        draws carry it all): the per-problem laws' draws are conditional on their fitted
        prior, and its mean's own uncertainty moves every problem alike
        (:meth:`capability.laws._hierarchical.HierarchicalFit.prior_mean_shifts`). The
        headline's joint predictive adds it (:mod:`capability.prediction.headline`).
    record
        What the law read from the ladder, for ``prediction.json`` (the bent law: its bend,
        :class:`capability.laws.bent.BendProfile`'s ``to_dict``), or None.
    at_target
        A per-problem law's pass rate of every problem at the target, on its own covariate
        (log compute, the bent law's axis, the two-step law's target loss):
        ``at_target(n_draws, rng) -> (modes (P,), draws (n_draws, P))``, the draws from each
        problem's posterior (:meth:`capability.laws._hierarchical.HierarchicalFit.draws`);
        None for the bucket-level laws. The headline's pass@k reads its shape from it.
    """

    law: str
    mean_pass_rate: np.ndarray
    neg_log_pass_rate: np.ndarray
    mean_pass_rate_draws: np.ndarray = field(repr=False)
    neg_log_pass_rate_draws: np.ndarray = field(repr=False)
    noise_method: str = ""
    curve: Callable | None = field(default=None, repr=False, compare=False)
    extra: object = field(default=None, repr=False, compare=False)
    mean_pass_rate_shared: np.ndarray = field(default_factory=lambda: np.empty((0, 0)),
                                              repr=False, compare=False)
    record: dict | None = field(default=None, repr=False, compare=False)
    at_target: Callable | None = field(default=None, repr=False, compare=False)


def bucket_means(values: np.ndarray, buckets) -> np.ndarray:
    """Means over each bucket's columns of ``values`` (shape ``(..., P)``):
    ``(..., n_buckets)``, NaN for an empty bucket."""
    out = [values[..., b].mean(-1) if len(b) else np.full(values.shape[:-1], np.nan)
           for b in buckets]
    return np.stack(out, -1)
