"""From a ladder's counts to a per-bucket prediction for the target (pure orchestration).

Buckets (:mod:`capability.estimation.buckets`) are assigned from the ladder models' counts only,
each bucket's law is fitted and extrapolated (:mod:`capability.laws.fit`), and the loss law too when
losses are given. No I/O: the CLI reads the inputs and writes ``prediction.json``. The
settings and the prediction's types are in :mod:`capability.prediction.result`, the checks of
what comes in in :mod:`capability.prediction.inputs`.
"""

from __future__ import annotations

import multiprocessing
import threading
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import special
from threadpoolctl import threadpool_limits

from capability.errors import FitError, InputError
from capability.estimation.buckets import assign_buckets
from capability.estimation.interval import ConfidenceInterval, IntervalEstimate, _json_float
from capability.estimation.trends import inverse_scaling
from capability.laws import LAWS, LINKS, LadderData, LawFit, interaction_variance
from capability.laws.baselines import naive_baselines
from capability.laws.fit import fit_loss_law
from capability.prediction.calibrate import (
    FALLBACK_DOF,
    FALLBACK_SIGMA,
    averaged_interval,
    calibrated_interval,
    fallback_posterior,
)
from capability.prediction.headline import JointPiece, headline, joint_bucket_draws
from capability.prediction.inputs import check_counts_frame, check_settings, effective_counts
from capability.prediction.law_error import (
    BEND_PRIOR,
    BEND_SCALE,
    EXACT_PRIOR,
    no_error_probability,
    with_share_prior,
)
from capability.prediction.notes import (
    backtest_notes,
    count_notes,
    distance_notes,
    input_notes,
    offset_notes,
)
from capability.prediction.offsets import (
    bucket_slopes,
    law_slopes,
    model_offsets,
    offset_leverage,
    offsets_evident,
    residual_spread,
)
from capability.prediction.result import BucketPrediction, Prediction, PredictionSettings
from capability.prediction.rolling import backtest_pairs, rolling_backtests
from capability.prediction.scales import SCALES
from capability.prediction.selection import (
    OCCAM_WINDOW,
    average_weights,
    bend_readable,
    censored_weights,
    choose_laws,
    excluded_laws,
    fallback_widening,
    occam_window,
    score_laws,
    with_offsets,
)
from capability.processes import exit_with_parent
from capability.progress import stage

# The types and the input checks live beside this module; they are exported here too, where
# callers have always found them.
__all__ = ["PredictionSettings", "BucketPrediction", "Prediction", "predict",
           "check_counts_frame", "effective_counts"]

BEND_TEXT = (", and for a bend in the family's growth (x the bucket's slope and the distance; "
             f"prior: none with probability {BEND_PRIOR:g}, else half-Cauchy with scale "
             f"{BEND_SCALE:g} decades per decade)")


def _reassign_equal_count(n_star, c_star, sizes, difficulty):
    """The equal-count bucketing rule rerun on resampled counts ``(R, M, P)`` of the
    bucketed problems: per resample, the column indices of each bucket (easiest first)."""
    rate = c_star / n_star
    mean = rate.mean(axis=1)
    keys = (-mean,) if difficulty == "mean-pass-rate" else (-mean, -rate[:, -1, :])
    order = np.lexsort(keys, axis=-1)
    bounds = np.cumsum([0, *sizes])
    return [order[:, bounds[j]:bounds[j + 1]] for j in range(len(sizes))]


def _bucketing(n, c, task_ids, settings: PredictionSettings):
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
              n_draws, seed, loss_fit=None, interaction=None) -> dict[str, LawFit | None]:
    data = LadderData(n=n, c=c, compute=compute, buckets=local, loss=loss,
                      estimator=settings.estimator, pool_slopes=settings.pool_slopes,
                      reassign=reassign, loss_fit=loss_fit, interaction=interaction)
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
                 interaction):
    """One rolling origin, the models ``[0, i)``: its bucketing rerun on them, and every law
    fitted to them and evaluated at each of ``computes``. ``(buckets, {compute: fits})``
    with ``buckets`` the column indices per bucket, or None where those models cannot be
    bucketed. The fits of one origin share its pooled fits (computed once,
    :func:`capability.laws.per_problem._fit_and_draws`) and its seed ``[seed, i]``."""
    try:
        inside, local, reassign = _bucketing(n[:i], c[:i], task_ids, settings)[1:]
    except ValueError:
        return None
    fits = {cj: _fit_laws(laws, n[:i, inside], c[:i, inside], compute[:i],
                          None if loss is None else loss[:i], local, reassign, cj, settings,
                          min(n_draws, 200), [settings.seed, i], interaction=interaction)
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


def _run_fits(jobs, workers: int, advance=lambda n=1: None) -> dict:
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
                                     initializer=exit_with_parent)
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


