"""A corpus of broken inputs: each gives one line naming the file, the line or key and what
was expected, exit status 2, and no output file left looking complete."""

import json
import re
import subprocess
import sys
import time

import pytest

GOOD_COUNTS = "task_id,n,c\nT/0,10,5\nT/1,10,7\nT/2,10,1\n"
SAMPLE = '{"task_id": "HumanEval/0", "completion": "    return 1\\n"}\n'


def ladder(models=("a", "b", "c"), compute=("1e20", "1e21", "1e22"), extra=""):
    text = 'name = "x"\ntarget = "big"\n' + extra
    for name, comp in zip(models, compute):
        text += f'[[models]]\nname = "{name}"\ncompute = {comp}\ncounts = "{name}.csv"\n'
    return text + '[[models]]\nname = "big"\ncompute = 1e24\n'


# A ladder whose first model is sampled from a server (none listens there: trying it would
# fail) beside counts of HumanEval's problems.
SERVED = ladder().replace('counts = "a.csv"', 'server = { url = "http://127.0.0.1:9/v1", '
                                              'model = "a" }')
HE_COUNTS = {f"{m}.csv": "task_id,n,c\nHumanEval/0,10,5\nHumanEval/1,10,7\n" for m in "bc"}

# name: (files to write, command after "capability", output that must not exist, pattern)
CORPUS = {
    "samples truncated": ({"s.jsonl": SAMPLE + '{"task_id": "HumanEval/1", "compl'},
                          ["execute", "s.jsonl", "-o", "r.jsonl"], "r.jsonl",
                          r"s\.jsonl:2: expected a JSON object, found invalid JSON \(the line "
                          r"ends inside a string that starts at column 28; truncated\?\)"),
    "samples line not JSON": ({"s.jsonl": SAMPLE + "hello\n" + SAMPLE},
                              ["execute", "s.jsonl", "-o", "r.jsonl"], "r.jsonl",
                              r"s\.jsonl:2: expected a JSON object, found invalid JSON "
                              r"\(Expecting value at column 1\)"),
    "samples wrong type": ({"s.jsonl": '{"task_id": ["HumanEval/0"], "completion": ""}\n'},
                           ["execute", "s.jsonl", "-o", "r.jsonl"], "r.jsonl",
                           r"s\.jsonl:1: 'task_id' must be a string, found list"),
    "samples unknown task": ({"s.jsonl": SAMPLE + '{"task_id": "HumanEval/999", '
                                                  '"completion": ""}\n'},
                             ["execute", "s.jsonl", "-o", "r.jsonl"], "r.jsonl",
                             r"s\.jsonl:2: task_id 'HumanEval/999' is not in the problem set"),
    "samples empty": ({"s.jsonl": ""}, ["execute", "s.jsonl", "-o", "r.jsonl"], "r.jsonl",
                      r"s\.jsonl: expected at least one sample, found none"),
    "samples not UTF-8": ({"s.jsonl": SAMPLE.encode() + b'{"task_id": "\xff"}\n'},
                          ["execute", "s.jsonl", "-o", "r.jsonl"], "r.jsonl",
                          r"s\.jsonl:2: expected UTF-8 text"),
    "duplicate model names": ({"l.toml": ladder(models=("a", "a", "c"))},
                              ["run", "l.toml", "--out", "out"], "out/prediction.json",
                              r"l\.toml: models\[1\]\.name: duplicate model name 'a'"),
    "non-positive compute": ({"l.toml": ladder(compute=("1e20", "0", "1e22"))},
                             ["run", "l.toml", "--out", "out"], "out/prediction.json",
                             r"l\.toml: models\[1\]\.compute: expected a finite number > 0"),
    "NaN compute": ({"l.toml": ladder(compute=("nan", "1e21", "1e22"))},
                    ["run", "l.toml", "--out", "out"], "out/prediction.json",
                    r"l\.toml: models\[0\]\.compute: expected a finite number > 0"),
    "fewer than three models": ({"l.toml": ladder(models=("a", "b"))},
                                ["run", "l.toml", "--out", "out"], "out/prediction.json",
                                r"l\.toml: models: expected at least 3 ladder models"),
    "ladder not TOML": ({"l.toml": "name = [unclosed\n"}, ["run", "l.toml", "--out", "out"],
                        "out/prediction.json", r"l\.toml: expected a TOML ladder file"),
    "ladder empty": ({"l.toml": ""}, ["run", "l.toml", "--out", "out"],
                     "out/prediction.json", r"l\.toml: target: missing key"),
    "ladder not UTF-8": ({"l.toml": b'name = "\xff"\n'}, ["run", "l.toml", "--out", "out"],
                         "out/prediction.json", r"l\.toml:1: expected UTF-8 text"),
    "unknown key": ({"l.toml": ladder(extra="colour = 1\n")},
                    ["run", "l.toml", "--out", "out"], "out/prediction.json",
                    r"l\.toml: colour: unknown key"),
    "counts c > n": ({"l.toml": ladder(), "b.csv": "task_id,n,c\nT/0,10,5\nT/1,10,11\n"},
                     ["run", "l.toml", "--out", "out"], "out/prediction.json",
                     r"b\.csv:3: c = 11 exceeds n = 10"),
    "counts wrong type": ({"l.toml": ladder(), "c.csv": "task_id,n,c\nT/0,ten,5\n"},
                          ["run", "l.toml", "--out", "out"], "out/prediction.json",
                          r"c\.csv:2: n must be a whole number >= 1, found 'ten'"),
    "counts empty": ({"l.toml": ladder(), "a.csv": ""}, ["run", "l.toml", "--out", "out"],
                     "out/prediction.json", r"a\.csv:1: expected a header task_id,n,c"),
    "counts not UTF-8": ({"l.toml": ladder(), "a.csv": b"task_id,n,c\n\xff,1,1\n"},
                         ["run", "l.toml", "--out", "out"], "out/prediction.json",
                         r"a\.csv:2: expected UTF-8 text"),
    "counts truncated": ({"l.toml": ladder(), "c.csv": "task_id,n,c\nT/0,10,5\nT/1,10"},
                         ["run", "l.toml", "--out", "out"], "out/prediction.json",
                         r"c\.csv:3: expected 3 fields, found 2"),
    "counts unknown task": ({"l.toml": ladder(extra='problems = "humaneval"\n')},
                            ["run", "l.toml", "--out", "out"], "out/prediction.json",
                            r"a\.csv:2: task_id 'T/0' is not in the problem set"),
    "counts missing, found before sampling": (
        {"l.toml": SERVED.replace('counts = "c.csv"', 'counts = "gone.csv"'), **HE_COUNTS},
        ["run", "l.toml", "--out", "out"], "out/samples",
        r"gone\.csv: cannot read the counts file \(No such file or directory\)"),
    "counts of other problems, found before sampling": (
        {"l.toml": SERVED, **HE_COUNTS, "c.csv": "task_id,n,c\nHumanEval/0,10,5\n"},
        ["run", "l.toml", "--out", "out"], "out/samples",
        r"c\.csv: model 'c' lacks 1 problem\(s\) that 'b' has, e\.g\. 'HumanEval/1'"),
    "samples missing, found before sampling": (
        {"l.toml": SERVED.replace('counts = "c.csv"', 'samples = "gone.jsonl"'), **HE_COUNTS},
        ["run", "l.toml", "--out", "out"], "out/samples",
        r"gone\.jsonl: cannot read the file \(No such file or directory\)"),
    "counts that are samples": ({"l.toml": ladder().replace('"b.csv"', '"s.jsonl"'),
                                 "s.jsonl": SAMPLE},
                                ["run", "l.toml", "--out", "out"], "out/prediction.json",
                                r"s\.jsonl: expected verdicts \(objects with task_id and a "
                                r"boolean passed\), found a record without them"),
    "evalplus_tests without EvalPlus results": (
        {"l.toml": ladder(extra='evalplus_tests = "plus"\n')},
        ["run", "l.toml", "--out", "out"], "out/prediction.json",
        r"l\.toml: evalplus_tests: chooses what passes in EvalPlus's results, and no model's "
        r"counts is one"),
    "too few resamples": ({"l.toml": ladder()},
                          ["run", "l.toml", "--out", "out", "--resamples", "0"],
                          "out/prediction.json",
                          r"--resamples: expected a whole number >= 20 \(each tail of a 0\.9 "
                          r"interval needs a draw beyond it\), found 0"),
    "too few resamples for the level": ({"l.toml": ladder()},
                                        ["backtest", "l.toml", "--out", "out", "--level",
                                         "0.99", "--resamples", "100"], "out/backtest.json",
                                        r"--resamples: expected a whole number >= 200"),
    "backtest of three models": ({"l.toml": ladder(), "a.csv": GOOD_COUNTS,
                                  "b.csv": GOOD_COUNTS, "c.csv": GOOD_COUNTS},
                                 ["backtest", "l.toml", "--out", "out"], "out/backtest.json",
                                 r"--largest: holding out 'c' leaves 2 smaller model\(s\); a "
                                 r"prediction needs at least 3 \(add models: a backtest needs "
                                 r"4 models with distinct compute\)"),
    "timeout not positive": ({"s.jsonl": SAMPLE},
                             ["execute", "s.jsonl", "-o", "r.jsonl", "--timeout=-1"], "r.jsonl",
                             r"--timeout: expected a finite number of seconds > 0, found -1"),
    "timeout infinite": ({"s.jsonl": SAMPLE},
                         ["execute", "s.jsonl", "-o", "r.jsonl", "--timeout", "inf"], "r.jsonl",
                         r"--timeout: expected a finite number of seconds > 0, found inf"),
    "memory limit too small": ({"s.jsonl": SAMPLE},
                               ["execute", "s.jsonl", "-o", "r.jsonl", "--memory-limit", "1M"],
                               "r.jsonl", r"--memory-limit: `memory` must be at least 64 MiB"),
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_broken_input(tmp_path, name):
    files, command, output, pattern = CORPUS[name]
    for fname in ("a.csv", "b.csv", "c.csv"):
        (tmp_path / fname).write_text(GOOD_COUNTS)
    for fname, content in files.items():
        path = tmp_path / fname
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    proc = subprocess.run([sys.executable, "-m", "capability", *command], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("capability: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert proc.stdout == ""
    assert not (tmp_path / output).exists()


def test_a_second_writer_of_the_same_results_stops_at_once(tmp_path):
    """While one `capability execute` writes a results file, a second one given the same
    output exits 2 at once, naming the file, and leaves the first's file whole."""
    slow = ('{"task_id": "HumanEval/0", "completion": "    import time\\n    '
            'time.sleep(0.5)\\n    return 1\\n", "i": %d}\n')
    (tmp_path / "s.jsonl").write_text("".join(slow % i for i in range(8)))
    command = [sys.executable, "-m", "capability", "execute", "s.jsonl", "-o", "r.jsonl",
               "--isolation", "best-effort", "--workers", "1", "--no-dedup"]
    first = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "r.jsonl").exists() or not (tmp_path / "r.jsonl").stat().st_size:
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                                timeout=60)
        assert first.poll() is None  # the first was still writing
    finally:
        first.communicate(timeout=120)
    assert second.returncode == 2, second.stderr
    assert re.search(r"capability: error: r\.jsonl: another process is writing this file "
                     r"now \(a second `capability execute` with the same output\?\)",
                     second.stderr), second.stderr
    assert first.returncode == 0, first.stderr
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["i"] for r in rows] == list(range(8))


