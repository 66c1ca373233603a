"""Register, score, backtest and report (issue 5)."""

import json
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from capability.cli import main
from capability.prediction.offsets import bend_loading
from capability.records.registry import RegistryError, read_record
from capability.reports.table import format_prediction, headline_lines, number_text

SHARED = Path(__file__).resolve().parents[2] / "shared"
EVALPERF = SHARED / "data" / "external" / "evalplus-evalperf" / "evalperf_per_task.csv"


@pytest.fixture
def sim(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path / "sim"), "--seed", "3",
                 "--inverse", "0"]) == 0
    capsys.readouterr()
    return tmp_path / "sim"


def _run(sim, out, *extra):
    return main(["run", str(sim / "ladder.toml"), "--out", str(out), "--resamples", "200",
                 *extra])


def test_register_prints_full_and_short_id_and_record_is_immutable(sim, tmp_path, capsys):
    run = tmp_path / "runs" / "a"
    assert _run(sim, run, "--register") == 0
    out = capsys.readouterr().out
    full = out.split("registered prediction ")[1].split()[0]
    assert len(full) == 64 and f"short id {full[:12]}" in out
    record = tmp_path / "runs" / "registry" / f"{full}.json"
    assert record.is_file() and not record.stat().st_mode & stat.S_IWUSR
    rid, content = read_record(record)
    assert rid == full and content["kind"] == "prediction"
    assert content["tool_version"] and "created_utc" not in content       # not hashed
    assert json.loads(record.read_text())["created_utc"].endswith("+00:00")
    assert content["parameters"]["hold_out"] == 15 and len(content["buckets"]) == 6
    roles = {i["role"] for i in content["inputs"]}
    assert roles == {"ladder", "counts"} and len(content["ladder_sha256"]) == 64
    assert json.loads((run / "registration.json").read_text())["id"] == full
    # Tampering is detected when the record is read.
    os.chmod(record, 0o644)
    doc = json.loads(record.read_text())
    doc["record"]["prediction"]["buckets"][0]["neg_log_pass_rate"]["predicted"] = 0.5
    record.write_text(json.dumps(doc))
    with pytest.raises(RegistryError, match="modified after it was registered"):
        read_record(record)
    assert main(["score", full[:10], "--registry", str(tmp_path / "runs" / "registry"),
                 "--target", str(sim / "counts" / "target.csv")]) == 2
    assert "modified after it was registered" in capsys.readouterr().err


