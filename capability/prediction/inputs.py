"""What :func:`capability.prediction.predict.predict` accepts, checked at the boundary: the
settings and the counts table, with errors that name what was expected and what was found
(:class:`capability.errors.InputError`); and the adaptive budget's counts made plain."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capability.checks import is_whole, positive_number
from capability.errors import InputError
from capability.estimation.estimate import inverse_sampling_counts
from capability.laws import LAWS
from capability.options import MIN_LADDER_MODELS
from capability.prediction.result import PredictionSettings

__all__ = ["check_settings", "check_counts_frame", "checked_counts", "effective_counts",
           "whole_column"]


def check_settings(s: PredictionSettings) -> None:
    """Validate the method's settings, raising :class:`InputError` keyed by the CLI flag that
    sets the bad one."""
    if not s.k or any(not isinstance(k, int | np.integer) or k < 1 for k in s.k):
        raise InputError(f"expected whole numbers >= 1, found {s.k!r}", key="--k")
    if s.zero_policy != "exclude" and s.estimator == "plugin":
        raise InputError(f"zero policy {s.zero_policy!r} needs an estimator that is finite at "
                         "c = 0 (series or jeffreys), not 'plugin'", key="--estimator")
    if not 0 < s.confidence_level < 1:
        raise InputError(f"expected a level in (0, 1), found {s.confidence_level}",
                         key="--level")
    if s.law != "auto" and s.law not in LAWS:
        raise InputError(f"expected 'auto' or one of {', '.join(LAWS)}, found {s.law!r}",
                         key="--law")
    if not is_whole(s.seed, 0):
        raise InputError(f"expected a whole number >= 0, found {s.seed!r}", key="--seed")
    if not is_whole(s.n_resamples, 0):
        raise InputError("expected a whole number >= 0 (0: point estimates alone), found "
                         f"{s.n_resamples!r}", key="--resamples")
    if not is_whole(s.min_below, 2):
        raise InputError(f"expected a whole number >= 2, found {s.min_below!r}",
                         key="--min-below")


def checked_counts(counts, columns: tuple[str, ...]) -> pd.DataFrame:
    """``counts`` checked to be a DataFrame with ``columns`` (``n`` and ``c`` among them)
    whose ``n`` and ``c`` are whole numbers with ``1 <= n`` and ``0 <= c <= n``; returned
    with them as int64. :class:`InputError` (key ``counts``) names the first row that is
    not, by model where there is a ``model`` column, and task."""
    wanted = ", ".join(columns)
    if not isinstance(counts, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame with columns {wanted}; found "
                         f"{type(counts).__name__}", key="counts")
    missing = [col for col in columns if col not in counts.columns]
    if missing:
        raise InputError(f"expected columns {wanted}; found "
                         f"{', '.join(map(str, counts.columns)) or 'none'} (missing "
                         f"{', '.join(missing)})", key="counts")
    counts = counts.assign(**{col: whole_column(counts, col) for col in ("n", "c")})
    bad = counts[(counts["n"] < 1) | (counts["c"] < 0) | (counts["c"] > counts["n"])]
    if len(bad):
        row = bad.iloc[0]
        raise InputError(f"expected 1 <= n and 0 <= c <= n, found n = {row['n']}, "
                         f"c = {row['c']} for {_row_name(row)}", key="counts")
    return counts


def _row_name(row: pd.Series) -> str:
    who = f"model {row['model']!r}, " if "model" in row.index else ""
    return f"{who}task {row['task_id']!r}"


def whole_column(counts: pd.DataFrame, col: str) -> pd.Series:
    """Column ``col`` as int64: integer dtypes as they are, floats (and objects) whose every
    value is a finite whole number (``13.0``, as pandas stores an integer column that had a
    gap) converted; otherwise :class:`InputError` naming the first row that is not."""
    values = counts[col]
    if pd.api.types.is_integer_dtype(values) and not values.isna().any():
        return values.astype(np.int64)
    if pd.api.types.is_bool_dtype(values):
        raise InputError(f"expected whole numbers in column {col!r}, found dtype bool",
                         key="counts")
    number = pd.to_numeric(values, errors="coerce").astype(float)
    bad = ~(np.isfinite(number) & (number == np.round(number)))
    if bad.any():
        row = counts[bad.to_numpy()].iloc[0]
        shown = repr(row[col]) if isinstance(row[col], str) else str(row[col])
        raise InputError(f"expected whole numbers in column {col!r}, found {shown} "
                         f"for {_row_name(row)}", key="counts")
    return number.astype(np.int64)


def check_counts_frame(counts, models) -> pd.DataFrame:
    """Validate ``predict``'s inputs at the boundary (a long counts DataFrame and the
    ``(name, compute, loss)`` list), raising :class:`InputError` that names what was
    expected and what was found.

    Returns the counts with ``n`` and ``c`` as int64 (as scikit-learn's ``check_array``
    returns its converted array): whole numbers stored as floats are accepted."""
    counts = checked_counts(counts, ("model", "task_id", "n", "c"))
    if counts.duplicated(["model", "task_id"]).any():
        row = counts[counts.duplicated(["model", "task_id"])].iloc[0]
        raise InputError(f"model {row['model']!r} has task {row['task_id']!r} twice",
                         key="counts")
    try:   # unpacking refuses a pair or a quadruple, float() a compute that is no number
        rows = [(str(name), float(compute), loss) for name, compute, loss in models]
    except (TypeError, ValueError):
        raise InputError("expected models as (name, compute in FLOPs, loss or None) tuples",
                         key="models") from None
    names, computes, losses = ([row[i] for row in rows] for i in range(3))
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"model {twice[0]!r} is listed more than once; every ladder model "
                         "needs its own name", key="models")
    if len(names) < MIN_LADDER_MODELS:
        raise InputError(f"expected at least {MIN_LADDER_MODELS} ladder models, found "
                         f"{len(names)}", key="models")
    if not all(positive_number(c) for c in computes):
        raise InputError("expected every model's compute > 0 FLOPs", key="models")
    if not all(loss is None or positive_number(loss) for loss in losses):
        raise InputError("expected every model's loss None or a finite number > 0 (final "
                         f"loss), found {', '.join(map(repr, losses))}", key="models")
    absent = [n for n in names if n not in set(counts["model"])]
    if absent:
        raise InputError(f"model {absent[0]!r} has no rows in counts (it has "
                         f"{', '.join(map(repr, sorted(set(counts['model']))[:5]))})",
                         key="models")
    tasks = {n: set(g) for n, g in counts.groupby("model")["task_id"]}
    first = tasks[names[0]]
    for n in names[1:]:
        if tasks[n] != first:
            parts = [f"{who} {len(ids)} task(s) {how} ({_first_few(ids)})"
                     for who, how, ids in ((f"{n!r} lacks", f"that {names[0]!r} has",
                                            first - tasks[n]),
                                           (f"{n!r} has", f"that {names[0]!r} lacks",
                                            tasks[n] - first))
                     if ids]
            raise InputError(f"models {names[0]!r} and {n!r} cover different tasks "
                             f"({'; '.join(parts)}); every ladder model must cover the same "
                             "task ids: keep the tasks every model has, or sample the "
                             "missing ones", key="counts")
    return counts


def _first_few(ids, shown: int = 3) -> str:
    ids = sorted(map(str, ids))
    return ", ".join(ids[:shown]) + (", ..." if len(ids) > shown else "")


def effective_counts(counts: pd.DataFrame, keep_drawn: bool = False) -> pd.DataFrame:
    """Apply :func:`capability.estimation.estimate.inverse_sampling_counts` where a counts table has
    the adaptive budget's ``r`` column; otherwise return it unchanged. With ``keep_drawn``
    the counts as drawn stay beside them, as ``n_drawn`` and ``c_drawn``: the estimators
    read ``n, c`` and the likelihood fits the counts as drawn
    (:meth:`capability.laws.base.LadderData.likelihood_counts`)."""
    if "r" not in counts.columns:
        return counts
    n, c = inverse_sampling_counts(counts["n"].to_numpy(), counts["c"].to_numpy(),
                                   counts["r"].to_numpy())
    drawn = {"n_drawn": counts["n"], "c_drawn": counts["c"]} if keep_drawn else {}
    return counts.drop(columns="r").assign(n=n, c=c, **drawn)
