"""Plain-text tables of a prediction (from its ``prediction.json`` dictionary)."""

from __future__ import annotations

__all__ = ["format_prediction"]


def _num(x, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def _interval(d: dict, fmt: str) -> str:
    return f"{_num(d['predicted'], fmt)} [{_num(d['lower'], fmt)}, {_num(d['upper'], fmt)}]"


def format_prediction(pred: dict, truth: list[dict] | None = None) -> str:
    """A per-bucket table: problems, alpha, k, predicted ``-E[log pass_rate]`` and mean pass
    rate with their intervals; with ``truth`` (one dict per bucket) the true values too."""
    level = round(100 * pred["level"])
    head = ["bucket", "problems", "alpha", "k", f"-E[log pass_rate] [{level}% interval]",
            f"mean pass rate [{level}% interval]"]
    if truth is not None:
        head += ["true -E[log p]", "true mean p"]
    rows = []
    for i, b in enumerate(pred["buckets"]):
        row = [str(b["bucket"]), str(b["n_problems"]), _num(b["alpha"], ".3g"),
               _num(b["k"], ".3f"), _interval(b["neg_log_pass_rate"], ".4f"),
               _interval(b["mean_pass_rate"], ".3f")]
        if truth is not None:
            row += [f"{truth[i]['neg_log_pass_rate']:.4f}", f"{truth[i]['mean_pass_rate']:.3f}"]
        rows.append(row)
    widths = [max(len(r[j]) for r in [head, *rows]) for j in range(len(head))]
    lines = [f"Prediction for {pred['target']} at {pred['target_compute']:.3g} FLOPs "
             f"(ladder {pred['ladder']}: {len(pred['models'])} models; "
             f"{len(pred['held_out'])} held out, {len(pred['excluded'])} excluded)",
             "  ".join(h.ljust(w) for h, w in zip(head, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    if "loss" in pred:
        lines.append(f"final loss: {_interval(pred['loss'], '.4f')}  "
                     f"(L(C) = {pred['loss']['a']:.3g} * C^{pred['loss']['b']:.3f} + "
                     f"{pred['loss']['c']:.4f})")
    return "\n".join(lines)