def _shared(fit: LawFit, b: int) -> np.ndarray:
    """Bucket ``b``'s column of the law's shared shifts (empty where it has none)."""
    shared = fit.mean_pass_rate_shared
    return shared[:, b] if shared.shape[0] else np.empty(0)


def _ceiling_record(fit: LawFit | None) -> dict | None:
    """What the ceiling law read from the ladder (its spike-and-slab prior's estimates,
    :func:`capability.laws._hierarchical._fit_ceiling_mixture`): the share of problems with
    a ceiling, where the ceilings sit (the slab's centre as a pass rate, its sd on the logit
    scale), and the problems the law thinks more likely capped than not; None without the
    law."""
    mix = None if fit is None else fit.extra.mixture
    if mix is None:
        return None
    return {"share": float(mix.share), "slab_q": float(special.expit(mix.mu[1][2])),
            "slab_sd_logit": float(np.sqrt(mix.sigma[1][2, 2])),
            "problems_likely_capped": int(np.sum(mix.resp > 0.5))}


def _off_trend_record(fit: LawFit | None, task_ids) -> dict | None:
    """What ``problem_power``'s robust prior read from the ladder
    (:func:`capability.laws._hierarchical._fit_wide_mixture`): the share of problems with a
    slope of their own, and the problems (``task_ids`` in the fit's column order) more
    likely off the common trend than not, most probable first; None without the law."""
    mix = None if fit is None else fit.extra.mixture
    if mix is None:
        return None
    order = np.argsort(-mix.resp, kind="stable")
    return {"share": float(mix.share),
            "problems": [task_ids[i] for i in order if mix.resp[i] > 0.5]}


def _consistent_neg_log(neg_log: IntervalEstimate, rate: IntervalEstimate) -> IntervalEstimate:
    """Hold ``-E[log p]`` to Jensen's bound beside the bucket's mean pass rate, ``-E[log p] >=
    -log E[p]``: its estimate at least ``-log`` of the mean pass rate's estimate, its upper
    bound at least ``-log`` of that rate's lower bound (a bucket whose mean pass rate may be
    as low as ``m_lo`` may have ``-E[log p]`` as high as ``-log m_lo`` at least), and its
    lower bound at least ``-log`` of the rate's upper bound. The laws on bucket means (``power``,
    ``linear``, ``no_change``) predict the two quantities apart, so a straight line may take
    ``-E[log p]`` to 0 beside a mean pass rate of 0.988 (EvalPerf's fifth bucket); without
    the upper bound's floor, a law that predicts every problem at 1 gave ``-E[log p]`` the
    interval [0, 0] beside a mean pass rate interval of, say, [0.97, 1]. The estimate is
    raised no higher than the (raised) upper bound, and the lower bound no higher than the
    estimate, so the interval holds its estimate; where the rate's lower bound is 0, the
    upper bound's floor is ``-log`` of the rate's estimate."""
    ci, est = neg_log.confidence_interval, neg_log.estimate
    rate_low = rate.confidence_interval.low
    bounds = {k: float(-np.log(v)) for k, v in (
        ("estimate", rate.estimate), ("low", rate.confidence_interval.high),
        ("high", rate_low if np.isfinite(rate_low) and rate_low > 0 else rate.estimate))
        if np.isfinite(v) and v > 0}
    if not (np.isfinite(est) and np.isfinite(ci.low) and np.isfinite(ci.high)):
        return neg_log
    high = max(ci.high, bounds.get("high", ci.high))
    estimate = min(max(est, bounds.get("estimate", est)), high)
    raised = {"estimate": estimate, "high": high,
              "low": min(max(ci.low, bounds.get("low", ci.low)), estimate)}
    moved = [k for k, old in (("estimate", est), ("low", ci.low), ("high", ci.high))
             if raised[k] > old]
    if not moved:
        return neg_log
    labels = {"low": "lower bound", "high": "upper bound"}
    return replace(neg_log, estimate=raised["estimate"],
                   confidence_interval=ConfidenceInterval(raised["low"], raised["high"]),
                   method=neg_log.method + "; " + ", ".join(labels.get(k, k) for k in moved)
                   + " raised to -log of the mean pass rate's (-E[log p] >= -log E[p])")


