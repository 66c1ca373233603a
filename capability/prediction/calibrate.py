"""Calibrated intervals at the target (pure): each law's posterior predictive over its law
error, the models' offsets and a bend (:mod:`capability.prediction.law_error`), and the
model average's mixture of them (:mod:`capability.prediction.selection` weighs the laws).

**Interval.** At the target, ``d_T = log10(C_T / C_max)`` decades beyond the largest ladder
model (nominal compute, as every backtest step's distance, also where the laws are
fitted on effective compute: :mod:`capability.prediction.offsets`), on the quantity's
scale, a law predicts ``N(t_hat, v_noise + sigma^2 d_T^2 + beta_T^2 tau^2 L_T +
beta_T^2 kappa^2 g_T^2)`` with ``(sigma, tau, kappa)`` from its posterior, ``v_noise``
the variance of the law's draws, ``beta_T`` the bucket's slope at the target, ``L_T``
:func:`capability.prediction.offsets.offset_leverage` and ``g_T`` the bend's loading there,
:func:`capability.prediction.offsets.bend_loading` (quadratic in the distance from the
ladder's centre in log compute); the interval is
the ``level`` equal-tailed interval of that posterior predictive (a normal mixture over the
posterior; symmetric about ``t_hat``). The bounds are clipped to the scale's domain and
mapped back, so every interval holds its estimate and lies in its domain.

**Too few ladder models.** With fewer than ``min_below + 1`` ladder models there is no
rolling backtest; the law's error is then taken as ``FALLBACK_SIGMA`` per decade, Student
t with ``FALLBACK_DOF`` degrees of freedom (a stated rule, tested on simulated ladders),
added to the law's draws' noise (:func:`fallback_posterior`: the t as a scale mixture of
normals, so that the interval is the same posterior predictive as a calibrated one's), and
the prediction says so. The short backtest that then weighs the laws, and may
widen the rule, is :mod:`capability.prediction.selection`'s.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
from scipy import special, stats

from capability.estimation.interval import ConfidenceInterval, IntervalEstimate
from capability.prediction.law_error import posterior_bends, posterior_spreads
from capability.prediction.scales import SCALES, Scale

__all__ = ["calibrated_interval", "averaged_interval", "fallback_posterior",
           "FALLBACK_SIGMA", "FALLBACK_DOF"]

FALLBACK_SIGMA = {"mean_pass_rate": 0.2, "neg_log_pass_rate": 1.0}
FALLBACK_DOF = 3
FALLBACK_NODES = 128   # equal-probability nodes of the fallback's chi-square mixing law


def _mixture_bounds(centres: np.ndarray, sds: np.ndarray, weights: np.ndarray,
                    level: float) -> tuple[float, float]:
    """Equal-tailed ``level`` bounds of the normal mixture ``sum_i w_i N(c_i, sd_i^2)``
    (a component with sd 0 is a point mass at its centre), each to within ``1e-10``:
    Newton's method on the cdf (the mixture's density its derivative) from the quantile
    of a normal with the mixture's mean and variance, inside a bracket that every
    evaluation narrows, bisecting where a step would leave it (at a point mass, say)."""
    keep = weights > 0
    centres, sds, weights = centres[keep], sds[keep], weights[keep] / weights[keep].sum()
    pos = sds > 0
    c_pos, s_pos, w_pos = centres[pos], sds[pos], weights[pos]
    c_pt, w_pt = centres[~pos], weights[~pos]
    w_density = w_pos / (s_pos * np.sqrt(2 * np.pi))   # each normal's weight over its sd
    mean = float(np.sum(weights * centres))
    spread = float(np.sqrt(np.sum(weights * ((centres - mean) ** 2 + sds**2))))
    low, high = float(np.min(centres - 10 * sds)) - 1e-9, float(np.max(centres + 10 * sds)) + 1e-9

    def quantile(p):
        lo, hi = low, high
        x = min(max(mean + spread * float(special.ndtri(p)), lo), hi)
        for _ in range(200):
            u = (x - c_pos) / s_pos
            gap = float(np.sum(w_pos * special.ndtr(u)) + np.sum(w_pt[x >= c_pt])) - p
            if gap == 0.0:
                return x
            lo, hi = (x, hi) if gap < 0 else (lo, x)
            with np.errstate(over="ignore"):   # u * u -> inf for a tiny sd: exp gives 0, right
                density = float(np.sum(w_density * np.exp(-0.5 * u * u)))
                new = x - gap / density if density > 0 else np.nan
            if not lo < new < hi:
                new = 0.5 * (lo + hi)
            if abs(new - x) < 1e-10 or hi - lo < 1e-10:
                return float(new)
            x = float(new)
        return x

    return quantile(0.5 - level / 2), quantile(0.5 + level / 2)


def _noise_variance(draws: np.ndarray, scale: Scale) -> float:
    """The variance of a law's draws on the scale (0 with fewer than two finite draws)."""
    t = scale.forward(draws[np.isfinite(draws)]) if draws.size else np.empty(0)
    v = float(np.var(t, ddof=1)) if t.size >= 2 else 0.0
    return v if np.isfinite(v) else 0.0


