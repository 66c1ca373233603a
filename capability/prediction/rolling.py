"""Rolling backtests inside one ladder (pure): predict each ladder model from the models
below it, for every candidate law, and measure the errors.

For ladder models ``j`` with at least ``min_below`` models below them (default 3), the
problems are re-bucketed from the models below ``j`` alone (the same rule as the real
prediction), every candidate law is fitted to them and evaluated at ``C_j``, and compared
with model ``j``'s measured bucket values on the same problems. Per step it records, per law,
quantity and bucket, the error on the calibration scale (:mod:`capability.prediction.scales`),
the variance of the law's estimate (from its draws) and of the measurement (binomial), and the
extrapolation distance ``log10(C_j / C_{j-1})`` in decades.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from capability.estimation.estimate import neg_log_pass_rate
from capability.laws import bucket_means
from capability.prediction.offsets import bend_loading, bucket_slopes, hat_row
from capability.prediction.scales import SCALES

__all__ = ["RollingStep", "rolling_backtests", "backtest_pairs", "measured_bucket_values"]


@dataclass(frozen=True)
class RollingStep:
    """One step: ``held`` predicted from the models below it.

    ``predicted[law][q]`` and ``actual[q]`` are per bucket on the natural scale (pass rate,
    ``-E[log p]``); ``error``, ``var_pred`` and ``var_meas`` on the calibration scale.
    ``slope[q]`` is each bucket's slope per decade on the scale at ``compute``
    (:func:`capability.prediction.offsets.bucket_slopes`) and ``hat`` the straight-line hat
    row of the models below at ``compute`` (:func:`capability.prediction.offsets.hat_row`):
    how the models' offsets from their trend reach the step's errors; ``bend`` how a bend
    in the family's growth does (:func:`capability.prediction.offsets.bend_loading`)."""

    held: str
    compute: float
    distance: float
    below: tuple[str, ...]
    predicted: dict[str, dict[str, np.ndarray]] = field(repr=False)
    actual: dict[str, np.ndarray] = field(repr=False)
    error: dict[str, dict[str, np.ndarray]] = field(repr=False)
    var_pred: dict[str, dict[str, np.ndarray]] = field(repr=False)
    var_meas: dict[str, np.ndarray] = field(repr=False)
    slope: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    hat: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    bend: float = 0.0


def measured_bucket_values(n, c, buckets, estimator: str):
    """A model's measured bucket values and their sampling variances on the calibration
    scales: ``({q: value}, {q: variance of the transformed value})``.

    Variances: ``Var(mean_i c_i/n_i) = sum_i p_i (1 - p_i) / n_i / B^2`` with ``p_i`` the
    Jeffreys-smoothed ``(c + 1/2) / (n + 1)``, and the estimator's own variance for
    ``-E[log p]``; carried to the scale by the delta method."""
    n = np.asarray(n, float)
    c = np.asarray(c, float)
    est = neg_log_pass_rate(n, c, estimator=estimator)
    p_s = (c + 0.5) / (n + 1.0)
    values = {"mean_pass_rate": bucket_means(c / n, buckets),
              "neg_log_pass_rate": bucket_means(est.estimate, buckets)}
    sizes = np.array([max(len(b), 1) for b in buckets], float)
    raw_var = {"mean_pass_rate": bucket_means(p_s * (1 - p_s) / n, buckets) / sizes,
               "neg_log_pass_rate": bucket_means(est.variance, buckets) / sizes}
    smooth = {"mean_pass_rate": bucket_means(p_s, buckets),
              "neg_log_pass_rate": values["neg_log_pass_rate"]}
    var = {q: SCALES[q].derivative(smooth[q]) ** 2 * raw_var[q] for q in values}
    return values, var


def _draw_var(draws: np.ndarray, q: str) -> np.ndarray:
    if draws.shape[0] < 2:
        return np.zeros(draws.shape[1])
    t = SCALES[q].forward(draws)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # a bucket with < 2 finite draws
        v = np.nanvar(np.where(np.isfinite(t), t, np.nan), axis=0, ddof=1)
    return np.where(np.isfinite(v), v, 0.0)


def backtest_pairs(n_models: int, min_below: int) -> list[tuple[int, int]]:
    """The rolling backtests' ``(origin, held)`` pairs: every origin ``i >= min_below`` (the
    models ``[0, i)``) and every model ``j >= i`` above it."""
    return [(i, j) for i in range(min_below, n_models) for j in range(i, n_models)]


def rolling_backtests(n, c, compute, names, fit_at: Callable[[int, float], tuple],
                      *, min_below: int = 3, estimator: str = "series",
                      nominal=None) -> list[RollingStep]:
    """Run the rolling backtests: from every origin ``i >= min_below`` (the models
    ``[0, i)``), every model ``j >= i`` above it is predicted -- the next one, and the ones
    further up, so that some steps reach as far beyond their origin as the target lies
    beyond the ladder (rolling origin with several horizons).

    ``fit_at(i, compute_j)`` fits every candidate law to the models ``[0, i)``, evaluated
    at ``compute_j``, and returns ``(buckets, {law: LawFit | None})`` with ``buckets`` the
    column indices per bucket (the bucketing rerun on the models below ``i``), or None when
    that ladder cannot be bucketed. ``n``, ``c`` are ``(M, P)`` with models ordered by
    compute. Steps from one origin share its models, so their errors are not independent.

    ``compute`` is where the laws are fitted and evaluated (the models' effective compute,
    when their offsets are taken out); a step's ``distance``, ``hat`` and ``bend`` are on
    ``nominal`` (default ``compute``): ``log10(C_j / C_{i-1})`` in the models' own order,
    so every step lies beyond its origin even where the effective compute of a model far off
    its trend sits above a larger one's. A model at its origin's largest compute (two ladder
    models of equal compute) lies no distance beyond it and says nothing of extrapolation:
    no step."""
    nominal = np.asarray(compute if nominal is None else nominal, float)
    steps = []
    for i, j in backtest_pairs(len(names), min_below):
        if not nominal[j] > nominal[i - 1]:
            continue
        out = fit_at(i, float(compute[j]))
        if out is None:
            continue
        buckets, fits = out
        actual, var_meas = measured_bucket_values(n[j], c[j], buckets, estimator)
        predicted, error, var_pred = {}, {}, {}
        for law, fit in fits.items():
            if fit is None:
                continue
            pv = {"mean_pass_rate": fit.mean_pass_rate,
                  "neg_log_pass_rate": fit.neg_log_pass_rate}
            draws = {"mean_pass_rate": fit.mean_pass_rate_draws,
                     "neg_log_pass_rate": fit.neg_log_pass_rate_draws}
            predicted[law] = pv
            with np.errstate(invalid="ignore", divide="ignore"):
                error[law] = {q: SCALES[q].forward(pv[q]) - SCALES[q].forward(actual[q])
                              for q in pv}
            var_pred[law] = {q: _draw_var(draws[q], q) for q in pv}
        steps.append(RollingStep(held=names[j], compute=float(compute[j]),
                                 distance=float(np.log10(nominal[j] / nominal[i - 1])),
                                 below=tuple(names[:i]), predicted=predicted, actual=actual,
                                 error=error, var_pred=var_pred, var_meas=var_meas,
                                 slope=bucket_slopes(fits, float(compute[j])),
                                 hat=hat_row(nominal[:i], float(nominal[j])),
                                 bend=bend_loading(nominal[:i], float(nominal[j]))))
    return steps
