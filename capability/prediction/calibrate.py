"""Averaging (or choosing) the candidate laws and calibrating the interval by the ladder's own
rolling backtests (pure).

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
``e_bj ~ N(0, v_j + sigma^2 d_j^2)``, independent across buckets. The prior on ``sigma`` is
a spike and slab: no law error (``sigma = 0``) with probability ``EXACT_PRIOR`` (0.5), else
half-Cauchy (scale ``FALLBACK_SIGMA``, weakly informative); with it the backtests give the
posterior of the law error per decade on a grid (:func:`law_error_posterior`). A moment
estimate ``max(0, mean_j (m_j - v_j) / d_j^2)`` (``m_j`` the step's mean squared error) would
say 0 whenever the law's error hides in the backtests' noise -- and the error at the target,
twice as far, then shows; the posterior keeps every law error the backtests cannot rule
out. The half-Cauchy alone kept too many: where the errors are the size of their noise its
posterior is flat from 0 to about that size, so a law with no error at all was given one
of the backtests' noise per decade, and 90% intervals held the truth in 0.98-1.00 of the
buckets of clean, spread, inverse and ceilings ladders (8 seeds each). The spike lets the
backtests say "no error": its posterior probability is the Bayes factor of the exact law
against the slab, times the prior odds. On clean ladders (8 seeds) ``problem_power`` and
``ceiling`` read it at a median 0.95 (a Bayes factor of about 19), the laws that err there
(``logistic``, ``linear``, ``no_change``) at 0.00; on emergence ladders the logistic law,
which takes all the weight there but errs in its hardest bucket, at 0.21.

**Models off their trend.** Members of a family sit off its trend by an offset ``u_m`` in
decades of effective compute, shared by all of a model's problems
(:mod:`capability.prediction.offsets`, which estimates their spread ``tau`` from the
ladder's counts). A step's errors then also carry ``beta_bj (sum_m h_jm u_m - u_j)`` --
``beta_bj`` the bucket's slope per decade at the held model, ``h_j`` the straight-line hat
row of the origin's models -- shared by every bucket of the step, and between two steps of
one origin with covariance ``tau^2 (h_j . h_j' + [j = j'])``. The likelihood of an origin's
errors is normal with covariance ``diag(v) + sigma^2 [b = b'] d d' + tau^2 beta beta' K``
(:func:`law_error_posterior`), and ``(sigma, tau)`` have a joint posterior on a grid: the
half-Cauchy prior for ``sigma`` and the offsets module's posterior for ``tau`` (its
nodes, equal weights). A bucket-wide shift that the offsets explain is not read as law
error, and the evidence of the laws (below) is taken under the same model. Without the
term, a four-model ladder, whose backtests hold out one model, read that model's offset as
six independent bucket errors: 90% intervals held the truth in 0.70 of the buckets on
simulated ladders of kind ``irregular``.

**A bend in the family's growth** (``BEND_SCALE``, ``BEND_PRIOR``). A family whose growth
slows (or speeds up) in log compute makes a law fitted below overshoot (or undershoot)
every bucket in proportion to its slope, by a shortfall of effective compute that grows
with the distance: ``beta_bj kappa_o d_j`` with ``kappa_o ~ N(0, kappa^2)`` per origin,
shared by its steps and buckets -- covariance ``kappa^2 (beta d)(beta d)'``. Without the
term those errors, shared by the buckets of a step, were read as the held models' offsets
(kind ``slowing``: the spread rose from the counts' 0.04 decades to 0.10, the law error
stayed near 0), and the target's interval, which the bend reaches in full, missed. The
bend has its own spike and slab (none with probability ``BEND_PRIOR``, else half-Cauchy
with ``BEND_SCALE`` decades per decade, :func:`_bend_grid`), joins ``(sigma, tau)`` in the
posterior that sets the intervals, and is left out of the evidence that weighs the laws.
It is read where the backtests hold more than one model (:func:`bend_readable`): one held
model's offset and a bend load the buckets alike, at one distance.
A backtest cannot see a bend steeper than the ladder's, so it widens the intervals rather
than moving the estimate: the backtests' signed errors do not locate the target's (on
``family`` ladders their correlation was -0.51 over 6 seeds; ``slowing`` +0.80, clean
+0.05). Measured in the README's accuracy section.

**Interval.** At the target, ``d_T = log10(C_T / C_max)`` decades beyond the largest ladder
model (nominal compute, as every backtest step's distance, also where the laws are
fitted on effective compute: :mod:`capability.prediction.offsets`), on the quantity's
scale, a law predicts ``N(t_hat, v_noise + sigma^2 d_T^2 + beta_T^2 tau^2 L_T +
beta_T^2 kappa^2 d_T^2)`` with ``(sigma, tau, kappa)`` from its posterior, ``v_noise``
the variance of the law's draws, ``beta_T`` the bucket's slope at the target and ``L_T``
:func:`capability.prediction.offsets.offset_leverage`; the interval is
the ``level`` equal-tailed interval of that posterior predictive (a normal mixture over the
posterior; symmetric about ``t_hat``). The bounds are clipped to the scale's domain and
mapped back, so every interval holds its estimate and lies in its domain.

**Model average** (``law="auto"`` with rolling backtests): each law's evidence is the
marginal likelihood of its mean-pass-rate backtest errors under that error model at one
offsets' spread for every law, ``Z_l = integral p(e | sigma, tau_hat) p(sigma)``
(:func:`law_error_posterior`) with ``tau_hat`` the median of the ladder's own posterior of
the spread (:func:`shared_spread`), taken on the steps and buckets where every law has a
value so that they compare like with like. The spread belongs to the ladder's models, not
to a law: integrated per law, it let a law whose backtest errors are one shift shared by
the buckets read them as a large offset and so as no law error -- with 20 samples per
problem the per-problem power law took 0.93 of the weight on one ladder, whose errors were
larger than the logistic law's (0.0074 against 0.0050 per decade^2), and erred 15.3
points; at the shared spread 7.7 (few-samples 4.83 -> 4.46 points over 20 seeds,
`interaction` 3.65 -> 3.73, every other kind within 0.01). The weights
are ``Z_l / sum_m Z_m`` (Bayesian model averaging with equal prior weights) over the laws
in *Occam's window*: those whose mean squared backtest error per decade^2 (``mse_all``) is
within ``OCCAM_WINDOW`` (1.5) times the smallest; laws under ``MIN_WEIGHT`` of the largest
weight are dropped. The evidence measures how well a law's error model fits its errors, not
how small they are: without the window, on ladders whose models are off their family's
trend (kind ``irregular``) it gave the straight line, whose errors are large at every step
and so "well modelled", all the weight. Per bucket, on the scale, the estimate is the
weighted mean ``sum_l w_l t_l`` and the interval the equal-tailed interval of the mixture of
the laws' posterior predictives (:func:`averaged_interval`): it widens where laws that the
backtests cannot tell apart disagree at the target. On 8 seeds of each simulated kind (12
for irregular) it erred less than choosing the law with the smallest backtest error: clean
0.43 -> 0.38 points, 20 samples per problem 4.49 -> 4.07, spread 0.56 -> 0.52, inverse
0.83 -> 0.75, irregular 4.56 -> 3.33, the others within 0.02 (without the window:
irregular 7.76; with a window of 1.25 or 2: 3.57 and 4.77).

**Censored input** (``CENSORED_INPUT``). The report's law (``power``) is fitted to a
bucket's means of per-problem ``-log p`` estimates, and a cell no sample solved caps its
estimate (``H_n``, :mod:`capability.estimation.estimate`): where a bucket has such a cell
at any ladder model, its small models' means sit low and the law comes out too flat, a
bias its backtests, at shorter distances, show less than the target. The per-problem
laws read those cells on the binomial likelihood. So in such a bucket the law is left out
of the average (:func:`average_weights`, ``exclude``; unless no other law is left), and
the bucket's ``law_reason`` says so. On clean ladders it took 0.49-0.86 of the weight in 3
of the 20 seeds 100-119, by backtests that happened to favour it, and erred -2.4 to -4.1
points in the hardest bucket. See the README's accuracy section for what the rule moved.

**One held model** (four ladder models: one rolling step). Its errors cannot tell growth
that stopped from the held model sitting below its family's trend, so ``no_change``
(``ONE_MODEL_EXCLUDED``) takes no part in the average there: on four-model simulated
ladders of kind ``irregular`` (10 seeds) it took all the weight in three, whenever the held
model sat low, and the average erred 4.57 points against 2.49 without it (2.88 for the
straight line); no other kind's error moved. The same holds for the short backtest of a
three-model ladder (the third model from the first two), which weighs the laws (below):
without ``no_change`` there, irregular ladders erred 4.75 points instead of 5.53 (5.90 for
the straight line) when that backtest chose one law, the other kinds and the real ladders
alike.

**Too few ladder models.** With fewer than ``min_below + 1`` ladder models there is no
rolling backtest; the law's error is then taken as ``FALLBACK_SIGMA`` per decade, Student
t with ``FALLBACK_DOF`` degrees of freedom (a stated rule, tested on simulated ladders),
added to the law's draws' noise (:func:`fallback_posterior`: the t as a scale mixture of
normals, so that the interval is the same posterior predictive as a calibrated one's), and
the prediction says so. The laws are then weighed by a *short* backtest (each model
predicted from the two below it) as the rolling backtests weigh them -- the evidence of
its errors, in Occam's window, ``no_change`` set aside (one held model) -- and the
average's interval is the mixture of the laws' fallback predictives: the short backtest's
errors weigh the laws but do not narrow the interval. A forced law (``--law NAME``), or a
ladder with no short backtest either, takes one law (:func:`choose_laws`; without a short
backtest the default order ``DEFAULT_ORDER`` decides). Choosing the one law with the
smallest short-backtest error, as before, read one step's noise as a ranking: on
three-model ladders (20x, 8x and 3x below the target, 10 seeds) the average errs 0.44
points on clean ladders (0.54 choosing), 3.05 on ``interaction`` (3.14), 3.25 with 20
samples per problem (3.31), 4.83 on irregular (4.86), 0.74 on emergence (0.74), and the
real ladders here 13.35 (14.02); with 1000 samples per problem clean 0.26 (0.21: in one
seed of ten the straight line joined the window and took 0.45 of the weight),
``interaction`` 2.85 (2.83), irregular 4.69 (4.68), emergence 0.36 (0.36). The short
backtest may widen a law's interval (:func:`fallback_widening`): where its root mean
squared short-backtest error per decade exceeds ``FALLBACK_SIGMA``, its fallback law error
is scaled up to it (both quantities by the same factor). A short backtest is one step from
two models, too little to narrow an interval by (calibrating three-model ``irregular``
ladders by it covered 0.55), but a third model that the first two mispredict by more than
the fallback allows is evidence that the rule is too narrow for this family. Of the real
ladders here it widens Qwen2's (0.39 per decade: its 7B far above the line of its 0.5B and
1.5B; the 90% intervals then hold all six buckets, against five); of the simulated
three-model ladders (10 seeds of clean, irregular, emergence, interaction and 20 samples
per problem) two ``irregular`` ones, whose third model sits off its family's trend (0.34
and 0.23 per decade; elsewhere 0.02-0.14).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize, special, stats

from capability.estimation.interval import ConfidenceInterval, IntervalEstimate

__all__ = ["Scale", "SCALES", "LawScore", "score_laws", "choose_laws", "calibrated_interval",
           "averaged_interval", "average_weights", "sigma_posterior", "law_error_posterior",
           "excluded_laws", "fallback_widening", "no_error_probability", "shared_spread",
           "with_offsets", "spike_slab_grid", "sigma_log_joint", "fallback_posterior",
           "FALLBACK_SIGMA", "EXACT_PRIOR", "FALLBACK_DOF", "DEFAULT_ORDER", "OCCAM_WINDOW",
           "MIN_WEIGHT", "CENSORED_INPUT", "BEND_SCALE", "BEND_PRIOR", "bend_readable"]

FALLBACK_SIGMA = {"mean_pass_rate": 0.2, "neg_log_pass_rate": 1.0}
FALLBACK_DOF = 3
FALLBACK_NODES = 128   # equal-probability nodes of the fallback's chi-square mixing law
DEFAULT_ORDER = ("problem_power", "logistic", "power", "linear", "no_change", "ceiling",
                 "two_step")
QUANTITIES = ("mean_pass_rate", "neg_log_pass_rate")
_EPS_LOG = 1e-6
MIN_WEIGHT = 1e-3   # laws weighted below this fraction of the largest weight are left out
OCCAM_WINDOW = 1.5  # laws with a backtest error above this multiple of the best's are left out
ONE_MODEL_EXCLUDED = ("no_change",)   # not averaged when the backtests hold one model only
BASELINES = ("no_change", "linear")   # may join Occam's window, never set it
CENSORED_INPUT = ("power",)   # not averaged in a bucket with a cell no sample solved
EXACT_PRIOR = 0.5   # prior probability that a law has no error beyond noise (sigma = 0)
BEND_SCALE = 0.2    # decades of effective compute per decade: the bend's half-Cauchy scale
BEND_PRIOR = 0.8    # prior probability that the family's growth does not bend (kappa = 0)
BEND_NODES = 25     # nodes of the bend's grid


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
        Per quantity ``(sigma, weights, tau)``: the joint posterior of the law error per
        decade and the offsets' spread given the backtests (:func:`law_error_posterior`);
        None without backtests.
    exact_probability
        The posterior probability that the law has no error beyond noise (``sigma = 0``)
        given its mean-pass-rate backtests (prior ``EXACT_PRIOR``); NaN without backtests.
    offset_spread
        The posterior root mean square of the models' offset spread ``tau`` (decades of
        effective compute) given the ladder and this law's mean-pass-rate backtests; NaN
        without backtests.
    bend
        The posterior root mean square of the bend ``kappa`` in the family's growth
        (decades of effective compute per decade of extrapolation) given the same; NaN
        without backtests.
    log_evidence, weight
        The log marginal likelihood of the law's mean-pass-rate backtest errors
        (:func:`law_error_posterior`, on the steps and buckets every law shares, at the
        offsets' spread shared by every law, :func:`shared_spread`) and the law's
        model-averaging weight from it (NaN and 0 outside the pool or without backtests).
    """

    law: str
    steps: int
    mse_per_decade: np.ndarray
    mse_all: float
    mean_abs_error_pp: float
    sigma: dict[str, float]
    dof: float
    calibrated: bool
    posterior: dict[str, tuple[np.ndarray, ...]] | None = None
    log_evidence: float = float("nan")
    weight: float = 0.0
    offset_spread: float = float("nan")
    exact_probability: float = float("nan")
    bend: float = float("nan")

    def to_dict(self) -> dict:
        def f(x):
            return float(x) if np.isfinite(x) else None
        return {"law": self.law, "backtest_steps": self.steps,
                "excess_mse_per_decade_angular": [f(v) for v in self.mse_per_decade],
                "mse_per_decade_angular": f(self.mse_all),
                "mean_abs_error_pp": f(self.mean_abs_error_pp),
                "law_error_per_decade": {q: f(v) for q, v in self.sigma.items()},
                "dof": float(self.dof), "calibrated_by_backtests": self.calibrated,
                "log_evidence": f(self.log_evidence), "weight": float(self.weight),
                "offset_spread_decades": f(self.offset_spread),
                "exact_probability": f(self.exact_probability),
                "bend_per_decade": f(self.bend)}