def averaged_interval(components, quantity: str, distance: float, level: float,
                      method: str, offset=None) -> IntervalEstimate:
    """The model average's estimate and interval for one bucket and quantity.

    ``components`` is ``[(weight, estimate, draws, posterior), ...]``, one per law: its
    averaging weight, point estimate, draws at the target and law-error posterior
    ``(sigma, weights)`` or ``(sigma, weights, tau, kappa[, rho])``
    (:func:`capability.prediction.law_error.law_error_posterior`; ``rho``, the law error's
    share common to the buckets, matters to the headline, not to one bucket).
    On the quantity's scale, law ``l`` predicts ``N(t_l, v_l + sigma^2 d_T^2)`` with ``v_l``
    its draws' variance and ``sigma`` from its posterior; the average is the mixture over
    laws and ``sigma``: the estimate ``inverse(sum_l w_l t_l)`` and the interval the
    mixture's equal-tailed ``level`` bounds, clipped to the domain and mapped back (and
    widened to hold the estimate, should the round trip move a bound past it).

    A posterior ``(sigma, weights, tau, kappa)`` also carries the models' offsets from
    their family's trend (:mod:`capability.prediction.offsets`) and a bend in its growth:
    with ``offset = (beta, leverage, g)``, ``beta`` the bucket's slope per decade on the
    scale at the target (one for every law, or one per component: each law's own),
    ``leverage`` :func:`capability.prediction.offsets.offset_leverage` and ``g`` the bend's
    loading at the target, :func:`capability.prediction.offsets.bend_loading` (left out:
    0, no bend), each cell adds the variance ``(beta tau)^2 leverage + (beta kappa g)^2``."""
    scale = SCALES[quantity]
    beta, leverage, bend_at = (0.0, 0.0, 0.0) if offset is None else (*offset, 0.0)[:3]
    betas = np.broadcast_to(np.asarray(beta, float), (len(components),))
    betas = np.where(np.isfinite(betas), betas, 0.0)
    keep = [i for i, c in enumerate(components) if c[0] > 0 and np.isfinite(c[1])]
    kept = [components[i] for i in keep]
    comps = [(w, float(scale.forward(est)), _noise_variance(draws, scale), post)
             for w, est, draws, post in kept]
    if not comps:
        return IntervalEstimate(float("nan"), ConfidenceInterval(np.nan, np.nan), level,
                                "no estimate")
    total = sum(c[0] for c in comps)
    t_bar = sum(w * t for w, t, _, _ in comps) / total
    d = max(distance, 0.0)
    centres, sds, weights = [], [], []
    for i, (w, t, v, post) in zip(keep, comps):
        sd = np.sqrt(v + (post[0] * d) ** 2 + (betas[i] * posterior_spreads(post)) ** 2 *
                     leverage + (betas[i] * posterior_bends(post) * bend_at) ** 2)
        # A law's cells of one sd are one term of their summed weight: the same mixture in
        # fewer terms (cells that differ in the common share alone, which moves no bucket's
        # own interval, or in equal nodes of the offsets' spread; a quarter to a twentieth
        # of the terms on a 48-problem ladder, 200 resamples).
        sd, term = np.unique(sd, return_inverse=True)
        centres.append(np.full(sd.size, t))
        sds.append(sd)
        weights.append(np.bincount(term.ravel(), weights=w / total * np.asarray(post[1], float),
                                   minlength=sd.size))
    t_low, t_high = _mixture_bounds(*map(np.concatenate, (centres, sds, weights)), level)
    # One law: its own estimate (the round trip through the scale may move it by an ulp).
    est = float(kept[0][1]) if len(kept) == 1 else float(scale.inverse(t_bar))
    low = min(float(scale.inverse(t_low)), est)
    high = max(float(scale.inverse(t_high)), est)
    return IntervalEstimate(est, ConfidenceInterval(low, high), level, method)


def fallback_posterior(sigma: float, dof: float = FALLBACK_DOF) -> tuple[np.ndarray, np.ndarray]:
    """The fallback rule's law error per decade as a law-error posterior ``(sigma, weights)``
    (the form :func:`averaged_interval` takes): Student's t with ``dof`` degrees of freedom
    and scale ``sigma`` is the normal scale mixture ``N(0, sigma^2 dof / X)``, ``X ~
    chi^2_dof``, here on ``FALLBACK_NODES`` equal-probability nodes of ``X`` (the mixture's
    0.95 quantile is 2.352 at 3 degrees of freedom, against the t's 2.353)."""
    return (max(float(sigma), 0.0) * _t_scales(float(dof)),
            np.full(FALLBACK_NODES, 1.0 / FALLBACK_NODES))


@functools.lru_cache(maxsize=8)
def _t_scales(dof: float) -> np.ndarray:
    """``sqrt(dof / X)`` at ``FALLBACK_NODES`` equal-probability nodes of ``X ~ chi^2_dof``
    (:func:`fallback_posterior`; computed once per ``dof``, read-only)."""
    x = stats.chi2.ppf((np.arange(FALLBACK_NODES) + 0.5) / FALLBACK_NODES, dof)
    out = np.sqrt(dof / x)
    out.setflags(write=False)
    return out


def calibrated_interval(estimate: float, draws: np.ndarray, quantity: str, sigma: float,
                        dof: float, distance: float, level: float, method: str,
                        posterior: tuple[np.ndarray, ...] | None = None,
                        offset=None) -> IntervalEstimate:
    """The interval of the module docstring for one law, bucket and quantity: the posterior
    predictive (an :func:`averaged_interval` of one law) over the law error's
    ``posterior`` from the backtests; without it, over the fallback rule's
    (:func:`fallback_posterior`: ``sigma`` per decade, Student t with ``dof``), the law's
    draws' noise added to it."""
    if posterior is None:
        posterior = fallback_posterior(sigma, dof)
        offset = None
    out = averaged_interval([(1.0, estimate, draws, posterior)], quantity, distance,
                            level, method, offset)
    return replace(out, bootstrap_distribution=draws) if np.isfinite(out.estimate) else out
