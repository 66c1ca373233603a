"""Checks of single arguments shared by the library's boundaries (pure; imports nothing
heavy). The checks of whole inputs -- a counts table, a ladder file -- live beside the code
that reads them (:mod:`capability.prediction.inputs`, :mod:`capability.files.ladder`)."""

from __future__ import annotations

import math
from numbers import Integral, Real

__all__ = ["is_whole", "positive_number", "level_iv"]


def is_whole(value, least: int) -> bool:
    """``value`` is a whole number (Python's or numpy's integers, not a bool, not a float
    that happens to be whole) of at least ``least``."""
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= least


def positive_number(x) -> bool:
    """A finite real number > 0 (Python's or numpy's; not a bool, not a string that reads
    as one)."""
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(x) and bool(x > 0)


def level_iv(level: float, name: str = "confidence_level") -> float:
    """``level`` as a float, checked to lie in (0, 1) (NaN fails): a level outside it gives
    tail probabilities outside [0, 1] and bounds that are NaN or complex, not an error."""
    if not 0 < level < 1:
        raise ValueError(f"`{name}` must be in (0, 1). Got {level!r} instead.")
    return float(level)
