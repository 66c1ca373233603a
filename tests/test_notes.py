"""The prediction's notes, function by function (capability.prediction.notes): each says
what it should where it should, and nothing where there is nothing to say. End to end,
tests/test_laws.py and tests/test_offsets.py check the notes a prediction carries."""

import numpy as np

from capability.estimation.buckets import BucketAssignment, TiedSplit
from capability.prediction import notes as prediction_notes
from capability.prediction.notes import (
    BEYOND_BACKTESTS,
    backtest_notes,
    count_notes,
    distance_notes,
    input_notes,
    offset_notes,
    shared_compute_notes,
    wide_interval_notes,
)
from capability.prediction.offsets import ModelOffsets
from capability.prediction.rolling import RollingStep


def _step(held, distance, below=("m1", "m2", "m3")):
    return RollingStep(held=held, compute=1.0, distance=distance, below=below, predicted={},
                       actual={}, error={}, var_pred={}, var_meas={})


def test_shared_compute_groups_every_run_of_equal_compute():
    names = ["a", "b", "c", "d", "e", "f"]
    compute = np.array([1e20, 1e21, 1e21, 1e21, 1e22, 1e22])
    notes = shared_compute_notes(names, compute)
    assert [n.split(" share")[0] for n in notes] == ["b, c, d", "e, f"]
    assert "(1e+21 FLOPs)" in notes[0] and "(1e+22 FLOPs)" in notes[1]
    assert shared_compute_notes(names[:3], np.array([1e20, 1.01e20, 2e20])) == []


def test_input_notes_name_other_models_the_target_and_worse_problems():
    others = [f"x{i}" for i in range(7)] + ["big"]
    worse = [{"task_id": f"HumanEval/{i}"} for i in range(6)]
    notes = input_notes(sorted(others), "big", ["m1", "m2"], np.array([1.0, 2.0]), worse)
    assert len(notes) == 2
    assert notes[0].startswith("counts hold rows of 8 model(s)") and " ..." in notes[0]
    assert "the target 'big' among them" in notes[0]
    assert notes[1].startswith("6 problem(s) get worse") and "HumanEval/4 ..." in notes[1]
    assert input_notes([], "big", ["m1", "m2"], np.array([1.0, 2.0]), []) == []


def test_backtest_notes_without_rolling_backtests():
    common = dict(n_models=3, n_distinct=3, min_below=3, short_excluded=(), offsets_used=True)
    [note] = backtest_notes([], [_step("m3", 0.5, ("m1", "m2"))], forced=None,
                            averaged={"power", "logistic"}, chosen=set(),
                            widening={"power": 1.0, "logistic": 1.0}, **common)
    assert note.startswith("no rolling backtest: a ladder needs at least 4 models for one "
                           "(this one has 3); the laws were averaged by the evidence of a "
                           "short backtest")
    notes = backtest_notes([], [], forced="power", averaged=set(), chosen={"power"},
                           widening={"power": 2.0, "linear": 3.0}, **common)
    assert "the law was chosen by --law" in notes[0]
    # Only the law in use is named as widened, by its factor.
    assert notes[1].startswith("the short backtest's power erred 0.4 per decade")
    assert "linear" not in notes[1] and "power 2.00x" in notes[1]
    # Four models, two at one compute: no rolling backtest, and the note says why.
    [note] = backtest_notes([], [], forced="power", averaged=set(), chosen={"power"},
                            widening={"power": 1.0}, **{**common, "n_models": 4})
    assert note.startswith("no rolling backtest: a ladder needs at least 4 models of "
                           "distinct compute for one (this one has 4, 3 of distinct compute)")


def test_backtest_notes_with_one_held_model_or_more():
    kw = dict(n_models=4, n_distinct=4, min_below=3, forced=None, short_excluded=(),
              averaged={"power"}, chosen=set(), widening={"power": 1.0})
    [note] = backtest_notes([_step("m4", 0.3)], [], offsets_used=False, **kw)
    assert note.startswith("the rolling backtests predict one model only (m4)")
    assert note.endswith("its offset is read as law error in every bucket")
    [note] = backtest_notes([_step("m4", 0.3)], [], offsets_used=True, **kw)
    assert note.endswith("so 'no_change' is not averaged in")
    two = [_step("m4", 0.3), _step("m5", 0.6), _step("m5", 0.3, ("m1", "m2", "m3", "m4"))]
    assert backtest_notes(two, [], offsets_used=True, **kw) == []


