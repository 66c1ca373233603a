"""Per-problem laws fitted on the binomial likelihood, partially pooled across problems.

Pure numpy: arrays in, a frozen dataclass out, no I/O.

Per problem ``i`` and ladder model ``m`` with covariate ``x_m`` (decades of compute, or of
loss, centred on the ladder):

.. math:: p_{im} = q_i \\, F(b_i + s_i x_m), \\qquad c_{im} \\sim \\mathrm{Binomial}(n_{im}, p_{im})

with the inverse link ``F`` either the logistic ``F(z) = 1 / (1 + e^{-z})`` (a per-problem
logistic in log compute: emergence, thresholds) or the log-log ``F(z) = exp(-e^{-z})``
(``-log p = e^{-b} 10^{-s x}``: the report's power law, per problem), and ``q_i = 1`` or a
per-problem ceiling ``q_i = expit(u_i)``.

The parameters ``theta_i = (b_i, s_i[, u_i])`` are drawn from a common normal distribution
``N(mu, Sigma)`` (random intercepts and slopes, correlated), whose ``mu`` and ``Sigma`` are
estimated from all problems by empirical Bayes: Laplace-approximation EM (each round: every
problem's posterior mode by Fisher scoring given the prior, then ``mu = mean theta_i``,
``Sigma = mean[(theta_i - mu)(theta_i - mu)^T + H_i^{-1}]``, ``H_i`` the expected
information at the mode). A problem that no ladder model
solved (``c = 0`` everywhere) is not excluded: its counts bound its pass rate from above, and
the prior says how such problems usually rise. Its posterior ``N(theta_i, H_i^{-1})`` gives
the uncertainty of each problem's curve (Laplace approximation).

**Scatter beyond the binomial noise.** A model may find one problem easier or harder than
its family's trend says: ``p_im = F(b_i + s_i x_m + e_im)`` with ``e_im ~ N(0, omega^2)``,
independent per problem and model. With many samples per count such effects dwarf the
binomial noise, and a likelihood that ignores them follows each problem's scattered counts.
``omega^2`` is estimated from the counts (:func:`interaction_variance`) and each count's
log-likelihood is weighted by ``1 / (1 + (n - 1) rho_im)`` (:meth:`_Problem.scatter_weight`,
quasi-likelihood), so that the curves are the population averages ``E_e p_im`` and no count
tells more than its scatter allows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import special

__all__ = ["HierarchicalFit", "fit_hierarchical", "interaction_variance", "LINKS"]

LINKS = ("logit", "loglog")
_Z_CLIP = 40.0
# logit q_i ~ N(5, 2.5^2): a ceiling q_i near 1 (median 0.993) unless the counts say
# otherwise; 10% of the prior mass lies below q = 0.85.
_CEILING_PRIOR = (5.0, 2.5)
PROPOSALS_PER_DRAW = 8
PROPOSAL_SCALE = 1.5


def _link_terms(z: np.ndarray, link: str):
    """``log F(z)``, ``log(1 - F(z))`` and ``F'(z) / F(z)``."""
    z = np.clip(z, -_Z_CLIP, _Z_CLIP)
    if link == "logit":
        return special.log_expit(z), special.log_expit(-z), special.expit(-z)
    e = np.exp(-z)
    with np.errstate(divide="ignore"):
        log1m = np.log(-np.expm1(-e))
    return -e, log1m, e


def _log_p(theta: np.ndarray, x: np.ndarray, link: str, ceiling: bool):
    """``log p``, ``log(1 - p)``, ``F'/F`` and ``1 - q`` for parameters ``(..., P, d)``."""
    z = theta[..., 0:1] + theta[..., 1:2] * x
    log_f, log1m_f, dlog_f = _link_terms(z, link)
    if ceiling:
        u = theta[..., 2:3]
        log_q, log1m_q = special.log_expit(u), special.log_expit(-u)
        log_p = log_q + log_f
        log1m_p = np.logaddexp(log1m_q, log_q + log1m_f)
        one_m_q = special.expit(-u)
    else:
        log_p, log1m_p, one_m_q = log_f, log1m_f, None
    return log_p, log1m_p, dlog_f, one_m_q


