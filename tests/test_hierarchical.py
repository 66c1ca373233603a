"""The per-problem laws' empirical-Bayes prior: recovered from counts drawn from it."""

import numpy as np
import pytest
from scipy import special

import capability.laws._hierarchical as hierarchical
import capability.laws.base as laws_base
from capability.laws._hierarchical import fit_hierarchical

X = np.log10(1e24 / np.array([1000.0, 300.0, 100.0, 30.0, 10.0]))
# (intercept, slope per decade) at the ladder's centre: the logistic law's prior is that of
# an emergence ladder (most problems near zero, rising late); the log-log law's a clean one.
PRIORS = {"logit": (np.array([-3.4, 2.27]), np.array([[8.07, -2.71], [-2.71, 1.3]])),
          "loglog": (np.array([-0.5, 0.7]), np.array([[1.5, 0.0], [0.0, 0.04]]))}


def _counts(link: str, samples: int, problems: int = 1500, seed: int = 0):
    mu, sigma = PRIORS[link]
    rng = np.random.default_rng(seed)
    theta = rng.multivariate_normal(mu, sigma, problems)
    z = theta[:, :1] + theta[:, 1:] * (X - X.mean())[None]
    p = special.expit(z) if link == "logit" else np.exp(-np.exp(-z))
    n = np.full((X.size, problems), float(samples))
    return n, rng.binomial(samples, p.T).astype(float), theta


@pytest.mark.parametrize("link,samples,robust,index", [
    ("logit", 20, False, 1),    # the slopes' variance of the logistic law, 20 samples each
    ("loglog", 20, True, 0),    # the intercepts' of the robust (two-component) log-log law
])
def test_monte_carlo_em_recovers_the_prior_the_laplace_em_shrinks(monkeypatch, link, samples,
                                                                  robust, index):
    """Counts drawn from the law's own prior: the Laplace EM alone shrinks the prior's
    variance (each problem's skewed posterior read as normal about its mode); the Monte
    Carlo rounds bring it and the mean back to the draws' own."""
    n, c, theta = _counts(link, samples)
    drawn_var = np.var(theta[:, index], ddof=1)
    drawn_mean = theta.mean(0)
    fit = fit_hierarchical(n, c, X, link=link, robust=robust, interaction=0.0)
    monkeypatch.setattr(hierarchical, "IMPORTANCE_ROUNDS", 0)
    laplace = fit_hierarchical(n, c, X, link=link, robust=robust, interaction=0.0)
    assert laplace.sigma[index, index] < 0.85 * drawn_var
    assert fit.sigma[index, index] == pytest.approx(drawn_var, rel=0.1)
    assert np.abs(fit.mu - drawn_mean).max() < 0.6 * np.abs(laplace.mu - drawn_mean).max()


def test_the_monte_carlo_rounds_are_reproducible():
    """Fixed common random numbers: the same counts give the same fit, bit for bit."""
    n, c, _ = _counts("logit", 200, problems=200, seed=1)
    a = fit_hierarchical(n, c, X, link="logit", interaction=0.0)
    b = fit_hierarchical(n, c, X, link="logit", interaction=0.0)
    assert np.array_equal(a.sigma, b.sigma) and np.array_equal(a.theta, b.theta)


def test_a_problem_without_a_finite_importance_weight_keeps_its_laplace_moments():
    """Importance weights that are all -inf for one problem (its objective infinite at every
    proposal) leave that problem's moments at its Laplace approximation, and the others'
    are the weighted moments."""
    n, c, _ = _counts("logit", 20, problems=3)
    prob = hierarchical._Problem(n=n.T, c=c.T, x=X - X.mean(), link="logit", ceiling=False)
    theta = np.array([[-3.0, 2.0], [0.0, 1.0], [1.0, 2.5]])
    cov = np.tile(np.eye(2) * 0.1, (3, 1, 1))
    eps = np.random.default_rng(0).standard_normal((64, 3, 2))
    real = prob.objective

    def objective(t, mu, prec):
        out = real(t, mu, prec)
        out[..., 1] = np.inf
        return out

    object.__setattr__(prob, "objective", objective)   # the frozen instance's own attribute
    mean, var = hierarchical._posterior_moments(prob, theta, cov, np.zeros(2), np.eye(2), eps)
    assert np.array_equal(mean[1], theta[1]) and np.array_equal(var[1], cov[1])
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(var))
    assert not np.array_equal(mean[0], theta[0])


