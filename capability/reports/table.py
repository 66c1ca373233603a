"""Plain-text tables of a prediction (from its ``prediction.json`` dictionary)."""

from __future__ import annotations

import math

from capability.estimation.interval import level_text
from capability.prediction.notes import PASS_AT_K_BEYOND_SAMPLES
from capability.records.registry import SHORT_ID

__all__ = ["format_prediction", "format_score", "format_backtest", "rows_table",
           "headline_lines", "pass_at_k_label", "above_samples_text", "measured_text",
           "law_label", "error_lines", "error_table",
           "baseline_verdict", "BASELINE_LABELS", "BASELINE_COLUMNS", "format_track_record",
           "number_text"]


def number_text(x: float | None, fmt: str, missing: str = "-") -> str:
    """``x`` formatted by ``fmt``, ``missing`` for None. A fixed-point ``fmt`` (``".4f"``)
    gives way to three significant figures in exponent form at ``|x| >= 1e6``: an
    ``-E[log p]`` bound where the pass rate's lower bound is near 0 can run to 1e60, which
    fixed point would print as sixty digits. A value that rounds to zero prints without a
    sign (``0.000``, not ``-0.000``)."""
    if x is None:
        return missing
    if fmt.endswith("f") and math.isfinite(x) and abs(x) >= 1e6:
        return format(x, ".3g")
    if fmt[-1:] in ("f", "%"):   # format's "z": negative zero after rounding prints as zero
        fmt = fmt[0] + "z" + fmt[1:] if fmt[0] in "+- " else "z" + fmt
    return format(x, fmt)



def _interval(d: dict, fmt: str) -> str:
    return (f"{number_text(d['predicted'], fmt)} [{number_text(d['lower'], fmt)}, "
            f"{number_text(d['upper'], fmt)}]")


def law_label(bucket: dict, missing: str = "-") -> str:
    """A bucket's law for a table: its name, or for a model average the laws with their
    weights (the three largest), e.g. ``average: problem_power 0.55, power 0.44``."""
    weights = bucket.get("weights") or {}
    if weights:
        top = sorted(weights.items(), key=lambda kv: -kv[1])
        return "average: " + ", ".join(f"{law} {w:.2f}" for law, w in top[:3]) + \
            (", ..." if len(top) > 3 else "")
    return str(bucket.get("law") or missing)


def pass_at_k_label(k: str, value: dict) -> str:
    """``pass@k``, marked ``*`` where ``k`` is above the ladder's samples per problem (the
    prediction's ``k_above_samples``; see :func:`above_samples_text`)."""
    return f"pass@{k}" + ("*" if value.get("k_above_samples") else "")


def above_samples_text(overall: dict) -> str:
    """The footnote to the pass@k marked ``*``: their intervals rest on the per-problem
    laws' prior (empty where none is marked)."""
    if not any(v and v.get("k_above_samples") for v in overall.get("pass_at_k", {}).values()):
        return ""
    return (f"* k above the {overall.get('samples_per_problem', '?')} samples per problem "
            "the ladder models have: the interval rests on the per-problem laws' prior for "
            f"the problems the ladder barely sees ({PASS_AT_K_BEYOND_SAMPLES})")


def headline_lines(pred: dict) -> list[str]:
    """The number to quote: predicted pass@k over the covered problems with its interval,
    what it covers, and the bound for the whole benchmark; pass@k whose ``k`` is above the
    ladder's samples per problem marked ``*`` and a footnote under them."""
    o = pred.get("overall") or {}
    if not o.get("pass_at_k"):
        return []
    level = level_text(pred["level"])
    parts, whole = [], []
    for k, v in o["pass_at_k"].items():
        if v is None:
            continue
        label = pass_at_k_label(k, v)
        parts.append(f"{label} {v['predicted']:.3f} [{v['lower']:.3f}, {v['upper']:.3f}]")
        w = o["whole_benchmark"].get(k)
        if w:
            whole.append(f"{label} in [{w['lower']:.3f}, {w['upper']:.3f}]")
    lines = [f"Predicted for {pred['target']}, {level} intervals, over {o['statement']}:",
             "  " + "; ".join(parts)]
    if o["problems_covered"] < o["problems_total"]:
        lines.append(f"  whole benchmark (the {o['problems_total'] - o['problems_covered']} "
                     f"others anywhere in [0, 1]): {'; '.join(whole)}")
    footnote = above_samples_text(o)
    if footnote:
        lines.append("  " + footnote)
    return lines


