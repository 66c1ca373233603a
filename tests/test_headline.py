"""The headline: pass@k over the covered problems with intervals, what it covers, and its
score against the measured target."""

import numpy as np
import pytest
from scipy import optimize, stats

from capability.prediction.calibrate import averaged_interval
from capability.prediction.headline import (
    JointPiece,
    headline,
    joint_bucket_draws,
    shift_to_mean,
)
from capability.prediction.law_error import SHARE_NODES, with_share_prior
from capability.prediction.predict import PER_PROBLEM_LAWS, PredictionSettings, predict
from capability.records.score import score_prediction
from capability.reports.table import headline_lines
from capability.simulation.simulate import simulate_ladder


def test_shift_to_mean_hits_the_mean_and_keeps_the_order():
    p = np.array([0.01, 0.2, 0.5, 0.9, 0.999])
    for m in (0.05, 0.3, 0.7, 0.98):
        q = shift_to_mean(p, m)
        assert q.mean() == pytest.approx(m, abs=1e-9) and np.all(np.diff(q) > 0)
    assert (shift_to_mean(p, 0.0) == 0).all() and (shift_to_mean(p, 1.0) == 1).all()


@pytest.mark.parametrize("mean", [1e-300, 1e-9, 0.5, 1 - 1e-12])
def test_shift_to_mean_reaches_bounds_near_0_and_1(mean):
    # Found by the property test: an interval's lower bound of 1e-300 on a bucket whose
    # problems all sit at 0 but one (the old fixed bracket could not reach it).
    q = shift_to_mean(np.array([0.0, 0.0, 0.0, 0.4, 0.0]), mean)
    assert q.mean() == pytest.approx(mean, rel=1e-6)
    assert np.all((q >= 0) & (q <= 1))


def test_headline_covers_the_truth_and_says_what_it_covers():
    """Clean simulated ladders, 4 seeds: the headline's 90% intervals of pass@1 and pass@10
    over the covered problems hold the true values (measured with these seeds: 4 of 4 for
    pass@1, 4 of 4 for pass@10), pass@1 is the problem-weighted mean of the buckets, and the
    statement counts the held-out problems."""
    held = {"1": 0, "10": 0}
    for seed in range(4):
        sim = simulate_ladder(seed=seed)
        counts = sim.counts[sim.counts["model"] != sim.target]
        pred = predict(counts, [(m, c, None) for m, c in sim.models], target=sim.target,
                       target_compute=sim.target_compute,
                       settings=PredictionSettings(n_resamples=100, k=(1, 10)))
        o = pred.to_dict()["overall"]
        assert o["statement"] == "149 of 164 problems: 15 hardest held out"
        # pass@10's method names the per-problem law its shape came from: the one of the
        # per-problem laws the average weighs most.
        scores = pred.to_dict()["law_selection"]["scores"]
        shape = max((law for law in PER_PROBLEM_LAWS if law in scores),
                    key=lambda law: scores[law]["weight"])
        assert f"of the {shape} law (the per-problem law the average weighs most)" in \
            o["pass_at_k"]["10"]["method"]
        sizes = np.array([len(b.task_ids) for b in pred.buckets])
        means = np.array([b.mean_pass_rate.estimate for b in pred.buckets])
        assert o["pass_at_k"]["1"]["predicted"] == pytest.approx(
            float(sizes @ means / sizes.sum()))
        ids = [t for b in pred.buckets for t in b.task_ids]
        p = sim.true_pass_rate(sim.target_compute).loc[ids].to_numpy()
        for k in ("1", "10"):
            v = o["pass_at_k"][k]
            truth = float(np.mean(1 - (1 - p) ** int(k)))
            held[k] += v["lower"] <= truth <= v["upper"]
            whole = o["whole_benchmark"][k]
            assert whole["lower"] <= v["lower"] and whole["upper"] >= v["upper"]
        # Scored against the measured target: measured with its interval, agreement.
        score = score_prediction(pred.to_dict(), sim.counts[sim.counts["model"] ==
                                                            sim.target])
        s1 = score["overall"]["pass_at_k"]["1"]
        assert s1["actual_lower"] <= s1["actual"] <= s1["actual_upper"]
        assert isinstance(s1["agrees"], bool)
    assert held["1"] >= 3 and held["10"] >= 3, held


