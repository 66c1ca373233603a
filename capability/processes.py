"""Worker processes that end with the process that started them.

A process killed outright (SIGKILL, the OOM killer) cannot stop its workers; without this
they ran their jobs to the end for no one and idled on, holding its stdout and stderr open
(a reader of its pipe waited for them). The sandboxes have their own
(:mod:`sandbox`); this is for the prediction's fits (joblib's loky workers).
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["exit_with_parent", "ending_with_this_process"]


def exit_with_parent(parent: int, every: float = 1.0) -> None:
    """A worker's initializer: a daemon thread that ends the worker (``os._exit(1)``) once
    the process ``parent`` is no longer its parent, checked every ``every`` seconds
    (``os.getppid()`` changes when an orphan is adopted).

    ``parent`` is the starting process's pid, passed from it (:func:`ending_with_this_process`):
    a worker runs its initializer only once it has imported what it needs, seconds after
    it was started, and a parent killed in between has been replaced by the one that
    adopted the orphan by then. Read in the worker, that adopter passed for the parent,
    and the worker idled on for no one, holding the dead process's stdout and stderr
    open."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def ending_with_this_process() -> dict:
    """An executor's ``initializer`` and ``initargs`` for workers that end with this
    process (:func:`exit_with_parent`, given this process's pid)."""
    return {"initializer": exit_with_parent, "initargs": (os.getpid(),)}
