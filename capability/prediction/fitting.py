"""Fitting the candidate laws: at the target on the whole ladder, and at every rolling
origin on the models below it, side by side in processes (pure computation; the processes
are joblib's reusable loky workers).

:func:`fit_stage` is :func:`capability.prediction.predict.predict`'s fitting stage: the
target's fits, the rolling backtests (:mod:`capability.prediction.rolling`) and, where
too few models allow none, the short backtests (each model from the two below it). Every
fit is seeded on its own, so the result does not depend on the number of processes.
"""

from __future__ import annotations

import multiprocessing
import threading
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from capability.estimation.buckets import assign_buckets
from capability.laws import LAWS, LadderData, LawFit
from capability.prediction.result import PredictionSettings
from capability.prediction.rolling import backtest_pairs, rolling_backtests
from capability.processes import ending_with_this_process
from capability.progress import stage

__all__ = ["LadderArrays", "FitStage", "fit_stage", "bucketing", "run_fits"]


def _reassign_equal_count(n_star, c_star, sizes, difficulty):
    """The equal-count bucketing rule rerun on resampled counts ``(R, M, P)`` of the
    bucketed problems: per resample, the column indices of each bucket (easiest first)."""
    rate = c_star / n_star
    mean = rate.mean(axis=1)
    keys = (-mean,) if difficulty == "mean-pass-rate" else (-mean, -rate[:, -1, :])
    order = np.lexsort(keys, axis=-1)
    bounds = np.cumsum([0, *sizes])
    return [order[:, bounds[j]:bounds[j + 1]] for j in range(len(sizes))]


def bucketing(n, c, task_ids, settings: PredictionSettings):
    """The bucket assignment, the bucketed columns, local indices per bucket and the
    re-bucketing rule for the bootstrap."""
    assignment = assign_buckets(n, c, task_ids, n_buckets=settings.n_buckets,
                                hold_out=settings.hold_out, zero_policy=settings.zero_policy,
                                difficulty=settings.difficulty, split=settings.split)
    column = {t: i for i, t in enumerate(task_ids)}
    inside = np.array([column[t] for ids in assignment.buckets for t in ids], dtype=np.intp)
    sizes = [len(ids) for ids in assignment.buckets]
    bounds = np.cumsum([0, *sizes])
    local = tuple(np.arange(bounds[j], bounds[j + 1]) for j in range(len(sizes)))
    reassign = None
    if settings.split == "equal-count":
        def reassign(n_star, c_star):
            return _reassign_equal_count(n_star, c_star, sizes, settings.difficulty)
    return assignment, inside, local, reassign