def test_forced_bucket_law_gives_pass_at_1_only():
    """A bucket law alone gives no per-problem pass rates, so no pass@k for k > 1, and no
    note about pass@k beyond the ladder's 5 samples per problem either."""
    sim = simulate_ladder(seed=0, n_samples=5)
    counts = sim.counts[sim.counts["model"] != sim.target]
    pred = predict(counts, [(m, c, None) for m, c in sim.models], target=sim.target,
                   target_compute=sim.target_compute,
                   settings=PredictionSettings(n_resamples=50, law="power"))
    o = pred.to_dict()["overall"]
    assert o["pass_at_k"]["1"] is not None and o["pass_at_k"]["10"] is None
    assert not [w for w in pred.warnings if "asked for where the ladder models" in w]


def _emergence_headline(seed: int, losses: bool) -> tuple[dict, np.ndarray]:
    """An emergence ladder's predicted headline (200 resamples, k = 1, 10, 100; the ladder
    models' losses given or not) and its target's true pass rates on the covered problems."""
    sim = simulate_ladder(seed=seed, kind="emergence")
    counts = sim.counts[sim.counts["model"] != sim.target]
    pred = predict(counts, [(m, c, sim.losses[m] if losses else None) for m, c in sim.models],
                   target=sim.target, target_compute=sim.target_compute,
                   settings=PredictionSettings(n_resamples=200, k=(1, 10, 100), seed=seed))
    ids = [t for b in pred.buckets for t in b.task_ids]
    return pred.to_dict()["overall"], sim.model_pass_rate(sim.target).loc[ids].to_numpy()


def test_pass_at_k_bounds_carry_the_within_bucket_shape():
    """Emergence, 6 seeds: pass@10 and pass@100 depend on how the pass rates spread inside a
    bucket, not only on its mean. With the law's posterior draws of that spread in the bounds
    the 90% intervals hold the truth (measured: 6 of 6 for pass@10, 5 of 6 for pass@100;
    with the shape at its modes alone, 2 and 1 of 6; the joint predictive's draws shifted
    to their own means, 5 and 3 of 6)."""
    held = {"10": 0, "100": 0}
    for seed in range(6):
        o, p = _emergence_headline(seed, losses=False)
        assert "within-bucket shape" in o["pass_at_k"]["10"]["method"]
        for k in held:
            v = o["pass_at_k"][k]
            assert v["lower"] <= v["predicted"] <= v["upper"]
            held[k] += v["lower"] <= float(np.mean(1 - (1 - p) ** int(k))) <= v["upper"]
    assert held["10"] >= 5 and held["100"] >= 4, held


def test_pass_at_k_estimate_averages_the_shape_over_the_posterior():
    """Emergence ladders, 4 seeds: pass@10 is concave in each problem's pass rate, so the
    shape at the law's posterior modes, which leaves out how uncertain each problem's rate
    is (most of all the problems the small models rarely solve), is too even and
    overstates it (measured: +0.76, -0.01, +0.88 and +0.87 points); the mean over the
    posterior draws errs +0.36, -0.12, +0.47 and +0.55."""
    errors = []
    for seed in range(4):
        o, p = _emergence_headline(seed, losses=True)
        v = o["pass_at_k"]["10"]
        assert v["lower"] <= v["predicted"] <= v["upper"]
        errors.append(100 * (v["predicted"] - float(np.mean(1 - (1 - p) ** 10))))
    assert np.mean(np.abs(errors)) < 0.5, errors


