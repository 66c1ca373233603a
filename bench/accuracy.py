"""Accuracy and calibration of the prediction: simulated kinds and real ladders.

For every simulated kind (``capability.simulation.simulate.KINDS``: clean, spread, emergence,
ceilings, saturating, few-samples, inverse, irregular, interaction, slowing, family; five
ladder models at 1000x..10x below the target) and ``--seeds`` seeds, it runs
``capability.prediction.predict`` with its defaults (``--law auto``) and scores each
bucket's predicted mean pass rate against the simulation's true bucket mean at the target.
For every real ladder in ``../shared/data`` (skipped when absent: see ``real_ladders.py``)
it holds out the largest member, predicts it from the rest and scores against its measured
bucket means. It prints per kind and per real backtest:

* ``err``: mean over buckets (and seeds) of |predicted - true| mean pass rate, in points;
  ``worst``: the largest such error;
* ``cover``: share of 90% intervals holding the true (measured, for real ladders) value;
  ``width``: median width of those intervals, in points;
* ``no_change``, ``linear``: the two naive baselines' mean errors on the same buckets, and
  ``err/linear``;
* with ``--oracle``: the median width over the mean error, ours and that of two oracle
  intervals that know each ladder's own error scale (``_oracle_intervals``), with their
  coverage -- how narrow calibrated intervals could be at all;
* with ``--neg-log``: under each line, ``-E[log p]`` (the report's quantity): its mean
  relative error, the coverage of its 90% intervals and their median width over the
  true value (real ladders: the measured value, by the prediction's estimator; buckets
  whose value is 0 left out);
* with ``--headline``: under each line, the headline (``overall`` in ``prediction.json``,
  the number a reader quotes): predicted pass@1, pass@10 and pass@100 over the problems the
  prediction covers, scored against the truth over the same problems (real ladders: the
  held-out member's unbiased pass@k, averaged) -- mean error and median width in points,
  and the coverage of the 90% intervals;
* with ``--by-bucket``: under each line, per bucket (easiest first) the mean signed error
  (predicted - true, points) and the coverage -- a kind's coverage is over all its
  buckets, and one bucket may miss far more often than the rest (on ``emergence`` the
  hardest holds 0.55 of its truths, the others 0.90-1.00);
* with ``--floor`` (simulated kinds): under each line, the error of the family's own trend
  at the target (``_trend_at_target``: the law that drew the ladder, at the target's
  nominal compute, averaged over the problem-by-model effects a new model draws) -- what a
  method that knew the law would err, since the target's own offset and effects are in
  no ladder -- and how much of the straight line's excess over that floor ours keeps,
  ``(err - floor) / (linear - floor)``;
* with ``--cover-interval``: under each line, the coverage with a 90% interval that counts
  one ladder's buckets as the correlated trials they are
  (``capability.records.coverage.clustered_coverage``: a ladder's buckets share the law
  error and the target's offset, so they miss together and 20 ladders' 120 buckets are
  nearer 20 chances than 120), and the headline pass@1's coverage with its
  Clopper-Pearson interval over the ladders;
* with ``--rows CSV``: every scored bucket written to a CSV (``ROW_COLUMNS``), to pool
  several runs' seeds or read them elsewhere.

    python bench/accuracy.py [--seeds 20] [--kinds clean,emergence] [--no-real]
                             [--ratios 40,20,8,3] [--samples 1000] [--offset-sd 0.4]
                             [--k 0.15] [--problems 80]
                             [--oracle] [--by-bucket] [--neg-log] [--headline] [--floor]
                             [--first-seed 100] [--cover-interval] [--rows rows.csv]
                             [--law logistic]
                             [--no-offsets] [--no-losses]

``--ratios`` sets the ladder (how many times below the target each model's compute is):
a short ladder such as ``40,20,8,3`` or ``20,8,3`` looks like the real families (four or
three models, the target 2-5x beyond the largest). ``--samples`` sets the samples per
problem (default: the kind's, 200 or 20); ``--ratios 50,20,8,4,2 --samples 1000`` is shaped
like the held-back real ladders (five models, about 1100 samples per problem, the target 2x
beyond the largest). ``--k`` and ``--problems`` move what the method was developed on (the
per-problem laws' exponent, 0.3; HumanEval's 164 problems): ladders it has not seen.
``--law NAME`` forces one law on every ladder, simulated and real, to tell the weighing's
failures from the laws' (the baselines, then unfitted, print nan), and ``--no-offsets``
leaves the models' offsets out. ``--no-losses`` predicts the simulated ladders without their
models' final losses, as real ladders come (no loss law, no two-step law through the loss):
the simulator's losses follow the compute its pass rates grow on (the bent axis on
``slowing`` ladders), which a ladder without losses cannot read.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from real_ladders import real_ladders  # beside this script, on sys.path when run as one
from scipy import special, stats

from capability.estimation.estimate import pass_at_k
from capability.laws._hierarchical import _GH_NODES, _GH_WEIGHTS  # E[g(e)], e ~ N(0, 1)
from capability.prediction.predict import PredictionSettings, predict
from capability.records.coverage import clustered_coverage, effective_trials
from capability.records.score import bucket_actuals
from capability.simulation.simulate import (
    INTERACTION_KINDS,
    KINDS,
    OFFSET_KINDS,
    bucket_truth,
    simulate_ladder,
)

HEAD = (f"{'ladder':<28} {'err':>6} {'worst':>6} {'cover':>6} {'width':>6} "
        f"{'no_change':>9} {'linear':>7} {'err/linear':>10}")


def _rows(pred, truth, oracle=False, neg_log=None):
    """One row per bucket scored on its mean pass rate against ``truth``; with ``neg_log``
    (the true or measured -E[log p] per bucket) also that quantity's relative error,
    coverage and interval width relative to it."""
    out = []
    for i, (b, t) in enumerate(zip(pred.buckets, truth)):
        if b.mean_pass_rate is None or t is None:
            continue
        ci = b.mean_pass_rate.confidence_interval
        out.append({"bucket": b.bucket, "err": 100 * abs(b.mean_pass_rate.estimate - t),
                    "cover": ci.contains(t), "width": 100 * (ci.high - ci.low),
                    "low": ci.low, "high": ci.high,
                    "no_change": 100 * abs(_candidate(b, "no_change") - t),
                    "linear": 100 * abs(_candidate(b, "linear") - t),
                    "law": b.law, "estimate": b.mean_pass_rate.estimate, "truth": t,
                    "last": _candidate(b, "no_change"), "task_ids": list(b.task_ids)})
        y = None if neg_log is None else neg_log[i]
        if y is not None and y > 0 and b.neg_log_pass_rate is not None:
            nl = b.neg_log_pass_rate
            out[-1].update({"nl_rel": abs(nl.estimate / y - 1),
                            "nl_cover": nl.confidence_interval.contains(y),
                            "nl_width": (nl.confidence_interval.high -
                                         nl.confidence_interval.low) / y})
    if oracle:
        _oracle_intervals(out, pred.settings.confidence_level)
    return out


def _candidate(bucket, name):
    """A candidate law's mean pass rate (NaN where a forced law left it unfitted)."""
    return bucket.candidates.get(name, {}).get("mean_pass_rate", np.nan)


