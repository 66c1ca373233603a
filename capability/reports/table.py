"""Plain-text tables of a prediction (from its ``prediction.json`` dictionary)."""

from __future__ import annotations

__all__ = ["format_prediction", "format_score", "format_backtest", "rows_table",
           "headline_lines", "measured_text", "law_label"]


def _num(x, fmt: str, missing: str = "-") -> str:
    return missing if x is None else format(x, fmt)


def _interval(d: dict, fmt: str) -> str:
    return f"{_num(d['predicted'], fmt)} [{_num(d['lower'], fmt)}, {_num(d['upper'], fmt)}]"


def law_label(bucket: dict, missing: str = "-") -> str:
    """A bucket's law for a table: its name, or for a model average the laws with their
    weights (the three largest), e.g. ``average: problem_power 0.55, power 0.44``."""
    weights = bucket.get("weights") or {}
    if weights:
        top = sorted(weights.items(), key=lambda kv: -kv[1])
        return "average: " + ", ".join(f"{law} {w:.2f}" for law, w in top[:3]) + \
            (", ..." if len(top) > 3 else "")
    return str(bucket.get("law") or missing)


def headline_lines(pred: dict) -> list[str]:
    """The number to quote: predicted pass@k over the covered problems with its interval,
    what it covers, and the bound for the whole benchmark."""
    o = pred.get("overall") or {}
    if not o.get("pass_at_k"):
        return []
    level = round(100 * pred["level"])
    parts, whole = [], []
    for k, v in o["pass_at_k"].items():
        if v is None:
            continue
        parts.append(f"pass@{k} {v['predicted']:.3f} [{v['lower']:.3f}, {v['upper']:.3f}]")
        w = o["whole_benchmark"].get(k)
        if w:
            whole.append(f"pass@{k} in [{w['lower']:.3f}, {w['upper']:.3f}]")
    lines = [f"Predicted for {pred['target']}, {level}% intervals, over {o['statement']}:",
             "  " + "; ".join(parts)]
    if o["problems_covered"] < o["problems_total"]:
        lines.append(f"  whole benchmark (the {o['problems_total'] - o['problems_covered']} "
                     f"others anywhere in [0, 1]): {'; '.join(whole)}")
    return lines


def format_prediction(pred: dict, truth: list[dict] | None = None) -> str:
    """A per-bucket table: problems, alpha, k, predicted ``-E[log pass_rate]`` and mean pass
    rate with their intervals; with ``truth`` (one dict per bucket) the true values too."""
    level = round(100 * pred["level"])
    head = ["bucket", "problems", "alpha", "k", "law",
            f"-E[log pass_rate] [{level}% interval]", f"mean pass rate [{level}% interval]"]
    if truth is not None:
        head += ["true -E[log p]", "true mean p"]
    rows = []
    for i, b in enumerate(pred["buckets"]):
        row = [str(b["bucket"]), str(b["n_problems"]), _num(b["alpha"], ".3g"),
               _num(b["k"], ".3f"), law_label(b),
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
    widths = [max(len(r[j]) for r in [head, *rows]) for j in range(len(head))]
    return ["  ".join(h.ljust(w) for h, w in zip(head, widths)),
            "  ".join("-" * w for w in widths),
            *["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]]


def measured_text(d: dict, fmt: str, missing: str = "-") -> str:
    """A measured value with its own interval, ``0.744 [0.740, 0.748]``, from a scored
    entry's ``actual``, ``actual_lower`` and ``actual_upper``."""
    if d.get("actual_lower") is None:
        return _num(d.get("actual"), fmt, missing)
    return (f"{_num(d.get('actual'), fmt, missing)} [{_num(d['actual_lower'], fmt, missing)}, "
            f"{_num(d.get('actual_upper'), fmt, missing)}]")


_YES = {True: "yes", False: "no", None: "-"}


def _scored_rows(buckets: list[dict]) -> list[list[str]]:
    rows = []
    for b in buckets:
        nl, mp = b["neg_log_pass_rate"], b["mean_pass_rate"]
        rows.append([str(b["bucket"]), str(len(b["task_ids"])), _interval(nl, ".4f"),
                     measured_text(nl, ".4f"), _num(nl["rel_error"], "+.1%"),
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


def format_score(score: dict) -> str:
    """A per-bucket table of predicted against measured values, and the overall errors."""
    lines = [f"Score of the prediction for {score['target']} (level {score['level']})"]
    lines += rows_table(SCORED_HEAD, _scored_rows(score["buckets"]))
    o = score["overall"]["neg_log_pass_rate"]
    lines.append(f"overall: mean |relative error| {_num(o['mean_abs_rel_error'], '.1%')}, "
                 f"worst {_num(o['max_abs_rel_error'], '.1%')}")
    for q, label in (("neg_log_pass_rate", "-E[log p]"), ("mean_pass_rate", "mean p")):
        lines.append(f"{label}: {_agreement_line(score['overall'][q])}")
    for k, v in (score["overall"].get("pass_at_k") or {}).items():
        if v is None or v.get("actual") is None:
            continue
        lines.append(f"headline pass@{k}: predicted {v['predicted']:.3f} [{v['lower']:.3f}, "
                     f"{v['upper']:.3f}], measured {measured_text(v, '.3f')}: "
                     f"{'agrees' if v['agrees'] else 'does not agree'}"
                     f"{'' if v['inside'] else ' (outside the interval)'}")
    return "\n".join(lines)


def format_backtest(result: dict) -> str:
    """Each fold's scored buckets and the baselines' errors on the same split."""
    lines = []
    for fold in result["folds"]:
        lines.append(f"Backtest: {fold['held_out']} ({fold['held_out_compute']:.3g} FLOPs) "
                     f"predicted from {', '.join(fold['ladder_models'])}")
        lines += rows_table(SCORED_HEAD, _scored_rows(fold["buckets"]))
        o = fold["overall"]["neg_log_pass_rate"]
        lines.append(f"method: mean |relative error| of -E[log p] "
                     f"{_num(o['mean_abs_rel_error'], '.1%')}, mean pass rate "
                     f"{_num(fold['overall']['mean_pass_rate']['mean_abs_rel_error'], '.1%')}"
                     f"; -E[log p]: {_agreement_line(o)}")
        for name, base in fold["baselines"].items():
            ob = base["overall"]
            lines.append(f"baseline {name}: mean |relative error| of -E[log p] "
                         f"{_num(ob['neg_log_pass_rate']['mean_abs_rel_error'], '.1%')}, "
                         f"mean pass rate "
                         f"{_num(ob['mean_pass_rate']['mean_abs_rel_error'], '.1%')}")
        lines.append("")
    return "\n".join(lines).rstrip()
