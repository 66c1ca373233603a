"""Compare a prediction with the target's measured counts, per bucket (pure).

The actual value of a bucket is measured on exactly the registered problems with the same
per-problem estimator the prediction used: ``-E_P[log pass_rate]`` is the mean of the
per-problem ``-log p`` estimates, ``E_P[pass_rate]`` the mean of ``c / n``.

**The measurement's own noise.** The prediction's interval is for the target's *true*
bucket value; the measured value is an estimate from a finite number of samples, with its
own sampling error -- often larger than the interval when the target was sampled a few
times per problem. So each measured value comes with its interval (binomial per problem:
:func:`capability.prediction.rolling.measured_bucket_values`; on the angular scale for the mean pass
rate, on the natural scale for ``-E[log p]``, whose log is undefined at a saturated bucket's
0), and a prediction **agrees** with the measurement when the difference of the two on that
scale lies within ``sqrt(h^2 + (z s)^2)``: ``h`` the prediction interval's
half-width on the side of the measurement, ``s`` the measurement's standard error, ``z`` the
normal quantile at the level (the prediction's interval widened by the measurement's, in
quadrature). ``inside`` -- the measured value inside the prediction's interval, which
undercounts agreement whenever the measurement is noisy -- is kept as a secondary column.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from capability.errors import InputError
from capability.estimation.estimate import neg_log_pass_rate
from capability.estimation.interval import ConfidenceInterval
from capability.laws.baselines import NAIVE

__all__ = ["bucket_actuals", "measurement", "agrees", "score_prediction", "score_frame",
           "errors", "error_summary", "baseline_scores", "check_target_counts"]

QUANTITIES = ("neg_log_pass_rate", "mean_pass_rate")
AGREEMENT_RULE = ("agrees: |prediction - measurement| on the angular (mean pass rate) or "
                  "natural (-E[log p]) scale within sqrt(h^2 + (z se)^2), h the prediction "
                  "interval's half-width toward the measurement, se the measurement's binomial "
                  "standard error; inside: the measured value inside the prediction's interval")


def _finite(x) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _bucket_counts(counts: pd.DataFrame, task_ids) -> tuple[np.ndarray, np.ndarray]:
    from capability.prediction.predict import effective_counts

    ids = list(task_ids)
    table = effective_counts(counts).set_index("task_id")
    missing = [t for t in ids if t not in table.index]
    if missing:
        raise InputError(f"the target's results lack {len(missing)} of the {len(ids)} "
                         f"registered problem(s), e.g. {missing[0]!r}", key="--target")
    return table.loc[ids, "n"].to_numpy(), table.loc[ids, "c"].to_numpy()


def bucket_actuals(counts: pd.DataFrame, task_ids, estimator: str) -> dict[str, float | None]:
    """Measured ``neg_log_pass_rate`` and ``mean_pass_rate`` of one bucket's problems."""
    if not list(task_ids):
        return {"neg_log_pass_rate": None, "mean_pass_rate": None}
    n, c = _bucket_counts(counts, task_ids)
    y = neg_log_pass_rate(n, c, estimator=estimator).estimate
    return {"neg_log_pass_rate": _finite(float(np.mean(y))),
            "mean_pass_rate": _finite(float(np.mean(c / n)))}


def _scale(quantity: str):
    """The scale agreement is judged on: angular for the mean pass rate (its noise is about
    the same near 0.5 and near 1), the natural scale for ``-E[log p]`` (whose log is not
    defined at a measured 0, a saturated bucket)."""
    from capability.prediction.scales import SCALES, Scale

    return SCALES[quantity] if quantity == "mean_pass_rate" else \
        Scale("identity", 0.0, np.inf)