def _oracle_intervals(rows, level):
    """Add to one ladder's rows the intervals of an oracle that knows the ladder's own error
    scale: on the angular scale ``t = asin(sqrt(p))``, ``t_hat +- z s base_b`` with ``z``
    the normal's ``(1 + level) / 2`` quantile and ``s^2 = mean_b ((t_hat_b - t_b) /
    base_b)^2`` over the ladder's buckets, either one scale for every bucket (``base_b =
    1``: "constant") or a scale proportional to the bucket's predicted growth beyond the
    largest ladder model (``base_b = |t_hat_b - t_last,b| + 0.001``: "growth"). No method
    can know ``s``; the oracle bounds the width-to-error ratio that calibrated intervals
    of one ladder-wide scale (or one per unit of growth) can reach."""
    z = stats.norm.ppf(0.5 + level / 2)
    t = {k: np.arcsin(np.sqrt(np.clip([r[k] for r in rows], 0, 1)))
         for k in ("estimate", "truth", "last")}
    for form, base in (("constant", np.ones(len(rows))),
                       ("growth", np.abs(t["estimate"] - t["last"]) + 1e-3)):
        s = np.sqrt(np.mean(((t["estimate"] - t["truth"]) / base) ** 2))
        low = np.sin(np.clip(t["estimate"] - z * s * base, 0, np.pi / 2)) ** 2
        high = np.sin(np.clip(t["estimate"] + z * s * base, 0, np.pi / 2)) ** 2
        for r, lo, hi in zip(rows, low, high):
            r[f"oracle_{form}"] = (100 * (hi - lo), bool(lo <= r["truth"] <= hi))


