"""From a ladder's counts to a per-bucket prediction for the target (pure orchestration).

Buckets (:mod:`capability.buckets`) are assigned from the ladder models' counts only, each
bucket's law is fitted and extrapolated (:mod:`capability.fit`), and the loss law too when
losses are given. No I/O: the CLI reads the inputs and writes ``prediction.json``.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from capability import __version__
from capability.buckets import BucketAssignment, assign_buckets
from capability.errors import FitError, InputError
from capability.estimate import inverse_sampling_counts
from capability.fit import BucketLaw, LossLawFit, fit_bucket_laws, fit_loss_law
from capability.interval import _json_float
from capability.trends import inverse_scaling

__all__ = ["PredictionSettings", "BucketPrediction", "Prediction", "predict",
           "effective_counts"]


@dataclass(frozen=True)
class PredictionSettings:
    """Every choice of the method; each is a CLI flag of ``capability run``."""

    n_buckets: int = 6
    hold_out: int = 15
    zero_policy: str = "exclude"
    difficulty: str = "mean-pass-rate"
    split: str = "equal-count"
    estimator: str = "series"
    confidence_level: float = 0.9
    n_resamples: int = 1000
    seed: int = 0
    pool_slopes: bool = True


@dataclass(frozen=True)
class BucketPrediction:
    """One bucket: its problems and its law (None when it could not be fitted)."""

    bucket: int
    task_ids: tuple[str, ...]
    law: BucketLaw | None
    note: str = ""


@dataclass(frozen=True)
class Prediction:
    """The per-bucket prediction for the target; ``to_dict()`` is ``prediction.json``."""

    ladder: str
    target: str
    target_compute: float
    models: tuple[tuple[str, float, float | None], ...]
    settings: PredictionSettings
    assignment: BucketAssignment
    buckets: tuple[BucketPrediction, ...]
    loss: LossLawFit | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    samples: dict[str, int] = field(default_factory=dict)
    inverse_scaling: tuple[dict, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        model_names = [m[0] for m in self.models]
        buckets = []
        for b in self.buckets:
            entry: dict = {"bucket": b.bucket, "task_ids": list(b.task_ids),
                           "n_problems": len(b.task_ids)}
            if b.law is None:
                entry.update({"alpha": None, "k": None,
                              "neg_log_pass_rate": {"predicted": None, "lower": None,
                                                    "upper": None},
                              "mean_pass_rate": {"predicted": None, "lower": None,
                                                 "upper": None},
                              "note": b.note})
            else:
                law = b.law
                entry.update({
                    "alpha": _json_float(law.fit.alpha),
                    "k": _json_float(law.fit.k),
                    "neg_log_pass_rate": law.neg_log_pass_rate.to_dict(),
                    "mean_pass_rate": law.mean_pass_rate.to_dict(),
                    "interval_method": law.neg_log_pass_rate.method,
                    "law_band": None if law.band is None else
                    {k: [float(v) for v in vals] for k, vals in law.band.items()},
                    "lack_of_fit_scale": law.lack_of_fit,
                    "ladder_points": [
                        {"model": name, "compute": float(comp),
                         "neg_log_pass_rate": _json_float(y), "variance": _json_float(v),
                         "used_in_fit": bool(w > 0)}
                        for name, comp, y, v, w in zip(model_names, law.fit.compute,
                                                       law.bucket_mean, law.bucket_variance,
                                                       law.fit.weights)],
                })
            buckets.append(entry)
        out = {
            "tool": "capability", "tool_version": __version__,
            "ladder": self.ladder,
            "target": self.target, "target_compute": self.target_compute,
            "level": self.settings.confidence_level,
            "models": [{"name": n, "compute": c, "loss": loss,
                        "samples": self.samples.get(n)} for n, c, loss in self.models],
            "settings": asdict(self.settings),
            "law": "-E_P[log pass_rate(C)] = alpha * C^(-k), C in FLOPs",
            "held_out": list(self.assignment.held_out),
            "excluded": list(self.assignment.excluded),
            "buckets": buckets,
            "inverse_scaling": [{**w, "bucket": self.assignment.bucket_of(w["task_id"])}
                                for w in self.inverse_scaling],
            "warnings": list(self.warnings),
        }
        if self.loss is not None:
            out["loss"] = {**self.loss.prediction.to_dict(), "a": self.loss.a,
                           "b": self.loss.b, "c": self.loss.c,
                           "law": "L(C) = a * C^b + c, C in FLOPs",
                           "interval_method": self.loss.prediction.method}
        return out


def _settings_iv(s: PredictionSettings) -> None:
    if s.zero_policy != "exclude" and s.estimator == "plugin":
        raise InputError(f"zero policy {s.zero_policy!r} needs an estimator that is finite at "
                         "c = 0 (series or jeffreys), not 'plugin'", key="--estimator")
    if not 0 < s.confidence_level < 1:
        raise InputError(f"expected a level in (0, 1), found {s.confidence_level}",
                         key="--level")


def effective_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Apply :func:`capability.estimate.inverse_sampling_counts` where a counts table has
    the adaptive budget's ``r`` column; otherwise return it unchanged."""
    if "r" not in counts.columns:
        return counts
    n, c = inverse_sampling_counts(counts["n"].to_numpy(), counts["c"].to_numpy(),
                                   counts["r"].to_numpy())
    return counts.drop(columns="r").assign(n=n, c=c)


