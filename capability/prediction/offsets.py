"""How far a family's models sit off its trend: per-model effective-compute offsets (pure).

Members of a real family are not trained exactly alike (data, tokens, recipe), so model
``m`` performs as a model of the family's trend at ``C_m 10^(u_m)``: an *offset* ``u_m``
decades of effective compute, shared by every problem. Offsets move every problem of a
model the same way, so averaging over problems does not shrink them, and they reach the
prediction twice: the ladder's offsets bend the fitted law, and the target has its own.

**Estimate.** Per problem ``i`` the pass rate is linear in effective log compute on a link
scale, ``link(p_im) = a_i + s_i (x_m + u_m)`` with ``x_m = log10 C_m``, fitted on the
binomial likelihood of the counts by alternating iteratively reweighted least squares (per
problem ``a_i, s_i`` given the offsets; per model ``u_m`` given the problems), from the
empirical link's weighted least squares. The offsets are kept orthogonal to ``1`` and
``x``: an offset linear in ``x`` is absorbed by every problem's intercept and slope, so
only the ``M - 2`` orthogonal components are seen. Two links are fitted, ``logit``
(straight for a logistic in log compute) and ``cloglog`` (``log(-log p)``, straight for the
report's power law per problem), and the one with the smaller binomial deviance is kept, so
that a family's common curvature on the wrong link is not read as offsets. They are read from
the problems every model solved sometimes but not always where there are enough of them
(:func:`_informative`). On the simulated kinds (8 seeds each, five models) the rms offset
found is 0.007-0.022 decades without offsets (0.02-0.07 with 20 samples per problem, 4
seeds) and 0.125 where they are drawn with sd 0.15, whose visible part it recovers to 0.014
decades rms (``tests/test_offsets.py``).

**Spread.** The ``M - 2`` orthogonal components ``e_j`` are ``N(0, tau^2 + v)`` (from five
models, one of them with a bend beside it: below) with ``v``
the offsets' estimation noise per component: the larger of the dispersion over the
problems' information and a bootstrap over the problems (``BOOTSTRAP_DRAWS`` refits on the
problems resampled). Problem-by-model effects move each problem's own line too, which the
dispersion does not see: on ``family`` ladders (effects of sd 1.5 on the logit scale, 8
seeds) it stated 0.100 decades where the visible components erred 0.189, the bootstrap
0.212 (``tests/test_offsets.py``); on ladders without such effects the two agree
(0.015-0.016 decades on clean, emergence and irregular ladders, 20 seeds each). On the
real Gemma-3-it ladder here (four models, 10-17 samples per problem, no problem that every
model solved sometimes but not always) the dispersion stated 0.004 decades and read its
offsets as evident (probability of none 2e-9); the bootstrap states 0.21 (0.67). The posterior
of ``tau`` on a grid (half-Cauchy prior, scale ``TAU_SCALE`` decades) is
:func:`capability.prediction.law_error.sigma_posterior`'s with every distance 1. The
prior's scale, 0.3 decades, is the size of the offsets real families show: with every
member in, the visible components are 0.16 and -0.26 decades for Gemma-3-it, -0.47 and 0.16
for Qwen2.5-Instruct (EvalPerf) and 0.92 and -0.51 for Qwen2-Instruct. A ladder has ``M -
2`` of them (three for five models), so the prior weighs: with a scale of 0.1, simulated
ladders whose models sit 10^N(0, 0.15^2) off their trend (``irregular``) covered 0.84 at
the default distance and 0.70 with the target 2x beyond a five-model ladder (20 seeds
each); with 0.3, 0.90 and 0.79, and the other kinds moved by at most 0.02 in coverage but
for one seed of few-samples (the counts hold their spread near 0 whatever the scale).
The prior is a spike and slab, like the law error's: a family on its trend (``tau = 0``)
with probability ``ON_TREND_PRIOR`` (1/2, equal odds), else the half-Cauchy. With the
half-Cauchy alone the spread's posterior kept about 0.03 decades on ladders without offsets
(its rms; 3 components at a noise of 0.015), which the interval then added at the target;
with the spike: see the README's accuracy section.

**A bend beside the spread** (:func:`spread_posterior`). A family whose growth slows (or
speeds up) in log compute bends every model's offset from the straight line into one smooth
curvature (kind ``slowing``: the middle models above the line through the ends). Read as
spread, that curvature made 0.15-0.24 decades (6 seeds), and the rolling backtests' errors,
which grow with distance as the bend goes on, were then read as the held models sitting off
their trend, with no law error to carry to the target. From ``CURVATURE_MODELS`` (5) models, the
component along a curvature may hold a bend ``b`` beside the spread, ``N(0, tau^2 + v +
b^2)``, ``b`` with the spread's own spike-and-slab prior and integrated out; the other
components are as before. A curvature that the other components do not share is then read
as a bend (0.03-0.06 decades of spread on ``slowing`` ladders), and it stays in the
backtests' errors as law error; offsets that are not smooth in compute keep their spread
(``irregular``: 0.23-0.38 decades on 5 of 6 seeds, 0.012 on one, as before to 0.01;
clean: 0.005-0.012). Reading the spread
from the components beyond a curvature alone did the first but not the second: irregular
ladders' spread rose to 0.27-0.51 decades (two components left), their intervals 13.76 ->
16.87 points wide at the same coverage (20 seeds). With four models one component beyond a
curvature is left, too few to tell a bend from an offset: it is not done there (with the
bend beside the spread from four models, four-model ``interaction`` ladders covered 0.82
instead of 0.87 and ``slowing`` 0.83 instead of 0.88; read beyond a curvature alone,
``interaction`` 0.80; 10 seeds each).

**Effective compute** (:func:`offsets_evident`). Where the counts rule out a family on its
trend -- the posterior probability of ``tau = 0`` (prior 1/2), from the offsets' components
beyond a curvature in ``log10 C``, under ``EVIDENT`` (0.01) on every link whose fit
converged -- every law is fitted with model ``m`` at ``C_m 10^(u_m)``
(the visible part), in the rolling backtests too, so that the ladder's own offsets no longer
bend the laws; the backtests then carry no offsets, their law error is read without the
offsets' term, and the target's offset enters the interval alone, with the spread the counts
give (:func:`capability.prediction.selection.with_offsets`). The part of the offsets along
``1`` and ``log10 C`` is absorbed by every law, as before, so the target still errs by
``beta (u_T - sum_m h_m u_m)``. Distances -- how far a backtest step or the target lies
beyond the models it is predicted from -- and the leverage stay on the nominal compute:
where the offsets exceed the ladder's spacing, a model's effective compute may lie above
a larger one's, and on effective compute a four-model ladder's one step then lay -1.88
decades beyond its origin and the target -0.75; the backtest was dropped, the law error
taken as nothing and the offsets' term lost with it, and the 90% intervals were 0.2-0.6
points wide (4 of 12 seeds at ``--ratios 16,8,4,2 --offset-sd 0.5``; 0 of 6 buckets held in
each). On the wrong link a family's common curvature reads as offsets
(on clean ladders 2 of 20 seeds chose ``logit``, and found 0.07-0.08 decades rms in the
shape of a curvature), hence "every link"; with 20 samples per problem one emergence ladder
showed 0.15 decades of that shape on both links, hence "beyond a curvature". Measured
(``python bench/accuracy.py --kinds irregular``): see the README's accuracy section.

**Effect at the target** (:func:`offset_leverage`). Where the bucket's value moves ``beta``
per decade (on its calibration scale, :func:`bucket_slopes`), a law fitted through the
ladder and evaluated at ``x_T`` errs by ``beta (u_T - sum_m h_m u_m)``, ``h`` the row of
the straight-line hat matrix at ``x_T``: variance ``beta^2 tau^2 (1 + sum_m h_m^2)``. The
rolling backtests' errors carry the same term (the held model's offset and those of the
models below its origin), shared by every bucket of a step; the law error and the spread
are then read from them jointly
(:func:`capability.prediction.law_error.law_error_posterior`), with this module's
posterior of the spread as the prior. In both, ``tau`` is each model's whole deviation,
the spread and the problem-by-model scatter (:attr:`ModelOffsets.scatter`,
:meth:`ModelOffsets.deviation_nodes`); the laws are weighed at the spread alone.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from capability.prediction.law_error import sigma_log_joint, sigma_posterior, spike_slab_grid
from capability.prediction.scales import SCALES
from capability.prediction.selection import BASELINES

__all__ = ["ModelOffsets", "model_offsets", "offset_leverage", "hat_row", "bend_loading",
           "bucket_slopes", "law_slopes", "offsets_evident", "spread_posterior", "residual_spread",
           "TAU_SCALE", "LINKS", "EVIDENT", "CURVATURE_MODELS", "BOOTSTRAP_DRAWS"]

TAU_SCALE = 0.3   # decades: the half-Cauchy prior scale of the offsets' spread (module docstring)
LINKS = ("logit", "cloglog")
_ITERATIONS = 100
_MAX_STEP = 10.0   # on the link scale, per cell and iteration
MAX_OFFSET = 2.0   # decades: a fit that finds a larger offset has run away
ON_TREND_PRIOR = 0.5   # prior probability that a family sits on its trend (tau = 0)
EVIDENT = 0.01     # offsets are evident when P(tau = 0 | counts) is below this
MIN_INTERIOR = 20  # problems with 0 < c < n at every model, to read the offsets from them alone
CURVATURE_MODELS = 5   # from this many models, a bend may stand beside the spread
BOOTSTRAP_DRAWS = 64   # refits on resampled problems for the offsets' estimation noise
BOOTSTRAP_SEED = 20260   # fixed: the noise is a function of the counts
IQR_PER_SD = 1.349   # a normal's interquartile range in standard deviations


@dataclass(frozen=True)
class ModelOffsets:
    """The ladder models' offsets from their family's trend, in decades of effective compute.

    Attributes
    ----------
    offsets
        Per model (ordered by compute) the offset's component orthogonal to ``1`` and
        ``log10 C`` (the part a ladder can see).
    noise
        The offsets' estimation variance (decades^2), mean over models.
    link
        The link the offsets were found on (``"logit"`` or ``"cloglog"``; ``"none"`` when
        neither fit converged to offsets within ``MAX_OFFSET`` decades, and then no
        posterior).
    grid, weights
        The posterior of the offsets' spread ``tau`` (decades) on a grid
        (:func:`spread_posterior`); None with fewer than three models.
    none_probability
        The posterior probability that the models sit on their trend (``tau = 0``; prior
        ``ON_TREND_PRIOR``, else the half-Cauchy with scale ``TAU_SCALE``) given the
        offsets' components beyond a curvature in ``log10 C`` (orthogonal to ``1``, ``x``
        and ``x^2``), the largest over the links whose fit converged: on the wrong link a
        family's common curvature reads as offsets (on clean ladders, 2 of 20 seeds chose
        the logit link and found 0.07-0.08 decades rms, in the shape of a curvature, at a
        probability of 0.000); NaN without a posterior.
    binomial
        The part of ``noise`` the counts' binomial noise alone gives (decades^2: the
        problems' information without the dispersion, at most ``noise``). The rest,
        ``noise - binomial``, is what problem-by-model effects add (:attr:`scatter`).
    """

    offsets: np.ndarray
    noise: float
    link: str
    grid: np.ndarray | None
    weights: np.ndarray | None
    none_probability: float = float("nan")
    binomial: float = 0.0

    @property
    def tau(self) -> float:
        """The posterior root mean square of the spread (decades); NaN without one."""
        if self.grid is None:
            return float("nan")
        return float(np.sqrt(np.sum(self.weights * self.grid**2)))

    def nodes(self, k: int = 16) -> np.ndarray:
        """``k`` equal-weight nodes of the spread's posterior (its ``(j + 1/2) / k``
        quantiles), for mixing over it; empty without a posterior."""
        if self.grid is None:
            return np.empty(0)
        cdf = np.cumsum(self.weights)
        idx = np.searchsorted(cdf, (np.arange(k) + 0.5) / k)
        return self.grid[np.minimum(idx, self.grid.size - 1)]

    @property
    def scatter(self) -> float:
        """The offsets' noise beyond the binomial, ``noise - binomial`` (decades^2): what
        problem-by-model effects add to each visible component. On the benchmark's fixed
        problems they move every model's bucket means as an offset would -- the target's
        too -- but the spread's posterior reads them as estimation noise and takes them
        out. The binomial part is not a deviation: each law's sampling-noise bootstrap
        carries it, and a model's true pass rate has none."""
        return max(float(self.noise) - float(self.binomial), 0.0)

    @property
    def deviation(self) -> float:
        """The root mean square of a model's own deviation from the trend (decades):
        ``sqrt(tau^2 + scatter)`` (:meth:`deviation_nodes`); NaN without a posterior."""
        return float(np.sqrt(self.tau**2 + self.scatter))

    def deviation_nodes(self, k: int = 16) -> np.ndarray:
        """``k`` equal-weight nodes of a model's own deviation from the trend (decades),
        ``sqrt(tau^2 + scatter)`` at each of :meth:`nodes`: the backtests' law error is
        read beside it, and the target's interval carries it."""
        return np.sqrt(self.nodes(k) ** 2 + self.scatter)

    def to_dict(self, names) -> dict:
        return {"offsets_decades": {str(n): float(u) for n, u in zip(names, self.offsets)},
                "link": self.link, "spread_decades": None if self.grid is None else self.tau,
                "noise_sd_decades": float(np.sqrt(self.noise)),
                "binomial_noise_sd_decades": float(np.sqrt(self.binomial)),
                "deviation_decades": None if self.grid is None else self.deviation,
                "on_trend_probability": (None if not np.isfinite(self.none_probability)
                                         else self.none_probability)}