def _line(name, rows, extra=""):
    err = np.array([r["err"] for r in rows])
    lin = np.mean([r["linear"] for r in rows])
    return (f"{name:<28} {err.mean():>6.2f} {err.max():>6.2f} "
            f"{np.mean([r['cover'] for r in rows]):>6.2f} "
            f"{np.median([r['width'] for r in rows]):>6.2f} "
            f"{np.mean([r['no_change'] for r in rows]):>9.2f} {lin:>7.2f} "
            f"{err.mean() / lin:>10.2f}{extra}{_ratios(rows, err.mean())}")


def _neg_log(rows) -> str:
    """With ``--neg-log``: -E[log p]'s mean relative error, the coverage of its intervals and
    their median width relative to the true value, over the buckets whose true value is
    positive."""
    mine = [r for r in rows if "nl_rel" in r]
    if not mine:
        return "  -E[log p]: no bucket with a positive true value"
    return (f"  -E[log p]: mean |relative error| {np.mean([r['nl_rel'] for r in mine]):.3f}, "
            f"cover {np.mean([r['nl_cover'] for r in mine]):.2f}, median width "
            f"{np.median([r['nl_width'] for r in mine]):.2f} of the value ({len(mine)} "
            "buckets)")


def _by_bucket(rows) -> str:
    """With ``--by-bucket``: per bucket the mean signed error (points) and the coverage."""
    buckets = sorted({r["bucket"] for r in rows})
    cells = []
    for b in buckets:
        mine = [r for r in rows if r["bucket"] == b]
        signed = 100 * np.mean([r["estimate"] - r["truth"] for r in mine])
        cells.append(f"{b}: {signed:+.2f} ({np.mean([r['cover'] for r in mine]):.2f})")
    return "  by bucket, signed err (cover): " + ", ".join(cells)


def _cover_interval(rows, heads) -> str:
    """With ``--cover-interval``: the buckets' coverage with its 90% interval counted by
    ladder (:func:`capability.records.coverage.clustered_coverage`, as ``capability
    track-record`` counts a registry's predictions), and the headline pass@1's, one trial
    per ladder (Clopper-Pearson)."""
    ladders = list(dict.fromkeys(r["ladder"] for r in rows))
    hits = [[r["cover"] for r in rows if r["ladder"] == name] for name in ladders]
    held, total = [sum(h) for h in hits], [len(h) for h in hits]
    cov = clustered_coverage(held, total, 0.9, unit="ladder")
    out = (f"  cover {cov.estimate:.2f} [{cov.confidence_interval.low:.2f}, "
           f"{cov.confidence_interval.high:.2f}] (90%, Clopper-Pearson at "
           f"{effective_trials(held, total):.0f} effective of {len(rows)} buckets: a ladder's "
           f"buckets miss together; {len(ladders)} ladder(s))")
    first = [r["cover"] for r in heads if r["k"] == HEADLINE_KS[0]]
    if first:
        ci = stats.binomtest(int(np.sum(first)), len(first)).proportion_ci(0.9)
        out += (f"; headline pass@{HEADLINE_KS[0]} {np.mean(first):.2f} "
                f"[{ci.low:.2f}, {ci.high:.2f}] over {len(first)} ladder(s)")
    return out


ROW_COLUMNS = ("kind", "ladder", "bucket", "law", "estimate", "low", "high", "truth", "err",
               "cover", "width", "no_change", "linear")


