"""Problem-by-model scatter beyond the binomial noise: its estimate, the per-problem laws'
quasi-likelihood, and the simulated kind that has it."""

import numpy as np
import pytest
from scipy import special

from capability.laws import LAWS, LadderData, interaction_variance
from capability.laws._hierarchical import fit_hierarchical
from capability.prediction.predict import PredictionSettings, predict
from capability.simulation.simulate import INTERACTION_SD, bucket_truth, simulate_ladder


def _scattered(omega, *, shift=0.0, n=1000, problems=400, seed=0):
    """Counts of a per-problem logistic in log compute, each cell off its line by
    ``N(0, omega^2)`` on the logit scale, each model by ``shift * (-1, 1, -1, 1)``."""
    rng = np.random.default_rng(seed)
    x = np.array([20.0, 20.5, 21.0, 21.5])
    b = rng.normal(0.0, 1.5, problems)
    s = rng.lognormal(0.0, 0.4, problems)
    z = b[None] + s[None] * (x[:, None] - 21.0) + omega * rng.standard_normal((4, problems))
    z += shift * np.array([-1.0, 1.0, -1.0, 1.0])[:, None]
    nn = np.full(z.shape, n)
    return nn, rng.binomial(nn, special.expit(z)), x


@pytest.mark.parametrize("n", [13, 1000])
@pytest.mark.parametrize("omega", [0.0, 0.5, 1.0])
def test_interaction_variance_recovers_the_scatter(omega, n):
    """Measured: 0 for none; 0.17 and 0.23 for sd 0.5, 0.76 and 0.84 for sd 1, with 13 and
    1000 samples per count (the fitted curves take up part of the scatter)."""
    est = interaction_variance(*_scattered(omega, n=n), "logit")
    assert 0.55 * omega**2 <= est <= 1.1 * omega**2 + 0.03, est


def test_a_whole_model_off_its_trend_is_not_scatter():
    """A shift that moves every problem of one model together is an offset (see
    :mod:`capability.prediction.offsets`), not a problem-by-model effect: a shift of 0.8
    on the logit scale reads as 0.05, not 0.64."""
    n, c, x = _scattered(0.0, shift=0.8)
    assert interaction_variance(n, c, x, "logit") < 0.1 * 0.8**2


def test_too_few_models_or_problems_give_no_estimate():
    n, c, x = _scattered(1.0)
    assert interaction_variance(n[:2], c[:2], x[:2]) == 0.0
    assert interaction_variance(n[:, :5], c[:, :5], x) == 0.0


def test_scatter_caps_each_count_information():
    """With scatter ``omega^2``, a count's information on the link scale is at most
    ``1 / omega^2`` however many samples it has: the slopes' posterior sd grows, and the
    slopes are pooled more toward their common mean."""
    n, c, x = _scattered(1.0)
    plain = fit_hierarchical(n, c, x, link="logit", interaction=0.0)
    quasi = fit_hierarchical(n, c, x, link="logit")
    assert quasi.interaction > 0.5
    assert np.median(np.sqrt(quasi.cov[:, 1, 1])) > 3 * np.median(np.sqrt(plain.cov[:, 1, 1]))
    assert np.std(quasi.theta[:, 1]) < np.std(plain.theta[:, 1])


def _problem_power_error(seed, interaction):
    sim = simulate_ladder(seed=seed, kind="interaction", ratios=(100, 30, 10))
    names = [m for m, _ in sim.models]
    ids = list(sim.a.index)
    c = sim.counts.pivot(index="model", columns="task_id", values="c").loc[names, ids]
    n = np.full(c.shape, 200)
    order = np.argsort(c.to_numpy().mean(0))
    buckets = tuple(np.sort(part) for part in np.array_split(order, 6))
    data = LadderData(n=n, c=c.to_numpy(), compute=np.array([cc for _, cc in sim.models]),
                      buckets=buckets, interaction=interaction)
    fit = LAWS["problem_power"](data, sim.target_compute, n_draws=0)
    truth = [t["mean_pass_rate"] for t in bucket_truth(sim, [[ids[i] for i in b]
                                                              for b in buckets])]
    return np.mean(np.abs(fit.mean_pass_rate - truth))


def test_per_problem_law_errs_less_when_it_allows_for_the_scatter():
    """Kind ``interaction`` (three models, 3 seeds): the per-problem power law fitted on the
    plain binomial likelihood follows each problem's scattered counts; with the estimated
    scatter it errs less (measured: 3.7 against 8.5 points)."""
    quasi = np.mean([_problem_power_error(seed, None) for seed in range(3)])
    plain = np.mean([_problem_power_error(seed, {"loglog": 0.0}) for seed in range(3)])
    assert quasi < 0.6 * plain, (quasi, plain)


def test_simulated_interaction_moves_each_problem_of_each_model():
    sim = simulate_ladder(seed=0, kind="interaction", n_problems=2000)
    effects = []
    for name, compute in (*sim.models, (sim.target, sim.target_compute)):
        on_trend = special.logit(sim.true_pass_rate(compute).clip(1e-12, 1 - 1e-12))
        effects.append(special.logit(sim.model_pass_rate(name).clip(1e-12, 1 - 1e-12)) -
                       on_trend)
    effects = np.array(effects)
    assert effects.std() == pytest.approx(INTERACTION_SD, rel=0.1)
    assert abs(np.corrcoef(effects[0], effects[1])[0, 1]) < 0.1
    assert simulate_ladder(seed=0, kind="clean").interactions is None


def test_prediction_records_the_scatter_and_says_so():
    sim = simulate_ladder(seed=1, kind="interaction", ratios=(100, 30, 10))
    counts = sim.counts[sim.counts["model"] != sim.target]
    pred = predict(counts, [(m, c, None) for m, c in sim.models], target=sim.target,
                   target_compute=sim.target_compute,
                   settings=PredictionSettings(n_resamples=50))
    scatter = pred.to_dict()["law_selection"]["problem_by_model_variance"]
    assert set(scatter) == {"logit", "loglog"} and scatter["logit"] > 0.5
    assert any("scatter about each problem's trend" in w for w in pred.warnings)
    clean = simulate_ladder(seed=1, kind="clean", ratios=(100, 30, 10))
    pred = predict(clean.counts[clean.counts["model"] != clean.target],
                   [(m, c, None) for m, c in clean.models], target=clean.target,
                   target_compute=clean.target_compute,
                   settings=PredictionSettings(n_resamples=50))
    assert pred.to_dict()["law_selection"]["problem_by_model_variance"]["logit"] < 0.05
    assert not any("scatter about" in w for w in pred.warnings)


@pytest.mark.parametrize("link", ["logit", "loglog"])
def test_a_new_models_scattered_pass_rates_average_to_the_law(link):
    """The law's curve is the population average: a new model's pass rates, each moved by
    its own effect, average back to it over models, and spread about it."""
    fit = fit_hierarchical(*_scattered(1.0, problems=50), link=link)
    assert fit.interaction > 0.2
    p = np.array([0.02, 0.3, 0.7, 0.97])
    draws = fit.scattered(np.broadcast_to(p, (40_000, 4)), np.random.default_rng(0))
    assert np.allclose(draws.mean(0), p, atol=0.005), draws.mean(0)
    assert np.all(draws.std(0) > 0.01)
    plain = fit_hierarchical(*_scattered(1.0, problems=50), link=link, interaction=0.0)
    assert np.array_equal(plain.scattered(p, np.random.default_rng(0)), p)
