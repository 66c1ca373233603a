"""Problems whose trend disagrees with their bucket's law: they get worse with scale (pure).

The GPT-4 report notes that some problems' pass rates fall as models grow; averaged into a
bucket they bend its mean away from a power law, and the bucket is then predicted too low.
Per problem ``i`` in bucket ``b``, the slope ``s_i`` of its ``log(-log p)`` estimates on
``log C`` is fitted by weighted least squares (inverse delta-method variances as weights,
models where all samples passed left out), with standard error ``se_i``. A problem is
flagged when it gets worse with scale -- ``s_i > 0``, ``-log p`` rising with compute -- and
disagrees with its bucket's slope ``-k_b`` by ``z_i = (s_i + k_b) / se_i > z`` (default 3).
Flagging changes no prediction; it says which problems to look at.

**Scatter beyond the binomial noise.** Where every model finds single problems easier or
harder than its family's trend says (a problem-by-model effect of variance ``omega^2`` on
the logit scale, :func:`capability.laws.interaction_variance`), a problem's points scatter
about its line by more than their binomial noise, and a slope that one model's effect tilts
is no evidence of inverse scaling. Each point's variance on the ``log(-log p)`` scale then
gets the effect's, ``omega^2 ((1 - p) / log p)^2`` (the delta method: ``d log(-log p) /
d logit p = (1 - p) / log p``). Without it, simulated ladders of kind ``interaction``
(``omega = 1``, no problem that gets worse) had 31 problems flagged in 3 seeds; with it
one, while ``inverse`` ladders keep their flags (23 of 30, none false, in both). The price
is power where the scatter is large: on ``interaction`` ladders with 10 problems that get
worse, 1 of 30 is flagged (and 2 falsely), against 15 (and 29 falsely) without it.
"""

from __future__ import annotations

import numpy as np

from capability.estimation.estimate import neg_log_pass_rate

__all__ = ["inverse_scaling"]


_FLAT = 1e-9   # |slope| below this (per unit of ln compute) is flat


def inverse_scaling(n, c, compute, task_ids, bucket_k, *, z: float = 3.0,
                    estimator: str = "series", scatter: float = 0.0) -> list[dict]:
    """Flag problems that get worse with scale against their bucket's law.

    Parameters
    ----------
    n, c
        Counts of shape ``(M, P)`` (ladder models by problems).
    compute
        The ``M`` models' compute, FLOPs.
    task_ids
        The ``P`` problems' ids.
    bucket_k
        The exponent ``k`` of each problem's bucket (``P`` values; NaN: not checked).
    scatter
        The problem-by-model variance ``omega^2`` on the logit scale (module docstring; 0:
        binomial noise only).

    Returns
    -------
    list of dict
        ``{"task_id", "slope", "se", "z"}`` for each flagged problem, most significant first.
    """
    n = np.asarray(n)
    c = np.asarray(c)
    est = neg_log_pass_rate(n, c, estimator=estimator)
    y, var = est.estimate, est.variance
    x = np.log(np.asarray(compute, float))[:, None]
    usable = np.isfinite(y) & (y > 0)
    if not (np.isfinite(scatter) and scatter >= 0):
        raise ValueError(f"expected a scatter variance >= 0, found {scatter}")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.exp(-y)
        w = np.where(usable, 1.0 / (var / y**2 + scatter * ((1 - p) / y) ** 2), 0.0)
        ly = np.where(usable, np.log(np.where(usable, y, 1.0)), 0.0)
        sw = w.sum(0)
        mx = (w * x).sum(0) / sw
        my = (w * ly).sum(0) / sw
        sxx = (w * (x - mx) ** 2).sum(0)
        slope = (w * (x - mx) * (ly - my)).sum(0) / sxx
        se = 1.0 / np.sqrt(sxx)
        score = (slope + np.asarray(bucket_k, float)) / se
    # A flat problem (the same -log p at every model) is not getting worse: its slope is 0
    # up to rounding (+-1e-31), which a strict ``slope > 0`` let through on one side.
    ok = (usable.sum(0) >= 3) & np.isfinite(score) & (slope > _FLAT) & (score > z)
    flagged = [{"task_id": t, "slope": float(s), "se": float(e), "z": float(q)}
               for t, s, e, q, f in zip(task_ids, slope, se, score, ok) if f]
    return sorted(flagged, key=lambda d: -d["z"])
