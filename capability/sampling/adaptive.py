"""Adaptive budgets (after PassUntil, Hu et al. 2023): sample each problem in rounds --
sample, execute, decide -- until it has ``until_passes`` passing samples or ``n_max``
samples. Easy problems stop after a round; very hard ones get the samples their tiny pass
rates need. Counts record the rule (column ``r``) so the estimators can undo its bias.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from capability.execution.execute import execute_samples
from capability.files.jsonl import iter_jsonl
from capability.files.problems import Problem
from capability.sampling import SamplingSettings
from capability.sampling.run import sample_model, scan_samples

__all__ = ["count_until_passes", "sample_adaptive"]


def count_until_passes(results: str | Path, until_passes: int) -> pd.DataFrame:
    """Counts of an adaptive run: per task, samples in ``sample_index`` order up to and
    including the ``until_passes``-th pass (later ones, drawn in the same round, are not
    counted: the stopping rule is applied exactly). Columns ``task_id, n, c, r``."""
    outcomes: dict[str, list[tuple[int, bool]]] = {}
    for _, obj in iter_jsonl(results):
        outcomes.setdefault(obj["task_id"], []).append((obj.get("sample_index", 0),
                                                        bool(obj["passed"])))
    rows = []
    for task_id, seq in outcomes.items():
        seq.sort()
        passes = n = 0
        for _, ok in seq:
            n += 1
            passes += ok
            if passes == until_passes:
                break
        rows.append((task_id, n, passes, until_passes))
    return pd.DataFrame(rows, columns=["task_id", "n", "c", "r"]).astype(
        {"n": "int64", "c": "int64", "r": "int64"})


def sample_adaptive(backend_factory: Callable[[], object], problems: dict[str, Problem],
                    settings: SamplingSettings, samples: str | Path, results: str | Path, *,
                    model: str, sandbox, progress: bool = True) -> pd.DataFrame:
    """Run rounds of ``settings.n`` samples per unfinished problem until each has
    ``settings.until_passes`` passes or ``settings.n_max`` samples; every round's samples
    are executed in ``sandbox`` before deciding. Resumable at any point. Returns the counts
    (see :func:`count_until_passes`)."""
    samples, results = Path(samples), Path(results)
    r, cap, step = settings.until_passes, settings.n_max, settings.n
    while True:
        have = {t: len(ix) for t, ix in scan_samples(samples, model,
                                                      settings.record()).items()}
        if have:
            execute_samples(samples, results, problems, sandbox=sandbox, progress=progress)
            counts = count_until_passes(results, r).set_index("task_id")
        else:
            counts = pd.DataFrame(columns=["n", "c"])
        want = {}
        for task_id in problems:
            drawn = have.get(task_id, 0)
            reached = task_id in counts.index and counts.loc[task_id, "c"] >= r
            if not reached and drawn < cap:
                want[task_id] = min(drawn + step, cap)
        if not want:
            return count_until_passes(results, r)
        sample_model(backend_factory, [problems[t] for t in want], settings, samples,
                     model=model, want=want, progress=progress)
