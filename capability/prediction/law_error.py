"""The rolling backtests' error model and the posterior of its scales (pure): the law
error per decade, the models' offsets from their family's trend and a bend in the
family's growth, read from a law's backtest errors.

**Law error per decade.** From the rolling backtests (:mod:`capability.prediction.rolling`),
per law and quantity, step ``j`` at distance ``d_j`` decades gives an error ``e_bj`` in
every bucket ``b`` and a noise variance ``v_j = mean_b (v_pred,bj + v_meas,bj)`` (the law's
own sampling noise and the measurement's). The steps from one origin share its fit, so per
bucket they share one error slope: ``e_bj = delta d_j + eps_bj`` with ``delta ~ N(0,
sigma^2)`` and ``eps_bj ~ N(0, v_j)`` -- per (origin, bucket) a normal vector with
covariance ``diag(v) + sigma^2 d d^T``; with one step per origin this is ``e_bj ~ N(0, v_j +
sigma^2 d_j^2)``, independent across buckets. The prior on ``sigma`` is a spike and slab: no
law error (``sigma = 0``) with probability ``EXACT_PRIOR`` (0.5), else half-Cauchy (scale
:data:`capability.prediction.calibrate.FALLBACK_SIGMA`, weakly informative); with it the
backtests give the posterior of the law error per decade on a grid
(:func:`law_error_posterior`). A moment estimate ``max(0, mean_j (m_j - v_j) / d_j^2)``
(``m_j`` the step's mean squared error) would say 0 whenever the law's error hides in the
backtests' noise -- and the error at the target, twice as far, then shows; the posterior
keeps every law error the backtests cannot rule out. The half-Cauchy alone kept too many:
where the errors are the size of their noise its posterior is flat from 0 to about that
size, so a law with no error at all was given one of the backtests' noise per decade, and
90% intervals held the truth in 0.98-1.00 of the buckets of clean, spread, inverse and
ceilings ladders (8 seeds each). The spike lets the backtests say "no error": its posterior
probability is the Bayes factor of the exact law against the slab, times the prior odds. On
clean ladders (8 seeds) ``problem_power`` and ``ceiling`` read it at a median 0.95 (a Bayes
factor of about 19), the laws that err there (``logistic``, ``linear``, ``no_change``) at
0.00; on emergence ladders the logistic law, which takes all the weight there but errs in
its hardest bucket, at 0.21.

**Models off their trend.** Members of a family sit off its trend by an offset ``u_m`` in
decades of effective compute, shared by all of a model's problems
(:mod:`capability.prediction.offsets`, which estimates their spread ``tau`` from the
ladder's counts). A step's errors then also carry ``beta_bj (sum_m h_jm u_m - u_j)`` --
``beta_bj`` the bucket's slope per decade at the held model, ``h_j`` the straight-line hat
row of the origin's models -- shared by every bucket of the step, and between two steps of
one origin with covariance ``tau^2 (h_j . h_j' + [j = j'])``. The likelihood of an origin's
errors is normal with covariance ``diag(v) + sigma^2 [b = b'] d d' + tau^2 beta beta' K``
(:func:`law_error_posterior`), and ``(sigma, tau)`` have a joint posterior on a grid: the
half-Cauchy prior for ``sigma`` and the offsets module's posterior for ``tau`` (its nodes,
equal weights). A bucket-wide shift that the offsets explain is not read as law error, and
the evidence of the laws (:mod:`capability.prediction.selection`) is taken under the same
model. Without the term, a four-model ladder, whose backtests hold out one model, read that
model's offset as six independent bucket errors: 90% intervals held the truth in 0.70 of the
buckets on simulated ladders of kind ``irregular``.

**A bend in the family's growth** (``BEND_SCALE``, ``BEND_PRIOR``). A family whose growth
slows (or speeds up) in log compute makes a law fitted below overshoot (or undershoot)
every bucket in proportion to its slope, by a shortfall of effective compute: where the
effective compute bends with curvature ``kappa`` (its decades per decade change by
``kappa`` per decade), a straight line in log compute through the fitted models misses it
at ``x`` by ``kappa g(x)``, ``g(x) = (x^2 - sum_m h_m x_m^2) / 2``
(:func:`capability.prediction.offsets.bend_loading`; ``h`` the line's hat row at ``x``,
``x`` in decades) -- quadratic in the distance from the models' centre. A step's errors
then carry ``beta_bj kappa_o g_j`` with ``kappa_o ~ N(0, kappa^2)`` per origin, shared by
its steps and buckets -- covariance ``kappa^2 (beta g)(beta g)'`` -- and the target's
interval ``(beta kappa g_T)^2``. Without the term those errors, shared by the buckets of a
step, were read as the held models' offsets (kind ``slowing``: the spread rose from the
counts' 0.04 decades to 0.10, the law error stayed near 0), and the target's interval,
which the bend reaches in full, missed. With a loading linear in the distance beyond the
largest model (``d``, before 2026-12-05), the target's was as large as the longest
backtest's (1 decade against 0.5-1 on the suite's five-model ladders, where ``g`` gives
1.75 against 0.44-1.05), and ``slowing`` ladders whose pass rates move faster with
compute (per-problem exponent 0.6) covered 0.68 (1.00 now; docs/accuracy-history.md). The
bend has its own spike and slab (none with probability ``BEND_PRIOR``, else half-Cauchy
with ``BEND_SCALE``, :func:`_bend_grid`), joins ``(sigma, tau)`` in the posterior that
sets the intervals, and is left out of the evidence that weighs the laws. It is read
where the backtests hold more than one model
(:func:`capability.prediction.selection.bend_readable`): one held model's offset and a
bend load the buckets alike, at one distance.
A backtest cannot see a bend steeper than the ladder's, so it widens the intervals rather
than moving the estimate: the backtests' signed errors do not locate the target's (on
``family`` ladders their correlation was -0.51 over 6 seeds; ``slowing`` +0.80, clean
+0.05). Measured in the README's accuracy section.

**A share of the law error common to the buckets** (``SHARE_NODES``, with ``shared``).
Where a law is wrong in the same way for every bucket, its errors in a step's buckets
move together: ``sigma^2 ((1 - rho) [b = b'] + rho) d d'``, ``rho`` the common share. A
bucket's own interval does not depend on it; the headline's does, which averages the
buckets (:func:`capability.prediction.headline.joint_bucket_draws`): with ``rho = 0`` it
counts on the buckets' law errors to cancel, and on ``family`` ladders, where every bucket
erred the same way, it held the truth in 0.75 of 40 seeds. ``rho`` is read *given* each
cell ``(sigma, tau, kappa)`` of the posterior without it, from the same backtests (a cut:
``p(rho | sigma, tau, kappa, errors)`` under equal prior weights on its nodes), so the
cells weigh as without it and every bucket's interval is as before. Read jointly, it
moved those weights: a common share loads every bucket alike where the bend loads each by
its slope, the backtests of a five-model ladder barely tell the two apart, and the
buckets came out up to a quarter wider (docs/accuracy-history.md). Where the backtests
cannot read ``rho`` -- none (three models: the fallback rule) or one held model (four:
its offset loads every bucket as a common share does) -- the headline takes it at its
prior (:func:`with_share_prior`), not at 0: on three-model ``family`` ladders (20 seeds)
``rho = 0`` held the headline in 0.65 of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["law_error_posterior", "no_error_probability", "spike_slab_grid",
           "sigma_log_joint", "sigma_posterior", "finite_cells", "posterior_spreads",
           "posterior_bends", "posterior_shares", "with_share_prior", "EXACT_PRIOR",
           "BEND_SCALE", "BEND_PRIOR", "SHARE_NODES"]

EXACT_PRIOR = 0.5   # prior probability that a law has no error beyond noise (sigma = 0)
BEND_SCALE = 0.2    # decades of effective compute per decade, per decade: half-Cauchy scale
BEND_PRIOR = 0.8    # prior probability that the family's growth does not bend (kappa = 0)
BEND_NODES = 25     # nodes of the bend's grid
# The law error's share common to a step's buckets, rho (its nodes, equal prior weights).
SHARE_NODES = np.array([0.0, 0.25, 0.5, 0.75, 1.0])


def finite_cells(step, law: str, q: str) -> np.ndarray:
    """The buckets of a step where a law's error and its noise variance are finite."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(step.error[law][q]) & \
            np.isfinite(step.var_pred[law][q] + step.var_meas[q])


