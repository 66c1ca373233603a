"""A registry's track record: every prediction with its latest score, the headline
intervals' coverage over the scored predictions, and the errors beside the baselines'."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from capability.cli import main
from capability.records.coverage import MIN_CLUSTERS, clustered_coverage, effective_trials
from capability.records.track_record import COLUMNS, track_record


def _prediction(level=0.9, head=(0.5, 0.4, 0.6), baselines=(0.3, 0.35), target="big"):
    """A prediction record's content: one bucket, headline pass@1 and pass@10, and the
    naive baselines' bucket mean pass rates (None: recorded none)."""
    bucket = {"bucket": 1}
    if baselines is not None:
        bucket["baselines"] = {name: {"mean_pass_rate": v, "neg_log_pass_rate": 1.0}
                               for name, v in zip(("no_change", "linear_log_compute"),
                                                  baselines)}
    point = dict(zip(("predicted", "lower", "upper"), head))
    return {"kind": "prediction", "prediction": {
        "ladder": "l", "target": target, "target_compute": 1e24, "level": level,
        "overall": {"pass_at_k": {"10": {"predicted": 0.9, "lower": 0.8, "upper": 0.95},
                                  "1": point}},
        "buckets": [bucket]}}


def _score(pid, actual, predicted=0.5, inside=True):
    """A score record's content for ``pid``: the bucket's and the headline's measurement."""
    err = predicted - actual
    return {"kind": "score", "prediction_id": pid, "target_input": {"path": "big.csv"},
            "score": {"buckets": [{"bucket": 1, "mean_pass_rate": {
                "actual": actual, "abs_error": err, "rel_error": err / actual,
                "inside": inside, "agrees": True},
                "neg_log_pass_rate": {"actual": 0.7, "abs_error": 0.1, "rel_error": 0.1}}],
                "overall": {"pass_at_k": {"1": {"actual": actual, "inside": inside,
                                                "agrees": inside},
                                          "10": {"actual": 0.9, "inside": True,
                                                 "agrees": True}}}}}


def test_coverage_over_the_predictions_and_errors_beside_the_baselines():
    """Ten scored predictions, seven of whose headline intervals held: coverage 0.7 with
    the Clopper-Pearson interval at the level; the latest of two scores is the one counted;
    the baselines' errors and the predictions where the method came closer are counted."""
    records = []
    for i in range(10):
        pid = f"{i:064x}"
        records.append((pid, f"2026-01-{i + 1:02d}T00:00:00+00:00", _prediction()))
        held = i < 7
        actual = 0.55 if held else 0.8
        records.append((f"s{i}", f"2026-02-{i + 1:02d}T00:00:00+00:00",
                        _score(pid, actual, inside=held)))
    # An earlier score of prediction 0 that missed: the later one is counted.
    records.append(("early", "2026-01-15T00:00:00+00:00", _score(f"{0:064x}", 0.9,
                                                                   inside=False)))
    # A prediction at another level, unscored; and a score whose prediction is not here.
    records.append(("u" * 64, "2026-03-01T00:00:00+00:00", _prediction(level=0.8)))
    records.append(("orphan", "2026-03-02T00:00:00+00:00", _score("f" * 64, 0.5)))
    record = track_record(records)
    assert [e.prediction_id[0] for e in record.entries][-1] == "u"       # oldest first
    first = record.entries[0]
    assert first.scores == 2 and first.score_id == "s0" and first.headline_inside
    assert first.headline_k == 1 and first.headline["predicted"] == 0.5
    assert record.orphan_scores == ("orphan",)
    at80, at90 = record.summaries
    assert (at80.level, at80.predictions, at80.scored) == (0.8, 1, 0)
    assert (at90.scored, at90.headline_scored, at90.headline_inside) == (10, 10, 7)
    ci = stats.binomtest(7, 10).proportion_ci(confidence_level=0.9)
    cov = at90.coverage
    assert cov.estimate == 0.7 and cov.confidence_level == 0.9
    assert (cov.confidence_interval.low, cov.confidence_interval.high) == \
        pytest.approx((ci.low, ci.high))
    assert "Clopper-Pearson" in cov.method
    # Errors: the method's |0.5 - actual|; no change 0.3 and the line 0.35 against it.
    actuals = [0.55] * 7 + [0.8] * 3
    assert at90.mean_abs_error == pytest.approx(sum(abs(0.5 - a) for a in actuals) / 10)
    assert at90.baseline_errors["no_change"] == pytest.approx(
        sum(abs(0.3 - a) for a in actuals) / 10)
    assert at90.baseline_wins == {"no_change": (10, 10), "linear_log_compute": (10, 10)}
    assert (at90.buckets, at90.buckets_inside, at90.buckets_agreeing) == (10, 7, 10)
    # One bucket each: the buckets' coverage is the headline's, counted by prediction (the
    # cluster-robust variance's J / (J - 1) makes ten one-bucket predictions 9 trials).
    buckets = at90.bucket_coverage
    assert buckets.estimate == 0.7 and at90.bucket_effective_trials == pytest.approx(9.0)
    assert buckets.confidence_interval.low < ci.low and buckets.confidence_interval.high > ci.high
    # A prediction that recorded no baselines is left out of their comparison only.
    old = track_record([("a" * 64, "t", _prediction(baselines=None)),
                        ("s", "t", _score("a" * 64, 0.45))])
    (summary,) = old.summaries
    assert summary.mean_abs_error == pytest.approx(0.05)
    assert summary.baseline_wins == {"no_change": (0, 0), "linear_log_compute": (0, 0)}
    assert old.entries[0].baseline_errors == {}


