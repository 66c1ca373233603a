"""The commands' work, end to end: ladder file -> counts -> prediction -> registry -> score,
and backtests. This is the I/O layer between the CLI and the pure modules: it reads and
hashes inputs, runs the executor where a source is samples, and writes JSON atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd

from capability.errors import InputError
from capability.execution.execute import (
    ExecutionOptions,
    count_results,
    execute_ladder,
    execute_samples,
)
from capability.files.counts import (
    common_problems,
    holds_verdicts,
    is_counts_csv,
    ladder_counts,
    read_counted,
)
from capability.files.evalplus import is_evalplus_results
from capability.files.evalplus_samples import is_evalplus_samples, samples_jsonl
from capability.files.jsonl import first_record, write_csv_atomic, write_json_atomic
from capability.files.ladder import Ladder, ModelSpec, load_ladder
from capability.files.problems import BUILTIN, load_problems
from capability.prediction.predict import PredictionSettings, predict
from capability.progress import stage
from capability.records.registry import (
    SHORT_ID,
    Registered,
    RegistryError,
    find_record,
    read_record,
    read_registration,
    record_content,
    record_id,
    sha256_file,
    write_record,
)
from capability.sampling import SamplingSettings

__all__ = ["ExecutionOptions", "gather_counts", "run_prediction",
           "sampling_settings", "backend_for", "sample_ladder_model",
           "register_run", "default_registry", "target_counts", "score_registered",
           "run_backtest", "fit_workers"]


def _input(role: str, path: Path, model: str | None = None) -> dict:
    return {"role": role, "model": model, "path": str(path), "sha256": sha256_file(path)}


def sampling_settings(model: ModelSpec) -> SamplingSettings:
    """The model's generation settings (ladder ``[sampling]`` with its overrides)."""
    values = dict(model.sampling)
    if "stop" in values:
        values["stop"] = tuple(values["stop"])
    return SamplingSettings(**values)


def backend_for(model: ModelSpec):
    """The sampling backend of a model whose source is a server or a transformers model."""
    if model.server is not None:
        from capability.sampling.openai_server import ServerBackend, probe_server

        probe_server(model.server["url"], model.server["model"])
        opts = {k: model.server[k] for k in ("api_key_env", "concurrency", "max_n")
                if k in model.server}
        return ServerBackend(model.server["url"], model.server["model"], **opts)
    if model.transformers is not None:
        from capability.sampling.transformers_local import TransformersBackend

        return TransformersBackend(**model.transformers)
    raise ValueError(f"model {model.name!r} has no server or transformers source")


def sample_ladder_model(model: ModelSpec, problems, out_dir: Path, execution: ExecutionOptions,
                        *, sandbox=None, progress: bool = True) -> tuple[Path, pd.DataFrame | None]:
    """Draw a model's samples into ``out_dir/samples/<model>.jsonl`` (resumable). With an
    adaptive budget the rounds are executed too (``out_dir/results/<model>.jsonl``) and the
    counts are returned; otherwise None."""
    from capability.sampling.adaptive import sample_adaptive
    from capability.sampling.run import sample_model

    settings = sampling_settings(model)
    samples = Path(out_dir) / "samples" / f"{model.name}.jsonl"
    if not settings.adaptive:
        sample_model(lambda: backend_for(model), list(problems.values()), settings, samples,
                     model=model.name, progress=progress)
        return samples, None
    results = Path(out_dir) / "results" / f"{model.name}.jsonl"
    own = sandbox is None
    if own:
        sandbox = execution.sandbox()
    try:
        counts = sample_adaptive(lambda: backend_for(model), problems, settings, samples,
                                 results, model=model.name, sandbox=sandbox,
                                 progress=progress)
    finally:
        if own:
            sandbox.close()
    return samples, counts


