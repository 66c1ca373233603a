"""Time of one prediction (``capability.predict`` with its defaults: every candidate law,
rolling backtests, 1000 resamples) on the issue's ladder: 164 problems, five ladder models,
200 samples per problem, of each simulated kind asked for (default: ``clean``, and
``family``, the slowest: its problem-by-model scatter makes every per-problem fit weigh
its counts). Target: under 30 s on 2 cores.

The peer is the same function without its limit of one BLAS thread
(``predict.__wrapped__``), run in the same session: alone, and as two processes side by side
(as two predictions, or a prediction beside the tests, share a machine). OpenBLAS's threads
gain nothing on the fits' tiny matrices, and they spin against every other busy process.
A second peer is the prediction with its fits in two processes (``workers=2``, what
``capability run`` does on 2 cores: the target's fits here, the rolling origins' beside
them), against one (the library's default), each in a fresh process.

**Samples per problem.** A backtest (the prediction and its score: pass@k, the estimators of
``-log p``, the measurement's bootstrap) at ``--samples`` per problem (default 10^5, an
adaptive budget's or a pooled evaluation's) against the same at 200, each in a fresh
process. Target: at most 1.5x (the cost does not grow with ``n``; the estimators were
O(n) per problem before, 40x at 10^5 samples and minutes at 10^6).

    python bench/predict.py [--seed 0] [--repeat 1] [--kinds clean,family] [--samples N]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor


def _ladder(seed: int, kind: str = "clean", samples: int | None = None):
    """A simulated ladder's counts without the target, its models ``(name, compute,
    loss)``, and the simulation."""
    from capability.simulation.simulate import simulate_ladder

    sim = simulate_ladder(seed=seed, kind=kind, n_samples=samples)
    ladder = sim.counts[sim.counts["model"] != sim.target]
    return ladder, [(m, c, sim.losses[m]) for m, c in sim.models], sim


def _one(limited: bool, seed: int, kind: str, workers: int = 1) -> float:
    from capability.prediction.predict import predict

    ladder, models, sim = _ladder(seed, kind)
    func = predict if limited else predict.__wrapped__
    start = time.perf_counter()
    func(ladder, models, target=sim.target, target_compute=sim.target_compute,
         workers=workers)
    return time.perf_counter() - start


def _backtest_time(seed: int, samples: int) -> float:
    from capability.records.backtest import backtest

    ladder, models, _ = _ladder(seed, samples=samples)
    start = time.perf_counter()
    backtest(ladder, models)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each (best is kept)")
    ap.add_argument("--kinds", default="clean,family",
                    help="simulated kinds, comma-separated (default: clean,family; '' for none)")
    ap.add_argument("--samples", type=int, default=100_000,
                    help="samples per problem of the backtest timed against 200 "
                         "(default: 100000; 0 skips it)")
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    worst = 0.0
    kinds = [k for k in args.kinds.split(",") if k]
    for kind in kinds:
        rows = {}
        for limited in (True, False):
            alone, both = [], []
            for _ in range(args.repeat):
                with ctx.Pool(1) as pool:  # a fresh process each
                    alone.append(pool.apply(_one, (limited, args.seed, kind)))
                with ctx.Pool(2) as pool:
                    both.append(sum(pool.starmap(_one, [(limited, args.seed, kind),
                                                        (limited, args.seed + 1, kind)])) / 2)
            rows["alone", limited], rows["two side by side", limited] = min(alone), min(both)
        print(f"one prediction, 164 problems, 5 ladder models, defaults, kind {kind}")
        for name in ("alone", "two side by side"):
            ours, peer = rows[name, True], rows[name, False]
            print(f"  {name:17s} one BLAS thread {ours:6.1f} s   BLAS's own threads "
                  f"{peer:6.1f} s   ratio {peer / ours:4.2f}x")
        worst = max(worst, rows["alone", True])
        two = []
        for _ in range(args.repeat):
            # not a Pool: its daemonic workers may not start the fits' processes
            with ProcessPoolExecutor(1, mp_context=ctx) as pool:
                two.append(pool.submit(_one, True, args.seed, kind, 2).result())
        one = rows["alone", True]
        print(f"  {'alone':17s} fits in 1 process {one:6.1f} s   in 2 processes "
              f"{min(two):6.1f} s   ratio {one / min(two):4.2f}x")
    if kinds:
        print(f"  target: under 30 s alone -> {'met' if worst < 30 else 'NOT met'} "
              f"(slowest kind {worst:.1f} s)")
    if args.samples:
        times = {}
        for n in (200, args.samples):
            runs = []
            for _ in range(args.repeat):
                with ctx.Pool(1) as pool:
                    runs.append(pool.apply(_backtest_time, (args.seed, n)))
            times[n] = min(runs)
        ratio = times[args.samples] / times[200]
        print(f"one backtest (prediction and score), kind clean, fits in 1 process\n"
              f"  200 samples per problem {times[200]:6.1f} s   {args.samples} "
              f"{times[args.samples]:6.1f} s   ratio {ratio:4.2f}x "
              f"(target <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
