"""Accuracy and calibration of the prediction on simulated ladders with known truth.

The ladder of issue 2: five ladder models at 1000x, 300x, 100x, 30x and 10x less compute than
the target, 200 samples per problem, ``-log p_i(C) = a_i (C/C_T)^(-k)``. For each seed it
predicts the six buckets three ways, in the same run on the same counts:

* ``plain``: the report's method as usually done -- ``-log(c/n)`` bucket means and an
  ordinary least-squares line in log-log per bucket;
* ``per-bucket``: ours with each bucket's exponent fitted alone (``--no-pool``);
* ``pooled``: ours, the default (exponents partially pooled across buckets).

It prints the mean over seeds of the worst bucket's relative error, the mean relative error,
the largest error seen, the ratio of each to ``plain``, the interval coverage (ours), and
the share of seeds that meet the issue's bar (every bucket within 15%, mean within 6%, the
90% interval covering the truth in at least 4 of 6 buckets).

    python bench/accuracy.py --seeds 100 [--inverse 0] [--k-spread 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from capability.fit import fit_power_law
from capability.predict import PredictionSettings, predict
from capability.simulate import bucket_truth, simulate_ladder


def one_seed(seed: int, n_inverse: int, k_spread: float, resamples: int):
    sim = simulate_ladder(seed=seed, n_inverse=n_inverse, k_spread=k_spread)
    counts = sim.counts[sim.counts["model"] != sim.target]
    models = [(m, c, None) for m, c in sim.models]
    out = {}
    for name, pool in (("per-bucket", False), ("pooled", True)):
        pred = predict(counts, models, target=sim.target, target_compute=sim.target_compute,
                       settings=PredictionSettings(seed=seed, n_resamples=resamples,
                                                   pool_slopes=pool))
        truth = bucket_truth(sim, pred.assignment.buckets)
        rel = np.array([b.law.neg_log_pass_rate.estimate / t["neg_log_pass_rate"] - 1
                        for b, t in zip(pred.buckets, truth)])
        cov = np.array([b.law.neg_log_pass_rate.confidence_interval.contains(
            t["neg_log_pass_rate"]) for b, t in zip(pred.buckets, truth)])
        out[name] = (rel, cov)
    # The plain method on the same buckets.
    names = [m for m, _ in sim.models]
    table = counts.pivot(index="model", columns="task_id", values="c").loc[names]
    n_table = counts.pivot(index="model", columns="task_id", values="n").loc[names]
    rel = []
    for ids, t in zip(pred.assignment.buckets, truth):
        with np.errstate(divide="ignore"):
            y = -np.log(table[list(ids)].to_numpy() / n_table[list(ids)].to_numpy()).mean(1)
        fit = fit_power_law([c for _, c in sim.models], y, compute_ref=sim.target_compute)
        rel.append(fit.value_at_ref / t["neg_log_pass_rate"] - 1)
    out["plain"] = (np.array(rel), None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--inverse", type=int, default=0, help="inverse-scaling problems")
    parser.add_argument("--k-spread", type=float, default=0.0)
    parser.add_argument("--resamples", type=int, default=300)
    args = parser.parse_args()
    t0 = time.perf_counter()
    runs = [one_seed(s, args.inverse, args.k_spread, args.resamples) for s in range(args.seeds)]
    print(f"{args.seeds} seeds, inverse={args.inverse}, k_spread={args.k_spread}, "
          f"{time.perf_counter() - t0:.0f} s")
    base = None
    print(f"{'method':<11} {'worst err':>9} {'mean err':>9} {'max err':>8} "
          f"{'worst/plain':>11} {'mean/plain':>10} {'coverage':>8} {'bar met':>7}")
    for name in ("plain", "per-bucket", "pooled"):
        rel = np.array([r[name][0] for r in runs])
        worst = np.abs(rel).max(1).mean()
        mean = np.abs(rel).mean()
        if base is None:
            base = (worst, mean)
        covs = None if runs[0][name][1] is None else np.array([r[name][1] for r in runs])
        cov = "-" if covs is None else f"{covs.mean():.3f}"
        bar_ok = (np.abs(rel).max(1) < 0.15) & (np.abs(rel).mean(1) < 0.06)
        bar = "-" if covs is None else f"{np.mean(bar_ok & (covs.sum(1) >= 4)):.2f}"
        print(f"{name:<11} {worst:>9.3f} {mean:>9.3f} {np.abs(rel).max():>8.3f} "
              f"{worst / base[0]:>11.2f} {mean / base[1]:>10.2f} {cov:>8} {bar:>7}")


if __name__ == "__main__":
    main()