PER_PROBLEM_LAWS = ("problem_power", "logistic", "ceiling")
SHAPE_DRAWS = 200   # per-problem posterior draws for the headline pass@k's bounds


def _per_problem_at_target(fits, scores, local, target_compute):
    """Per bucket the per-problem pass rates at the target of the per-problem law with the
    largest averaging weight (else the smallest backtest error; ``scores`` are the rolling
    backtests', or a three-model ladder's short backtest's), for pass@k
    (:mod:`capability.prediction.headline`): at the posterior modes, and ``SHAPE_DRAWS``
    draws from each problem's posterior, each moved by the target's own problem-by-model
    effect where the ladder shows scatter (arrays ``(draws, problems)``); None without
    one."""
    have = [law for law in PER_PROBLEM_LAWS if fits.get(law) is not None]
    if not have:
        return None

    def rank(law):   # the largest averaging weight, then the smallest backtest error
        sc = scores.get(law)
        if sc is None:
            return (0.0, np.inf)
        return (-sc.weight, sc.mse_all if np.isfinite(sc.mse_all) else np.inf)

    law = min(have, key=rank)   # min keeps the first of equals
    fit = fits[law].extra
    x_t = np.array([np.log10(target_compute)])
    p = fit.pass_rate(x_t)[..., 0]
    rng = np.random.default_rng(0)
    # The target's own problem-by-model effects spread its pass rates about the law's.
    draws = fit.scattered(fit.pass_rate(x_t, fit.draws(SHAPE_DRAWS, rng))[..., 0], rng)
    return [p[idx] for idx in local], [draws[:, idx] for idx in local]


def _step_dict(step) -> dict:
    """A rolling backtest step for ``prediction.json``."""
    return {"held": step.held, "compute": step.compute, "distance_decades": step.distance,
            "below": list(step.below),
            "actual_mean_pass_rate": [_json_float(v) for v in step.actual["mean_pass_rate"]],
            "predicted_mean_pass_rate": {
                name: [_json_float(v) for v in vals["mean_pass_rate"]]
                for name, vals in step.predicted.items()}}


def candidate_laws(settings: PredictionSettings, has_loss: bool) -> tuple[str, ...]:
    """The laws a prediction fits: every candidate with ``law="auto"``, else the forced one
    (and the report's law, always kept as the reference)."""
    if settings.law == "auto":
        names = tuple(LAWS)
    else:
        names = tuple(dict.fromkeys((settings.law, "power")))
    return tuple(n for n in names if has_loss or n != "two_step")


@dataclass(frozen=True)
class _TargetTerms:
    """What every bucket's interval at the target shares: the reach (decades outside the
    ladder the law error grows with), the level, the offsets' leverage, the method texts
    of the offsets' and the bend's terms (empty where not in the interval), and
    ``slope_of(law, q, j)``, the law's slope at the target in bucket ``j``."""

    reach: float
    level: float
    leverage: float
    offset_text: str
    bend_text: str
    slope_of: Callable[[str, str, int], float]


