"""From a ladder's counts to a per-bucket prediction for the target (pure orchestration).

Buckets (:mod:`capability.estimation.buckets`) are assigned from the ladder models' counts only,
each bucket's law is fitted and extrapolated (:mod:`capability.laws.fit`), and the loss law too when
losses are given. No I/O: the CLI reads the inputs and writes ``prediction.json``. The
settings and the prediction's types are in :mod:`capability.prediction.result`, the checks of
what comes in in :mod:`capability.prediction.inputs`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import special
from threadpoolctl import threadpool_limits

from capability.checks import is_whole, positive_number
from capability.errors import FitError, InputError
from capability.estimation.interval import _json_float
from capability.estimation.task_order import in_task_order
from capability.estimation.trends import inverse_scaling
from capability.laws import LAWS, LINKS, LadderData, LawFit, interaction_variance
from capability.laws.baselines import naive_baselines
from capability.laws.bent import bend_profile, bend_visible
from capability.laws.fit import fit_loss_law
from capability.prediction.bucket_estimates import (
    TargetTerms,
    averaged_bucket,
    consistent_neg_log,
    one_law_bucket,
)
from capability.prediction.fitting import FitStage, LadderArrays, bucketing, fit_stage
from capability.prediction.headline import JointPiece, headline, joint_bucket_draws
from capability.prediction.inputs import check_counts_frame, check_settings, effective_counts
from capability.prediction.law_error import BEND_PRIOR, BEND_SCALE
from capability.prediction.notes import (
    UNREAD_OFFSETS_NOTE,
    backtest_notes,
    count_notes,
    distance_notes,
    input_notes,
    ks_above_samples,
    offset_notes,
    pass_at_k_notes,
    samples_per_problem,
    single_sample_notes,
    tie_notes,
    wide_interval_notes,
)
from capability.prediction.offsets import (
    ModelOffsets,
    bend_loading,
    bucket_slopes,
    law_slopes,
    model_offsets,
    offset_leverage,
    offsets_evident,
    residual_spread,
)
from capability.prediction.result import BucketPrediction, Prediction, PredictionSettings
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

# The types and the input checks live beside this module; they are exported here too, where
# callers have always found them.
__all__ = ["PredictionSettings", "BucketPrediction", "Prediction", "predict",
           "check_counts_frame", "effective_counts"]

BEND_TEXT = (", and for a bend in the family's growth (x the bucket's slope and the bend's "
             "loading, {g:.2f} decades squared: a straight line's miss of a unit curvature at "
             f"the target; prior: none with probability {BEND_PRIOR:g}, else half-Cauchy with "
             f"scale {BEND_SCALE:g} decades per decade, per decade)")


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


PER_PROBLEM_LAWS = ("problem_power", "logistic", "ceiling", "bent", "two_step")
SHAPE_DRAWS = 200   # per-problem posterior draws: the headline pass@k's shape


class TargetShape(NamedTuple):
    """Per bucket the per-problem pass rates at the target that pass@k's within-bucket
    shape comes from (:func:`_per_problem_at_target`)."""

    law: str                      # the per-problem law they are read from
    modes: list[np.ndarray]       # at the posterior modes, (problems,) per bucket
    draws: list[np.ndarray]       # from each problem's posterior, (draws, problems)
    scattered: list[np.ndarray]   # the draws moved by the target's own effects

    def per_problem(self) -> tuple:
        """``(modes, draws, scattered)``, as :func:`capability.prediction.headline.headline`
        takes them."""
        return self.modes, self.draws, self.scattered


def _per_problem_at_target(fits, scores, local) -> TargetShape | None:
    """Per bucket the per-problem pass rates at the target of the per-problem law with the
    largest averaging weight (else the smallest backtest error; ``scores`` are the rolling
    backtests', or a three-model ladder's short backtest's), on that law's own covariate
    (:attr:`capability.laws.base.LawFit.at_target`: the bent law's axis, the two-step
    law's target loss), for pass@k (:mod:`capability.prediction.headline`): at the
    posterior modes, ``SHAPE_DRAWS`` draws from each problem's posterior (arrays
    ``(draws, problems)``), and those draws each moved by the target's own
    problem-by-model effect where the ladder shows scatter (:class:`TargetShape`); None
    without one.

    The shape is that of the law the average weighs most. Before the bent and two-step
    laws were among them, a ``slowing`` ladder whose average those two led took its shape
    from a law it weighed at nearly 0: pass@10 over 20 seeds erred 0.05 points and held
    the truth in 17 (now 0.03 and 20). On three ``interaction`` seeds the two-step law's
    logistic shape, in place of the per-problem power law's (the truth's), errs 0.09-0.40
    points more (pass@10 over 20 seeds 0.80 -> 0.84, covering 1.00 as before)."""
    have = [law for law in PER_PROBLEM_LAWS
            if fits.get(law) is not None and fits[law].at_target is not None]
    if not have:
        return None

    def rank(law):   # the largest averaging weight, then the smallest backtest error
        sc = scores.get(law)
        if sc is None:
            return (0.0, np.inf)
        return (-sc.weight, sc.mse_all if np.isfinite(sc.mse_all) else np.inf)

    law = min(have, key=rank)   # min keeps the first of equals
    rng = np.random.default_rng(0)
    p, draws = fits[law].at_target(SHAPE_DRAWS, rng)
    # The target's own problem-by-model effects spread its pass rates about the law's.
    scattered = fits[law].extra.scattered(draws, rng)
    return TargetShape(law=law, modes=[p[idx] for idx in local],
                       draws=[draws[:, idx] for idx in local],
                       scattered=[scattered[:, idx] for idx in local])


def _step_dict(step) -> dict:
    """A rolling backtest step for ``prediction.json``."""
    return {"held": step.held, "compute": step.compute, "distance_decades": step.distance,
            "bend_loading": step.bend, "below": list(step.below),
            "actual_mean_pass_rate": [_json_float(v) for v in step.actual["mean_pass_rate"]],
            "predicted_mean_pass_rate": {
                name: [_json_float(v) for v in vals["mean_pass_rate"]]
                for name, vals in step.predicted.items()}}


def candidate_laws(settings: PredictionSettings, has_loss: bool,
                   offsets_unseparated: bool = False) -> tuple[str, ...]:
    """The laws a prediction fits: every candidate with ``law="auto"``, else the forced one
    (and the report's law, always kept as the reference). ``two_step`` needs losses;
    ``bent`` is left out of the average where ``offsets_unseparated``
    (:func:`bend_gate`: the bend it reads may be the models' own deviations)."""
    if settings.law == "auto":
        names = tuple(n for n in LAWS if not (offsets_unseparated and n == "bent"))
    else:
        names = tuple(dict.fromkeys((settings.law, "power")))
    return tuple(n for n in names if has_loss or n != "two_step")


def bend_gate(arrays: LadderArrays, offsets: ModelOffsets, shifted: bool) -> dict:
    """Whether the bend the bent law reads (:func:`capability.laws.bent.bend_profile`)
    strays from a straight line over the ladder by no more than the models' own deviation
    from their trend (:attr:`ModelOffsets.deviation`, the offsets' spread with what
    problem-by-model effects add; where offsets are evident and the laws run on effective
    compute, the effects' part alone), read from the buckets' problems (the law's read) or
    from every problem of the ladder: the law's evidence for a bend sums over every
    problem, but a model's deviation moves all its problems together, so such a bend is as
    likely the models' own; and a bend the family shares stands out of either set of its
    problems, where the buckets', the hardest left out on the same counts, can read one
    that is not there (:mod:`capability.laws.bent`).

    ``prediction.json``'s ``law_selection.bend_gate``: ``deviation_decades``, per read
    made (``buckets``, then ``every_problem`` where the first stands out) its ``gamma``
    and ``visible_decades`` (:func:`capability.laws.bent.bend_visible`), and
    ``confounded``, whether the model average leaves the law out. No deviation to compare
    with (fewer than three models): no read, not confounded."""
    dev = float(np.sqrt(offsets.scatter)) if shifted else offsets.deviation
    gate = {"deviation_decades": _json_float(dev), "reads": {}, "confounded": False}
    if not np.isfinite(dev):
        return gate
    x = np.log10(arrays.nominal)
    for name, (n, c) in (("buckets", arrays.likelihood_counts(inside=True)),
                         ("every_problem", arrays.likelihood_counts())):
        gamma = bend_profile(LadderData(n=n, c=c, compute=arrays.compute, buckets=(),
                                        interaction=arrays.interaction)).gamma
        visible = bend_visible(x, gamma)
        gate["reads"][name] = {"gamma": gamma, "visible_decades": visible}
        if visible <= dev:
            gate["confounded"] = True
            break
    return gate


def _ladder_arrays(counts: pd.DataFrame, models, settings: PredictionSettings):
    """The ladder's counts as arrays (models by increasing compute), its buckets, and the
    models' offsets from their family's trend: ``(arrays, assignment, offsets,
    shifted)``, ``shifted`` where the offsets are plain enough that every law is fitted on
    effective compute (the offsets' visible part taken out; they enter at the target
    only)."""
    names = [m[0] for m in models]
    compute = np.array([m[1] for m in models], dtype=float)
    losses = [m[2] for m in models]
    loss = np.array(losses, float) if all(v is not None for v in losses) else None
    task_ids = in_task_order(counts["task_id"])   # not the file's order: ties follow it

    def table(frame, column):
        return frame.pivot(index="model", columns="task_id", values=column).loc[
            names, task_ids].to_numpy()
    n, c = table(counts, "n"), table(counts, "c")
    # An adaptive budget's counts as drawn, for the likelihood fits (LadderData.drawn).
    drawn = None if "n_drawn" not in counts.columns else (table(counts, "n_drawn"),
                                                          table(counts, "c_drawn"))
    like_n, like_c = (n, c) if drawn is None else drawn
    try:
        assignment, inside, local, reassign = bucketing(n, c, task_ids, settings)
    except ValueError as err:
        raise InputError(str(err), key="buckets") from None
    offsets = model_offsets(like_n, like_c, compute)
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
    interaction = {link: interaction_variance(like_n[:, inside], like_c[:, inside], x_ladder,
                                              link) for link in LINKS}
    arrays = LadderArrays(names=names, task_ids=task_ids, n=n, c=c, compute=compute,
                          nominal=nominal, loss=loss, inside=inside, n_in=n_in, c_in=c_in,
                          inside_ids=[task_ids[i] for i in inside], local=local,
                          reassign=reassign, interaction=interaction, drawn=drawn)
    return arrays, assignment, offsets, shifted


def _loss_law(arrays: LadderArrays, target_compute: float, settings: PredictionSettings,
              seed) -> tuple[object, str]:
    """The loss law fitted to the ladder's final losses, and a note where it cannot be
    (``(None, "")`` without losses)."""
    if arrays.loss is None:
        return None, ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fit_loss_law(arrays.nominal, arrays.loss, target_compute=target_compute,
                                confidence_level=settings.confidence_level,
                                rng=np.random.default_rng(seed)), ""
    except FitError as err:
        return None, f"loss law: no fit: {err}"


@dataclass(frozen=True)
class _Weighing:
    """How the laws are weighed: the rolling backtests' scores per law (``scores``), a
    short backtest's (``short_scores``, where no rolling one could be made) and the laws
    it set aside, the scores the laws are averaged by (``weighing``), the one-law choice
    per bucket (``choice``, ``(law, reason)``), each law's factor on the fallback rule's
    law error (``widening``, 1 with rolling backtests), Occam's window, and per bucket the
    averaging weights (none with a forced law), whether a cell no sample solved censors
    its -log p means, and whether the window was taken again without the law that reads
    them."""

    scores: dict
    short_scores: dict
    short_excluded: tuple
    weighing: dict
    estimates: dict
    choice: list
    widening: dict
    window: float
    bucket_weights: list
    censored: list
    rewindowed: list


def _weigh(stage: FitStage, laws, arrays: LadderArrays, offsets: ModelOffsets, shifted: bool,
           taus, forced: str | None) -> _Weighing:
    """Score every law by its backtests and weigh (or choose) the laws per bucket
    (:mod:`capability.prediction.selection`)."""
    steps, short_steps = stage.steps, stage.short_steps
    n_buckets = len(arrays.local)
    # Each model -- a backtest's held one, the target -- deviates from its family's trend
    # by the offsets' spread and by what its problem-by-model effects add on these
    # problems (ModelOffsets.scatter). Shifted, the backtests carry no visible offset but
    # the error of its estimate (the held model's compute is corrected too): their law
    # error is read beside that error alone, and the deviation enters at the target.
    # Otherwise the law error is read beside the deviation, and the laws are weighed at
    # the spread alone (weighed at the deviation, `family` ladders from seed 100 erred
    # 14.43 points against 13.52: 5 of 20 moved to flatter laws, none the other way).
    if shifted:
        scores = with_offsets(score_laws(steps, laws, n_buckets, residual_spread(offsets)),
                              offsets.deviation_nodes())
    else:
        scores = score_laws(steps, laws, n_buckets,
                            None if taus is None else offsets.deviation_nodes(), weigh_at=taus)
    estimates = {name: f.mean_pass_rate for name, f in stage.fits.items() if f is not None}
    short_excluded = excluded_laws(short_steps)
    short_scores = score_laws(short_steps, laws, n_buckets) if short_steps else {}
    choice = choose_laws(short_scores or scores, estimates, forced, short=bool(short_steps),
                         exclude=short_excluded)
    # Per law, the factor on the fallback rule's law error (1 with rolling backtests).
    widening = {law: 1.0 if steps else fallback_widening(short_scores.get(law))
                for law in estimates}
    # The scores the laws are averaged by (the rolling backtests', else a short one's), and
    # per bucket the averaging weights (none with a forced law: that law alone).
    weighing = scores if steps else short_scores
    window = occam_window(steps or short_steps, n_buckets)
    # A bucket with a cell no sample solved: the laws fitted to its -log p means, which that
    # cell caps, are not averaged there (CENSORED_INPUT); where such a law was alone in
    # Occam's window, the window is taken again without it (censored_weights).
    censored = [bool(np.any(arrays.c_in[:, idx] == 0)) for idx in arrays.local]
    rewindowed = [False] * n_buckets
    bucket_weights = []
    for b in range(n_buckets):
        if forced is not None:
            bucket_weights.append({})
        elif censored[b]:
            weights_b, rewindowed[b] = censored_weights(
                weighing, estimates, b, window=window,
                excluded=excluded_laws(steps) if steps else short_excluded)
            bucket_weights.append(weights_b)
        else:
            bucket_weights.append(average_weights(weighing, estimates, b))
    return _Weighing(scores=scores, short_scores=short_scores, short_excluded=short_excluded,
                     weighing=weighing, estimates=estimates, choice=choice, widening=widening,
                     window=window, bucket_weights=bucket_weights, censored=censored,
                     rewindowed=rewindowed)


def _average_reason(weighing: _Weighing, b: int, weights: dict, n_buckets: int,
                    rolling: bool) -> str:
    """Why bucket ``b`` (0-based) is a model average, and of which laws."""
    kind = ("rolling-backtest error" if rolling else "short-backtest error (each "
            "model predicted from the two below it)")
    window = weighing.window
    window_why = (f", the F quantile for one held model's {n_buckets} bucket errors"
                  if window > OCCAM_WINDOW else "")
    reason = (f"model average of the candidate laws whose {kind} is within "
              f"{window:.3g}x the smallest (Occam's window{window_why}), weighted "
              "by the evidence of their backtests (marginal likelihood of the "
              "errors): " +
              ", ".join(f"{law} {w:.2f}" for law, w in list(weights.items())[:4]) +
              (", ..." if len(weights) > 4 else ""))
    left = [law for law in average_weights(weighing.weighing, weighing.estimates, b)
            if law not in weights] if weighing.censored[b] else []
    if left:
        reason += (f"; {', '.join(left)} not averaged here: a cell no sample solved "
                   "caps the bucket's -log p means it is fitted to" +
                   (" (it was alone in Occam's window, taken again without it)"
                    if weighing.rewindowed[b] else ""))
    return reason


def _bucket_predictions(assignment, stage: FitStage, weighing: _Weighing, naive: dict,
                        terms: TargetTerms, notes: list[str]):
    """Every bucket's prediction at the target (a note per bucket without one appended to
    ``notes``), and per bucket the headline's joint pieces (None without a prediction)."""
    fits, report = stage.fits, stage.fits["power"].extra
    n_steps = len(stage.steps)
    buckets = []
    pieces: list[list[JointPiece] | None] = [None] * len(assignment.buckets)
    for b, (ids, (law_name, reason)) in enumerate(zip(assignment.buckets, weighing.choice),
                                                  start=1):
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
        weights = weighing.bucket_weights[b - 1]
        if weights:
            law_name = "average"
            reason = _average_reason(weighing, b - 1, weights, len(assignment.buckets),
                                     rolling=bool(n_steps))
            ests, pieces[b - 1] = averaged_bucket(b - 1, weights, fits, weighing.scores,
                                                  weighing.widening, n_steps, terms)
        elif law_name is not None:
            ests, pieces[b - 1] = one_law_bucket(b - 1, law_name, fits[law_name],
                                                 weighing.scores[law_name],
                                                 weighing.widening[law_name], terms)
        if ests:
            ests["neg_log_pass_rate"] = consistent_neg_log(ests["neg_log_pass_rate"],
                                                           ests["mean_pass_rate"])
        buckets.append(BucketPrediction(bucket=b, task_ids=tuple(ids),
                                        report_law=report[b - 1], law=law_name,
                                        law_reason=reason,
                                        mean_pass_rate=ests.get("mean_pass_rate"),
                                        neg_log_pass_rate=ests.get("neg_log_pass_rate"),
                                        candidates=cands, note=note, weights=weights,
                                        baselines={name: values[b - 1]
                                                   for name, values in naive.items()}))
    return buckets, pieces


def _selection_record(settings: PredictionSettings, laws, stage: FitStage,
                      weighing: _Weighing, arrays: LadderArrays, offsets: ModelOffsets, *,
                      distance: float, reach: float, leverage: float, bend: float,
                      used_offsets: bool, shifted: bool, gate: dict | None) -> dict:
    """``prediction.json``'s ``law_selection``: how the laws were weighed, every law's
    backtest record, the backtests themselves, and what the fits read from the ladder
    (``gate``: :func:`bend_gate`'s record, None where a law is forced)."""
    return {
        "mode": settings.law, "distance_decades": distance, "reach_decades": reach,
        "bend_loading": bend,
        "occam_window": weighing.window,
        "candidates": list(laws),
        "scores": {name: sc.to_dict() for name, sc in weighing.scores.items()},
        "backtests": [_step_dict(st) for st in stage.steps],
        "short_backtests": [_step_dict(st) for st in stage.short_steps],
        "short_scores": {name: sc.to_dict() for name, sc in weighing.short_scores.items()},
        "model_offsets": {**offsets.to_dict(arrays.names), "used": used_offsets,
                          "compute_corrected": bool(shifted),
                          "leverage": leverage},
        "problem_by_model_variance": arrays.interaction,
        "ceilings": _ceiling_record(stage.fits.get("ceiling")),
        "bend_axis": None if stage.fits.get("bent") is None else stage.fits["bent"].record,
        "bend_gate": gate,
        "off_trend": _off_trend_record(stage.fits.get("problem_power"), arrays.inside_ids),
    }


def _offset_text(offsets: ModelOffsets, shifted: bool, leverage: float) -> str:
    """The interval method's words for the models' offsets term."""
    return (
        f", and for the models' offsets from their family's trend (spread {offsets.tau:.2f} "
        "decades of effective compute from the ladder's counts" +
        (f", {offsets.deviation:.2f} with what problem-by-model effects add"
         if offsets.scatter > 0 else "") +
        (", the target's alone: the laws are on effective compute" if shifted else
         ", updated by the backtests") +
        f"; x the bucket's slope at the target; leverage {leverage:.2f})")


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
    if not is_whole(workers, 1):
        raise InputError(f"expected a whole number of worker processes >= 1, found "
                         f"{workers!r}", key="workers")
    counts = check_counts_frame(counts, models)
    if not positive_number(target_compute):
        raise InputError(f"expected the target's compute > 0 FLOPs, found {target_compute!r}",
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
    counts = effective_counts(counts, keep_drawn=True)
    models = sorted(models, key=lambda m: m[1])
    arrays, assignment, offsets, shifted = _ladder_arrays(counts, models, settings)
    names, nominal, compute = arrays.names, arrays.nominal, arrays.compute
    n, c, inside, local = arrays.n, arrays.c, arrays.inside, arrays.local
    gate = bend_gate(arrays, offsets, shifted) if settings.law == "auto" else None
    laws = candidate_laws(settings, arrays.loss is not None,
                          gate is not None and gate["confounded"])
    # The laws, the loss law, the headline's joint predictive.
    seeds = np.random.SeedSequence(settings.seed).spawn(3)
    loss_fit, loss_note = _loss_law(arrays, target_compute, settings, seeds[1])
    forced = None if settings.law == "auto" else settings.law
    stage = fit_stage(arrays, laws, settings, target_compute=target_compute,
                      loss_fit=loss_fit, seed=seeds[0], forced=forced, workers=workers,
                      progress=progress)
    fits, steps, short_steps = stage.fits, stage.steps, stage.short_steps
    # The offsets' spread needs its posterior: none where neither link's fit converged
    # (a ladder that never solved a problem), and then the intervals leave it out.
    taus = offsets.nodes() if settings.model_offsets and offsets.grid is not None else None
    weighing = _weigh(stage, laws, arrays, offsets, shifted, taus, forced)
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
    bend = bend_loading(nominal, target_compute)

    bucket_k = np.full(len(inside), np.nan)
    for j, law in enumerate(fits["power"].extra):
        if law is not None:
            bucket_k[local[j]] = law.fit.k
    n_in, c_in = arrays.n_in, arrays.c_in
    worse = inverse_scaling(n_in, c_in, compute, arrays.inside_ids, bucket_k,
                            estimator=settings.estimator, scatter=arrays.interaction["logit"])
    notes = [*input_notes(others, target, names, nominal, worse),
             *backtest_notes(steps, short_steps, n_models=len(names),
                             n_distinct=len(np.unique(nominal)),
                             min_below=settings.min_below, forced=forced,
                             short_excluded=weighing.short_excluded,
                             averaged={law for weights in weighing.bucket_weights
                                       for law in weights},
                             chosen={law for law, _ in weighing.choice},
                             widening=weighing.widening, offsets_used=taus is not None),
             *distance_notes(steps, distance=distance, reach=reach,
                             target_compute=target_compute, largest=float(nominal.max()))]
    if shifted:
        notes.extend(offset_notes(names, offsets, compute))
    elif settings.model_offsets and taus is None:
        notes.append(UNREAD_OFFSETS_NOTE)
    terms = TargetTerms(reach, level, leverage, bend,
                        "" if taus is None else _offset_text(offsets, shifted, leverage),
                        BEND_TEXT.format(g=bend) if bend_readable(steps) else "", slope_of)
    # The naive baselines on the nominal compute, fixed with the prediction for its score.
    naive = naive_baselines(LadderData(n=n_in, c=c_in, compute=nominal, buckets=local,
                                       estimator=settings.estimator), target_compute)
    buckets, pieces = _bucket_predictions(assignment, stage, weighing, naive, terms, notes)
    selection = _selection_record(settings, laws, stage, weighing, arrays, offsets,
                                  distance=distance, reach=reach, leverage=leverage, bend=bend,
                                  used_offsets=taus is not None, shifted=shifted, gate=gate)
    if loss_note:
        notes.append(loss_note)
    notes.extend(count_notes(n, c, scatter=arrays.interaction["logit"],
                             excluded=len(assignment.excluded),
                             zero_policy=settings.zero_policy))
    notes.extend(single_sample_notes(n))
    notes.extend(tie_notes(assignment, settings.difficulty))
    point = [(np.nan,) * 3 if b.mean_pass_rate is None else
             (b.mean_pass_rate.estimate, b.mean_pass_rate.confidence_interval.low,
              b.mean_pass_rate.confidence_interval.high) for b in buckets]
    forced_score = weighing.scores.get(forced) if forced is not None else None
    notes.extend(wide_interval_notes(
        [(b.bucket, lo, hi) for b, (_, lo, hi) in zip(buckets, point)], level=level,
        rolling=bool(steps), forced=forced,
        forced_error=None if forced_score is None else forced_score.mean_abs_error_pp))
    sizes = [len(b.task_ids) for b in buckets]
    joint = joint_bucket_draws(   # the buckets the headline counts: those with a prediction
        [ps if np.all(np.isfinite(pt)) else None for ps, pt in zip(pieces, point)],
        reach, leverage, bend, np.random.default_rng(seeds[2]))
    shape = _per_problem_at_target(fits, weighing.weighing or weighing.scores, local)
    overall = headline(
        sizes, *zip(*point), per_problem=None if shape is None else shape.per_problem(),
        shape_law=None if shape is None else shape.law,
        ks=settings.k, total=len(arrays.task_ids), held_out=len(assignment.held_out),
        excluded=len(assignment.excluded), level=level, joint=joint)
    given = [k for k, v in overall["pass_at_k"].items() if v is not None]
    # Which pass@k rest on the per-problem laws' prior (the table and report mark them):
    # k above the samples drawn on the problems the ladder models solve least.
    drawn = arrays.likelihood_counts()
    notes.extend(pass_at_k_notes(given, *drawn))
    above = ks_above_samples(given, *drawn)
    overall["samples_per_problem"] = samples_per_problem(*drawn)
    for k in given:
        overall["pass_at_k"][k]["k_above_samples"] = int(k) in above
    return Prediction(ladder=ladder, target=target, target_compute=float(target_compute),
                      models=tuple((m[0], float(m[1]), m[2]) for m in models),
                      settings=settings, assignment=assignment, buckets=tuple(buckets),
                      loss=loss_fit, warnings=tuple(notes),
                      samples={str(k): int(v) for k, v in counts.groupby("model")[
                          "n_drawn" if "n_drawn" in counts.columns else "n"].sum().items()},
                      inverse_scaling=tuple(worse), selection=selection, overall=overall)