def test_distance_notes():
    steps = [_step("m4", 0.5), _step("m5", 1.0)]
    assert distance_notes(steps, distance=BEYOND_BACKTESTS * 1.0, reach=1.25,
                          target_compute=1e24, largest=1e23) == []
    [far] = distance_notes(steps, distance=2.0, reach=2.0, target_compute=1e24, largest=1e22)
    assert far.startswith("the target lies 2.00 decades beyond the largest ladder model, "
                          "2.0x the longest rolling backtest (1.00 decades)")
    [back] = distance_notes(steps, distance=-2.0, reach=0.5, target_compute=1e19, largest=1e21)
    assert "a backcast below every ladder model, 0.50 decades below the smallest" in back
    [inside] = distance_notes([], distance=-0.5, reach=0.0, target_compute=3e20, largest=1e21)
    assert "an interpolation within the ladder" in inside
    assert distance_notes([], distance=1.0, reach=1.0, target_compute=1e22, largest=1e21) == []


def test_wide_interval_notes_name_the_buckets_whose_interval_holds_nearly_all_of_0_1():
    intervals = [(1, 0.80, 0.95), (2, 0.05, 0.96), (3, 0.0, 1.0), (4, 0.3, 0.6),
                 (5, 0.02, 0.93), (6, np.nan, np.nan)]
    [note] = wide_interval_notes(intervals, level=0.9, rolling=True)
    assert note.startswith("buckets 2-3, 5: the 90% interval of the mean pass rate spans 90% "
                           "or more of [0, 1] (bucket 3: 0.000 to 1.000): the errors the "
                           "rolling backtests read"), note
    assert "forced" not in note
    [one] = wide_interval_notes([(4, 0.05, 0.95)], level=0.8, rolling=False, forced="power")
    assert one.startswith("bucket 4: the 80% interval")
    assert "the fallback rule's law error" in one
    assert one.endswith("the law is forced (--law power): --law auto weighs the candidate "
                        "laws by the ladder's backtests")
    [erred] = wide_interval_notes([(4, 0.05, 0.95)], level=0.9, rolling=True, forced="power",
                                  forced_error=18.93)
    assert "(--law power, whose rolling backtests erred 18.9 points on average)" in erred
    [fine] = wide_interval_notes([(1, 0.0, 0.95)], level=0.999, rolling=True)
    assert fine.startswith("bucket 1: the 99.9% interval")   # not "100%"
    assert wide_interval_notes([(1, 0.05, 0.94), (2, np.nan, np.nan)], level=0.9,
                               rolling=True) == []


def test_offset_notes_name_the_offsets_and_the_reversed_pairs():
    offsets = ModelOffsets(offsets=np.array([0.1, -0.3, 0.2]), noise=0.01, link="logit",
                           grid=None, weights=None, none_probability=0.004)
    effective = np.array([1e21, 1e21, 1e22]) * 10.0 ** offsets.offsets
    notes = offset_notes(["s", "m", "l"], offsets, effective)
    assert "probability of none 0.004" in notes[0] and "s +0.10, m -0.30, l +0.20" in notes[0]
    assert notes[1].startswith("on effective compute s lies above m:")
    assert len(offset_notes(["s", "m", "l"], offsets, np.array([1.0, 2.0, 3.0]))) == 1


def test_count_notes():
    n = np.full((3, 4), 10)
    c = np.array([[10, 0, 5, 3], [10, 2, 6, 4], [10, 4, 7, 5]])
    notes = count_notes(n, c, scatter=0.25, excluded=0, zero_policy="keep")
    assert notes[0].startswith("the counts scatter") and "sd 0.50 on the logit scale" in notes[0]
    assert notes[1] == "1 problem(s) saturated: every sample of every ladder model passed"
    assert notes[2].startswith("1 problem(s) some ladder model never solved are kept")
    notes = count_notes(n, c, scatter=0.01, excluded=1, zero_policy="exclude")
    assert notes[-1].startswith("1 problem(s) excluded") and len(notes) == 2
    assert count_notes(n, np.full((3, 4), 5), scatter=0.0, excluded=0, zero_policy="keep") == []
    c[:, 1] = 0                                         # problem 2: no model solved it once
    notes = count_notes(n, c, scatter=0.0, excluded=0, zero_policy="keep")
    assert notes[1].startswith("1 problem(s) no ladder model solved in any sample: what is "
                               "predicted for them rests on the prior")
    assert notes[2].startswith("1 problem(s) some ladder model never solved are kept")
    notes = count_notes(n, np.zeros((3, 4), int), scatter=0.0, excluded=0, zero_policy="keep")
    assert notes[0].startswith("4 problem(s) no ladder model solved in any sample (every "
                               "problem)")


