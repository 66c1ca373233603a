"""The prediction's notes (pure): one sentence per thing about the ladder, its backtests
or its counts that a reader of the prediction should know, kept in ``prediction.json``'s
``warnings`` and printed as ``capability: note: ...``. Each function returns the notes
of one stage of :func:`capability.prediction.predict.predict`, in the order it prints them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from capability.estimation.buckets import BucketAssignment
from capability.estimation.interval import level_text
from capability.prediction.calibrate import FALLBACK_DOF, FALLBACK_SIGMA
from capability.prediction.offsets import ModelOffsets
from capability.prediction.rolling import RollingStep
from capability.prediction.selection import excluded_laws

__all__ = ["input_notes", "backtest_notes", "distance_notes", "offset_notes",
           "count_notes", "single_sample_notes", "tie_notes", "pass_at_k_notes", "ks_above_samples",
           "samples_per_problem", "shared_compute_notes", "wide_interval_notes",
           "BEYOND_BACKTESTS", "PASS_AT_K_BEYOND_SAMPLES", "SCATTER_NOTE", "WIDE_INTERVAL",
           "UNREAD_OFFSETS_NOTE"]

# A target more than this multiple of the longest rolling backtest's distance beyond the
# ladder gets a note: the interval's law error is extrapolated past what the backtests saw
# (on simulated ladders whose growth changes beyond the ladder, 90% intervals held 0.77 and
# 0.30 at two decades beyond with backtests of one; docs/accuracy-history.md).
BEYOND_BACKTESTS = 1.25
# What pass@k beyond the ladder's samples per problem held, measured (docs/accuracy-history.md,
# 2026-12-05): quoted by the note and by the headline's footnote (capability.reports.table).
PASS_AT_K_BEYOND_SAMPLES = ("on simulated emergent ladders with 20 samples per problem, "
                            "pass@100's 90% interval held the truth in 0.45-0.75 of them")
# A note names the problem-by-model scatter above this variance on the logit scale (sd 0.3).
SCATTER_NOTE = 0.09
# A bucket whose mean pass rate interval is at least this wide (pass rate, of [0, 1]) gets a
# note: its interval holds nearly every pass rate, so the prediction says little there.
WIDE_INTERVAL = 0.9


def shared_compute_notes(names: Sequence[str], compute: np.ndarray) -> list[str]:
    """One note per group of ladder models that share one compute (``compute`` sorted
    ascending, as ``names``): the laws fit them at one point, their difference read as the
    models' scatter about the family's trend, and no rolling backtest predicts one from
    another (none lies beyond the others)."""
    notes, j = [], 0
    while j < len(names):
        k = j
        while k + 1 < len(names) and not compute[k + 1] > compute[j]:
            k += 1
        if k > j:
            group = ", ".join(map(str, names[j:k + 1]))
            notes.append(f"{group} share one compute ({compute[j]:.3g} FLOPs): the laws "
                         "fit them at one point, their difference read as the models' "
                         "scatter about the family's trend, and no rolling backtest "
                         "predicts one of them from another; if they are different sizes, "
                         "check their compute")
        j = k + 1
    return notes


def input_notes(others: Sequence[str], target: str, names: Sequence[str],
                nominal: np.ndarray, worse: Sequence[dict]) -> list[str]:
    """What the counts and the models are: rows of models that are not ladder models (the
    target's among them), models that share one compute, problems that get worse with
    scale (``worse``, :func:`capability.estimation.trends.inverse_scaling`'s records)."""
    notes = []
    if others:
        notes.append(f"counts hold rows of {len(others)} model(s) that are not ladder models, "
                     f"left out: {', '.join(others[:5])}{' ...' if len(others) > 5 else ''}"
                     + (f" (the target {target!r} among them: its rows were not read)"
                        if target in others else ""))
    notes.extend(shared_compute_notes(names, nominal))
    if worse:
        notes.append(f"{len(worse)} problem(s) get worse with scale against their bucket's "
                     f"law (see inverse_scaling): {', '.join(w['task_id'] for w in worse[:5])}"
                     f"{' ...' if len(worse) > 5 else ''}; their buckets may be predicted low")
    return notes


def backtest_notes(steps: Sequence[RollingStep], short_steps: Sequence[RollingStep], *,
                   n_models: int, n_distinct: int, min_below: int, forced: str | None,
                   short_excluded: Sequence[str], averaged: set[str], chosen: set[str],
                   widening: dict[str, float], offsets_used: bool) -> list[str]:
    """What the backtests could tell: none at all (the fallback rule, and each law the short
    backtest widened), or one held model only. ``averaged`` are the laws some bucket
    averages, ``chosen`` those a bucket uses alone; ``widening`` per law the factor on the
    fallback rule's law error. ``n_distinct`` of the ``n_models`` ladder models have
    distinct compute: a model at the compute of the one below it is no backtest step."""
    notes = []
    if not steps:
        how = ("a short backtest (each model predicted from the two below it" +
               ("; 'no_change' set aside: one held model cannot tell growth that stopped "
                "from that model sitting off its family's trend)" if short_excluded else ")")
               if short_steps else "the default order" if forced is None else "--law")
        which = ("the laws were averaged by the evidence of " if averaged else
                 "the law was chosen by ")
        distinct = (f" of distinct compute for one (this one has {n_models}, {n_distinct} "
                    "of distinct compute)" if n_distinct < n_models else
                    f" for one (this one has {n_models})")
        notes.append(f"no rolling backtest: a ladder needs at least {min_below + 1} "
                     f"models{distinct}; {which}"
                     f"{how} and the interval widened by the fallback rule (law error "
                     f"{FALLBACK_SIGMA['mean_pass_rate']} per decade on the angular scale, "
                     f"{FALLBACK_DOF} degrees of freedom)")
        used = averaged or chosen
        wide = [(law, widen) for law, widen in widening.items()
                if widen > 1 and law in used]
        if wide:
            notes.append("the short backtest's " + ", ".join(
                f"{law} erred {widen * FALLBACK_SIGMA['mean_pass_rate']:.2g}"
                for law, widen in wide) + " per decade on the angular scale, more than the "
                "fallback rule allows: their law errors are widened to it (" +
                ", ".join(f"{law} {widen:.2f}x" for law, widen in wide) + ")")
    elif excluded_laws(steps):
        notes.append(f"the rolling backtests predict one model only ({steps[0].held}): the "
                     "interval's law-error term rests on that one model's errors, which "
                     "cannot tell growth that stopped from that model sitting off its "
                     "family's trend, so 'no_change' is not averaged in" +
                     ("" if offsets_used else "; without the models' offsets (left out "
                      "by --no-offsets, or unread) its offset is read as law error in every "
                      "bucket"))
    return notes


def distance_notes(steps: Sequence[RollingStep], *, distance: float, reach: float,
                   target_compute: float, largest: float) -> list[str]:
    """Where the target lies: further beyond the ladder than the backtests reach
    (``BEYOND_BACKTESTS``), or not beyond it at all (a backcast or an interpolation).
    ``distance`` and ``reach`` in decades, as in ``selection``; ``largest`` the largest
    ladder model's nominal compute."""
    notes = []
    longest = max((st.distance for st in steps), default=0.0)
    if steps and distance > BEYOND_BACKTESTS * longest:
        notes.append(f"the target lies {distance:.2f} decades beyond the largest ladder model, "
                     f"{distance / longest:.1f}x the longest rolling backtest "
                     f"({longest:.2f} decades): past that reach the law error is taken to "
                     "grow in proportion to the distance, and a bend the backtests read with "
                     "its square, which the backtests cannot check; growth that changes "
                     "beyond the ladder (problems that emerge later, a bend that begins past "
                     "the largest model) is not in the interval (README: targets far beyond "
                     "the ladder)")
    if distance <= 0:
        notes.append(f"the target's compute ({target_compute:.3g} FLOPs) is not above the "
                     f"largest ladder model's ({largest:.3g}): " +
                     (f"a backcast below every ladder model, {reach:.2f} decades below the "
                      "smallest, so the intervals carry the law error of an extrapolation "
                      "that far (as beyond the largest model)" if reach > 0 else
                      "an interpolation within the ladder, so the intervals carry no law "
                      "error beyond the fits' own noise (it grows with the distance outside "
                      "the ladder, here none)") +
                     "; check the target's compute if an extrapolation was meant")
    return notes


def _bucket_list(buckets: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` as ``"1-3, 5"``."""
    runs: list[list[int]] = []
    for b in buckets:
        if runs and b == runs[-1][-1] + 1:
            runs[-1].append(b)
        else:
            runs.append([b])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def wide_interval_notes(intervals: Sequence[tuple[int, float, float]], *, level: float,
                        rolling: bool, forced: str | None = None,
                        forced_error: float | None = None) -> list[str]:
    """One note where buckets' mean pass rate intervals (``(bucket, low, high)``, pass rates)
    are at least ``WIDE_INTERVAL`` wide: the errors the rolling backtests read (the law's,
    the models' offsets', a bend's; with no backtest, the fallback rule's law error) are as
    large as the scale at the target, so those buckets' estimates say little. A forced law
    (``forced``, whose backtests erred ``forced_error`` points on average) is named:
    ``--law auto`` weighs the candidates by those backtests."""
    # 1e-9: an interval printed as 0.050 to 0.950 is 0.9 wide, whatever its float error.
    wide = [(b, lo, hi) for b, lo, hi in intervals
            if np.isfinite(lo) and np.isfinite(hi) and hi - lo >= WIDE_INTERVAL - 1e-9]
    if not wide:
        return []
    b, lo, hi = max(wide, key=lambda w: w[2] - w[1])
    source = ("the errors the rolling backtests read (the law's, the models' offsets from "
              "their family's trend, a bend in its growth) are" if rolling else
              "the fallback rule's law error (no rolling backtest to read one from) is")
    law = ""
    if forced is not None:
        erred = (f", whose rolling backtests erred {forced_error:.1f} points on average"
                 if rolling and forced_error is not None and np.isfinite(forced_error) else "")
        law = (f"; the law is forced (--law {forced}{erred}): --law auto weighs the "
               "candidate laws by the ladder's backtests")
    return [f"bucket{'s' if len(wide) > 1 else ''} {_bucket_list([w[0] for w in wide])}: the "
            f"{level_text(level)} interval of the mean pass rate spans {WIDE_INTERVAL:.0%} or "
            f"more of [0, 1] (bucket {b}: {lo:.3f} to {hi:.3f}): {source} as large as the scale at "
            "the target's distance, so the estimate there says little; "
            f"prediction.json's interval_method says what the width is made of{law}"]


UNREAD_OFFSETS_NOTE = (
    "the models' offsets from their family's trend could not be read (neither the logit "
    "nor the cloglog fit of them converged, as where the counts barely move): the "
    "intervals leave them out")


def offset_notes(names: Sequence[str], offsets: ModelOffsets, compute: np.ndarray) -> list[str]:
    """The models plainly off their family's trend, where the laws are fitted on effective
    compute (``compute``, in the models' nominal order): their visible offsets, and the
    pairs whose order the offsets reverse."""
    shown = ", ".join(f"{name} {u:+.2f}" for name, u in zip(names, offsets.offsets))
    notes = ["the ladder's models sit off their family's trend (probability of none "
             f"{offsets.none_probability:.2g}; visible offsets in decades of "
             f"compute: {shown}): every law is fitted on effective compute, C x "
             "10^offset, and the target's own offset, which no ladder shows, widens "
             "the intervals"]
    passed = [(names[j], names[k]) for j in range(len(names))
              for k in range(j + 1, len(names)) if compute[j] > compute[k]]
    if passed:
        notes.append("on effective compute " + ", ".join(
            f"{small} lies above {large}" for small, large in passed) +
            ": the models are off their trend by more than the ladder's spacing; "
            "distances (to the target, in the backtests) are taken on the nominal "
            "compute")
    return notes


def count_notes(n: np.ndarray, c: np.ndarray, *, scatter: float, excluded: int,
                zero_policy: str) -> list[str]:
    """What the counts ``(M, P)`` show: problem-by-model scatter beyond the binomial noise
    (``scatter``, its variance on the logit scale, above ``SCATTER_NOTE``), problems every
    sample of every model passed, problems no model solved once (kept: their predictions
    rest on the prior the per-problem laws pool, not on a trend of their own), and problems
    some model never solved (``excluded`` of them by the zero policy, else kept)."""
    notes = []
    if scatter > SCATTER_NOTE:
        notes.append(f"the counts scatter about each problem's trend by more than their "
                     f"binomial noise (a problem-by-model effect of sd "
                     f"{np.sqrt(scatter):.2f} on the logit scale): the "
                     "per-problem laws trust a single problem's trend less")
    saturated = int(np.sum(np.all(c == n, axis=0)))
    if saturated:
        notes.append(f"{saturated} problem(s) saturated: every sample of every ladder model "
                     "passed")
    unsolved = int(np.sum(np.any(c == 0, axis=0)))
    never = int(np.sum(np.all(c == 0, axis=0)))
    if never and not excluded:
        notes.append(f"{never} problem(s) no ladder model solved in any sample"
                     + (" (every problem)" if never == c.shape[1] else "")
                     + ": what is predicted for them rests on the prior the per-problem laws "
                     "pool across problems and on the laws' shape, not on a trend of their "
                     "own")
    if excluded:
        notes.append(f"{excluded} problem(s) excluded: some ladder model "
                     "never solved them (zero policy 'exclude')")
    elif unsolved:
        notes.append(f"{unsolved} problem(s) some ladder model never solved are kept, not "
                     f"excluded (zero policy '{zero_policy}'): the per-problem laws "
                     "read c = 0 as information")
    return notes


def single_sample_notes(n: np.ndarray) -> list[str]:
    """One note where the ladder models have one sample per problem
    (:func:`samples_per_problem`: greedy decoding, say). Measured on simulated ladders,
    20 seeds a kind (`python bench/accuracy.py --no-real --samples 1 --headline`,
    2026-12-07): the buckets' 90% intervals held 0.76 of the truth on emergent ladders,
    every bucket predicted low (by 9-14 points on average, 10 seeds), 0.79 on ``family``
    ladders, 0.85-0.97 on the others run (clean, ceilings, slowing, interaction); pass@1's
    0.60 and 0.75 on the first two. With 5, 10 and 20 samples emergent ladders held
    0.92, 0.80 and 0.94 (docs/accuracy-history.md)."""
    if samples_per_problem(n) != 1:
        return []
    return ["the ladder models have one sample per problem: each problem's counts are one "
            "pass or fail per model, which tells the per-problem laws little and leaves the "
            "backtests that weigh the laws noisy (on simulated ladders with one sample per "
            "problem the buckets' 90% intervals held the truth in 0.76 of emergent families, "
            "every bucket predicted low, and in 0.79-0.97 of the other kinds run; with 5-20 "
            "samples, 0.80-0.94 of emergent families)"]


def tie_notes(assignment: BucketAssignment, difficulty: str) -> list[str]:
    """One note where problems of one difficulty straddle a bucket's edge or the
    hold-out's (:attr:`BucketAssignment.ties`): the counts cannot order them, so where each
    lands follows its task id (:mod:`capability.estimation.task_order`). Most often problems
    no ladder model solved (or every sample passed) where the ladder models draw few samples
    per problem; then the held-out problems among them, and the buckets they share, are an
    arbitrary (if repeatable) pick of them. Equal-width buckets keep each set in one
    bucket, which the note says."""
    parts = []
    for tie in assignment.ties:
        first, last = tie.buckets[0], tie.buckets[-1]
        where = (f"bucket {first}" if first == last else
                 f"buckets {first} and {last}" if len(tie.buckets) == 2 else
                 f"buckets {first} to {last}")
        every = ""
        if difficulty == "mean-pass-rate" and tie.score in (0.0, 1.0):
            every = " (every sample " + ("failed)" if tie.score == 0.0 else "passed)")
        parts.append(f"{tie.problems} at {tie.score:.3g}{every} straddle {where}"
                     + (f" and the hold-out ({tie.held_out} held out)" if tie.held_out
                        else ""))
    if not parts:
        return []
    what = ("mean pass rate over the ladder models" if difficulty == "mean-pass-rate" else
            "the largest ladder model's pass rate, then the mean over the models")
    return [f"problems of one difficulty ({what}) straddle bucket edges, and the counts "
            "cannot order them, so where each lands follows its task id (in natural order), "
            "not the counts: " + "; ".join(parts)
            + (" (--split equal-width keeps each in one bucket)"
               if any(len(t.buckets) > 1 for t in assignment.ties) else "")]


def samples_per_problem(n: np.ndarray, c: np.ndarray | None = None) -> int:
    """The samples per problem the ladder's counts ``n`` (``(M, P)``) read pass rates from:
    each model's median over the problems, the most of any model (0 without counts). Given
    the passes ``c``, each model's median is over its harder half of the problems (pass
    rate ``c/n`` at or below its median), the ones pass@k at large ``k`` turns on: the same
    where every problem has the same ``n``, and the samples an adaptive budget spent on
    them (up to its ``n_max``) where it sampled the hard problems on."""
    n = np.asarray(n, float)
    if not n.size:
        return 0
    if c is None:
        return int(np.max(np.median(n, axis=1)))
    rate = np.divide(np.asarray(c, float), n, out=np.zeros_like(n), where=n > 0)
    harder = rate <= np.median(rate, axis=1, keepdims=True)
    return int(max(np.median(row[keep]) for row, keep in zip(n, harder)))


def ks_above_samples(ks: Sequence[int], n: np.ndarray, c: np.ndarray | None = None
                     ) -> list[int]:
    """The ``ks`` (whole numbers or their strings) above :func:`samples_per_problem` (and
    above 1), in order: the pass@k whose interval rests on the per-problem laws' prior."""
    if not np.size(n):
        return []
    most = samples_per_problem(n, c)
    return sorted(int(k) for k in ks if int(k) > max(most, 1))


def pass_at_k_notes(ks: Sequence[int], n: np.ndarray, c: np.ndarray | None = None
                    ) -> list[str]:
    """One note where the headline gives pass@k (``ks``, whole numbers or their strings)
    with ``k`` above the samples per problem the ladder models have (``n``, ``(M, P)``, and
    their passes ``c``; :func:`samples_per_problem`): pass@k turns on the
    problems whose pass rate is below about ``1/k``, and counts of fewer samples cannot
    tell such a rate from a somewhat larger one, so pass@k's shape there rests on the
    per-problem laws' prior. On simulated emergent ladders with 20 samples per problem the
    90% interval of pass@100 held the truth in 0.45 (seeds 100-119) to 0.75 (seeds 0-19)
    of them (docs/accuracy-history.md, 2026-12-05)."""
    beyond = ks_above_samples(ks, n, c)
    if not beyond:
        return []
    most = samples_per_problem(n, c)
    names = ", ".join(f"pass@{k}" for k in beyond)
    return [f"{names} asked for where the ladder models have at most {most} samples per "
            f"problem: pass@k turns on the problems whose pass rate at the target is below "
            f"about 1/k, which counts of {most} samples cannot tell from somewhat larger "
            "ones, so the interval rests on the per-problem laws' prior for the problems "
            f"the ladder barely sees ({PASS_AT_K_BEYOND_SAMPLES})"]
