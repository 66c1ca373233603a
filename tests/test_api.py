"""The library as a notebook calls it: top-level entry points, results as DataFrames, and
DataFrames with the wrong shape rejected with InputError naming what was expected."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import capability
from capability.records.score import score_prediction

README = Path(__file__).resolve().parents[1] / "README.md"


def _ladder():
    sim = capability.simulate_ladder(seed=2)
    counts = sim.counts[sim.counts["model"] != sim.target]
    return sim, counts, [(m, c, None) for m, c in sim.models]


def test_top_level_exports_and_frames():
    assert {"predict", "pass_at_k", "load_ladder", "execute_samples", "InputError",
            "PredictionSettings"} <= set(dir(capability))
    assert capability.pass_at_k(np.array([10]), np.array([3]), 1)[0] == pytest.approx(0.3)
    sim, counts, models = _ladder()
    pred = capability.predict(counts, models, target=sim.target,
                              target_compute=sim.target_compute,
                              settings=capability.PredictionSettings(n_resamples=50))
    frame = pred.to_frame()
    assert list(frame.columns[:6]) == ["bucket", "problems", "law", "predicted", "lower",
                                       "upper"]
    assert len(frame) == 6 and (frame["lower"] <= frame["predicted"]).all()
    assert (frame["predicted"] <= frame["upper"]).all()
    target = sim.counts[sim.counts["model"] == sim.target]
    scored = capability.score_frame(score_prediction(pred.to_dict(), target))
    assert {"measured", "measured_lower", "agrees", "inside"} <= set(scored.columns)
    assert len(scored) == 6


@pytest.mark.parametrize("change, match", [
    (lambda c: c.rename(columns={"c": "passed"}), "missing c"),
    (lambda c: c.assign(n=c["n"] + 0.5), r"whole numbers in column 'n', found 200\.5 for "
     r"model 'm1', task 'HumanEval/0'"),
    (lambda c: c.assign(c=c["c"].where(c["task_id"] != "HumanEval/7")),
     r"whole numbers in column 'c', found nan for model 'm1', task 'HumanEval/7'"),
    (lambda c: c.assign(c=c["c"] > 0), "whole numbers in column 'c', found dtype bool"),
    (lambda c: c.assign(c=c["n"] + 1), "0 <= c <= n"),
    (lambda c: c[~((c["model"] == "m2") & (c["task_id"] == "HumanEval/3"))],
     r"cover different tasks \('m2' lacks 1 task\(s\) that 'm1' has \(HumanEval/3\)\)"),
    (lambda c: c[~((c["model"] == "m1") & c["task_id"].isin(
        [f"HumanEval/{i}" for i in range(3, 8)]))],
     r"'m2' has 5 task\(s\) that 'm1' lacks \(HumanEval/3, HumanEval/4, HumanEval/5, "
     r"\.\.\.\)"),
    (lambda c: pd.concat([c, c.iloc[:1]]), "twice"),
])
def test_bad_frames_raise_input_error_naming_what_was_expected(change, match):
    sim, counts, models = _ladder()
    with pytest.raises(capability.InputError, match=match):
        capability.predict(change(counts), models, target="t", target_compute=1e24)


def test_whole_numbers_stored_as_floats_are_read_as_counts():
    """A counts column that went through a float (a merge that left gaps, a CSV read by
    pandas) predicts what its integers do."""
    sim, counts, models = _ladder()
    settings = capability.PredictionSettings(n_resamples=20, law="power")
    kw = dict(target=sim.target, target_compute=sim.target_compute, settings=settings)
    as_int = capability.predict(counts, models, **kw).to_frame()
    as_float = capability.predict(counts.astype({"n": float, "c": "float32"}), models,
                                  **kw).to_frame()
    pd.testing.assert_frame_equal(as_int, as_float)


def test_bad_models_raise_input_error():
    sim, counts, models = _ladder()
    with pytest.raises(capability.InputError, match="at least 3"):
        capability.predict(counts, models[:2], target="t", target_compute=1e24)
    with pytest.raises(capability.InputError, match="no rows in counts"):
        capability.predict(counts, [*models, ("ghost", 1e23, None)], target="t",
                           target_compute=1e24)
    with pytest.raises(capability.InputError, match="'m2' is listed more than once"):
        capability.predict(counts, [*models, ("m2", 1e23, None)], target="t",
                           target_compute=1e24)
    with pytest.raises(capability.InputError, match="compute > 0"):
        capability.predict(counts, [(m, -1.0, None) for m, _, _ in models], target="t",
                           target_compute=1e24)
    # Each of these failed deep inside (IndexError, numpy's ValueError or TypeError) or,
    # for the negative loss, fitted a loss law to it.
    with pytest.raises(capability.InputError, match=r"models: expected models as \(name, "):
        capability.predict(counts, [(m, c) for m, c, _ in models], target="t",
                           target_compute=1e24)
    for loss in (-1.0, float("nan"), "2.1", True):
        with pytest.raises(capability.InputError, match="loss None or a finite number > 0"):
            capability.predict(counts, [(m, c, loss) for m, c, _ in models], target="t",
                               target_compute=1e24)
    for compute in ("1e24", True, float("inf")):
        with pytest.raises(capability.InputError, match="target_compute: expected the "
                           "target's compute > 0"):
            capability.predict(counts, models, target="t", target_compute=compute)
    with pytest.raises(capability.InputError, match="--seed: expected a whole number >= 0"):
        capability.predict(counts, models, target="t", target_compute=1e24,
                           settings=capability.PredictionSettings(seed=-1))
    with pytest.raises(capability.InputError, match="--resamples: expected a whole number"):
        capability.predict(counts, models, target="t", target_compute=1e24,
                           settings=capability.PredictionSettings(n_resamples=2.5))


def test_readme_python_example_runs(tmp_path, monkeypatch):
    """The README's Python section runs as it is."""
    text = README.read_text()
    section = text.split("### Python", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.S)
    assert code, "no python block in the README's Python section"
    monkeypatch.chdir(tmp_path)
    exec(compile(code[0], "README.md", "exec"), {})


