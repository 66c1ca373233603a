"""Choosing a law and calibrating its interval by the ladder's own rolling backtests (pure).

**Scales.** Errors are measured on scales where they are comparable across buckets: the
angular scale ``t = asin(sqrt(p))`` for a bucket's mean pass rate (the variance-stabilising
transform of a proportion: sampling noise is about the same near 0.5 and near 1, and any
interval mapped back lies in [0, 1]) and ``t = log(y + 1e-6)`` for ``-E[log p]`` (any
interval mapped back is >= 0).

**Law error per decade.** From the rolling backtests (:mod:`capability.prediction.rolling`),
per law and quantity, step ``j`` at distance ``d_j`` decades gives an error ``e_bj`` in
every bucket ``b`` and a noise variance ``v_j = mean_b (v_pred,bj + v_meas,bj)`` (the law's
own sampling noise and the measurement's). The steps from one origin share its fit, so per
bucket they share one error slope: ``e_bj = delta d_j + eps_bj`` with ``delta ~ N(0,
sigma^2)`` and ``eps_bj ~ N(0, v_j)`` -- per (origin, bucket) a normal vector with
covariance ``diag(v) + sigma^2 d d^T``; with one step per origin this is
``e_bj ~ N(0, v_j + sigma^2 d_j^2)``, independent across buckets. With a half-Cauchy prior
on ``sigma`` (scale ``FALLBACK_SIGMA``, weakly informative) this gives the posterior of the
law error per decade on a grid (:func:`sigma_posterior`). A moment estimate
``max(0, mean_j (m_j - v_j) / d_j^2)`` (``m_j`` the step's mean squared error) would say 0
whenever the law's error hides in the backtests' noise -- and the error at the target, twice
as far, then shows; the posterior keeps every law error the backtests cannot rule out.

**Interval.** At the target, ``d_T = log10(C_T / C_max)`` decades beyond the largest ladder
model, on the quantity's scale: ``t_hat +- h`` with ``h`` the ``level`` quantile of
``|e|`` under the posterior predictive ``e ~ N(0, v_noise + sigma^2 d_T^2)``, ``sigma`` from
its posterior and ``v_noise`` the variance of the law's draws. The bounds are clipped to the
scale's domain and mapped back, so every interval holds its estimate and lies in its domain.

**Too few ladder models.** With fewer than ``min_below + 1`` ladder models there is no
rolling backtest; the law's error is then taken as ``FALLBACK_SIGMA`` per decade,
``t_hat +- sqrt(z^2 v_noise + t^2 sigma^2 d_T^2)`` with Student's ``t`` quantile at
``FALLBACK_DOF`` degrees of freedom (a stated rule, tested on simulated ladders), and the
prediction says so.

**Choice** (``law="auto"``): the candidate with the smallest mean squared error per
decade^2, ``mean_{j,b} e_bj^2 / d_j^2`` on the angular scale over every step and bucket, for
every bucket alike (a bucket whose value that law lacks takes the next). Per-bucket choices
(the bucket's own error weighted 1/4 before) followed the noise of a few steps: on 8 seeds
of each simulated kind one law for all buckets erred 4.47 points instead of 5.46 with 20
samples per problem, 0.79 instead of 0.86 on inverse problems, within 0.01 elsewhere. A
ladder too short for a rolling backtest (3 models) chooses by a *short* one (each model
predicted from the two below it), whose errors choose the law but do not calibrate the
interval (the fallback rule does); only without even that, the default order
``DEFAULT_ORDER`` decides.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from capability.estimation.interval import ConfidenceInterval, IntervalEstimate

__all__ = ["Scale", "SCALES", "LawScore", "score_laws", "choose_laws", "calibrated_interval",
           "sigma_posterior",
           "FALLBACK_SIGMA", "FALLBACK_DOF", "DEFAULT_ORDER"]

FALLBACK_SIGMA = {"mean_pass_rate": 0.2, "neg_log_pass_rate": 1.0}
FALLBACK_DOF = 3
DEFAULT_ORDER = ("problem_power", "logistic", "power", "linear", "no_change", "ceiling",
                 "two_step")
QUANTITIES = ("mean_pass_rate", "neg_log_pass_rate")
_EPS_LOG = 1e-6


@dataclass(frozen=True)
class Scale:
    """A monotone transform to the scale errors are measured on, and its domain there:
    ``"angular"`` (``asin(sqrt(v))``), ``"log"`` (``log(v + 1e-6)``) or ``"identity"``."""

    name: str
    low: float
    high: float

    def forward(self, v):
        v = np.asarray(v, float)
        if self.name == "identity":
            return np.maximum(v, self.low)
        if self.name == "angular":
            return np.arcsin(np.sqrt(np.clip(v, 0.0, 1.0)))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.maximum(v, 0.0) + _EPS_LOG)

    def inverse(self, t):
        t = np.clip(np.asarray(t, float), self.low, self.high)
        if self.name == "identity":
            return t
        if self.name == "angular":
            return np.sin(t) ** 2
        return np.maximum(np.exp(t) - _EPS_LOG, 0.0)

    def derivative(self, v):
        v = np.asarray(v, float)
        if self.name == "identity":
            return np.ones_like(v)
        if self.name == "angular":
            p = np.clip(v, 1e-4, 1 - 1e-4)
            return 0.5 / np.sqrt(p * (1 - p))
        return 1.0 / (np.maximum(v, 0.0) + _EPS_LOG)


SCALES = {"mean_pass_rate": Scale("angular", 0.0, np.pi / 2),
          "neg_log_pass_rate": Scale("log", -np.inf, 700.0)}  # exp(700): finite


@dataclass(frozen=True)
class LawScore:
    """A law's record in the rolling backtests.

    Attributes
    ----------
    steps
        Backtest steps in which the law had a value.
    mse_per_decade
        Per bucket, the mean over steps of ``(e_bj^2 - v_pred,bj - v_meas,bj) / d_j^2``
        (angular scale): the squared error per decade^2 beyond the noise of the law's
        estimate and of the measurement (may be negative when the errors are all noise).
    mse_all
        Mean over steps and buckets of ``e_bj^2 / d_j^2`` (angular scale): the law's squared
        error per decade^2, noise included -- what the choice ranks by.
    mean_abs_error_pp
        Mean over steps and buckets of ``|predicted - measured|`` mean pass rate, in points.
    sigma, dof
        Per quantity the law-error scale per decade (the posterior's root mean square when
        calibrated) and its degrees of freedom (of the fallback rule; when calibrated, the
        effective number of backtest observations).
    posterior
        Per quantity ``(grid, weights)``: the posterior of the law error per decade given
        the backtests (:func:`sigma_posterior`); None without backtests.
    """

    law: str
    steps: int
    mse_per_decade: np.ndarray
    mse_all: float
    mean_abs_error_pp: float
    sigma: dict[str, float]
    dof: float
    calibrated: bool
    posterior: dict[str, tuple[np.ndarray, np.ndarray]] | None = None

    def to_dict(self) -> dict:
        def f(x):
            return float(x) if np.isfinite(x) else None
        return {"law": self.law, "backtest_steps": self.steps,
                "excess_mse_per_decade_angular": [f(v) for v in self.mse_per_decade],
                "mse_per_decade_angular": f(self.mse_all),
                "mean_abs_error_pp": f(self.mean_abs_error_pp),
                "law_error_per_decade": {q: f(v) for q, v in self.sigma.items()},
                "dof": float(self.dof), "calibrated_by_backtests": self.calibrated}


def score_laws(steps, laws, n_buckets: int) -> dict[str, LawScore]:
    """Every law's :class:`LawScore` from the rolling backtest steps."""
    scores = {}
    for law in laws:
        used = [s for s in steps if law in s.error]
        mse = np.full(n_buckets, np.nan)
        sigma = {q: FALLBACK_SIGMA[q] for q in QUANTITIES}
        dof, mae, mse_all, posterior = float(FALLBACK_DOF), np.nan, np.nan, {}
        if used:
            q = "mean_pass_rate"
            with np.errstate(invalid="ignore"):
                # (steps, buckets): squared error per decade^2 beyond noise.
                excess = np.array([(s.error[law][q] ** 2 - s.var_pred[law][q] -
                                    s.var_meas[q]) / s.distance**2 for s in used])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN buckets, steps
                mae = np.nanmean(np.abs([100 * (s.predicted[law]["mean_pass_rate"] -
                                                s.actual["mean_pass_rate"]) for s in used]))
                mse = np.nanmean(np.where(np.isfinite(excess), excess, np.nan), axis=0)
                raw = np.array([s.error[law]["mean_pass_rate"] ** 2 / s.distance**2
                                for s in used])
                mse_all = float(np.nanmean(np.where(np.isfinite(raw), raw, np.nan)))
                for q in QUANTITIES:
                    finite = [np.isfinite(s.error[law][q]) &
                              np.isfinite(s.var_pred[law][q] + s.var_meas[q]) for s in used]
                    noise = np.array([np.mean((s.var_pred[law][q] + s.var_meas[q])[f])
                                      if f.any() else np.nan for s, f in zip(used, finite)])
                    dist = np.array([s.distance for s in used])
                    # One observation per step and bucket; the steps from one origin share
                    # its fit, so per bucket they share one error slope (``group``).
                    obs = [(s.error[law][q][b], noise[k], dist[k], len(s.below) * 10_000 + b)
                           for k, (s, f) in enumerate(zip(used, finite))
                           if np.isfinite(noise[k]) and dist[k] > 0
                           for b in np.flatnonzero(f)]
                    if obs:
                        e, v, d, g = (np.array(col) for col in zip(*obs))
                        if q == "mean_pass_rate":
                            dof = float(np.unique(g).size)
                        grid, w = sigma_posterior(e, v, d, FALLBACK_SIGMA[q], group=g)
                        posterior[q] = (grid, w)
                        sigma[q] = float(np.sqrt(np.sum(w * grid**2)))
        scores[law] = LawScore(law=law, steps=len(used), mse_per_decade=mse, mse_all=mse_all,
                               mean_abs_error_pp=float(mae), sigma=sigma, dof=dof,
                               calibrated=bool(used), posterior=posterior if used else None)
    return scores


