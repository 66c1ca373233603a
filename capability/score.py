"""Compare a prediction with the target's measured counts, per bucket (pure).

The actual value of a bucket is measured on exactly the registered problems with the same
per-problem estimator the prediction used: ``-E_P[log pass_rate]`` is the mean of the
per-problem ``-log p`` estimates, ``E_P[pass_rate]`` the mean of ``c / n``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from capability.errors import InputError
from capability.estimate import neg_log_pass_rate

__all__ = ["bucket_actuals", "score_prediction", "errors"]

QUANTITIES = ("neg_log_pass_rate", "mean_pass_rate")


def _finite(x) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def bucket_actuals(counts: pd.DataFrame, task_ids, estimator: str) -> dict[str, float | None]:
    """Measured ``neg_log_pass_rate`` and ``mean_pass_rate`` of one bucket's problems."""
    from capability.predict import effective_counts

    ids = list(task_ids)
    if not ids:
        return {"neg_log_pass_rate": None, "mean_pass_rate": None}
    table = effective_counts(counts).set_index("task_id")
    missing = [t for t in ids if t not in table.index]
    if missing:
        raise InputError(f"the target's results lack {len(missing)} registered problem(s), "
                         f"e.g. {missing[0]!r}", key="--target")
    n = table.loc[ids, "n"].to_numpy()
    c = table.loc[ids, "c"].to_numpy()
    y = neg_log_pass_rate(n, c, estimator=estimator).estimate
    return {"neg_log_pass_rate": _finite(float(np.mean(y))),
            "mean_pass_rate": _finite(float(np.mean(c / n)))}


def errors(predicted: float | None, actual: float | None) -> dict[str, float | None]:
    """Absolute and relative error of a prediction (None where undefined)."""
    if predicted is None or actual is None:
        return {"abs_error": None, "rel_error": None}
    abs_err = predicted - actual
    rel = abs_err / actual if actual != 0 else None
    return {"abs_error": abs_err, "rel_error": rel}


def score_prediction(prediction: dict, counts: pd.DataFrame) -> dict:
    """Score a ``prediction.json`` dictionary against the target's counts.

    Returns
    -------
    dict
        ``{"target", "buckets": [{"bucket", "task_ids", "neg_log_pass_rate": {"predicted",
        "lower", "upper", "actual", "abs_error", "rel_error", "inside"}, "mean_pass_rate":
        {...}}], "overall": {...}}``. ``overall`` holds, per quantity, the mean absolute
        relative error over buckets with a prediction and how many intervals held the
        actual value.
    """
    estimator = prediction.get("settings", {}).get("estimator", "series")
    buckets = []
    for b in prediction["buckets"]:
        actual = bucket_actuals(counts, b["task_ids"], estimator)
        entry = {"bucket": b["bucket"], "task_ids": list(b["task_ids"])}
        for q in QUANTITIES:
            pred = b[q]
            inside = None
            if None not in (pred["lower"], pred["upper"], actual[q]):
                inside = bool(pred["lower"] <= actual[q] <= pred["upper"])
            entry[q] = {**pred, "actual": actual[q], **errors(pred["predicted"], actual[q]),
                        "inside": inside}
        buckets.append(entry)
    overall = {}
    for q in QUANTITIES:
        rel = [abs(b[q]["rel_error"]) for b in buckets if b[q]["rel_error"] is not None]
        inside = [b[q]["inside"] for b in buckets if b[q]["inside"] is not None]
        overall[q] = {"mean_abs_rel_error": float(np.mean(rel)) if rel else None,
                      "max_abs_rel_error": float(np.max(rel)) if rel else None,
                      "intervals_holding_actual": int(sum(inside)),
                      "intervals": len(inside), "buckets_scored": len(rel)}
    return {"target": prediction["target"], "level": prediction["level"],
            "buckets": buckets, "overall": overall}
