"""How a law's rolling-backtest errors grow: with the distance, or with the fitted line's
leverage.

For ``--seeds`` simulated ladders of ``--kind`` it runs ``capability.prediction.predict``
(its defaults) and, for one candidate law (``--law``, default ``problem_power``), prints
per kind of rolling step -- how many models the origin holds, how far beyond them the
held model lies -- the root mean squared error over the buckets (points of mean pass rate,
averaged over the seeds), the straight line's leverage ``||h||`` at the held model
(``capability.prediction.offsets.hat_row`` through the origin's models), and the error per
decade and per unit of leverage; then the same for the target (the law's candidate against
the simulation's true bucket means, from every ladder model). Errors that are a constant
multiple of the leverage, not of the distance, say that a law error loaded by the
distance overstates the target's where the target's line rests on more models than the
backtests' (docs/accuracy-history.md, 2026-12-05, third session)::

    python bench/step_errors.py --kind spread --ratios 3000,1000,300,100,30,10
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from capability.estimation.interval import json_floats
from capability.prediction.offsets import hat_row
from capability.prediction.predict import PredictionSettings, predict
from capability.simulation.simulate import KINDS, bucket_truth, simulate_ladder


def _rms_points(predicted, actual) -> float:
    return float(np.sqrt(np.nanmean((predicted - actual) ** 2)) * 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", default="spread", choices=KINDS,
                        help="the simulated kind (default: spread)")
    parser.add_argument("--ratios", default="1000,300,100,30,10",
                        help="comma-separated compute ratios of the ladder models to the "
                             "target (default: 1000,300,100,30,10)")
    parser.add_argument("--seeds", type=int, default=10, help="ladders (default 10)")
    parser.add_argument("--first-seed", type=int, default=400,
                        help="the first seed (default 400)")
    parser.add_argument("--law", default="problem_power",
                        help="the candidate law whose errors are shown (default: "
                             "problem_power)")
    parser.add_argument("--resamples", type=int, default=100,
                        help="the prediction's bootstrap resamples (default 100)")
    args = parser.parse_args()
    ratios = tuple(float(r) for r in args.ratios.split(","))
    t0 = time.perf_counter()
    steps: dict[tuple[int, float], list[tuple[float, float]]] = {}
    target = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        sim = simulate_ladder(seed=seed, kind=args.kind, ratios=ratios)
        counts = sim.counts[sim.counts["model"] != sim.target]
        pred = predict(counts, [(m, c, sim.losses[m]) for m, c in sim.models],
                       target=sim.target, target_compute=sim.target_compute,
                       settings=PredictionSettings(seed=seed, n_resamples=args.resamples))
        out = pred.to_dict()
        nominal = dict(sim.models)
        for st in out["law_selection"]["backtests"]:
            if args.law not in st["predicted_mean_pass_rate"]:
                continue
            below = np.array([nominal[m] for m in st["below"]])
            lev = float(np.linalg.norm(hat_row(below, nominal[st["held"]])))
            err = _rms_points(json_floats(st["predicted_mean_pass_rate"][args.law]),
                              json_floats(st["actual_mean_pass_rate"]))
            steps.setdefault((len(st["below"]), round(st["distance_decades"], 2)),
                             []).append((lev, err))
        truth = json_floats(t["mean_pass_rate"]
                            for t in bucket_truth(sim, pred.assignment.buckets))
        cand = json_floats((b["candidates"].get(args.law) or {}).get("mean_pass_rate")
                           for b in out["buckets"])
        lev = float(np.linalg.norm(hat_row(np.array(list(nominal.values())),
                                           sim.target_compute)))
        target.append((out["law_selection"]["distance_decades"], lev,
                       _rms_points(cand, truth)))
    print(f"{args.kind}, ratios {args.ratios}, seeds {args.first_seed}.."
          f"{args.first_seed + args.seeds - 1}, law {args.law}")
    print(f"{'predicted from':<22}{'decades':>8}{'leverage':>10}{'rms err':>9}"
          f"{'per decade':>12}{'per leverage':>14}")

    def row(name, d, lev, err):
        print(f"{name:<22}{d:8.2f}{lev:10.2f}{err:9.2f}{err / d:12.2f}{err / lev:14.2f}")

    for (m, d), vals in sorted(steps.items()):
        lev, err = np.mean(vals, axis=0)
        row(f"{m} models (step)", d, lev, err)
    d, lev, err = np.mean(target, axis=0)
    row(f"{len(ratios)} models (target)", d, lev, err)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