def test_a_spread_that_is_truly_zero_is_estimated_at_the_floor_not_above_it():
    """Every problem's slope the same (the report's law with one exponent, 200 samples per
    problem): the prior's slope variance settles at its floor (a bound), not where an
    added floor put it, about each problem's own posterior variance (an sd of 0.07 per
    decade); a spread that is there (the log-log prior's slope sd of 0.2) is recovered
    either way."""
    rng = np.random.default_rng(1)
    b = rng.normal(0.0, 1.24, 400)
    z = b[None] + 0.69 * (X - X.mean())[:, None]
    n = np.full(z.shape, 200.0)
    c = rng.binomial(200, np.exp(-np.exp(-z))).astype(float)
    fit = fit_hierarchical(n, c, X, link="loglog", interaction=0.0)
    assert np.sqrt(fit.sigma[1, 1]) < 0.045
    assert np.min(np.linalg.eigvalsh(fit.sigma)) >= hierarchical._VARIANCE_FLOOR * (1 - 1e-9)
    assert fit.mu[1] == pytest.approx(0.69, abs=0.02)
    # The robust (two-component) fit, run to convergence, keeps the same bound.
    robust = fit_hierarchical(n, c, X, link="loglog", interaction=0.0, robust=True,
                              tol=1e-7, max_rounds=300)
    floor = hierarchical._VARIANCE_FLOOR * (1 - 1e-9)
    assert np.min(np.linalg.eigvalsh(robust.sigma)) >= floor
    n, c, theta = _counts("loglog", 200, problems=600)
    spread = fit_hierarchical(n, c, X, link="loglog", interaction=0.0)
    assert np.sqrt(spread.sigma[1, 1]) == pytest.approx(np.std(theta[:, 1]), rel=0.15)