def gather_counts(ladder: Ladder, out_dir: Path, execution: ExecutionOptions,
                  common: bool = False) -> tuple[pd.DataFrame, list[dict], list[str]]:
    """The ladder models' counts, the list of every input read, with its sha256, and
    notes.

    Models whose source is a server or a transformers model are sampled first
    (``out_dir/samples``), and EvalPlus's samples directories written there as JSONL
    (:func:`~capability.files.evalplus_samples.samples_jsonl`); samples are executed
    (``out_dir/results``). The target's
    results are never read. With ``common``, models that cover different problems are
    cut to the problems they share (:func:`capability.files.counts.common_problems`),
    and a note names those left out; without it, that is an error."""
    problems = None if ladder.problems is None else load_problems(ladder.problems)
    inputs = [_input("ladder", ladder.path)]
    if ladder.problems not in (None, BUILTIN):
        inputs.append(_input("problems", Path(ladder.problems)))
    # EvalPlus's samples directories become samples JSONL in out_dir/samples.
    from_dirs = {m.name: m.samples for m in ladder.models
                 if m.samples is not None and is_evalplus_samples(m.samples)}
    ladder = replace(ladder, models=tuple(
        replace(m, samples=samples_jsonl(m.samples, Path(out_dir) / "samples"
                                         / f"{m.name}.jsonl"))
        if m.name in from_dirs else m for m in ladder.models))
    # Every file given is read (counts, checked against the problem set and each other) or
    # opened (samples) before any model is sampled or executed: a mistake in one is named
    # at once, not after hours of sampling.
    task_ids = None if problems is None else list(problems)
    counted = {m.name: read_counted(m.counts, ladder.evalplus_tests, m.rows_name)
               for m in ladder.models if m.counts is not None}
    if counted:
        ladder_counts(replace(ladder, models=tuple(m for m in ladder.models
                                                   if m.name in counted)),
                      task_ids, None, counted, common=common)
    for m in ladder.models:
        if m.samples is not None:
            first_record(m.samples)
    adaptive_counts: dict[str, pd.DataFrame] = {}
    sampled = {}
    for m in ladder.models:
        if m.server is not None or m.transformers is not None:
            with stage(f"sampling {m.name}"):
                sampled[m.name], counts_m = sample_ladder_model(m, problems, out_dir,
                                                                execution)
            if counts_m is not None:
                adaptive_counts[m.name] = counts_m
    to_execute = [replace(m, samples=sampled[m.name]) if m.name in sampled else m
                  for m in ladder.models if m.name not in adaptive_counts]
    with stage("executing the ladder's samples",
               enabled=any(m.samples is not None and m.counts is None for m in to_execute)):
        results = execute_ladder(replace(ladder, models=tuple(to_execute)), out_dir,
                                 problems, limits=execution.limits, workers=execution.workers,
                                 isolation=execution.isolation, dedup=execution.dedup,
                                 warn=execution.warn, backend=execution.backend,
                                 address=execution.address)
    counts = ladder_counts(ladder, task_ids, results, {**counted, **adaptive_counts},
                           common=common)
    notes = []
    if common:
        counts, dropped = common_problems(counts)
        if dropped:
            notes.append(f"--common-problems: {len(dropped)} problem(s) that some ladder model "
                         f"lacks are left out: {', '.join(dropped[:5])}"
                         f"{' ...' if len(dropped) > 5 else ''}")
    target, noted = ladder.target.rows_name, set()
    for m in ladder.models:
        if m.counts is not None:
            inputs.append(_counted_input(m.counts, m.name, ladder.evalplus_tests))
            held = counted[m.name].attrs.get("models", [])
            if len(held) > 1:
                inputs[-1]["models"] = held
                inputs[-1]["rows"] = m.rows_name   # the rows of held it read
                if target in held and m.counts not in noted:
                    noted.add(m.counts)
                    notes.append(f"{m.counts} also holds the target's rows ({target!r}): "
                                 "they were not read, but a prediction made from a file "
                                 "that holds the target's results cannot be registered")
        else:
            source = m.samples or sampled[m.name]
            result_path = results.get(m.name, Path(out_dir) / "results" / f"{m.name}.jsonl")
            samples = _input("samples", source, m.name)
            if m.name in from_dirs:
                samples["from"] = str(from_dirs[m.name])
            inputs += [samples, _input("results", result_path, m.name)]
    return counts, inputs, notes