@pytest.fixture
def registry(tmp_path, capsys):
    """A registry with two predictions of one simulated ladder: one scored, one not."""
    sim = tmp_path / "sim"
    assert main(["simulate", "--out", str(sim), "--seed", "3", "--inverse", "0"]) == 0
    for name, extra in (("a", []), ("b", ["--level", "0.8"])):
        assert main(["run", str(sim / "ladder.toml"), "--out", str(tmp_path / "runs" / name),
                     "--resamples", "200", "--register", *extra]) == 0
    assert main(["score", str(tmp_path / "runs" / "a"), "--target",
                 str(sim / "counts" / "target.csv")]) == 0
    capsys.readouterr()
    return tmp_path / "runs"


def test_track_record_command_lists_predictions_and_reads_as_csv_and_json(registry, capsys):
    runs = registry
    assert main(["track-record", str(runs / "registry")]) == 0
    out = capsys.readouterr().out
    score = json.loads((runs / "a" / "score.json").read_text())
    pid_a = json.loads((runs / "a" / "registration.json").read_text())["id"]
    pid_b = json.loads((runs / "b" / "registration.json").read_text())["id"]
    assert "2 prediction(s), 1 scored" in out
    row_a = next(line for line in out.splitlines() if line.startswith(pid_a[:12]))
    row_b = next(line for line in out.splitlines() if line.startswith(pid_b[:12]))
    assert "not scored" in row_b and "(80%)" in row_b
    head = score["overall"]["pass_at_k"]["1"]
    assert f"{head['actual']:.3f}" in row_a
    assert f"{100 * score['overall']['mean_pass_rate']['mean_abs_error']:.1f}" in row_a
    assert "at level 0.8: none of 1 prediction(s) scored yet" in out
    assert f"at level 0.9: {int(head['inside'])} of 1 headline intervals held" in out
    # A registered run directory names its registry; csv has one row per prediction.
    assert main(["track-record", str(runs / "a"), "--format", "csv"]) == 0
    from io import StringIO
    table = pd.read_csv(StringIO(capsys.readouterr().out))
    assert list(table.columns) == list(COLUMNS) and len(table) == 2
    a = table.set_index("prediction_id").loc[pid_a]
    assert a["measured"] == pytest.approx(head["actual"])
    assert a["mean_abs_error"] == pytest.approx(
        score["overall"]["mean_pass_rate"]["mean_abs_error"])
    for name in ("no_change", "linear_log_compute"):
        assert a[f"{name}_mean_abs_error"] == pytest.approx(
            score["baselines"][name]["overall"]["mean_pass_rate"]["mean_abs_error"])
    assert main(["track-record", str(runs / "registry"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["level"] for s in doc["summaries"]] == [0.8, 0.9]
    assert doc["summaries"][1]["coverage"]["level"] == 0.9
    buckets = doc["summaries"][1]["bucket_coverage"]
    inside = [b["mean_pass_rate"]["inside"] for b in score["buckets"]
              if b["mean_pass_rate"].get("inside") is not None]
    assert buckets["predicted"] == pytest.approx(sum(inside) / len(inside))
    assert "fewer than 10 predictions, each one trial" in buckets["method"]


def test_a_record_modified_after_registration_is_named_and_left_out(registry, capsys):
    reg = registry / "registry"
    pid = json.loads((registry / "a" / "registration.json").read_text())["id"]
    path = reg / f"{pid}.json"
    os.chmod(path, 0o644)
    doc = json.loads(path.read_text())
    doc["record"]["prediction"]["buckets"][0]["mean_pass_rate"]["upper"] = 1.0
    path.write_text(json.dumps(doc))
    assert main(["track-record", str(reg)]) == 2
    out, err = capsys.readouterr()
    assert "1 prediction(s), 0 scored" in out      # the other prediction is listed
    assert f"{pid[:12]} was modified after it was registered" in err
    assert "1 score record(s) name a prediction that is not in this registry" in out
    assert main(["track-record", str(registry / "nowhere")]) == 2
    assert "no registry at" in capsys.readouterr().err
    (registry / "a" / "registration.json").write_text("{")      # a run dir's, broken
    assert main(["track-record", str(registry / "a")]) == 2
    err = capsys.readouterr().err
    assert "registration.json: expected a registration written by" in err


def test_clustered_coverage_counts_buckets_that_miss_together_as_one_trial():
    """Ladders whose buckets all hold or all miss together carry one trial per ladder (J -
    1 with the cluster-robust variance's small-sample factor), buckets that each ladder
    holds alike carry every bucket, and fewer than MIN_CLUSTERS ladders count one each."""
    together = [6] * 14 + [0] * 6                    # 20 ladders of 6, 14 held all
    assert effective_trials(together, [6] * 20) == pytest.approx(19.0)
    assert effective_trials([4] * 20, [6] * 20) == 120.0      # no spread between ladders
    assert effective_trials([6] * 20, [6] * 20) == 20.0       # all held: one per ladder
    assert effective_trials([5, 6, 4], [6, 6, 6]) == 3.0 and MIN_CLUSTERS > 3
    cov = clustered_coverage(together, [6] * 20)
    naive = stats.binomtest(84, 120).proportion_ci(0.9)
    assert cov.estimate == 0.7 and cov.confidence_level == 0.9
    width = cov.confidence_interval.high - cov.confidence_interval.low
    assert width > 2 * (naive.high - naive.low)
    assert "Clopper-Pearson interval at 19.0 effective trials" in cov.method
    # Clusters without an interval are left out; no cluster at all gives NaN.
    assert clustered_coverage([3, 0], [6, 0]).estimate == 0.5
    assert effective_trials([5, 6, 4, 0], [6, 6, 6, 0]) == 3.0   # the same rule in both
    assert effective_trials(together + [0] * 5, [6] * 20 + [0] * 5) == pytest.approx(19.0)
    assert np.isnan(clustered_coverage([], []).estimate)
    with pytest.raises(ValueError, match="0 <= held <= total"):
        clustered_coverage([7], [6])


def test_clustered_coverage_interval_holds_where_buckets_miss_together():
    """On 400 simulated track records of 20 predictions of six buckets each, whose buckets
    miss together (a prediction-wide error decides most of them) at a true coverage of
    0.848, the clustered 90% interval holds it in about 90% of records; counting the 120
    buckets as independent trials holds it far less often. With independent buckets the
    clustered interval is as narrow as the binomial one, to within a fifth."""
    rng = np.random.default_rng(7)
    held_clustered = held_naive = 0
    ratios = []
    p_true = 0.85 * 0.98 + 0.15 * 0.1     # the shared error held: 0.98 a bucket; else 0.1
    for _ in range(400):
        common = rng.random(20) < 0.85
        hits = rng.random((20, 6)) < np.where(common, 0.98, 0.1)[:, None]
        cov = clustered_coverage(hits.sum(1), [6] * 20)
        held_clustered += cov.confidence_interval.contains(p_true)
        naive = stats.binomtest(int(hits.sum()), 120).proportion_ci(0.9)
        held_naive += naive.low <= p_true <= naive.high
        free = rng.random((20, 6)) < 0.85
        wide = clustered_coverage(free.sum(1), [6] * 20).confidence_interval
        alone = stats.binomtest(int(free.sum()), 120).proportion_ci(0.9)
        ratios.append((wide.high - wide.low) / (alone.high - alone.low))
    assert held_clustered / 400 >= 0.85
    assert held_naive / 400 < 0.8
    assert 0.8 < np.median(ratios) < 1.2
