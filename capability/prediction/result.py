"""What a prediction is made with and what it returns: the method's settings, one bucket's
prediction, and the whole prediction (``Prediction.to_dict()`` is ``prediction.json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from capability import __version__
from capability.estimation.buckets import BucketAssignment
from capability.estimation.interval import IntervalEstimate, _json_float
from capability.laws.fit import BucketLaw, LossLawFit

__all__ = ["PredictionSettings", "BucketPrediction", "Prediction"]


@dataclass(frozen=True)
class PredictionSettings:
    """Every choice of the method; each is a CLI flag of ``capability run``."""

    n_buckets: int = 6
    hold_out: int = 15
    zero_policy: str = "keep"
    difficulty: str = "mean-pass-rate"
    split: str = "equal-count"
    estimator: str = "series"
    confidence_level: float = 0.9
    n_resamples: int = 1000
    seed: int = 0
    pool_slopes: bool = True
    law: str = "auto"
    min_below: int = 3
    k: tuple[int, ...] = (1, 10, 100)
    model_offsets: bool = True


@dataclass(frozen=True)
class BucketPrediction:
    """One bucket: its problems, the calibrated prediction (the model average or the chosen
    law's), and the report's law (``report_law``, None when it could not be fitted) kept as
    the reference.

    Attributes
    ----------
    law
        The chosen candidate law's name, ``"average"`` for the model average of the
        candidate laws (``--law auto`` with rolling backtests), or None when no law has a
        value for the bucket.
    law_reason
        Why it was chosen, in words.
    weights
        The model average's weight per law (empty when one law was chosen).
    mean_pass_rate, neg_log_pass_rate
        The prediction at the target with its calibrated interval
        (:func:`capability.prediction.calibrate.calibrated_interval`).
    candidates
        Every candidate law's point prediction ``{law: {"mean_pass_rate", ...}}``.
    baselines
        The naive baselines' point predictions, as ``candidates``, on the ladder's nominal
        compute (:func:`capability.laws.baselines.naive_baselines`): what the score compares
        the prediction with.
    """

    bucket: int
    task_ids: tuple[str, ...]
    report_law: BucketLaw | None
    law: str | None = None
    law_reason: str = ""
    mean_pass_rate: IntervalEstimate | None = None
    neg_log_pass_rate: IntervalEstimate | None = None
    candidates: dict = field(default_factory=dict)
    note: str = ""
    weights: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)


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
    selection: dict = field(default_factory=dict)
    overall: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per bucket: ``bucket, problems, law``, then ``predicted``, ``lower`` and
        ``upper`` of the mean pass rate and of ``-E[log p]`` (``neg_log_*``)."""
        rows = []
        for b in self.buckets:
            row = {"bucket": b.bucket, "problems": len(b.task_ids), "law": b.law}
            for q, prefix in (("mean_pass_rate", ""), ("neg_log_pass_rate", "neg_log_")):
                est = getattr(b, q)
                d = {"predicted": None, "lower": None, "upper": None} if est is None \
                    else est.to_dict()
                row.update({f"{prefix}{k}": d[k] for k in ("predicted", "lower", "upper")})
            rows.append(row)
        return pd.DataFrame(rows).astype({c: float for c in (
            "predicted", "lower", "upper", "neg_log_predicted", "neg_log_lower",
            "neg_log_upper")})

    def to_dict(self) -> dict:
        model_names = [m[0] for m in self.models]
        buckets = []
        for b in self.buckets:
            entry: dict = {"bucket": b.bucket, "task_ids": list(b.task_ids),
                           "n_problems": len(b.task_ids), "law": b.law,
                           "law_reason": b.law_reason,
                           "weights": {k: float(v) for k, v in b.weights.items()}}
            none = {"predicted": None, "lower": None, "upper": None}
            for q in ("neg_log_pass_rate", "mean_pass_rate"):
                est = getattr(b, q)
                entry[q] = none if est is None else est.to_dict()
            entry["interval_method"] = None if b.mean_pass_rate is None else \
                b.mean_pass_rate.method
            entry["candidates"] = {name: {q: _json_float(v) for q, v in vals.items()}
                                   for name, vals in b.candidates.items()}
            entry["baselines"] = {name: {q: _json_float(v) for q, v in vals.items()}
                                  for name, vals in b.baselines.items()}
            if b.note:
                entry["note"] = b.note
            law = b.report_law
            if law is None:
                entry.update({"alpha": None, "k": None, "report_law": None})
            else:
                entry.update({
                    "alpha": _json_float(law.fit.alpha),
                    "k": _json_float(law.fit.k),
                    "report_law": {"neg_log_pass_rate": law.neg_log_pass_rate.to_dict(),
                                   "mean_pass_rate": law.mean_pass_rate.to_dict(),
                                   "interval_method": law.neg_log_pass_rate.method},
                    "law_band": None if law.band is None else
                    {k: [_json_float(v) for v in vals] for k, vals in law.band.items()},
                    "lack_of_fit_scale": _json_float(law.lack_of_fit),
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
            "law": "-E_P[log pass_rate(C)] = alpha * C^(-k), C in FLOPs (the report's law; "
                   "what each bucket's prediction uses is in buckets[].law and .weights)",
            "overall": self.overall,
            "law_selection": self.selection,
            "held_out": list(self.assignment.held_out),
            "excluded": list(self.assignment.excluded),
            "ties": [asdict(t) for t in self.assignment.ties],
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