def _slope_and_weight(n: np.ndarray, mu: np.ndarray, link: str):
    """``d mu / d eta`` at ``mu`` and the binomial weight ``n (d mu / d eta)^2 / (mu (1 -
    mu))`` (the inverse delta-method variance of the link)."""
    slope = mu * (1 - mu) if link == "logit" else mu * np.log(mu)
    slope = np.where(np.abs(slope) > 1e-300, slope, -1e-300)
    return slope, n * slope**2 / (mu * (1 - mu))


def _link(n: np.ndarray, c: np.ndarray, link: str) -> tuple[np.ndarray, np.ndarray]:
    """The empirical link of the Jeffreys-smoothed rate and its weight."""
    p = (c + 0.5) / (n + 1.0)
    eta = np.log(p / (1 - p)) if link == "logit" else np.log(-np.log(p))
    return eta, _slope_and_weight(n + 1.0, p, link)[1]


def _polynomial_basis(x: np.ndarray, degree: int) -> np.ndarray:
    """An orthonormal basis ``(M, M)`` whose first ``degree + 1`` columns span the
    polynomials in ``x`` up to ``degree``, column ``j`` the part of ``x^j`` orthogonal to the
    lower powers (Gram-Schmidt order), and the rest their complement."""
    z = (x - x.mean()) / max(float(np.ptp(x)), 1e-12)
    design = np.column_stack([z**j for j in range(degree + 1)])
    return np.linalg.qr(design, mode="complete")[0]


