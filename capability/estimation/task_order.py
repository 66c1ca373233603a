"""The canonical order of task ids (pure): natural order, digits compared as numbers
(``HumanEval/2`` before ``HumanEval/10``), so that no result depends on the order of the
rows in an input file.

Where problems tie -- a bucket's edge drawn through problems of one difficulty, as at
few samples per problem, or a bootstrap that draws problems by position -- the order the
problems are held in decides, and an order read from a file would make the prediction
change when the file's rows are shuffled (on a one-sample simulated ladder, 144 of 300
bucket memberships moved). Every stage that holds problems in an array takes this order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["task_key", "in_task_order"]

_DIGITS = re.compile(r"(\d+)")


def task_key(task_id) -> tuple:
    """Natural sort key of a task id: its text split into runs of digits (compared as
    whole numbers) and the text between them (compared as text); the text itself breaks
    what is left (``HumanEval/01`` against ``HumanEval/1``)."""
    text = str(task_id)
    parts = _DIGITS.split(text)   # text, digits, text, ...: the kinds alternate
    return (tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), text)


def in_task_order(task_ids: Iterable) -> list:
    """The distinct task ids in natural order (:func:`task_key`)."""
    return sorted(dict.fromkeys(task_ids), key=task_key)
