"""The bent law: the per-problem logistic on a compute axis whose bend the counts read."""

from types import SimpleNamespace

import numpy as np
import pytest
from test_laws import _data

from capability.laws import LAWS
from capability.laws.base import LadderData
from capability.laws.bent import GAMMAS, bend_axis, bend_profile, bend_visible
from capability.prediction.inputs import effective_counts
from capability.prediction.predict import (
    SHAPE_DRAWS,
    PredictionSettings,
    _ladder_arrays,
    _per_problem_at_target,
    bend_gate,
    predict,
)
from capability.reports.report import _tables
from capability.simulation.simulate import simulate_ladder


@pytest.mark.parametrize("gamma", list(GAMMAS))
def test_the_axis_rises_with_compute_and_bends_by_gamma_per_decade(gamma):
    """``u(x0) = 0`` with slope 1 there, increasing everywhere, and each decade's rise
    ``10^gamma`` times the one before (the straight axis at ``gamma = 0``)."""
    x0 = 23.0
    x = np.linspace(19.0, 25.0, 601)
    u = bend_axis(x, gamma, x0)
    assert bend_axis(x0, gamma, x0) == 0.0
    assert np.all(np.diff(u) > 0)
    h = 1e-6
    assert (bend_axis(x0 + h, gamma, x0) - bend_axis(x0 - h, gamma, x0)) / (2 * h) == \
        pytest.approx(1.0, rel=1e-6)
    rises = np.diff(bend_axis(np.arange(19.0, 26.0), gamma, x0))
    assert rises[1:] / rises[:-1] == pytest.approx(np.full(5, 10.0 ** gamma), rel=1e-9)


def test_slowing_growth_is_read_and_predicted_where_the_straight_axis_overshoots():
    """``slowing`` ladders (every problem on one bent compute axis; no losses used): the
    profile reads a bend that slows (gamma -0.2 on seeds 0-2 when this was written) and the
    law errs a quarter of the logistic law's at the target (1.1-1.7 points against 6.0-6.9
    then); ``emergence`` ladders (the logistic law is their own) read no bend and predict
    as the logistic law does."""
    for seed in range(3):
        data, truth = _data(simulate_ladder(seed=seed, kind="slowing"))
        data = LadderData(n=data.n, c=data.c, compute=data.compute, buckets=data.buckets)
        assert -0.4 <= bend_profile(data).gamma <= -0.1
        err = {law: np.mean(np.abs(LAWS[law](data, 1e24, n_draws=100, rng=seed)
                                   .mean_pass_rate - truth))
               for law in ("bent", "logistic")}
        assert err["bent"] < 0.4 * err["logistic"], err
    data, truth = _data(simulate_ladder(seed=0, kind="emergence"))
    assert bend_profile(data).gamma == 0.0
    bent, logistic = (LAWS[law](data, 1e24, n_draws=100, rng=0) for law in ("bent",
                                                                             "logistic"))
    np.testing.assert_allclose(bent.mean_pass_rate, logistic.mean_pass_rate)


def test_two_computes_have_no_bend_to_read_and_the_record_says_what_was_read():
    data, _ = _data(simulate_ladder(seed=0, kind="slowing"))
    two = LadderData(n=data.n[-2:], c=data.c[-2:], compute=data.compute[-2:],
                     buckets=data.buckets)
    assert bend_profile(two).gamma == 0.0
    fit = LAWS["bent"](data, 1e24, n_draws=20, rng=0)
    rec = fit.record
    assert rec["gamma"] in rec["gammas"] and len(rec["gammas"]) == len(GAMMAS)
    assert max(rec["log_posterior"]) == 0.0
    assert rec["log_posterior"][rec["gammas"].index(rec["gamma"])] == 0.0
    assert f"gamma {rec['gamma']:+.1f} per decade" in fit.noise_method
    # The curve is on the bent axis: at the ladder's largest model it is near that model's
    # bucket means, and it rises with compute in every bucket.
    mp, _ = fit.curve(np.array([data.compute[-1], 1e24, 1e25]))
    measured = np.array([(data.c[-1, b] / data.n[-1, b]).mean() for b in data.buckets])
    assert np.max(np.abs(mp[:, 0] - measured)) < 0.05
    assert np.all(np.diff(mp, axis=1) > 0)