def test_a_target_not_above_the_ladder_is_named_as_interpolation_or_backcast():
    """A target whose compute is not above the largest ladder model's (a mistyped exponent,
    or a deliberate interpolation or backcast) is named as what it is. An interpolation gets
    intervals without law error; a backcast below every ladder model is an extrapolation too,
    and its law error grows with its decades below the smallest model, as a forecast's does
    beyond the largest. An extrapolation carries no such note."""
    sim, counts, models = _ladder()
    computes = sorted(c for _, c, _ in models)
    settings = capability.PredictionSettings(n_resamples=30)
    for target_compute, kind, reach in (
            (computes[2] * 1.5, "an interpolation within the ladder", 0.0),
            (computes[0] / 3, "a backcast below every ladder model, 0.48 decades below",
             np.log10(3)),
            (computes[0] * 1.001, "an interpolation within the ladder", 0.0),
            (sim.target_compute, None, np.log10(sim.target_compute / computes[-1]))):
        pred = capability.predict(counts, models, target="t", target_compute=target_compute,
                                  settings=settings)
        said = [w for w in pred.warnings if "is not above the largest ladder model" in w]
        if kind is None:
            assert not said
        else:
            assert len(said) == 1 and kind in said[0], pred.warnings
            assert f"({target_compute:.3g} FLOPs)" in said[0]
        assert np.isclose(pred.selection["reach_decades"], reach)
        assert np.isclose(pred.selection["distance_decades"],
                          np.log10(target_compute / computes[-1]))
        # every interval's law error is scaled to that reach, and says so
        assert all(f"x {reach:.2f} decades to the target" in b.mean_pass_rate.method
                   for b in pred.buckets)


def test_a_target_beyond_the_backtests_reach_is_named():
    """The suite's shape puts the target as far beyond the largest ladder model as the
    longest rolling backtest reaches (a decade): no note. Ten times further, the interval's
    law error is extrapolated past what the backtests measured, and the prediction says
    so, with both distances."""
    sim, counts, models = _ladder()
    settings = capability.PredictionSettings(n_resamples=30)
    for target_compute, said_at in ((sim.target_compute, None),
                                    (sim.target_compute * 10, "2.00 decades")):
        pred = capability.predict(counts, models, target="t", target_compute=target_compute,
                                  settings=settings)
        said = [w for w in pred.warnings if "the longest rolling backtest" in w]
        if said_at is None:
            assert not said, said
        else:
            assert len(said) == 1 and said[0].startswith(
                f"the target lies {said_at} beyond the largest ladder model, 2.0x the longest "
                "rolling backtest (1.00 decades)"), said


def test_a_bucket_whose_interval_holds_nearly_every_pass_rate_is_named():
    """The report's law forced on a ladder shaped like a real family (emergence, models off
    their trend, problem-by-model effects), with the unsolved problems excluded as the
    report does: its rolling backtests err some 19 points, and every bucket's 90% interval
    spans [0, 1]. The prediction says so, names the forced law and its backtests' error,
    and points to --law auto. A clean ladder's narrow intervals carry no such note."""
    sim = capability.simulate_ladder(seed=3, kind="family")
    counts = sim.counts[sim.counts["model"] != sim.target]
    models = [(m, c, None) for m, c in sim.models]
    pred = capability.predict(counts, models, target=sim.target,
                              target_compute=sim.target_compute,
                              settings=capability.PredictionSettings(
                                  n_resamples=50, law="power", zero_policy="exclude"))
    wide = [b.bucket for b in pred.buckets
            if b.mean_pass_rate.confidence_interval.high
            - b.mean_pass_rate.confidence_interval.low >= 0.9]
    assert wide, [b.mean_pass_rate for b in pred.buckets]
    said = [w for w in pred.warnings if "spans 90% or more of [0, 1]" in w]
    assert len(said) == 1, pred.warnings
    assert said[0].startswith("bucket " if len(wide) == 1 else "buckets "), said
    erred = pred.selection["scores"]["power"]["mean_abs_error_pp"]
    assert erred > 10
    assert f"(--law power, whose rolling backtests erred {erred:.1f} points on average)" \
        in said[0]
    clean, counts, models = _ladder()
    plain = capability.predict(counts, models, target=clean.target,
                               target_compute=clean.target_compute,
                               settings=capability.PredictionSettings(n_resamples=50))
    assert not [w for w in plain.warnings if "spans 90% or more" in w]


def test_the_target_is_never_read_from_the_counts():
    """A target named like a ladder model is refused; counts that also hold other models'
    rows (the target's, say) are predicted from the ladder models' rows alone, the same
    prediction as without them, and the prediction says which rows it left out."""
    sim, counts, models = _ladder()
    settings = capability.PredictionSettings(n_resamples=30)
    with pytest.raises(capability.InputError, match="'m5' is also a ladder model"):
        capability.predict(counts, models, target="m5", target_compute=1e24,
                           settings=settings)
    alone = capability.predict(counts, models, target=sim.target,
                               target_compute=sim.target_compute, settings=settings)
    full = capability.predict(sim.counts, models, target=sim.target,
                              target_compute=sim.target_compute, settings=settings)
    assert full.to_frame().equals(alone.to_frame())
    said = [w for w in full.warnings if w.startswith("counts hold rows of 1 model(s)")]
    assert len(said) == 1 and f"the target {sim.target!r} among them" in said[0]
    assert not [w for w in alone.warnings if w.startswith("counts hold rows")]