def _log_log_counts(theta: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    z = theta[:, :1] + theta[:, 1:] * (X - X.mean())[None]
    n = np.full((X.size, theta.shape[0]), 200.0)
    return n, rng.binomial(200, np.exp(-np.exp(-z)).T).astype(float)


def _correlation(sigma: np.ndarray) -> float:
    return float(sigma[0, 1] / np.sqrt(sigma[0, 0] * sigma[1, 1]))


def test_the_log_log_prior_pulls_a_correlation_the_counts_cannot_identify_towards_zero(
        monkeypatch):
    """160 problems sharing one slope (one exponent; 200 samples each): the counts barely
    identify the intercept-slope correlation, and without a prior on it the EM reads 0.56
    on this ladder; ``CORRELATION_PRIOR`` pulls it towards 0 (0.47). A correlation the
    counts show (-0.63 drawn, slopes' sd 0.3) is kept: -0.55 with the prior."""
    rng = np.random.default_rng(0)
    theta = np.column_stack([rng.normal(0.0, 1.24, 160), np.full(160, 0.69)])
    n, c = _log_log_counts(theta, rng)
    held = _correlation(fit_hierarchical(n, c, X, link="loglog").sigma)
    monkeypatch.setitem(hierarchical.CORRELATION_PRIOR, "loglog", 0.0)
    free = _correlation(fit_hierarchical(n, c, X, link="loglog").sigma)
    assert free > 0.5 and 0 < held < free - 0.05
    monkeypatch.undo()
    rng = np.random.default_rng(0)
    cov = np.array([[1.5, -0.6 * np.sqrt(1.5) * 0.3], [-0.6 * np.sqrt(1.5) * 0.3, 0.09]])
    theta = rng.multivariate_normal([-0.5, 0.7], cov, 160)
    fit = fit_hierarchical(*_log_log_counts(theta, rng), X, link="loglog", interaction=0.0)
    drawn = np.corrcoef(theta.T)[0, 1]
    assert drawn < _correlation(fit.sigma) < drawn + 0.1
    assert np.sqrt(fit.sigma[1, 1]) == pytest.approx(0.3, rel=0.1)


def test_the_correlation_map_is_the_likelihoods_maximum_without_a_prior():
    """With ``kappa = 0`` the MAP is the scatter's own correlation; a prior pulls it
    towards 0, less the more problems there are; the variances are kept."""
    scatter = np.array([[2.0, -0.9], [-0.9, 0.81]])   # correlation -0.707
    same = hierarchical._correlation_map(scatter, 0.0, 100)
    assert _correlation(same) == pytest.approx(-0.9 / np.sqrt(2 * 0.81), abs=1e-4)
    few = _correlation(hierarchical._correlation_map(scatter, 20.0, 100))
    many = _correlation(hierarchical._correlation_map(scatter, 20.0, 10_000))
    assert -0.707 < many < few < 0 and many == pytest.approx(-0.707, abs=0.01)
    assert np.diag(hierarchical._correlation_map(scatter, 20.0, 100)) == pytest.approx(
        np.diag(scatter))


def test_the_logistic_link_terms_are_scipys_to_two_ulps():
    """``log F``, ``log(1 - F)`` and ``F'/F`` of the logistic, computed from ``e^{-|z|}``,
    agree with scipy's ``log_expit`` and ``expit`` to two ulps over the clipped range."""
    z = np.concatenate([np.linspace(-45, 45, 20001), [-40.0, -1e-300, 0.0, 1e-300, 40.0]])
    log_f, log1m_f, dlog_f = hierarchical._link_terms(z, "logit")
    zc = np.clip(z, -40, 40)
    for ours, ref in ((log_f, special.log_expit(zc)), (log1m_f, special.log_expit(-zc)),
                      (dlog_f, special.expit(-zc))):
        assert np.all(np.isfinite(ours))
        np.testing.assert_allclose(ours, ref, rtol=1e-15, atol=1e-300)
    assert hierarchical._link_terms(z, "logit", slope=False)[2] is None


@pytest.mark.parametrize("link", ["logit", "loglog"])
@pytest.mark.parametrize("omega2", [0.0, 0.3, 2.25])
def test_the_conditional_link_averages_to_the_pass_rate_it_was_given(link, omega2):
    """``E_e F(z + e) = mu`` (quadrature) at the returned ``z``, for an array of pass rates
    and a single one, in the input's shape."""
    mu = np.array([[1e-6, 0.01, 0.2], [0.5, 0.93, 1 - 1e-6]])
    z = hierarchical._conditional_link(mu, omega2, link)
    assert z.shape == mu.shape
    f, _ = hierarchical._pass_rate_and_slope(
        z[..., None] + np.sqrt(omega2) * hierarchical._GH_NODES, link)
    np.testing.assert_allclose(f @ hierarchical._GH_WEIGHTS, mu, rtol=1e-7)
    one = hierarchical._conditional_link(0.2, omega2, link)
    assert np.shape(one) == () and float(one) == pytest.approx(z[0, 2], abs=1e-9)


@pytest.mark.parametrize("link", ["logit", "loglog"])
@pytest.mark.parametrize("omega2", [0.01, 0.3, 1.0, 5.0])
def test_the_share_of_spread_spline_is_the_quadrature(link, omega2):
    """The scatter weights' ``rho(mu) = V / (mu (1 - mu))`` read off its spline in ``logit
    mu`` is the quadrature's (:func:`_spread_of_pass_rate`) within 2e-9 for ``|logit mu|
    <= 12`` and 5e-7 up to the weights' clip at 1e-9 (where the quadrature itself cancels);
    a fit's weights are the same to 1e-4 of a weight at n = 200."""
    t = np.linspace(-20.7, 20.7, 4001)
    mu = special.expit(t)
    exact = hierarchical._spread_of_pass_rate(mu, omega2, link) / (mu * (1 - mu))
    spline = hierarchical._share_of_spread(omega2, link)(t)
    inner = np.abs(t) <= 12
    assert np.max(np.abs(spline - exact)[inner]) < 2e-9
    assert np.max(np.abs(spline - exact)) < 5e-7
    n, c, _ = _counts(link, 200, problems=30, seed=1)
    prob = hierarchical._Problem(n=n.T, c=c.T, x=X - X.mean(), link=link, ceiling=False)
    theta = np.random.default_rng(0).normal([0.0, 1.0], [3.0, 0.5], (30, 2))
    log_p = hierarchical._log_p(theta, prob.x, link, False)[0]
    m = np.clip(np.exp(log_p), 1e-9, 1 - 1e-9)
    rho = np.clip(hierarchical._spread_of_pass_rate(m, omega2, link) / (m * (1 - m)), 0, 1)
    np.testing.assert_allclose(prob.scatter_weight(theta, omega2),
                               1 / (1 + (prob.n - 1) * rho), rtol=1e-4)


@pytest.mark.parametrize("link", ["logit", "loglog"])
def test_the_scatter_solves_its_moment_equation(link):
    """``_solve_scatter`` returns the ``omega^2`` whose implied excess matches the one
    given (to 1e-9 of it), 0 for no excess, and its cap where even that implies too little."""
    mu = np.random.default_rng(4).uniform(0.02, 0.98, (30, 5))
    per_var = np.full(mu.shape, 199.0) / (mu * (1 - mu))

    def implied(omega2):
        return float(np.sum(per_var * hierarchical._spread_of_pass_rate(mu, omega2, link)))

    for omega2 in (0.05, 0.7, 3.0, 40.0):
        got = hierarchical._solve_scatter(implied(omega2), per_var, mu, link)
        assert implied(got) == pytest.approx(implied(omega2), rel=1e-9)
        assert got == pytest.approx(omega2, rel=1e-6)
    assert hierarchical._solve_scatter(0.0, per_var, mu, link) == 0.0
    assert hierarchical._solve_scatter(1e9 * implied(1.0), per_var, mu, link) == 1024.0


def test_importance_weights_in_chunks_are_the_whole_arrays_weights(monkeypatch):
    """The importance weights are computed a chunk of proposals at a time (bounded memory);
    every weight equals the one computed over all proposals at once, bit for bit."""
    n, c, _ = _counts("logit", 20, problems=40, seed=3)
    fit = fit_hierarchical(n, c, X, link="logit", ceiling=True, monte_carlo=False)
    mix = fit.mixture
    eps = np.random.default_rng(0).standard_normal((300, *mix.theta[1].shape))
    args = (fit.problem, mix.theta[1], mix.cov[1], mix.mu[1], mix.sigma[1], eps)
    monkeypatch.setattr(laws_base, "CHUNK_CELLS", 10**9)
    prop_whole, whole = hierarchical._weighted_proposals(*args)
    monkeypatch.setattr(laws_base, "CHUNK_CELLS", 7 * fit.problem.n.size)
    calls = []
    objective = hierarchical._Problem.objective
    monkeypatch.setattr(hierarchical._Problem, "objective", lambda self, theta, *a: (
        calls.append(len(theta)) or objective(self, theta, *a)))
    prop_chunks, chunks = hierarchical._weighted_proposals(*args)
    assert calls == [7] * 42 + [6]   # 300 proposals, 7 at a time
    assert np.array_equal(prop_whole, prop_chunks)
    assert np.array_equal(whole, chunks) and np.isfinite(whole).mean() > 0.9


def test_sir_in_chunks_draws_what_the_whole_proposals_draw(monkeypatch):
    """``_sir`` never holds its proposals whole: it weighs them a chunk at a time and draws
    the chosen ones again from the generator's earlier state. Its draws are those of
    sampling-importance-resampling over the whole arrays (the reference below), the same
    proposals chosen (to the last bit but where einsum's kernel for a 7-row chunk rounds
    otherwise than for 400 rows), and it leaves the generator where the whole draw leaves
    it."""
    n, c, _ = _counts("logit", 20, problems=40, seed=3)
    fit = fit_hierarchical(n, c, X, link="logit", ceiling=True, monte_carlo=False)
    mix = fit.mixture
    args = (fit.problem, mix.theta[1], mix.cov[1], mix.mu[1], mix.sigma[1])
    n_draws, p = 50, mix.theta[1].shape[0]
    m = hierarchical.PROPOSALS_PER_DRAW * n_draws

    rng = np.random.default_rng(11)
    prop, log_w = hierarchical._weighted_proposals(
        *args, rng.standard_normal((m, *mix.theta[1].shape)))
    cdf = np.cumsum(np.exp(log_w - log_w.max(0)), 0)
    cdf /= cdf[-1]
    u = (rng.random((n_draws, 1)) + np.arange(n_draws)[:, None]) / n_draws
    idx = np.array([np.minimum(np.searchsorted(cdf[:, j], u[:, 0]), m - 1) for j in range(p)]).T
    reference, after = prop[idx, np.arange(p)[None, :]], rng.random()

    monkeypatch.setattr(laws_base, "CHUNK_CELLS", 7 * fit.problem.n.size)
    rng = np.random.default_rng(11)
    draws = hierarchical._sir(*args, n_draws, rng)
    assert draws.shape == (n_draws, *mix.theta[1].shape)
    np.testing.assert_allclose(draws, reference, rtol=1e-13, atol=1e-13)
    assert rng.random() == after
    assert len(np.unique(draws[:, 0, 0])) > 5   # resampled, not one proposal repeated


def test_the_conditional_link_in_chunks_solves_each_element_as_whole(monkeypatch):
    """``_conditional_link`` solves its elements a chunk at a time (bounded memory for a
    headline's (200, P) draws): every element as when all are solved at once."""
    mu = np.random.default_rng(2).uniform(1e-4, 1 - 1e-4, (9, 13))
    whole = hierarchical._conditional_link(mu, 1.3, "logit")
    monkeypatch.setattr(hierarchical, "_LINK_CHUNK", 10)
    calls = []
    terms = hierarchical._pass_rate_and_slope
    monkeypatch.setattr(hierarchical, "_pass_rate_and_slope", lambda z, link: (
        calls.append(z.shape[0]) or terms(z, link)))
    chunked = hierarchical._conditional_link(mu, 1.3, "logit")
    assert max(calls) == 10 and calls.count(10) >= 11   # 117 elements: 11 chunks of 10, then 7
    np.testing.assert_allclose(chunked, whole, rtol=1e-13, atol=0)


def _hand_fit(cov: np.ndarray, sigma: np.ndarray) -> hierarchical.HierarchicalFit:
    problems, d = cov.shape[:2]
    return hierarchical.HierarchicalFit(link="logit", ceiling=False,
                                        theta=np.zeros((problems, d)), cov=cov,
                                        mu=np.zeros(d), sigma=sigma, x_center=0.0, rounds=1)


def test_the_prior_means_shifts_move_each_problem_by_its_shrinkage_and_the_means_error():
    """With ``C_i = c_i Sigma`` the prior mean's information is ``Sigma^-1 sum_i (1 -
    c_i)`` and problem ``i`` moves by ``C_i Sigma^-1 delta = c_i delta``: one ``delta`` per
    draw for every problem, of covariance ``Sigma / sum_i (1 - c_i)``; a problem its counts
    pin down (``c_i`` near 0) hardly moves."""
    sigma = np.array([[1.0, 0.3], [0.3, 0.5]])
    c = np.linspace(0.02, 0.9, 40)
    fit = _hand_fit(c[:, None, None] * sigma, sigma)
    shifts = fit.prior_mean_shifts(40_000, np.random.default_rng(0)).rows()
    assert shifts.shape == (40_000, 40, 2)
    delta = shifts[:, -1] / c[-1]
    np.testing.assert_allclose(shifts, c[None, :, None] * delta[:, None, :], atol=1e-12)
    np.testing.assert_allclose(np.cov(delta.T), sigma / np.sum(1 - c), rtol=0.03)
    assert np.abs(shifts[:, 0]).max() < 0.03 * np.abs(shifts[:, -1]).max()


def test_a_prior_mean_no_problem_informs_is_not_moved():
    """Problems whose posteriors are their prior (no counts) say nothing of its mean: its
    information is 0 in every direction, and the shifts are 0, not NaN or infinite."""
    sigma = np.diag([1.0, 0.5])
    fit = _hand_fit(np.repeat(sigma[None], 10, axis=0), sigma)
    shifts = fit.prior_mean_shifts(100, np.random.default_rng(1)).rows()
    assert shifts.shape == (100, 10, 2) and np.all(shifts == 0)


def test_the_shared_shifts_leave_the_per_problem_draws_as_they_were():
    """The per-problem laws draw the prior mean's shifts after their parameter draws, from
    the same generator: the draws are what ``HierarchicalFit.draws`` alone gives, and the
    bucket shifts are centred on 0."""
    from capability.laws.base import LadderData
    from capability.laws.per_problem import _fit_and_draws, fit_per_problem

    n, c, _ = _counts("logit", 20, problems=60, seed=3)
    x = np.asarray(X, float)
    data = LadderData(n=n, c=c, compute=10.0 ** x, buckets=(np.arange(30), np.arange(30, 60)))
    fit, theta, shifts = _fit_and_draws(data, x, "logit", False, 300,
                                        np.random.default_rng(7))
    np.testing.assert_array_equal(theta, fit.draws(300, np.random.default_rng(7)))
    law = fit_per_problem(data, 10.0 ** (x.max() + 1), name="logistic", link="logit",
                          n_draws=300, rng=np.random.default_rng(7))
    shared = law.mean_pass_rate_shared
    assert shared.shape == (300, 2) and np.all(np.isfinite(shared))
    assert np.all(np.abs(shared.mean(0)) < 3 * shared.std(0) / np.sqrt(300) + 1e-12)
    assert np.all(shared.std(0) > 0)


def test_a_laplace_covariance_above_the_priors_adds_no_information():
    """A problem whose Laplace covariance comes out a little above the prior's (the
    approximation, not a likelihood that removes information) adds nothing to the prior
    mean's information, as one with no counts: the other problems' shifts are the same,
    draw for draw, with or without it. (Taking ``Sigma - C_i`` as it is made the
    information negative there, and its direction was dropped.)"""
    sigma = np.array([[1.0, 0.1], [0.1, 0.05]])
    c = np.linspace(0.1, 0.8, 12)
    informative = c[:, None, None] * sigma
    above = np.repeat((1.03 * sigma)[None], 30, axis=0)
    alone = _hand_fit(informative, sigma).prior_mean_shifts(50, np.random.default_rng(3)).rows()
    mixed = _hand_fit(np.concatenate([informative, above]), sigma).prior_mean_shifts(
        50, np.random.default_rng(3)).rows()
    np.testing.assert_allclose(mixed[:, :12], alone, rtol=1e-9, atol=1e-12)
    assert np.all(np.abs(alone) > 0)


@pytest.mark.parametrize("link,ceiling", [("logit", False), ("loglog", True)])
def test_fisher_scoring_stops_each_problem_on_its_own_at_its_mode(link, ceiling):
    """Each problem stops once its own step is below the tolerance, the others going on:
    every problem's mode is the one it reaches scored alone, and where the iteration
    stopped short of ``max_iter`` the gradient there is ~0. Near-saturated problems (the
    ceiling law's ridge) run longest; per-count weights are sliced with the problems."""
    n, c, _ = _counts(link, 200, problems=60, seed=3)
    c[:, :10] = np.minimum(n[:, :10], c[:, :10] + 190)   # near n everywhere
    prob = hierarchical._Problem(n=n.T, c=c.T, x=X - X.mean(), link=link, ceiling=ceiling,
                                 weight=np.random.default_rng(0).uniform(0.3, 1.0, c.T.shape))
    d = 3 if ceiling else 2
    mu = np.append(PRIORS[link][0], 2.0)[:d]
    prec = np.linalg.inv(np.diag([4.0, 1.0, 2.0])[:d, :d])
    start = np.tile(mu, (c.shape[1], 1))
    theta, _ = hierarchical._fisher_scoring(prob, start, mu, prec)
    for i in range(c.shape[1]):
        alone, _ = hierarchical._fisher_scoring(prob.subset(np.array([i])), start[i:i + 1],
                                                mu, prec)
        assert np.array_equal(alone[0], theta[i]), i
    stopped = np.array([np.max(np.abs(hierarchical._fisher_scoring(
        prob.subset(np.array([i])), theta[i:i + 1], mu, prec, max_iter=1)[0] - theta[i]))
        < 1e-6 for i in range(c.shape[1])])
    assert stopped[10:].mean() > 0.9   # all but a few of those not on the ridge
    grad = prob.subset(np.flatnonzero(stopped)).gradient(theta[stopped], mu, prec)
    assert np.max(np.abs(grad)) < 1e-3
