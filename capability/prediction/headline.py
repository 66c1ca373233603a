"""The number a reader quotes: predicted pass@k over the problems the prediction covers,
and what it says about the whole benchmark (pure).

**pass@1** over the covered problems is the problem-weighted mean of the buckets' predicted
mean pass rates, ``sum_b n_b m_b / sum_b n_b``. Its interval is the ``level`` equal-tailed
interval of the buckets' *joint* predictive (:func:`joint_bucket_draws`), the same error model
each bucket's own interval is the marginal of (:mod:`capability.prediction.calibrate`),
with what it shares across buckets shared: a law's draw (one draw of every problem's
parameters), the prior mean's uncertainty that the per-problem laws' draws leave out
(:attr:`capability.laws.base.LawFit.mean_pass_rate_shared`), the law-error posterior's
node, the models' offsets and the bend, and the share of the law error common to the
buckets that the backtests show (``rho``, :mod:`capability.prediction.law_error`; its
prior where they cannot show it, as a ladder of three or four models: the piece's
posterior carries it); the rest of each bucket's law error is its own.
Without those pieces (a prediction assembled by hand) the bounds are the weighted sums of
the buckets' bounds: exact if the buckets err together, conservative otherwise.

**pass@k** (k > 1) needs each problem's pass rate, not only the bucket's mean: inside each
bucket the per-problem pass rates at the target (``p_i``) of the per-problem law the average
weighs most, on its own covariate (the bent law's axis, the two-step law's target loss:
:func:`capability.prediction.predict._per_problem_at_target`), are shifted
on the logit scale, ``p_i' = expit(logit p_i + delta_b)``, so that their mean is the
bucket's predicted mean pass rate (and, for the bounds, the bounds of its interval); then
``pass@k = mean_i 1 - (1 - p_i')^k``. pass@k rises with ``delta_b``, so bounds map to
bounds. The shape comes from draws of every problem's pass rate from the law's posterior.
The **estimate** is the mean over the draws of the summed pass@k, each draw shifted to the
buckets' predicted means: pass@k is concave in each ``p_i``, so the shape at the posterior
modes, which leaves out how uncertain each problem's pass rate is (most of all where the
small models rarely solve it), is too even and overstates pass@k (pass@10's mean error
over 20 seeds, modes -> draws: emergence 0.76 -> 0.44 points, 20 samples per problem 1.44
-> 0.71, ``interaction`` 1.09 -> 0.81). The estimate's draws leave out the target's own
problem-by-model effect (:meth:`capability.laws._hierarchical.HierarchicalFit.scattered`):
on the log-log link of the per-problem power and ceiling laws its lower tail puts far more
problems near 0 than the simulated effects, on the logit scale, do, and with it pass@100
on ``family`` ladders erred 2.32 points against 0.58 at the modes (0.55 without it; on 8
seeds the laws on the log-log link took pass@100 0.8-3.6 points below the truth, the
logistic law at most 0.13). The **bounds** carry the shape's uncertainty, that effect
included where the ladder shows scatter: each draw, so moved, is shifted to the bucket's
lower (upper) bound, and the bound is the ``(1 - level) / 2`` (``(1 + level) / 2``)
quantile over the draws of the summed pass@k -- a mean at its bound and a shape at its
quantile, so conservative, as a sum of bounds is -- or the modes shifted to the bound
where that lies further out. Without draws (a prediction assembled by hand) the shape is
taken at the modes, and the interval is narrower than it should be where that shape is
wrong. (The joint predictive's draws shifted to their own bucket means, in place of the
bounds, held pass@100 in 3 of 6 emergence ladders where this holds it in 5: the shape
matters most where a bucket's mean is low, and the joint draws rarely go there.)

Every problem's pass@k rises with k, and so does their mean: where pass@k's estimate or a
bound falls below that of a smaller k (pass@1's joint bounds can lie above the sums of the
buckets' bounds that pass@k's rest on, when the buckets' own intervals are wide), it is
raised to it, and its method says so.

**The whole benchmark.** Problems held out (the hardest by the ladder) or excluded are not
predicted. The bound for the whole benchmark assumes nothing about them: each may pass with
any rate in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

__all__ = ["shift_to_mean", "headline", "JointPiece", "joint_bucket_draws"]

_LOGIT_CLIP = 30.0
JOINT_DRAWS = 4000   # draws of the buckets' joint predictive
JOINT_TEXT = ("the equal-tailed interval of {n} draws of the buckets' joint predictive (a "
              "law's draw, its prior's uncertainty, its law-error posterior, the models' "
              "offsets, the bend and the law error's common share shared by every bucket; "
              "the rest of each bucket's law error its own)")


@dataclass(frozen=True)
class JointPiece:
    """One law's part in a bucket's mean pass rate predictive (its averaging weight; see
    :func:`capability.prediction.calibrate.averaged_interval`): the estimate, the law's
    draws at the target and its shared shifts (``LawFit.mean_pass_rate_shared[:, b]``,
    may be empty), the law-error posterior ``(sigma, weights[, tau, kappa])`` and the
    bucket's slope per decade on the angular scale at the target (0 without offsets)."""

    law: str
    weight: float
    estimate: float
    draws: np.ndarray
    shared: np.ndarray
    posterior: tuple
    beta: float = 0.0