def _reassign_equal_count(n_star, c_star, sizes, difficulty):
    """The equal-count bucketing rule rerun on resampled counts ``(R, M, P)`` of the
    bucketed problems: per resample, the column indices of each bucket (easiest first)."""
    rate = c_star / n_star
    mean = rate.mean(axis=1)
    keys = (-mean,) if difficulty == "mean-pass-rate" else (-mean, -rate[:, -1, :])
    order = np.lexsort(keys, axis=-1)
    bounds = np.cumsum([0, *sizes])
    return [order[:, bounds[j]:bounds[j + 1]] for j in range(len(sizes))]


def predict(counts: pd.DataFrame, models: list[tuple[str, float, float | None]], *,
            target: str, target_compute: float, ladder: str = "ladder",
            settings: PredictionSettings = PredictionSettings()) -> Prediction:
    """Predict the target's per-bucket capability from the ladder models' counts.

    Parameters
    ----------
    counts
        Long table ``model, task_id, n, c`` for the ladder models only (never the target);
        every model must cover the same task ids.
    models
        ``(name, compute, loss or None)`` per ladder model; compute in FLOPs.
    target, target_compute
        The target's name and compute (FLOPs).
    settings
        The method's choices.
    """
    _settings_iv(settings)
    if settings.zero_policy == "jeffreys":
        # Keep never-solved problems and estimate -log p by its Jeffreys posterior mean.
        settings = replace(settings, estimator="jeffreys")
    counts = effective_counts(counts)
    names = [m[0] for m in models]
    compute = np.array([m[1] for m in models], dtype=float)
    task_ids = list(dict.fromkeys(counts["task_id"]))
    n = counts.pivot(index="model", columns="task_id", values="n").loc[names, task_ids]
    c = counts.pivot(index="model", columns="task_id", values="c").loc[names, task_ids]
    n, c = n.to_numpy(), c.to_numpy()
    try:
        assignment = assign_buckets(n, c, task_ids, n_buckets=settings.n_buckets,
                                    hold_out=settings.hold_out,
                                    zero_policy=settings.zero_policy,
                                    difficulty=settings.difficulty, split=settings.split)
    except ValueError as err:
        raise InputError(str(err), key="buckets") from None
    column = {t: i for i, t in enumerate(task_ids)}
    seeds = np.random.SeedSequence(settings.seed).spawn(2)
    inside = [column[t] for ids in assignment.buckets for t in ids]
    sizes = [len(ids) for ids in assignment.buckets]
    bounds = np.cumsum([0, *sizes])
    local = [np.arange(bounds[j], bounds[j + 1]) for j in range(len(sizes))]
    reassign = None
    if settings.split == "equal-count":
        def reassign(n_star, c_star):
            return _reassign_equal_count(n_star, c_star, sizes, settings.difficulty)
    laws = fit_bucket_laws(n[:, inside], c[:, inside], local, compute,
                           target_compute=target_compute, estimator=settings.estimator,
                           confidence_level=settings.confidence_level,
                           n_resamples=settings.n_resamples,
                           rng=np.random.default_rng(seeds[0]),
                           pool_slopes=settings.pool_slopes, reassign=reassign)
    bucket_k = np.full(len(inside), np.nan)
    for j, law in enumerate(laws):
        if law is not None:
            bucket_k[local[j]] = law.fit.k
    worse = inverse_scaling(n[:, inside], c[:, inside], compute,
                            [task_ids[i] for i in inside], bucket_k,
                            estimator=settings.estimator)
    notes: list[str] = []
    if worse:
        notes.append(f"{len(worse)} problem(s) get worse with scale against their bucket's "
                     f"law (see inverse_scaling): {', '.join(w['task_id'] for w in worse[:5])}"
                     f"{' ...' if len(worse) > 5 else ''}; their buckets may be predicted low")
    buckets = []
    for b, (ids, law) in enumerate(zip(assignment.buckets, laws), start=1):
        note = ""
        if not ids:
            note = "empty bucket"
        elif law is None:
            note = "no fit: no ladder model has a positive bucket mean of -log pass_rate"
        if note:
            notes.append(f"bucket {b}: {note}")
        buckets.append(BucketPrediction(bucket=b, task_ids=tuple(ids), law=law, note=note))
    loss = None
    losses = [m[2] for m in models]
    if all(v is not None for v in losses):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                loss = fit_loss_law(compute, np.array(losses, float),
                                    target_compute=target_compute,
                                    confidence_level=settings.confidence_level,
                                    rng=np.random.default_rng(seeds[1]))
        except FitError as err:
            notes.append(f"loss law: no fit: {err}")
    saturated = int(np.sum(np.all(c == n, axis=0)))
    if saturated:
        notes.append(f"{saturated} problem(s) saturated: every sample of every ladder model "
                     "passed, so their -log pass_rate estimate is 0 at every model; they stay "
                     "in their buckets (a bucket of only such problems has no law to fit)")
    if assignment.excluded:
        notes.append(f"{len(assignment.excluded)} problem(s) excluded: some ladder model "
                     "never solved them (zero policy 'exclude')")
    return Prediction(ladder=ladder, target=target, target_compute=float(target_compute),
                      models=tuple((m[0], float(m[1]), m[2]) for m in models),
                      settings=settings, assignment=assignment, buckets=tuple(buckets),
                      loss=loss, warnings=tuple(notes),
                      samples={str(k): int(v) for k, v in
                               counts.groupby("model")["n"].sum().items()},
                      inverse_scaling=tuple(worse))
