"""Each bucket's prediction at the target from the fitted laws (pure): one law's estimate
with its calibrated interval, or the model average of several with the interval of their
mixture, and ``-E[log p]`` held to Jensen's bound beside the mean pass rate.

The intervals are :mod:`capability.prediction.calibrate`'s; what every bucket shares (the
reach, the level, the offsets' leverage and slope, the method texts) comes in one
:class:`TargetTerms`. Each bucket also gives the headline's joint pieces
(:mod:`capability.prediction.headline`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from capability.estimation.interval import ConfidenceInterval, IntervalEstimate
from capability.laws import LawFit
from capability.prediction.calibrate import (
    FALLBACK_DOF,
    FALLBACK_SIGMA,
    averaged_interval,
    calibrated_interval,
    fallback_posterior,
)
from capability.prediction.headline import JointPiece
from capability.prediction.law_error import EXACT_PRIOR, no_error_probability, with_share_prior
from capability.prediction.scales import SCALES

__all__ = ["TargetTerms", "averaged_bucket", "one_law_bucket", "consistent_neg_log"]


def _shared(fit: LawFit, b: int) -> np.ndarray:
    """Bucket ``b``'s column of the law's shared shifts (empty where it has none)."""
    shared = fit.mean_pass_rate_shared
    return shared[:, b] if shared.shape[0] else np.empty(0)


@dataclass(frozen=True)
class TargetTerms:
    """What every bucket's interval at the target shares: the reach (decades outside the
    ladder the law error grows with), the level, the offsets' leverage, the bend's loading
    (:func:`capability.prediction.offsets.bend_loading`), the method texts of the offsets'
    and the bend's terms (empty where not in the interval), and ``slope_of(law, q, j)``,
    the law's slope at the target in bucket ``j``."""

    reach: float
    level: float
    leverage: float
    bend: float
    offset_text: str
    bend_text: str
    slope_of: Callable[[str, str, int], float]


def averaged_bucket(j: int, weights: dict[str, float], fits, scores, widening, n_steps: int,
                     terms: TargetTerms):
    """Bucket ``j``'s model average: per quantity the interval of the mixture of the laws'
    posterior predictives (the backtests' where there are ``n_steps > 0``, else the
    fallback rule's, widened per law by ``widening``), and the headline's joint pieces."""
    ests, pieces = {}, None
    for q in ("mean_pass_rate", "neg_log_pass_rate"):
        comps = [(w, float(getattr(fits[law], q)[j]),
                  getattr(fits[law], f"{q}_draws")[:, j],
                  (scores[law].posterior or {}).get(q) if n_steps else
                  fallback_posterior(widening[law] * FALLBACK_SIGMA[q]))
                 for law, w in weights.items()]
        used = [law for law, c in zip(weights, comps) if c[3] is not None]
        comps = [c for c in comps if c[3] is not None]
        betas = [terms.slope_of(law, q, j) for law in used]
        spread = ("the posterior predictive over its law error per decade (from "
                  f"{n_steps} rolling backtest steps; prior: none with "
                  f"probability {EXACT_PRIOR:g}, else half-Cauchy)" if n_steps else
                  "the fallback rule (no rolling backtest: law error "
                  f"{FALLBACK_SIGMA[q]:g} per decade, Student t with {FALLBACK_DOF} "
                  "df, scaled up to the law's short-backtest error where that is "
                  "larger: " + ", ".join(f"{law} x {widening[law]:.2f}"
                                         for law in used) + ")")
        method = (f"model average of {len(used)} laws ({', '.join(used)}): each "
                  f"law's draws at the target, widened for its own error by {spread} "
                  f"on the {SCALES[q].name} scale x {terms.reach:.2f} decades to the "
                  f"target{terms.offset_text if n_steps else ''}"
                  f"{terms.bend_text}; the {terms.level:g} equal-tailed "
                  "interval of the mixture")
        ests[q] = averaged_interval(comps, q, terms.reach, terms.level, method,
                                    (betas, terms.leverage, terms.bend))
        if q == "mean_pass_rate":
            pieces = [JointPiece(law, w, est, draws, _shared(fits[law], j),
                                 with_share_prior(post), beta)
                      for law, (w, est, draws, post), beta in zip(used, comps, betas)]
    return ests, pieces