def test_the_average_leaves_the_bent_law_out_where_offsets_and_a_bend_cannot_be_told_apart():
    """``family`` seed 0 (models 10^N(0, 0.3^2) off their trend and problem-by-model
    effects: a model's own deviation of 0.39 decades) reads a bend that strays from a
    straight line by less than that: the average fits no bent law, and ``prediction.json``
    says so (no ``bend_axis``, ``bent`` not among the candidates). ``slowing`` seed 0 (a
    deviation of 0.06 decades, the growth slowing by gamma -0.2, 0.12 decades off a line
    over the ladder) fits it, records the bend and gives it the largest weight. ``--law
    bent`` forces it on either."""
    runs = {}
    for kind, law in (("family", "auto"), ("slowing", "auto"), ("family", "bent")):
        sim = simulate_ladder(seed=0, kind=kind)
        counts = sim.counts[sim.counts["model"] != sim.target]
        pred = predict(counts, [(m, c, None) for m, c in sim.models], target=sim.target,
                       target_compute=sim.target_compute,
                       settings=PredictionSettings(n_resamples=50, law=law))
        runs[kind, law] = pred.to_dict()
    family = runs["family", "auto"]["law_selection"]
    assert "bent" not in family["candidates"] and family["bend_axis"] is None
    gate = family["bend_gate"]
    assert gate["confounded"] and list(gate["reads"]) == ["buckets"]
    assert gate["reads"]["buckets"]["visible_decades"] <= gate["deviation_decades"]
    # The report's ladder caption says why the law is left out.
    caption = dict((t[0], t[3]) for t in _tables(runs["family", "auto"], None))["Ladder"]
    gamma = gate["reads"]["buckets"]["gamma"]
    assert (f"the bent law is left out: the bend read from the buckets' problems (gamma "
            f"{gamma:+.1f} per decade)") in caption
    forced = runs["family", "bent"]["law_selection"]
    assert "bent" in forced["candidates"] and forced["bend_axis"] is not None
    assert forced["bend_gate"] is None
    x = np.log10([c for _, c in simulate_ladder(seed=0, kind="family").models])
    assert bend_visible(x, forced["bend_axis"]["gamma"]) <= \
        family["model_offsets"]["deviation_decades"]
    slowing = runs["slowing", "auto"]["law_selection"]
    assert "bent" in slowing["candidates"] and slowing["bend_axis"]["gamma"] < 0
    gate = slowing["bend_gate"]
    assert not gate["confounded"] and list(gate["reads"]) == ["buckets", "every_problem"]
    assert min(r["visible_decades"] for r in gate["reads"].values()) > \
        gate["deviation_decades"]
    assert gate["reads"]["buckets"]["gamma"] == slowing["bend_axis"]["gamma"]
    assert "left out" not in dict((t[0], t[3]) for t in _tables(runs["slowing", "auto"],
                                                                None))["Ladder"]
    weights = runs["slowing", "auto"]["buckets"][0]["weights"]
    assert weights["bent"] == max(weights.values()), weights


def test_the_visible_bend_grows_with_gamma_and_the_ladders_span():
    """``bend_visible``: 0 for the straight axis, the same for +-gamma to first order,
    growing with |gamma| and with the decades the ladder spans."""
    wide, short = np.log10([1e21, 3.33e21, 1e22, 3.33e22, 1e23]), np.log10([16, 8, 4, 2])
    assert bend_visible(wide, 0.0) == pytest.approx(0.0, abs=1e-12)
    assert bend_visible(wide, -0.1) == pytest.approx(bend_visible(wide, 0.1), rel=0.05)
    assert 0.05 < bend_visible(wide, -0.1) < bend_visible(wide, -0.2) < bend_visible(wide, -0.3)
    assert bend_visible(short, -0.1) < 0.2 * bend_visible(wide, -0.1)


def test_a_ladders_bend_is_read_once():
    """The model average's gate and the law read the same ladder's bend: the second call
    returns the first's profile; other counts are read afresh."""
    data, _ = _data(simulate_ladder(seed=1, kind="slowing"))
    first = bend_profile(data)
    assert bend_profile(LadderData(n=data.n.copy(), c=data.c.copy(), compute=data.compute,
                                   buckets=())) is first
    other = LadderData(n=data.n, c=data.c // 2, compute=data.compute,
                       buckets=data.buckets)
    assert bend_profile(other) is not first


def _arrays(kind, seed):
    sim = simulate_ladder(seed=seed, kind=kind)
    counts = effective_counts(sim.counts[sim.counts["model"] != sim.target])
    models = sorted(((m, c, None) for m, c in sim.models), key=lambda m: m[1])
    return _ladder_arrays(counts, models, PredictionSettings(seed=seed))


def _read(arrays, n, c):
    return bend_profile(LadderData(n=n, c=c, compute=arrays.compute, buckets=(),
                                   interaction=arrays.interaction)).gamma