def measurement(counts: pd.DataFrame, task_ids, estimator: str,
                level: float) -> dict[str, dict | None]:
    """Per quantity the measured value with its own interval at ``level``
    (``{"value", "lower", "upper", "se"}``, ``se`` on the scale of :func:`_scale`), from the
    target's counts on one bucket's problems; None for an empty bucket."""
    from capability.prediction.rolling import measured_bucket_values
    from capability.prediction.scales import SCALES

    if not list(task_ids):
        return {q: None for q in QUANTITIES}
    n, c = _bucket_counts(counts, task_ids)
    values, var = measured_bucket_values(n[None].astype(float), c[None].astype(float),
                                         (np.arange(n.size),), estimator)
    z = float(stats.norm.ppf(0.5 + level / 2))
    out = {}
    for q in QUANTITIES:
        v = float(np.ravel(values[q])[0])
        var_q = float(np.ravel(var[q])[0])
        if q != "mean_pass_rate":   # back from the log scale's delta method to the value's
            var_q = var_q / float(SCALES[q].derivative(v)) ** 2
        se = math.sqrt(var_q) if var_q >= 0 else float("nan")
        if not (math.isfinite(v) and math.isfinite(se)):
            out[q] = None
            continue
        out[q] = _measured(v, se, _scale(q), z)
    return out


def _measured(value: float, se: float, scale, z: float) -> dict:
    """A measured value with its interval ``value +- z se`` on ``scale``, mapped back."""
    t = float(scale.forward(value))
    return {"value": value, "lower": min(float(scale.inverse(t - z * se)), value),
            "upper": max(float(scale.inverse(t + z * se)), value), "se": se}


def agrees(quantity: str, pred: dict, measured: dict | None, level: float) -> bool | None:
    """Whether a prediction (``predicted``, ``lower``, ``upper``) agrees with a measurement
    counting both uncertainties (the module docstring's rule); None where undefined."""
    if measured is None or None in (pred["predicted"], pred["lower"], pred["upper"]):
        return None
    scale = _scale(quantity)
    t_pred, t_meas = float(scale.forward(pred["predicted"])), float(
        scale.forward(measured["value"]))
    side = pred["lower"] if t_meas < t_pred else pred["upper"]
    h = abs(float(scale.forward(side)) - t_pred)
    z = float(stats.norm.ppf(0.5 + level / 2))
    return bool(abs(t_meas - t_pred) <= math.hypot(h, z * measured["se"]) + 1e-12)


def errors(predicted: float | None, actual: float | None) -> dict[str, float | None]:
    """Absolute and relative error of a prediction (None where undefined)."""
    if predicted is None or actual is None:
        return {"abs_error": None, "rel_error": None}
    abs_err = predicted - actual
    rel = abs_err / actual if actual != 0 else None
    return {"abs_error": abs_err, "rel_error": rel}


def error_summary(entries: list[dict], quantity: str) -> dict[str, float | int | None]:
    """Over scored buckets' entries (each ``{quantity: {"abs_error", "rel_error"}}``), the
    mean and worst absolute relative error and absolute error (for the mean pass rate, a
    fraction: x 100 is points), and how many buckets have a relative error."""
    rel = [abs(e[quantity]["rel_error"]) for e in entries
           if e[quantity]["rel_error"] is not None]
    ab = [abs(e[quantity]["abs_error"]) for e in entries
          if e[quantity]["abs_error"] is not None]
    return {"mean_abs_rel_error": float(np.mean(rel)) if rel else None,
            "max_abs_rel_error": float(np.max(rel)) if rel else None,
            "mean_abs_error": float(np.mean(ab)) if ab else None,
            "max_abs_error": float(np.max(ab)) if ab else None,
            "buckets_scored": len(rel)}


def baseline_scores(prediction: dict, actual: list[dict]) -> dict:
    """The naive baselines the prediction recorded beside its own values (each bucket's
    ``baselines``) against the measured values (``actual``: per bucket ``{quantity:
    value}``): ``{name: {"buckets": [{"bucket", quantity: {"predicted", "actual",
    "abs_error", "rel_error"}}], "overall": {quantity: error_summary}}}``, ``name`` in
    :data:`capability.laws.baselines.NAIVE`. Empty for a prediction that recorded none (one
    registered before predictions recorded their baselines)."""
    if not all((b.get("baselines") or {}).keys() >= set(NAIVE)
               for b in prediction["buckets"]):
        return {}
    out = {}
    for name in NAIVE:
        entries = []
        for b, act in zip(prediction["buckets"], actual):
            entry = {"bucket": b["bucket"]}
            for q in QUANTITIES:
                value = b["baselines"][name][q]
                entry[q] = {"predicted": value, "actual": act[q], **errors(value, act[q])}
            entries.append(entry)
        out[name] = {"buckets": entries,
                     "overall": {q: error_summary(entries, q) for q in QUANTITIES}}
    return out