def _averaged_bucket(j: int, weights: dict[str, float], fits, scores, widening, n_steps: int,
                     terms: _TargetTerms):
    """Bucket ``j``'s model average: per quantity the interval of the mixture of the laws'
    posterior predictives (the backtests' where there are ``n_steps > 0``, else the
    fallback rule's, widened per law by ``widening``), and the headline's joint pieces."""
    ests, pieces = {}, None
    for q in ("mean_pass_rate", "neg_log_pass_rate"):
        comps = [(w, float(getattr(fits[law], q)[j]),
                  getattr(fits[law], f"{q}_draws")[:, j],
                  (scores[law].posterior or {}).get(q) if n_steps else
                  fallback_posterior(widening[law] * FALLBACK_SIGMA[q]))
                 for law, w in weights.items()]
        used = [law for law, c in zip(weights, comps) if c[3] is not None]
        comps = [c for c in comps if c[3] is not None]
        betas = [terms.slope_of(law, q, j) for law in used]
        spread = ("the posterior predictive over its law error per decade (from "
                  f"{n_steps} rolling backtest steps; prior: none with "
                  f"probability {EXACT_PRIOR:g}, else half-Cauchy)" if n_steps else
                  "the fallback rule (no rolling backtest: law error "
                  f"{FALLBACK_SIGMA[q]:g} per decade, Student t with {FALLBACK_DOF} "
                  "df, scaled up to the law's short-backtest error where that is "
                  "larger: " + ", ".join(f"{law} x {widening[law]:.2f}"
                                         for law in used) + ")")
        method = (f"model average of {len(used)} laws ({', '.join(used)}): each "
                  f"law's draws at the target, widened for its own error by {spread} "
                  f"on the {SCALES[q].name} scale x {terms.reach:.2f} decades to the "
                  f"target{terms.offset_text if n_steps else ''}"
                  f"{terms.bend_text}; the {terms.level:g} equal-tailed "
                  "interval of the mixture")
        ests[q] = averaged_interval(comps, q, terms.reach, terms.level, method,
                                    (betas, terms.leverage))
        if q == "mean_pass_rate":
            pieces = [JointPiece(law, w, est, draws, _shared(fits[law], j),
                                 with_share_prior(post), beta)
                      for law, (w, est, draws, post), beta in zip(used, comps, betas)]
    return ests, pieces


def _one_law_bucket(j: int, law_name: str, fit: LawFit, sc, widen: float,
                    terms: _TargetTerms):
    """Bucket ``j`` by one law: per quantity its calibrated interval (its backtests'
    posterior predictive, else the fallback rule's t widened by ``widen``), and the
    headline's joint piece."""
    ests, pieces = {}, None
    how = (f"law error from {sc.steps} rolling backtest step(s)" if sc.calibrated else
           "law error by the fallback rule (no rolling backtest)" +
           (f", x {widen:.2f}: the short backtest erred more" if widen > 1 else ""))
    for q in ("mean_pass_rate", "neg_log_pass_rate"):
        draws = getattr(fit, f"{q}_draws")[:, j]
        post = (sc.posterior or {}).get(q)
        spread = (f"posterior predictive over the law error per decade (posterior "
                  f"rms {sc.sigma[q]:.3g}, none with probability "
                  f"{no_error_probability(post):.2f}; prior: none with "
                  f"probability {EXACT_PRIOR:g}, else half-Cauchy)"
                  if post is not None
                  else f"{widen * sc.sigma[q]:.3g} per decade, Student t with "
                  f"{sc.dof:g} df")
        method = (f"{law_name}: {fit.noise_method}; widened for the law's own error: "
                  f"{how}, on the {SCALES[q].name} scale x {terms.reach:.2f} decades to "
                  f"the target: {spread}" + (terms.offset_text if post is not None else "") +
                  (terms.bend_text if post is not None else ""))
        beta = terms.slope_of(law_name, q, j)
        ests[q] = calibrated_interval(float(getattr(fit, q)[j]), draws, q,
                                      widen * sc.sigma[q], sc.dof, terms.reach, terms.level,
                                      method, posterior=post, offset=(beta, terms.leverage))
        if q == "mean_pass_rate":
            pieces = [JointPiece(
                law_name, 1.0, float(fit.mean_pass_rate[j]), draws, _shared(fit, j),
                with_share_prior(post if post is not None else
                                 fallback_posterior(widen * sc.sigma[q], sc.dof)),
                beta if post is not None else 0.0)]
    return ests, pieces