def _target_source(ladder: Ladder) -> dict | None:
    source = ladder.target.counts or ladder.target.samples
    if source is None:
        return None
    out = {"path": str(source),
           "sha256": sha256_file(source) if Path(source).is_file() else None}
    if ladder.target.counts_model is not None:   # its rows' name in a file of several
        out["model"] = ladder.target.counts_model
    return out


def fit_workers(execution: ExecutionOptions) -> int:
    """Processes the prediction's fits run in: ``--workers``, as the sandbox's (default: one
    per core). Fitting starts after every sample has run, so the two never compete."""
    return int(execution.workers or os.cpu_count() or 1)


def run_prediction(ladder_path: Path, out_dir: Path, settings: PredictionSettings,
                   execution: ExecutionOptions, common: bool = False):
    """``capability run``: write ``out_dir/prediction.json`` and ``prediction.csv`` (one row
    per bucket, :meth:`Prediction.to_frame` and the intervals' level); return ``(dict,
    Prediction)`` (``common``: see :func:`gather_counts`)."""
    ladder = load_ladder(ladder_path)
    counts, inputs, notes = gather_counts(ladder, out_dir, execution, common)
    pred = predict(counts, [(m.name, m.compute, m.loss) for m in ladder.models],
                   target=ladder.target.name, target_compute=ladder.target.compute,
                   ladder=ladder.name, settings=settings, progress=True,
                   workers=fit_workers(execution))
    if notes:
        pred = replace(pred, warnings=(*notes, *pred.warnings))
    result = pred.to_dict()
    result["ladder_file"] = str(ladder_path)
    result["inputs"] = inputs
    result["target_source"] = _target_source(ladder)
    write_json_atomic(Path(out_dir) / "prediction.json", result)
    write_csv_atomic(Path(out_dir) / "prediction.csv",
                     pred.to_frame().assign(level=settings.confidence_level))
    return result, pred


def default_registry(run_dir: Path) -> Path:
    """The registry beside a run: ``RUN_DIR/../registry``."""
    return Path(run_dir).resolve().parent / "registry"


def _target_rows(prediction: dict) -> str:
    """The name of the target's rows in a file of several models: as its ladder entry's
    ``counts = { path, model }`` gave it (``target_source.model``), else the target's."""
    return (prediction.get("target_source") or {}).get("model") or prediction["target"]