def _shared_key(piece: JointPiece) -> tuple:
    """What a law's pieces in every bucket share their draw, shift and node by."""
    return piece.law, len(piece.draws), len(piece.shared), np.size(piece.posterior[1])


def joint_bucket_draws(pieces, distance: float, leverage: float, bend: float,
                       rng: np.random.Generator,
                       n_draws: int = JOINT_DRAWS) -> np.ndarray | None:
    """Draws of the buckets' mean pass rates from their joint predictive, ``(n_draws,
    n_buckets)`` (NaN in a bucket without pieces), or None where no bucket has pieces.

    ``pieces[b]`` is bucket ``b``'s list of :class:`JointPiece` (None: no prediction, left
    out as the headline leaves it; a bucket with pieces but none of positive weight and
    finite estimate, or a draw that is not finite, gives None).

    Each of ``n_draws`` joint draws takes, on the angular scale ``t``
    (:mod:`capability.prediction.scales`), per bucket

        ``t_l + (t(x_lr + s_lr') - mean_r t(x_lr)) + sigma d z + beta tau sqrt(L) z_o
        + beta kappa g z_k``

    with ``x_lr`` the law's draw ``r`` and ``s_lr'`` its shared shift ``r'``. The law ``l``
    is drawn by the bucket's weights from one uniform shared by every bucket (where the
    buckets weigh the laws alike they draw the same law). Shared by every bucket: the
    law's ``r``, ``r'`` and posterior node ``(sigma, tau, kappa)`` (the posterior is the
    law's, one for every bucket), the offsets' ``z_o``, the bend's ``z_k`` and the law
    error's common part ``z_c``. The bucket's own: ``z_b``; its law error is ``sqrt(1 -
    rho) z_b + sqrt(rho) z_c`` (``z ~ N(0, 1)``, ``rho`` the node's common share). ``d``
    is the distance in decades, ``L`` the offsets' leverage and ``g`` the bend's loading
    (``bend``), as in :func:`capability.prediction.calibrate.averaged_interval`."""
    from capability.prediction.law_error import (
        posterior_bends,
        posterior_shares,
        posterior_spreads,
    )
    from capability.prediction.scales import SCALES

    scale = SCALES["mean_pass_rate"]
    kept = [b for b, ps in enumerate(pieces) if ps]
    if not kept:
        return None
    d = max(float(distance), 0.0)
    uniform = rng.random(n_draws)
    z_off, z_bend = rng.standard_normal((2, n_draws))
    z_own = rng.standard_normal((len(kept), n_draws))
    z_common = rng.standard_normal(n_draws)
    laws = sorted({p.law for b in kept for p in pieces[b]})
    # Per law (and posterior), shared by every bucket: its draw r, shift r' and the law-error
    # posterior's node, read as the node's (sigma, rho, tau, kappa) per joint draw.
    index = {}
    for p in (p for b in kept for p in pieces[b]):
        if _shared_key(p) not in index:
            post = p.posterior
            post_w = np.asarray(post[1], float)
            r = rng.integers(0, max(len(p.draws), 1), n_draws)
            r_shift = rng.integers(0, max(len(p.shared), 1), n_draws)
            node = rng.choice(post_w.size, n_draws, p=post_w / post_w.sum())
            index[_shared_key(p)] = (r, r_shift,
                                     np.asarray(post[0])[node], posterior_shares(post)[node],
                                     posterior_spreads(post)[node], posterior_bends(post)[node])
    out = np.full((n_draws, len(pieces)), np.nan)
    for b, z in zip(kept, z_own):
        ps = sorted((p for p in pieces[b] if p.weight > 0 and np.isfinite(p.estimate)),
                    key=lambda p: laws.index(p.law))
        if not ps:   # a bucket the headline counts with nothing to draw it from
            return None
        cum = np.cumsum([p.weight for p in ps])
        pick = np.minimum(np.searchsorted(cum / cum[-1], uniform), len(ps) - 1)
        value = np.empty(n_draws)
        for j, p in enumerate(ps):
            rows = pick == j
            r, r_shift, sigma, rho, spread, kappa = (i[rows] for i in index[_shared_key(p)])
            draws = np.asarray(p.draws, float)
            finite = np.isfinite(draws)
            noise = np.zeros(rows.sum())
            if finite.sum() >= 2:
                x = np.where(finite[r], draws[r], np.nan)
                if np.size(p.shared):
                    x = x + np.asarray(p.shared, float)[r_shift]
                t_x = scale.forward(np.clip(x, 0.0, 1.0))
                noise = np.where(np.isfinite(x), t_x - scale.forward(draws[finite]).mean(),
                                 0.0)
            beta = float(p.beta) if np.isfinite(p.beta) else 0.0
            z_law = np.sqrt(1.0 - rho) * z[rows] + np.sqrt(rho) * z_common[rows]
            t = (float(scale.forward(p.estimate)) + noise + sigma * d * z_law +
                 beta * spread * np.sqrt(leverage) * z_off[rows] +
                 beta * kappa * bend * z_bend[rows])
            value[rows] = scale.inverse(t)
        if not np.all(np.isfinite(value)):
            return None
        out[:, b] = value
    return out


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


