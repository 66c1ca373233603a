"""Difficulty buckets from the ladder models' results (pure: arrays in, a dataclass out).

Steps, in order, each a parameter:

1. **Exclude** (``zero_policy``): with ``"exclude"`` (the GPT-4 report's practice) a problem
   that some ladder model never solved (``c = 0``) is excluded, since ``-log pass_rate`` is
   unbounded there; with ``"keep"`` or ``"jeffreys"`` it stays (the ``-log p`` estimator must
   then be finite at ``c = 0``; ``"jeffreys"`` also selects the Jeffreys posterior-mean
   estimator, see :mod:`capability.prediction.predict`).
2. **Order** by difficulty (``difficulty``): ``"mean-pass-rate"`` -- the mean over ladder
   models of ``c / n`` (default); ``"largest-model"`` -- the largest ladder model's ``c / n``,
   ties broken by the mean. Ties go in task-id order (natural: ``HumanEval/2`` before
   ``HumanEval/10``, :mod:`capability.estimation.task_order`), never the order of a file's
   rows, so shuffled counts bucket alike; the assignment names every set of tied problems that
   straddles a bucket's edge or the hold-out's (:class:`TiedSplit`): with few samples per
   problem many problems share a mean pass rate (two samples on five models allow
   eleven), and which of them is held out or falls in which bucket is then only their
   task ids.
3. **Hold out** the ``hold_out`` hardest of the rest (default 15, as in the report).
4. **Split** what remains into ``n_buckets`` buckets (default 6), bucket 1 = easiest:
   ``"equal-count"`` -- consecutive runs of (nearly) equal size, earlier buckets taking the
   remainder; ``"equal-width"`` -- equal-width intervals of the difficulty score between the
   easiest and hardest kept problem (buckets may then be empty).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capability.estimation.task_order import task_key
from capability.options import DIFFICULTIES, SPLITS, ZERO_POLICIES

__all__ = ["BucketAssignment", "TiedSplit", "assign_buckets", "ZERO_POLICIES", "DIFFICULTIES",
           "SPLITS"]

# Difficulty keys equal to this many decimals count as one difficulty (a mean of rates that
# are equal fractions can differ in its last bits, and then only rounding orders them).
_TIE_DECIMALS = 12


@dataclass(frozen=True)
class TiedSplit:
    """Problems of one difficulty (every difficulty key equal) that the split puts in more
    than one place: the counts cannot order them, so which lands where follows their task
    ids (:func:`capability.estimation.task_order.task_key`).

    Attributes
    ----------
    problems
        How many problems share the difficulty (excluded ones not counted).
    buckets
        The 1-based buckets that hold some of them, in order.
    held_out
        How many of them are held out.
    score
        Their difficulty score (as :attr:`BucketAssignment.difficulty`).
    """

    problems: int
    buckets: tuple[int, ...]
    held_out: int
    score: float


@dataclass(frozen=True)
class BucketAssignment:
    """Which problems fall in which bucket.

    Attributes
    ----------
    buckets
        ``buckets[b]`` holds the task ids of bucket ``b + 1`` (bucket 1 = easiest), each in
        order from easiest to hardest.
    held_out
        The hardest problems set aside (hardest last).
    excluded
        Problems removed by the zero policy, in the order of ``task_ids``.
    difficulty
        ``{task_id: score}`` for every problem; higher = easier.
    ties
        Sets of problems of one difficulty that straddle a bucket's edge or the hold-out's
        (:class:`TiedSplit`), easiest first; empty where the counts order every edge.
    """

    buckets: tuple[tuple[str, ...], ...]
    held_out: tuple[str, ...]
    excluded: tuple[str, ...]
    difficulty: dict[str, float]
    ties: tuple[TiedSplit, ...] = ()

    def bucket_of(self, task_id: str) -> int | None:
        """The 1-based bucket of ``task_id``, or None when held out or excluded."""
        for b, ids in enumerate(self.buckets, start=1):
            if task_id in ids:
                return b
        return None


def _assign_iv(n, c, task_ids, n_buckets, hold_out, zero_policy, difficulty, split):
    n = np.atleast_2d(np.asarray(n))
    c = np.atleast_2d(np.asarray(c))
    if n.shape != c.shape:
        raise ValueError(f"`n` and `c` must have the same shape (models, problems). "
                         f"Got {n.shape} and {c.shape} instead.")
    if len(task_ids) != n.shape[1]:
        raise ValueError(f"`task_ids` must have one entry per problem column ({n.shape[1]}). "
                         f"Got {len(task_ids)} instead.")
    if len(set(task_ids)) != len(task_ids):
        raise ValueError("`task_ids` must be distinct.")
    if not (isinstance(n_buckets, (int, np.integer)) and n_buckets >= 1):
        raise ValueError(f"`n_buckets` must be an integer >= 1. Got {n_buckets!r} instead.")
    if not (isinstance(hold_out, (int, np.integer)) and hold_out >= 0):
        raise ValueError(f"`hold_out` must be an integer >= 0. Got {hold_out!r} instead.")
    for name, value, options in (("zero_policy", zero_policy, ZERO_POLICIES),
                                 ("difficulty", difficulty, DIFFICULTIES),
                                 ("split", split, SPLITS)):
        if value not in options:
            raise ValueError(f"`{name}` must be one of {', '.join(options)}. "
                             f"Got {value!r} instead.")
    return n, c, list(task_ids)


def assign_buckets(n, c, task_ids, *, n_buckets: int = 6, hold_out: int = 15,
                   zero_policy: str = "exclude", difficulty: str = "mean-pass-rate",
                   split: str = "equal-count") -> BucketAssignment:
    """Assign problems to difficulty buckets from the ladder models' counts.

    Parameters
    ----------
    n, c
        Arrays of shape ``(models, problems)``: samples drawn and passed, ladder models only
        (never the target), ordered from smallest to largest compute.
    task_ids
        One id per problem column.
    n_buckets, hold_out, zero_policy, difficulty, split
        See the module docstring.

    Raises
    ------
    ValueError
        Bad shapes or options, or fewer kept problems than ``hold_out + n_buckets``.
    """
    n, c, task_ids = _assign_iv(n, c, task_ids, n_buckets, hold_out, zero_policy,
                                difficulty, split)
    rate = c / n
    if difficulty == "mean-pass-rate":
        score = rate.mean(axis=0)
        order_keys = (score,)
    else:
        score = rate[-1]
        order_keys = (rate.mean(axis=0), score)  # lexsort: last key is primary
    keep = np.ones(len(task_ids), dtype=bool)
    if zero_policy == "exclude":
        keep = np.all(c > 0, axis=0)
    excluded = tuple(t for t, k in zip(task_ids, keep) if not k)
    kept = np.flatnonzero(keep)
    if kept.size < hold_out + n_buckets:
        raise ValueError(f"{kept.size} problems remain after the zero policy "
                         f"({len(excluded)} excluded); {hold_out + n_buckets} are needed: "
                         f"the {hold_out} hardest to hold out and one for each of "
                         f"{n_buckets} buckets. Lower --hold-out or --buckets (hold_out, "
                         "n_buckets in Python)" + (", or use --zero-policy keep."
                                                   if zero_policy == "exclude" else "."))
    # Easiest first, ties in task-id order (lexsort: the last key is the primary one).
    by_id = np.empty(len(task_ids), dtype=np.int64)
    by_id[sorted(range(len(task_ids)), key=lambda i: task_key(task_ids[i]))] = \
        np.arange(len(task_ids))
    order = kept[np.lexsort((by_id[kept], *(-key[kept] for key in order_keys)))]
    n_in = kept.size - hold_out
    held_out = tuple(task_ids[i] for i in order[n_in:])
    inside = order[:n_in]
    if split == "equal-count":
        groups = np.array_split(inside, n_buckets)
    else:
        s = score[inside]
        edges = np.linspace(s.max(), s.min(), n_buckets + 1)
        which = np.clip(np.searchsorted(-edges, -s, side="right") - 1, 0, n_buckets - 1)
        groups = [inside[which == b] for b in range(n_buckets)]
    buckets = tuple(tuple(task_ids[i] for i in g) for g in groups)
    label = np.full(len(task_ids), n_buckets)          # n_buckets: held out
    for b, g in enumerate(groups):
        label[g] = b
    return BucketAssignment(buckets=buckets, held_out=held_out, excluded=excluded,
                            difficulty={t: float(s) for t, s in zip(task_ids, score)},
                            ties=_ties(order, label, order_keys, score, n_buckets))


def _ties(order, label, order_keys, score, n_buckets) -> tuple[TiedSplit, ...]:
    """The runs of equal difficulty keys along ``order`` (easiest first) whose problems carry
    more than one ``label`` (a bucket's index, or ``n_buckets`` where held out)."""
    keys = np.round(np.stack([k[order] for k in order_keys], axis=1), _TIE_DECIMALS)
    starts = np.flatnonzero(np.r_[True, np.any(keys[1:] != keys[:-1], axis=1)])
    out = []
    for lo, hi in zip(starts, np.r_[starts[1:], len(order)]):
        where = label[order[lo:hi]]
        if where.min() == where.max():
            continue
        inside = np.unique(where[where < n_buckets])
        out.append(TiedSplit(problems=int(hi - lo), buckets=tuple(int(b) + 1 for b in inside),
                             held_out=int(np.sum(where == n_buckets)),
                             score=float(score[order[lo]])))
    return tuple(out)