def register_run(run_dir: Path, registry: Path | None = None, *,
                 force: bool = False) -> Registered:
    """Register ``run_dir/prediction.json``: check its inputs are unchanged since the run and
    exclude the target's results, write the record (or find the same one already there),
    and ``run_dir/registration.json``.

    A ``registration.json`` naming a different record (the prediction was made again since
    it was registered) is kept -- it may be the id already published -- unless ``force``;
    the old record stays in the registry either way."""
    run_dir = Path(run_dir)
    path = run_dir / "prediction.json"
    if not path.is_file():
        raise InputError("holds no prediction.json (make one with capability run)",
                         path=run_dir)
    try:
        prediction = json.loads(path.read_text(encoding="utf-8"))
        inputs = prediction["inputs"]
    except (ValueError, KeyError) as err:
        raise InputError(f"not a prediction of this tool ({err})", path=path) from None
    target = prediction.get("target_source") or {}
    target_rows = _target_rows(prediction)
    for item in inputs:
        if not Path(item["path"]).is_file() or sha256_file(item["path"]) != item["sha256"]:
            raise RegistryError(f"input {item['path']} changed or vanished since the "
                                "prediction was made; run it again before registering")
        if (item["path"] == target.get("path") or target_rows in item.get("models", ())
                or (target.get("sha256") is not None and item["sha256"] == target["sha256"])):
            raise RegistryError(f"refused: input {item['path']} holds the target's results "
                                f"({prediction['target']}); a prediction must be made "
                                "without them")
    ladder_sha = next(i["sha256"] for i in inputs if i["role"] == "ladder")
    body = {"prediction": prediction, "ladder_sha256": ladder_sha,
            "inputs": [{k: i[k] for k in ("role", "model", "path", "sha256")}
                       for i in inputs],
            "parameters": prediction["settings"], "target": prediction["target"],
            "buckets": [{"bucket": b["bucket"], "task_ids": b["task_ids"]}
                        for b in prediction["buckets"]],
            "held_out": prediction["held_out"], "excluded": prediction["excluded"],
            "run_dir": str(run_dir.resolve())}
    registry = Path(registry) if registry else default_registry(run_dir)
    reg_path = run_dir / "registration.json"
    previous = None
    if reg_path.is_file():
        try:
            previous = json.loads(reg_path.read_text(encoding="utf-8")).get("id")
        except (ValueError, AttributeError):
            previous = None
    if previous and previous != record_id(record_content("prediction", body)) and not force:
        raise RegistryError(f"{reg_path} names prediction {previous[:SHORT_ID]}, and "
                            f"{run_dir / 'prediction.json'} is not that prediction any more "
                            "(made again since it was registered). Registering it would "
                            "repoint the run at a new id; pass --force to do so (the old "
                            "record stays in the registry)")
    done = write_record(registry, "prediction", body)
    write_json_atomic(reg_path, {"id": done.id, "short_id": done.id[:SHORT_ID],
                                 "registry": str(registry.resolve()),
                                 "created_utc": done.created_utc})
    return done


def _counted_input(path: Path, model: str | None, evalplus_tests: str) -> dict:
    """The input record of a file read by :func:`read_counted`: role ``counts`` for a
    counts CSV, ``results`` for verdicts, with ``evalplus_tests`` where EvalPlus's
    results were counted by it."""
    item = _input("counts" if is_counts_csv(path) else "results", path,
                  model)
    if is_evalplus_results(path):
        item["evalplus_tests"] = evalplus_tests
    return item


def target_counts(path: Path, problems_source, out_dir: Path, execution: ExecutionOptions,
                  evalplus_tests: str = "base", target: str | None = None
                  ) -> tuple[pd.DataFrame, dict]:
    """The target's counts from what :func:`~capability.files.counts.read_counted` reads
    (a counts CSV, a results JSONL, EvalPlus's results with its samples passing
    ``evalplus_tests``; of a file of several models, the rows of ``target``) or from a
    samples JSONL (executed here into ``out_dir/target_results.jsonl``)."""
    path = Path(path)
    if holds_verdicts(path):
        return (read_counted(path, evalplus_tests, target),
                _counted_input(path, None, evalplus_tests))
    problems = load_problems(problems_source or BUILTIN)
    results = Path(out_dir) / "target_results.jsonl"
    execute_samples(path, results, problems, limits=execution.limits,
                    workers=execution.workers, isolation=execution.isolation,
                    dedup=execution.dedup, warn=execution.warn, backend=execution.backend,
                    address=execution.address)
    return count_results(results, target), _input("samples", path)