def _shifted(per_bucket_p, targets) -> list[np.ndarray]:
    """Each bucket's pass rates shifted to its target mean (:func:`shift_to_mean`)."""
    return [shift_to_mean(p, t) for p, t in zip(per_bucket_p, targets)]


def _summed_pass_at_k(shifted: list[np.ndarray], w, k: int) -> float:
    """``sum_b w_b pass@k`` of the buckets' shifted pass rates."""
    return float(np.sum(w * np.array([_pass_at_k(q, k) for q in shifted])))


def _within_bucket_shapes(per_problem, kept, targets: dict) -> tuple[dict, dict | None]:
    """The shapes pass@k (k > 1) sums, shifted once for every k: the posterior modes at the
    buckets' bounds (``"low"``, ``"high"``) and, without draws, at their means (``"mean"``);
    and per draw, the draws at the means and the scattered draws at the bounds (None
    without draws). ``targets`` maps each side to the kept buckets' target means."""
    modes, draws, scattered = (tuple(per_problem) + (None,))[:3]
    scattered = draws if scattered is None else scattered
    at_modes = {side: _shifted([modes[j] for j in kept], targets[side])
                for side in (("low", "high") if draws is not None else targets)}
    if draws is None:
        return at_modes, None
    n_draws = min(np.shape(d[j])[0] for d in (draws, scattered) for j in kept)
    at_draws = {side: [_shifted([d[j][r] for j in kept], targets[side])
                       for r in range(n_draws)]
                for side, d in (("mean", draws), ("low", scattered), ("high", scattered))}
    return at_modes, at_draws


