"""Scaling laws, their fits, and intervals for values extrapolated to the target's compute.

Pure numpy/scipy: arrays in, frozen dataclasses out, no I/O.

Two laws:

* the capability law of the GPT-4 report, per bucket ``P`` of problems,
  ``-E_P[log pass_rate(C)] = alpha * C^(-k)`` (:func:`fit_bucket_law`);
* the loss law ``L(C) = a * C^b + c`` with ``b < 0`` (:func:`fit_loss_law`).

Compute ``C`` is in training FLOPs throughout. Fits work in ``x = log(C / C_T)``, the log of
compute relative to the target's, so the intercept *is* the extrapolated value and nothing is
ill-conditioned when ``C ~ 1e24``; ``alpha`` for ``C`` in FLOPs is reported from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from capability.errors import FitError
from capability.estimate import neg_log_pass_rate
from capability.interval import ConfidenceInterval, IntervalEstimate

__all__ = [
    "PowerLawFit",
    "fit_power_law",
    "BucketLaw",
    "fit_bucket_law",
    "LossLawFit",
    "fit_loss_law",
]


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _level_iv(confidence_level: float) -> float:
    if not 0 < confidence_level < 1:
        raise ValueError(f"`confidence_level` must be in (0, 1). Got {confidence_level!r} "
                         "instead.")
    return float(confidence_level)


def _wls_lines(x: np.ndarray, log_y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares lines ``log_y = b0 + b1 x`` over the last axis (vectorised).

    Rows with fewer than two points of positive weight give NaN."""
    sw = w.sum(-1)
    sx = (w * x).sum(-1)
    sy = (w * log_y).sum(-1)
    sxx = (w * x * x).sum(-1)
    sxy = (w * x * log_y).sum(-1)
    det = sw * sxx - sx * sx
    ok = ((w > 0).sum(-1) >= 2) & (det > 1e-12 * np.maximum(sw * sxx, 1e-300))
    with np.errstate(invalid="ignore", divide="ignore"):
        b1 = np.where(ok, (sw * sxy - sx * sy) / det, np.nan)
        b0 = np.where(ok, (sy - b1 * sx) / sw, np.nan)
    return b0, b1


@dataclass(frozen=True)
class PowerLawFit:
    """``y(C) = alpha * C^(-k)``, fitted by weighted least squares on ``log y``.

    Attributes
    ----------
    alpha, k
        The law for ``C`` in FLOPs.
    compute_ref
        The reference compute (the target's), FLOPs.
    value_at_ref
        ``y(compute_ref) = alpha * compute_ref^(-k)``: the extrapolated value.
    compute, y, weights
        The points used (weights are on ``log y``; zero for points left out).
    """

    alpha: float
    k: float
    compute_ref: float
    value_at_ref: float
    compute: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)

    def predict(self, compute) -> np.ndarray:
        """``value_at_ref * (C / compute_ref)^(-k)``, elementwise over ``compute`` (FLOPs)."""
        return self.value_at_ref * (np.asarray(compute, float) / self.compute_ref) ** (-self.k)


def fit_power_law(compute, y, *, compute_ref: float, weights=None) -> PowerLawFit:
    """Fit ``y = alpha * C^(-k)`` by (weighted) least squares of ``log y`` on ``log C``.

    Points with ``y <= 0``, non-finite ``y`` or zero weight are left out.
    ``weights`` are inverse variances of ``log y``; None means ordinary least squares.

    Raises
    ------
    FitError
        Fewer than two usable points at distinct compute.
    """
    compute = np.asarray(compute, float)
    y = np.asarray(y, float)
    w = np.ones_like(y) if weights is None else np.asarray(weights, float).copy()
    if compute.shape != y.shape or w.shape != y.shape or compute.ndim != 1:
        raise ValueError("`compute`, `y` and `weights` must be 1-d and the same length.")
    if np.any(~np.isfinite(compute) | (compute <= 0)) or not compute_ref > 0:
        raise ValueError("`compute` and `compute_ref` must be finite and > 0 (FLOPs).")
    usable = np.isfinite(y) & (y > 0) & np.isfinite(w) & (w > 0)
    w = np.where(usable, w, 0.0)
    x = np.log(compute / compute_ref)
    b0, b1 = _wls_lines(x, np.log(np.where(usable, y, 1.0)), w)
    if not np.isfinite(b0):
        raise FitError(f"a power law needs at least two usable points (y > 0) at distinct "
                       f"compute; got {int(usable.sum())} of {y.size}")
    k = float(-b1)
    value = float(np.exp(b0))
    return PowerLawFit(alpha=value * compute_ref**k, k=k, compute_ref=float(compute_ref),
                       value_at_ref=value, compute=compute, y=y, weights=w)


