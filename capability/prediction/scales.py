"""The scales errors and intervals are measured on (pure).

Errors are measured on scales where they are comparable across buckets: the
angular scale ``t = asin(sqrt(p))`` for a bucket's mean pass rate (the variance-stabilising
transform of a proportion: sampling noise is about the same near 0.5 and near 1, and any
interval mapped back lies in [0, 1]) and ``t = log(y + 1e-6)`` for ``-E[log p]`` (any
interval mapped back is >= 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Scale", "SCALES"]

_EPS_LOG = 1e-6


@dataclass(frozen=True)
class Scale:
    """A monotone transform to the scale errors are measured on, and its domain there:
    ``"angular"`` (``asin(sqrt(v))``), ``"log"`` (``log(v + 1e-6)``) or ``"identity"``."""

    name: str
    low: float
    high: float

    def forward(self, v):
        v = np.asarray(v, float)
        if self.name == "identity":
            return np.maximum(v, self.low)
        if self.name == "angular":
            return np.arcsin(np.sqrt(np.clip(v, 0.0, 1.0)))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.maximum(v, 0.0) + _EPS_LOG)

    def inverse(self, t):
        t = np.clip(np.asarray(t, float), self.low, self.high)
        if self.name == "identity":
            return t
        if self.name == "angular":
            return np.sin(t) ** 2
        return np.maximum(np.exp(t) - _EPS_LOG, 0.0)

    def derivative(self, v):
        v = np.asarray(v, float)
        if self.name == "identity":
            return np.ones_like(v)
        if self.name == "angular":
            p = np.clip(v, 1e-4, 1 - 1e-4)
            return 0.5 / np.sqrt(p * (1 - p))
        return 1.0 / (np.maximum(v, 0.0) + _EPS_LOG)


SCALES = {"mean_pass_rate": Scale("angular", 0.0, np.pi / 2),
          "neg_log_pass_rate": Scale("log", -np.inf, 700.0)}  # exp(700): finite
