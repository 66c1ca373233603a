"""Calibration of the loss law's interval, ``L(C) = a * C^b + c`` at the target.

For ``--seeds`` simulated ladders of each ``--kinds`` (their losses follow the simulator's
loss law with 0.2% noise) it fits :func:`capability.laws.fit.fit_loss_law` to the ladder
models' final losses, the smallest left out until ``--models`` remain, and prints how
often the 90% interval holds the target's true loss, the interval's median width and the
mean absolute error of the estimate (both in units of loss), and their ratio::

    python bench/loss_law.py --seeds 60 --models 5,4
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from capability.laws.fit import fit_loss_law
from capability.simulation.simulate import KINDS, simulate_ladder


def _row(kind: str, models: int, seeds: int) -> str:
    held, width, error = [], [], []
    for seed in range(seeds):
        sim = simulate_ladder(seed=seed, kind=kind)
        names = [name for name, _ in sim.models][-models:]
        compute = np.array([c for _, c in sim.models][-models:])
        fit = fit_loss_law(compute, np.array([sim.losses[n] for n in names]),
                           target_compute=sim.target_compute, rng=seed)
        truth, ci = sim.losses[sim.target], fit.prediction.confidence_interval
        held.append(ci.low <= truth <= ci.high)
        width.append(ci.high - ci.low)
        error.append(abs(fit.prediction.estimate - truth))
    w, e = float(np.median(width)), float(np.mean(error))
    return (f"{kind:<12} {models:>6}  {np.mean(held):5.2f}  {w:7.4f}  {e:7.4f}  "
            f"{w / e:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=60)
    parser.add_argument("--models", default="5,4",
                        help="comma-separated numbers of ladder models (default: 5,4)")
    parser.add_argument("--kinds", default="clean,slowing",
                        help=f"comma-separated simulated kinds, of {', '.join(KINDS)}")
    args = parser.parse_args()
    start = time.perf_counter()
    print("kind         models  cover    width      err  width/err")
    for kind in args.kinds.split(","):
        for models in (int(m) for m in args.models.split(",")):
            print(_row(kind, models, args.seeds), flush=True)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