def check_target_counts(prediction: dict, counts: pd.DataFrame) -> pd.DataFrame:
    """Validate :func:`score_prediction`'s inputs at the boundary: a ``prediction.json``
    dictionary and the target's counts, one row per task (``task_id``, ``n``, ``c``; a
    ``model`` column, if any, naming one model), whole numbers with ``1 <= n`` and ``0 <= c
    <= n``. Returns the counts with ``n`` and ``c`` as int64; raises
    :class:`capability.errors.InputError` naming what was expected and what was found (a
    table of every model's counts would otherwise be scored as if it were the target's)."""
    from capability.prediction.inputs import checked_counts

    if not isinstance(prediction, dict) or not {"level", "buckets"} <= prediction.keys():
        found = (type(prediction).__name__ if not isinstance(prediction, dict) else
                 f"keys {', '.join(map(repr, prediction))}" if prediction else "no keys")
        raise InputError("expected a prediction.json dictionary (keys 'level', 'buckets', "
                         f"...), found {found}", key="prediction")
    counts = checked_counts(counts, ("task_id", "n", "c"))
    if "model" in counts.columns and counts["model"].nunique() > 1:
        names = sorted(map(str, counts["model"].unique()))
        raise InputError(f"expected the target's counts alone, found {len(names)} models "
                         f"({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}): "
                         "select the target's rows", key="counts")
    twice = counts["task_id"][counts["task_id"].duplicated()]
    if len(twice):
        raise InputError(f"expected one row per task, found task {twice.iloc[0]!r} more than "
                         "once", key="counts")
    return counts


def score_prediction(prediction: dict, counts: pd.DataFrame) -> dict:
    """Score a ``prediction.json`` dictionary against the target's counts.

    Returns
    -------
    dict
        ``{"target", "buckets": [{"bucket", "task_ids", "neg_log_pass_rate": {"predicted",
        "lower", "upper", "actual", "abs_error", "rel_error", "inside"}, "mean_pass_rate":
        {...}}], "overall": {...}}``; each quantity also has ``actual_lower`` and
        ``actual_upper`` (the measurement's interval) and ``agrees`` (the module
        docstring's rule). ``overall`` holds, per quantity, the mean and worst absolute
        (relative) error over buckets with a prediction (:func:`error_summary`), how many
        predictions agree with the measurement and how many intervals held the measured
        value itself. ``baselines``: the naive baselines the prediction recorded, scored
        on the same buckets (:func:`baseline_scores`).
    """
    from capability.prediction.predict import effective_counts

    counts = check_target_counts(prediction, counts)
    estimator = prediction.get("settings", {}).get("estimator", "series")
    level = float(prediction["level"])
    # Once for every bucket (an adaptive budget's counts read again are as they were), and
    # every bucket's problems checked at once, so a target that lacks some says how many.
    counts = effective_counts(counts)
    _bucket_counts(counts, [t for b in prediction["buckets"] for t in b["task_ids"]])
    buckets = []
    for b in prediction["buckets"]:
        actual = bucket_actuals(counts, b["task_ids"], estimator)
        meas = measurement(counts, b["task_ids"], estimator, level)
        entry = {"bucket": b["bucket"], "task_ids": list(b["task_ids"])}
        for q in QUANTITIES:
            pred = b[q]
            inside = None
            if None not in (pred["lower"], pred["upper"], actual[q]):
                inside = ConfidenceInterval(pred["lower"], pred["upper"]).contains(actual[q])
            m = meas[q]
            entry[q] = {**pred, "actual": actual[q],
                        "actual_lower": None if m is None else m["lower"],
                        "actual_upper": None if m is None else m["upper"],
                        **errors(pred["predicted"], actual[q]),
                        "agrees": agrees(q, pred, m, level), "inside": inside}
        buckets.append(entry)
    overall = {}
    for q in QUANTITIES:
        inside = [b[q]["inside"] for b in buckets if b[q]["inside"] is not None]
        agree = [b[q]["agrees"] for b in buckets if b[q]["agrees"] is not None]
        overall[q] = {**error_summary(buckets, q),
                      "intervals_agreeing": int(sum(agree)),
                      "intervals_holding_actual": int(sum(inside)),
                      "intervals": len(inside)}
    overall["pass_at_k"] = _headline_score(prediction, counts, level)
    actual = [{q: b[q]["actual"] for q in QUANTITIES} for b in buckets]
    return {"target": prediction["target"], "level": prediction["level"],
            "agreement_rule": AGREEMENT_RULE, "buckets": buckets, "overall": overall,
            "baselines": baseline_scores(prediction, actual)}


