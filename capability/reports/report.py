"""Prediction reports people read: ``report.md`` and a self-contained ``report.html``.

A report is made from a directory holding ``prediction.json`` (from ``capability run``),
optionally ``score.json`` (from ``capability score``) and ``registration.json``; or from a
backtest directory holding ``backtest.json``. Figures are PNG files under ``figures/`` for
the Markdown and embedded as data URIs in the HTML, which loads nothing from the network.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from pathlib import Path

from capability.errors import InputError
from capability.estimation.interval import level_text
from capability.prediction.calibrate import FALLBACK_SIGMA
from capability.reports.table import (
    above_samples_text,
    baseline_verdict,
    error_table,
    headline_lines,
    law_label,
    measured_text,
    number_text,
    pass_at_k_label,
)

__all__ = ["write_report"]


def _load(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise InputError(f"not valid JSON ({err})", path=path) from None


def _about_this_prediction(registration: dict | None, score: dict | None,
                           prediction: dict) -> tuple[dict | None, dict | None, list[str]]:
    """``registration.json`` and ``score.json`` where they are about the prediction in
    ``prediction.json``, else None each, with a line that says why: a run made again into
    its directory after it was registered (or scored) keeps the old files, which describe
    the old prediction. A registration whose record cannot be read is kept, and said to be
    unchecked."""
    from capability.records.registry import SHORT_ID, registration_holds

    lines = []
    if registration is not None:
        rid = str(registration.get("id", ""))
        holds = registration_holds(registration, prediction)
        if holds is False:
            lines.append(f"**Not registered:** registration.json names prediction "
                         f"`{rid[:SHORT_ID]}`, and prediction.json is not that prediction "
                         "any more (the run was made again since it was registered); "
                         "`capability register --force` registers this one.")
            registration = None
        elif holds is None:
            lines.append(f"Registration `{rid[:SHORT_ID]}` is unchecked: its record could "
                         f"not be read from {registration.get('registry')} to compare with "
                         "prediction.json.")
    if score is not None and (registration is None or
                              score.get("prediction_id") != registration.get("id")):
        lines.append(f"score.json scores prediction "
                     f"`{str(score.get('prediction_id', ''))[:SHORT_ID]}`, not the one in "
                     "prediction.json: it is not shown.")
        score = None
    return registration, score, lines


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _fmt(x, spec: str) -> str:
    return number_text(x, spec, missing="–")


def _interval(d: dict, spec: str) -> str:
    return (f"{_fmt(d.get('predicted'), spec)} [{_fmt(d.get('lower'), spec)}, "
            f"{_fmt(d.get('upper'), spec)}]")


def _measured(d: dict, spec: str) -> str:
    return measured_text(d, spec, missing="–")


def _bend_words(gamma: float) -> str:
    """The bent law's ``gamma`` in words: each decade of compute moves the problems
    ``10^gamma`` times as far as the decade before."""
    if gamma == 0:
        return "straight in log compute (gamma 0)"
    return (f"{'slowing' if gamma < 0 else 'speeding up'}: each decade of compute does "
            f"{10 ** gamma:.2f}x what the one before did (gamma {gamma:+.1f} per decade)")


def _gate_words(gate: dict) -> str:
    """Why the model average left the bent law out (``law_selection.bend_gate``)."""
    name, read = list(gate["reads"].items())[-1]
    where = "the buckets' problems" if name == "buckets" else "every problem"
    return (f"; the bent law is left out: the bend read from {where} (gamma "
            f"{read['gamma']:+.1f} per decade) strays {read['visible_decades']:.2f} decades "
            f"from a straight line, no more than the models' own deviation "
            f"({gate['deviation_decades']:.2f})")


def _headline_table(prediction: dict, score: dict | None):
    """pass@k over the covered problems with its interval and the whole-benchmark bound;
    when scored, the measured pass@k with its interval and whether they agree."""
    o = prediction.get("overall") or {}
    if not o.get("pass_at_k"):
        return None
    level = level_text(prediction["level"])
    measured = ((score or {}).get("overall") or {}).get("pass_at_k") or {}
    head = ["", "predicted", f"{level} interval",
            f"whole benchmark (the {o['problems_total'] - o['problems_covered']} others in "
            "[0, 1])"]
    if measured:
        head += ["measured [its interval]", "agrees"]
    rows = []
    for k, v in o["pass_at_k"].items():
        if v is None:
            continue
        whole = o["whole_benchmark"].get(k) or {}
        row = [pass_at_k_label(k, v), f"{v['predicted']:.3f}",
               f"[{v['lower']:.3f}, {v['upper']:.3f}]",
               f"[{whole.get('lower', float('nan')):.3f}, {whole.get('upper', float('nan')):.3f}]"]
        if measured:
            m = measured.get(k) or {}
            row += [_measured(m, ".3f") if m.get("actual") is not None else "–",
                    {True: "yes", False: "no", None: "–"}[m.get("agrees")]]
        rows.append(row)
    return f"Headline: over {o['statement']}", head, rows, above_samples_text(o)


def _offsets_noise(offsets: dict) -> str:
    """The caption's words on how well the counts read the offsets: each offset's
    estimation noise (sd, decades; its binomial part) and the posterior probability that
    the models sit on their trend. An offset within about twice its noise is not evidence
    of a model off its trend (a clean ladder at four samples per problem reads offsets of
    +-0.6 decades at a noise of 0.46)."""
    noise = offsets.get("noise_sd_decades")
    if noise is None or not offsets.get("offsets_decades"):
        return ""
    binomial = offsets.get("binomial_noise_sd_decades")
    on_trend = offsets.get("on_trend_probability")
    return (f"; each offset is read with noise of sd {noise:.2f} decades"
            + ("" if binomial is None else f" ({binomial:.2f} of it the binomial noise)")
            + ("" if on_trend is None else
               f", and the models sit on their trend with probability {on_trend:.2f}"))


def _tables(prediction: dict,
            score: dict | None) -> list[tuple[str, list[str], list[list[str]], str]]:
    """The report's tables: ``(title, head, rows, caption)``, the caption a paragraph under
    the title ("" for none)."""
    level = level_text(prediction["level"])
    selection = prediction.get("law_selection") or {}
    offsets = selection.get("model_offsets") or {}
    # Offsets the counts could not read (link "none") are zeros that were never read.
    unread = offsets.get("link") == "none"
    shift = {} if unread else offsets.get("offsets_decades") or {}
    models = [[m["name"], f"{m['compute']:.3g}", _fmt(m.get("samples"), "d"),
               _fmt(m.get("loss"), ".4f"), _fmt(shift.get(m["name"]), "+.3f")]
              for m in prediction["models"]]
    # The target's own deviation from the trend: the offsets' spread and the problem-by-model
    # scatter (files from before the deviation was recorded give the spread alone).
    spread = offsets.get("spread_decades")
    deviation = offsets.get("deviation_decades")
    target_offset = ("–" if spread is None else f"± {spread:.3f} (spread)" if deviation is None
                     else f"± {deviation:.3f} (deviation; spread {spread:.3f})")
    models.append([f"{prediction['target']} (target)", f"{prediction['target_compute']:.3g}",
                   "–", "–", target_offset])
    head = ["bucket", "problems", "alpha", "k", "law", f"-E[log pass rate] [{level}]",
            f"mean pass rate [{level}]"]
    yes = {True: "yes", False: "no", None: "–"}
    rows, scored_rows = [], []
    scored = {b["bucket"]: b for b in score["buckets"]} if score else {}
    for b in prediction["buckets"]:
        rows.append([str(b["bucket"]), str(b["n_problems"]), _fmt(b.get("alpha"), ".3g"),
                     _fmt(b.get("k"), ".3f"), law_label(b, "–"),
                     _interval(b["neg_log_pass_rate"], ".4f"),
                     _interval(b["mean_pass_rate"], ".3f")])
        if score:
            nl, mp = scored[b["bucket"]]["neg_log_pass_rate"], \
                scored[b["bucket"]]["mean_pass_rate"]
            scored_rows.append([str(b["bucket"]), _measured(nl, ".4f"),
                                _fmt(nl["rel_error"], "+.1%"), yes[nl.get("agrees")],
                                yes[nl["inside"]], _measured(mp, ".3f"),
                                _fmt(mp["abs_error"], "+.3f"), yes[mp.get("agrees")],
                                yes[mp["inside"]]])
    out = []
    headline = _headline_table(prediction, score)
    if headline:
        out.append(headline)
    pooled = (prediction.get("settings") or {}).get("pool_slopes")
    scatter = (selection.get("problem_by_model_variance") or {}).get("logit")
    ceilings = selection.get("ceilings")
    off_trend = (selection.get("off_trend") or {}).get("problems") or []
    bend = (selection.get("bend_axis") or {}).get("gamma")
    gate = selection.get("bend_gate") or {}
    out += [("Ladder", ["model", "compute (FLOPs)", "samples", "final loss", "offset"], models,
             "Offset: decades of effective compute off the family's trend, the part a ladder "
             "can see" +
             ("; the counts could not read the offsets (neither link's fit of them "
              "converged), so none are shown" if unread else
              "; the spread is the offsets' posterior rms, in the intervals" +
              ("" if offsets.get("used", True) else " only with offsets on") +
              _offsets_noise(offsets)) +
             ("" if scatter is None else
              f"; problem-by-model scatter: sd {max(scatter, 0.0) ** 0.5:.2f} on the logit "
              "scale, beyond the binomial noise") +
             ("" if not ceilings else
              f"; the ceiling law reads {ceilings['share']:.0%} of the problems as levelling "
              f"off, at a pass rate near {ceilings['slab_q']:.2f}") +
             ("" if not off_trend else
              f"; the per-problem power law reads {len(off_trend)} problem(s) as off the "
              f"common trend, given slopes of their own: {', '.join(off_trend[:5])}"
              f"{' ...' if len(off_trend) > 5 else ''}") +
             ("" if bend is None else
              f"; the bent law reads the family's growth as {_bend_words(bend)}") +
             (_gate_words(gate) if gate.get("confounded") else "") + "."),
            ("Per-bucket prediction", head, rows,
             "k: the report's law's exponents, partially pooled across buckets." if pooled
             else "")]
    if score:
        out.append(("Scored against the measured target",
                    ["bucket", "measured -E[log p] [its interval]", "rel. error", "agrees",
                     "inside", "measured mean p [its interval]", "abs. error", "agrees",
                     "inside"], scored_rows, ""))
    if score and score.get("baselines"):
        out.append(("Errors beside the naive baselines",
                    *error_table(score["overall"], score["baselines"]),
                    "The baselines were fixed with the prediction, from the same ladder: no "
                    "change (the largest ladder model's value) and a straight line in log "
                    "compute; points: of pass rate, x 100."))
    scores, short = selection.get("scores") or {}, selection.get("short_scores") or {}
    # Without a rolling backtest, a short one (each model from the two below) weighs the
    # laws, and the interval is the fallback rule's, widened to a law's short-backtest error.
    if short and not any(sc["backtest_steps"] for sc in scores.values()):
        scores = short
        title = "Candidate laws and their short backtest (each model from the two below it)"
    else:
        short, title = {}, "Candidate laws and their rolling backtests"
    if scores:
        chosen = {}
        for b in prediction["buckets"]:
            if b.get("law"):
                chosen.setdefault(b["law"], []).append(str(b["bucket"]))
        law_rows = []
        for name, sc in scores.items():
            err = sc["law_error_per_decade"]["mean_pass_rate"]
            weight = sc.get("weight")
            mse = sc.get("mse_per_decade_angular")
            widened = "backtests" if sc["calibrated_by_backtests"] else "fallback"
            if short:   # the interval's law error: the fallback's, widened (fallback_widening)
                fallback = FALLBACK_SIGMA["mean_pass_rate"]
                factor = 1.0 if mse is None else max(1.0, math.sqrt(mse) / fallback)
                err, widened = fallback * factor, f"fallback x {factor:.2f}"
            law_rows.append([name, _fmt(weight, ".2f") if chosen.get("average") else "–",
                             ", ".join(chosen.get(name, [])) or "–",
                             str(sc["backtest_steps"]), _fmt(sc["mean_abs_error_pp"], ".2f"),
                             _fmt(sc.get("log_evidence"), ".1f"), _fmt(mse, ".2g"),
                             _fmt(err, ".3f"),
                             "–" if short else _fmt(sc.get("exact_probability"), ".2f"),
                             "–" if short else _fmt(sc.get("bend_per_decade"), ".3f"),
                             widened])
        out.append((title,
                    ["law", "weight in the average", "chosen for buckets", "backtest steps",
                     "mean error (points)", "log evidence", "MSE per decade² (angular)",
                     "law error per decade (angular)", "probability of no law error",
                     "bend (decades per decade²)", "interval widened by"], law_rows, ""))
    return out


_NUMBER = re.compile(r"^(–|[-+±\[(]*\s*[-+]?\d|[-+]?\.\d)")


def _text_columns(head, rows) -> list[bool]:
    """Per column, whether it holds text (left-aligned) rather than numbers (right-aligned):
    any cell that does not open with a number, an interval or a sign makes it text."""
    return [any(c and not _NUMBER.match(c) for c in col)
            for col in zip(*rows, strict=True)] if rows else [False] * len(head)


def _md_table(head, rows) -> str:
    align = "|" + "".join(":---|" if t else "---:|" for t in _text_columns(head, rows))
    lines = ["| " + " | ".join(head) + " |", align]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _html_table(head, rows) -> str:
    cls = [" class='t'" if t else "" for t in _text_columns(head, rows)]
    th = "".join(f"<th{k}>{html.escape(h)}</th>" for k, h in zip(cls, head, strict=True))
    body = "".join("<tr>" + "".join(f"<td{k}>{html.escape(c)}</td>"
                                    for k, c in zip(cls, r, strict=True)) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _summary(prediction: dict, score: dict | None, registration: dict | None,
             backtest: dict | None) -> list[str]:
    head = headline_lines(prediction)
    rest = [line.strip() for line in head[1:]]
    # Each sentence after the first opens with a capital ("Whole benchmark ...").
    rest[1:] = [line[:1].upper() + line[1:] for line in rest[1:]]
    lines = [f"**{head[0]}** " + ". ".join(rest) + "."] if head else []
    lines += [f"Model **{prediction['target']}** at {prediction['target_compute']:.3g} "
             f"training FLOPs, predicted from {len(prediction['models'])} ladder models of "
             f"ladder *{prediction['ladder']}*; intervals at level {prediction['level']}.",
             "The report's law per bucket P, -E_P[log pass_rate(C)] = alpha C^(-k) with C in "
             "FLOPs, is drawn in the figures (alpha, k in the table); each bucket's prediction "
             f"uses the law in the table's law column. {len(prediction['held_out'])} hardest "
             f"problems held out, {len(prediction['excluded'])} excluded by the zero policy "
             f"'{prediction['settings']['zero_policy']}'."]
    if registration:
        lines.append(f"Registered as `{registration['id']}` on {registration['created_utc']}.")
    if backtest:
        lines.append(f"Backtest: **{backtest['held_out']}** held out and predicted from "
                     f"{', '.join(backtest['ladder_models'])}.")
    if score:
        o = score["overall"]["neg_log_pass_rate"]
        if o["mean_abs_rel_error"] is not None:
            lines.append(f"Scored: mean absolute relative error of -E[log pass rate] "
                         f"{o['mean_abs_rel_error']:.1%} (worst {o['max_abs_rel_error']:.1%}) "
                         f"over {o['buckets_scored']} buckets.")
        for q, label in (("neg_log_pass_rate", "-E[log pass rate]"),
                         ("mean_pass_rate", "mean pass rate")):
            oq = score["overall"][q]
            if "intervals_agreeing" in oq:
                lines.append(f"{label}: **{oq['intervals_agreeing']} of {oq['intervals']}** "
                             "predictions agree with the measurement, its own sampling noise "
                             f"counted ({oq['intervals_holding_actual']} of {oq['intervals']} "
                             "intervals hold the measured value itself, which a noisy "
                             "measurement undercounts).")
        verdict = baseline_verdict(score["overall"], score.get("baselines") or {})
        lines.append(verdict[:1].upper() + verdict[1:] + ".")
    return lines


def write_report(directory: str | Path) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` into ``directory``.

    Raises
    ------
    InputError
        The directory holds neither ``prediction.json`` nor ``backtest.json``.
    """
    from capability.reports.plots import backtest_figure, bucket_figure, loss_figure

    directory = Path(directory)
    backtest = _load(directory / "backtest.json")
    if backtest is not None:
        fold = backtest["folds"][0]
        prediction = fold["prediction"]
        score = {"buckets": fold["buckets"], "overall": fold["overall"],
                 "baselines": fold["baselines"]}
    else:
        prediction = _load(directory / "prediction.json")
        if prediction is None:
            raise InputError("holds neither prediction.json (capability run) nor "
                             "backtest.json (capability backtest)", path=directory)
        score = _load(directory / "score.json")
    registration = _load(directory / "registration.json")
    stale: list[str] = []
    if backtest is None:
        registration, score, stale = _about_this_prediction(registration, score, prediction)
    figures = [("buckets", "Per-bucket laws (like Figure 2 of the GPT-4 report)",
                _png(bucket_figure(prediction, score)))]
    selection = prediction.get("law_selection") or {}
    if selection.get("backtests"):
        figures.append(("rolling", "Rolling backtests: each ladder model predicted from the "
                        "models below it, from every origin", _png(backtest_figure(prediction))))
    elif selection.get("short_backtests"):
        figures.append(("short", "Short backtest: each ladder model predicted from the two "
                        "below it (it weighs the laws; the interval takes the fallback rule)",
                        _png(backtest_figure(prediction, "short_backtests"))))
    if "loss" in prediction:
        figures.append(("loss", "Loss law", _png(loss_figure(prediction))))
    (directory / "figures").mkdir(exist_ok=True)
    for name, _, data in figures:
        (directory / "figures" / f"{name}.png").write_bytes(data)

    title = f"Capability prediction: {prediction['target']}"
    summary = [*stale, *_summary(prediction, score, registration, backtest)]
    tables = _tables(prediction, score)
    notes = prediction.get("warnings", [])
    md = [f"# {title}", "", *[f"{line}  " for line in summary], ""]
    for name, head, rows, caption in tables:
        md += [f"## {name}", "", *([caption, ""] if caption else []), _md_table(head, rows), ""]
    for name, caption, _ in figures:
        md += [f"## {caption}", "", f"![{caption}](figures/{name}.png)", ""]
    if "loss" in prediction:
        loss = prediction["loss"]
        md += [f"Predicted final loss: {_interval(loss, '.4f')} "
               f"({loss['interval_method']}).", ""]
    if notes:
        md += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    md_path = directory / "report.md"
    md_path.write_text("\n".join(md), encoding="utf-8")

    css = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
           "padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0;"
           "font-size:0.9em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
           "th{background:#f3f3f3}.t{text-align:left}img{max-width:100%}")
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{html.escape(title)}</title><style>{css}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for line in summary:
        text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(line))
        parts.append(f"<p>{text.replace('*', '').replace('`', '')}</p>")
    for name, head, rows, caption in tables:
        parts += [f"<h2>{html.escape(name)}</h2>",
                  *([f"<p>{html.escape(caption)}</p>"] if caption else []),
                  _html_table(head, rows)]
    for name, caption, data in figures:
        uri = "data:image/png;base64," + base64.b64encode(data).decode()
        parts += [f"<h2>{html.escape(caption)}</h2>",
                  f"<img class='figure' id='figure-{name}' alt='{html.escape(caption)}' "
                  f"src='{uri}'>"]
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>"
                                                  for n in notes) + "</ul>")
    # Marks the page once every figure has decoded, so a test can check it in a browser.
    parts.append("<script>window.addEventListener('load',function(){var i=document."
                 "querySelectorAll('img.figure'),n=0;i.forEach(function(e){if(e.complete&&"
                 "e.naturalWidth>0)n++});document.body.setAttribute('data-figures-loaded',"
                 "n+'/'+i.length)});</script></body></html>")
    html_path = directory / "report.html"
    html_path.write_text("\n".join(parts), encoding="utf-8")
    return md_path, html_path