def format_prediction(pred: dict, truth: list[dict] | None = None) -> str:
    """A per-bucket table: problems, alpha, k, predicted ``-E[log pass_rate]`` and mean pass
    rate with their intervals; with ``truth`` (one dict per bucket) the true values too."""
    level = level_text(pred["level"])
    head = ["bucket", "problems", "alpha", "k", "law",
            f"-E[log pass_rate] [{level} interval]", f"mean pass rate [{level} interval]"]
    if truth is not None:
        head += ["true -E[log p]", "true mean p"]
    rows = []
    for i, b in enumerate(pred["buckets"]):
        row = [str(b["bucket"]), str(b["n_problems"]), number_text(b["alpha"], ".3g"),
               number_text(b["k"], ".3f"), law_label(b),
               _interval(b["neg_log_pass_rate"], ".4f"), _interval(b["mean_pass_rate"], ".3f")]
        if truth is not None:
            row += [f"{truth[i]['neg_log_pass_rate']:.4f}", f"{truth[i]['mean_pass_rate']:.3f}"]
        rows.append(row)
    lines = [*headline_lines(pred),
             f"Prediction for {pred['target']} at {pred['target_compute']:.3g} FLOPs "
             f"(ladder {pred['ladder']}: {len(pred['models'])} models; "
             f"{len(pred['held_out'])} held out, {len(pred['excluded'])} excluded)",
             *rows_table(head, rows)]
    if (pred.get("settings") or {}).get("pool_slopes"):
        lines.append("k: the report's law's exponents, partially pooled across buckets "
                     "(--no-pool fits each alone); law: the law each bucket's prediction uses, or "
                     "the laws of a model average with their weights")
    if "loss" in pred:
        lines.append(f"final loss: {_interval(pred['loss'], '.4f')}  "
                     f"(L(C) = {pred['loss']['a']:.3g} * C^{pred['loss']['b']:.3f} + "
                     f"{pred['loss']['c']:.4f})")
    return "\n".join(lines)


def rows_table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A plain-text table's lines: the head, a rule, the rows, each column padded to its
    widest cell and two spaces apart, with no trailing blanks."""
    widths = [max(len(r[j]) for r in [head, *rows]) for j in range(len(head))]
    return ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()
            for r in [head, ["-" * w for w in widths], *rows]]


def measured_text(d: dict, fmt: str, missing: str = "-") -> str:
    """A measured value with its own interval, ``0.744 [0.740, 0.748]``, from a scored
    entry's ``actual``, ``actual_lower`` and ``actual_upper``."""
    if d.get("actual_lower") is None:
        return number_text(d.get("actual"), fmt, missing)
    return (f"{number_text(d.get('actual'), fmt, missing)} "
            f"[{number_text(d['actual_lower'], fmt, missing)}, "
            f"{number_text(d.get('actual_upper'), fmt, missing)}]")


_YES = {True: "yes", False: "no", None: "-"}


def _scored_rows(buckets: list[dict]) -> list[list[str]]:
    rows = []
    for b in buckets:
        nl, mp = b["neg_log_pass_rate"], b["mean_pass_rate"]
        rows.append([str(b["bucket"]), str(len(b["task_ids"])), _interval(nl, ".4f"),
                     measured_text(nl, ".4f"), number_text(nl["rel_error"], "+.1%"),
                     _YES[nl.get("agrees")], _YES[nl["inside"]],
                     _interval(mp, ".3f"), measured_text(mp, ".3f"), _YES[mp.get("agrees")],
                     _YES[mp["inside"]]])
    return rows


SCORED_HEAD = ["bucket", "problems", "-E[log p] predicted [interval]", "measured [interval]",
               "rel. error", "agrees", "inside", "mean p predicted [interval]",
               "measured [interval]", "agrees", "inside"]


def _agreement_line(o: dict) -> str:
    if "intervals_agreeing" not in o:
        return f"{o['intervals_holding_actual']} of {o['intervals']} intervals hold"
    return (f"{o['intervals_agreeing']} of {o['intervals']} predictions agree with the "
            "measurement (its own noise counted); "
            f"{o['intervals_holding_actual']} of {o['intervals']} intervals hold the measured "
            "value itself")


# The naive baselines in words, and the short form a narrow column takes.
BASELINE_LABELS = {"no_change": "no change", "linear_log_compute": "straight line in log compute"}
BASELINE_COLUMNS = {"no_change": "no change", "linear_log_compute": "straight line"}


