"""Result objects shared by every estimate that carries an interval.

Modelled on ``scipy.stats.bootstrap``'s result: the estimate, the interval, the level, and how
it was obtained (``method``), plus the raw resampled values when a bootstrap made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ConfidenceInterval", "IntervalEstimate", "json_floats", "level_text"]


def level_text(level: float) -> str:
    """A confidence level as a percentage, with the digits it has: 0.9 as ``"90%"``, 0.999
    as ``"99.9%"`` (not ``"100%"``), 0.95 as ``"95%"``."""
    return f"{100 * level:g}%"


@dataclass(frozen=True)
class ConfidenceInterval:
    """A two-sided interval ``[low, high]``; NaN bounds mean "could not be computed"."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        """Whether ``[low, high]`` holds ``value``, to rounding: a bound that differs from
        the value by float error alone (a pass@100 of 1 against an upper bound of
        0.9999999999999998) holds it. The tolerance is ``1e-12 max(1, |value|)``; a NaN
        bound holds nothing."""
        tol = 1e-12 * max(1.0, abs(value))
        return bool(self.low - tol <= value <= self.high + tol)


@dataclass(frozen=True)
class IntervalEstimate:
    """A point estimate with its interval.

    Attributes
    ----------
    estimate
        The point estimate.
    confidence_interval
        Two-sided interval at ``confidence_level``.
    confidence_level
        Nominal coverage of the interval, in (0, 1).
    method
        How the interval was obtained, in words (read by people and written to reports).
    bootstrap_distribution
        The resampled values of the statistic when a bootstrap made the interval, else empty.
    """

    estimate: float
    confidence_interval: ConfidenceInterval
    confidence_level: float
    method: str
    bootstrap_distribution: np.ndarray = field(default_factory=lambda: np.empty(0),
                                               repr=False, compare=False)

    def to_dict(self) -> dict[str, float | None]:
        """``{"predicted", "lower", "upper"}`` with JSON-safe values (NaN becomes None)."""
        return {"predicted": _json_float(self.estimate),
                "lower": _json_float(self.confidence_interval.low),
                "upper": _json_float(self.confidence_interval.high)}


def _json_float(x: float) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def json_floats(values) -> np.ndarray:
    """A JSON list of numbers read back as floats, None (a value that could not be computed,
    as :func:`_json_float` writes it) as NaN."""
    return np.array([np.nan if v is None else v for v in values], float)