def choose_laws(scores: dict[str, LawScore], estimates: dict[str, np.ndarray],
                forced: str | None = None, short: bool = False) -> list[tuple[str | None, str]]:
    """Per bucket ``(law, reason)``: the forced law, or the best by the rolling backtests, or
    the first of ``DEFAULT_ORDER`` with a value; ``(None, reason)`` when no law has one."""
    n_buckets = len(next(iter(estimates.values())))
    out = []
    for b in range(n_buckets):
        have = [law for law, v in estimates.items() if np.isfinite(v[b])]
        if forced is not None:
            out.append((forced, "chosen by --law") if forced in have else
                       (None, f"law {forced!r} has no value for this bucket"))
            continue
        if not have:
            out.append((None, "no candidate law has a value for this bucket"))
            continue
        ranked = sorted((scores[law].mse_all, law) for law in have
                        if law in scores and np.isfinite(scores[law].mse_all))
        if ranked:
            best, law = ranked[0]
            others = ", ".join(f"{name} {v:.2g}" for v, name in ranked[1:4])
            kind = "short rolling-backtest (2 models below)" if short else "rolling-backtest"
            out.append((law, f"smallest {kind} error over all buckets ({best:.2g} squared "
                        f"per decade^2 on the angular scale; next: {others})"))
        else:
            law = next((name for name in DEFAULT_ORDER if name in have), have[0])
            out.append((law, "no rolling backtest (too few ladder models): default order"))
    return out


