"""Read EvalPlus's evaluation results (``evalplus.evaluate``'s ``eval_results.json``) as
per-problem pass counts.

EvalPlus writes one JSON object::

    {"date": ..., "hash": ..., "eval": {task_id: [{"task_id", "solution", "base_status",
     "plus_status", "base_fail_tests", "plus_fail_tests"}, ...]}, "pass_at_k": ...}

with a verdict per sample: ``base_status`` on the benchmark's own tests (HumanEval's, for
HumanEval) and ``plus_status`` on EvalPlus's extra tests (``null`` when it ran with
``--base-only``); a status is ``"pass"``, ``"fail"`` or ``"timeout"``. A sample passes:

* ``tests = "base"``: when ``base_status`` is ``"pass"`` (HumanEval's tests, as EvalPlus runs
  them);
* ``tests = "plus"``: when both are (HumanEval+, EvalPlus's own ``pass@k`` for "plus").
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from capability.errors import InputError
from capability.options import EVALPLUS_TESTS

__all__ = ["read_evalplus_results", "is_evalplus_results"]

_PASS = "pass"


def is_evalplus_results(path: str | Path) -> bool:
    """Whether ``path`` is named as EvalPlus names its results (``.json``, not JSONL)."""
    return Path(path).name.lower().endswith(".json")


def read_evalplus_results(path: str | Path, tests: str = "base") -> pd.DataFrame:
    """Per-problem counts of an EvalPlus results file.

    Returns
    -------
    pandas.DataFrame
        ``task_id``, ``n`` (samples evaluated), ``c`` (samples that passed ``tests``), in
        the file's task order.

    Raises
    ------
    InputError
        Naming the file (and the task and sample): not JSON, not EvalPlus's layout, a
        status that is not a string, no plus verdicts where ``tests = "plus"``, or no
        problems.
    """
    path = Path(path)
    if tests not in EVALPLUS_TESTS:
        raise ValueError(f"tests must be one of {', '.join(EVALPLUS_TESTS)}, not {tests!r}")
    try:
        doc = json.loads(path.read_bytes())
    except OSError as err:
        raise InputError(f"cannot read the results file ({err.strerror or err})",
                         path=path) from None
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(f"expected EvalPlus's eval_results.json, found a file that is not "
                         f"JSON ({err})", path=path) from None
    tasks = doc.get("eval") if isinstance(doc, dict) else None
    if not isinstance(tasks, dict):
        raise InputError("expected EvalPlus's eval_results.json: an object whose 'eval' maps "
                         "each task_id to its samples' verdicts", path=path, key="eval")
    rows = []
    for task_id, samples in tasks.items():
        where = f"eval[{json.dumps(task_id)}]"
        if not isinstance(samples, list) or not samples:
            raise InputError("expected a non-empty list of the task's samples",
                             path=path, key=where)
        passed = 0
        for i, sample in enumerate(samples):
            base = sample.get("base_status") if isinstance(sample, dict) else None
            plus = sample.get("plus_status") if isinstance(sample, dict) else None
            if not isinstance(base, str):
                raise InputError(f"expected a sample with a string base_status, found "
                                 f"{json.dumps(sample)[:80]}", path=path, key=f"{where}[{i}]")
            if tests == "plus" and not isinstance(plus, str):
                raise InputError("this sample has no plus verdict (plus_status null: "
                                 "EvalPlus ran with --base-only); count its base tests "
                                 "instead (--evalplus-tests base, or a ladder file's "
                                 "evalplus_tests = \"base\")", path=path,
                                 key=f"{where}[{i}].plus_status")
            passed += base == _PASS and (tests == "base" or plus == _PASS)
        rows.append((task_id, len(samples), passed))
    if not rows:
        raise InputError("expected the verdicts of at least one task, found none",
                         path=path, key="eval")
    return pd.DataFrame(rows, columns=["task_id", "n", "c"]).astype({"n": "int64",
                                                                    "c": "int64"})
