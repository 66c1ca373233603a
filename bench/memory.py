"""Peak memory of the pipeline on 10k and 1M simulated samples (streaming, not whole files).

For each size it writes a ladder of five models whose sources are samples files (simulated
completions: canonical solutions with the simulated pass probability, else wrong ones), then
runs ``capability run`` on it in a fresh process -- validate, execute in the sandbox (with
deduplication, so the run takes minutes, not hours), count, bucket, fit with the defaults
(1000 resamples: the per-problem laws' draws are the prediction's largest arrays) -- and
prints that process's peak RSS. Target: < 500 MB at 1M samples, and far below linear growth.

    python bench/memory.py [--sizes 10000,1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from capability.files.problems import load_problems
from capability.simulation.simserver import SimServer
from capability.simulation.simulate import simulate_ladder

RUNNER = """
import resource, sys
from capability.cli import main
code = main(sys.argv[1:])
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def write_ladder(out: Path, total: int) -> Path:
    sim = simulate_ladder(seed=0)
    problems = load_problems()
    server = SimServer(sim, problems, loop_rate=0.0)  # used for its answers only, not served
    server.stop()
    rng = random.Random(0)
    per_model = total // len(sim.models)
    ids = list(problems)
    lines = ['target = "target"', ""]
    for name, compute in sim.models:
        path = out / f"{name}.jsonl"
        with open(path, "w") as fp:
            for i in range(per_model):
                problem = problems[ids[i % len(ids)]]
                fp.write(json.dumps({"task_id": problem.task_id,
                                     "completion": server.completion(name, problem, rng),
                                     "model": name, "sample_index": i // len(ids)}) + "\n")
        lines += ["[[models]]", f'name = "{name}"', f"compute = {compute:.6e}",
                  f'samples = "{name}.jsonl"', ""]
    lines += ["[[models]]", 'name = "target"', f"compute = {sim.target_compute:.6e}"]
    ladder = out / "ladder.toml"
    ladder.write_text("\n".join(lines) + "\n")
    return ladder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--keep", type=Path, default=None, help="work here, not in /tmp")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for size in sizes:
            work = base / f"n{size}"
            work.mkdir(parents=True, exist_ok=True)
            ladder = write_ladder(work, size)
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", RUNNER, "run", str(ladder), "--out",
                                   str(work / "run")],
                                  capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            if proc.returncode != 0:
                sys.exit(f"capability run failed on {size} samples:\n{proc.stderr[-3000:]}")
            peak = int(proc.stderr.split("PEAK_RSS_KB")[1].split()[0]) / 1024
            rows.append((size, peak, elapsed))
            print(f"{size:>9} samples: peak RSS {peak:7.1f} MB, {elapsed:6.1f} s", flush=True)
    if len(rows) > 1:
        (n0, m0, _), (n1, m1, _) = rows[0], rows[-1]
        print(f"samples x{n1 / n0:.0f} -> peak RSS x{m1 / m0:.2f} "
              f"(target: < 500 MB at 1M, far below linear)")


if __name__ == "__main__":
    main()