@dataclass(frozen=True)
class _Problem:
    n: np.ndarray
    c: np.ndarray
    x: np.ndarray
    link: str
    ceiling: bool
    weight: np.ndarray | float = 1.0   # per count (P, M): see scatter_weight

    def subset(self, rows: np.ndarray) -> _Problem:
        w = self.weight if np.ndim(self.weight) == 0 else self.weight[rows]
        return replace(self, n=self.n[rows], c=self.c[rows], weight=w)

    def objective(self, theta, mu, prec):
        """Negative log posterior per problem (up to a constant), shape ``(..., P)``."""
        log_p, log1m_p, _, _ = _log_p(theta, self.x, self.link, self.ceiling)
        with np.errstate(invalid="ignore"):
            ll = np.where(self.c > 0, self.c * log_p, 0.0) + \
                np.where(self.n > self.c, (self.n - self.c) * log1m_p, 0.0)
        ll = ll * self.weight
        d = theta - mu
        return -ll.sum(-1) + 0.5 * np.einsum("...i,ij,...j->...", d, prec, d)

    def gradient(self, theta, mu, prec):
        log_p, log1m_p, dlog_f, one_m_q = _log_p(theta, self.x, self.link, self.ceiling)
        odds = np.exp(np.minimum(log_p - log1m_p, 60.0))
        r = (self.c - (self.n - self.c) * odds) * self.weight   # d loglik / d log p
        g_z = r * dlog_f
        grads = [g_z.sum(-1), (g_z * self.x).sum(-1)]
        if self.ceiling:
            grads.append((r * one_m_q).sum(-1))
        return -np.stack(grads, -1) + (theta - mu) @ prec

    def information(self, theta, prec):
        """Expected (Fisher) information of each problem's log posterior,
        ``sum_m n_m p/(1-p) g_m g_m^T + Sigma^{-1}`` with ``g_m = d log p_m / d theta``:
        positive definite everywhere, unlike the observed Hessian of the ceiling law."""
        log_p, log1m_p, dlog_f, one_m_q = _log_p(theta, self.x, self.link, self.ceiling)
        w = self.n * np.exp(np.minimum(log_p - log1m_p, 60.0)) * self.weight
        g = [dlog_f, dlog_f * self.x]
        if self.ceiling:
            g.append(np.broadcast_to(one_m_q, dlog_f.shape))
        g = np.stack(g, -1)                                  # (P, M, d)
        return np.einsum("pm,pmi,pmj->pij", w, g, g) + prec

    def scatter_weight(self, theta, omega2: float) -> np.ndarray:
        """Each count's quasi-likelihood weight under problem-by-model effects of variance
        ``omega2`` on the link scale: ``1 / (1 + (n - 1) rho_im)`` with ``rho_im = V_im /
        (mu (1 - mu))`` the share of a pass's variance that the effect makes common to the
        count's samples (``V_im`` by :func:`_spread_of_pass_rate` at the curve's ``mu``).
        About ``1 / (1 + omega^2 I_im)`` for small effects; never below ``1 / n``: a count
        tells at least as much as one sample."""
        log_p, _, _, _ = _log_p(theta[..., :2], self.x, self.link, False)
        mu = np.clip(np.exp(log_p), 1e-9, 1 - 1e-9)
        rho = np.clip(_spread_of_pass_rate(mu, omega2, self.link) / (mu * (1 - mu)), 0.0, 1.0)
        return 1.0 / (1.0 + (self.n - 1) * rho)

    def link_information(self, theta):
        """Binomial Fisher information of each cell on the link scale,
        ``I_im = n_im F'(z)^2 / (p (1 - p))``, shape ``(P, M)`` (the ceiling left aside)."""
        log_p, log1m_p, dlog_f, _ = _log_p(theta[..., :2], self.x, self.link, False)
        return self.n * np.exp(np.minimum(log_p - log1m_p, 60.0)) * dlog_f**2


