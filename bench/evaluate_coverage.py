"""Coverage of ``capability evaluate``/``compare`` intervals on simulated evaluations.

Per run, two models on 164 problems with 10 samples each, sharing which problems are hard
(``capability.simulation.simulate.simulate_evaluation``); the truth is the population pass@k.
Prints the share of 90% intervals holding it (pass@1, pass@10 of model A; the paired and the
unpaired interval of pass@1(A) - pass@1(B)), their median widths, and the median paired/unpaired
width ratio; then the same with the models independent (spread 0: pairing buys nothing), and
with no difference at all (model B is model A: the same pass rate on every problem). Each
setting also prints the share of runs whose paired p-value of no difference is below 0.10:
the test's size where the models do not differ (it should be about 0.10), its power where
they do.

    python bench/evaluate_coverage.py [--runs 1000] [--resamples 2000]
"""

from __future__ import annotations

import argparse

import numpy as np

from capability.evaluation.passk import compare_pass_at_k, pass_at_k_interval
from capability.simulation.simulate import simulate_evaluation


def _width(r):
    return r.confidence_interval.high - r.confidence_interval.low


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'setting':<24} {'interval':<18} {'coverage':>8} {'median width':>13}")
    for label, kw in (("shared difficulty", {}),
                      ("independent", {"spread": 0.0, "noise": 0.0}),
                      ("no difference", {"shift": 0.0, "noise": 0.0})):
        hits: dict[str, list] = {"pass@1": [], "pass@10": [], "paired diff": [],
                                 "unpaired diff": []}
        widths: dict[str, list] = {k: [] for k in hits}
        p_values = []
        for seed in range(args.runs):
            sim = simulate_evaluation(seed=seed, **kw)
            (a1, b1), (a10, _) = sim.true_pass_at_k(1), sim.true_pass_at_k(10)
            res = {"pass@1": (pass_at_k_interval(sim.n, sim.c_a, 1, rng=seed,
                                                 n_resamples=args.resamples), a1),
                   "pass@10": (pass_at_k_interval(sim.n, sim.c_a, 10, rng=seed,
                                                  n_resamples=args.resamples), a10)}
            cmp = compare_pass_at_k(sim.n, sim.c_a, sim.n, sim.c_b, 1, rng=seed,
                                    n_resamples=args.resamples)
            res["paired diff"] = (cmp.paired, a1 - b1)
            res["unpaired diff"] = (cmp.unpaired, a1 - b1)
            p_values.append(cmp.p_value)
            for key, (r, truth) in res.items():
                hits[key].append(r.confidence_interval.contains(truth))
                widths[key].append(_width(r))
        for key in hits:
            print(f"{label:<24} {key:<18} {np.mean(hits[key]):>8.3f} "
                  f"{100 * np.median(widths[key]):>11.2f}pp")
        print(f"{label:<24} {'paired/unpaired width':<18} "
              f"{np.median(np.divide(widths['paired diff'], widths['unpaired diff'])):>8.2f}")
        print(f"{label:<24} {'paired p < 0.10':<18} {np.mean(np.less(p_values, 0.1)):>8.3f}")


if __name__ == "__main__":
    main()
