"""Adaptive budgets' counts: the first round counted whole against the stopping rule alone.

An adaptive budget samples each problem in rounds of ``--round`` until ``--until`` passes
or ``--cap`` samples (``capability.sampling.adaptive``). Both ways of counting are
unbiased; they differ in how many samples an estimate reads. This prints, per true pass
rate, the mean and sd of the pass-rate estimate (over the true rate) and the mean of
``-log p``'s, counting the rounds each way with :func:`~capability.sampling.adaptive.stopped_counts`
and :func:`~capability.estimation.estimate.inverse_sampling_counts`. It is a simulation of
the draws only, no server.

With ``--ladders N`` it then draws the samples of ``N`` simulated ladders of each
``--kinds`` in those rounds (the simulator's true pass rates per model and problem), predicts
the target from each way's counts (``capability.prediction.predict``, ``--resamples``
resamples), and from a fixed budget of as many samples per model spread evenly over its
problems (the peer: what the adaptive budget buys), and prints each way's mean absolute
error of the buckets' mean pass rates in points, the signed mean, the 90% intervals'
coverage and median width, and the samples drawn::

    python bench/adaptive.py --ladders 10 --kinds clean,emergence
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from capability.estimation.estimate import inverse_sampling_counts, neg_log_pass_rate
from capability.prediction.predict import PredictionSettings, predict
from capability.sampling.adaptive import stopped_counts
from capability.simulation.simulate import KINDS, simulate_ladder

WAYS = {"rule alone": False, "first round whole": True}   # the first round counted whole?
FIXED = "same samples, fixed n"   # the peer: the model's samples, as many per problem


def stop_points(draws: np.ndarray, round_size: int, until: int) -> np.ndarray:
    """Samples drawn per row of ``draws`` (``(rows, cap)`` outcomes in order) when rounds
    of ``round_size`` stop at the first round end with ``until`` passes, or at the cap."""
    cap = draws.shape[1]
    ends = np.unique(np.minimum(np.arange(round_size, cap + round_size, round_size), cap))
    hit = np.cumsum(draws, axis=1)[:, ends - 1] >= until
    return np.where(hit.any(axis=1), ends[hit.argmax(axis=1)], cap)


def counted(draws: np.ndarray, stops: np.ndarray, round_size: int, until: int,
            whole_first: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(n, c, r)`` per row: a first round that stopped counted whole, or (False) the
    stopping rule alone."""
    first = min(round_size, draws.shape[1]) if whole_first else None
    return np.array([stopped_counts(list(row[:k]), until, first)
                     for row, k in zip(draws, stops)]).T


def estimator_table(rates, args, rng) -> str:
    lines = [f"rounds of {args.round} until {args.until} passes or {args.cap} samples, "
             f"{args.trials} draws per rate",
             f"{'p':>6}  {'way':<18} {'E[p^]/p':>8} {'sd/p':>6} {'E[-log p^]':>10} "
             f"{'-log p':>7} {'samples':>7}"]
    for p in rates:
        draws = rng.random((args.trials, args.cap)) < p
        stops = stop_points(draws, args.round, args.until)
        for name, way in WAYS.items():
            n, c, r = counted(draws, stops, args.round, args.until, way)
            n_eff, c_eff = inverse_sampling_counts(n, c, r)
            rate = c_eff / n_eff
            neg_log = neg_log_pass_rate(n_eff, c_eff).estimate
            lines.append(f"{p:>6g}  {name:<18} {rate.mean() / p:>8.3f} {rate.std() / p:>6.3f} "
                         f"{neg_log.mean():>10.3f} {-np.log(p):>7.3f} {n_eff.mean():>7.1f}")
    return "\n".join(lines)


def ladder_rows(kind: str, seed: int, args) -> list[dict]:
    sim = simulate_ladder(seed=seed, kind=kind)
    rng = np.random.default_rng(10_000 + seed)
    per_way = {name: [] for name in (*WAYS, FIXED)}
    drawn = 0
    for model, _ in sim.models:
        rates = sim.model_pass_rate(model)
        draws = rng.random((len(rates), args.cap)) < rates.to_numpy()[:, None]
        stops = stop_points(draws, args.round, args.until)
        drawn += int(stops.sum())
        for name, way in WAYS.items():
            n, c, r = counted(draws, stops, args.round, args.until, way)
            per_way[name].append(pd.DataFrame({"model": model, "task_id": rates.index,
                                               "n": n, "c": c, "r": r}))
        # The same samples per model spread evenly: as many for every problem.
        even = int(round(stops.mean()))
        per_way[FIXED].append(pd.DataFrame({"model": model, "task_id": rates.index,
                                            "n": even, "c": draws[:, :even].sum(axis=1)}))
    truth = sim.model_pass_rate(sim.target)
    models = [(m, compute, sim.losses[m]) for m, compute in sim.models]
    rows = []
    for name, frames in per_way.items():
        counts = pd.concat(frames, ignore_index=True)
        pred = predict(counts, models, target=sim.target, target_compute=sim.target_compute,
                       settings=PredictionSettings(n_resamples=args.resamples))
        for b in pred.buckets:
            if b.mean_pass_rate is None:
                continue
            true = float(truth[list(b.task_ids)].mean())
            ci = b.mean_pass_rate.confidence_interval
            rows.append({"kind": kind, "seed": seed, "way": name,
                         "err": 100 * (b.mean_pass_rate.estimate - true),
                         "cover": ci.low <= true <= ci.high, "width": 100 * (ci.high - ci.low),
                         "drawn": drawn / len(sim.models)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--round", type=int, default=20, help="round size n (default 20)")
    parser.add_argument("--until", type=int, default=3, help="until_passes (default 3)")
    parser.add_argument("--cap", type=int, default=200, help="n_max (default 200)")
    parser.add_argument("--trials", type=int, default=20_000,
                        help="draws per true rate (default 20000)")
    parser.add_argument("--rates", default="0.01,0.03,0.1,0.3,0.6,0.9",
                        help="true pass rates (default 0.01,0.03,0.1,0.3,0.6,0.9)")
    parser.add_argument("--ladders", type=int, default=0,
                        help="simulated ladders per kind to predict from (default 0: none)")
    parser.add_argument("--kinds", default="clean,emergence",
                        help=f"simulated kinds, of {', '.join(KINDS)} (default clean,emergence)")
    parser.add_argument("--resamples", type=int, default=200,
                        help="bootstrap resamples per prediction (default 200)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    print(estimator_table([float(p) for p in args.rates.split(",")], args, rng), flush=True)
    if args.ladders:
        rows = [row for kind in args.kinds.split(",") for seed in range(args.ladders)
                for row in ladder_rows(kind, seed, args)]
        frame = pd.DataFrame(rows).assign(abs_err=lambda d: d["err"].abs())
        table = frame.groupby(["kind", "way"], sort=False).agg(
            err=("abs_err", "mean"), signed=("err", "mean"), cover=("cover", "mean"),
            width=("width", "median"), drawn=("drawn", "mean"))
        print(f"\n{args.ladders} simulated ladders per kind, buckets' mean pass rate "
              "(points; drawn: samples per ladder model)")
        print(table.round(2).to_string())
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