def _fisher_scoring(prob: _Problem, theta, mu, prec, max_iter=50, tol=1e-6):
    """Posterior modes of every problem by Fisher scoring with backtracking (vectorised);
    returns the modes and the information there."""
    steps = 0.5 ** np.arange(20)
    f = prob.objective(theta, mu, prec)
    for _ in range(max_iter):
        g = prob.gradient(theta, mu, prec)
        step = np.linalg.solve(prob.information(theta, prec), g[..., None])[..., 0]
        # The full step where it lowers the objective; elsewhere the largest of the halved
        # steps that does (tried only for those problems).
        scale = np.zeros(theta.shape[0])
        full = theta - step
        f_full = prob.objective(full, mu, prec)
        ok = f_full <= f + 1e-10 * np.abs(f)
        scale[ok] = 1.0
        f = np.where(ok, f_full, f)
        rest = np.flatnonzero(~ok)
        if rest.size:
            sub = prob.subset(rest)
            cand = theta[None, rest] - steps[1:, None, None] * step[None, rest]
            f_c = sub.objective(cand, mu, prec)
            better = f_c <= f[None, rest] + 1e-10 * np.abs(f[None, rest])
            moved = better.any(0)
            pick = better.argmax(0)
            scale[rest[moved]] = steps[1:][pick[moved]]
            f[rest[moved]] = f_c[pick[moved], np.flatnonzero(moved)]
        theta = theta - scale[:, None] * step
        if np.max(np.abs(scale[:, None] * step)) < tol:
            break
    return theta, prob.information(theta, prec)