def _complement(x: np.ndarray, degree: int = 1) -> np.ndarray:
    """An orthonormal basis ``(M, M - degree - 1)`` of the vectors orthogonal to the
    polynomials in ``x`` up to ``degree`` (``1`` and ``x`` by default)."""
    return _polynomial_basis(x, degree)[:, degree + 1:]


def _working(n: np.ndarray, c: np.ndarray, eta: np.ndarray, link: str):
    """The binomial likelihood's working response and weights at the linear predictor
    ``eta`` (one step of iteratively reweighted least squares). The step of each cell is
    kept within ``_MAX_STEP`` on the link scale: where a problem's counts are all 0 or all
    ``n`` its line runs off towards infinity, and an unbounded step ``(y - mu) / mu'``
    there would outweigh its vanishing weight."""
    mu = _inverse_link(eta, link)
    slope, weight = _slope_and_weight(n, mu, link)
    return eta + np.clip((c / n - mu) / slope, -_MAX_STEP, _MAX_STEP), weight


def _informative(n: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The problems the offsets are read from: those every model solved sometimes but not
    always, when there are at least ``MIN_INTERIOR`` of them; else every problem some model
    solved sometimes (a problem every model always, or never, solved says nothing). A count
    of 0 or ``n`` bounds its cell's line from one side only, and problems that emerge within
    the ladder share that pattern (0, 0, 0, 5, 15 of 20): with 20 samples per problem their
    lines' common misfit was read as offsets of 0.05-0.15 decades."""
    inner = np.all((c > 0) & (c < n), axis=0)
    if inner.sum() >= MIN_INTERIOR:
        return inner
    return ~(np.all(c == 0, axis=0) | np.all(c == n, axis=0))


def _fit(n: np.ndarray, c: np.ndarray, x: np.ndarray, basis: np.ndarray, link: str,
         used: np.ndarray | None = None):
    """The binomial fit of ``link(p_im) = a_i + s_i (x_m + u_m)`` by alternating iteratively
    reweighted least squares, from the empirical link's weighted least squares: the offsets
    (in ``basis``'s span) and their estimation variance (Pearson dispersion over the
    problems' information), and the binomial noise's part of it (the dispersion taken as
    1). ``used``: the problems to read (default :func:`_informative`)."""
    project = basis @ basis.T
    u = np.zeros_like(x)
    used = _informative(n, c) if used is None else used
    if not used.any():
        return u, np.inf, np.inf, np.inf
    n, c = n[:, used], c[:, used]
    z, w = _link(n, c, link)
    eta = z
    for _ in range(_ITERATIONS):
        xe = (x + u)[:, None]
        sw = np.maximum(w.sum(0), 1e-300)   # a problem without weight adds nothing
        mx, mz = (w * xe).sum(0) / sw, (w * z).sum(0) / sw
        sxx = (w * (xe - mx) ** 2).sum(0)
        s = np.where(sxx > 0, (w * (xe - mx) * (z - mz)).sum(0) / np.where(sxx > 0, sxx, 1),
                     0.0)
        a = mz - s * mx
        info = (w * s**2).sum(1)
        r = z - a - s * x[:, None]
        new = project @ np.where(info > 0, (w * s * r).sum(1) / np.where(info > 0, info, 1),
                                 0.0)
        new_eta = a + s * (x + new)[:, None]
        done = np.max(np.abs(new - u)) < 1e-7 and np.max(np.abs(new_eta - eta)) < 1e-5
        u, eta = new, new_eta
        if done:
            break
        z, w = _working(n, c, eta, link)
    m, p = z.shape
    dof = max(m * p - 2 * p - basis.shape[1], 1)
    phi = float(np.sum(w * (z - a - s * (x + u)[:, None]) ** 2) / dof)
    info = np.maximum((w * s**2).sum(1), 1e-12)
    return (u, float(np.mean(phi / info)), _deviance(n, c, a + s * (x + u)[:, None], link),
            float(np.mean(1.0 / info)))


def _bootstrap_noise(n: np.ndarray, c: np.ndarray, x: np.ndarray, basis: np.ndarray,
                     link: str, draws: int = BOOTSTRAP_DRAWS) -> float:
    """The offsets' estimation variance (decades^2, per component in ``basis``, the mean
    over them) from ``draws`` refits on the problems they are read from
    (:func:`_informative`) resampled with replacement -- the same problems' rule for every
    refit, which a resample would otherwise switch -- with a fixed seed (the same counts
    give the same variance). Refits that do not converge, or run past ``MAX_OFFSET``, are
    dropped; 0 when fewer than two are left. The scale is read from the refits' interquartile
    range (``IQR / 1.349``, a normal's sd), not their variance: where few problems carry
    the offsets, a few refits run far (on the real Gemma-3 ladder here: components out to
    1.6 decades, a standard deviation of 0.40-0.47, an interquartile one of 0.16-0.25)."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    cols = np.flatnonzero(_informative(n, c))   # resampled among the problems read
    found = []
    for _ in range(draws):
        idx = rng.choice(cols, cols.size)
        u = _fit(n[:, idx], c[:, idx], x, basis, link, np.ones(cols.size, bool))[0]
        if np.all(np.isfinite(u)) and np.max(np.abs(u)) <= MAX_OFFSET:
            found.append(u)
    if len(found) < 2:
        return 0.0
    return float(np.mean(stats.iqr(np.array(found) @ basis, axis=0, scale=IQR_PER_SD) ** 2))


def _deviance(n: np.ndarray, c: np.ndarray, eta: np.ndarray, link: str) -> float:
    """The binomial deviance of the fit (how well the link's straight lines and the
    offsets explain the counts)."""
    mu = _inverse_link(eta, link)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(c > 0, c * np.log(c / (n * mu)), 0.0) + \
            np.where(c < n, (n - c) * np.log((n - c) / (n * (1 - mu))), 0.0)
    return float(2 * np.sum(term))


def _inverse_link(eta: np.ndarray, link: str) -> np.ndarray:
    if link == "logit":
        return np.clip(special.expit(eta), 1e-12, 1 - 1e-12)
    return np.clip(np.exp(-np.exp(np.minimum(eta, 50.0))), 1e-12, 1 - 1e-12)


def model_offsets(n, c, compute) -> ModelOffsets:
    """The ladder models' offsets from their family's trend (module docstring).

    Parameters
    ----------
    n, c
        Counts ``(M, P)``, models ordered by compute.
    compute
        The ``M`` models' compute, FLOPs.
    """
    n = np.asarray(n, float)
    c = np.asarray(c, float)
    x = np.log10(np.asarray(compute, float))
    m = x.size
    if m < 3:
        return ModelOffsets(np.zeros(m), 0.0, "logit", None, None)
    basis = _complement(x)
    best, on_trend = None, []
    for link in LINKS:
        u, noise, deviance, binomial = _fit(n, c, x, basis, link)
        if not (np.all(np.isfinite(u)) and np.max(np.abs(u)) <= MAX_OFFSET and
                np.isfinite(noise) and np.isfinite(deviance)):
            continue   # the fit ran away: not a family's offsets
        noise = max(noise, _bootstrap_noise(n, c, x, basis, link))
        # Beyond a curvature: a family's common curvature on the wrong link, or the
        # problems that emerge within the ladder, read as offsets in that shape.
        e = _complement(x, 2).T @ u
        on_trend.append(sigma_posterior(e, np.full(e.size, max(noise, 1e-12)),
                                        np.ones(e.size), TAU_SCALE,
                                        exact=ON_TREND_PRIOR)[1][0]
                        if e.size else 1.0)
        if best is None or deviance < best[3]:
            best = (link, u, noise, deviance, binomial)
    if best is None:
        return ModelOffsets(np.zeros(m), 0.0, "none", None, None)
    link, u, noise, _, binomial = best
    grid, weights = spread_posterior(x, u, noise)
    return ModelOffsets(u, noise, link, grid, weights, float(max(on_trend)),
                        min(binomial, noise))


def spread_posterior(x: np.ndarray, u: np.ndarray, noise: float):
    """The posterior ``(grid, weights)`` of the offsets' spread ``tau`` (decades) given the
    visible offsets ``u`` at ``x = log10 C`` and their estimation variance ``noise``.

    The components of ``u`` orthogonal to ``1`` and ``x`` are ``N(0, tau^2 + v)`` (prior:
    ``tau = 0`` with probability ``ON_TREND_PRIOR``, else half-Cauchy with scale
    ``TAU_SCALE``). From ``CURVATURE_MODELS`` models, the one along a curvature (``x^2``
    beyond ``1`` and ``x``) may also hold a bend of the family's axis: ``e_c ~ N(0, tau^2 +
    v + b^2)``, ``b`` with the same spike-and-slab prior, integrated out on its grid -- a
    curvature larger than the other components is then read as a bend, not as spread
    (module docstring)."""
    v = max(float(noise), 1e-12)
    if x.size < CURVATURE_MODELS:
        e = _complement(x).T @ u
        return sigma_posterior(e, np.full(e.size, v), np.ones(e.size), TAU_SCALE,
                               exact=ON_TREND_PRIOR)
    basis = _polynomial_basis(x, 2)   # column 2: the curvature; 3 on: beyond it
    e = basis[:, 3:].T @ u
    grid, log_w = sigma_log_joint(e, np.full(e.size, v), np.ones(e.size), TAU_SCALE, None,
                                  ON_TREND_PRIOR)
    e_c = float(basis[:, 2] @ u)
    bend, log_bend = spike_slab_grid(TAU_SCALE, ON_TREND_PRIOR)
    var = v + grid[:, None] ** 2 + bend[None, :] ** 2
    log_w = log_w + special.logsumexp(-0.5 * (np.log(2 * np.pi * var) + e_c**2 / var) +
                                      log_bend[None, :], axis=1)
    w = np.exp(log_w - log_w.max())
    return grid, w / w.sum()


def offsets_evident(offsets: ModelOffsets, level: float = EVIDENT) -> bool:
    """Whether the counts show the models off their trend beyond doubt: the posterior
    probability of no offsets (:attr:`ModelOffsets.none_probability`) under ``level``. The
    laws are then fitted on effective compute (``C_m 10^(u_m)``, the visible part)."""
    p = offsets.none_probability
    return bool(np.isfinite(p) and p < level)


def residual_spread(offsets: ModelOffsets) -> np.ndarray:
    """The spread of what stays of the offsets once every model's compute is corrected by
    its visible offset: their estimation error, ``sqrt(noise)`` decades, as one node (the
    form :func:`capability.prediction.selection.score_laws` takes the spread in)."""
    return np.array([np.sqrt(max(float(offsets.noise), 0.0))])


def hat_row(compute, at: float) -> np.ndarray:
    """The row at ``log10 at`` of the hat matrix of a straight line in ``log10 C`` through
    ``compute``: a fitted line's value there is ``sum_m h_m y_m``."""
    x = np.log10(np.asarray(compute, float))
    sxx = float(np.sum((x - x.mean()) ** 2))
    if x.size < 2 or sxx <= 0:
        return np.full(x.size, 1.0 / max(x.size, 1))
    return 1.0 / x.size + (float(np.log10(at)) - x.mean()) * (x - x.mean()) / sxx