def one_law_bucket(j: int, law_name: str, fit: LawFit, sc, widen: float,
                    terms: TargetTerms):
    """Bucket ``j`` by one law: per quantity its calibrated interval (its backtests'
    posterior predictive, else the fallback rule's t widened by ``widen``), and the
    headline's joint piece."""
    ests, pieces = {}, None
    how = (f"law error from {sc.steps} rolling backtest step(s)" if sc.calibrated else
           "law error by the fallback rule (no rolling backtest)" +
           (f", x {widen:.2f}: the short backtest erred more" if widen > 1 else ""))
    for q in ("mean_pass_rate", "neg_log_pass_rate"):
        draws = getattr(fit, f"{q}_draws")[:, j]
        post = (sc.posterior or {}).get(q)
        spread = (f"posterior predictive over the law error per decade (posterior "
                  f"rms {sc.sigma[q]:.3g}, none with probability "
                  f"{no_error_probability(post):.2f}; prior: none with "
                  f"probability {EXACT_PRIOR:g}, else half-Cauchy)"
                  if post is not None
                  else f"{widen * sc.sigma[q]:.3g} per decade, Student t with "
                  f"{sc.dof:g} df")
        method = (f"{law_name}: {fit.noise_method}; widened for the law's own error: "
                  f"{how}, on the {SCALES[q].name} scale x {terms.reach:.2f} decades to "
                  f"the target: {spread}" + (terms.offset_text if post is not None else "") +
                  (terms.bend_text if post is not None else ""))
        beta = terms.slope_of(law_name, q, j)
        ests[q] = calibrated_interval(float(getattr(fit, q)[j]), draws, q,
                                      widen * sc.sigma[q], sc.dof, terms.reach, terms.level,
                                      method, posterior=post,
                                      offset=(beta, terms.leverage, terms.bend))
        if q == "mean_pass_rate":
            pieces = [JointPiece(
                law_name, 1.0, float(fit.mean_pass_rate[j]), draws, _shared(fit, j),
                with_share_prior(post if post is not None else
                                 fallback_posterior(widen * sc.sigma[q], sc.dof)),
                beta if post is not None else 0.0)]
    return ests, pieces


def consistent_neg_log(neg_log: IntervalEstimate, rate: IntervalEstimate) -> IntervalEstimate:
    """Hold ``-E[log p]`` to Jensen's bound beside the bucket's mean pass rate, ``-E[log p] >=
    -log E[p]``: its estimate at least ``-log`` of the mean pass rate's estimate, its upper
    bound at least ``-log`` of that rate's lower bound (a bucket whose mean pass rate may be
    as low as ``m_lo`` may have ``-E[log p]`` as high as ``-log m_lo`` at least), and its
    lower bound at least ``-log`` of the rate's upper bound. The laws on bucket means (``power``,
    ``linear``, ``no_change``) predict the two quantities apart, so a straight line may take
    ``-E[log p]`` to 0 beside a mean pass rate of 0.988 (EvalPerf's fifth bucket); without
    the upper bound's floor, a law that predicts every problem at 1 gave ``-E[log p]`` the
    interval [0, 0] beside a mean pass rate interval of, say, [0.97, 1]. The estimate is
    raised no higher than the (raised) upper bound, and the lower bound no higher than the
    estimate, so the interval holds its estimate; where the rate's lower bound is 0, the
    upper bound's floor is ``-log`` of the rate's estimate."""
    ci, est = neg_log.confidence_interval, neg_log.estimate
    rate_low = rate.confidence_interval.low
    bounds = {k: float(-np.log(v)) for k, v in (
        ("estimate", rate.estimate), ("low", rate.confidence_interval.high),
        ("high", rate_low if np.isfinite(rate_low) and rate_low > 0 else rate.estimate))
        if np.isfinite(v) and v > 0}
    if not (np.isfinite(est) and np.isfinite(ci.low) and np.isfinite(ci.high)):
        return neg_log
    high = max(ci.high, bounds.get("high", ci.high))
    estimate = min(max(est, bounds.get("estimate", est)), high)
    raised = {"estimate": estimate, "high": high,
              "low": min(max(ci.low, bounds.get("low", ci.low)), estimate)}
    moved = [k for k, old in (("estimate", est), ("low", ci.low), ("high", ci.high))
             if raised[k] > old]
    if not moved:
        return neg_log
    labels = {"low": "lower bound", "high": "upper bound"}
    return replace(neg_log, estimate=raised["estimate"],
                   confidence_interval=ConfidenceInterval(raised["low"], raised["high"]),
                   method=neg_log.method + "; " + ", ".join(labels.get(k, k) for k in moved)
                   + " raised to -log of the mean pass rate's (-E[log p] >= -log E[p])")
