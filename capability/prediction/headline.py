"""The number a reader quotes: predicted pass@k over the problems the prediction covers,
and what it says about the whole benchmark (pure).

**pass@1** over the covered problems is the problem-weighted mean of the buckets' predicted
mean pass rates, ``sum_b n_b m_b / sum_b n_b``. Its bounds are the same weighted sums of
the buckets' interval bounds: exact if the buckets' errors move together (the rolling
backtests show one step's buckets mostly err in the same direction), conservative otherwise.

**pass@k** (k > 1) needs each problem's pass rate, not only the bucket's mean: inside each
bucket the per-problem pass rates of a per-problem law at the target (``p_i``) are shifted
on the logit scale, ``p_i' = expit(logit p_i + delta_b)``, so that their mean is the
bucket's predicted mean pass rate (and, for the bounds, the bounds of its interval); then
``pass@k = mean_i 1 - (1 - p_i')^k``. pass@k rises with ``delta_b``, so bounds map to bounds.
The estimate takes the shape from the law's posterior modes. The bounds also carry the
shape's own uncertainty: with draws of every problem's pass rate from the law's posterior
(each moved by the target's own problem-by-model effect where the ladder shows scatter,
:meth:`capability.laws._hierarchical.HierarchicalFit.scattered`),
each draw is shifted to the bucket's lower (upper) bound, and the bound is the ``(1 -
level) / 2`` (``(1 + level) / 2``) quantile over the draws of the summed pass@k -- a
mean at its bound and a shape at its quantile, so conservative, as pass@1's sum of bounds
is. Without draws the shape is taken as it is, and the interval is narrower than it should
be where that shape is wrong.

**The whole benchmark.** Problems held out (the hardest by the ladder) or excluded are not
predicted. The bound for the whole benchmark assumes nothing about them: each may pass with
any rate in [0, 1].
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

__all__ = ["shift_to_mean", "headline"]

_LOGIT_CLIP = 30.0


def shift_to_mean(p: np.ndarray, mean: float) -> np.ndarray:
    """``expit(logit p + delta)`` with ``delta`` chosen so that its mean is ``mean``."""
    p = np.asarray(p, float)
    if mean <= 0.0:
        return np.zeros_like(p)
    if mean >= 1.0:
        return np.ones_like(p)
    z = np.clip(special.logit(np.clip(p, 1e-300, 1.0)), -_LOGIT_CLIP, _LOGIT_CLIP)

    def gap(delta):
        return float(special.expit(z + delta).mean()) - mean

    # The mean lies between expit(min z + delta) and expit(max z + delta), so the root lies
    # in [logit(mean) - max z, logit(mean) - min z] (a bound near 0 or 1 needs |delta| >> z).
    centre = float(special.logit(mean))
    delta = optimize.brentq(gap, centre - z.max() - 1.0, centre - z.min() + 1.0, xtol=1e-10)
    return special.expit(z + delta)


def _pass_at_k(p: np.ndarray, k: int) -> float:
    return float(np.mean(-np.expm1(k * np.log1p(-np.minimum(p, 1.0 - 1e-16)))))


def _summed_pass_at_k(per_bucket_p, targets, w, k: int) -> float:
    """``sum_b w_b pass@k`` with each bucket's pass rates shifted to its target mean."""
    return float(np.sum(w * np.array([_pass_at_k(shift_to_mean(p, t), k)
                                      for p, t in zip(per_bucket_p, targets)])))


def headline(sizes, means, lows, highs, *, per_problem=None, ks=(1, 10, 100), total: int,
             held_out: int, excluded: int, level: float) -> dict:
    """The ``overall`` entry of ``prediction.json``.

    Parameters
    ----------
    sizes, means, lows, highs
        Per bucket: problems, predicted mean pass rate and its interval's bounds (buckets
        without a prediction are passed as NaN and left out).
    per_problem
        ``(modes, draws)``: per bucket the per-problem pass rates of a per-problem law at
        the target at its posterior modes (arrays of the bucket's size) and draws from its
        posterior (arrays ``(draws, size)``, or None), or None: then pass@k is given for
        k = 1 only.
    total, held_out, excluded
        The benchmark's number of problems, and how many were held out or excluded.
    """
    sizes = np.asarray(sizes, float)
    means, lows, highs = (np.asarray(v, float) for v in (means, lows, highs))
    ok = np.isfinite(means) & np.isfinite(lows) & np.isfinite(highs) & (sizes > 0)
    covered = int(sizes[ok].sum())
    uncovered = total - covered
    parts = []
    if held_out:
        parts.append(f"{held_out} hardest held out")
    if excluded:
        parts.append(f"{excluded} excluded by the zero policy")
    other = uncovered - held_out - excluded
    if other > 0:
        parts.append(f"{other} in buckets without a prediction")
    statement = f"{covered} of {total} problems" + (f": {', '.join(parts)}" if parts else "")
    out = {"problems_covered": covered, "problems_total": int(total),
           "held_out": int(held_out), "excluded": int(excluded), "statement": statement,
           "level": level, "pass_at_k": {}, "whole_benchmark": {}}
    if not covered:
        return out
    w = sizes[ok] / covered
    for k in ks:
        if k == 1:
            est, lo, hi = (float(np.sum(w * v[ok])) for v in (means, lows, highs))
            method = ("problem-weighted mean of the buckets' predicted mean pass rates; "
                      "bounds: the same weighted sum of their interval bounds")
        elif per_problem is not None:
            modes, draws = per_problem
            kept = np.flatnonzero(ok)
            est, lo, hi = (_summed_pass_at_k([modes[j] for j in kept], v[ok], w, k)
                           for v in (means, lows, highs))
            method = ("per-problem pass rates of a per-problem law at the target, shifted "
                      "on the logit scale in each bucket to the bucket's prediction (and its "
                      "bounds); bounds summed over buckets")
            if draws is not None:
                n_draws = min(np.shape(draws[j])[0] for j in kept)
                at = {side: [_summed_pass_at_k([draws[j][r] for j in kept], v[ok], w, k)
                             for r in range(n_draws)]
                      for side, v in (("low", lows), ("high", highs))}
                lo = min(lo, float(np.quantile(at["low"], (1 - level) / 2)))
                hi = max(hi, float(np.quantile(at["high"], (1 + level) / 2)))
                method += (f", widened for the within-bucket shape: {n_draws} draws of the "
                           "law's per-problem posterior, each shifted to the bound, and their "
                           f"{(1 - level) / 2:g} and {(1 + level) / 2:g} quantiles")
        else:
            out["pass_at_k"][str(k)] = None
            continue
        lo, hi = min(lo, est), max(hi, est)
        out["pass_at_k"][str(k)] = {"predicted": est, "lower": lo, "upper": hi,
                                    "method": method}
        out["whole_benchmark"][str(k)] = {
            "lower": (covered * lo) / total, "upper": (covered * hi + uncovered) / total,
            "method": f"the covered problems' bounds, and the {uncovered} others anywhere "
                      "in [0, 1]"}
    return out