def test_files_saved_with_a_byte_order_mark_are_read(tmp_path):
    """Excel's "CSV UTF-8" and Windows editors open a file with a UTF-8 byte-order mark.
    The ladder file, a counts file, a long counts file and a JSONL file are read as
    without it (a counts file with one failed on "missing column 'task_id'", its header
    read as '\\ufefftask_id')."""
    from capability.evaluation.evaluate import read_model_counts
    from capability.files.counts import read_counts
    from capability.files.jsonl import iter_jsonl
    from capability.files.ladder import load_ladder

    bom = "\ufeff"
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.csv").write_text(bom + GOOD_COUNTS.replace("\n", "\r\n"),
                                              encoding="utf-8")
    (tmp_path / "ladder.toml").write_text(bom + ladder(), encoding="utf-8")
    (tmp_path / "s.jsonl").write_text(bom + SAMPLE, encoding="utf-8")
    (tmp_path / "long.csv").write_text(bom + "model,task_id,n,c\nm,T/0,10,5\n",
                                       encoding="utf-8")
    read = load_ladder(tmp_path / "ladder.toml")
    assert [m.name for m in read.models] == ["a", "b", "c"] and read.target.name == "big"
    counts = read_counts(tmp_path / "a.csv")
    assert list(counts.columns) == ["task_id", "n", "c"] and list(counts["c"]) == [5, 7, 1]
    assert [obj["task_id"] for _, obj in iter_jsonl(tmp_path / "s.jsonl")] == ["HumanEval/0"]
    long = read_model_counts(tmp_path / "long.csv")
    assert list(long) == ["m"] and list(long["m"]["n"]) == [10]
    # A byte that is not UTF-8 is still placed on its own line behind the mark.
    from capability.errors import InputError

    (tmp_path / "bad.toml").write_bytes(b'\xef\xbb\xbfname = "x"\ntarget = "big"\n# \xff\n')
    with pytest.raises(InputError, match=r"bad\.toml:3: expected UTF-8 text"):
        load_ladder(tmp_path / "bad.toml")
