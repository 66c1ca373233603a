"""End-to-end accuracy and calibration of the report's law (``--law power``, zero policy
'exclude', its own bootstrap interval in ``report_law``) on simulated ladders with known
truth; the candidate laws and their selection are tested in ``test_laws.py``.

The ladder of issue 2: five ladder models at 1000x, 300x, 100x, 30x and 10x less compute than
the target, 200 samples per problem, ``-log p_i(C) = a_i (C/C_T)^(-k)``. Bar: every bucket's
mean ``-log pass_rate`` within 15% of the truth, the mean error over buckets within 6%, and
the 90% interval covering the truth in at least 4 of 6 buckets.
"""

import numpy as np
import pytest
from scipy import stats

from capability.estimation.trends import inverse_scaling
from capability.laws import interaction_variance
from capability.prediction.predict import PredictionSettings, predict
from capability.simulation.simulate import bucket_truth, simulate_ladder, slowed


def _run(seed, n_resamples=400, **sim_kwargs):
    sim = simulate_ladder(seed=seed, **sim_kwargs)
    ladder_counts = sim.counts[sim.counts["model"] != sim.target]
    pred = predict(ladder_counts, [(m, c, sim.losses[m]) for m, c in sim.models],
                   target=sim.target, target_compute=sim.target_compute,
                   settings=PredictionSettings(n_resamples=n_resamples, seed=seed,
                                               law="power", zero_policy="exclude"))
    truth = bucket_truth(sim, pred.assignment.buckets)
    rel, covered, rate_err = [], [], []
    for b, t in zip(pred.buckets, truth):
        est = b.report_law.neg_log_pass_rate
        rel.append(est.estimate / t["neg_log_pass_rate"] - 1)
        covered.append(est.confidence_interval.contains(t["neg_log_pass_rate"]))
        rate_err.append(b.report_law.mean_pass_rate.estimate - t["mean_pass_rate"])
    return sim, pred, np.array(rel), np.array(covered), np.array(rate_err)


def test_issue_ladder_meets_the_bar():
    """Every seed meets the error bars; the coverage bar (>= 4 of 6 buckets) is a random
    event with correlated buckets, so at most one seed in twelve may miss it."""
    coverage_misses = []
    for seed in range(100, 112):
        _, pred, rel, covered, rate_err = _run(seed, n_inverse=0)
        assert len(pred.buckets) == 6
        assert np.max(np.abs(rel)) < 0.15, (seed, rel)
        assert np.mean(np.abs(rel)) < 0.06, (seed, rel)
        assert np.max(np.abs(rate_err)) < 0.03, (seed, rate_err)
        if covered.sum() < 4:
            coverage_misses.append(seed)
    assert len(coverage_misses) <= 1, coverage_misses


def test_beats_plain_log_log_least_squares_on_average():
    from capability.estimation.buckets import assign_buckets
    from capability.laws.fit import fit_power_law

    ours, plain = [], []
    for seed in range(200, 215):
        sim, pred, rel, _, _ = _run(seed, n_resamples=0, n_inverse=0)
        ours.append(np.mean(np.abs(rel)))
        names = [m for m, _ in sim.models]
        ids = list(sim.a.index)
        table = sim.counts.pivot(index="model", columns="task_id", values="c").loc[names, ids]
        c = table.to_numpy()
        ba = assign_buckets(np.full(c.shape, 200), c, ids)
        truth = bucket_truth(sim, ba.buckets)
        errs = []
        for bucket, t in zip(ba.buckets, truth):
            with np.errstate(divide="ignore"):
                y = -np.log(table[list(bucket)].to_numpy() / 200).mean(1)
            fit = fit_power_law([cc for _, cc in sim.models], y, compute_ref=sim.target_compute)
            errs.append(abs(fit.value_at_ref / t["neg_log_pass_rate"] - 1))
        plain.append(np.mean(errs))
    assert np.mean(ours) <= np.mean(plain)


def test_interval_coverage_is_close_to_its_level():
    """Seeded calibration: 40 ladders x 6 buckets. Measured here: 0.958 at level 0.9."""
    hits = []
    for seed in range(40):
        _, _, _, covered, _ = _run(seed, n_resamples=300, n_inverse=0)
        hits.extend(covered)
    hits = np.array(hits)
    coverage = hits.mean()
    # Intervals in one ladder are correlated, so allow more than binomial slack around 0.9.
    assert 0.84 <= coverage <= 0.98, coverage
    assert stats.binomtest(int(hits.sum()), hits.size, 0.9).pvalue > 1e-4


def test_problems_that_get_worse_with_scale_are_simulated():
    sim = simulate_ladder(seed=0, n_inverse=3)
    assert (sim.k < 0).sum() == 3
    worse = sim.k.index[sim.k < 0]
    small = sim.true_neg_log_pass_rate(sim.models[0][1])[worse]
    big = sim.true_neg_log_pass_rate(sim.target_compute)[worse]
    assert np.all(big > small)