@dataclass(frozen=True)
class BucketLaw:
    """One bucket's law and its extrapolation to the target.

    Attributes
    ----------
    fit
        The law fitted to the bucket means ``ybar_m`` of the per-problem ``-log p``
        estimates, one point per ladder model.
    neg_log_pass_rate
        ``-E_P[log pass_rate]`` at the target's compute, with its interval.
    mean_pass_rate
        ``E_P[pass_rate]`` at the target's compute, with its interval.
    bucket_mean, bucket_variance
        ``ybar_m`` and its sampling variance per ladder model (the points of the fit).
    per_problem
        Each problem's predicted ``-log p`` at the target.
    lack_of_fit
        The scale factor ``max(1, sqrt(chi2 / (M - 2)))`` by which the interval was widened
        for scatter of the points beyond sampling noise.
    """

    fit: PowerLawFit
    neg_log_pass_rate: IntervalEstimate
    mean_pass_rate: IntervalEstimate
    bucket_mean: np.ndarray = field(repr=False)
    bucket_variance: np.ndarray = field(repr=False)
    per_problem: np.ndarray = field(repr=False)
    lack_of_fit: float = 1.0


def _bucket_points(n, c, estimator):
    """Bucket means of the per-problem ``-log p`` estimates and their variances.

    ``n``, ``c`` have shape ``(..., M, B)``; returns ``(y_cells, ybar, var_ybar, w_log)``."""
    est = neg_log_pass_rate(n, c, estimator=estimator)
    y = est.estimate
    b = y.shape[-1]
    ybar = y.mean(-1)
    var = est.variance.sum(-1) / b**2
    with np.errstate(divide="ignore", invalid="ignore"):
        w_log = np.where(ybar > 0, ybar**2 / var, 0.0)  # inverse variance of log(ybar)
    return y, ybar, var, w_log