@dataclass(frozen=True)
class HierarchicalFit:
    """A fitted per-problem law with its partially pooled parameters.

    Attributes
    ----------
    link, ceiling
        The inverse link (``"logit"`` or ``"loglog"``) and whether ``q_i`` is fitted.
    theta, cov
        Per problem the posterior mode ``(b_i, s_i[, u_i])`` and its Laplace covariance
        ``H_i^{-1}``, shapes ``(P, d)`` and ``(P, d, d)``.
    mu, sigma
        The common distribution's mean and covariance (empirical Bayes).
    x_center
        The covariate's centre (the mean over the ladder models): ``x = x_raw - x_center``.
    rounds
        EM rounds run.
    interaction
        ``omega^2``, the problem-by-model variance on the link scale the likelihood allows
        for (:func:`interaction_variance`).
    """

    link: str
    ceiling: bool
    theta: np.ndarray
    cov: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    x_center: float
    rounds: int
    problem: _Problem | None = None
    interaction: float = 0.0

    def pass_rate(self, x_raw, theta=None) -> np.ndarray:
        """``p_i`` at covariate values ``x_raw`` for parameters ``theta`` (default: the modes):
        ``x_raw`` of shape ``(G,)`` gives ``(..., P, G)``; ``(R, 1, 1)`` with ``theta`` of
        shape ``(R, P, d)`` evaluates draw ``r`` at its own ``x_raw[r]``."""
        theta = self.theta if theta is None else theta
        x = np.asarray(x_raw, float) - self.x_center
        log_p, _, _, _ = _log_p(theta, x, self.link, self.ceiling)
        return np.exp(log_p)

    def scattered(self, p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Pass rates of one new model whose population averages are ``p``: each moved by its
        own problem-by-model effect ``e ~ N(0, interaction)`` on the link scale, from the
        ``z`` whose average over such effects is ``p``. ``p`` itself without scatter."""
        if self.interaction <= 0:
            return np.asarray(p, float)
        z = _conditional_link(p, self.interaction, self.link)
        e = np.sqrt(self.interaction) * rng.standard_normal(np.shape(z))
        return _pass_rate_and_slope(z + e, self.link)[0]

    def draws(self, n_draws: int, rng: np.random.Generator) -> np.ndarray:
        """Parameter draws from every problem's posterior, ``(n_draws, P, d)``.

        Sampling-importance-resampling: ``PROPOSALS_PER_DRAW * n_draws`` proposals per
        problem from its Laplace approximation with the covariance scaled by
        ``PROPOSAL_SCALE^2``, weighted by posterior over proposal density, and ``n_draws`` of
        them drawn by weight. The Laplace approximation alone is symmetric about the mode;
        the posterior of a problem every sample solved is not (its counts bound its pass rate
        from below only), and symmetric draws would pull such problems below their counts.
        Without the counts (a fit made by hand), the Laplace draws are returned."""
        chol = np.linalg.cholesky(self.cov)
        if self.problem is None:
            eps = rng.standard_normal((n_draws, *self.theta.shape))
            return self.theta[None] + np.einsum("pij,rpj->rpi", chol, eps)
        m = PROPOSALS_PER_DRAW * n_draws
        eps = rng.standard_normal((m, *self.theta.shape))
        prop = self.theta[None] + PROPOSAL_SCALE * np.einsum("pij,rpj->rpi", chol, eps)
        log_w = -self.problem.objective(prop, self.mu, np.linalg.inv(self.sigma)) + \
            0.5 * np.sum(eps**2, axis=-1)                      # (m, P)
        log_w = np.where(np.isfinite(log_w), log_w, -np.inf)
        w = np.exp(log_w - log_w.max(0))
        cdf = np.cumsum(w, 0)
        cdf /= cdf[-1]
        u = (rng.random((n_draws, 1)) + np.arange(n_draws)[:, None]) / n_draws  # stratified
        # Per problem, the first proposal whose cdf reaches u: one searchsorted over the
        # problems' cdfs laid end to end (problem p's shifted by p, so the whole is sorted).
        n_prob = self.theta.shape[0]
        shift = np.arange(n_prob)
        flat = (cdf.T + shift[:, None]).ravel()
        pos = np.searchsorted(flat, (u.T + shift[:, None]).ravel(), side="left")
        idx = np.minimum(pos.reshape(n_prob, n_draws) - shift[:, None] * m, m - 1).T  # (R, P)
        return prop[idx, shift[None, :]]


_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(32)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()   # E[g(e)], e ~ N(0, 1)


def _pass_rate_and_slope(z: np.ndarray, link: str):
    """``F(z)`` and ``F'(z)`` (from :func:`_link_terms`)."""
    log_f, _, dlog_f = _link_terms(z, link)
    f = np.exp(log_f)
    return f, f * dlog_f


def _conditional_link(mu: np.ndarray, omega2: float, link: str) -> np.ndarray:
    """The ``z`` whose mean ``E_e F(z + e)``, ``e ~ N(0, omega^2)``, is ``mu`` (Gauss-Hermite
    quadrature; Newton's method)."""
    mu = np.clip(np.asarray(mu, float), 1e-12, 1 - 1e-12)
    shift = np.sqrt(max(omega2, 0.0)) * _GH_NODES
    z = np.clip(special.logit(mu) if link == "logit" else -np.log(-np.log(mu)),
                -_Z_CLIP, _Z_CLIP)
    if omega2 <= 0:
        return z
    for _ in range(40):
        f, slope = _pass_rate_and_slope(z[..., None] + shift, link)
        gap = f @ _GH_WEIGHTS - mu
        step = np.clip(gap / np.maximum(slope @ _GH_WEIGHTS, 1e-12), -2.0, 2.0)
        z = np.clip(z - step, -_Z_CLIP, _Z_CLIP)
        if np.max(np.abs(step)) < 1e-8:
            break
    return z


def _spread_of_pass_rate(mu: np.ndarray, omega2: float, link: str) -> np.ndarray:
    """``Var_e F(z + e)`` with ``e ~ N(0, omega^2)`` at the ``z`` whose mean is ``mu``
    (:func:`_conditional_link`; Gauss-Hermite quadrature)."""
    if omega2 <= 0:
        return np.zeros_like(mu)
    z = _conditional_link(mu, omega2, link)
    f, _ = _pass_rate_and_slope(z[..., None] + np.sqrt(omega2) * _GH_NODES, link)
    return np.maximum(f**2 @ _GH_WEIGHTS - (f @ _GH_WEIGHTS) ** 2, 0.0)


def _solve_scatter(excess: float, per_var: np.ndarray, mu: np.ndarray, link: str) -> float:
    """The ``omega^2`` whose implied excess ``sum per_var V(mu, omega^2)`` is ``excess``
    (bisection; 0 when ``excess`` is not positive or no count has two samples)."""
    if excess <= 0 or not np.sum(per_var) > 0:
        return 0.0

    def implied(omega2):
        return float(np.sum(per_var * _spread_of_pass_rate(mu, omega2, link)))

    lo, hi = 0.0, 1.0
    while implied(hi) < excess and hi < 1e3:
        hi *= 4.0
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if implied(mid) < excess else (lo, mid)
    return 0.5 * (lo + hi)


def interaction_variance(n, c, x, link: str = "logit", *, rounds: int = 5) -> float:
    """Moment estimate of ``omega^2``, the variance of a problem-by-model effect ``e_im`` on
    the link scale, ``p_im = F(z_im + e_im)`` with ``z_im = b_i + s_i x_m``, beyond the
    binomial noise.

    Such an effect spreads a count beyond the binomial: ``Var(c) = n mu (1 - mu) + n (n - 1)
    V_im`` with ``mu = E_e p_im`` and ``V_im = Var_e p_im`` (:func:`_spread_of_pass_rate`,
    quadrature), so a count's Pearson residual ``r_im = (c - n mu) / sqrt(n mu (1 - mu))``
    has ``E[r^2] ~ (1 - h_im) (1 + (n - 1) V_im / (mu (1 - mu)))``, ``h_im`` the count's
    leverage in the fit. The per-problem law (:func:`fit_hierarchical`, partially pooled;
    its quasi-likelihood curve estimates ``mu``) is fitted to the problems that some model
    solved sometimes (all-0 and all-``n`` problems say nothing), each model's mean residual
    over problems is taken out (a whole model off its trend is an offset, not an
    interaction), and ``omega^2`` solves

    .. math:: \\sum_{im} [r_{im}^2 - (1 - h_{im})] = \\sum_{im} (1 - h_{im})
              (n_{im} - 1) V_{im}(\\omega^2) / (\\mu_{im} (1 - \\mu_{im}))

    (0 when the left side is not positive; bisection, ``V`` grows with ``omega``), refitted
    with the new ``omega^2`` until it settles (at most ``rounds`` fits). Zero with fewer
    than three models or ten such problems.
    """
    n = np.asarray(n, float)
    c = np.asarray(c, float)
    used = ~(np.all(c == 0, axis=0) | np.all(c == n, axis=0))
    if n.shape[0] < 3 or used.sum() < 10:
        return 0.0
    n, c = n[:, used], c[:, used]
    omega2 = 0.0
    for _ in range(rounds):
        fit = fit_hierarchical(n, c, x, link=link, interaction=omega2)
        prob = fit.problem
        mu = np.clip(fit.pass_rate(np.asarray(x, float)), 1e-9, 1 - 1e-9)   # (P, M)
        info = prob.link_information(fit.theta)
        design = np.stack([np.ones_like(prob.x), prob.x], -1)             # dz / d(b, s)
        leverage = np.broadcast_to(prob.weight, info.shape) * info * np.einsum(
            "mi,pij,mj->pm", design, fit.cov[:, :2, :2], design)
        keep = 1.0 - np.clip(leverage, 0.0, 1.0)
        r = (prob.c - prob.n * mu) / np.sqrt(prob.n * mu * (1 - mu))
        r -= r.mean(0, keepdims=True)
        new = _solve_scatter(float(np.sum(r**2 - keep)),
                             keep * (prob.n - 1) / (mu * (1 - mu)), mu, link)
        done = abs(new - omega2) <= 0.01 * max(omega2, 0.01)
        omega2 = new
        if done:
            break
    return omega2


def fit_hierarchical(n, c, x_raw, *, link: str = "logit", ceiling: bool = False,
                     interaction: float | None = None, max_rounds: int = 40,
                     tol: float = 1e-3) -> HierarchicalFit:
    """Fit the per-problem law to counts ``n, c`` of shape ``(M, P)`` at covariate values
    ``x_raw`` (shape ``(M,)``, e.g. ``log10`` compute); see the module docstring.

    ``interaction`` is ``omega^2`` (default: :func:`interaction_variance` of the counts)."""
    if link not in LINKS:
        raise ValueError(f"`link` must be one of {', '.join(LINKS)}. Got {link!r} instead.")
    n = np.asarray(n, float)
    c = np.asarray(c, float)
    x_raw = np.asarray(x_raw, float)
    if n.ndim != 2 or n.shape != c.shape or x_raw.shape != (n.shape[0],):
        raise ValueError(f"`n` and `c` must have shape (models, problems) and `x_raw` one "
                         f"value per model. Got {n.shape}, {c.shape} and {x_raw.shape}.")
    x_center = float(x_raw.mean())
    x = x_raw - x_center
    omega2 = interaction_variance(n, c, x, link) if interaction is None else float(interaction)
    prob = _Problem(n=n.T, c=c.T, x=x, link=link, ceiling=ceiling)
    d = 3 if ceiling else 2
    # A vague start: intercept from the pooled pass rate, slope 1 per unit of x.
    rate = (c.sum() + 0.5) / (n.sum() + 1.0)
    mu = np.array([special.logit(rate) if link == "logit" else -np.log(-np.log(rate)), 1.0,
                   _CEILING_PRIOR[0]][:d])
    sigma = np.diag([9.0, 4.0, _CEILING_PRIOR[1] ** 2][:d])
    theta = np.tile(mu, (n.shape[1], 1))
    floor = np.diag([1e-3, 1e-3, 0.25][:d])
    rounds = 0
    for rounds in range(1, max_rounds + 1):  # noqa: B007 (rounds is reported)
        prec = np.linalg.inv(sigma)
        if omega2 > 0:
            prob = replace(prob, weight=prob.scatter_weight(theta, omega2))
        theta, info = _fisher_scoring(prob, theta, mu, prec)
        cov = np.linalg.inv(info)
        new_mu = theta.mean(0)
        dev = theta - new_mu
        new_sigma = (dev.T @ dev) / theta.shape[0] + cov.mean(0) + floor
        if ceiling:
            # The ceiling's prior is fixed, not estimated: most problems have none (q_i
            # near 1) and say nothing about it, so an estimated normal prior on logit q_i
            # would cap every problem at the few capped problems' level.
            new_mu[2] = _CEILING_PRIOR[0]
            new_sigma[2, :] = new_sigma[:, 2] = 0.0
            new_sigma[2, 2] = _CEILING_PRIOR[1] ** 2
        change = max(np.max(np.abs(new_mu - mu)), np.max(np.abs(new_sigma - sigma)))
        mu, sigma = new_mu, new_sigma
        if change < tol:
            break
    prec = np.linalg.inv(sigma)
    theta, info = _fisher_scoring(prob, theta, mu, prec)
    return HierarchicalFit(link=link, ceiling=ceiling, theta=theta, cov=np.linalg.inv(info),
                           mu=mu, sigma=sigma, x_center=x_center, rounds=rounds, problem=prob,
                           interaction=omega2)
