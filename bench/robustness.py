"""Accuracy and calibration on ladders the project's simulator does not draw.

``bench/accuracy.py`` scores the method on ``capability simulate``'s kinds, whose shapes the
method was developed against. This script draws ladders from *other* worlds, with their own
draws of difficulty and growth, and scores the prediction the same way (``err``, ``worst``,
``cover``, ``width``, the baselines; see ``accuracy.py``): a check that the method is not
fitted to its own simulator. Every world has 164 problems; ``x = log10(C / C_T)``; each
problem's pass rate at the target is drawn from ``Beta(0.6, 0.35)`` (U-shaped, as instruct
models' per-problem pass rates on HumanEval) unless the world says otherwise:

``power-k0.5``
    ``-log p_i(C) = a_i 10^(-0.5 x)``: the report's law with a steeper exponent.
``power-k-normal``
    ``-log p_i(C) = a_i 10^(-k_i x)``, ``k_i ~ N(0.3, 0.1)`` truncated at 0.05 (the issue's
    "exponents spread").
``logistic-uniform``
    ``logit p_i(C) = s_i (x - t_i)``: thresholds ``t_i ~ U(-3.5, 1.5)`` decades, slopes
    ``s_i ~ U(1, 4)`` per decade (problems that emerge anywhere across the ladder and
    beyond it).
``ceilings-k0.4``
    ``p_i(C) = q_i exp(-a_i 10^(-0.4 x))`` with ``q_i ~ U(0.3, 0.9)`` for 30% of the
    problems, else 1.
``mixed``
    half of the problems ``power-k0.3``, half logistic with ``t_i ~ U(-3, 1)``, ``s_i ~
    U(1, 3)``.

Counts are ``Binomial(n, p_i)``; seeds ``1000 + seed`` (independent of the simulator's).

    python bench/robustness.py [--seeds 10] [--worlds power-k0.5,mixed]
                               [--ratios 50,20,8,4,2] [--samples 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from accuracy import HEAD, _line, _rows  # beside this script, on sys.path when run as one
from scipy import special

from capability.prediction.predict import PredictionSettings, predict

N_PROBLEMS = 164
TARGET_COMPUTE = 1e24


def _difficulty(rng):
    """``a_i = -log p_i(C_T)`` with ``p_i(C_T) ~ Beta(0.6, 0.35)``, kept off 0 and 1."""
    return -np.log(np.clip(rng.beta(0.6, 0.35, N_PROBLEMS), 1e-4, 1 - 1e-6))


def _power(a, k):
    return lambda x: np.exp(-a * 10.0 ** (-k * x))


def _logistic(t, s):
    return lambda x: special.expit(s * (x - t))


def _world(name: str, rng):
    """The world's pass-rate curves ``x -> p`` (module docstring)."""
    if name == "power-k0.5":
        return _power(_difficulty(rng), 0.5)
    if name == "power-k-normal":
        a = _difficulty(rng)
        return _power(a, np.clip(rng.normal(0.3, 0.1, N_PROBLEMS), 0.05, None))
    if name == "logistic-uniform":
        return _logistic(rng.uniform(-3.5, 1.5, N_PROBLEMS), rng.uniform(1, 4, N_PROBLEMS))
    if name == "ceilings-k0.4":
        a = _difficulty(rng)
        q = np.where(rng.random(N_PROBLEMS) < 0.3, rng.uniform(0.3, 0.9, N_PROBLEMS), 1.0)
        power = _power(a, 0.4)
        return lambda x: q * power(x)
    if name == "mixed":
        power = _power(_difficulty(rng), 0.3)
        logistic = _logistic(rng.uniform(-3, 1, N_PROBLEMS), rng.uniform(1, 3, N_PROBLEMS))
        half = rng.random(N_PROBLEMS) < 0.5
        return lambda x: np.where(half, power(x), logistic(x))
    raise ValueError(f"unknown world {name!r}; expected one of {', '.join(WORLDS)}")


WORLDS = ("power-k0.5", "power-k-normal", "logistic-uniform", "ceilings-k0.4", "mixed")


def draw_ladder(world: str, seed: int, ratios, n_samples: int):
    """Counts of the ladder models and the target, the ladder's ``(name, compute, None)``
    and the target's true per-problem pass rates."""
    rng = np.random.default_rng(1000 + seed)
    curve = _world(world, rng)
    task_ids = [f"HumanEval/{i}" for i in range(N_PROBLEMS)]
    names = [f"m{j + 1}" for j in range(len(ratios))] + ["target"]
    xs = [-np.log10(r) for r in sorted(ratios, reverse=True)] + [0.0]
    rows = [pd.DataFrame({"model": name, "task_id": task_ids, "n": n_samples,
                          "c": rng.binomial(n_samples, curve(x))}) for name, x in zip(names, xs)]
    models = [(name, TARGET_COMPUTE * 10.0**x, None) for name, x in zip(names[:-1], xs[:-1])]
    return pd.concat(rows, ignore_index=True), models, dict(zip(task_ids, curve(0.0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--worlds", default=",".join(WORLDS))
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--ratios", default="1000,300,100,30,10",
                        help="comma-separated compute ratios of the ladder models to the "
                             "target (default: 1000,300,100,30,10)")
    parser.add_argument("--samples", type=int, default=200,
                        help="samples per problem (default: 200)")
    args = parser.parse_args()
    ratios = [float(r) for r in args.ratios.split(",")]
    print(HEAD)
    t0 = time.perf_counter()
    for world in [w for w in args.worlds.split(",") if w]:
        rows = []
        for seed in range(args.seeds):
            counts, models, truth = draw_ladder(world, seed, ratios, args.samples)
            pred = predict(counts[counts["model"] != "target"], models, target="target",
                           target_compute=TARGET_COMPUTE,
                           settings=PredictionSettings(seed=seed,
                                                       n_resamples=args.resamples))
            rows += _rows(pred, [float(np.mean([truth[t] for t in ids])) if ids else None
                                 for ids in pred.assignment.buckets])
        print(_line(f"{world} ({args.seeds} seeds)", rows), flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