def offset_leverage(compute, target_compute: float) -> float:
    """``1 + sum_m h_m^2`` (:func:`hat_row` at the target): the variance of ``u_T - sum_m
    h_m u_m`` per ``tau^2`` -- the target's own offset, plus the ladder's carried by the
    fit."""
    return float(1.0 + np.sum(hat_row(compute, target_compute) ** 2))


def bend_loading(compute, at: float) -> float:
    """``(x_a^2 - sum_m h_m x_m^2) / 2`` in decades squared, ``x = log10 C`` (from the mean
    of ``compute``'s, the same from any origin: the hat row reproduces straight lines) and
    ``h`` :func:`hat_row` at ``at``: how far a straight line in ``log10 C`` through
    ``compute`` misses, at ``at``, a curve of unit curvature (a slope that changes by one
    decade per decade, per decade). A bend in the family's growth reaches a law fitted to
    ``compute`` by this loading times the bend: quadratically in the distance beyond the
    fitted models' centre, not linearly in the distance beyond the largest."""
    x = np.log10(np.asarray(compute, float))
    centre = x.mean() if x.size else 0.0
    h = hat_row(compute, at)
    return 0.5 * float((np.log10(at) - centre) ** 2 - np.sum(h * (x - centre) ** 2))


SLOPE_STEP = 0.05   # decades either side of a compute for the laws' slopes