def test_irregular_ladders_put_each_model_off_its_trend():
    """Kind irregular: every model (the target too) performs as at ``C * 10^u``; its counts
    are drawn at that compute, and the truth is the target's at its own effective compute.
    Other kinds have no offsets."""
    sim = simulate_ladder(seed=0, kind="irregular", n_samples=20_000)
    assert set(sim.offsets) == {m for m, _ in sim.models} | {sim.target}
    u = np.array(list(sim.offsets.values()))
    assert 0 < np.std(u) < 0.5 and np.any(np.abs(u) > 0.03)
    for name, compute in sim.models:
        rate = sim.counts[sim.counts["model"] == name].set_index("task_id")
        on_trend = sim.true_pass_rate(compute * 10 ** sim.offsets[name])
        measured = rate["c"] / rate["n"]
        assert np.abs(measured - on_trend[measured.index]).mean() < 0.005
    truth = bucket_truth(sim, [list(sim.a.index)])[0]["mean_pass_rate"]
    effective = sim.true_pass_rate(sim.target_compute * 10 ** sim.offsets[sim.target]).mean()
    assert truth == pytest.approx(effective)
    assert simulate_ladder(seed=0).offsets is None


def test_slowing_ladders_bend_the_compute_axis():
    """Kind slowing: every model performs as at ``C_T 10^(g(x))``, ``g`` bent so that the
    family gains 0.82 decades of effective compute per decade at 1000x below the target and
    0.18 at it; the target is at its own compute, and so the ladder's growth per decade
    falls towards its top (its losses too), where a clean ladder's does not."""
    x = np.array([-3.0, -2.0, -1.0, 0.0])
    slope = (slowed(x + 1e-4) - slowed(x - 1e-4)) / 2e-4
    assert slope == pytest.approx([0.82, 0.62, 0.38, 0.18], abs=0.005)
    assert slowed(0.0) == 0.0 and np.all(np.diff(slope) < 0)
    sim = simulate_ladder(seed=0, kind="slowing", n_samples=20_000)
    assert sim.effective_compute(sim.target) == sim.target_compute
    for name, compute in sim.models:
        rate = sim.counts[sim.counts["model"] == name].set_index("task_id")
        bent = sim.true_pass_rate(sim.target_compute * 10 ** slowed(np.log10(
            compute / sim.target_compute)))
        assert np.abs(rate["c"] / rate["n"] - bent[rate.index]).mean() < 0.005
    clean = simulate_ladder(seed=0, n_samples=20_000)

    def gains(s):
        means = [s.true_pass_rate(s.effective_compute(m)).mean() for m, _ in s.models]
        return np.diff(means)

    assert gains(sim)[-1] < 0.6 * gains(clean)[-1]

    def loss_gains(s):
        return -np.diff([s.losses[m] for m, _ in s.models] + [s.losses[s.target]])

    assert np.all(loss_gains(sim) > 0)
    assert loss_gains(sim)[-1] < 0.6 * loss_gains(clean)[-1]


def test_simulated_pass_rates_are_heavy_tailed():
    sim = simulate_ladder(seed=0, n_problems=2000)
    p = np.exp(-sim.a)
    assert np.median(p) > 0.6  # most problems easy for the target ...
    assert (p < 0.05).mean() > 0.02  # ... with a heavy tail of near-impossible ones


def test_problems_that_get_worse_with_scale_are_flagged():
    hits = false = missed = 0
    for seed in range(8):
        sim, pred, _, _, _ = _run(seed, n_resamples=0, n_inverse=3)
        flagged = {w["task_id"] for w in pred.inverse_scaling}
        worse = set(sim.k.index[sim.k < 0])
        bucketed = {t for ids in pred.assignment.buckets for t in ids}
        hits += len(flagged & worse)
        false += len(flagged - worse)
        missed += len((worse & bucketed) - flagged)
        as_json = pred.to_dict()["inverse_scaling"]
        assert all(w["bucket"] is not None and w["z"] > 3 for w in as_json)
    assert false <= 1
    assert hits >= missed  # measured here: 14 found, 10 missed, 0 false (seeds 0-19: 42, 18, 0)


def test_scatter_beyond_the_binomial_noise_is_not_read_as_getting_worse():
    """Every model finds each problem easier or harder than its trend (``interaction``, sd 1
    on the logit scale) and no problem gets worse: with the binomial noise alone a problem
    whose points one model's effect tilts looks significantly worse (14 flagged here); with
    the ladder's scatter in each point's variance, at most one."""
    sim = simulate_ladder(seed=0, kind="interaction")
    names = [m for m, _ in sim.models if m != sim.target]
    compute = np.array([c for m, c in sim.models if m != sim.target])
    table = sim.counts.pivot(index="model", columns="task_id", values="c").loc[names]
    c = table.to_numpy()
    n = np.full(c.shape, int(sim.counts["n"].iloc[0]))
    assert (sim.k >= 0).all()
    omega2 = interaction_variance(n, c, np.log10(compute), "logit")
    assert omega2 > 0.5
    k = np.full(c.shape[1], 0.3)
    ids = list(table.columns)
    assert len(inverse_scaling(n, c, compute, ids, k)) >= 5
    assert len(inverse_scaling(n, c, compute, ids, k, scatter=omega2)) <= 1
    with pytest.raises(ValueError, match="scatter"):
        inverse_scaling(n, c, compute, ids, k, scatter=-1.0)