def _fit_laws(names, n, c, compute, loss, local, reassign, target_compute, settings,
              n_draws, seed, loss_fit=None, interaction=None,
              drawn=None) -> dict[str, LawFit | None]:
    data = LadderData(n=n, c=c, compute=compute, buckets=local, loss=loss,
                      estimator=settings.estimator, pool_slopes=settings.pool_slopes,
                      reassign=reassign, loss_fit=loss_fit, interaction=interaction,
                      confidence_level=settings.confidence_level, drawn=drawn)
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    seeds = root.spawn(len(names))
    fits = {}
    for name, sd in zip(names, seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fits[name] = LAWS[name](data, target_compute, n_draws=n_draws,
                                    rng=np.random.default_rng(sd))
    return fits


def _origin_fits(i, computes, n, c, compute, loss, task_ids, laws, settings, n_draws,
                 interaction, drawn=None):
    """One rolling origin, the models ``[0, i)``: its bucketing rerun on them, and every law
    fitted to them and evaluated at each of ``computes``. ``(buckets, {compute: fits})``
    with ``buckets`` the column indices per bucket, or None where those models cannot be
    bucketed. The fits of one origin share its pooled fits (computed once,
    :func:`capability.laws.per_problem._fit_and_draws`) and its seed ``[seed, i]``."""
    try:
        inside, local, reassign = bucketing(n[:i], c[:i], task_ids, settings)[1:]
    except ValueError:
        return None
    fits = {cj: _fit_laws(laws, n[:i, inside], c[:i, inside], compute[:i],
                          None if loss is None else loss[:i], local, reassign, cj, settings,
                          min(n_draws, 200), [settings.seed, i], interaction=interaction,
                          drawn=columns(drawn, inside, i))
            for cj in computes}
    return tuple(inside[b] for b in local), fits


def _planned_origins(nominal, compute, min_below: int) -> dict[int, list[float]]:
    """The rolling backtests' origins and, per origin, the (effective) compute of each model
    it predicts: the steps :func:`rolling_backtests` makes unless an origin cannot be
    bucketed."""
    planned: dict[int, list[float]] = {}
    for i, j in backtest_pairs(len(nominal), min_below):
        if nominal[j] > nominal[i - 1]:
            planned.setdefault(i, []).append(float(compute[j]))
    return planned


def _job(func, args, kwargs):
    """One fitting job, in a worker process or here: one BLAS thread (as :func:`predict`)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return func(*args, **kwargs)


def run_fits(jobs, workers: int, advance=lambda n=1: None) -> dict:
    """Run fitting ``jobs``, ``(key, func, args, kwargs, fits)`` each, slowest first, with
    one BLAS thread: ``{key: func(*args, **kwargs)}``.

    With ``workers > 1`` this process and up to ``workers - 1`` others (joblib's reusable
    loky executor, warm across calls) take the jobs from one queue in order, this one
    first: the slowest job runs here while the others start. A job is seeded on its own
    (its arguments), so what it returns does not depend on where it ran. ``advance(fits)``
    counts a job's fits as it ends (all here in a daemonic process, which may not start
    others). On an error or an interrupt the jobs not yet taken are dropped, the other
    processes stopped and the error raised here."""
    out: dict = {}
    # A daemonic process (a multiprocessing.Pool's worker) may not start processes: there
    # the jobs run here, as joblib does, to the same result.
    if workers <= 1 or len(jobs) <= 1 or multiprocessing.current_process().daemon:
        for key, func, args, kwargs, fits in jobs:
            out[key] = _job(func, args, kwargs)
            advance(fits)
        return out
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=min(workers - 1, len(jobs) - 1),
                                     **ending_with_this_process())
    queue, lock, errors = deque(jobs), threading.Lock(), []

    def take():
        with lock:
            return queue.popleft() if queue and not errors else None

    def run(job, away: bool) -> None:
        key, func, args, kwargs, fits = job
        value = (executor.submit(_job, func, args, kwargs).result() if away
                 else _job(func, args, kwargs))
        with lock:
            out[key] = value
        advance(fits)

    def feed() -> None:   # one per other process: hands it the next job until none is left
        try:
            while (job := take()) is not None:
                run(job, away=True)
        except BaseException as err:   # noqa: BLE001 -- raised again in this thread
            with lock:
                errors.append(err)

    first = take()
    feeders = [threading.Thread(target=feed, daemon=True)
               for _ in range(min(workers - 1, len(jobs) - 1))]
    try:
        for thread in feeders:
            thread.start()
        job = first
        while job is not None:
            run(job, away=False)
            job = take()
        for thread in feeders:
            thread.join()
    except BaseException:
        with lock:
            queue.clear()
        executor.shutdown(wait=False, kill_workers=True)
        raise
    if errors:
        raise errors[0]
    return out



@dataclass(frozen=True)
class LadderArrays:
    """The ladder as the fits read it, models by increasing compute.

    ``n``, ``c``: counts ``(models, problems)`` in ``task_ids``' order; ``compute``: the
    compute the laws are fitted on (effective where the models' offsets are corrected),
    ``nominal`` the stated one; ``loss``: final losses or None; ``inside``: the bucketed
    problems' columns, ``n_in``, ``c_in`` and ``inside_ids`` their counts and task ids
    (the fits' columns), ``local`` the positions of each bucket's among them, ``reassign``
    the bootstrap's re-bucketing rule (:func:`bucketing`); ``interaction``: the
    problem-by-model variance per link; ``drawn``: the counts as drawn ``(n, c)`` where
    they differ from ``n, c`` (an adaptive budget's, :class:`LadderData`), else None."""

    names: list[str]
    task_ids: list[str]
    n: np.ndarray
    c: np.ndarray
    compute: np.ndarray
    nominal: np.ndarray
    loss: np.ndarray | None
    inside: np.ndarray
    n_in: np.ndarray
    c_in: np.ndarray
    inside_ids: list[str]
    local: tuple[np.ndarray, ...]
    reassign: Callable | None
    interaction: dict[str, float]
    drawn: tuple[np.ndarray, np.ndarray] | None = None

    def likelihood_counts(self, inside: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The counts the likelihood fits read (:meth:`LadderData.likelihood_counts`), of
        every problem or (``inside``) of the bucketed ones."""
        if self.drawn is None:
            return (self.n_in, self.c_in) if inside else (self.n, self.c)
        return columns(self.drawn, self.inside if inside else slice(None))


def columns(drawn, cols, rows: int | None = None):
    """``drawn`` counts ``(n, c)`` cut to ``cols`` (and the first ``rows`` models), or
    None for None."""
    if drawn is None:
        return None
    return tuple(a[:rows, cols] for a in drawn)


@dataclass(frozen=True)
class FitStage:
    """What :func:`fit_stage` returns: every law fitted on the ladder and evaluated at the
    target (``fits``, by law; None where a law could not be fitted), the rolling backtest
    steps, and the short backtest's where no rolling one could be made."""

    fits: dict[str, LawFit | None]
    steps: list
    short_steps: list


def fit_stage(ladder: LadderArrays, laws: tuple[str, ...], settings: PredictionSettings, *,
              target_compute: float, loss_fit, seed, forced: str | None, workers: int,
              progress: bool) -> FitStage:
    """Fit every law in ``laws`` at the target, and at every rolling origin (a short
    backtest's origins where no rolling one can be made and no law is ``forced``), in up to
    ``workers`` processes, the slowest first; ``progress`` shows the fits on stderr."""
    n, c, compute, loss = ladder.n, ladder.c, ladder.compute, ladder.loss
    names, nominal, interaction = ladder.names, ladder.nominal, ladder.interaction
    n_draws = settings.n_resamples
    # The origins to fit and the models each predicts (a short backtest's where no rolling
    # one can be made: too few models, or too few of distinct compute).
    planned = _planned_origins(nominal, compute, settings.min_below)
    if not planned and forced is None and len(names) > 2:
        planned = _planned_origins(nominal, compute, 2)
    fittings = 1 + sum(map(len, planned.values()))
    with stage(f"fitting {len(laws)} laws and their rolling backtests", fittings, "fit",
               enabled=progress) as advance:
        origin_args = (n, c, compute, loss, ladder.task_ids, laws, settings, n_draws,
                       interaction, ladder.drawn)
        # The target's fits and every rolling origin's are independent: with workers > 1 they
        # run side by side in processes (a short backtest's only where no rolling one can be
        # made; any other origin a step asks for is fitted here, when it asks). The largest
        # origins, the slowest, start first.
        jobs = [("target", _fit_laws, (laws, ladder.n_in, ladder.c_in, compute, loss, ladder.local,
                                       ladder.reassign, target_compute, settings, n_draws,
                                       seed),
                 {"loss_fit": loss_fit, "interaction": interaction,
                  "drawn": columns(ladder.drawn, ladder.inside)}, 1)]
        jobs += [(i, _origin_fits, (i, planned[i], *origin_args), {}, len(planned[i]))
                 for i in sorted(planned, reverse=True)]
        done = run_fits(jobs, workers, advance)
        fits = done.pop("target")

        def fit_at(i, compute_j):   # the models below i, evaluated at compute_j
            if i in done and done[i] is None:   # they cannot be bucketed
                return None
            if i not in done or compute_j not in done[i][1]:
                out = _origin_fits(i, [compute_j], *origin_args)
                advance()
                if out is None:
                    done[i] = None
                    return None
                done.setdefault(i, (out[0], {}))[1].update(out[1])
            buckets, fits_at = done[i]
            return buckets, fits_at[compute_j]

        steps = rolling_backtests(n, c, compute, names, fit_at,
                                  min_below=settings.min_below, estimator=settings.estimator,
                                  nominal=nominal)
        short_steps = []
        if not steps and forced is None and len(names) > 2:
            # Too few models to calibrate an interval, but a short backtest (each model
            # predicted from two below it) still tells which law this ladder favours.
            short_steps = rolling_backtests(n, c, compute, names, fit_at, min_below=2,
                                            estimator=settings.estimator, nominal=nominal)
    return FitStage(fits=fits, steps=steps, short_steps=short_steps)
