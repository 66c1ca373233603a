"""How often intervals held their truth, counted by the units that miss together (pure).

The buckets of one prediction are not independent trials: the law error, the target's own
offset from its family's trend and a bend in the family's growth are common to all of
them, so where one bucket's interval misses, the others tend to miss with it. On the
simulated ladders of ``bench/accuracy.py`` (100 ``irregular`` ladders of six buckets, seeds
600-699) the 600 buckets carried the information of 111 independent trials, about one
per ladder. A share of held intervals read as ``buckets`` Bernoulli trials then claims a
precision it does not have: 20 ladders' coverage of 0.72 (87 of 120 buckets, seeds
300-319) reads as [0.65, 0.79] that way, [0.52, 0.88] counted by ladder (90% intervals;
20.9 effective trials).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from capability.estimation.interval import ConfidenceInterval, IntervalEstimate

__all__ = ["clustered_coverage", "effective_trials", "MIN_CLUSTERS"]

MIN_CLUSTERS = 10   # fewer clusters: each counts as one trial (effective_trials)


def _clusters(held, total) -> tuple[np.ndarray, np.ndarray]:
    """``held`` and ``total`` as float arrays, checked (``0 <= held <= total`` per
    cluster), with the clusters that have no interval (``total`` 0) left out."""
    held = np.asarray(held, float)
    total = np.asarray(total, float)
    if held.shape != total.shape or np.any(held < 0) or np.any(held > total):
        raise ValueError("expected per cluster 0 <= held <= total, found held "
                         f"{held.tolist()} of total {total.tolist()}")
    keep = total > 0
    return held[keep], total[keep]


def effective_trials(held, total) -> float:
    """The number of independent trials that ``held`` hits of ``total`` per cluster carry.

    Over ``J`` clusters the share is the ratio ``p = sum h_j / sum n_j``, with the
    cluster-robust (ratio estimator) variance ``v = J / (J - 1) sum_j (h_j - p n_j)^2 /
    (sum n_j)^2``; the effective number of trials is ``p (1 - p) / v``, at least 1 and at
    most ``sum n_j``. Where ``v`` is 0 it is ``J`` when every cluster held all or none
    (``p`` 0 or 1: one trial per cluster) and ``sum n_j`` otherwise. From fewer than
    ``MIN_CLUSTERS`` clusters the variance is read from too few to trust (three
    predictions of six buckets, one bucket missed, read as 17 trials of 18) and each
    cluster counts as one trial, as the simulated ladders' buckets did (module
    docstring). Clusters with no interval (``n_j = 0``) are left out."""
    h, n = _clusters(held, total)
    count, j = float(n.sum()), n.size
    if count <= 0:
        return 0.0
    if j < MIN_CLUSTERS:
        return float(j)
    p = h.sum() / count
    v = j / (j - 1) * float(np.sum((h - p * n) ** 2)) / count**2
    if v > 0:
        return float(min(max(p * (1 - p) / v, 1.0), count))
    return float(j) if p in (0.0, 1.0) else count


def clustered_coverage(held: Sequence[int], total: Sequence[int],
                       level: float = 0.9, unit: str = "prediction") -> IntervalEstimate:
    """The share of intervals that held their truth, ``sum held / sum total`` over clusters
    (``held[j]`` of the ``total[j]`` intervals of cluster ``j``: one prediction's buckets),
    with a Clopper-Pearson interval at ``level`` for ``p n_eff`` successes in ``n_eff``
    trials, ``n_eff`` :func:`effective_trials` (its beta quantiles hold for counts that
    are not whole). Clusters with no interval are left out; with none, NaN throughout.
    ``unit`` names a cluster in the method's words."""
    held, total = _clusters(held, total)
    if not total.size:
        return IntervalEstimate(float("nan"), ConfidenceInterval(float("nan"), float("nan")),
                                level, f"no {unit} with an interval")
    p = float(held.sum() / total.sum())
    n_eff = effective_trials(held, total)
    x, alpha = p * n_eff, 1.0 - level
    low = 0.0 if x <= 0 else float(stats.beta.ppf(alpha / 2, x, n_eff - x + 1))
    high = 1.0 if x >= n_eff else float(stats.beta.ppf(1 - alpha / 2, x + 1, n_eff - x))
    why = (f"fewer than {MIN_CLUSTERS} {unit}s, each one trial" if total.size < MIN_CLUSTERS
           else f"the cluster-robust variance over the {unit}s")
    method = (f"share of the {int(total.sum())} intervals of {total.size} {unit}(s) holding "
              f"the measured value; Clopper-Pearson interval at {n_eff:.1f} effective "
              f"trials (a {unit}'s intervals miss together: {why})")
    return IntervalEstimate(p, ConfidenceInterval(low, high), level, method)