def test_registering_again_never_moves_the_published_id(sim, tmp_path, capsys):
    """The same prediction registered twice is one record with one id; a prediction made
    again differently is not registered over the published id without --force."""
    run = tmp_path / "runs" / "a"
    registry = tmp_path / "runs" / "registry"
    assert _run(sim, run, "--register") == 0
    first = capsys.readouterr().out.split("registered prediction ")[1].split()[0]
    time.sleep(1.1)                       # a later second: the id must not depend on it
    assert main(["register", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"already registered: prediction {first}" in out
    assert sorted(p.stem for p in registry.iterdir()) == [first]
    # The run is made again with other settings: registration.json keeps the published id.
    assert _run(sim, run, "--level", "0.8") == 0
    capsys.readouterr()
    assert main(["register", str(run)]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and first[:12] in err and len(err.strip().splitlines()) == 1
    assert json.loads((run / "registration.json").read_text())["id"] == first
    assert main(["register", str(run), "--force"]) == 0
    captured = capsys.readouterr()
    second = captured.out.split("registered prediction ")[1].split()[0]
    assert second != first and "WARNING: --force" in captured.err
    assert json.loads((run / "registration.json").read_text())["id"] == second
    assert sorted(p.stem for p in registry.iterdir()) == sorted([first, second])


def test_register_refuses_the_targets_results_and_changed_inputs(sim, tmp_path, capsys):
    # The target's counts are the same bytes as a ladder model's input: refused.
    ladder = sim / "ladder.toml"
    shutil.copy(sim / "counts" / "m5.csv", sim / "counts" / "target-copy.csv")
    ladder.write_text(ladder.read_text().replace(
        'name = "target"\n', 'name = "target"\ncounts = "counts/target-copy.csv"\n'))
    assert _run(sim, tmp_path / "r1") == 0
    capsys.readouterr()
    assert main(["register", str(tmp_path / "r1")]) == 2
    assert "holds the target's results" in capsys.readouterr().err
    # An input changed after the run: refused.
    ladder.write_text(ladder.read_text().replace('counts = "counts/target-copy.csv"\n', ''))
    assert _run(sim, tmp_path / "r2") == 0
    with open(sim / "counts" / "m1.csv", "a") as fp:
        fp.write("\n")
    capsys.readouterr()
    assert main(["register", str(tmp_path / "r2")]) == 2
    assert "changed or vanished since the prediction" in capsys.readouterr().err
    assert not (tmp_path / "r2" / "registration.json").exists()


def test_score_measures_exactly_the_registered_buckets(sim, tmp_path, capsys):
    run = tmp_path / "runs" / "a"
    assert _run(sim, run, "--register") == 0
    capsys.readouterr()
    assert main(["score", str(run), "--target", str(sim / "counts" / "target.csv")]) == 0
    out, err = capsys.readouterr()
    assert "prediction    " in out and "no change (baseline)  " in out
    assert f"wrote {run / 'score.json'} and {run / 'score.csv'}" in err
    score = json.loads((run / "score.json").read_text())
    pred = json.loads((run / "prediction.json").read_text())
    target = pd.read_csv(sim / "counts" / "target.csv").set_index("task_id")
    for b, p in zip(score["buckets"], pred["buckets"]):
        assert b["task_ids"] == p["task_ids"]
        nl = b["neg_log_pass_rate"]
        assert nl["predicted"] == p["neg_log_pass_rate"]["predicted"]
        rates = target.loc[p["task_ids"], "c"] / target.loc[p["task_ids"], "n"]
        assert b["mean_pass_rate"]["actual"] == pytest.approx(rates.mean())
        assert nl["abs_error"] == pytest.approx(nl["predicted"] - nl["actual"])
        assert nl["inside"] == (nl["lower"] <= nl["actual"] <= nl["upper"])
    assert score["overall"]["neg_log_pass_rate"]["mean_abs_rel_error"] < 0.15
    records = list((tmp_path / "runs" / "registry").glob("*.json"))
    kinds = sorted(read_record(r)[1]["kind"] for r in records)
    assert kinds == ["prediction", "score"]
    # A target that lacks registered problems is an error, exit 2, counting what it lacks
    # over every bucket (not the first bucket's alone).
    short = pd.read_csv(sim / "counts" / "target.csv").head(20)
    short.to_csv(tmp_path / "short.csv", index=False)
    assert main(["score", str(run), "--target", str(tmp_path / "short.csv")]) == 2
    registered = [t for p in pred["buckets"] for t in p["task_ids"]]
    lacking = len(set(registered) - set(short["task_id"]))
    assert f"lack {lacking} of the {len(registered)} registered" in capsys.readouterr().err
    # The target's results as EvalPlus writes them (each sample's base and plus verdicts):
    # scored on the same buckets, the same actuals as its counts give.
    evalplus = tmp_path / "target" / "eval_results.json"
    evalplus.parent.mkdir()
    evalplus.write_text(json.dumps({"hash": "x", "eval": {
        t: [{"task_id": t, "base_status": "pass" if i < row.c else "fail",
             "plus_status": "pass" if i < row.c else "timeout"} for i in range(row.n)]
        for t, row in target.iterrows()}}))
    assert main(["score", str(run), "--target", str(evalplus), "--evalplus-tests", "plus",
                 "--out", str(tmp_path / "ep")]) == 0
    again = json.loads((tmp_path / "ep" / "score.json").read_text())
    assert [b["mean_pass_rate"]["actual"] for b in again["buckets"]] == pytest.approx(
        [b["mean_pass_rate"]["actual"] for b in score["buckets"]], abs=1e-12)
    scored = [read_record(r)[1] for r in (tmp_path / "runs" / "registry").glob("*.json")]
    assert [r["target_input"]["evalplus_tests"] for r in scored
            if r["kind"] == "score" and r["target_input"]["path"] == str(evalplus)] == ["plus"]


def _as_verdicts(counts: pd.DataFrame, path: Path, plus_lost=None) -> Path:
    """Counts written as verdicts: EvalPlus's eval_results.json (``.json``; the first ``c``
    samples pass the base tests, and the first ``plus_lost(c)`` of those fail the plus
    tests) or a results JSONL (the first ``c`` samples pass)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps({"hash": "x", "eval": {
            r.task_id: [{"task_id": r.task_id, "solution": "",
                         "base_status": "pass" if i < r.c else "fail",
                         "plus_status": "fail" if i < plus_lost(r.c) or i >= r.c else "pass"}
                        for i in range(r.n)] for r in counts.itertuples()}}))
    else:
        path.write_text("".join(json.dumps({"task_id": r.task_id, "completion": "",
                                            "passed": i < r.c}) + "\n"
                                for r in counts.itertuples() for i in range(r.n)))
    return path


def test_a_ladder_of_verdicts_predicts_as_its_counts_and_scores_as_it_counted(sim, tmp_path,
                                                                               capsys):
    """A ladder whose models' counts are verdicts (EvalPlus's eval_results.json counted on
    base and plus tests, a human-eval results JSONL) predicts exactly what the counts CSVs
    of the same verdicts predict; the inputs name each file and how EvalPlus's were counted,
    and score reads the target's EvalPlus results as the ladder counted them, refusing the
    other choice."""
    lost = lambda c: c // 4  # noqa: E731 -- a quarter of the base passes fail plus tests
    ladder = (sim / "ladder.toml").read_text()
    plus_csv = ladder
    for name in ("m1", "m2", "m3", "m4", "m5", "target"):
        counts = pd.read_csv(sim / "counts" / f"{name}.csv")
        verdicts = (f"v/{name}_results.jsonl" if name == "m1"
                    else f"v/{name}/eval_results.json")
        plus = counts.assign(c=counts["c"] - lost(counts["c"]))
        _as_verdicts(plus if name == "m1" else counts, sim / verdicts, lost)
        plus.to_csv(sim / "counts" / f"{name}_plus.csv", index=False)
        ladder = ladder.replace(f'"counts/{name}.csv"', f'"{verdicts}"')
        plus_csv = plus_csv.replace(f'"counts/{name}.csv"', f'"counts/{name}_plus.csv"')
    (sim / "verdicts.toml").write_text('evalplus_tests = "plus"\n' + ladder)
    (sim / "plus.toml").write_text(plus_csv)
    preds = {}
    for which in ("verdicts", "plus"):
        assert main(["run", str(sim / f"{which}.toml"), "--out", str(tmp_path / which),
                     "--resamples", "200"]) == 0
        preds[which] = json.loads((tmp_path / which / "prediction.json").read_text())
    assert preds["verdicts"]["buckets"] == preds["plus"]["buckets"]
    inputs = {i["model"]: i for i in preds["verdicts"]["inputs"] if i["model"]}
    assert inputs["m1"]["role"] == "results" and "evalplus_tests" not in inputs["m1"]
    assert all(inputs[m]["role"] == "results" and inputs[m]["evalplus_tests"] == "plus"
               for m in ("m2", "m3", "m4", "m5"))
    run = tmp_path / "verdicts"
    assert main(["register", str(run)]) == 0
    target = sim / "v" / "target" / "eval_results.json"
    capsys.readouterr()
    assert main(["score", str(run), "--target", str(target), "--evalplus-tests", "base"]) == 2
    assert ("--evalplus-tests: the prediction's ladder counted EvalPlus results with "
            "evalplus_tests = 'plus'") in capsys.readouterr().err
    assert main(["score", str(run), "--target", str(target)]) == 0
    score = json.loads((run / "score.json").read_text())
    truth = pd.read_csv(sim / "counts" / "target_plus.csv").set_index("task_id")
    for b in score["buckets"]:
        rates = truth.loc[b["task_ids"], "c"] / truth.loc[b["task_ids"], "n"]
        assert b["mean_pass_rate"]["actual"] == pytest.approx(rates.mean(), abs=1e-12)


def test_a_family_in_one_file_predicts_as_its_files_and_keeps_the_target_out(sim, tmp_path,
                                                                               capsys):
    """Ladder models that all name one ``model,task_id,n,c`` table predict exactly what
    their own files predict. While the table also holds the target's rows, the run says
    they were not read and register refuses the prediction; score reads the target's rows
    from such a table."""
    names = ("m1", "m2", "m3", "m4", "m5", "target")
    table = pd.concat([pd.read_csv(sim / "counts" / f"{m}.csv").assign(model=m)
                       for m in names])
    table.to_csv(sim / "family.csv", index=False)
    table[table["model"] != "target"].to_csv(sim / "ladder_only.csv", index=False)
    ladder = (sim / "ladder.toml").read_text()
    for m in names[:-1]:
        ladder = ladder.replace(f'"counts/{m}.csv"', '"family.csv"')
    (sim / "family.toml").write_text(ladder)
    (sim / "ladder_only.toml").write_text(ladder.replace('"family.csv"', '"ladder_only.csv"'))
    preds = {}
    for which in ("ladder", "family", "ladder_only"):
        assert main(["run", str(sim / f"{which}.toml"), "--out", str(tmp_path / which),
                     "--resamples", "200"]) == 0
        preds[which] = json.loads((tmp_path / which / "prediction.json").read_text())
    assert preds["family"]["buckets"] == preds["ladder"]["buckets"]
    assert preds["ladder_only"]["buckets"] == preds["ladder"]["buckets"]
    assert any("family.csv also holds the target's rows ('target'): they were not read" in w
               for w in preds["family"]["warnings"])
    assert not any("target's rows" in w for w in preds["ladder_only"]["warnings"])
    assert {i["model"]: i["models"] for i in preds["family"]["inputs"] if i["model"]} == {
        m: list(names) for m in names[:-1]}
    run = tmp_path / "ladder_only"
    by_table = _refused_then_scored(capsys, tmp_path / "family", run, sim / "family.csv")
    assert main(["score", str(run), "--target", str(sim / "counts" / "target.csv")]) == 0
    assert json.loads((run / "score.json").read_text())["buckets"] == by_table["buckets"]
    capsys.readouterr()
    assert main(["score", str(run), "--target", str(sim / "ladder_only.csv")]) == 2
    assert "none named 'target'" in capsys.readouterr().err
    assert main(["score", str(run), "--target", str(sim / "ladder_only.csv"),
                 "--target-model", "m5"]) == 0   # the rows --target-model names

    # Rows that go by other names than the ladder's: counts = { path, model }. The
    # target's too, where its results will be: the run and score read the rows so named.
    org = table.assign(model="org_" + table["model"])
    org.to_csv(sim / "org.csv", index=False)
    org[org["model"] != "org_target"].to_csv(sim / "org_ladder.csv", index=False)
    aliased = (sim / "ladder.toml").read_text()
    for m in names[:-1]:
        aliased = aliased.replace(f'"counts/{m}.csv"',
                                  f'{{ path = "org_ladder.csv", model = "org_{m}" }}')
    aliased = aliased.replace('compute = 1.000000e+24',
                              'compute = 1.000000e+24\ncounts = { path = "org.csv", model = '
                              '"org_target" }')
    assert 'model = "org_target"' in aliased
    (sim / "aliased.toml").write_text(aliased)
    (sim / "aliased_all.toml").write_text(aliased.replace('"org_ladder.csv"', '"org.csv"'))
    for which in ("aliased", "aliased_all"):
        assert main(["run", str(sim / f"{which}.toml"), "--out", str(tmp_path / which),
                     "--resamples", "200"]) == 0
        preds[which] = json.loads((tmp_path / which / "prediction.json").read_text())
        assert preds[which]["buckets"] == preds["ladder"]["buckets"]
        assert {i["model"]: i["rows"] for i in preds[which]["inputs"] if i["model"]} == {
            m: f"org_{m}" for m in names[:-1]}
    assert preds["aliased"]["target_source"]["model"] == "org_target"
    assert not any("target's rows" in w for w in preds["aliased"]["warnings"])
    assert any("org.csv also holds the target's rows ('org_target')" in w
               for w in preds["aliased_all"]["warnings"])
    assert _refused_then_scored(capsys, tmp_path / "aliased_all", tmp_path / "aliased",
                                sim / "org.csv")["buckets"] == by_table["buckets"]


def _refused_then_scored(capsys, refused, run, target) -> dict:
    """``capability register`` refuses the run ``refused`` (an input holds the target's
    results), registers ``run`` and scores it on ``target``: the score."""
    capsys.readouterr()
    assert main(["register", str(refused)]) == 2
    assert "holds the target's results (target)" in capsys.readouterr().err
    assert main(["register", str(run)]) == 0
    assert main(["score", str(run), "--target", str(target)]) == 0
    return json.loads((run / "score.json").read_text())


def test_backtest_holds_out_the_largest_and_beats_the_baselines(sim, tmp_path, capsys):
    out = tmp_path / "bt"
    assert main(["backtest", str(sim / "ladder.toml"), "--out", str(out), "--largest", "2",
                 "--resamples", "200"]) == 0
    printed = capsys.readouterr().out
    assert "no change (baseline)" in printed
    assert "straight line in log compute (baseline)" in printed
    bt = json.loads((out / "backtest.json").read_text())
    assert bt["held_out"] == "m5" and [f["held_out"] for f in bt["folds"]] == ["m5", "m4"]
    assert bt["folds"][1]["ladder_models"] == ["m1", "m2", "m3"]
    for b in bt["buckets"]:
        assert set(b["neg_log_pass_rate"]) >= {"predicted", "lower", "upper", "actual"}
        assert set(b["mean_pass_rate"]) >= {"predicted", "lower", "upper", "actual"}
    ours = bt["overall"]["neg_log_pass_rate"]["mean_abs_rel_error"]
    for name in ("no_change", "linear_log_compute"):
        base = bt["baselines"][name]["overall"]["neg_log_pass_rate"]["mean_abs_rel_error"]
        assert ours < base, (name, ours, base)
    # backtest.csv: the largest model's buckets, one row each, as score.csv.
    table = pd.read_csv(out / "backtest.csv")
    assert list(table["bucket"]) == [b["bucket"] for b in bt["buckets"]]
    assert list(table["measured"]) == pytest.approx(
        [b["mean_pass_rate"]["actual"] for b in bt["buckets"]])
    assert list(table["neg_log_inside"]) == [b["neg_log_pass_rate"]["inside"]
                                             for b in bt["buckets"]]
    assert main(["backtest", str(sim / "ladder.toml"), "--out", str(out), "--largest",
                 "3"]) == 2
    err = capsys.readouterr().err
    assert "leaves 2 smaller model(s)" in err and "(--largest 2 at most, or add models" in err


def _bucket_means(counts: pd.DataFrame, task_ids) -> tuple[float, float]:
    """A bucket's measured mean pass rate and -E[log p] (the default 'series' estimator)."""
    from capability.estimation.estimate import neg_log_pass_rate

    rows = counts.set_index("task_id").loc[list(task_ids)]
    n, c = rows["n"].to_numpy(), rows["c"].to_numpy()
    return float((c / n).mean()), float(neg_log_pass_rate(n, c).estimate.mean())


def _naive(sim: Path, pred: dict) -> list[dict]:
    """The naive baselines recomputed from the ladder's counts and its nominal compute:
    the largest model's bucket values, and the least-squares line in log10 compute at the
    target (clipped to the domain)."""
    import numpy as np

    from capability.files.ladder import load_ladder

    ladder = load_ladder(sim / "ladder.toml")
    x = np.log10([m.compute for m in ladder.models])
    counts = [pd.read_csv(sim / "counts" / f"{m.name}.csv") for m in ladder.models]
    out = []
    for b in pred["buckets"]:
        values = np.array([_bucket_means(c, b["task_ids"]) for c in counts])   # (M, 2)
        line = [np.polyval(np.polyfit(x, values[:, j], 1), np.log10(pred["target_compute"]))
                for j in range(2)]
        out.append({"no_change": {"mean_pass_rate": values[-1, 0],
                                  "neg_log_pass_rate": values[-1, 1]},
                    "linear_log_compute": {"mean_pass_rate": float(np.clip(line[0], 0, 1)),
                                           "neg_log_pass_rate": max(float(line[1]), 0.0)}})
    return out


def test_a_prediction_fixes_the_naive_baselines_and_its_score_sets_it_beside_them(
        sim, tmp_path, capsys):
    """prediction.json records, per bucket, what no change and a straight line in log
    compute predict; the score measures their errors on the same buckets, and says whether
    the prediction came closer."""
    run = tmp_path / "runs" / "a"
    assert _run(sim, run, "--register") == 0
    pred = json.loads((run / "prediction.json").read_text())
    for b, naive in zip(pred["buckets"], _naive(sim, pred)):
        for name, values in naive.items():
            for q, v in values.items():
                assert b["baselines"][name][q] == pytest.approx(v, abs=1e-9), (name, q)
    capsys.readouterr()
    assert main(["score", str(run), "--target", str(sim / "counts" / "target.csv")]) == 0
    out = capsys.readouterr().out
    score = json.loads((run / "score.json").read_text())
    own = score["overall"]["mean_pass_rate"]
    errors = [abs(b["mean_pass_rate"]["abs_error"]) for b in score["buckets"]]
    assert own["mean_abs_error"] == pytest.approx(sum(errors) / len(errors))
    assert own["max_abs_error"] == pytest.approx(max(errors))
    lines = {}
    for name, label in (("no_change", "no change (baseline)"),
                        ("linear_log_compute", "straight line in log compute (baseline)")):
        base = score["baselines"][name]
        for entry, b, sb in zip(base["buckets"], pred["buckets"], score["buckets"]):
            mp = entry["mean_pass_rate"]
            assert mp["predicted"] == b["baselines"][name]["mean_pass_rate"]
            assert mp["actual"] == sb["mean_pass_rate"]["actual"]
            assert mp["abs_error"] == pytest.approx(mp["predicted"] - mp["actual"])
        err = base["overall"]["mean_pass_rate"]["mean_abs_error"]
        lines[name] = err
        row = next(line for line in out.splitlines() if line.startswith(label))
        assert row.split()[len(label.split())] == f"{100 * err:.1f}"   # in points
    verdict = next(line for line in out.splitlines()
                   if line.startswith("the prediction's mean pass rates ("))
    if own["mean_abs_error"] < min(lines.values()):
        assert "came closer than both naive baselines" in verdict
    elif own["mean_abs_error"] < max(lines.values()):
        assert " but not than " in verdict
    else:
        assert "came no closer than" in verdict
    # The report carries the same table and verdict.
    assert main(["report", str(run)]) == 0
    md = (run / "report.md").read_text()
    assert "## Errors beside the naive baselines" in md
    assert f"| no change (baseline) | {100 * lines['no_change']:.1f} |" in md
    assert verdict[1:] in md


def test_the_baselines_know_nothing_of_models_off_their_trend(tmp_path, capsys):
    """On a ladder whose models sit off their family's trend, the laws are fitted on
    effective compute; the recorded baselines stay naive: a straight line in nominal log
    compute, which the straight-line candidate law (on effective compute) is not."""
    sim = tmp_path / "irr"
    assert main(["simulate", "--out", str(sim), "--kind", "irregular", "--offset-sd", "0.3",
                 "--seed", "1"]) == 0
    assert _run(sim, tmp_path / "run") == 0
    capsys.readouterr()
    pred = json.loads((tmp_path / "run" / "prediction.json").read_text())
    assert pred["law_selection"]["model_offsets"]["compute_corrected"]
    moved = 0
    for b, naive in zip(pred["buckets"], _naive(sim, pred)):
        line = b["baselines"]["linear_log_compute"]["mean_pass_rate"]
        assert line == pytest.approx(naive["linear_log_compute"]["mean_pass_rate"], abs=1e-9)
        moved += abs(line - b["candidates"]["linear"]["mean_pass_rate"]) > 1e-3
    assert moved >= 1


def test_a_run_made_again_is_not_reported_as_the_registered_and_scored_one(sim, tmp_path,
                                                                         capsys):
    """A run made again into its directory keeps registration.json and score.json (the id
    may be published), but the report no longer calls the new prediction registered or
    scored, and the run warns; made again as registered, it is the registered one again."""
    run = tmp_path / "runs" / "a"
    assert _run(sim, run, "--register") == 0
    assert main(["score", str(run), "--target", str(sim / "counts" / "target.csv")]) == 0
    capsys.readouterr()
    assert _run(sim, run, "--level", "0.8") == 0
    err = capsys.readouterr().err
    assert "registration.json and score.json describe prediction" in err
    assert "capability register --force" in err
    assert main(["report", str(run)]) == 0
    md = (run / "report.md").read_text()
    assert "**Not registered:**" in md and "Registered as" not in md
    assert "it is not shown" in md and "## Scored against the measured target" not in md
    assert "intervals at level 0.8" in md
    capsys.readouterr()
    assert _run(sim, run) == 0                     # the registered prediction again
    assert "describe prediction" not in capsys.readouterr().err
    assert main(["report", str(run)]) == 0
    md = (run / "report.md").read_text()
    assert "Not registered" not in md and "Registered as" in md
    assert "## Scored against the measured target" in md


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_a_value_that_rounds_to_zero_prints_without_a_sign():
    """An exponent k fitted at -1e-9 (a ladder that never solved a problem) printed as
    -0.000 in the run's table and the report; fixed point and percentages drop the sign of
    a rounded zero, and keep every other sign."""
    assert number_text(-1e-9, ".3f") == "0.000"
    assert number_text(-0.0, ".4f") == "0.0000"
    assert number_text(-1e-9, "+.3f") == "+0.000"
    assert number_text(-4e-5, "+.1%") == "+0.0%"
    assert number_text(-0.5, ".3f") == "-0.500" and number_text(-0.2, "+.1%") == "-20.0%"
    assert number_text(-2.5e7, ".4f") == "-2.5e+07"


def test_a_bound_past_a_million_prints_in_exponent_form(sim, tmp_path, capsys):
    """An -E[log p] bound where the pass rate's lower bound is near 0 can run to 1e60 (a
    three-model ladder whose smallest member solved nothing): the run's table and the
    report print it as 2.33e+60, not as sixty digits."""
    run = tmp_path / "run"
    assert _run(sim, run) == 0
    capsys.readouterr()
    pred = json.loads((run / "prediction.json").read_text())
    pred["buckets"][0]["neg_log_pass_rate"]["upper"] = 2.3255745798031216e60
    (run / "prediction.json").write_text(json.dumps(pred))
    text = format_prediction(pred)
    assert ", 2.33e+60]" in text
    assert not re.search(r"\d{12}", text)
    assert main(["report", str(run)]) == 0
    md = (run / "report.md").read_text()
    assert ", 2.33e+60]" in md and not re.search(r"\d{12}", md)
    # Below a million, fixed point as before.
    assert number_text(654.0, ".4f") == "654.0000" and number_text(None, ".4f") == "-"


def test_a_level_prints_with_its_digits(sim, tmp_path, capsys):
    """A 99.9% prediction's table, headline and report say 99.9%, not 100% (a rounded
    level read as certainty)."""
    run = tmp_path / "run"
    assert _run(sim, run) == 0
    capsys.readouterr()
    pred = json.loads((run / "prediction.json").read_text())
    pred["level"] = 0.999
    (run / "prediction.json").write_text(json.dumps(pred))
    text = format_prediction(pred) + "\n".join(headline_lines(pred))
    assert "[99.9% interval]" in text and "99.9% intervals, over" in text
    assert "100%" not in text
    assert main(["report", str(run)]) == 0
    md = (run / "report.md").read_text()
    assert "99.9%" in md and "100% interval" not in md


def test_report_files_and_self_contained_html(sim, tmp_path, capsys):
    run = tmp_path / "runs" / "a"
    assert _run(sim, run, "--register") == 0
    assert main(["score", str(run), "--target", str(sim / "counts" / "target.csv")]) == 0
    capsys.readouterr()
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out.strip() == str(run / "report.html")
    md = (run / "report.md").read_text()
    assert "| bucket | problems | alpha | k |" in md and "figures/buckets.png" in md
    # Numbers right-aligned, text (the law column, model names) left, in both formats.
    head = md.splitlines().index("| bucket | problems | alpha | k | law | -E[log pass rate] "
                                 "[90%] | mean pass rate [90%] |")
    assert md.splitlines()[head + 1] == "|---:|---:|---:|---:|:---|---:|---:|"
    assert "| model | compute (FLOPs) | samples | final loss | offset |\n|:---|---:|" in md
    assert "measured -E[log p] [its interval]" in md and "Registered as" in md
    assert "predictions agree with the measurement" in md
    assert "]. Whole benchmark (the 15 others anywhere in [0, 1]): pass@1 in [" in md
    assert "## Candidate laws and their rolling backtests" in md and "figures/rolling.png" in md
    assert "weight in the average" in md and "log evidence" in md
    # Each law's posterior probability of no law error (the spike of its prior).
    pred = json.loads((run / "prediction.json").read_text())
    exact = pred["law_selection"]["scores"]["problem_power"]["exact_probability"]
    assert "probability of no law error" in md
    row = next(line for line in md.splitlines() if line.startswith("| problem_power |"))
    assert f"| {exact:.2f} |" in row
    # ... and the bend in the family's growth its backtests read (posterior rms).
    bend = pred["law_selection"]["scores"]["problem_power"]["bend_per_decade"]
    assert "bend (decades per decade²)" in md and f"| {exact:.2f} | {bend:.3f} |" in row
    # ... read along each step's loading, and reaching the target by its own (on the
    # models' nominal compute, as the step's distance).
    nominal = {m["name"]: m["compute"] for m in pred["models"]}
    assert pred["law_selection"]["bend_loading"] == pytest.approx(
        bend_loading(list(nominal.values()), pred["target_compute"]))
    step = pred["law_selection"]["backtests"][0]
    assert step["bend_loading"] == pytest.approx(
        bend_loading([nominal[m] for m in step["below"]], nominal[step["held"]]))
    assert "| average: " in md   # a bucket's law column names the averaged laws and weights
    # The ladder table gives each model's offset from the family's trend, and the target's
    # deviation from it (the spread and the problem-by-model scatter).
    assert "| model | compute (FLOPs) | samples | final loss | offset |" in md
    offsets = pred["law_selection"]["model_offsets"]
    assert (f"± {offsets['deviation_decades']:.3f} (deviation; spread "
            f"{offsets['spread_decades']:.3f}) |") in md
    # ... how well the counts read the offsets: their noise, and the posterior probability
    # of no offsets at all (an offset within its noise is no evidence of one).
    assert (f"each offset is read with noise of sd {offsets['noise_sd_decades']:.2f} decades "
            f"({offsets['binomial_noise_sd_decades']:.2f} of it the binomial noise), and the "
            f"models sit on their trend with probability "
            f"{offsets['on_trend_probability']:.2f}") in md
    # ... and how far single problems scatter beyond the binomial noise (none here).
    assert "problem-by-model scatter: sd 0.0" in md
    # ... and what the ceiling law read: the share of problems levelling off, and where.
    assert "the ceiling law reads " in md and "of the problems as levelling off" in md
    # ... and how the bent law reads the family's growth (a clean ladder: on its trend, so
    # the law is a candidate).
    bend = pred["law_selection"]["bend_axis"]
    assert bend is not None and "the bent law reads the family's growth as " in md
    assert ("(gamma 0)" if bend["gamma"] == 0 else f"(gamma {bend['gamma']:+.1f} per decade)") in md
    assert (run / "figures" / "buckets.png").stat().st_size > 10_000
    assert (run / "figures" / "loss.png").stat().st_size > 5_000
    html = (run / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3  # buckets, rolling backtests, loss
    assert "<td class='t'>average: " in html and re.search(r"<td>[0-9]", html)
    assert "http://" not in html and "https://" not in html
    # The per-bucket tables as CSV, for tools that read tables: what the JSON holds.
    table = pd.read_csv(run / "prediction.csv")
    assert list(table.columns) == ["bucket", "problems", "law", "predicted", "lower",
                                   "upper", "neg_log_predicted", "neg_log_lower",
                                   "neg_log_upper", "level"]
    assert list(table["upper"]) == pytest.approx(
        [b["mean_pass_rate"]["upper"] for b in pred["buckets"]])
    assert list(table["neg_log_predicted"]) == pytest.approx(
        [b["neg_log_pass_rate"]["predicted"] for b in pred["buckets"]])
    assert set(table["level"]) == {pred["level"]}
    scored = pd.read_csv(run / "score.csv")
    score = json.loads((run / "score.json").read_text())
    assert list(scored["measured"]) == pytest.approx(
        [b["mean_pass_rate"]["actual"] for b in score["buckets"]])
    assert list(scored["inside"]) == [b["mean_pass_rate"]["inside"]
                                      for b in score["buckets"]]
    # A bucket the report's law cannot fit (every ladder point at -E[log p] = 0, as in
    # EvalPerf's easiest) still shows its prediction, by the law it uses, and measurement.
    from capability.reports.plots import bucket_figure
    pred["buckets"][0].update(alpha=None, k=None, report_law=None)
    panel = bucket_figure(pred, score).axes[0]
    text = " ".join(t.get_text() for t in panel.texts)
    mp, measured = pred["buckets"][0]["mean_pass_rate"], score["buckets"][0]["mean_pass_rate"]
    assert "the report's law: no fit" in text and f"({pred['buckets'][0]['law']})" in text
    assert (f"{mp['predicted']:.3f}, 90% interval [{mp['lower']:.3f}, {mp['upper']:.3f}]"
            in text)
    assert f"measured: {measured['actual']:.3f}" in text
    # A prediction far below every ladder point (pass rate ~ 1, as a bucket of Gemma-3's
    # that 1100 samples all solve) stays inside the axes, which otherwise span at most
    # four decades down from the top.
    low = pred["buckets"][1]
    ys = [p["neg_log_pass_rate"] for p in low["ladder_points"]]
    tiny = min(ys) * 1e-5
    low["neg_log_pass_rate"] = {"predicted": tiny, "lower": tiny / 10, "upper": max(ys)}
    panel = bucket_figure(pred).axes[1]
    bottom, top = panel.get_ylim()
    assert bottom <= tiny < top and top / bottom > 1e4
    # The prediction is drawn beside the target's compute (x = 0.8), so a dotted line
    # marks where the target is (x = 1), not at 0.8 of its compute.
    assert any(list(line.get_xdata()) == [1.0, 1.0] and line.get_linestyle() == ":"
               for line in panel.lines)
    # The rolling backtests' panels span their own values (a strong ladder's buckets at
    # 0.9-1.0 sat in a corner of the unit square), the same range on both axes, so the
    # diagonal stays the diagonal; no point falls outside.
    from capability.reports.plots import backtest_figure
    step = pred["law_selection"]["backtests"][0]
    step["actual_mean_pass_rate"] = [0.88, 0.93, 0.97, 1.0, 1.0, None]
    step["predicted_mean_pass_rate"] = {law: [0.74, 0.95, 1.0, 0.99, 1.0, None]
                                        for law in step["predicted_mean_pass_rate"]}
    panel = backtest_figure(pred).axes[0]
    (x0, x1), (y0, y1) = panel.get_xlim(), panel.get_ylim()
    assert (x0, x1) == (y0, y1) and 0.6 < x0 < 0.74 and 1.0 < x1 <= 1.02


def test_run_with_common_problems_leaves_out_what_a_model_lacks(sim, tmp_path, capsys):
    """A ladder model whose counts lack two problems: ``capability run`` stops with exit
    status 2 and says how to go on; with ``--common-problems`` it predicts over the problems
    every model has and names the others in a note (printed and in prediction.json)."""
    path = sim / "counts" / "m2.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], *lines[3:]]) + "\n")
    dropped = sorted(line.split(",")[0] for line in lines[1:3])
    assert _run(sim, tmp_path / "a") == 2
    assert "--common-problems" in capsys.readouterr().err
    assert _run(sim, tmp_path / "b", "--common-problems") == 0
    err = capsys.readouterr().err
    assert f"--common-problems: 2 problem(s) that some ladder model lacks are left out: " \
        f"{', '.join(dropped)}" in err
    pred = json.loads((tmp_path / "b" / "prediction.json").read_text())
    assert any(w.startswith("--common-problems: 2 problem(s)") for w in pred["warnings"])
    covered = {t for b in pred["buckets"] for t in b["task_ids"]} | set(pred["held_out"])
    assert not covered & set(dropped) and len(covered) == 162


def test_a_three_model_report_shows_the_short_backtest_that_weighs_the_laws(tmp_path,
                                                                           capsys):
    """Three ladder models: no rolling backtest, so the report's law table is the short
    backtest's (each model from the two below it), with the laws' weights in the average
    and each law's fallback widening, not the rolling backtests' empty rows."""
    sim = tmp_path / "sim"
    assert main(["simulate", "--out", str(sim), "--kind", "emergence", "--ratios",
                 "20,8,3"]) == 0
    run = tmp_path / "run"
    assert _run(sim, run) == 0
    assert main(["report", str(run)]) == 0
    capsys.readouterr()
    md = (run / "report.md").read_text()
    assert "## Candidate laws and their short backtest" in md
    assert "## Candidate laws and their rolling backtests" not in md
    pred = json.loads((run / "prediction.json").read_text())
    short = pred["law_selection"]["short_scores"]
    assert sum(sc["weight"] for sc in short.values()) == pytest.approx(1.0)
    for name, sc in short.items():
        row = next(line for line in md.splitlines() if line.startswith(f"| {name} |"))
        assert f"| {sc['weight']:.2f} |" in row and "| fallback x " in row
    # ... and its figure: the third model predicted from the first two, by every law.
    assert "figures/short.png" in md and "figures/rolling.png" not in md
    assert (run / "figures" / "short.png").stat().st_size > 10_000


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed")
def test_report_renders_in_headless_chromium_with_every_figure(sim, tmp_path, capsys):
    run = tmp_path / "run"
    assert _run(sim, run, "--register") == 0
    assert main(["score", str(run), "--target", str(sim / "counts" / "target.csv")]) == 0
    assert main(["report", str(run)]) == 0
    profile = tmp_path / "profile"
    proc = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
         "--dump-dom", (run / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    # Three figures: the buckets, the rolling backtests (five ladder models), the loss law.
    assert 'data-figures-loaded="3/3"' in proc.stdout, proc.stderr[-2000:]
    # The headline leads the page; the scored columns are rendered.
    dom = proc.stdout
    assert "Predicted for target, 90% intervals, over 149 of 164 problems" in dom
    assert dom.index("pass@1 0.") < dom.index("Per-bucket prediction")
    assert "partially pooled across buckets" in dom       # every k alike: said why
    assert "measured mean p [its interval]" in dom and "agrees" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1200,2400",
         (run / "report.html").as_uri()], capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000


@pytest.mark.skipif(not EVALPERF.exists(), reason="../shared/data is not available")
def test_real_data_backtest_predicts_qwen_72b_from_7b_14b_32b(tmp_path, capsys):
    """EvalPerf (100 samples per task at T=1.0): Qwen2.5-Instruct, compute ~ 6 N 18e12."""
    df = pd.read_csv(EVALPERF)
    sizes = {"7B": 7.6e9, "14B": 14.7e9, "32B": 32.5e9, "72B": 72.7e9}
    lines = ['name = "qwen2.5-instruct"', 'target = "next"', ""]
    (tmp_path / "counts").mkdir()
    for size, params in sizes.items():
        rows = df[df["model"] == f"Qwen--Qwen2.5-{size}-Instruct_vllm_temp_1.0"]
        rows = rows.rename(columns={"n_samples": "n", "n_correct": "c"})
        rows[["task_id", "n", "c"]].to_csv(tmp_path / "counts" / f"{size}.csv", index=False)
        lines += ["[[models]]", f'name = "qwen2.5-{size.lower()}"', f"params = {params}",
                  "tokens = 18e12", f'counts = "counts/{size}.csv"', ""]
    lines += ["[[models]]", 'name = "next"', "compute = 2.2e25"]
    (tmp_path / "ladder.toml").write_text("\n".join(lines) + "\n")
    assert main(["backtest", str(tmp_path / "ladder.toml"), "--out", str(tmp_path / "bt")]) == 0
    captured = capsys.readouterr()
    print(captured.out)  # the per-bucket errors and the baselines' (pytest -s shows them)
    bt = json.loads((tmp_path / "bt" / "backtest.json").read_text())
    assert bt["held_out"] == "qwen2.5-72b"
    assert bt["ladder_models"] == ["qwen2.5-7b", "qwen2.5-14b", "qwen2.5-32b"]
    assert len(bt["buckets"]) == 6
    # Saturated and unsolved problems are handled and said.
    assert "saturated" in captured.err and "excluded" in captured.err
    rates = [b["mean_pass_rate"] for b in bt["buckets"]]
    assert all(r["actual"] is not None for r in rates)
    fitted = [r for r in rates if r["predicted"] is not None]
    assert len(fitted) >= 4
    assert max(abs(r["predicted"] - r["actual"]) for r in fitted) < 0.15
    assert main(["report", str(tmp_path / "bt")]) == 0


def test_printed_tables_have_no_trailing_blanks(sim, tmp_path, capsys):
    """The run's and the score's tables pad each column to its widest cell but end each
    line at its last character, so they diff and paste cleanly."""
    run = tmp_path / "runs" / "a"
    assert _run(sim, run, "--register") == 0
    assert main(["score", str(run), "--target", str(sim / "counts" / "target.csv")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    heads = [i for i, line in enumerate(lines) if line.startswith("bucket  ")]
    assert len(heads) >= 2                       # the run's table and the score's
    assert [line for line in lines if line != line.rstrip()] == []
    # Still aligned: the rule under each head spans the head's columns.
    for i in heads:
        rule = lines[i + 1]
        assert set(rule) <= {"-", " "}
        assert [m.start() for m in re.finditer(r"(?<=  )\S", lines[i])] == \
            [m.start() for m in re.finditer(r"(?<= )-", rule)]