def test_a_common_share_the_backtests_cannot_read_stays_at_its_prior():
    """A law-error posterior without a common share (the fallback rule's; one held model's)
    is spread over ``rho``'s nodes by their equal prior weights, each cell's mass kept; one
    with a share is left as it is. Two buckets' headline is then the mixture over ``rho``
    of ``N(0, sigma^2 (rho + (1 - rho) / 2))``: wider than with ``rho = 0``."""
    post = (np.array([0.01, 0.03]), np.array([0.25, 0.75]), np.array([0.1, 0.2]))
    spread = with_share_prior(post)
    assert len(spread) == 5 and spread[0].size == 2 * SHARE_NODES.size
    for i, sigma in enumerate(post[0]):
        cell = spread[0] == sigma
        assert spread[1][cell].sum() == pytest.approx(post[1][i])
        assert np.all(spread[2][cell] == post[2][i]) and np.all(spread[3][cell] == 0)
        assert sorted(spread[4][cell]) == list(SHARE_NODES)
    assert with_share_prior(spread) is spread

    def width(p, buckets):
        piece = JointPiece("a", 1.0, 0.5, np.empty(0), np.empty(0), p)
        draws = joint_bucket_draws([[piece]] * buckets, 1.0, 1.0, 1.0,
                                   np.random.default_rng(0), n_draws=100_000)
        return np.diff(np.quantile(draws.mean(1), [0.05, 0.95]))[0]

    one_node = (np.array([0.02]), np.array([1.0]))
    single = width(one_node, 1)
    scales = np.sqrt(SHARE_NODES + (1 - SHARE_NODES) / 2)
    q = optimize.brentq(lambda x: np.mean(stats.norm.cdf(x / scales)) - 0.95, 0.1, 10)
    assert width(with_share_prior(one_node), 2) / single == pytest.approx(
        q / stats.norm.ppf(0.95), rel=0.03)
    assert width(one_node, 2) / single == pytest.approx(1 / np.sqrt(2), rel=0.03)


def test_a_three_model_ladders_headline_leaves_the_common_share_at_its_prior(monkeypatch):
    """Three models leave no rolling backtest to read the common share from: the headline's
    pass@1 takes it at its prior, wider than where each bucket's law error is its own."""
    import capability.prediction.bucket_estimates as bucket_module

    sim = simulate_ladder(seed=3, ratios=(100, 30, 10))
    counts = sim.counts[sim.counts["model"] != sim.target]
    models = [(m, c, None) for m, c in sim.models]

    def headline_width():
        pred = predict(counts, models, target=sim.target, target_compute=sim.target_compute,
                       settings=PredictionSettings(n_resamples=30, k=(1,)))
        one = pred.to_dict()["overall"]["pass_at_k"]["1"]
        return one["upper"] - one["lower"]

    at_prior = headline_width()
    monkeypatch.setattr(bucket_module, "with_share_prior", lambda post: post)
    assert at_prior > 1.2 * headline_width()


def _angular_draws(centre: float, sd: float, size: int, seed: int) -> np.ndarray:
    t = np.arcsin(np.sqrt(centre)) + sd * np.random.default_rng(seed).standard_normal(size)
    return np.sin(t) ** 2


def test_one_buckets_joint_predictive_is_its_own_interval():
    """With one bucket the joint predictive is the bucket's: the same mixture over laws,
    law-error posterior, offsets and bend (its loading 1.3 at the target) as
    ``averaged_interval`` (to Monte Carlo error)."""
    post = (np.array([0.0, 0.05, 0.2]), np.array([0.3, 0.5, 0.2]), np.array([0.0, 0.1, 0.3]),
            np.array([0.02, 0.0, 0.05]))
    laws = [("a", 0.7, 0.62, _angular_draws(0.6, 0.03, 400, 0), 0.3),
            ("b", 0.3, 0.55, _angular_draws(0.55, 0.05, 400, 1), 0.2)]
    expected = averaged_interval([(w, e, d, post) for _, w, e, d, _ in laws],
                                 "mean_pass_rate", 0.8, 0.9, "",
                                 ([b for *_, b in laws], 1.7, 1.3))
    pieces = [JointPiece(law, w, e, d, np.empty(0), post, b) for law, w, e, d, b in laws]
    draws = joint_bucket_draws([pieces], 0.8, 1.7, 1.3, np.random.default_rng(2),
                               n_draws=200_000)
    low, high = np.quantile(draws[:, 0], [0.05, 0.95])
    width = expected.confidence_interval.high - expected.confidence_interval.low
    assert low == pytest.approx(expected.confidence_interval.low, abs=0.03 * width)
    assert high == pytest.approx(expected.confidence_interval.high, abs=0.03 * width)


