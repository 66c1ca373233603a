"""The ceiling law's spike-and-slab prior: the share of problems with a ceiling and the
ceilings' distribution estimated from the ladder (empirical Bayes)."""

import numpy as np
import pytest
from scipy import special
from test_laws import _data

from capability.laws import LAWS
from capability.laws._hierarchical import fit_hierarchical
from capability.prediction.predict import PredictionSettings, predict
from capability.simulation.simulate import simulate_ladder


def _arrays(sim):
    """The ladder models' counts ``n, c`` (models by problems, in the simulation's problem
    order) and ``log10`` compute."""
    names = [m for m, _ in sim.models]
    ids = list(sim.a.index)
    c = sim.counts.pivot(index="model", columns="task_id", values="c").loc[names, ids]
    n = np.full(c.shape, int(sim.counts["n"].iloc[0]))
    return n, c.to_numpy(), np.log10([cc for _, cc in sim.models])


def _fit(sim):
    return fit_hierarchical(*_arrays(sim), link="loglog", ceiling=True, interaction=0.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_share_and_slab_of_ceilings_estimated(seed):
    """30% of the problems level off at q ~ U(0.3, 0.9) (mean 0.6): the estimated share and
    the slab's centre say so (measured: share 0.26, slab at q = 0.59 for seed 1). On a clean
    ladder the ceiling component is rare or sits near 1 (measured: share 0.03-0.21 with the
    slab at q = 0.81-0.97): the expected share of the pass rate it takes away, ``share (1 -
    q_slab)``, is under 2% there and over 5% on the ceilings ladder."""
    mix = _fit(simulate_ladder(seed=seed, kind="ceilings")).mixture
    assert 0.15 < mix.share < 0.45, mix.share
    assert 0.4 < special.expit(mix.mu[1][2]) < 0.8, mix.mu[1]
    assert mix.share * special.expit(-mix.mu[1][2]) > 0.05
    clean = _fit(simulate_ladder(seed=seed, kind="clean")).mixture
    assert clean.share * special.expit(-clean.mu[1][2]) < 0.02, (clean.share, clean.mu[1])


def test_visible_ceilings_get_the_posterior_mass():
    """A problem near its plateau within the ladder (pass rate at the largest model above
    85% of a ceiling below 0.8) is read as capped; an uncapped problem the ladder already
    solves at least 90% of the time is read as uncapped."""
    sim = simulate_ladder(seed=2, kind="ceilings")
    fit = _fit(sim)
    top = sim.true_pass_rate(sim.models[-1][1]).to_numpy()
    q = sim.q.to_numpy()
    plateau = (q < 0.8) & (top > 0.85 * q)
    solved = (q == 1) & (top > 0.9)
    assert plateau.sum() >= 5 and solved.sum() >= 3, (plateau.sum(), solved.sum())
    assert fit.mixture.resp[plateau].mean() > 0.8, fit.mixture.resp[plateau]
    assert fit.mixture.resp[solved].mean() < 0.05, fit.mixture.resp[solved]


def test_ceiling_law_neither_caps_clean_ladders_nor_misses_ceilings():
    """The fixed prior it replaced (logit q ~ N(5, 2.5^2)) pulled every problem below 1
    (clean: every bucket low, -0.3 to -0.9 points, 12 seeds) and capped too few where
    problems have ceilings (+1.2 to +1.8 points in the middle buckets, 8 seeds). Now
    (3 seeds here; measured -0.10 and -0.08 points mean signed error, 0.30 and 0.50 mean
    absolute): the signed error is small on both."""
    for kind, bound in (("clean", 0.5), ("ceilings", 0.8)):
        signed = []
        for seed in range(3):
            data, truth = _data(simulate_ladder(seed=seed, kind=kind))
            fit = LAWS["ceiling"](data, 1e24, n_draws=100, rng=seed)
            signed.append(100 * (fit.mean_pass_rate - truth))
        assert abs(np.mean(signed)) < 0.5, (kind, np.mean(signed))
        assert np.mean(np.abs(signed)) < bound, (kind, np.mean(np.abs(signed)))


def test_draws_mix_the_components_by_their_probability():
    """Each problem's draws come from its capped component in about ``resp`` of them."""
    fit = _fit(simulate_ladder(seed=1, kind="ceilings"))
    theta = fit.draws(400, np.random.default_rng(0))
    capped = theta[..., 2] < 10.0           # the no-ceiling component sits at logit q = 20
    assert np.abs(capped.mean(0) - fit.mixture.resp).max() < 0.12


def test_prediction_records_what_the_ceiling_law_read():
    """``prediction.json``'s ``law_selection.ceilings``: the share, where the ceilings sit,
    and how many problems are more likely capped than not -- many on a ceilings ladder,
    few on a clean one."""
    out = {}
    for kind in ("ceilings", "clean"):
        sim = simulate_ladder(seed=1, kind=kind)
        counts = sim.counts[sim.counts["model"] != sim.target]
        pred = predict(counts, [(m, c, None) for m, c in sim.models], target=sim.target,
                       target_compute=sim.target_compute,
                       settings=PredictionSettings(n_resamples=50, law="ceiling"))
        out[kind] = pred.to_dict()["law_selection"]["ceilings"]
    assert set(out["ceilings"]) == {"share", "slab_q", "slab_sd_logit", "problems_likely_capped"}
    assert 0.15 < out["ceilings"]["share"] < 0.45 and out["ceilings"]["slab_q"] < 0.8
    assert out["ceilings"]["problems_likely_capped"] >= 10
    assert out["clean"]["share"] * (1 - out["clean"]["slab_q"]) < 0.02
    assert out["clean"]["problems_likely_capped"] <= 5


def test_curve_at_the_modes_weighs_the_components():
    """Without draws, a problem's pass rate is its two components' at their modes, weighed
    by its posterior probability of a ceiling."""
    fit = _fit(simulate_ladder(seed=1, kind="ceilings"))
    x = np.array([23.0, 24.0])
    mix = fit.mixture
    one = [fit.pass_rate(x, np.broadcast_to(t, t.shape)) for t in mix.theta]
    expected = (1 - mix.resp[:, None]) * one[0] + mix.resp[:, None] * one[1]
    assert np.allclose(fit.pass_rate(x), expected)
    assert one[1][:, 1].mean() < one[0][:, 1].mean()   # the capped curves end lower