def sigma_posterior(errors: np.ndarray, noise: np.ndarray, distance: np.ndarray,
                    scale: float, group=None) -> tuple[np.ndarray, np.ndarray]:
    """Posterior of the law error per decade ``sigma`` on a grid, given backtest errors.

    Observation ``k`` (a step's error in one bucket, at ``d_k`` decades, with noise
    variance ``v_k``) is ``e_k = delta_g d_k + eps_k``, ``eps_k ~ N(0, v_k)``, with one
    error slope ``delta_g ~ N(0, sigma^2)`` per ``group`` (the steps from one origin in one
    bucket share its fit; default: every observation its own group). Per group the
    likelihood is normal with covariance ``diag(v) + sigma^2 d d^T``; by Sherman-Morrison,
    ``-2 log L_g = sum log v_k + log(1 + s^2 S_dd) + S_ee - s^2 S_ed^2 / (1 + s^2 S_dd)``
    with ``S_xy = sum_k x_k y_k / v_k``. Prior: half-Cauchy with ``scale``. Returns
    ``(grid, weights)``, the weights summing to 1."""
    errors, noise, distance = (np.asarray(a, float) for a in (errors, noise, distance))
    group = np.arange(errors.size) if group is None else np.asarray(group)
    _, gid = np.unique(group, return_inverse=True)
    v = np.maximum(noise, 1e-12)

    def per_group(x):
        return np.bincount(gid.ravel(), weights=x)

    s_ee, s_dd, s_ed = per_group(errors**2 / v), per_group(distance**2 / v), \
        per_group(errors * distance / v)
    grid = scale * np.concatenate([[0.0], np.geomspace(1e-4, 30.0, 400)])
    a = 1.0 + grid[None, :] ** 2 * s_dd[:, None]
    loglik = -0.5 * (np.sum(np.log(v)) + np.sum(np.log(a) + s_ee[:, None] -
                                                 grid[None, :] ** 2 * s_ed[:, None] ** 2 / a,
                                                 axis=0))
    log_w = loglik - np.log1p((grid / scale) ** 2) + np.log(np.gradient(grid))
    w = np.exp(log_w - log_w.max())
    return grid, w / w.sum()


