"""Figures of a prediction, like the GPT-4 report's Figure 2 (matplotlib, no display).

Each function takes the ``prediction.json`` dictionary (and, when scored, the score
dictionary) and returns a matplotlib ``Figure``; writing it is the caller's business.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from capability.estimation.interval import json_floats, level_text

__all__ = ["bucket_figure", "loss_figure", "backtest_figure"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bucket_figure(prediction: dict, score: dict | None = None):
    """One panel per bucket: x = compute / target compute (log scale), y = mean
    ``-log(pass rate)`` of the bucket's problems; ladder points with ``level`` error bars
    (sampling noise), the report's law and its band, the prediction at the target (the
    model average, or the chosen law's) with its calibrated interval and, when scored,
    the target's measured value with its own interval -- the two side by side (x = 0.8 and
    1.25) about a dotted line at the target's compute (x = 1), so neither hides the other.
    A log y axis where a panel's values span more than a decade. A bucket the report's law
    cannot fit (every ladder model's mean ``-log p`` at 0) gets its prediction and
    measurement as text."""
    plt = _pyplot()
    buckets = prediction["buckets"]
    cols = min(3, max(1, len(buckets)))
    rows = math.ceil(len(buckets) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False,
                             constrained_layout=True)
    c_t = prediction["target_compute"]
    level = prediction["level"]
    z = float(stats.norm.ppf(0.5 + level / 2))
    pooled = (prediction.get("settings") or {}).get("pool_slopes", False)
    score_of = {} if score is None else {b["bucket"]: b for b in score["buckets"]}
    actual = {k: b["neg_log_pass_rate"] for k, b in score_of.items()}
    for ax, b in zip(axes.flat, buckets):
        ax.set_xscale("log")
        ax.set_title(f"bucket {b['bucket']} ({b['n_problems']} problems)", fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
        ax.set_xlabel("compute / target compute (log scale)")
        ax.set_ylabel("mean -log(pass rate)")
        if b.get("alpha") is None:
            ax.text(0.5, 0.5, _unfitted_text(b, score_of.get(b["bucket"]), level),
                    ha="center", va="center", transform=ax.transAxes, fontsize=8.5,
                    wrap=True)
            ax.set(xticks=[], yticks=[], xlabel="", ylabel="")
            ax.minorticks_off()
            continue
        pts = b["ladder_points"]
        x = np.array([p["compute"] for p in pts]) / c_t
        y = np.array([p["neg_log_pass_rate"] if p["neg_log_pass_rate"] is not None
                      else np.nan for p in pts])
        err = z * np.sqrt([p["variance"] or 0.0 for p in pts])
        ax.errorbar(x, y, yerr=err, fmt="o", color="tab:blue", ms=4, capsize=2,
                    label="ladder models")
        band = b.get("law_band")
        if band:
            gx = np.array(band["compute"]) / c_t
            ax.fill_between(gx, np.array(band["lower"], float),   # None (overflow): a gap
                            np.array(band["upper"], float), color="tab:orange",
                            alpha=0.18, lw=0,
                            label=f"report's law, {level_text(level)} sampling noise")
        gx = np.geomspace(min(x.min(), 1.0) / 1.5, 1.5, 60)
        ref = b["report_law"]["neg_log_pass_rate"]["predicted"]
        k_note = " (pooled across buckets)" if pooled else ""
        ax.plot(gx, ref * gx ** (-b["k"]), color="tab:orange", lw=1.5,
                label=f"report's law: k = {b['k']:z.3f}{k_note}")
        values = [v for v in y if np.isfinite(v) and v > 0]
        ax.axvline(1.0, color="grey", ls=":", lw=1,
                   label="target's compute (its points drawn beside it)")
        pred = b["neg_log_pass_rate"]
        if pred["lower"] is not None:
            # An upper bound far beyond every ladder point (p ~ 0) is drawn to the edge.
            cap = 50 * max([*values, pred["predicted"], 1e-3])
            upper = min(pred["upper"], cap)
            ax.errorbar([0.8], [pred["predicted"]],
                        yerr=[[pred["predicted"] - pred["lower"]],
                              [upper - pred["predicted"]]],
                        fmt="D", color="tab:red", ms=5, capsize=3, elinewidth=1.5,
                        label=f"prediction, {level_text(level)} interval ({b.get('law')})")
            values += [v for v in (pred["lower"], upper) if v and v > 0]
        meas = actual.get(b["bucket"])
        if meas is not None and meas.get("actual") is not None:
            lo, hi = meas.get("actual_lower"), meas.get("actual_upper")
            yerr = None if lo is None else [[meas["actual"] - lo], [hi - meas["actual"]]]
            ax.errorbar([1.25], [meas["actual"]], yerr=yerr, fmt="*", color="black", ms=9,
                        capsize=3, label="target, measured (its own interval)")
            values.append(meas["actual"])
        values = [v for v in values if v > 0]
        if values and max(values) / min(values) > 10:
            # Fixed limits (bands may be huge), at most four decades, but never leaving the
            # prediction's own point out (its bounds may run off the bottom edge).
            top = max(values) * 1.5
            bottom = max(min(values) / 1.5, top / 1e4)
            if pred["lower"] is not None and pred["predicted"] > 0:
                bottom = min(bottom, pred["predicted"] / 1.5)
            ax.set_ylim(bottom, top)
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, max(values, default=1.0) * 1.15)
        ax.legend(fontsize=6.5, loc="best")
    for ax in list(axes.flat)[len(buckets):]:
        ax.set_visible(False)
    fig.suptitle(f"Capability prediction for model {prediction['target']!r} "
                 f"({prediction['target_compute']:.3g} FLOPs)", fontsize=12)
    return fig


def _unfitted_text(b: dict, scored: dict | None, level: float) -> str:
    """A panel's text where the report's law has no fit (no problems, or no ladder model
    with a bucket mean ``-log p`` above 0): why, and the bucket's prediction (by the law it
    does use) and measurement, which a figure on a log scale of ``-log p`` cannot show."""
    if not b.get("n_problems"):
        return b.get("note") or "empty bucket"
    lines = ["the report's law: no fit", "(no ladder model's -E[log p] is above 0)"]
    pred = b.get("mean_pass_rate") or {}
    if pred.get("predicted") is not None:
        lines.append(f"predicted mean pass rate ({b.get('law')}):")
        lines.append(f"{pred['predicted']:.3f}" + ("" if pred.get("lower") is None else
                     f", {level_text(level)} interval [{pred['lower']:.3f}, {pred['upper']:.3f}]"))
    elif b.get("note"):
        lines.append(b["note"])
    meas = (scored or {}).get("mean_pass_rate") or {}
    if meas.get("actual") is not None:
        lines.append(f"measured: {meas['actual']:.3f}")
    return "\n".join(lines)


def _sci(x: float) -> str:
    """``x`` in mathtext: ``1.55 \\times 10^{3}``, or plain where no exponent is needed."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    exp = math.floor(math.log10(abs(x)))
    if -2 <= exp <= 2:
        return f"{x:.3g}"
    return f"{x / 10**exp:.3g}\\times 10^{{{exp}}}"


