"""The capability command end to end: help, simulate, run, demo and error exits."""

import argparse
import json
import subprocess
import sys

import pytest
from sandbox_support import needs_isolation

from capability.cli import _COMMANDS, build_parser, main


@pytest.mark.parametrize("argv, words", [
    (["--help"], ["GPT-4", "alpha * C^(-k)", "demo"]),
    (["run", "--help"], ["ladder file", "--hold-out", "--zero-policy", "--level", "example"]),
    (["simulate", "--help"], ["known", "--seed", "--inverse", "truth.json"]),
    (["demo", "--help"], ["end to end"]),
])
def test_help_teaches(capsys, argv, words):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    for word in words:
        assert word in out


def test_simulate_then_run_writes_prediction(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path / "sim"), "--seed", "4"]) == 0
    ladder = tmp_path / "sim" / "ladder.toml"
    assert capsys.readouterr().out.strip() == str(ladder)
    truth = json.loads((tmp_path / "sim" / "truth.json").read_text())
    assert len(truth["problems"]) == 164
    # The target's results are never read: point the target at a file that does not exist.
    text = ladder.read_text().replace('name = "target"\n', 'name = "target"\n'
                                      'counts = "counts/not-there.csv"\n')
    ladder.write_text(text)
    assert main(["run", str(ladder), "--out", str(tmp_path / "run"), "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert "Prediction for target" in out and "final loss" in out
    pred = json.loads((tmp_path / "run" / "prediction.json").read_text())
    assert pred["target"] == "target" and pred["target_compute"] == 1e24
    assert pred["level"] == 0.9 and len(pred["held_out"]) == 15
    assert len(pred["buckets"]) == 6
    bucket_ids = [t for b in pred["buckets"] for t in b["task_ids"]]
    assert len(set(bucket_ids) | set(pred["held_out"]) | set(pred["excluded"])) == 164
    for b in pred["buckets"]:
        assert set(b) >= {"bucket", "task_ids", "alpha", "k", "neg_log_pass_rate",
                          "mean_pass_rate"}
        nl = b["neg_log_pass_rate"]
        assert nl["lower"] < nl["predicted"] < nl["upper"]
    means = [b["neg_log_pass_rate"]["predicted"] for b in pred["buckets"]]
    assert means == sorted(means)  # bucket 1 is easiest
    assert pred["loss"]["lower"] < pred["loss"]["predicted"] < pred["loss"]["upper"]


def test_run_options_change_the_method(tmp_path, capsys):
    main(["simulate", "--out", str(tmp_path / "sim"), "--seed", "1", "--problems", "60"])
    ladder = str(tmp_path / "sim" / "ladder.toml")
    assert main(["run", ladder, "--out", str(tmp_path / "r"), "--buckets", "3", "--hold-out",
                 "0", "--zero-policy", "keep", "--level", "0.5", "--resamples", "100",
                 "--no-pool"]) == 0
    pred = json.loads((tmp_path / "r" / "prediction.json").read_text())
    assert len(pred["buckets"]) == 3 and pred["held_out"] == [] and pred["excluded"] == []
    assert pred["level"] == 0.5 and pred["settings"]["pool_slopes"] is False
    assert sum(b["n_problems"] for b in pred["buckets"]) == 60
    assert main(["run", ladder, "--out", str(tmp_path / "j"), "--zero-policy", "jeffreys",
                 "--resamples", "50"]) == 0
    pred = json.loads((tmp_path / "j" / "prediction.json").read_text())
    assert pred["excluded"] == [] and pred["settings"]["estimator"] == "jeffreys"


def test_bad_ladder_exits_2_with_one_line_and_no_output(tmp_path, capsys):
    ladder = tmp_path / "ladder.toml"
    ladder.write_text('target = "t"\n[[models]]\nname = "t"\ncompute = -3\n')
    assert main(["run", str(ladder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("capability: error: ") and str(ladder) in err
    assert "models[0].compute" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out" / "prediction.json").exists()


def test_bad_counts_exits_2(tmp_path, capsys):
    main(["simulate", "--out", str(tmp_path / "sim"), "--problems", "40"])
    (tmp_path / "sim" / "counts" / "m2.csv").write_text("task_id,n,c\nHumanEval/0,200,201\n")
    code = main(["run", str(tmp_path / "sim" / "ladder.toml"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "m2.csv:2: c = 201 exceeds n = 200" in capsys.readouterr().err


def test_incompatible_options_exit_2(tmp_path, capsys):
    main(["simulate", "--out", str(tmp_path / "sim"), "--problems", "40"])
    code = main(["run", str(tmp_path / "sim" / "ladder.toml"), "--out", str(tmp_path / "o"),
                 "--zero-policy", "keep", "--estimator", "plugin"])
    assert code == 2 and "--estimator" in capsys.readouterr().err
    code = main(["run", str(tmp_path / "sim" / "ladder.toml"), "--out", str(tmp_path / "o"),
                 "--hold-out", "100"])
    err = capsys.readouterr().err
    assert code == 2 and "40 problems remain" in err and "106 are needed" in err
    assert "Lower --hold-out or --buckets" in err


@needs_isolation
def test_demo_runs_end_to_end(tmp_path, capsys):
    """Served over HTTP, sampled, executed, predicted, registered, target scored, reported."""
    assert main(["demo", "--out", str(tmp_path / "demo"), "--samples", "8"]) == 0
    out = capsys.readouterr().out
    assert "true -E[log p]" in out and "registered prediction" in out
    assert "Score of the prediction" in out
    report = tmp_path / "demo" / "run" / "report.html"
    assert out.strip().endswith(f"report: {report}")
    run = tmp_path / "demo" / "run"
    for name in ("prediction.json", "registration.json", "score.json", "report.md"):
        assert (run / name).is_file(), name
    samples = run / "samples"
    assert sorted(p.name for p in samples.iterdir()) == [
        "m1.jsonl", "m2.jsonl", "m3.jsonl", "m4.jsonl", "m5.jsonl", "target.jsonl"]
    assert len((samples / "m1.jsonl").read_text().splitlines()) == 164 * 8
    # The server is gone; the ladder the demo leaves runs as it is, from the counts.
    capsys.readouterr()
    assert main(["run", str(tmp_path / "demo" / "sim" / "ladder.toml"), "--out",
                 str(tmp_path / "again"), "--resamples", "100"]) == 0
    assert (tmp_path / "again" / "prediction.json").is_file()


def test_console_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "capability", "--version"],
                          capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("capability ")


def test_simulate_offset_sd_sets_the_irregular_offsets(tmp_path, capsys):
    """``--offset-sd`` scales irregular ladders' offsets (the same draws: seed 5 at 0.4 is
    seed 5 at 0.15 times 0.4 / 0.15); a negative one exits 2 saying what was expected."""
    offsets = {}
    for sd in ("0.15", "0.4"):
        out = tmp_path / sd
        assert main(["simulate", "--out", str(out), "--kind", "irregular", "--seed", "5",
                     "--problems", "20", "--offset-sd", sd]) == 0
        truth = json.loads((out / "truth.json").read_text())
        offsets[sd] = truth["effective_compute_offsets_decades"]
    for name, u in offsets["0.4"].items():
        assert u == pytest.approx(offsets["0.15"][name] * 0.4 / 0.15)
    assert main(["simulate", "--out", str(tmp_path / "bad"), "--kind", "irregular",
                 "--offset-sd", "-1"]) == 2
    assert "offset_sd >= 0" in capsys.readouterr().err


def test_simulate_family_takes_its_own_default_spreads(tmp_path):
    """``--kind family`` draws offsets at sd 0.3 decades unless ``--offset-sd`` says
    otherwise (the same draws scaled), and its truth names the law with both effects."""
    truths = {}
    for extra in ([], ["--offset-sd", "0.15"]):
        out = tmp_path / ("default" if not extra else "narrow")
        assert main(["simulate", "--out", str(out), "--kind", "family", "--seed", "2",
                     "--problems", "20", *extra]) == 0
        truths[out.name] = json.loads((out / "truth.json").read_text())
    assert "e_im" in truths["default"]["law"] and truths["default"]["kind"] == "family"
    for name, u in truths["default"]["effective_compute_offsets_decades"].items():
        assert truths["narrow"]["effective_compute_offsets_decades"][name] == \
            pytest.approx(u / 2)


def test_every_command_the_parser_offers_has_a_handler_and_none_other():
    """``capability COMMAND`` dispatches through one table: a command added to the parser
    without a handler (or a handler left behind) would fail only when run."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(_COMMANDS)