def test_pass_at_k_notes_name_the_ks_beyond_the_ladders_samples():
    n = np.full((4, 10), 20)
    n[3, :6] = 30   # the model with the most samples: median 30
    notes = prediction_notes.pass_at_k_notes((1, 10, 100, 1000), n)
    assert len(notes) == 1
    assert notes[0].startswith("pass@100, pass@1000 asked for where the ladder models have "
                               "at most 30 samples per problem")
    assert prediction_notes.pass_at_k_notes((1, 10, 30), n) == []
    assert prediction_notes.pass_at_k_notes((1, 10, 100), np.full((3, 5), 200)) == []
    assert prediction_notes.pass_at_k_notes((1,), np.empty((0, 0))) == []


def test_tie_notes_say_which_problems_straddle_which_edges():
    ties = (TiedSplit(problems=18, buckets=(1, 2), held_out=0, score=0.4),
            TiedSplit(problems=9, buckets=(2, 3, 4), held_out=0, score=0.125),
            TiedSplit(problems=89, buckets=(4, 5, 6), held_out=15, score=0.0),
            TiedSplit(problems=20, buckets=(6,), held_out=15, score=0.0))
    assignment = BucketAssignment(buckets=(), held_out=(), excluded=(), difficulty={},
                                  ties=ties)
    notes = prediction_notes.tie_notes(assignment, "mean-pass-rate")
    assert notes == [
        "problems of one difficulty (mean pass rate over the ladder models) straddle bucket "
        "edges, and the counts cannot order them, so where each lands follows its task id "
        "(in natural order), not the counts: 18 at 0.4 straddle buckets 1 and 2; 9 at 0.125 "
        "straddle buckets 2 to 4; 89 at 0 (every sample failed) straddle buckets 4 to 6 and "
        "the hold-out (15 held out); 20 at 0 (every sample failed) straddle bucket 6 and "
        "the hold-out (15 held out) (--split equal-width keeps each in one bucket)"]
    largest = prediction_notes.tie_notes(assignment, "largest-model")[0]
    assert largest.startswith("problems of one difficulty (the largest ladder model's pass "
                              "rate, then the mean over the models)")
    assert "every sample" not in largest   # a largest model's 0 is not every sample failed
    # Only the hold-out splits a set: equal-width buckets would not mend that.
    held_only = BucketAssignment(buckets=(), held_out=(), excluded=(), difficulty={},
                                 ties=ties[3:])
    assert "equal-width" not in prediction_notes.tie_notes(held_only, "mean-pass-rate")[0]
    plain = BucketAssignment(buckets=(), held_out=(), excluded=(), difficulty={})
    assert prediction_notes.tie_notes(plain, "mean-pass-rate") == []


def test_the_ks_above_the_samples_are_the_ones_the_note_names():
    n = np.full((4, 10), 20)
    n[3, :6] = 30
    assert prediction_notes.samples_per_problem(n) == 30
    assert prediction_notes.ks_above_samples(("1", "10", "100", "1000"), n) == [100, 1000]
    assert prediction_notes.ks_above_samples((1, 2), np.ones((3, 4))) == [2]   # greedy
    assert prediction_notes.ks_above_samples((1, 10), np.empty((0, 0))) == []
    assert prediction_notes.samples_per_problem(np.empty((0, 0))) == 0
    # Given the passes: the harder half's samples, the same at a fixed n ...
    c = np.tile(np.arange(10), (4, 1))
    assert prediction_notes.samples_per_problem(np.full((4, 10), 20), c) == 20
    # ... and an adaptive budget's on the problems it sampled on (rounds of 20 to 200).
    adaptive = np.where(c >= 4, 20, 200)
    assert np.median(adaptive, axis=1).max() == 20
    assert prediction_notes.samples_per_problem(adaptive, c) == 200
    assert prediction_notes.ks_above_samples((1, 100, 1000), adaptive, c) == [1000]
    assert prediction_notes.ks_above_samples((1, 100, 1000), adaptive) == [100, 1000]


def test_a_ladder_of_one_sample_per_problem_is_named():
    notes = prediction_notes.single_sample_notes(np.ones((4, 10)))
    assert len(notes) == 1
    assert notes[0].startswith("the ladder models have one sample per problem")
    assert "0.76 of emergent families" in notes[0]
    n = np.ones((4, 10))
    n[3] = 5   # one model with five samples per problem reads more than one
    assert prediction_notes.single_sample_notes(n) == []
    assert prediction_notes.single_sample_notes(np.full((4, 10), 200)) == []
    assert prediction_notes.single_sample_notes(np.empty((0, 0))) == []
