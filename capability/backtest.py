"""Backtest: hold out the ladder's largest member(s), predict it from the smaller ones with
the full method, score it, and score two naive baselines on the same split (pure).

Baselines, per bucket and quantity (``neg_log_pass_rate``, ``mean_pass_rate``):

``no_change``
    The largest remaining ladder model's measured value: "the big model will do what the
    biggest small one does".
``linear_log_compute``
    Ordinary least squares of the bucket's measured value on ``log10(C)`` over the
    remaining models, extrapolated to the held-out model's compute (mean pass rate clipped
    to [0, 1], ``-log`` pass rate to >= 0): "a straight line in the usual plot".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capability.errors import InputError
from capability.ladder import MIN_LADDER_MODELS
from capability.predict import PredictionSettings, predict
from capability.score import QUANTITIES, bucket_actuals, errors, score_prediction

__all__ = ["backtest", "BASELINES"]

BASELINES = ("no_change", "linear_log_compute")


def _baselines(counts, rest, held, buckets, actual_by_bucket, estimator) -> dict:
    x = np.log10([m[1] for m in rest])
    x_target = np.log10(held[1])
    per_model = {m[0]: counts[counts["model"] == m[0]] for m in rest}
    out = {name: {"buckets": []} for name in BASELINES}
    for b, ids in enumerate(buckets, start=1):
        values = {q: np.array([bucket_actuals(per_model[m[0]], ids, estimator)[q]
                               if ids else np.nan for m in rest], dtype=float)
                  for q in QUANTITIES}
        for name in BASELINES:
            entry = {"bucket": b}
            for q in QUANTITIES:
                y = values[q]
                if not np.all(np.isfinite(y)):
                    pred = None
                elif name == "no_change":
                    pred = float(y[-1])
                else:
                    slope, intercept = np.polyfit(x, y, 1)
                    pred = float(intercept + slope * x_target)
                    pred = min(max(pred, 0.0), 1.0) if q == "mean_pass_rate" \
                        else max(pred, 0.0)
                actual = actual_by_bucket[b - 1][q]
                entry[q] = {"predicted": pred, "actual": actual, **errors(pred, actual)}
            out[name]["buckets"].append(entry)
    for name in BASELINES:
        overall = {}
        for q in QUANTITIES:
            rel = [abs(e[q]["rel_error"]) for e in out[name]["buckets"]
                   if e[q]["rel_error"] is not None]
            overall[q] = {"mean_abs_rel_error": float(np.mean(rel)) if rel else None,
                          "max_abs_rel_error": float(np.max(rel)) if rel else None}
        out[name]["overall"] = overall
    return out


def backtest(counts: pd.DataFrame, models: list[tuple[str, float, float | None]], *,
             largest: int = 1, ladder: str = "ladder",
             settings: PredictionSettings = PredictionSettings()) -> dict:
    """Predict each of the ``largest`` biggest ladder models from the models smaller than
    it, score the prediction and the baselines against its measured counts.

    Parameters
    ----------
    counts
        Long table ``model, task_id, n, c`` for every ladder model.
    models
        ``(name, compute, loss or None)``, smallest compute first.

    Returns
    -------
    dict
        ``backtest.json``: the fold of the largest model at top level (``held_out``,
        ``buckets`` with predicted, interval and actual, ``baselines``, ``overall``), and
        every fold under ``folds``.
    """
    if not (isinstance(largest, int) and largest >= 1):
        raise InputError(f"expected a whole number >= 1, found {largest!r}", key="--largest")
    models = sorted(models, key=lambda m: m[1])
    folds = []
    for held in models[::-1][:largest]:
        rest = [m for m in models if m[1] < held[1]]
        if len(rest) < MIN_LADDER_MODELS:
            raise InputError(f"holding out {held[0]!r} leaves {len(rest)} smaller model(s); "
                             f"a prediction needs at least {MIN_LADDER_MODELS} (lower "
                             "--largest or add models)", key="--largest")
        names = {m[0] for m in rest}
        pred = predict(counts[counts["model"].isin(names)], rest, target=held[0],
                       target_compute=held[1], ladder=ladder, settings=settings).to_dict()
        target_counts = counts[counts["model"] == held[0]][["task_id", "n", "c"]]
        score = score_prediction(pred, target_counts)
        actual = [{q: b[q]["actual"] for q in QUANTITIES} for b in score["buckets"]]
        buckets = [b["task_ids"] for b in pred["buckets"]]
        folds.append({
            "held_out": held[0], "held_out_compute": held[1],
            "ladder_models": [m[0] for m in rest],
            "held_out_problems": pred["held_out"], "excluded": pred["excluded"],
            "level": pred["level"],
            "buckets": score["buckets"], "overall": score["overall"],
            "baselines": _baselines(counts, rest, held, buckets, actual,
                                    pred["settings"]["estimator"]),
            "warnings": pred["warnings"], "prediction": pred,
        })
    return {**{k: v for k, v in folds[0].items() if k != "prediction"}, "folds": folds}