@dataclass(frozen=True)
class _Block:
    """One origin's backtest observations of a law and quantity (one per step and bucket):
    errors ``e``, noise variances ``v`` (a step's mean over its buckets), distances ``d``,
    the bend's loadings ``g`` (:func:`capability.prediction.offsets.bend_loading`), bucket
    and step indices, offset loadings ``beta`` (the bucket's slope per decade at the held
    model) and ``K`` (steps x steps), the offsets' covariance per ``tau^2`` between the
    steps' errors: ``h_j . h_j' + [j = j']`` with ``h_j`` the hat row of step ``j``."""

    e: np.ndarray
    v: np.ndarray
    d: np.ndarray
    g: np.ndarray
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
        finite = finite_cells(s, law, q)
        if cells is not None:
            finite &= cells[k]
        if not finite.any() or s.distance <= 0:
            continue
        idx = np.flatnonzero(finite)
        beta = np.asarray(s.slope.get(q, np.zeros(e.size)), float)[idx]
        by_origin.setdefault(len(s.below), []).append(
            (e[idx], float(np.mean(v[finite])), s.distance, idx, beta, s.hat, s.bend))
    blocks = []
    for rows in by_origin.values():
        hats = np.array([np.asarray(r[5], float) for r in rows])   # one origin: same models
        K = np.eye(len(rows)) + hats @ hats.T
        blocks.append(_Block(
            e=np.concatenate([r[0] for r in rows]),
            v=np.concatenate([np.full(r[0].size, r[1]) for r in rows]),
            d=np.concatenate([np.full(r[0].size, r[2]) for r in rows]),
            g=np.concatenate([np.full(r[0].size, r[6]) for r in rows]),
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
    """A coarse grid of the bend ``kappa`` (the family's curvature: decades of effective
    compute per decade, per decade) and its log prior mass per node: ``kappa = 0`` with
    probability ``exact``, else half-Cauchy with ``scale`` over ``nodes - 1`` geometric
    nodes (the slab's masses normalised to ``1 - exact`` over the grid)."""
    slab = scale * np.geomspace(0.02, 20.0, nodes - 1)
    mass = np.gradient(slab) / (1 + (slab / scale) ** 2)
    return (np.concatenate([[0.0], slab]),
            np.log(np.concatenate([[exact], (1 - exact) * mass / mass.sum()])))


def _block_loglik(block: _Block, sigma: np.ndarray, taus: np.ndarray,
                  kappas: np.ndarray) -> np.ndarray:
    """``log p(e | sigma, tau, kappa)`` of one origin's errors on the grid ``(sigma, tau,
    kappa)``, each bucket's law error its own (``rho = 0``; :func:`_pairs_loglik` on
    every pair ``(tau, kappa)``)."""
    t2, k2 = np.meshgrid(np.asarray(taus, float) ** 2, np.asarray(kappas, float) ** 2,
                         indexing="ij")
    out = _pairs_loglik(block, sigma, t2.ravel(), k2.ravel())[..., 0]
    return out.reshape(sigma.size, taus.size, kappas.size)


def _pairs_loglik(block: _Block, sigma: np.ndarray, tau2: np.ndarray, kappa2: np.ndarray,
                  rhos=(0.0,)) -> np.ndarray:
    """``log p(e | sigma, tau, kappa, rho)`` of one origin's errors on the pairs ``(tau^2,
    kappa^2)`` given, for every ``sigma`` and ``rho``: ``(sigma, pair, rho)``. Normal with
    covariance ``diag(v) + sigma^2 ((1 - rho) [b = b'] + rho) d d' + tau^2 beta beta'
    K[j, j'] + kappa^2 (beta g)(beta g)'`` -- the noise, a law-error slope per bucket
    shared by the origin's steps (a share ``rho`` of its variance common to every bucket),
    the models' offsets from their trend, shared by every bucket, and a bend of the
    family's growth, shared by every bucket and step, its loading ``g``
    (:func:`capability.prediction.offsets.bend_loading`) growing with the square of the
    distance from the origin's models.

    Per pair, with ``M = diag(v) + tau^2 beta beta' K + kappa^2 g g' = L L'`` and the
    eigenvalues ``lambda`` and vectors ``U`` of ``L^-1 A L^-T`` (``A`` the law-error term
    per ``sigma^2``): ``log det = log det M + sum log(1 + sigma^2 lambda)`` and ``e' cov^-1
    e = sum f^2 / (1 + sigma^2 lambda)`` with ``f = U' L^-1 e``, for every ``sigma`` at
    once."""
    same = block.bucket[:, None] == block.bucket[None, :]
    off = np.outer(block.beta, block.beta) * block.K[np.ix_(block.step, block.step)]
    bend = np.outer(block.beta * block.g, block.beta * block.g)
    # Every pair at once: stacked Cholesky factors and eigendecompositions.
    cov = (np.diag(block.v)[None] + tau2.reshape(-1, 1, 1) * off[None] +
           kappa2.reshape(-1, 1, 1) * bend[None])
    chol = np.linalg.cholesky(cov)
    inv = np.linalg.inv(chol)
    base = 2 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)[None]
    out = []
    for rho in np.atleast_1d(np.asarray(rhos, float)):
        law = np.outer(block.d, block.d) * ((1.0 - rho) * same + rho)
        lam, vec = np.linalg.eigh(inv @ law[None] @ np.swapaxes(inv, 1, 2))
        lam = np.maximum(lam, 0.0)                               # (G, n)
        f = np.einsum("gji,gj->gi", vec, inv @ block.e)          # U' L^-1 e
        scaled = 1.0 + sigma[:, None, None] ** 2 * lam[None]     # (S, G, n)
        logdet = base + np.sum(np.log(scaled), axis=2)
        out.append(-0.5 * (block.e.size * np.log(2 * np.pi) + logdet +
                           np.sum(f[None] ** 2 / scaled, axis=2)))
    return np.stack(out, axis=-1)


def _law_log_joint(blocks: list[_Block], scale: float, taus=None, exact: float = 0.0,
                   bend: bool = False):
    """The grid ``(sigma, tau, kappa)`` and ``log p(errors | sigma, tau, kappa) + log
    p(sigma) + log d(sigma) + log p(tau) + log p(kappa)`` on it, without a common share
    (``rho = 0``): ``taus`` are equal-weight nodes of the offsets' spread
    (:meth:`capability.prediction.offsets.ModelOffsets.nodes`), ``[0]`` without offsets;
    ``exact`` the prior probability of ``sigma = 0`` (:func:`spike_slab_grid`); ``kappa``
    the bend's grid (:func:`_bend_grid`) with ``bend``, else ``[0]``. Equal nodes are one
    node of their summed mass (the spread's posterior is a coarse grid, so its 16 nodes
    repeat where it is read narrow: 2 distinct values on clean and emergence ladders, all
    16 on irregular ones): the same posterior on a grid up to eight times smaller."""
    taus = np.zeros(1) if taus is None or not np.size(taus) else np.asarray(taus, float)
    taus, repeats = np.unique(taus, return_counts=True)
    grid, log_prior = spike_slab_grid(scale, exact)
    kappas, log_kappa = _bend_grid() if bend else (np.zeros(1), np.zeros(1))
    shape = (grid.size, taus.size, kappas.size)
    log = (log_prior[:, None, None] + np.log(repeats / repeats.sum())[None, :, None] +
           log_kappa[None, None, :] +
           sum((_block_loglik(b, grid, taus, kappas) for b in blocks), np.zeros(shape)))
    return grid, taus, kappas, log


def _share_conditional(blocks: list[_Block], sigma: np.ndarray, tau: np.ndarray,
                       kappa: np.ndarray) -> np.ndarray:
    """``p(rho | sigma, tau, kappa, errors)`` on :data:`SHARE_NODES` for each cell given
    (flat arrays): ``p(errors | ..., rho)`` normalised over ``rho``, whose prior weights are
    equal. Evaluated on the cells' own values of ``sigma`` and pairs ``(tau, kappa)``
    alone, not the whole grid: ``(cells, rho)``."""
    s_val, s_idx = np.unique(sigma, return_inverse=True)
    pairs, p_idx = np.unique(np.column_stack([tau, kappa]), axis=0, return_inverse=True)
    log = sum(_pairs_loglik(b, s_val, pairs[:, 0] ** 2, pairs[:, 1] ** 2, SHARE_NODES)
              for b in blocks)[s_idx.ravel(), p_idx.ravel()]
    return np.exp(log - special.logsumexp(log, axis=-1, keepdims=True))


def law_error_posterior(steps, law: str, q: str, scale: float, taus=None, cells=None,
                        exact: float = EXACT_PRIOR, bend: bool = False,
                        shared: bool = False):
    """The joint posterior of the law error per decade ``sigma``, the offsets' spread
    ``tau``, (with ``bend``) the bend ``kappa`` and (with ``shared``) the law error's share
    common to a step's buckets ``rho`` given a law's backtests
    (:func:`_pairs_loglik`; ``taus``: the spread's nodes from the ladder, its prior here;
    the prior of ``sigma``: exact, ``sigma = 0``, with probability ``exact``, else
    half-Cauchy with ``scale``; of ``kappa``: :func:`_bend_grid`; of ``rho``: equal on
    :data:`SHARE_NODES`): ``(sigma, weights, tau, kappa[, rho])``, flat arrays over the grid
    with the weights summing to 1 (cells under 1e-9 of the mass dropped, and ``rho``'s
    conditional evaluated on the cells kept alone, :func:`_share_conditional`); and the log
    evidence ``log sum p(errors | sigma, tau, kappa) p(sigma) p(tau) p(kappa)``, that of
    the model without a common share (``rho`` is read given the rest, a cut, and moves
    neither the cells' weights nor the evidence). None without an observation."""
    blocks = _blocks(steps, law, q, cells)
    if not blocks:
        return None
    grid, taus, kappas, log = _law_log_joint(blocks, scale, taus, exact, bend)
    z = float(special.logsumexp(log))
    w = np.exp(log - z).ravel()
    keep = w > 1e-9 * w.sum()
    w = w[keep] / w[keep].sum()
    sig, tau, kap = (c.ravel()[keep] for c in np.meshgrid(grid, taus, kappas, indexing="ij"))
    if not shared:
        return (sig, w, tau, kap), z, blocks      # rho = 0 (:func:`posterior_shares`)
    # The cells (sigma, tau, kappa) weigh as without a common share; rho is read given
    # each cell (a cut: it does not move them).
    return _over_shares(sig, w, tau, kap, _share_conditional(blocks, sig, tau, kap)), z, blocks


def no_error_probability(post) -> float:
    """The posterior probability of no law error, ``sigma = 0``, in a law-error posterior
    ``(sigma, weights, ...)`` (:func:`law_error_posterior`)."""
    return float(np.sum(post[1][post[0] == 0]))


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


def posterior_spreads(post) -> np.ndarray:
    """The offsets' spread of each cell of a law-error posterior (0 where it has none)."""
    return np.asarray(post[2], float) if len(post) > 2 else np.zeros(np.size(post[0]))


def posterior_bends(post) -> np.ndarray:
    """The bend of each cell of a law-error posterior (0 where it has none)."""
    return np.asarray(post[3], float) if len(post) > 3 else np.zeros(np.size(post[0]))


def posterior_shares(post) -> np.ndarray:
    """The law error's share common to the buckets, ``rho``, of each cell of a law-error
    posterior (0 where it has none: each bucket's law error its own)."""
    return np.asarray(post[4], float) if len(post) > 4 else np.zeros(np.size(post[0]))


def with_share_prior(post) -> tuple:
    """A law-error posterior with a common share ``rho`` in every cell: ``post`` itself
    where it has one (read from the backtests); else each cell spread over
    :data:`SHARE_NODES` by their equal prior weights, ``(sigma, weights, tau, kappa,
    rho)``. Backtests that cannot read ``rho`` -- none (the fallback rule), or one held
    model, whose offset loads every bucket as a common share does -- leave it at its
    prior, not at 0, which would count on the buckets' law errors to cancel."""
    if len(post) > 4:
        return post
    sig = np.asarray(post[0], float)
    return _over_shares(sig, np.asarray(post[1], float), posterior_spreads(post),
                        posterior_bends(post), np.full((sig.size, SHARE_NODES.size),
                                                       1.0 / SHARE_NODES.size))


def _over_shares(sig, w, tau, kap, cond) -> tuple:
    """The cells ``(sigma, tau, kappa)`` with weights ``w``, each spread over
    :data:`SHARE_NODES` by ``cond`` (``(cells, rho)``, rows summing to 1):
    ``(sigma, weights, tau, kappa, rho)``, flat."""
    n = SHARE_NODES.size
    return (np.repeat(sig, n), (w[:, None] * cond).ravel(), np.repeat(tau, n),
            np.repeat(kap, n), np.tile(SHARE_NODES, sig.size))
