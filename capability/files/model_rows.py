"""Which rows of a file of several models' counts or verdicts one model reads.

One evaluation table often holds a whole family (``model,task_id,n,c``, as eval-arena's
and ``capability evaluate``'s are; a results JSONL whose records carry ``model``). A
ladder model that names such a file reads the rows named as it is, or as its
``counts = { path, model }`` says; a file of one model is read whole, whatever its ``model``
says (a ladder's names need not be the evaluation's).
"""

from __future__ import annotations

from pathlib import Path

from capability.errors import InputError

__all__ = ["model_to_read"]


def model_to_read(found: list[str], model: str | None, path: str | Path) -> str | None:
    """The ``model`` value whose rows are read from a file whose rows name ``found`` (the
    distinct values in file order), or None to read every row.

    Raises
    ------
    InputError
        The file holds several models and ``model`` is None, or is none of them.
    """
    if len(found) <= 1:
        return None
    if model in found:
        return model
    shown = ", ".join(repr(m) for m in found[:6]) + (", ..." if len(found) > 6 else "")
    if model is None:
        raise InputError(f"holds the rows of {len(found)} models ({shown}); expected one "
                         "model's, or the name of the model to read", path=path)
    raise InputError(f"holds the rows of {len(found)} models ({shown}), none named "
                     f"{model!r}: a model reads its own rows from a file of several, by its "
                     "name or by the name counts = { path, model } gives in the ladder "
                     "(capability score: --target-model)", path=path)