def _headline_score(prediction: dict, counts: pd.DataFrame, level: float) -> dict:
    """The headline pass@k (``prediction["overall"]``) against the target's measured pass@k
    on the same covered problems. The measurement's interval comes from a parametric
    bootstrap of its counts (``c* ~ Binomial(n, (c + 1/2)/(n + 1))``, 400 draws, on the
    angular scale); agreement as for the buckets."""
    from capability.estimation.estimate import pass_at_k
    from capability.prediction.scales import SCALES

    head = (prediction.get("overall") or {}).get("pass_at_k") or {}
    ids = [t for b in prediction["buckets"] if b["mean_pass_rate"]["predicted"] is not None
           for t in b["task_ids"]]
    if not head or not ids:
        return {}
    n, c = _bucket_counts(counts, ids)
    rng = np.random.default_rng(0)
    c_star = rng.binomial(n, (c + 0.5) / (n + 1.0), size=(400, n.size))
    scale, z = SCALES["mean_pass_rate"], float(stats.norm.ppf(0.5 + level / 2))
    out = {}
    for k, pred in head.items():
        k_int = int(k)
        if pred is None or np.any(n < k_int):
            out[k] = None if pred is None else {**pred, "actual": None, "agrees": None,
                                                "inside": None}
            continue
        value = float(pass_at_k(n, c, k_int).mean())
        boot = pass_at_k(np.broadcast_to(n, c_star.shape), c_star, k_int).mean(axis=1)
        measured = _measured(value, float(np.std(scale.forward(boot), ddof=1)), scale, z)
        out[k] = {**{key: pred[key] for key in ("predicted", "lower", "upper",
                                                 "k_above_samples") if key in pred},
                  "actual": value, "actual_lower": measured["lower"],
                  "actual_upper": measured["upper"],
                  "agrees": agrees("mean_pass_rate", pred, measured, level),
                  "inside": ConfidenceInterval(pred["lower"], pred["upper"]).contains(value)}
    return out


def score_frame(score: dict) -> pd.DataFrame:
    """A score (:func:`score_prediction`'s dictionary, or ``score.json``) as one row per
    bucket: ``bucket, problems``, then per quantity (``mean_pass_rate``, ``neg_log``)
    predicted, lower, upper, measured with its interval, ``agrees`` and ``inside``."""
    rows = []
    for b in score["buckets"]:
        row = {"bucket": b["bucket"], "problems": len(b["task_ids"])}
        for q, prefix in (("mean_pass_rate", ""), ("neg_log_pass_rate", "neg_log_")):
            d = b[q]
            row.update({f"{prefix}{k}": d.get(k) for k in (
                "predicted", "lower", "upper")})
            row.update({f"{prefix}measured": d.get("actual"),
                        f"{prefix}measured_lower": d.get("actual_lower"),
                        f"{prefix}measured_upper": d.get("actual_upper"),
                        f"{prefix}agrees": d.get("agrees"), f"{prefix}inside": d.get("inside")})
        rows.append(row)
    return pd.DataFrame(rows)
