"""Read EvalPlus's directory of samples as a samples JSONL.

EvalPlus's code generation wrote, before it wrote JSONL (and its released samples of many
models are laid out so), one directory per task and one whole program per sample::

    codegen-2b_temp_0.8/
        HumanEval_0/0.py  HumanEval_0/1.py  ...
        HumanEval_1/0.py  ...

The task id is the directory's name with every ``_`` read as ``/`` (EvalPlus's own rule:
``HumanEval_0`` is ``HumanEval/0``, ``Mbpp_2`` is ``Mbpp/2``), and each ``.py`` file is a
``solution``: the whole program, the prompt's code included. Other files are skipped, as
EvalPlus skips them.

:func:`samples_jsonl` writes such a directory as the samples JSONL the executor reads (one
record per file: ``task_id``, ``solution`` and ``file``, the path within the directory),
tasks in natural order and each task's samples by their number, so that the same
directory always gives the same file and a run over it resumes.
"""

from __future__ import annotations

import json
from pathlib import Path

from capability.errors import InputError
from capability.estimation.task_order import task_key
from capability.files.jsonl import write_text_atomic

__all__ = ["is_evalplus_samples", "evalplus_sample_records", "samples_jsonl"]


def is_evalplus_samples(path: str | Path) -> bool:
    """Whether ``path`` is a directory (EvalPlus's samples layout) rather than a file."""
    return Path(path).is_dir()


def _task_id(task_dir: Path) -> str:
    """EvalPlus's rule: the task directory's name with every ``_`` read as ``/``."""
    return task_dir.name.replace("_", "/")


def _sample_order(path: Path) -> tuple:
    return (0, int(path.stem), path.name) if path.stem.isdigit() else (1, 0, path.name)


def evalplus_sample_records(directory: str | Path) -> list[dict[str, str]]:
    """The samples of an EvalPlus samples directory: ``{"task_id", "solution", "file"}``
    per ``.py`` file, tasks in natural order (:func:`task_key`), samples by number.

    Raises
    ------
    InputError
        Naming the directory or file: no task directory holds a ``.py`` file, or a file
        is unreadable or not UTF-8.
    """
    directory = Path(directory)
    try:
        tasks = [d for d in directory.iterdir() if d.is_dir()]
    except OSError as err:
        raise InputError(f"cannot read the samples directory ({err.strerror or err})",
                         path=directory) from None
    records = []
    for task in sorted(tasks, key=lambda d: task_key(_task_id(d))):
        files = sorted((f for f in task.iterdir() if f.suffix == ".py" and f.is_file()),
                       key=_sample_order)
        for f in files:
            try:
                solution = f.read_bytes().decode("utf-8")
            except OSError as err:
                raise InputError(f"cannot read the sample ({err.strerror or err})",
                                 path=f) from None
            except UnicodeDecodeError:
                raise InputError("expected UTF-8 text, found bytes that are not UTF-8",
                                 path=f) from None
            records.append({"task_id": _task_id(task), "solution": solution,
                            "file": f.relative_to(directory).as_posix()})
    if not records:
        raise InputError("expected EvalPlus's samples: directories named by task "
                         "(HumanEval_0) holding one program per sample (0.py, 1.py, ...), "
                         "found none", path=directory)
    return records


def samples_jsonl(directory: str | Path, out: str | Path) -> Path:
    """Write the samples of an EvalPlus samples directory to ``out`` as JSONL (see
    :func:`evalplus_sample_records`) and return ``out``. A file that already holds exactly
    these records is left as it is."""
    out = Path(out)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n"
                   for r in evalplus_sample_records(directory))
    try:
        same = out.read_bytes() == text.encode("utf-8")
    except OSError:
        same = False
    if not same:
        write_text_atomic(out, text)
    return out