def _predictive_half_width(v_noise: float, grid: np.ndarray, w: np.ndarray, distance: float,
                           level: float) -> float:
    """``h`` with ``sum_g w_g P(|N(0, v_noise + grid_g^2 d^2)| <= h) = level``: the
    posterior predictive of the error at distance ``d``."""
    sd = np.sqrt(v_noise + (grid * max(distance, 0.0)) ** 2)
    keep = w > 0
    sd, w = sd[keep], w[keep]
    if not np.any(sd > 0):
        return 0.0

    pos = sd > 0

    def cover(h):   # a component with sd 0 is a point mass at 0: inside for every h >= 0
        inside = np.ones_like(sd)
        inside[pos] = 2 * stats.norm.cdf(h / sd[pos]) - 1
        return float(np.sum(w * inside)) - level

    high = float(sd.max()) * 10.0
    if cover(0.0) >= 0:
        return 0.0
    if cover(high) < 0:
        return high
    return float(optimize.brentq(cover, 0.0, high, xtol=1e-9))


def calibrated_interval(estimate: float, draws: np.ndarray, quantity: str, sigma: float,
                        dof: float, distance: float, level: float, method: str,
                        posterior: tuple[np.ndarray, np.ndarray] | None = None
                        ) -> IntervalEstimate:
    """The interval of the module docstring for one bucket and quantity: with the law
    error's ``posterior`` (from the backtests), the posterior predictive; without it, the
    fallback rule (``sigma`` per decade, Student t with ``dof``)."""
    scale = SCALES[quantity]
    if not np.isfinite(estimate):
        return IntervalEstimate(float("nan"), ConfidenceInterval(np.nan, np.nan), level,
                                "no estimate")
    t_hat = float(scale.forward(estimate))
    t_draws = scale.forward(draws[np.isfinite(draws)]) if draws.size else np.empty(0)
    v_noise = float(np.var(t_draws, ddof=1)) if t_draws.size >= 2 else 0.0
    if not np.isfinite(v_noise):
        v_noise = 0.0
    if posterior is not None:
        half = _predictive_half_width(v_noise, *posterior, distance, level)
    else:
        z = stats.norm.ppf(0.5 + level / 2)
        tq = stats.t.ppf(0.5 + level / 2, dof)
        half = float(np.sqrt(z**2 * v_noise + (tq * sigma * max(distance, 0.0)) ** 2))
    est = float(estimate)
    # min/max: the round trip through the scale must not push a bound past the estimate.
    low = min(float(scale.inverse(t_hat - half)), est)
    high = max(float(scale.inverse(t_hat + half)), est)
    return IntervalEstimate(est, ConfidenceInterval(low, high), level, method, draws)
