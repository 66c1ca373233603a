"""Adaptive budgets (after PassUntil, Hu et al. 2023): sample each problem in rounds --
sample, execute, decide -- until it has ``until_passes`` passing samples or ``n_max``
samples. Easy problems stop after a round; very hard ones get the samples their tiny pass
rates need. Counts record the rule (column ``r``) so the estimators can undo its bias.

Which samples are counted (:func:`stopped_counts`). A problem that stopped after its first
round is a fixed-size sample: the whole round counts, ``r = 0``. A problem sampled on
counts up to its ``r``-th pass, ``r`` recorded, and the estimators apply the stopping rule
to them (:func:`capability.estimation.estimate.inverse_sampling_counts`). Both are
unbiased together: given the first round's ``c_1 >= r`` passes in exchangeable order, the
stopping rule's estimate on the first ``n - 1`` samples averages to the fixed-size one on
the whole round (Rao-Blackwell on ``c_1``), so counting that round whole keeps every
estimator's mean and lowers its variance -- for an easy problem it reads the round's ``m``
samples instead of the ``r - 1`` before its ``r``-th pass. The laws' likelihood fits read
the counts as kept here, not the estimators' ``(n - 1, c - 1)``: the likelihood of a path
is ``p^c (1 - p)^(n - c)`` under any stopping rule
(:meth:`capability.laws.base.LadderData.likelihood_counts`).
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

__all__ = ["count_until_passes", "sample_adaptive", "stopped_counts"]


def stopped_counts(passed: list[bool], until_passes: int,
                   first_round: int | None = None) -> tuple[int, int, int]:
    """``(n, c, r)`` of one problem's outcomes in sampling order (pure).

    Where ``first_round`` is given and the problem has exactly that many samples, the
    rule stopped it after its first round: a fixed-size sample, counted whole, ``r = 0``.
    Otherwise the samples up to and including the ``until_passes``-th pass (later ones,
    drawn in the same round, are not counted: the stopping rule is applied exactly),
    ``r = until_passes``; every sample where it never passed that often (the cap).
    """
    if first_round is not None and len(passed) == first_round:
        return len(passed), int(sum(passed)), 0
    passes = n = 0
    for ok in passed:
        n += 1
        passes += bool(ok)
        if passes == until_passes:
            break
    return n, passes, until_passes


def count_until_passes(results: str | Path, until_passes: int,
                       first_round: int | None = None) -> pd.DataFrame:
    """Counts of an adaptive run: per task, :func:`stopped_counts` of its results in
    ``sample_index`` order, ``first_round`` the round size (``min(n, n_max)``; None counts
    every task up to its ``until_passes``-th pass). Columns ``task_id, n, c, r``."""
    outcomes: dict[str, list[tuple[int, bool]]] = {}
    for _, obj in iter_jsonl(results):
        outcomes.setdefault(obj["task_id"], []).append((obj.get("sample_index", 0),
                                                        bool(obj["passed"])))
    rows = [(task_id, *stopped_counts([ok for _, ok in sorted(seq)], until_passes,
                                      first_round))
            for task_id, seq in outcomes.items()]
    return pd.DataFrame(rows, columns=["task_id", "n", "c", "r"]).astype(
        {"n": "int64", "c": "int64", "r": "int64"})


def sample_adaptive(backend_factory: Callable[[], object], problems: dict[str, Problem],
                    settings: SamplingSettings, samples: str | Path, results: str | Path, *,
                    model: str, sandbox, progress: bool = True) -> pd.DataFrame:
    """Run rounds of ``settings.n`` samples per unfinished problem until each has
    ``settings.until_passes`` passes or ``settings.n_max`` samples; every round's samples
    are executed in ``sandbox`` before deciding. Resumable at any point. Returns the counts
    (see :func:`count_until_passes`; a problem stopped after its first round is counted
    whole)."""
    samples, results = Path(samples), Path(results)
    r, cap, step = settings.until_passes, settings.n_max, settings.n
    first = min(step, cap)
    while True:
        have = {t: len(ix) for t, ix in scan_samples(samples, model,
                                                      settings.record()).items()}
        if have:
            execute_samples(samples, results, problems, sandbox=sandbox, progress=progress)
            counts = count_until_passes(results, r, first).set_index("task_id")
        else:
            counts = pd.DataFrame(columns=["n", "c"])
        want = {}
        for task_id in problems:
            drawn = have.get(task_id, 0)
            reached = task_id in counts.index and counts.loc[task_id, "c"] >= r
            if not reached and drawn < cap:
                want[task_id] = min(drawn + step, cap)
        if not want:
            return count_until_passes(results, r, first)
        sample_model(backend_factory, [problems[t] for t in want], settings, samples,
                     model=model, want=want, progress=progress)