def _per_problem_at_target(y, ratio, value_at_target):
    """Each problem's ``-log p`` at the target: ``a_i = sum_m y_im / sum_m r_m`` with
    ``r_m = (C_m / C_T)^(-k)``, rescaled so that ``mean_i a_i`` equals the bucket's law."""
    a = y.sum(-2) / ratio.sum(-1)[..., None]
    mean_a = a.mean(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(mean_a > 0, np.asarray(value_at_target)[..., None] / mean_a, 0.0)
    return a * scale


def _basic_interval(estimate, boot_estimates, boot_truth, level, transform, inverse):
    """Basic (reverse-percentile) bootstrap interval on a transformed scale:
    ``[t - q_hi(t* - t_true*), t - q_lo(t* - t_true*)]`` with ``t = transform(estimate)``."""
    tail = (1 - level) / 2
    err = transform(boot_estimates) - transform(boot_truth)
    err = err[np.isfinite(err)]
    if err.size < 10 or not np.isfinite(transform(estimate)):
        return ConfidenceInterval(np.nan, np.nan), err
    q_lo, q_hi = np.quantile(err, [tail, 1 - tail])
    t = transform(estimate)
    return ConfidenceInterval(float(inverse(t - q_hi)), float(inverse(t - q_lo))), err


def fit_bucket_law(n, c, compute, *, target_compute: float, estimator: str = "series",
                   confidence_level: float = 0.9, n_resamples: int = 1000,
                   rng=None) -> BucketLaw:
    """Fit one bucket's law and extrapolate it to ``target_compute`` with intervals.

    Parameters
    ----------
    n, c
        Counts of shape ``(M, B)``: ``M`` ladder models (rows, any order) by the ``B``
        problems of the bucket.
    compute
        Training compute of the ``M`` ladder models, FLOPs.
    target_compute
        The target's training compute, FLOPs.
    estimator
        Per-problem ``-log p`` estimator (see :func:`capability.estimate.neg_log_pass_rate`).
    confidence_level
        Level of the two-sided intervals (default 0.9).
    n_resamples
        Bootstrap resamples.
    rng
        None, an int seed or a ``numpy.random.Generator``.

    Notes
    -----
    **Point estimate.** Per model ``m`` the bucket mean ``ybar_m = mean_i yhat_im`` of the
    per-problem estimates, then weighted least squares of ``log ybar_m`` on
    ``log(C_m / C_T)`` with weights ``ybar_m^2 / Var(ybar_m)`` (inverse delta-method
    variances of ``log ybar_m``; ``Var(ybar_m) = sum_i Var(yhat_im) / B^2``). The intercept is
    the prediction ``-E_P[log pass_rate(C_T)]``. Per problem, ``a_i`` is the ratio estimate
    ``sum_m yhat_im / sum_m (C_m/C_T)^(-k)``, rescaled to the bucket's prediction; the
    predicted mean pass rate is ``mean_i exp(-a_i)``.

    **Interval.** A parametric bootstrap over binomial sampling noise, from the fitted
    model: counts are redrawn as ``c*_im ~ Binomial(n_im, exp(-a_i (C_m/C_T)^(-k)))``, the
    whole estimate is recomputed, and the basic (reverse-percentile) interval is taken from
    the errors ``log yhat*_T - log(mean_i a_i)`` against the bootstrap world's own truth, so
    the estimator's bias is accounted for. When the points scatter about the line more than
    sampling noise explains (``chi2 / (M - 2) > 1`` with bootstrap variances), the interval's
    half-widths on the log scale are multiplied by ``sqrt(chi2 / (M - 2))`` (the Particle
    Data Group's scale factor). The problems of the bucket are held fixed: the interval is
    for these problems, not for a new draw of problems.

    Raises
    ------
    FitError
        Fewer than two ladder models with a positive bucket mean.
    """
    level = _level_iv(confidence_level)
    n = np.asarray(n)
    c = np.asarray(c)
    compute = np.asarray(compute, float)
    if n.ndim != 2 or n.shape != c.shape or compute.shape != (n.shape[0],):
        raise ValueError(f"`n` and `c` must have shape (models, problems) and `compute` one "
                         f"value per model. Got {n.shape}, {c.shape} and {compute.shape}.")
    if n.shape[1] == 0:
        raise FitError("the bucket has no problems")
    if not (isinstance(n_resamples, (int, np.integer)) and n_resamples >= 0):
        raise ValueError(f"`n_resamples` must be an integer >= 0. Got {n_resamples!r}.")
    rng = _rng(rng)
    x = np.log(compute / target_compute)

    y, ybar, var, w = _bucket_points(n, c, estimator)
    fit = fit_power_law(compute, ybar, compute_ref=target_compute, weights=w)
    ratio = np.exp(-fit.k * x)
    a = _per_problem_at_target(y, ratio, fit.value_at_ref)
    mean_rate = float(np.exp(-a).mean())

    method = (f"parametric bootstrap over binomial sampling noise ({n_resamples} resamples "
              "from the fitted per-problem laws), basic interval on the log scale")
    if n_resamples == 0:
        nan_ci = ConfidenceInterval(np.nan, np.nan)
        return BucketLaw(fit=fit,
                         neg_log_pass_rate=IntervalEstimate(fit.value_at_ref, nan_ci, level,
                                                            "no interval (n_resamples=0)"),
                         mean_pass_rate=IntervalEstimate(mean_rate, nan_ci, level,
                                                         "no interval (n_resamples=0)"),
                         bucket_mean=ybar, bucket_variance=var, per_problem=a)

    # Bootstrap world: the fitted per-problem laws are the truth.
    p_star = np.exp(-a[None, :] * ratio[:, None])
    c_star = rng.binomial(n[None], p_star[None], size=(n_resamples, *n.shape))
    y_s, ybar_s, _, w_s = _bucket_points(np.broadcast_to(n, c_star.shape), c_star, estimator)
    log_ybar_s = np.log(np.where(ybar_s > 0, ybar_s, 1.0))
    b0_s, b1_s = _wls_lines(x, log_ybar_s, w_s)
    value_s = np.exp(b0_s)
    ratio_s = np.exp(b1_s[:, None] * x[None, :])
    a_s = _per_problem_at_target(y_s, ratio_s, value_s)
    rate_s = np.exp(-a_s).mean(-1)
    truth_value = a.mean()
    truth_rate = float(np.exp(-a).mean())

    # Lack of fit: scatter of the real points about the line vs bootstrap variance.
    boot_var_log = np.nanvar(log_ybar_s, axis=0, ddof=1)
    used = fit.weights > 0
    dof = int(used.sum()) - 2
    scale = 1.0
    if dof > 0 and np.all(boot_var_log[used] > 0):
        resid = np.log(ybar[used]) - np.log(fit.predict(compute[used]))
        chi2 = float(np.sum(resid**2 / boot_var_log[used]))
        scale = max(1.0, float(np.sqrt(chi2 / dof)))

    ci_log, _ = _basic_interval(fit.value_at_ref, value_s, truth_value, level, np.log, np.exp)
    if scale > 1 and np.isfinite(ci_log.low):
        t = np.log(fit.value_at_ref)
        ci_log = ConfidenceInterval(float(np.exp(t - scale * (t - np.log(ci_log.low)))),
                                    float(np.exp(t + scale * (np.log(ci_log.high) - t))))
    ci_rate, _ = _basic_interval(mean_rate, rate_s, truth_rate, level, special.logit,
                                 special.expit)
    if scale > 1 and np.isfinite(ci_rate.low):
        t = special.logit(mean_rate)
        ci_rate = ConfidenceInterval(
            float(special.expit(t - scale * (t - special.logit(ci_rate.low)))),
            float(special.expit(t + scale * (special.logit(ci_rate.high) - t))))
    suffix = f"; widened x{scale:.2f} for lack of fit" if scale > 1 else ""
    return BucketLaw(
        fit=fit,
        neg_log_pass_rate=IntervalEstimate(fit.value_at_ref, ci_log, level, method + suffix,
                                           value_s),
        mean_pass_rate=IntervalEstimate(mean_rate, ci_rate, level,
                                        method.replace("log scale", "logit scale") + suffix,
                                        rate_s),
        bucket_mean=ybar, bucket_variance=var, per_problem=a, lack_of_fit=scale)


@dataclass(frozen=True)
class LossLawFit:
    """``L(C) = a * C^b + c`` (``b < 0``, ``a, c > 0``), with ``C`` in FLOPs.

    ``prediction`` is ``L(target_compute)`` with its interval."""

    a: float
    b: float
    c: float
    compute_ref: float
    prediction: IntervalEstimate
    residual_scale: float

    def predict(self, compute) -> np.ndarray:
        return self.a * np.asarray(compute, float) ** self.b + self.c


def _loss_params_fit(x, log_loss, starts, delta):
    """Best of several L-BFGS-B starts for Huber loss on log residuals; theta = (log A, beta,
    log E) in ``log L = logaddexp(log A - beta x, log E)``."""

    def objective(theta):
        la, beta, le = theta
        pred = np.logaddexp(la - beta * x, le)
        r = pred - log_loss
        huber = np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
        return float(huber.sum())

    best = None
    for start in starts:
        res = optimize.minimize(objective, start, method="L-BFGS-B",
                                bounds=[(-30, 10), (0.0, 5.0), (-30, 10)])
        if best is None or res.fun < best.fun:
            best = res
    return best.x


def fit_loss_law(compute, loss, *, target_compute: float, confidence_level: float = 0.9,
                 n_resamples: int = 200, delta: float = 1e-3, rng=None) -> LossLawFit:
    """Fit ``L(C) = a * C^b + c`` robustly and extrapolate it to ``target_compute``.

    Notes
    -----
    As in the Chinchilla replication practice (Besiroglu et al. 2024): minimise the Huber
    loss (``delta`` = 1e-3) of the log residuals ``log Lhat(C_m) - log L_m`` with L-BFGS-B
    from a grid of starts and keep the best. Parameterised as
    ``log L = logaddexp(log A - beta x, log E)`` with ``x = log(C / C_T)``, so
    ``c = E``, ``b = -beta`` and ``a = A * C_T^beta``.

    The interval is a parametric residual bootstrap: ``log L*_m = log Lhat_m + s eps`` with
    ``s`` the residual standard deviation (``sum r^2 / (M - 3)``) and ``eps ~ N(0, 1)``,
    refitted each time; percentile interval. With three models there are no residual
    degrees of freedom and no interval (NaN bounds).

    Raises
    ------
    FitError
        Fewer than three models, or a loss that is not finite and positive.
    """
    level = _level_iv(confidence_level)
    compute = np.asarray(compute, float)
    loss = np.asarray(loss, float)
    if compute.shape != loss.shape or compute.ndim != 1:
        raise ValueError("`compute` and `loss` must be 1-d and the same length.")
    if loss.size < 3:
        raise FitError(f"the loss law has 3 parameters and needs at least 3 models; got "
                       f"{loss.size}")
    if np.any(~np.isfinite(loss) | (loss <= 0)):
        raise FitError("every loss must be finite and > 0")
    rng = _rng(rng)
    x = np.log(compute / target_compute)
    log_loss = np.log(loss)
    lmin = float(loss.min())
    starts = [(np.log(lmin * fa), beta, np.log(lmin * fe))
              for fa in (0.05, 0.3, 1.0) for beta in (0.05, 0.3, 1.0) for fe in (0.5, 0.9)]
    theta = _loss_params_fit(x, log_loss, starts, delta)
    la, beta, le = theta
    value = float(np.exp(np.logaddexp(la, le)))
    resid = np.logaddexp(la - beta * x, le) - log_loss
    dof = loss.size - 3
    s = float(np.sqrt(np.sum(resid**2) / dof)) if dof > 0 else np.nan
    if dof > 0 and n_resamples > 0:
        fitted = np.logaddexp(la - beta * x, le)
        boot = np.empty(n_resamples)
        for r in range(n_resamples):
            th = _loss_params_fit(x, fitted + s * rng.standard_normal(x.size), [theta], delta)
            boot[r] = np.exp(np.logaddexp(th[0], th[2]))
        tail = (1 - level) / 2
        lo, hi = np.quantile(boot, [tail, 1 - tail])
        ci = ConfidenceInterval(float(lo), float(hi))
        method = (f"parametric residual bootstrap ({n_resamples} resamples, residual sd "
                  f"{s:.2g} on log loss), percentile interval")
    else:
        boot = np.empty(0)
        ci = ConfidenceInterval(np.nan, np.nan)
        method = "no interval: as many parameters as models" if dof <= 0 else \
            "no interval (n_resamples=0)"
    return LossLawFit(a=float(np.exp(la) * target_compute**beta), b=float(-beta),
                      c=float(np.exp(le)), compute_ref=float(target_compute),
                      prediction=IntervalEstimate(value, ci, level, method, boot),
                      residual_scale=s)