def test_a_flat_problem_is_not_flagged_as_getting_worse():
    """A problem solved equally often by every model has slope 0; rounding puts some such
    slopes at +1e-31, which a strict ``slope > 0`` flagged (3 of these 199)."""
    compute = np.array([1e21, 3.3e21, 1e22, 3.3e22, 1e23])
    c = np.tile(np.arange(1, 200), (5, 1))
    n = np.full(c.shape, 200)
    ids = [f"t{i}" for i in range(c.shape[1])]
    assert inverse_scaling(n, c, compute, ids, np.full(c.shape[1], 0.3), scatter=0.8) == []


def test_interaction_sd_sets_the_problem_by_model_effects_spread():
    """``interaction_sd`` (``capability simulate --interaction-sd``) scales the effects: their
    sd is the one asked for (1.0 by default, the same draws scaled), 0 gives none, and a
    negative one is refused."""
    base = simulate_ladder(seed=3, kind="interaction").interactions
    wide = simulate_ladder(seed=3, kind="interaction", interaction_sd=1.5).interactions
    assert np.allclose(wide.to_numpy(), 1.5 * base.to_numpy())
    assert abs(base.to_numpy().std() - 1.0) < 0.03
    flat = simulate_ladder(seed=3, kind="interaction", interaction_sd=0.0)
    assert (flat.interactions.to_numpy() == 0).all()
    with pytest.raises(ValueError, match="interaction_sd"):
        simulate_ladder(seed=3, kind="interaction", interaction_sd=-1.0)


def test_family_ladders_draw_offsets_effects_and_logistic_laws_at_once():
    """Kind family: emergence's per-problem logistic, every model (the target too) at
    ``C 10^u`` with ``u ~ N(0, 0.3^2)`` decades, and problem-by-model effects of sd 1.5 on
    the logit scale; the counts are drawn from all three, the truth is the target's with
    its own offset and effects, and ``offset_sd`` / ``interaction_sd`` set the spreads."""
    from scipy import special

    sim = simulate_ladder(seed=4, kind="family", n_samples=100_000)
    names = [m for m, _ in sim.models] + [sim.target]
    assert set(sim.offsets) == set(names) and list(sim.interactions.index) == names
    assert np.isfinite(sim.s).all() and np.isnan(sim.k).all()   # the logistic law
    assert 0.1 < np.std(list(sim.offsets.values())) < 0.6
    assert abs(sim.interactions.to_numpy().std() - 1.5) < 0.05
    for name, compute in (*sim.models, (sim.target, sim.target_compute)):
        z = (special.logit(sim.true_pass_rate(compute * 10 ** sim.offsets[name]))
             + sim.interactions.loc[name])
        rate = sim.counts[sim.counts["model"] == name].set_index("task_id")
        measured = rate["c"] / rate["n"]
        assert np.abs(measured - special.expit(z)[measured.index]).max() < 0.01
    truth = bucket_truth(sim, [list(sim.a.index)])[0]["mean_pass_rate"]
    assert truth == pytest.approx(sim.model_pass_rate(sim.target).mean())
    narrow = simulate_ladder(seed=4, kind="family", offset_sd=0.15, interaction_sd=0.75)
    assert np.allclose(list(narrow.offsets.values()), 0.5 * np.array(list(sim.offsets.values())))
    assert np.allclose(narrow.interactions.to_numpy(), 0.5 * sim.interactions.to_numpy())
    # the other kinds keep their own defaults: irregular 0.15 decades, interaction 1.0
    assert np.allclose(list(simulate_ladder(seed=4, kind="irregular", offset_sd=0.15).offsets
                            .values()),
                       list(simulate_ladder(seed=4, kind="irregular").offsets.values()))


@pytest.mark.parametrize("kwargs, match", [
    ({"ratios": ()}, "expected ratios: one or more finite numbers > 0"),
    ({"ratios": (-1.0, 10.0)}, "expected ratios: one or more finite numbers > 0"),
    ({"ratios": (10.0, float("nan"))}, "expected ratios: one or more finite numbers > 0"),
    ({"seed": -1}, "expected seed a whole number >= 0, found -1"),
    ({"seed": 1.5}, "expected seed a whole number >= 0, found 1.5"),
])
def test_bad_ratios_and_seeds_are_named(kwargs, match):
    """A negative ratio failed inside numpy's binomial draw ("p < 0, p > 1 or p contains
    NaNs"), no ratio at all drew a ladder of the target alone, and a negative seed gave
    numpy's "expected non-negative integer": each now names the parameter."""
    with pytest.raises(ValueError, match=match):
        simulate_ladder(**kwargs)
