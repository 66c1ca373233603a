"""capability: predict a large model's code-generation capability from a ladder of small ones.

The "predictable scaling" method of the GPT-4 technical report (section 3.2): per-problem pass
rates of small models, six difficulty buckets, and per bucket a law of
``-E_P[log pass_rate(C)]`` (the report's ``alpha * C**(-k)`` and candidates chosen by the
ladder's own backtests) extrapolated to the target's training compute, with intervals.

The main entry points, importable from here (loaded on first use, so ``import capability``
stays cheap)::

    import capability
    pred = capability.predict(counts, models, target="big", target_compute=1e24)
    pred.to_frame()                                   # one row per bucket
    capability.pass_at_k(n, c, k)                     # unbiased pass@k per problem
    capability.pass_at_k_interval(n, c, k)            # over problems, with its interval
    ladder = capability.load_ladder("ladder.toml")
    capability.execute_samples("samples.jsonl", "results.jsonl", capability.load_problems())
    records, _ = capability.read_registry("runs/registry")
    capability.track_record_frame(capability.track_record(records))   # how each fared
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "predict": "capability.prediction.predict",
    "PredictionSettings": "capability.prediction.predict",
    "Prediction": "capability.prediction.predict",
    "pass_at_k": "capability.estimation.estimate",
    "neg_log_pass_rate": "capability.estimation.estimate",
    "pass_at_k_interval": "capability.evaluation.passk",
    "compare_pass_at_k": "capability.evaluation.passk",
    "load_ladder": "capability.files.ladder",
    "load_problems": "capability.files.problems",
    "read_counts": "capability.files.counts",
    "read_counted": "capability.files.counts",
    "execute_samples": "capability.execution.execute",
    "count_results": "capability.execution.execute",
    "score_prediction": "capability.records.score",
    "score_frame": "capability.records.score",
    "read_registry": "capability.records.registry",
    "track_record": "capability.records.track_record",
    "track_record_frame": "capability.records.track_record",
    "simulate_ladder": "capability.simulation.simulate",
    "InputError": "capability.errors",
    "CapabilityError": "capability.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'capability' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