def test_the_buckets_own_errors_partly_cancel_in_the_headline_and_shared_ones_do_not():
    """Two equal buckets near 0.5 (where the angular scale is nearly linear): law errors
    of their own give the headline ``1/sqrt(2)`` of a bucket's width (a share ``rho`` of
    them common to the buckets, ``sqrt(rho + (1 - rho) / 2)``); an offset, shared,
    gives it a bucket's whole width; a law's draws are shared draw by draw, and its shared
    shifts move both buckets alike. Buckets without a prediction are left out, and none
    at all gives None."""
    def width(post, beta=0.0, draws=None, shared=None, buckets=2):
        piece = JointPiece("a", 1.0, 0.5, np.empty(0) if draws is None else draws,
                           np.empty(0) if shared is None else shared, post, beta)
        draws = joint_bucket_draws([[piece]] * buckets + [None], 1.0, 1.0, 1.0,
                                   np.random.default_rng(0), n_draws=100_000)
        assert draws.shape == (100_000, buckets + 1) and np.all(np.isnan(draws[:, -1]))
        low, high = np.quantile(draws[:, :-1].mean(1), [0.05, 0.95])
        return high - low

    one_node = (np.array([0.02]), np.array([1.0]))
    offsets = (np.array([0.0]), np.array([1.0]), np.array([0.02]), np.array([0.0]))
    single = width(one_node, buckets=1)
    assert width(one_node) / single == pytest.approx(1 / np.sqrt(2), rel=0.03)
    assert width(offsets, beta=1.0) / single == pytest.approx(1.0, rel=0.03)
    # A law error whose share rho is common to the buckets: Var = sigma^2 (rho + (1-rho)/2).
    for rho in (0.5, 1.0):
        common = one_node + (np.zeros(1), np.zeros(1), np.array([rho]))
        assert width(common) / single == pytest.approx(np.sqrt(rho + (1 - rho) / 2),
                                                       rel=0.03)
    draws = _angular_draws(0.5, 0.02, 500, 3)
    no_error = (np.array([0.0]), np.array([1.0]))
    assert width(no_error, draws=draws) == pytest.approx(width(no_error, draws=draws,
                                                               buckets=1), rel=0.03)
    shifts = 0.01 * np.random.default_rng(4).standard_normal(500)
    flat = np.full(500, 0.5)
    assert width(no_error, draws=flat, shared=shifts) == pytest.approx(2 * 1.645 * 0.01,
                                                                       rel=0.05)
    assert joint_bucket_draws([None], 1.0, 1.0, 1.0, np.random.default_rng(0)) is None


def test_the_headline_reads_its_bounds_from_the_joint_draws():
    """pass@1: the quantiles of the draws' problem-weighted means over the buckets with a
    prediction; pass@k (k > 1): the buckets' bounds, each bucket's shape shifted to them
    and summed, as without the joint draws."""
    rng = np.random.default_rng(1)
    joint = np.column_stack([0.3 + 0.02 * rng.standard_normal(4000),
                             0.8 + 0.01 * rng.standard_normal(4000), np.full(4000, np.nan)])
    modes = [rng.beta(1, 2, 10), rng.beta(4, 1, 30), rng.random(5)]
    out = headline([10, 30, 5], [0.3, 0.8, np.nan], [0.25, 0.78, np.nan],
                   [0.35, 0.82, np.nan], per_problem=(modes, None), ks=(1, 10), total=60,
                   held_out=15, excluded=0, level=0.9, joint=joint)
    one = out["pass_at_k"]["1"]
    lo, hi = np.quantile(joint[:, :2] @ np.array([0.25, 0.75]), [0.05, 0.95])
    assert (one["lower"], one["upper"]) == pytest.approx((lo, hi))
    assert one["predicted"] == pytest.approx(0.25 * 0.3 + 0.75 * 0.8)
    ten = out["pass_at_k"]["10"]
    alone = headline([10, 30, 5], [0.3, 0.8, np.nan], [0.25, 0.78, np.nan],
                     [0.35, 0.82, np.nan], per_problem=(modes, None), ks=(10,), total=60,
                     held_out=15, excluded=0, level=0.9)["pass_at_k"]["10"]
    assert ten == alone
    assert out["problems_covered"] == 40