def law_slopes(fits, compute: float) -> dict[str, dict[str, np.ndarray]]:
    """Per law with a curve (the baselines left out: ``no_change`` is flat by construction,
    and an offset moves a bucket along its real slope), per quantity and bucket, the slope
    per decade on the calibration scale at ``compute``: a central difference over
    ``SLOPE_STEP`` decades either side (NaN where the law has no value)."""
    grid = compute * 10.0 ** np.array([-SLOPE_STEP, SLOPE_STEP])
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, fit in fits.items():
        if fit is None or fit.curve is None or name in BASELINES:
            continue
        out[name] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            for q, v in zip(SCALES, fit.curve(grid)):
                t = SCALES[q].forward(np.asarray(v, float))
                out[name][q] = (t[:, 1] - t[:, 0]) / (2 * SLOPE_STEP)
    return out


def bucket_slopes(fits, compute: float,
                  per_law: dict[str, dict[str, np.ndarray]] | None = None
                  ) -> dict[str, np.ndarray]:
    """Per quantity and bucket the slope per decade on the calibration scale at ``compute``:
    the median over the laws' own (:func:`law_slopes`, computed here unless ``per_law``
    gives them); 0 where no law has one."""
    if per_law is None:
        per_law = law_slopes(fits, compute)
    first = next((f for f in fits.values() if f is not None), None)
    n_buckets = 0 if first is None else len(first.mean_pass_rate)
    out = {}
    for q in SCALES:
        rows = [slopes[q] for slopes in per_law.values()]
        if not rows:
            out[q] = np.zeros(n_buckets)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # a bucket no law has
            med = np.nanmedian(np.array(rows), axis=0)
        out[q] = np.where(np.isfinite(med), med, 0.0)
    return out