def _write_rows(path, rows) -> None:
    """``--rows``: one CSV row per scored bucket, mean pass rates as fractions and errors
    and widths in points (``ROW_COLUMNS``)."""
    pd.DataFrame([{c: r.get(c) for c in ROW_COLUMNS} for r in rows],
                 columns=list(ROW_COLUMNS)).to_csv(path, index=False)
    print(f"wrote {len(rows)} scored buckets to {path}", flush=True)


def _trend_at_target(sim) -> pd.Series:
    """Per problem the pass rate the family's trend gives the target: the law that drew the
    ladder at the target's nominal compute (bent, for ``slowing``, as every model is),
    without its own offset, and averaged over the problem-by-model effects a new model
    draws (``E_e expit(logit p + e)``, ``e ~ N(0, sd^2)`` with ``sd`` the ladder's effects'
    own, by the per-problem laws' 32-node Gauss-Hermite quadrature)."""
    offset = (sim.offsets or {}).get(sim.target, 0.0)
    p = sim.true_pass_rate(sim.effective_compute(sim.target) / 10.0 ** offset)
    if sim.interactions is None:
        return p
    sd = float(np.std(sim.interactions.to_numpy()))
    z = special.logit(p.to_numpy())[:, None] + sd * _GH_NODES[None, :]
    return pd.Series(special.expit(z) @ _GH_WEIGHTS, index=p.index)


def _floor(rows) -> str:
    """With ``--floor``: the trend's mean error, and ours and the line's beyond it."""
    floor = np.mean([r["floor"] for r in rows])
    err = np.mean([r["err"] for r in rows])
    lin = np.mean([r["linear"] for r in rows])
    return (f"  floor: the family's trend at the target errs {floor:.2f} (its own offset and "
            f"effects); beyond it ours {err - floor:.2f}, the line {lin - floor:.2f}, "
            f"ratio {(err - floor) / (lin - floor):.2f}")


HEADLINE_KS = (1, 10, 100)


def _headline_rows(pred, true_pass_at_k) -> list[dict]:
    """With ``--headline``: per k in ``HEADLINE_KS`` the headline pass@k's error and width
    (points) and whether its interval holds ``true_pass_at_k(task_ids, k)``, the truth over
    the problems the prediction covers (None where it cannot be measured)."""
    covered = [t for b in pred.buckets if b.mean_pass_rate is not None for t in b.task_ids]
    out = []
    for k in HEADLINE_KS:
        v = pred.overall.get("pass_at_k", {}).get(str(k))
        truth = true_pass_at_k(covered, k) if covered else None
        if v is None or truth is None:
            continue
        out.append({"k": k, "err": 100 * abs(v["predicted"] - truth),
                    "cover": v["lower"] <= truth <= v["upper"],
                    "width": 100 * (v["upper"] - v["lower"])})
    return out


def _simulated_pass_at_k(sim):
    """The target's true pass@k averaged over the given problems."""
    p = sim.model_pass_rate(sim.target)
    return lambda ids, k: float(np.mean(1 - (1 - p[list(ids)].to_numpy()) ** k))


def _measured_pass_at_k(target_counts):
    """The held-out member's unbiased pass@k averaged over the given problems (None
    where some problem has fewer than k samples)."""
    by_task = target_counts.set_index("task_id")

    def measured(ids, k):
        rows = by_task.loc[list(ids)]
        if (rows["n"] < k).any():
            return None
        return float(np.mean(pass_at_k(rows["n"].to_numpy(), rows["c"].to_numpy(), k)))
    return measured


def _headline(rows) -> str:
    """The line ``--headline`` prints: per k, mean error, coverage and median width."""
    cells = []
    for k in HEADLINE_KS:
        mine = [r for r in rows if r["k"] == k]
        if mine:
            cells.append(f"pass@{k} err {np.mean([r['err'] for r in mine]):.2f}, cover "
                         f"{np.mean([r['cover'] for r in mine]):.2f}, width "
                         f"{np.median([r['width'] for r in mine]):.2f}")
    return "  headline: " + ("; ".join(cells) if cells else "none measured")