def score_registered(ref: str, target_file: Path, *, registry: Path | None,
                     out_dir: Path | None, execution: ExecutionOptions,
                     evalplus_tests: str | None = None,
                     target_model: str | None = None) -> tuple[str, dict, Path]:
    """``capability score``: find the prediction record (an id, or a run directory with
    ``registration.json``), measure the target on its buckets, register the score record
    linked to it and write ``score.json`` and ``score.csv`` (one row per bucket,
    :func:`~capability.records.score.score_frame`) into ``out_dir`` (default: the run
    directory); return the score's id, the score and that directory.

    Of a ``target_file`` of several models' rows the target's are read: those named
    ``target_model``, else as the ladder's target read its counts (``counts = { path,
    model }``), else by the target's name."""
    from capability.records.score import score_frame, score_prediction

    ref_path = Path(ref)
    if ref_path.is_dir():
        info = read_registration(ref_path)
        if info is None:
            raise InputError("holds no registration.json (register it with capability "
                             "register)", path=ref_path)
        ref, registry = info["id"], Path(registry or info["registry"])
    registry = Path(registry or "registry")
    pid, content = read_record(find_record(registry, ref))
    if content.get("kind") != "prediction":
        raise RegistryError(f"record {pid[:SHORT_ID]} is a {content.get('kind')} record, "
                            "not a prediction")
    prediction = content["prediction"]
    run_dir = Path(content.get("run_dir", "."))
    out = Path(out_dir) if out_dir else (run_dir if run_dir.is_dir() else Path("."))
    evalplus_tests = _target_evalplus_tests(prediction, target_file, evalplus_tests)
    counts, source = target_counts(target_file, _problems_of(prediction), out, execution,
                                   evalplus_tests, target_model or _target_rows(prediction))
    score = score_prediction(prediction, counts)
    sid = write_record(registry, "score", {"prediction_id": pid, "target_input": source,
                                           "score": score}).id
    result = {"id": sid, "prediction_id": pid, **score}
    write_json_atomic(out / "score.json", result)
    write_csv_atomic(out / "score.csv", score_frame(result))
    return sid, result, out


def _target_evalplus_tests(prediction: dict, target_file: Path, given: str | None) -> str:
    """What passes in the target's EvalPlus results: as the prediction's ladder counted
    EvalPlus results (its inputs' ``evalplus_tests``), else ``given``, else base. A
    ``given`` choice that differs from the ladder's is refused for an EvalPlus target: the
    score would compare pass rates on other tests."""
    ladder = {i["evalplus_tests"] for i in prediction.get("inputs", [])
              if "evalplus_tests" in i}
    choice = next(iter(ladder)) if len(ladder) == 1 else None
    if (given is not None and choice is not None and given != choice
            and is_evalplus_results(target_file)):
        raise InputError(f"the prediction's ladder counted EvalPlus results with "
                         f"evalplus_tests = {choice!r}; scoring the target on {given!r} would "
                         f"compare pass rates on other tests: drop it or give {choice}",
                         key="--evalplus-tests")
    return given or choice or "base"


def _problems_of(prediction: dict):
    for item in prediction.get("inputs", []):
        if item["role"] == "problems":
            return item["path"]
    return None


def run_backtest(ladder_path: Path, out_dir: Path, settings: PredictionSettings,
                 execution: ExecutionOptions, largest: int = 1, common: bool = False) -> dict:
    """``capability backtest``: write ``out_dir/backtest.json`` and ``backtest.csv`` (the
    largest model's fold, one row per bucket as ``score.csv``) (``common``: see
    :func:`gather_counts`)."""
    from capability.records.backtest import backtest
    from capability.records.score import score_frame

    ladder = load_ladder(ladder_path)
    counts, inputs, notes = gather_counts(ladder, out_dir, execution, common)
    result = backtest(counts, [(m.name, m.compute, m.loss) for m in ladder.models],
                      largest=largest, ladder=ladder.name, settings=settings, progress=True,
                      workers=fit_workers(execution))
    result["warnings"] = [*notes, *result.get("warnings", [])]
    result["ladder_file"] = str(ladder_path)
    result["inputs"] = inputs
    write_json_atomic(Path(out_dir) / "backtest.json", result)
    write_csv_atomic(Path(out_dir) / "backtest.csv", score_frame(result))
    return result
