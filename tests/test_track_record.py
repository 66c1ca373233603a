"""A registry's track record: every prediction with its latest score, the headline
intervals' coverage over the scored predictions, and the errors beside the baselines'."""

import json
import os

import pandas as pd
import pytest
from scipy import stats

from capability.cli import main
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
