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

__all__ = ["exit_with_parent"]


def exit_with_parent(every: float = 1.0) -> None:
    """A worker's initializer: a daemon thread that ends the worker (``os._exit(1)``) once
    the parent it started under is gone, checked every ``every`` seconds (``os.getppid()``
    changes when an orphan is adopted)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()
