"""Backtest: hold out the ladder's largest member(s), predict it from the smaller ones with
the full method, score it, and score two naive baselines on the same split (pure).

Baselines, per bucket and quantity (``neg_log_pass_rate``, ``mean_pass_rate``), fitted to
the remaining models and evaluated at the held-out model's compute: ``no_change`` and
``linear_log_compute`` (:func:`capability.laws.baselines.naive_baselines`), as every
prediction records them and every score scores them.
"""

from __future__ import annotations

import pandas as pd

from capability.errors import InputError
from capability.options import MIN_LADDER_MODELS
from capability.prediction.predict import PredictionSettings, predict
from capability.records.score import score_prediction

__all__ = ["backtest"]


def backtest(counts: pd.DataFrame, models: list[tuple[str, float, float | None]], *,
             largest: int = 1, ladder: str = "ladder",
             settings: PredictionSettings = PredictionSettings(),
             progress: bool = False, workers: int = 1) -> dict:
    """Predict each of the ``largest`` biggest ladder models from the models smaller than
    it, score the prediction and the baselines against its measured counts.

    Parameters
    ----------
    counts
        Long table ``model, task_id, n, c`` for every ladder model.
    models
        ``(name, compute, loss or None)``, smallest compute first.
    workers
        Processes each prediction fits in (:func:`capability.prediction.predict.predict`).

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
            # Lowering --largest helps only where the largest model has enough below it.
            possible = sum(sum(o[1] < m[1] for o in models) >= MIN_LADDER_MODELS
                           for m in models)
            fix = (f"--largest {possible} at most, or add models" if possible else
                   "add models")
            raise InputError(f"holding out {held[0]!r} leaves {len(rest)} smaller model(s); "
                             f"a prediction needs at least {MIN_LADDER_MODELS} ({fix}: a "
                             f"backtest needs {MIN_LADDER_MODELS + 1} models with distinct "
                             "compute)", key="--largest")
        names = {m[0] for m in rest}
        pred = predict(counts[counts["model"].isin(names)], rest, target=held[0],
                       target_compute=held[1], ladder=ladder, settings=settings,
                       progress=progress, workers=workers).to_dict()
        target_counts = counts[counts["model"] == held[0]][["task_id", "n", "c"]]
        score = score_prediction(pred, target_counts)
        folds.append({
            "held_out": held[0], "held_out_compute": held[1],
            "ladder_models": [m[0] for m in rest],
            "held_out_problems": pred["held_out"], "excluded": pred["excluded"],
            "level": pred["level"],
            "buckets": score["buckets"], "overall": score["overall"],
            "baselines": score["baselines"],
            "warnings": pred["warnings"], "prediction": pred,
        })
    return {**{k: v for k, v in folds[0].items() if k != "prediction"}, "folds": folds}
