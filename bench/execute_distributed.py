"""Distributed execution's overhead: the same samples on this machine alone, on a Dask
``LocalCluster`` and on a local Ray instance, each with this machine's cores, in one run.

The cluster runs each batch of jobs in a warm sandbox on its worker
(``sandbox/distributed.py``), so on one machine the backends do the same work as the
local run plus the dispatch: pickling batches, the cluster's scheduling, and the pause at
the end of each round of batches. The ratio to the local run's time is that overhead. Two
sets: distinct samples that all end quickly (``--copies``), and a smaller set where a share
of the samples (``--loops``, default 1%) loop forever and run to the sandbox's timeout, as
small models' completions do -- where a batch waits for its slowest sample, the cores
behind it must not wait too.
Ray's instance is started before its clock starts (its start is printed apart: a cluster
is started once, not per run). Verdicts must equal the local run's, sample for sample.
Target on 2 cores: each backend at most 1.5x the local run's time.

    python bench/execute_distributed.py [--copies 20] [--loop-copies 5] [--loops 0.01]
                                        [--workers 2] [--backends dask,ray]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

from execute import make_samples, write  # beside this script, on sys.path when run as one

from capability.execution.execute import execute_samples
from capability.files.problems import load_problems

TARGET = 1.5


def timed(samples: Path, out: Path, problems, workers: int, **backend) -> float:
    start = time.perf_counter()
    execute_samples(samples, out, problems, workers=workers, progress=False, **backend)
    return time.perf_counter() - start


def verdicts(path: Path) -> list[str]:
    return [json.loads(line)["result"] for line in path.read_text().splitlines()]


def run_dask(samples: Path, out: Path, problems, workers: int) -> float:
    from dask.distributed import LocalCluster

    # One worker process with a thread per core, as `dask worker` runs on one machine.
    with LocalCluster(n_workers=1, threads_per_worker=workers, processes=True,
                      dashboard_address=None) as cluster:
        return timed(samples, out, problems, workers, backend="dask",
                     address=cluster.scheduler_address)


def run_ray(samples: Path, out: Path, problems, workers: int) -> tuple[float, float]:
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter() - start
    try:
        return started, timed(samples, out, problems, workers, backend="ray",
                              address="local")
    finally:
        ray.shutdown()


def with_loops(rows: list[dict], share: float, seed: int = 0) -> list[dict]:
    """``rows`` with about ``share`` of them replaced by a distinct endless loop."""
    rng = random.Random(seed)
    return [{**r, "completion": f"    while True:\n        pass\n# {i}\n"}
            if rng.random() < share else r for i, r in enumerate(rows)]


def compare(label: str, rows: list[dict], problems, workers: int, backends: list[str],
            tmp: Path) -> float:
    """Run ``rows`` locally and on each backend; print the times and ratios; return the
    worst ratio."""
    samples = write(tmp / f"{label}.jsonl", rows)
    t_local = timed(samples, tmp / f"{label}-local.jsonl", problems, workers)
    expected = verdicts(tmp / f"{label}-local.jsonl")
    print(f"{len(rows)} samples, {label}, {workers} cores")
    print(f"  local        {t_local:7.1f} s  {len(rows) / t_local:7.1f} samples/s")
    worst = 0.0
    for backend in backends:
        out = tmp / f"{label}-{backend}.jsonl"
        if backend == "dask":
            t, note = run_dask(samples, out, problems, workers), ""
        else:
            started, t = run_ray(samples, out, problems, workers)
            note = f"  (instance started in {started:.1f} s, before the clock)"
        same = verdicts(out) == expected
        worst = max(worst, t / t_local)
        print(f"  {backend:<12} {t:7.1f} s  {len(rows) / t:7.1f} samples/s  "
              f"ratio {t / t_local:.2f}x  verdicts {'equal' if same else 'DIFFER'}{note}")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--copies", type=int, default=20,
                        help="distinct variants per problem and kind (default: 20, "
                             "6560 samples)")
    parser.add_argument("--loop-copies", type=int, default=5,
                        help="the same for the set with endless loops (default: 5, 1640 "
                             "samples)")
    parser.add_argument("--loops", type=float, default=0.01,
                        help="share of that set's samples that loop forever (default: 0.01)")
    parser.add_argument("--backends", default="dask,ray")
    args = parser.parse_args()
    problems = load_problems()
    backends = [b for b in args.backends.split(",") if b]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        worst = compare("all quick", make_samples(problems, args.copies), problems,
                        args.workers, backends, tmp)
        if args.loops > 0:
            rows = with_loops(make_samples(problems, args.loop_copies), args.loops)
            worst = max(worst, compare(f"{100 * args.loops:g}% endless loops", rows,
                                       problems, args.workers, backends, tmp))
    print(f"target: each backend <= {TARGET}x the local run's time -> "
          f"{'met' if worst <= TARGET else 'missed'} (worst {worst:.2f}x)")


if __name__ == "__main__":
    main()