def loss_figure(prediction: dict):
    """Final loss against compute (log-log): ladder points, the fitted law
    ``L(C) = a C^b + c`` and its extrapolation to the target with the interval."""
    plt = _pyplot()
    loss = prediction["loss"]
    c_t = prediction["target_compute"]
    models = [m for m in prediction["models"] if m.get("loss") is not None]
    fig, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    x = np.array([m["compute"] for m in models])
    ax.plot(x / c_t, [m["loss"] for m in models], "o", color="tab:blue",
            label="ladder models")
    grid = np.geomspace(x.min() / 1.5, c_t * 1.5, 80)
    ax.plot(grid / c_t, loss["a"] * grid ** loss["b"] + loss["c"], color="tab:orange",
            label=f"fit: $L(C) = {_sci(loss['a'])}\\,C^{{{loss['b']:.3f}}} + {loss['c']:.3f}$"
                  " (C in FLOPs)")
    level = prediction["level"]
    if loss["lower"] is not None:
        ax.axhspan(loss["lower"], loss["upper"], xmin=0.0, xmax=1.0, color="tab:red",
                   alpha=0.12, lw=0)
        ax.errorbar([1.0], [loss["predicted"]], yerr=[[loss["predicted"] - loss["lower"]],
                                                      [loss["upper"] - loss["predicted"]]],
                    fmt="D", color="tab:red", capsize=4, elinewidth=2,
                    label=f"prediction {loss['predicted']:.4f} "
                          f"[{loss['lower']:.4f}, {loss['upper']:.4f}] "
                          f"({level_text(level)}; shaded)")
    else:
        ax.plot([1.0], [loss["predicted"]], "D", color="tab:red",
                label=f"prediction {loss['predicted']:.4f} (no interval)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax.yaxis.set_major_locator(LogLocator(base=10, subs=np.arange(1, 10) / 10, numticks=20))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%.2f"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("compute / target compute (log scale)")
    ax.set_ylabel("final loss (nats per token, log scale)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8)
    ax.set_title(f"Loss law, extrapolated to model {prediction['target']!r}")
    return fig


def _square_limits(*values: np.ndarray, pad: float = 0.08,
                   least: float = 0.1) -> tuple[float, float]:
    """One range for both axes of a predicted-against-measured panel: the finite values'
    range, at least ``least`` wide, widened by ``pad`` of that on each side and moved to lie
    within ``[0, 1.02]`` (pass rates); ``(0, 1.02)`` without finite values. Buckets of a
    strong ladder sit at 0.9-1.0, where the whole unit square left them in a corner."""
    flat = np.concatenate([np.ravel(v) for v in values])
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return 0.0, 1.02
    span = min(max(float(np.ptp(flat)), least) * (1 + 2 * pad), 1.02)
    lo = float(np.clip((flat.min() + flat.max() - span) / 2, 0.0, 1.02 - span))
    return lo, lo + span


def backtest_figure(prediction: dict, key: str = "backtests"):
    """The rolling backtests (``key="short_backtests"``: the short ones of a ladder too
    short for rolling ones, each model from the two below it): per step (a ladder model
    predicted from the models below an origin) each candidate law's predicted bucket mean
    pass rate against the measured one, with the diagonal of a perfect prediction, each
    panel on the range of its own values (:func:`_square_limits`); three steps to a row."""
    plt = _pyplot()
    steps = prediction["law_selection"][key]
    cols = min(3, len(steps))
    rows = -(-len(steps) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 4.0 * rows), squeeze=False,
                             constrained_layout=True)
    for ax in axes.flat[len(steps):]:
        ax.set_visible(False)
    markers = "osD^vP*X"
    for ax, step in zip(axes.flat, steps):
        actual = json_floats(step["actual_mean_pass_rate"])
        preds = {law: json_floats(vals) for law, vals in step["predicted_mean_pass_rate"].items()}
        for i, (law, pred) in enumerate(preds.items()):
            ax.plot(actual, pred, markers[i % len(markers)], ms=5, alpha=0.8, label=law)
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
        lo, hi = _square_limits(actual, *preds.values())
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel("measured bucket mean pass rate")
        ax.set_ylabel("predicted")
        ax.set_title(f"{step['held']} from {len(step['below'])} models "
                     f"({step['distance_decades']:.2f} decades)", fontsize=10)
        ax.grid(True, alpha=0.25)
        ax.legend(fontsize=7, loc="best")
    return fig