def _finite(step, law: str, q: str) -> np.ndarray:
    """The buckets of a step where a law's error and its noise variance are finite."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(step.error[law][q]) & \
            np.isfinite(step.var_pred[law][q] + step.var_meas[q])


@dataclass(frozen=True)
class _Block:
    """One origin's backtest observations of a law and quantity (one per step and bucket):
    errors ``e``, noise variances ``v`` (a step's mean over its buckets), distances ``d``,
    bucket and step indices, offset loadings ``beta`` (the bucket's slope per decade at the
    held model) and ``K`` (steps x steps), the offsets' covariance per ``tau^2`` between the
    steps' errors: ``h_j . h_j' + [j = j']`` with ``h_j`` the hat row of step ``j``."""

    e: np.ndarray
    v: np.ndarray
    d: np.ndarray
    bucket: np.ndarray
    step: np.ndarray
    beta: np.ndarray
    K: np.ndarray


def _blocks(steps, law: str, q: str, cells=None) -> list[_Block]:
    """A law's backtest observations of quantity ``q``, one :class:`_Block` per origin (its
    steps share its fit, and the offsets of its models): the steps and buckets with a finite
    error and noise (and inside ``cells[k]``, a boolean mask per step, when given)."""
    by_origin: dict[int, list] = {}
    for k, s in enumerate(steps):
        e, v = s.error[law][q], s.var_pred[law][q] + s.var_meas[q]
        finite = _finite(s, law, q)
        if cells is not None:
            finite &= cells[k]
        if not finite.any() or s.distance <= 0:
            continue
        idx = np.flatnonzero(finite)
        beta = np.asarray(s.slope.get(q, np.zeros(e.size)), float)[idx]
        by_origin.setdefault(len(s.below), []).append(
            (e[idx], float(np.mean(v[finite])), s.distance, idx, beta, s.hat))
    blocks = []
    for rows in by_origin.values():
        hats = np.array([np.asarray(r[5], float) for r in rows])   # one origin: same models
        K = np.eye(len(rows)) + hats @ hats.T
        blocks.append(_Block(
            e=np.concatenate([r[0] for r in rows]),
            v=np.concatenate([np.full(r[0].size, r[1]) for r in rows]),
            d=np.concatenate([np.full(r[0].size, r[2]) for r in rows]),
            bucket=np.concatenate([r[3] for r in rows]),
            step=np.concatenate([np.full(r[0].size, j) for j, r in enumerate(rows)]),
            beta=np.concatenate([r[4] for r in rows]), K=K))
    return blocks


def spike_slab_grid(scale: float, exact: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The grid of a scale parameter (the law error per decade here; the offsets' spread and
    a bend in :mod:`capability.prediction.offsets`) and ``log p(sigma) + log d(sigma)`` on
    it: the half-Cauchy prior with ``scale`` (its mass on the grid's cells), or with
    ``exact > 0``
    the spike and slab ``exact * [sigma = 0] + (1 - exact) * half-Cauchy`` (the spike on the
    grid's first node, 0)."""
    grid = scale * np.concatenate([[0.0], np.geomspace(1e-4, 30.0, 400)])
    log_prior = np.log(2 / (np.pi * scale)) - np.log1p((grid / scale) ** 2)
    log_prior = log_prior + np.log(np.gradient(grid))
    if exact > 0:
        log_prior[1:] += np.log1p(-exact)
        log_prior[0] = np.log(exact)
    return grid, log_prior


def _bend_grid(scale: float = BEND_SCALE, exact: float = BEND_PRIOR,
               nodes: int = BEND_NODES) -> tuple[np.ndarray, np.ndarray]:
    """A coarse grid of the bend ``kappa`` (decades of effective compute per decade of
    extrapolation) and its log prior mass per node: ``kappa = 0`` with probability
    ``exact``, else half-Cauchy with ``scale`` over ``nodes - 1`` geometric nodes (the
    slab's masses normalised to ``1 - exact`` over the grid)."""
    slab = scale * np.geomspace(0.02, 20.0, nodes - 1)
    mass = np.gradient(slab) / (1 + (slab / scale) ** 2)
    return (np.concatenate([[0.0], slab]),
            np.log(np.concatenate([[exact], (1 - exact) * mass / mass.sum()])))


def _block_loglik(block: _Block, sigma: np.ndarray, taus: np.ndarray,
                  kappas: np.ndarray) -> np.ndarray:
    """``log p(e | sigma, tau, kappa)`` of one origin's errors on the grid ``(sigma, tau,
    kappa)``: normal with covariance ``diag(v) + sigma^2 [b = b'] d d' + tau^2 beta beta'
    K[j, j'] + kappa^2 (beta d)(beta d)'`` -- the noise, a law-error slope per bucket shared
    by the origin's steps, the models' offsets from their trend, shared by every bucket,
    and a bend of the family's growth, shared by every bucket and step and growing with the
    distance.

    Per ``(tau, kappa)``, with ``M = diag(v) + tau^2 beta beta' K + kappa^2 g g' = L L'``
    and the eigenvalues ``lambda`` and vectors ``U`` of ``L^-1 A L^-T`` (``A`` the law-error
    term per ``sigma^2``): ``log det = log det M + sum log(1 + sigma^2 lambda)`` and ``e'
    cov^-1 e = sum f^2 / (1 + sigma^2 lambda)`` with ``f = U' L^-1 e``, for every ``sigma``
    at once."""
    same = block.bucket[:, None] == block.bucket[None, :]
    law = np.outer(block.d, block.d) * same
    off = np.outer(block.beta, block.beta) * block.K[np.ix_(block.step, block.step)]
    bend = np.outer(block.beta * block.d, block.beta * block.d)
    # Every (tau, kappa) at once: stacked Cholesky factors and eigendecompositions.
    t2, k2 = np.meshgrid(taus**2, kappas**2, indexing="ij")
    cov = (np.diag(block.v)[None] + t2.reshape(-1, 1, 1) * off[None] +
           k2.reshape(-1, 1, 1) * bend[None])
    chol = np.linalg.cholesky(cov)
    inv = np.linalg.inv(chol)
    lam, vec = np.linalg.eigh(inv @ law[None] @ np.swapaxes(inv, 1, 2))
    lam = np.maximum(lam, 0.0)                                   # (G, n)
    f = np.einsum("gji,gj->gi", vec, inv @ block.e)              # U' L^-1 e
    scaled = 1.0 + sigma[:, None, None] ** 2 * lam[None]         # (S, G, n)
    logdet = (2 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)[None] +
              np.sum(np.log(scaled), axis=2))
    out = -0.5 * (block.e.size * np.log(2 * np.pi) + logdet +
                  np.sum(f[None] ** 2 / scaled, axis=2))
    return out.reshape(sigma.size, taus.size, kappas.size)


def _law_log_joint(blocks: list[_Block], scale: float, taus=None, exact: float = 0.0,
                   bend: bool = False):
    """The grid ``(sigma, tau, kappa)`` and ``log p(errors | sigma, tau, kappa) + log
    p(sigma) + log d(sigma) + log p(tau) + log p(kappa)`` on it: ``taus`` are equal-weight
    nodes of the offsets' spread (:meth:`capability.prediction.offsets.ModelOffsets.nodes`),
    ``[0]`` without offsets; ``exact`` the prior probability of ``sigma = 0``
    (:func:`spike_slab_grid`); ``kappa`` the bend's grid (:func:`_bend_grid`) with
    ``bend``, else ``[0]``."""
    taus = np.zeros(1) if taus is None or not np.size(taus) else np.asarray(taus, float)
    grid, log_prior = spike_slab_grid(scale, exact)
    kappas, log_kappa = _bend_grid() if bend else (np.zeros(1), np.zeros(1))
    log = (log_prior[:, None, None] - np.log(taus.size) + log_kappa[None, None, :] +
           sum((_block_loglik(b, grid, taus, kappas) for b in blocks),
               np.zeros((grid.size, taus.size, kappas.size))))
    return grid, taus, kappas, log


def law_error_posterior(steps, law: str, q: str, scale: float, taus=None, cells=None,
                        exact: float = EXACT_PRIOR, bend: bool = False):
    """The joint posterior of the law error per decade ``sigma``, the offsets' spread
    ``tau`` and (with ``bend``) the bend ``kappa`` given a law's backtests
    (:func:`_block_loglik`; ``taus``: the spread's nodes from the ladder, its prior here;
    the prior of ``sigma``: exact, ``sigma = 0``, with probability ``exact``, else
    half-Cauchy with ``scale``; of ``kappa``: :func:`_bend_grid`): ``(sigma, weights, tau,
    kappa)``, flat arrays over the grid with the weights summing to 1 (cells under 1e-9 of
    the mass dropped); and the log evidence ``log sum p(errors | sigma, tau, kappa)
    p(sigma) p(tau) p(kappa)``. None without an observation."""
    blocks = _blocks(steps, law, q, cells)
    if not blocks:
        return None
    grid, taus, kappas, log = _law_log_joint(blocks, scale, taus, exact, bend)
    z = float(special.logsumexp(log))
    w = np.exp(log - z).ravel()
    keep = w > 1e-9 * w.sum()
    sig, tau, kap = np.meshgrid(grid, taus, kappas, indexing="ij")
    w = w[keep] / w[keep].sum()
    return (sig.ravel()[keep], w, tau.ravel()[keep], kap.ravel()[keep]), z, blocks


def no_error_probability(post) -> float:
    """The posterior probability of no law error, ``sigma = 0``, in a law-error posterior
    ``(sigma, weights[, tau])`` (:func:`law_error_posterior`)."""
    return float(np.sum(post[1][post[0] == 0]))


def shared_spread(taus) -> np.ndarray | None:
    """The one offsets' spread every law's evidence is taken at: the median of the ladder's
    posterior nodes (:meth:`capability.prediction.offsets.ModelOffsets.nodes`), as a
    one-node array; ``taus`` itself when it is None or empty."""
    if taus is None or not np.size(taus):
        return taus
    return np.array([float(np.median(taus))])


def _evidence_weights(steps, laws, taus=None) -> dict[str, tuple[float, float]]:
    """Per law ``(log evidence, weight)`` from the rolling backtests of the mean pass rate
    (:func:`law_error_posterior`), on the steps and buckets where every law in the pool has
    a value, so that the evidences compare like with like; weights ``exp(log Z_l) / sum_m
    exp(log Z_m)`` (equal prior weights: Bayesian model averaging). The pool is every law
    with a value in every step; laws outside it, or every law when no cell is shared, get
    none."""
    q = "mean_pass_rate"
    pool = [law for law in laws if steps and all(law in s.error for s in steps)]
    if not pool:
        return {}
    cells = [np.logical_and.reduce([_finite(s, law, q) for law in pool]) for s in steps]
    evidence = {}
    for law in pool:
        out = law_error_posterior(steps, law, q, FALLBACK_SIGMA[q], taus, cells)
        if out is None:
            return {}
        evidence[law] = out[1]
    z = np.array(list(evidence.values()))
    w = np.exp(z - special.logsumexp(z))
    return {law: (float(zl), float(wl)) for (law, zl), wl in zip(evidence.items(), w)}


def score_laws(steps, laws, n_buckets: int, taus=None, weigh_at=None) -> dict[str, LawScore]:
    """Every law's :class:`LawScore` from the rolling backtest steps (``taus``: nodes of the
    ladder's offset spread, :mod:`capability.prediction.offsets`; None: no offsets;
    ``weigh_at``: the nodes the laws' evidence is taken at, :func:`shared_spread`, default
    ``taus``). The bend joins the posteriors where the backtests hold more than one model
    (:func:`bend_readable`)."""
    scores = {}
    read_bend = bend_readable(steps)
    weights = _evidence_weights(steps, laws, shared_spread(taus if weigh_at is None
                                                           else weigh_at))
    for law in laws:
        used = [s for s in steps if law in s.error]
        mse = np.full(n_buckets, np.nan)
        sigma = {q: FALLBACK_SIGMA[q] for q in QUANTITIES}
        dof, mae, mse_all, posterior = float(FALLBACK_DOF), np.nan, np.nan, {}
        spread = exact = bend = np.nan
        if used:
            q = "mean_pass_rate"
            with np.errstate(invalid="ignore"):
                # (steps, buckets): squared error per decade^2 beyond noise.
                excess = np.array([(s.error[law][q] ** 2 - s.var_pred[law][q] -
                                    s.var_meas[q]) / s.distance**2 for s in used])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN buckets, steps
                mae = np.nanmean(np.abs([100 * (s.predicted[law][q] - s.actual[q])
                                         for s in used]))
                mse = np.nanmean(np.where(np.isfinite(excess), excess, np.nan), axis=0)
                raw = np.array([s.error[law][q] ** 2 / s.distance**2 for s in used])
                mse_all = float(np.nanmean(np.where(np.isfinite(raw), raw, np.nan)))
                for quantity in QUANTITIES:
                    out = law_error_posterior(used, law, quantity, FALLBACK_SIGMA[quantity],
                                              taus, bend=read_bend)
                    if out is not None:
                        post, _, blocks = out
                        if quantity == q:
                            dof = float(sum(np.unique(b.bucket).size for b in blocks))
                            spread = float(np.sqrt(np.sum(post[1] * post[2] ** 2)))
                            exact = no_error_probability(post)
                            bend = float(np.sqrt(np.sum(post[1] * _kappas(post) ** 2)))
                        posterior[quantity] = post
                        sigma[quantity] = float(np.sqrt(np.sum(post[1] * post[0] ** 2)))
        z, weight = weights.get(law, (np.nan, 0.0))
        scores[law] = LawScore(law=law, steps=len(used), mse_per_decade=mse, mse_all=mse_all,
                               mean_abs_error_pp=float(mae), sigma=sigma, dof=dof,
                               calibrated=bool(used), posterior=posterior if used else None,
                               log_evidence=z, weight=weight, offset_spread=spread,
                               exact_probability=exact, bend=bend)
    return _occam_window(scores, exclude=excluded_laws(steps))


def with_offsets(scores: dict[str, LawScore], taus) -> dict[str, LawScore]:
    """The scores with the offsets' spread joined to each law-error posterior as an
    independent factor: ``(sigma, weights, tau)`` over the product of the law error's grid
    and the spread's equal-weight nodes ``taus`` (the ladder's posterior from its counts).
    For backtests on effective compute -- every model's compute corrected by its visible
    offset as estimated -- whose errors carry only that estimate's error
    (:func:`capability.prediction.offsets.residual_spread`) and say nothing of the spread,
    while the target's own offset stays unknown; unchanged without ``taus``."""
    if taus is None or not np.size(taus):
        return scores
    taus = np.asarray(taus, float)
    out = {}
    for law, sc in scores.items():
        if not sc.posterior:
            out[law] = sc
            continue
        post = {q: (np.repeat(p[0], taus.size), np.repeat(p[1], taus.size) / taus.size,
                    np.tile(taus, p[0].size), np.repeat(_kappas(p), taus.size))
                for q, p in sc.posterior.items()}
        out[law] = replace(sc, posterior=post,
                           offset_spread=float(np.sqrt(np.mean(taus**2))))
    return out


def _held_models(steps) -> int:
    """How many distinct models the backtest steps hold out."""
    return len({s.held for s in steps})


def bend_readable(steps) -> bool:
    """Whether the backtests can tell a bend in the family's growth from a held model's
    offset: when they hold more than one model. One held model (four ladder models) errs
    by its offset and by a bend along the same loadings, ``beta_b``, at one distance: on
    four-model ``irregular`` ladders without the offsets (6 seeds) that model's offset read
    as a bend of 0.7-1.8 decades per decade."""
    return _held_models(steps) > 1


def excluded_laws(steps) -> tuple[str, ...]:
    """The laws the backtests cannot speak for: ``ONE_MODEL_EXCLUDED`` when they hold one
    model only (one held model cannot tell growth that stopped from that model sitting
    below its family's trend), else none."""
    return ONE_MODEL_EXCLUDED if _held_models(steps) == 1 else ()


def _occam_window(scores: dict[str, LawScore], exclude=()) -> dict[str, LawScore]:
    """Keep in the average only the laws whose backtest error ``mse_all`` is within
    ``OCCAM_WINDOW`` times the smallest (Occam's window, Madigan & Raftery 1994, with
    accuracy as the criterion), their evidence weights renormalised; when none of them has
    weight, the most accurate takes it all. Laws in ``exclude`` take no part (their scores
    are kept for the record). The evidence alone rewards a law whose error
    model fits its errors, however large: on ladders whose models are off their trend
    (kind ``irregular``) it put the weight on the straight line, whose errors are large at
    every step, and erred 7.8 points where the window errs 3.3.

    The smallest error is the smallest of the laws' other than the ``BASELINES`` (of every
    law's when only baselines have one): a baseline may join the window, and take weight
    by its evidence, but not shut the laws out of it. Where the largest ladder models
    happen to sit below their family's trend, no change predicts them best by a margin the
    window read as decisive: on five-model ``irregular`` ladders with the target 2x beyond
    the largest, it took all the weight in 2 of 20 seeds (7.8 and 8.7 points off, where the
    per-problem laws erred 2.2 and 3.6), and the method erred 3.02 points against 2.96 for
    the straight line; with this rule 2.74. No other kind moved (20 seeds each)."""
    pool = {law: sc for law, sc in scores.items()
            if np.isfinite(sc.log_evidence) and np.isfinite(sc.mse_all) and law not in exclude}
    if not pool:
        return scores
    laws = [law for law in pool if law not in BASELINES] or list(pool)
    best = min(pool[law].mse_all for law in laws)
    inside = {law for law, sc in pool.items() if sc.mse_all <= OCCAM_WINDOW * best}
    # Summed in the pool's order, not the set's: a set of strings iterates in an order
    # that changes with the process's hash seed, and so would the sum's last bits.
    total = sum(pool[law].weight for law in pool if law in inside)
    if total > 0:
        new = {law: pool[law].weight / total if law in inside else 0.0 for law in pool}
    else:
        top = min(inside, key=lambda law: pool[law].mse_all)
        new = {law: float(law == top) for law in pool}
    return {law: replace(sc, weight=new.get(law, 0.0)) for law, sc in scores.items()}


def average_weights(scores: dict[str, LawScore], estimates: dict[str, np.ndarray],
                    bucket: int, exclude=()) -> dict[str, float]:
    """One bucket's model-averaging weights: the laws' evidence weights
    (:attr:`LawScore.weight`) over the laws with a value in that bucket, those below
    ``MIN_WEIGHT`` of the largest dropped, then the laws in ``exclude`` (unless no other
    law is left), renormalised, largest first; empty when none of them has weight."""
    have = {law: scores[law].weight for law, v in estimates.items()
            if law in scores and np.isfinite(v[bucket]) and scores[law].weight > 0}
    top = max(have.values(), default=0.0)
    have = {law: w for law, w in have.items() if w >= MIN_WEIGHT * top}
    have = {law: w for law, w in have.items() if law not in exclude} or have
    total = sum(have.values())
    return {law: w / total for law, w in sorted(have.items(), key=lambda kv: -kv[1])} \
        if total > 0 else {}


def fallback_widening(short: LawScore | None) -> float:
    """The factor on the fallback rule's law error for a law chosen by a short backtest:
    ``max(1, sqrt(mse_all) / FALLBACK_SIGMA["mean_pass_rate"])``, the law's root mean squared
    short-backtest error per decade (angular scale) over the fallback's (module docstring);
    1 without a short backtest."""
    if short is None or not np.isfinite(short.mse_all):
        return 1.0
    return max(1.0, float(np.sqrt(short.mse_all)) / FALLBACK_SIGMA["mean_pass_rate"])


def choose_laws(scores: dict[str, LawScore], estimates: dict[str, np.ndarray],
                forced: str | None = None, short: bool = False,
                exclude=()) -> list[tuple[str | None, str]]:
    """Per bucket ``(law, reason)``: the forced law, or the best by the rolling backtests
    (laws in ``exclude`` left out of the ranking), or the first of ``DEFAULT_ORDER`` with a
    value; ``(None, reason)`` when no law has one."""
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
                        if law in scores and np.isfinite(scores[law].mse_all) and
                        law not in exclude)
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


def sigma_log_joint(errors, noise, distance, scale, group, exact=0.0):
    """The grid of law errors per decade and ``log p(errors | sigma) + log p(sigma) +
    log d(sigma)`` on it (the terms of :func:`sigma_posterior`)."""
    errors, noise, distance = (np.asarray(a, float) for a in (errors, noise, distance))
    group = np.arange(errors.size) if group is None else np.asarray(group)
    _, gid = np.unique(group, return_inverse=True)
    v = np.maximum(noise, 1e-12)

    def per_group(x):
        return np.bincount(gid.ravel(), weights=x)

    s_ee, s_dd, s_ed = per_group(errors**2 / v), per_group(distance**2 / v), \
        per_group(errors * distance / v)
    grid, log_prior = spike_slab_grid(scale, exact)
    a = 1.0 + grid[None, :] ** 2 * s_dd[:, None]
    loglik = -0.5 * (np.sum(np.log(2 * np.pi * v)) +
                     np.sum(np.log(a) + s_ee[:, None] -
                            grid[None, :] ** 2 * s_ed[:, None] ** 2 / a, axis=0))
    return grid, loglik + log_prior


def sigma_posterior(errors: np.ndarray, noise: np.ndarray, distance: np.ndarray,
                    scale: float, group=None,
                    exact: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Posterior of the law error per decade ``sigma`` on a grid, given backtest errors.

    Observation ``k`` (a step's error in one bucket, at ``d_k`` decades, with noise
    variance ``v_k``) is ``e_k = delta_g d_k + eps_k``, ``eps_k ~ N(0, v_k)``, with one
    error slope ``delta_g ~ N(0, sigma^2)`` per ``group`` (the steps from one origin in one
    bucket share its fit; default: every observation its own group). Per group the
    likelihood is normal with covariance ``diag(v) + sigma^2 d d^T``; by Sherman-Morrison,
    ``-2 log L_g = sum log(2 pi v_k) + log(1 + s^2 S_dd) + S_ee - s^2 S_ed^2 / (1 + s^2
    S_dd)`` with ``S_xy = sum_k x_k y_k / v_k``. Prior: half-Cauchy with ``scale`` (with
    ``exact > 0``: ``sigma = 0`` with that probability, else half-Cauchy). Returns
    ``(grid, weights)``, the weights summing to 1."""
    grid, log_w = sigma_log_joint(errors, noise, distance, scale, group, exact)
    w = np.exp(log_w - log_w.max())
    return grid, w / w.sum()


def _mixture_bounds(centres: np.ndarray, sds: np.ndarray, weights: np.ndarray,
                    level: float) -> tuple[float, float]:
    """Equal-tailed ``level`` bounds of the normal mixture ``sum_i w_i N(c_i, sd_i^2)``
    (a component with sd 0 is a point mass at its centre)."""
    keep = weights > 0
    centres, sds, weights = centres[keep], sds[keep], weights[keep] / weights[keep].sum()
    pos = sds > 0

    def cdf(x):
        below = np.where(x >= centres, 1.0, 0.0)
        below[pos] = stats.norm.cdf((x - centres[pos]) / sds[pos])
        return float(np.sum(weights * below))

    low, high = float(np.min(centres - 10 * sds)) - 1e-9, float(np.max(centres + 10 * sds)) + 1e-9

    def quantile(p):
        return float(optimize.brentq(lambda x: cdf(x) - p, low, high, xtol=1e-10))

    return quantile(0.5 - level / 2), quantile(0.5 + level / 2)


def _noise_variance(draws: np.ndarray, scale: Scale) -> float:
    """The variance of a law's draws on the scale (0 with fewer than two finite draws)."""
    t = scale.forward(draws[np.isfinite(draws)]) if draws.size else np.empty(0)
    v = float(np.var(t, ddof=1)) if t.size >= 2 else 0.0
    return v if np.isfinite(v) else 0.0


def _taus(post) -> np.ndarray:
    """The offsets' spread of each cell of a law-error posterior (0 where it has none)."""
    return np.asarray(post[2], float) if len(post) > 2 else np.zeros(np.size(post[0]))


def _kappas(post) -> np.ndarray:
    """The bend of each cell of a law-error posterior (0 where it has none)."""
    return np.asarray(post[3], float) if len(post) > 3 else np.zeros(np.size(post[0]))


def averaged_interval(components, quantity: str, distance: float, level: float,
                      method: str, offset=None) -> IntervalEstimate:
    """The model average's estimate and interval for one bucket and quantity.

    ``components`` is ``[(weight, estimate, draws, posterior), ...]``, one per law: its
    averaging weight, point estimate, draws at the target and law-error posterior
    ``(sigma, weights)`` or ``(sigma, weights, tau)``.
    On the quantity's scale, law ``l`` predicts ``N(t_l, v_l + sigma^2 d_T^2)`` with ``v_l``
    its draws' variance and ``sigma`` from its posterior; the average is the mixture over
    laws and ``sigma``: the estimate ``inverse(sum_l w_l t_l)`` and the interval the
    mixture's equal-tailed ``level`` bounds, clipped to the domain and mapped back (and
    widened to hold the estimate, should the round trip move a bound past it).

    A posterior ``(sigma, weights, tau)`` also carries the models' offsets from their
    family's trend (:mod:`capability.prediction.offsets`): with ``offset = (beta,
    leverage)``, ``beta`` the bucket's slope per decade on the scale at the target (one
    for every law, or one per component: each law's own) and ``leverage``
    :func:`capability.prediction.offsets.offset_leverage`, each cell adds the variance
    ``(beta tau)^2 leverage``."""
    scale = SCALES[quantity]
    beta, leverage = (0.0, 0.0) if offset is None else offset
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
    centres = np.concatenate([np.full(post[0].size, t) for _, t, _, post in comps])
    sds = np.concatenate([np.sqrt(v + (post[0] * d) ** 2 +
                                  (betas[i] * _taus(post)) ** 2 * leverage +
                                  (betas[i] * _kappas(post) * d) ** 2)
                          for i, (_, _, v, post) in zip(keep, comps)])
    weights = np.concatenate([w / total * post[1] for w, _, _, post in comps])
    t_low, t_high = _mixture_bounds(centres, sds, weights, level)
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
                        posterior: tuple[np.ndarray, np.ndarray] | None = None,
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