def headline(sizes, means, lows, highs, *, per_problem=None, ks=(1, 10, 100), total: int,
             held_out: int, excluded: int, level: float, joint=None,
             shape_law: str | None = None) -> dict:
    """The ``overall`` entry of ``prediction.json``.

    Parameters
    ----------
    sizes, means, lows, highs
        Per bucket: problems, predicted mean pass rate and its interval's bounds (buckets
        without a prediction are passed as NaN and left out).
    per_problem
        ``(modes, draws[, scattered])``: per bucket the per-problem pass rates of a
        per-problem law at the target at its posterior modes (arrays of the bucket's size),
        draws from its posterior (arrays ``(draws, size)``, or None) and those draws moved
        by the target's own problem-by-model effects (the bounds'; ``draws`` where not
        given), or None: then pass@k is given for k = 1 only.
    total, held_out, excluded
        The benchmark's number of problems, and how many were held out or excluded.
    joint
        Draws of the buckets' mean pass rates from their joint predictive, ``(draws,
        n_buckets)`` (:func:`joint_bucket_draws`), or None: then pass@1's bounds are the
        weighted sums of the buckets' bounds. pass@k's (k > 1) are those sums either way.
    shape_law
        The name of the law ``per_problem`` comes from, for pass@k's method text.
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
    tails = [(1 - level) / 2, (1 + level) / 2]
    if joint is not None and not np.all(np.isfinite(joint[:, ok])):
        joint = None   # a counted bucket the joint predictive has no draws of
    floor = None   # the last smaller k's (estimate, lower, upper): pass@k rises with k
    source = "a per-problem law" if shape_law is None else \
        f"the {shape_law} law (the per-problem law the average weighs most)"
    if per_problem is not None and any(k > 1 for k in ks):
        at_modes, at_draws = _within_bucket_shapes(
            per_problem, np.flatnonzero(ok),
            {"mean": means[ok], "low": lows[ok], "high": highs[ok]})
    for k in sorted(ks):
        if k == 1:
            est, lo, hi = (float(np.sum(w * v[ok])) for v in (means, lows, highs))
            bounds = "the same weighted sum of their interval bounds"
            if joint is not None:
                lo, hi = (float(v) for v in np.quantile(joint[:, ok] @ w, tails))
                bounds = JOINT_TEXT.format(n=joint.shape[0])
            method = ("problem-weighted mean of the buckets' predicted mean pass rates; "
                      f"bounds: {bounds}")
        elif per_problem is not None:
            lo, hi = (_summed_pass_at_k(at_modes[side], w, k) for side in ("low", "high"))
            if at_draws is None:
                est = _summed_pass_at_k(at_modes["mean"], w, k)
                method = (f"per-problem pass rates of {source} at the target, shifted "
                          "on the logit scale in each bucket to the bucket's prediction (and "
                          "its bounds); bounds summed over buckets")
            else:
                at = {side: [_summed_pass_at_k(q, w, k) for q in shifted]
                      for side, shifted in at_draws.items()}
                est = float(np.mean(at["mean"]))
                lo = min(lo, float(np.quantile(at["low"], tails[0])))
                hi = max(hi, float(np.quantile(at["high"], tails[1])))
                method = (f"per-problem pass rates of {source} at the target, the "
                          f"within-bucket shape from {len(at['mean'])} draws of the law's "
                          "per-problem posterior, each shifted on the logit scale in each "
                          "bucket to the bucket's prediction: the estimate their mean; the "
                          f"bounds the {tails[0]:g} and {tails[1]:g} quantiles of the draws "
                          "(each moved by the target's own problem-by-model effect where the "
                          "ladder shows scatter) shifted to the buckets' bounds and summed over "
                          "buckets, or the posterior modes' so shifted where further out")
        else:
            out["pass_at_k"][str(k)] = None
            continue
        if floor is not None and (est < floor[0] or lo < floor[1] or hi < floor[2]):
            # every problem's pass@k is at least its pass@j (j < k), so is their mean, and
            # so are its estimate and bounds (the sums of bounds can fall below the joint's)
            est, lo, hi = (max(v, f) for v, f in zip((est, lo, hi), floor))
            method += "; raised to the smaller k's where below them (pass@k rises with k)"
        # in [0, 1]: weights that sum to 1 in exact arithmetic can sum to 1 + 2e-16 in floats
        est, lo, hi = (min(max(v, 0.0), 1.0) for v in (est, lo, hi))
        lo, hi = min(lo, est), max(hi, est)
        floor = (est, lo, hi)
        out["pass_at_k"][str(k)] = {"predicted": est, "lower": lo, "upper": hi,
                                    "method": method}
        out["whole_benchmark"][str(k)] = {
            "lower": (covered * lo) / total,
            "upper": min((covered * hi + uncovered) / total, 1.0),
            "method": f"the covered problems' bounds, and the {uncovered} others anywhere "
                      "in [0, 1]"}
    for key in ("pass_at_k", "whole_benchmark"):   # in the order asked for
        out[key] = {str(k): out[key][str(k)] for k in ks if str(k) in out[key]}
    return out