def test_the_gate_asks_the_bend_to_stand_out_of_every_problems_read_and_the_buckets():
    """The buckets leave out the hardest problems, chosen on the same counts: on
    ``interaction`` seed 0 (no bend in the simulation; problem-by-model effects) their
    problems read -0.4 per decade, every problem -0.2 (both when this was written). The
    gate asks the bend to stand out of the models' deviation in both reads, so the average
    leaves the law out where the buckets' read alone would let it in (``interaction`` seed
    0) and where every problem's read alone would (``family`` seed 11); ``slowing`` seed 0
    passes both."""
    arrays, _, offsets, shifted = _arrays("interaction", 0)
    x = np.log10(arrays.nominal)
    every, inside = _read(arrays, arrays.n, arrays.c), _read(arrays, arrays.n_in, arrays.c_in)
    assert every > inside
    assert not shifted and bend_visible(x, every) <= offsets.deviation < bend_visible(x, inside)
    assert bend_gate(arrays, offsets, shifted)["confounded"]
    arrays, _, offsets, shifted = _arrays("family", 11)
    x = np.log10(arrays.nominal)
    every, inside = _read(arrays, arrays.n, arrays.c), _read(arrays, arrays.n_in, arrays.c_in)
    gate = bend_gate(arrays, offsets, shifted)
    assert bend_visible(x, inside) <= gate["deviation_decades"] < bend_visible(x, every)
    assert gate["confounded"]
    arrays, _, offsets, shifted = _arrays("slowing", 0)
    assert not bend_gate(arrays, offsets, shifted)["confounded"]


def test_every_per_problem_law_gives_its_problems_at_the_target_on_its_own_covariate():
    """``LawFit.at_target``: each per-problem law's pass rate of every problem at the target,
    on the law's own covariate (the bent law's axis, the two-step law's target loss): the
    draws' bucket means are the law's own prediction, up to the draws' noise (a bent law
    read on the straight axis would be points off on a ``slowing`` ladder)."""
    data, _ = _data(simulate_ladder(seed=0, kind="slowing"))
    for law in ("problem_power", "logistic", "ceiling", "bent", "two_step"):
        fit = LAWS[law](data, 1e24, n_draws=400, rng=0)
        modes, draws = fit.at_target(200, np.random.default_rng(1))
        assert modes.shape == (data.n.shape[1],) and draws.shape == (200, data.n.shape[1])
        means = np.array([draws[:, b].mean() for b in data.buckets])
        np.testing.assert_allclose(means, fit.mean_pass_rate, atol=0.003, err_msg=law)
    bent = LAWS["bent"](data, 1e24, n_draws=400, rng=0)
    # Its fit on the straight axis (decades past the largest model) in place of the bent one.
    straight = bent.extra.pass_rate(np.array([24.0 - np.log10(data.compute.max())]))[..., 0]
    assert np.max(np.abs([straight[b].mean() - m
                          for b, m in zip(data.buckets, bent.mean_pass_rate)])) > 0.015
    assert LAWS["power"](data, 1e24, n_draws=10, rng=0).at_target is None


def test_the_headline_reads_its_shape_from_the_per_problem_law_weighed_most():
    """pass@k's shape comes from the per-problem law with the largest averaging weight,
    the bent and two-step laws among them; at equal weights, the smallest backtest error."""
    class Fit:
        def __init__(self, value):
            self.value = value
            self.extra = SimpleNamespace(scattered=lambda draws, rng: draws + 0.5)

        def at_target(self, n, rng):
            return np.full(3, self.value), np.full((n, 3), self.value)

    fits = {law: Fit(v) for law, v in (("problem_power", 0.1), ("logistic", 0.2),
                                       ("bent", 0.3), ("two_step", 0.4))}
    fits["power"] = SimpleNamespace(at_target=None)
    local = [np.array([0, 1]), np.array([2])]
    for weights, expected in (({"bent": 0.7, "logistic": 0.2, "two_step": 0.1}, 0.3),
                              ({"two_step": 0.9, "bent": 0.1}, 0.4),
                              ({"logistic": 0.6, "power": 0.4}, 0.2)):
        scores = {law: SimpleNamespace(weight=weights.get(law, 0.0), mse_all=1.0)
                  for law in fits}
        law, modes, draws, scattered = _per_problem_at_target(fits, scores, local)
        assert fits[law].value == expected
        assert [m.tolist() for m in modes] == [[expected] * 2, [expected]]
        assert draws[0].shape == (SHAPE_DRAWS, 2) and np.all(scattered[1] == expected + 0.5)
    scores = {law: SimpleNamespace(weight=0.0, mse_all=2.0) for law in fits}
    scores["bent"] = SimpleNamespace(weight=0.0, mse_all=1.0)
    assert _per_problem_at_target(fits, scores, local)[0] == "bent"