# One BLAS thread: the fits multiply many tiny matrices, where OpenBLAS's threads save
# nothing, and they spin against every other busy process on the machine (two predictions
# side by side took 1.7x as long each with them: `python bench/predict.py`).
@threadpool_limits.wrap(limits=1, user_api="blas")
def predict(counts: pd.DataFrame, models: list[tuple[str, float, float | None]], *,
            target: str, target_compute: float, ladder: str = "ladder",
            settings: PredictionSettings = PredictionSettings(),
            progress: bool = False, workers: int = 1) -> Prediction:
    """Predict the target's per-bucket capability from the ladder models' counts.

    Parameters
    ----------
    counts
        Long table ``model, task_id, n, c`` of the ladder models; every model must cover
        the same task ids. Rows of other models (the target's, say) are left out, and the
        prediction says so; a target named like a ladder model is refused.
    models
        ``(name, compute, loss or None)`` per ladder model; compute in FLOPs.
    target, target_compute
        The target's name and compute (FLOPs).
    settings
        The method's choices.
    progress
        Show the fitting's progress on stderr (:func:`capability.progress.stage`).
    workers
        Processes to fit in: the target's fits and each rolling origin's are independent
        and run side by side (joblib's loky backend) where ``workers > 1``. The prediction
        is the same bit for bit whatever the number.

    Notes
    -----
    Buckets come from the ladder models' counts (:mod:`capability.estimation.buckets`). Every
    candidate law (:mod:`capability.laws`) is fitted and evaluated at the target; the rolling
    backtests (:mod:`capability.prediction.rolling`) predict, from every origin of at least
    ``min_below`` models, each ladder model above it, for every law. The laws' weights in
    the model average (by the evidence of their backtests,
    :mod:`capability.prediction.selection`) and each law's error term in the interval (its
    posterior, :mod:`capability.prediction.law_error`; the interval,
    :mod:`capability.prediction.calibrate`) come from them. Without a rolling backtest a
    short one (each model from the two below it) weighs the laws and the fallback rule
    sets their intervals.
    """
    check_settings(settings)
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"expected a whole number of worker processes >= 1, found "
                         f"{workers!r}", key="workers")
    counts = check_counts_frame(counts, models)
    if not (np.isfinite(target_compute) and target_compute > 0):
        raise InputError(f"expected the target's compute > 0 FLOPs, found {target_compute}",
                         key="target_compute")
    ladder_names = {str(m[0]) for m in models}
    if target in ladder_names:
        raise InputError(f"the target {target!r} is also a ladder model: a model cannot be "
                         "predicted from its own counts (to backtest it, leave it out of the "
                         "models and its rows out of the counts)", key="target")
    others = sorted(set(map(str, counts["model"])) - ladder_names)
    if settings.zero_policy == "jeffreys":
        # Keep never-solved problems and estimate -log p by its Jeffreys posterior mean.
        settings = replace(settings, estimator="jeffreys")
    counts = effective_counts(counts)
    models = sorted(models, key=lambda m: m[1])
    names = [m[0] for m in models]
    compute = np.array([m[1] for m in models], dtype=float)
    losses = [m[2] for m in models]
    loss = np.array(losses, float) if all(v is not None for v in losses) else None
    task_ids = list(dict.fromkeys(counts["task_id"]))
    n = counts.pivot(index="model", columns="task_id", values="n").loc[names, task_ids]
    c = counts.pivot(index="model", columns="task_id", values="c").loc[names, task_ids]
    n, c = n.to_numpy(), c.to_numpy()
    try:
        assignment, inside, local, reassign = _bucketing(n, c, task_ids, settings)
    except ValueError as err:
        raise InputError(str(err), key="buckets") from None
    laws = candidate_laws(settings, loss is not None)
    # The laws, the loss law, the headline's joint predictive.
    seeds = np.random.SeedSequence(settings.seed).spawn(3)
    loss_fit, loss_note = None, ""
    if loss is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                loss_fit = fit_loss_law(compute, loss, target_compute=target_compute,
                                        confidence_level=settings.confidence_level,
                                        rng=np.random.default_rng(seeds[1]))
        except FitError as err:
            loss_note = f"loss law: no fit: {err}"
    n_draws = settings.n_resamples
    forced = None if settings.law == "auto" else settings.law
    # Models plainly off their family's trend: every law is fitted on effective compute
    # (the offsets' visible part taken out), and the offsets enter at the target only.
    offsets = model_offsets(n, c, compute)
    shifted = settings.model_offsets and offsets_evident(offsets)
    # Distances are measured, and the offsets' leverage taken, on the nominal compute: the
    # effective compute of models far off their trend need not rise with their size (a
    # model may sit above a larger one), and the offsets left unseen are those along 1 and
    # nominal log compute.
    nominal = compute
    if shifted:
        compute = compute * 10.0 ** offsets.offsets
    x_ladder = np.log10(compute)
    n_in, c_in = n[:, inside], c[:, inside]   # the bucketed problems: the fits' columns
    interaction = {link: interaction_variance(n_in, c_in, x_ladder, link) for link in LINKS}
    # The origins to fit and the models each predicts (a short backtest's where no rolling
    # one can be made: too few models, or too few of distinct compute).
    planned = _planned_origins(nominal, compute, settings.min_below)
    if not planned and forced is None and len(names) > 2:
        planned = _planned_origins(nominal, compute, 2)
    fittings = 1 + sum(map(len, planned.values()))
    with stage(f"fitting {len(laws)} laws and their rolling backtests", fittings, "fit",
               enabled=progress) as advance:
        origin_args = (n, c, compute, loss, task_ids, laws, settings, n_draws, interaction)
        # The target's fits and every rolling origin's are independent: with workers > 1 they
        # run side by side in processes (a short backtest's only where no rolling one can be
        # made; any other origin a step asks for is fitted here, when it asks). The largest
        # origins, the slowest, start first.
        jobs = [("target", _fit_laws, (laws, n_in, c_in, compute, loss, local, reassign,
                                       target_compute, settings, n_draws, seeds[0]),
                 {"loss_fit": loss_fit, "interaction": interaction}, 1)]
        jobs += [(i, _origin_fits, (i, planned[i], *origin_args), {}, len(planned[i]))
                 for i in sorted(planned, reverse=True)]
        done = _run_fits(jobs, workers, advance)
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
    report = fits["power"].extra
    taus = offsets.nodes() if settings.model_offsets else None
    # Each model -- a backtest's held one, the target -- deviates from its family's trend
    # by the offsets' spread and by what its problem-by-model effects add on these
    # problems (ModelOffsets.scatter). Shifted, the backtests carry no visible offset but
    # the error of its estimate (the held model's compute is corrected too): their law
    # error is read beside that error alone, and the deviation enters at the target.
    # Otherwise the law error is read beside the deviation, and the laws are weighed at
    # the spread alone (weighed at the deviation, `family` ladders from seed 100 erred
    # 14.43 points against 13.52: 5 of 20 moved to flatter laws, none the other way).
    if shifted:
        scores = with_offsets(score_laws(steps, laws, len(local), residual_spread(offsets)),
                              offsets.deviation_nodes())
    else:
        scores = score_laws(steps, laws, len(local),
                            None if taus is None else offsets.deviation_nodes(), weigh_at=taus)
    estimates = {name: f.mean_pass_rate for name, f in fits.items() if f is not None}
    short_excluded = excluded_laws(short_steps)
    short_scores = score_laws(short_steps, laws, len(local)) if short_steps else {}
    choice = choose_laws(short_scores or scores, estimates, forced, short=bool(short_steps),
                         exclude=short_excluded)
    # Per law, the factor on the fallback rule's law error (1 with rolling backtests).
    widening = {law: 1.0 if steps else fallback_widening(short_scores.get(law))
                for law in estimates}
    # The scores the laws are averaged by (the rolling backtests', else a short one's), and
    # per bucket the averaging weights (none with a forced law: that law alone).
    weighing = scores if steps else short_scores
    window = occam_window(steps or short_steps, len(local))
    window_why = (f", the F quantile for one held model's {len(local)} bucket errors"
                  if window > OCCAM_WINDOW else "")
    # A bucket with a cell no sample solved: the laws fitted to its -log p means, which that
    # cell caps, are not averaged there (CENSORED_INPUT); where such a law was alone in
    # Occam's window, the window is taken again without it (censored_weights).
    censored = [bool(np.any(c_in[:, idx] == 0)) for idx in local]
    rewindowed = [False] * len(assignment.buckets)
    bucket_weights = []
    for b in range(len(assignment.buckets)):
        if forced is not None:
            bucket_weights.append({})
        elif censored[b]:
            weights_b, rewindowed[b] = censored_weights(
                weighing, estimates, b, window=window,
                excluded=excluded_laws(steps) if steps else short_excluded)
            bucket_weights.append(weights_b)
        else:
            bucket_weights.append(average_weights(weighing, estimates, b))
    # Decades beyond the largest ladder model (negative: not above it), and the reach the law
    # error grows with: decades outside the ladder's compute, beyond its largest model or
    # below its smallest (a backcast extrapolates as far as a forecast), 0 within it.
    distance = float(np.log10(target_compute / nominal.max()))
    reach = max(distance, float(np.log10(nominal.min() / target_compute)), 0.0)
    level = settings.confidence_level
    own_slope = law_slopes(fits, target_compute)
    slope = bucket_slopes(fits, target_compute, own_slope)

    def slope_of(law, q, b):
        """The law's own slope at the target (the laws' median where it has none)."""
        value = own_slope.get(law, {}).get(q, slope[q])[b]
        return value if np.isfinite(value) else slope[q][b]
    leverage = offset_leverage(nominal, target_compute)

    bucket_k = np.full(len(inside), np.nan)
    for j, law in enumerate(report):
        if law is not None:
            bucket_k[local[j]] = law.fit.k
    inside_ids = [task_ids[i] for i in inside]   # the fits' columns
    worse = inverse_scaling(n_in, c_in, compute, inside_ids, bucket_k,
                            estimator=settings.estimator, scatter=interaction["logit"])
    notes = [*input_notes(others, target, names, nominal, worse),
             *backtest_notes(steps, short_steps, n_models=len(names),
                             n_distinct=len(np.unique(nominal)),
                             min_below=settings.min_below, forced=forced,
                             short_excluded=short_excluded,
                             averaged={law for weights in bucket_weights for law in weights},
                             chosen={law for law, _ in choice}, widening=widening,
                             offsets_used=taus is not None),
             *distance_notes(steps, distance=distance, reach=reach,
                             target_compute=target_compute, largest=float(nominal.max()))]
    bend_text = BEND_TEXT if bend_readable(steps) else ""
    offset_text = "" if taus is None else (
        f", and for the models' offsets from their family's trend (spread {offsets.tau:.2f} "
        "decades of effective compute from the ladder's counts" +
        (f", {offsets.deviation:.2f} with what problem-by-model effects add"
         if offsets.scatter > 0 else "") +
        (", the target's alone: the laws are on effective compute" if shifted else
         ", updated by the backtests") +
        f"; x the bucket's slope at the target; leverage {leverage:.2f})")
    if shifted:
        notes.extend(offset_notes(names, offsets, compute))
    terms = _TargetTerms(reach, level, leverage, offset_text, bend_text, slope_of)
    # The naive baselines on the nominal compute, fixed with the prediction for its score.
    naive = naive_baselines(LadderData(n=n_in, c=c_in, compute=nominal, buckets=local,
                                       estimator=settings.estimator), target_compute)
    buckets = []
    pieces: list[list[JointPiece] | None] = [None] * len(assignment.buckets)
    for b, (ids, (law_name, reason)) in enumerate(zip(assignment.buckets, choice), start=1):
        note = ""
        if not ids:
            note = "empty bucket"
        elif law_name is None:
            note = reason
        if note:
            notes.append(f"bucket {b}: {note}")
        cands = {name: {"mean_pass_rate": float(f.mean_pass_rate[b - 1]),
                        "neg_log_pass_rate": float(f.neg_log_pass_rate[b - 1])}
                 for name, f in fits.items() if f is not None}
        ests = {}
        weights = bucket_weights[b - 1]
        if weights:
            law_name = "average"
            kind = ("rolling-backtest error" if steps else "short-backtest error (each "
                    "model predicted from the two below it)")
            reason = (f"model average of the candidate laws whose {kind} is within "
                      f"{window:.3g}x the smallest (Occam's window{window_why}), weighted "
                      "by the evidence of their backtests (marginal likelihood of the "
                      "errors): " +
                      ", ".join(f"{law} {w:.2f}" for law, w in list(weights.items())[:4]) +
                      (", ..." if len(weights) > 4 else ""))
            left = [law for law in average_weights(weighing, estimates, b - 1)
                    if law not in weights] if censored[b - 1] else []
            if left:
                reason += (f"; {', '.join(left)} not averaged here: a cell no sample solved "
                           "caps the bucket's -log p means it is fitted to" +
                           (" (it was alone in Occam's window, taken again without it)"
                            if rewindowed[b - 1] else ""))
            ests, pieces[b - 1] = _averaged_bucket(b - 1, weights, fits, scores, widening,
                                                   len(steps), terms)
        elif law_name is not None:
            ests, pieces[b - 1] = _one_law_bucket(b - 1, law_name, fits[law_name],
                                                  scores[law_name], widening[law_name], terms)
        if ests:
            ests["neg_log_pass_rate"] = _consistent_neg_log(ests["neg_log_pass_rate"],
                                                            ests["mean_pass_rate"])
        buckets.append(BucketPrediction(bucket=b, task_ids=tuple(ids),
                                        report_law=report[b - 1], law=law_name,
                                        law_reason=reason,
                                        mean_pass_rate=ests.get("mean_pass_rate"),
                                        neg_log_pass_rate=ests.get("neg_log_pass_rate"),
                                        candidates=cands, note=note, weights=weights,
                                        baselines={name: values[b - 1]
                                                   for name, values in naive.items()}))
    selection = {
        "mode": settings.law, "distance_decades": distance, "reach_decades": reach,
        "occam_window": window,
        "candidates": list(laws),
        "scores": {name: sc.to_dict() for name, sc in scores.items()},
        "backtests": [_step_dict(st) for st in steps],
        "short_backtests": [_step_dict(st) for st in short_steps],
        "short_scores": {name: sc.to_dict() for name, sc in short_scores.items()},
        "model_offsets": {**offsets.to_dict(names), "used": taus is not None,
                          "compute_corrected": bool(shifted),
                          "leverage": leverage},
        "problem_by_model_variance": interaction,
        "ceilings": _ceiling_record(fits.get("ceiling")),
        "off_trend": _off_trend_record(fits.get("problem_power"), inside_ids),
    }
    if loss_note:
        notes.append(loss_note)
    notes.extend(count_notes(n, c, scatter=interaction["logit"],
                             excluded=len(assignment.excluded),
                             zero_policy=settings.zero_policy))
    point = [(np.nan,) * 3 if b.mean_pass_rate is None else
             (b.mean_pass_rate.estimate, b.mean_pass_rate.confidence_interval.low,
              b.mean_pass_rate.confidence_interval.high) for b in buckets]
    sizes = [len(b.task_ids) for b in buckets]
    joint = joint_bucket_draws(   # the buckets the headline counts: those with a prediction
        [ps if np.all(np.isfinite(pt)) else None for ps, pt in zip(pieces, point)],
        reach, leverage, np.random.default_rng(seeds[2]))
    overall = headline(
        sizes, *zip(*point),
        per_problem=_per_problem_at_target(fits, weighing or scores, local, target_compute),
        ks=settings.k, total=len(task_ids), held_out=len(assignment.held_out),
        excluded=len(assignment.excluded), level=level, joint=joint)
    return Prediction(ladder=ladder, target=target, target_compute=float(target_compute),
                      models=tuple((m[0], float(m[1]), m[2]) for m in models),
                      settings=settings, assignment=assignment, buckets=tuple(buckets),
                      loss=loss_fit, warnings=tuple(notes),
                      samples={str(k): int(v) for k, v in
                               counts.groupby("model")["n"].sum().items()},
                      inverse_scaling=tuple(worse), selection=selection, overall=overall)
