"""How a registry's predictions fared (pure): each prediction with its latest score, and
over the scored ones how often the intervals held the measured value and how the
prediction's errors compare with those of the naive baselines it recorded.

A registry is the honest test of a prediction method: every prediction in it was fixed
before its target existed, with the baselines beside it. Two things are read from it:

**Coverage.** The share of the headline intervals (the smallest k's pass@k, one per scored
prediction) that held the measured value, with a Clopper-Pearson interval at the
predictions' level: the predictions are the independent units. The buckets' share is
shown too, but the buckets of one prediction share their errors (the law error and the
target's offset from its family's trend are common to all of them), so its interval counts
them by the trials they are worth (:func:`capability.records.coverage.clustered_coverage`:
the cluster-robust variance over the predictions), not as that many trials. Each is counted
twice: ``inside`` (the
measured value inside the interval) and ``agrees`` (the measurement's own sampling noise
counted; :mod:`capability.records.score`). Predictions at different levels are summarised
apart.

**Error against the baselines.** Per scored prediction, the mean absolute error of its
buckets' mean pass rates and the same for each naive baseline
(:func:`capability.records.score.baseline_scores`: ``no_change``, ``linear_log_compute``),
then their means over the predictions and in how many predictions the method came closer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from capability.estimation.interval import ConfidenceInterval, IntervalEstimate
from capability.laws.baselines import NAIVE
from capability.records.coverage import clustered_coverage, effective_trials
from capability.records.score import QUANTITIES, baseline_scores, error_summary

__all__ = ["TrackEntry", "LevelSummary", "TrackRecord", "track_record", "track_record_frame",
           "COLUMNS"]


@dataclass(frozen=True)
class TrackEntry:
    """One registered prediction and its latest score (the score fields None or 0 when it
    has none yet).

    Attributes
    ----------
    headline_k
        The k of the headline pass@k (the smallest the prediction made); ``headline`` its
        ``{"predicted", "lower", "upper"}``.
    scores
        How many score records link to the prediction (the latest is the one shown).
    buckets, buckets_inside, buckets_agreeing
        Scored buckets with an interval of the mean pass rate, and how many held the
        measured value / agree with the measurement.
    mean_abs_error
        Mean absolute error of the buckets' mean pass rates (a fraction; x 100 is points).
    baseline_errors
        The same for each naive baseline, ``{name: error}`` (empty when the prediction
        recorded none).
    """

    prediction_id: str
    registered_utc: str
    ladder: str
    target: str
    target_compute: float
    level: float
    headline_k: int | None
    headline: dict | None
    score_id: str | None = None
    scored_utc: str | None = None
    scores: int = 0
    target_input: str | None = None
    measured: float | None = None
    headline_inside: bool | None = None
    headline_agrees: bool | None = None
    buckets: int = 0
    buckets_inside: int = 0
    buckets_agreeing: int = 0
    mean_abs_error: float | None = None
    baseline_errors: dict = field(default_factory=dict)

    @property
    def scored(self) -> bool:
        return self.score_id is not None


@dataclass(frozen=True)
class LevelSummary:
    """The scored predictions at one level.

    Attributes
    ----------
    coverage
        The share of headline intervals that held the measured value, with its
        Clopper-Pearson interval at ``level`` over ``headline_scored`` predictions (NaN
        bounds with none).
    bucket_coverage
        The share of the scored buckets' intervals that held the measured value, with an
        interval at ``level`` that counts one prediction's buckets as the correlated
        trials they are (:func:`capability.records.coverage.clustered_coverage`);
        ``bucket_effective_trials`` the independent trials they are worth
        (:func:`capability.records.coverage.effective_trials`).
    baseline_wins
        Per baseline, ``(predictions where the method came closer, predictions compared)``.
    """

    level: float
    predictions: int
    scored: int
    headline_scored: int
    headline_inside: int
    headline_agreeing: int
    coverage: IntervalEstimate
    buckets: int
    buckets_inside: int
    buckets_agreeing: int
    mean_abs_error: float | None
    baseline_errors: dict
    baseline_wins: dict
    bucket_coverage: IntervalEstimate
    bucket_effective_trials: float

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items()
               if k not in ("coverage", "bucket_coverage")}
        for key in ("coverage", "bucket_coverage"):
            est = getattr(self, key)
            out[key] = {**est.to_dict(), "level": est.confidence_level, "method": est.method}
        out["baseline_wins"] = {k: {"closer": w, "compared": n}
                                for k, (w, n) in self.baseline_wins.items()}
        return out


@dataclass(frozen=True)
class TrackRecord:
    """Every prediction of a registry (oldest first), one summary per level, and the score
    records whose prediction is not in the registry (``orphan_scores``, their ids)."""

    entries: tuple[TrackEntry, ...]
    summaries: tuple[LevelSummary, ...]
    orphan_scores: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"predictions": [{**asdict(e), "scored": e.scored} for e in self.entries],
                "summaries": [s.to_dict() for s in self.summaries],
                "orphan_scores": list(self.orphan_scores)}


def _headline(prediction: dict) -> tuple[int | None, dict | None]:
    head = (prediction.get("overall") or {}).get("pass_at_k") or {}
    ks = sorted((int(k) for k, v in head.items() if v is not None))
    return (ks[0], head[str(ks[0])]) if ks else (None, None)


def _entry(pid: str, created: str, content: dict, scores: list[tuple[str, str, dict]]
           ) -> TrackEntry:
    pred = content["prediction"]
    k, head = _headline(pred)
    base = dict(prediction_id=pid, registered_utc=created, ladder=str(pred.get("ladder")),
                target=str(pred.get("target")), target_compute=float(pred["target_compute"]),
                level=float(pred["level"]), headline_k=k,
                headline=None if head is None else
                {key: head.get(key) for key in ("predicted", "lower", "upper")})
    if not scores:
        return TrackEntry(**base)
    sid, scored_utc, record = max(scores, key=lambda s: (s[1], s[0]))
    score = record["score"]
    measured = ((score.get("overall") or {}).get("pass_at_k") or {}).get(str(k)) or {}
    mp = [b["mean_pass_rate"] for b in score["buckets"]
          if b["mean_pass_rate"].get("inside") is not None]
    actual = [{q: b[q]["actual"] for q in QUANTITIES} for b in score["buckets"]]
    baselines = baseline_scores(pred, actual)
    return TrackEntry(
        **base, score_id=sid, scored_utc=scored_utc, scores=len(scores),
        target_input=(record.get("target_input") or {}).get("path"),
        measured=measured.get("actual"), headline_inside=measured.get("inside"),
        headline_agrees=measured.get("agrees"), buckets=len(mp),
        buckets_inside=sum(bool(m["inside"]) for m in mp),
        buckets_agreeing=sum(bool(m.get("agrees")) for m in mp),
        mean_abs_error=error_summary(score["buckets"], "mean_pass_rate")["mean_abs_error"],
        baseline_errors={name: b["overall"]["mean_pass_rate"]["mean_abs_error"]
                         for name, b in baselines.items()})


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _summary(level: float, entries: list[TrackEntry]) -> LevelSummary:
    scored = [e for e in entries if e.scored]
    with_head = [e for e in scored if e.headline_inside is not None]
    held = sum(bool(e.headline_inside) for e in with_head)
    if with_head:
        ci = stats.binomtest(held, len(with_head)).proportion_ci(confidence_level=level)
        low, high = float(ci.low), float(ci.high)
        estimate = held / len(with_head)
    else:
        low = high = estimate = float("nan")
    coverage = IntervalEstimate(
        estimate, ConfidenceInterval(low, high), level,
        f"share of the {len(with_head)} scored predictions' headline intervals holding the "
        "measured value; Clopper-Pearson (exact binomial) interval")
    compared = [e for e in scored if e.mean_abs_error is not None]
    held_of = ([e.buckets_inside for e in scored], [e.buckets for e in scored])
    wins = {}
    for name in NAIVE:
        pairs = [(e.mean_abs_error, e.baseline_errors[name]) for e in compared
                 if e.baseline_errors.get(name) is not None]
        wins[name] = (sum(own < other for own, other in pairs), len(pairs))
    return LevelSummary(
        level=level, predictions=len(entries), scored=len(scored),
        headline_scored=len(with_head), headline_inside=held,
        headline_agreeing=sum(bool(e.headline_agrees) for e in with_head), coverage=coverage,
        buckets=sum(e.buckets for e in scored),
        buckets_inside=sum(e.buckets_inside for e in scored),
        buckets_agreeing=sum(e.buckets_agreeing for e in scored),
        mean_abs_error=_mean(e.mean_abs_error for e in compared),
        baseline_errors={name: _mean(e.baseline_errors.get(name) for e in compared)
                         for name in NAIVE},
        baseline_wins=wins,
        bucket_coverage=clustered_coverage(*held_of, level),
        bucket_effective_trials=effective_trials(*held_of))


def track_record(records: list[tuple[str, str, dict]]) -> TrackRecord:
    """The track record of a registry's records (``(id, created_utc, content)``, as
    :func:`capability.records.registry.read_registry` reads them): every prediction, oldest
    first, with its latest score, and per level the summary of the module docstring."""
    predictions = [(rid, created, content) for rid, created, content in records
                   if content.get("kind") == "prediction"]
    known = {rid for rid, _, _ in predictions}
    scores: dict[str, list] = {}
    orphans = []
    for rid, created, content in records:
        if content.get("kind") != "score":
            continue
        pid = content.get("prediction_id")
        if pid in known:
            scores.setdefault(pid, []).append((rid, created, content))
        else:
            orphans.append(rid)
    entries = sorted((_entry(rid, created, content, scores.get(rid, []))
                      for rid, created, content in predictions),
                     key=lambda e: (e.registered_utc, e.prediction_id))
    levels = sorted({e.level for e in entries})
    return TrackRecord(entries=tuple(entries),
                       summaries=tuple(_summary(level, [e for e in entries if e.level == level])
                                       for level in levels),
                       orphan_scores=tuple(orphans))


COLUMNS = ("prediction_id", "registered_utc", "ladder", "target", "target_compute",
           "level", "k", "predicted", "lower", "upper", "score_id", "scored_utc", "scores",
           "target_input", "measured", "inside", "agrees", "buckets", "buckets_inside",
           "buckets_agreeing", "mean_abs_error", *(f"{name}_mean_abs_error" for name in NAIVE))


def track_record_frame(record: TrackRecord) -> pd.DataFrame:
    """One row per prediction (:data:`COLUMNS`): ids, times, ladder, target, level, the
    headline pass@k predicted with its interval and measured, whether it held and agrees,
    the buckets' counts, and the mean absolute errors (fractions) of the prediction and the
    baselines."""
    rows = []
    for e in record.entries:
        head = e.headline or {}
        rows.append({
            "prediction_id": e.prediction_id, "registered_utc": e.registered_utc,
            "ladder": e.ladder, "target": e.target, "target_compute": e.target_compute,
            "level": e.level, "k": e.headline_k, "predicted": head.get("predicted"),
            "lower": head.get("lower"), "upper": head.get("upper"),
            "score_id": e.score_id, "scored_utc": e.scored_utc, "scores": e.scores,
            "target_input": e.target_input, "measured": e.measured,
            "inside": e.headline_inside, "agrees": e.headline_agrees,
            "buckets": e.buckets, "buckets_inside": e.buckets_inside,
            "buckets_agreeing": e.buckets_agreeing, "mean_abs_error": e.mean_abs_error,
            **{f"{name}_mean_abs_error": e.baseline_errors.get(name) for name in NAIVE}})
    return pd.DataFrame(rows, columns=list(COLUMNS))