def _details(rows, args, heads=()) -> None:
    """The lines ``--by-bucket``, ``--neg-log``, ``--headline``, ``--floor`` and
    ``--cover-interval`` ask for under a row."""
    if args.by_bucket:
        print(_by_bucket(rows), flush=True)
    if args.neg_log:
        print(_neg_log(rows), flush=True)
    if args.headline:
        print(_headline(heads), flush=True)
    if args.floor and rows and "floor" in rows[0]:
        print(_floor(rows), flush=True)
    if args.cover_interval and rows:
        print(_cover_interval(rows, heads), flush=True)


def _ratios(rows, err):
    """With ``--oracle``: median width over mean error, ours and the oracles' (with their
    coverage)."""
    if "oracle_constant" not in rows[0]:
        return ""
    out = f"  width/err {np.median([r['width'] for r in rows]) / err:.2f}"
    for form in ("constant", "growth"):
        w, c = zip(*(r[f"oracle_{form}"] for r in rows))
        out += f"; oracle {form} {np.median(w) / err:.2f} (cover {np.mean(c):.2f})"
    return out


SWITCHES = (   # the on/off options: (flag, help)
    ("--oracle",
     "also print median width / mean error, ours and that of "
     "oracle intervals that know each ladder's own error scale"),
    ("--by-bucket",
     "also print, per bucket, the mean signed error and the coverage"),
    ("--headline",
     "under each line, the headline pass@1, pass@10 and pass@100's error, "
     "coverage and width over the problems the prediction covers"),
    ("--neg-log",
     "also print -E[log p]'s mean relative error, the coverage of its "
     "90%% intervals and their median width relative to the value (the "
     "report's quantity; real ladders: the measured value by the "
     "prediction's estimator)"),
    ("--floor",
     "also print the error of the family's own trend at the target "
     "(simulated kinds): what knowing the law would leave"),
    ("--no-offsets",
     "predict the simulated ladders without the models' offsets from "
     "their trend (capability run --no-offsets)"),
    ("--no-losses",
     "predict the simulated ladders without their models' final "
     "losses, as real ladders come (no two-step law)"),
    ("--cover-interval",
     "under each line, the coverage with a 90%% interval that counts "
     "a ladder's buckets as correlated trials, and the headline "
     "pass@1's over the ladders"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20,
                        help="simulated ladders per kind (default 20)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the first seed (default 0): seeds first..first+seeds-1, e.g. "
                             "100 for seeds the method was not developed on")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help="comma-separated simulated kinds (default: all, "
                             f"{','.join(KINDS)}; '' for the real ladders alone)")
    parser.add_argument("--resamples", type=int, default=200,
                        help="the prediction's bootstrap resamples (default 200)")
    parser.add_argument("--no-real", action="store_true",
                        help="leave out the real ladders of ../shared/data")
    parser.add_argument("--ratios", default=None,
                        help="comma-separated compute ratios of the ladder models to the "
                             "target (default: 1000,300,100,30,10)")
    parser.add_argument("--samples", type=int, default=None,
                        help="samples per problem (default: the kind's, 200 or 20)")
    parser.add_argument("--offset-sd", type=float, default=None,
                        help="irregular and family ladders' offsets' sd in decades "
                             "(default: 0.15; 0.3 for family)")
    parser.add_argument("--interaction-sd", type=float, default=None,
                        help="interaction and family ladders' problem-by-model effects' sd "
                             "on the logit scale (default: 1.0; 1.5 for family)")
    parser.add_argument("--k", type=float, default=None,
                        help="the simulated per-problem laws' exponent k (default: 0.3)")
    parser.add_argument("--problems", type=int, default=None,
                        help="problems per simulated ladder (default: 164, as HumanEval)")
    parser.add_argument("--law", default="auto",
                        help="the law every ladder is predicted by (default: auto, the "
                             "model average; a law's name forces it, and the baselines' "
                             "columns are then nan)")
    parser.add_argument("--rows", metavar="CSV", default=None,
                        help="also write every scored bucket to CSV (kind, ladder, bucket, "
                             "estimate, interval, truth, errors), e.g. to pool runs of other "
                             "seeds")
    for flag, text in SWITCHES:
        parser.add_argument(flag, action="store_true", help=text)
    args = parser.parse_args()
    if args.law != "auto" and args.oracle:
        parser.error("--oracle needs the baselines, which --law NAME leaves unfitted")
    if args.seeds < 1:
        parser.error(f"expected --seeds >= 1, found {args.seeds} (--kinds '' runs the real "
                     "ladders alone)")
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        parser.error(f"unknown --kinds {','.join(unknown)}: expected some of {','.join(KINDS)}")
    print(HEAD)
    t0 = time.perf_counter()
    forced = f", {args.law}" if args.law != "auto" else ""   # named in every row's label
    shape = {} if args.ratios is None else \
        {"ratios": tuple(float(r) for r in args.ratios.split(","))}
    if args.offset_sd is not None:
        shape["offset_sd"] = args.offset_sd
    if args.interaction_sd is not None:
        shape["interaction_sd"] = args.interaction_sd
    if args.k is not None:
        shape["k"] = args.k
    if args.problems is not None:
        shape["n_problems"] = args.problems
    scored = []   # every scored bucket, for --rows
    for kind in kinds:
        rows, heads = [], []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            sim = simulate_ladder(seed=seed, kind=kind, n_samples=args.samples, **shape)
            counts = sim.counts[sim.counts["model"] != sim.target]
            pred = predict(counts, [(m, c, None if args.no_losses else sim.losses[m])
                                    for m, c in sim.models],
                           target=sim.target, target_compute=sim.target_compute,
                           settings=PredictionSettings(seed=seed, law=args.law,
                                                       model_offsets=not args.no_offsets,
                                                       n_resamples=args.resamples))
            truths = bucket_truth(sim, pred.assignment.buckets)
            mine = _rows(pred, [t["mean_pass_rate"] for t in truths], args.oracle,
                         [t["neg_log_pass_rate"] for t in truths])
            for r in mine:
                r.update(kind=kind, ladder=seed)
            if args.floor:
                trend = _trend_at_target(sim)
                for r in mine:
                    r["floor"] = 100 * abs(float(trend[r["task_ids"]].mean()) - r["truth"])
            rows += mine
            heads += _headline_rows(pred, _simulated_pass_at_k(sim))
        sd = f", sd {args.offset_sd:g}" if args.offset_sd is not None and \
            kind in OFFSET_KINDS else ""
        sd += f", sd {args.interaction_sd:g}" if args.interaction_sd is not None and \
            kind in INTERACTION_KINDS else ""
        sd += f", from seed {args.first_seed}" if args.first_seed else ""
        sd += forced
        sd += ", no offsets" if args.no_offsets else ""
        sd += ", no losses" if args.no_losses else ""
        print(_line(f"sim {kind} ({args.seeds} seeds{sd})", rows), flush=True)
        _details(rows, args, heads)
        scored += rows
    if not args.no_real:
        all_rows, all_heads = [], []
        for ladder in real_ladders():
            models = ladder["models"]
            rest, held = models[:-1], models[-1]
            counts = ladder["counts"]
            pred = predict(counts[counts["model"].isin([m[0] for m in rest])], rest,
                           target=held[0], target_compute=held[1],
                           settings=PredictionSettings(n_resamples=args.resamples,
                                                       law=args.law))
            target = counts[counts["model"] == held[0]]
            measured = [bucket_actuals(target, b.task_ids, pred.settings.estimator)
                        for b in pred.buckets]
            rows = _rows(pred, [m["mean_pass_rate"] for m in measured], args.oracle,
                         [m["neg_log_pass_rate"] for m in measured])
            for r in rows:
                r.update(kind="real", ladder=ladder["name"])
            heads = _headline_rows(pred, _measured_pass_at_k(target))
            all_rows += rows
            all_heads += heads
            print(_line(f"real {ladder['name']}{forced}", rows), flush=True)
            _details(rows, args, heads)
        scored += all_rows
        if all_rows:
            print(_line("real, all backtests", all_rows))
            if args.neg_log:
                print(_neg_log(all_rows))
            if args.headline:
                print(_headline(all_heads))
            if args.cover_interval:
                print(_cover_interval(all_rows, all_heads))
    if args.rows:
        _write_rows(args.rows, scored)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
