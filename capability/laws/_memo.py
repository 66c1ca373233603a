"""A small thread-safe memo of the latest results, keyed by a digest of the arrays and values
they were computed from (the pooled fits the rolling backtests and the model average ask for
more than once per prediction)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["Memo", "digest"]


def digest(*arrays, extra: Any = ()) -> str:
    """SHA-256 of the arrays' float64 bytes, in order, and of ``repr(extra)``: equal inputs
    give equal keys, and arrays that differ in any value give different ones."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, float).tobytes())
    h.update(repr(extra).encode())
    return h.hexdigest()


class Memo:
    """The ``size`` latest results by key, least recently used dropped first. ``get(key,
    compute)`` returns the stored result or stores and returns ``compute()``; two threads
    missing the same key at once both compute it (the results are equal), and the lock is
    not held while computing."""

    def __init__(self, size: int = 16):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value