def test_pass_at_k_never_falls_below_a_smaller_k():
    """Every problem's pass@k rises with k. Buckets whose own intervals span [0, 1] (a
    ladder whose backtests err wildly) give pass@10 the bound 0 from their summed bounds,
    while pass@1's joint draws, whose bucket errors partly cancel, bound it well above 0:
    pass@10 is raised to pass@1's bounds there and says so, in the order the ks were
    asked for; where it lies above them nothing moves."""
    rng = np.random.default_rng(2)
    joint = np.column_stack([0.5 + 0.1 * rng.standard_normal(4000),
                             0.7 + 0.1 * rng.standard_normal(4000)]).clip(0, 1)
    modes = [rng.beta(2, 2, 20), rng.beta(3, 1, 20)]
    wide = headline([20, 20], [0.5, 0.7], [0.0, 0.0], [1.0, 1.0], per_problem=(modes, None),
                    ks=(10, 1), total=40, held_out=0, excluded=0, level=0.9, joint=joint)
    one, ten = wide["pass_at_k"]["1"], wide["pass_at_k"]["10"]
    assert list(wide["pass_at_k"]) == ["10", "1"] and list(wide["whole_benchmark"]) == ["10", "1"]
    assert one["lower"] > 0.4 and ten["lower"] == one["lower"]
    assert "raised to the smaller k's" in ten["method"]
    assert ten["predicted"] >= one["predicted"] and ten["upper"] >= one["upper"]
    narrow = headline([20, 20], [0.5, 0.7], [0.45, 0.65], [0.55, 0.75],
                      per_problem=(modes, None), ks=(1, 10), total=40, held_out=0,
                      excluded=0, level=0.9, joint=joint)["pass_at_k"]
    assert narrow["10"]["lower"] > narrow["1"]["upper"]
    assert "raised" not in narrow["10"]["method"]


def test_a_saturated_headline_stays_in_its_domain():
    """Buckets of 22, 22, 22, 21, 21 and 21 problems all at pass rate 1: their weights sum
    to 1 + 2e-16 in floats, and the weighted sum was 1.0000000000000002, above the domain
    (`capability run` wrote it for pass@100 on such a ladder). Every bound, the whole
    benchmark's too, lies in [0, 1]."""
    sizes = [22, 22, 22, 21, 21, 21]
    assert np.sum(np.divide(sizes, 129) * np.ones(6)) > 1.0   # the float sum this is about
    rng = np.random.default_rng(0)
    modes = [np.ones(s) for s in sizes]
    out = headline(sizes, np.ones(6), np.full(6, 0.99), np.ones(6),
                   per_problem=(modes, None), total=144, held_out=15, excluded=0, level=0.9,
                   joint=np.clip(1 - 0.001 * rng.random((400, 6)), 0, 1))
    for part in ("pass_at_k", "whole_benchmark"):
        for k, entry in out[part].items():
            values = [entry[key] for key in ("predicted", "lower", "upper") if key in entry]
            assert all(0.0 <= v <= 1.0 for v in values), (part, k, entry)
    assert out["pass_at_k"]["100"]["predicted"] == 1.0


def test_headline_lines_mark_only_the_ks_above_the_samples():
    """A pass@k whose k is above the ladder's samples per problem is marked * with a
    footnote; a prediction.json written before the mark existed prints as it did."""
    v = {"predicted": 0.9, "lower": 0.8, "upper": 0.95}
    pred = {"target": "t", "level": 0.9,
            "overall": {"statement": "10 of 10 problems", "problems_covered": 10,
                        "problems_total": 10, "samples_per_problem": 20,
                        "pass_at_k": {"1": {**v, "k_above_samples": False},
                                      "100": {**v, "k_above_samples": True}},
                        "whole_benchmark": {}}}
    lines = headline_lines(pred)
    assert lines[1] == "  pass@1 0.900 [0.800, 0.950]; pass@100* 0.900 [0.800, 0.950]"
    assert lines[2].startswith("  * k above the 20 samples per problem the ladder models")
    old = {**pred, "overall": {**pred["overall"], "pass_at_k": {"1": v, "100": v}}}
    assert headline_lines(old) == [lines[0], lines[1].replace("*", "")]