def _points(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def error_table(overall: dict, baselines: dict) -> tuple[list[str], list[list[str]]]:
    """Head and rows: the prediction's errors over the scored buckets beside the naive
    baselines' on the same buckets (mean and worst absolute error of the bucket mean pass
    rate in points, of ``-E[log p]`` relative)."""
    head = ["errors over the buckets", "mean pass rate: mean abs. error (points)", "worst",
            "-E[log p]: mean abs. rel. error", "worst"]
    rows = []
    for label, o in (("prediction", overall),
                     *((f"{BASELINE_LABELS.get(n, n)} (baseline)", b["overall"])
                       for n, b in baselines.items())):
        mp, nl = o["mean_pass_rate"], o["neg_log_pass_rate"]
        rows.append([label, _points(mp.get("mean_abs_error")), _points(mp.get("max_abs_error")),
                     number_text(nl["mean_abs_rel_error"], ".1%"),
                     number_text(nl["max_abs_rel_error"], ".1%")])
    return head, rows


def baseline_verdict(overall: dict, baselines: dict) -> str:
    """Whether the prediction's bucket mean pass rates came closer than each naive
    baseline's (by mean absolute error), in one sentence."""
    own = overall["mean_pass_rate"].get("mean_abs_error")
    if not baselines:
        return ("the naive baselines: not recorded with this prediction (registered before "
                "predictions recorded them)")
    if own is None:
        return "the naive baselines: no bucket was scored"
    errs = {BASELINE_LABELS.get(n, n): b["overall"]["mean_pass_rate"]["mean_abs_error"]
            for n, b in baselines.items()}
    scored = [(f"{n} ({_points(e)} points)", own < e) for n, e in errs.items() if e is not None]
    beaten = [text for text, closer in scored if closer]
    lost = [text for text, closer in scored if not closer]
    if not lost:
        outcome = "closer than both naive baselines"
    elif beaten:
        outcome = f"closer than {' or '.join(beaten)} but not than {' or '.join(lost)}"
    else:
        outcome = f"no closer than {' or '.join(lost)}"
    return f"the prediction's mean pass rates (mean |error| {_points(own)} points) came {outcome}"


def error_lines(overall: dict, baselines: dict) -> list[str]:
    """:func:`error_table` as text, and :func:`baseline_verdict`."""
    return [*rows_table(*error_table(overall, baselines)),
            baseline_verdict(overall, baselines)]


def format_score(score: dict) -> str:
    """A per-bucket table of predicted against measured values, and the overall errors
    beside the naive baselines'."""
    lines = [f"Score of the prediction for {score['target']} (level {score['level']})"]
    lines += rows_table(SCORED_HEAD, _scored_rows(score["buckets"]))
    lines += error_lines(score["overall"], score.get("baselines") or {})
    for q, label in (("neg_log_pass_rate", "-E[log p]"), ("mean_pass_rate", "mean p")):
        lines.append(f"{label}: {_agreement_line(score['overall'][q])}")
    for k, v in (score["overall"].get("pass_at_k") or {}).items():
        if v is None or v.get("actual") is None:
            continue
        fmt = _telling_format(v)
        lines.append(f"headline {pass_at_k_label(k, v)}: predicted {v['predicted']:{fmt}} "
                     f"[{v['lower']:{fmt}}, {v['upper']:{fmt}}], measured "
                     f"{measured_text(v, fmt)}: "
                     f"{'agrees' if v['agrees'] else 'does not agree'}"
                     f"{'' if v['inside'] else ' (outside the interval)'}")
    return "\n".join(lines)


def _telling_format(v: dict) -> str:
    """Three decimals, or as many more (up to six) as it takes for a measured value
    outside the interval to print outside it (0.9964 against [0.9965, 0.9981], not 0.996
    against [0.996, 0.998])."""
    for digits in range(3, 7):
        lower, actual, upper = (round(v[key], digits) for key in ("lower", "actual", "upper"))
        if v["inside"] or not lower <= actual <= upper:
            break
    return f".{digits}f"


def format_backtest(result: dict) -> str:
    """Each fold's scored buckets and the baselines' errors on the same split."""
    lines = []
    for fold in result["folds"]:
        lines.append(f"Backtest: {fold['held_out']} ({fold['held_out_compute']:.3g} FLOPs) "
                     f"predicted from {', '.join(fold['ladder_models'])}")
        lines += rows_table(SCORED_HEAD, _scored_rows(fold["buckets"]))
        lines += error_lines(fold["overall"], fold["baselines"])
        for q, label in (("neg_log_pass_rate", "-E[log p]"), ("mean_pass_rate", "mean p")):
            lines.append(f"{label}: {_agreement_line(fold['overall'][q])}")
        lines.append("")
    return "\n".join(lines).rstrip()


def _utc_minute(stamp: str | None) -> str:
    """``2026-12-04T17:07:42+00:00`` as ``2026-12-04 17:07``."""
    return "-" if not stamp else stamp[:16].replace("T", " ")


def format_track_record(record, registry: str = "") -> str:
    """A registry's track record (:class:`capability.records.track_record.TrackRecord`):
    one row per prediction, then per level the headline intervals' coverage with its
    interval, the buckets' counts and the errors beside the baselines'."""
    from capability.laws.baselines import NAIVE

    entries = record.entries
    where = f" {registry}" if registry else ""
    lines = [f"Track record of registry{where}: {len(entries)} prediction(s), "
             f"{sum(e.scored for e in entries)} scored"]
    if not entries:
        return "\n".join(lines)
    head = ["prediction", "registered (UTC)", "ladder", "target", "compute",
            "headline predicted [interval]", "measured", "inside", "agrees", "buckets held",
            "error", *(BASELINE_COLUMNS[n] for n in NAIVE)]
    rows = []
    for e in entries:
        h = e.headline
        predicted = "-" if h is None else (
            f"pass@{e.headline_k} {number_text(h['predicted'], '.3f')} "
            f"[{number_text(h['lower'], '.3f')}, {number_text(h['upper'], '.3f')}] "
            f"({level_text(e.level)})")
        if not e.scored:
            scored = ["not scored", "-", "-", "-", "-"] + ["-"] * len(NAIVE)
        else:
            scored = [number_text(e.measured, ".3f"), _YES[e.headline_inside],
                      _YES[e.headline_agrees],
                      f"{e.buckets_inside} of {e.buckets}", _points(e.mean_abs_error),
                      *(_points(e.baseline_errors.get(n)) for n in NAIVE)]
        rows.append([e.prediction_id[:SHORT_ID], _utc_minute(e.registered_utc), e.ladder,
                     e.target, f"{e.target_compute:.3g}", predicted, *scored])
    lines += rows_table(head, rows)
    lines.append("error: mean absolute error of the buckets' mean pass rates, in points; no "
                 "change, straight line: the same for the naive baselines the prediction "
                 "recorded (no change; a straight line in log compute)")
    for s in record.summaries:
        if not s.scored:
            lines.append(f"at level {s.level}: none of {s.predictions} prediction(s) scored yet")
            continue
        cov = s.coverage
        lines.append(
            f"at level {s.level}: {s.headline_inside} of {s.headline_scored} headline "
            f"intervals held the measured value (coverage {number_text(cov.estimate, '.2f')}, "
            f"{level_text(cov.confidence_level)} interval "
            f"[{number_text(cov.confidence_interval.low, '.2f')}, "
            f"{number_text(cov.confidence_interval.high, '.2f')}], Clopper-Pearson over the "
            f"predictions); {s.headline_agreeing} agree with the measurement, its own noise "
            f"counted")
        bc = s.bucket_coverage
        held = "" if not math.isfinite(bc.estimate) else (
            f" (coverage {number_text(bc.estimate, '.2f')}, "
            f"{level_text(bc.confidence_level)} interval "
            f"[{number_text(bc.confidence_interval.low, '.2f')}, "
            f"{number_text(bc.confidence_interval.high, '.2f')}] counting a prediction's "
            f"buckets as the correlated trials they are, worth "
            f"{s.bucket_effective_trials:.1f} independent ones)")
        lines.append(
            f"  buckets: {s.buckets_inside} of {s.buckets} intervals held the measured "
            f"value{held}, {s.buckets_agreeing} agree")
        if s.mean_abs_error is not None:
            parts = []
            for name in NAIVE:
                closer, compared = s.baseline_wins[name]
                if compared:
                    parts.append(f"{BASELINE_LABELS[name]} "
                                 f"{_points(s.baseline_errors[name])} (the prediction closer "
                                 f"in {closer} of {compared})")
            lines.append(f"  mean error of the bucket mean pass rates: "
                         f"{_points(s.mean_abs_error)} points" +
                         ("; " + "; ".join(parts) if parts else
                          "; no baselines recorded with these predictions"))
    if record.orphan_scores:
        lines.append(f"{len(record.orphan_scores)} score record(s) name a prediction that is "
                     "not in this registry: "
                     + ", ".join(sid[:SHORT_ID] for sid in record.orphan_scores))
    return "\n".join(lines)
