"""Problems whose trend disagrees with their bucket's law: they get worse with scale (pure).

The GPT-4 report notes that some problems' pass rates fall as models grow; averaged into a
bucket they bend its mean away from a power law, and the bucket is then predicted too low.
Per problem ``i`` in bucket ``b``, the slope ``s_i`` of its ``log(-log p)`` estimates on
``log C`` is fitted by weighted least squares (inverse delta-method variances as weights,
models where all samples passed left out), with standard error ``se_i``. A problem is
flagged when it gets worse with scale -- ``s_i > 0``, ``-log p`` rising with compute -- and
disagrees with its bucket's slope ``-k_b`` by ``z_i = (s_i + k_b) / se_i > z`` (default 3).
Flagging changes no prediction; it says which problems to look at.
"""

from __future__ import annotations

import numpy as np

from capability.estimation.estimate import neg_log_pass_rate

__all__ = ["inverse_scaling"]


def inverse_scaling(n, c, compute, task_ids, bucket_k, *, z: float = 3.0,
                    estimator: str = "series") -> list[dict]:
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
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(usable, y**2 / var, 0.0)
        ly = np.where(usable, np.log(np.where(usable, y, 1.0)), 0.0)
        sw = w.sum(0)
        mx = (w * x).sum(0) / sw
        my = (w * ly).sum(0) / sw
        sxx = (w * (x - mx) ** 2).sum(0)
        slope = (w * (x - mx) * (ly - my)).sum(0) / sxx
        se = 1.0 / np.sqrt(sxx)
        score = (slope + np.asarray(bucket_k, float)) / se
    ok = (usable.sum(0) >= 3) & np.isfinite(score) & (slope > 0) & (score > z)
    flagged = [{"task_id": t, "slope": float(s), "se": float(e), "z": float(q)}
               for t, s, e, q, f in zip(task_ids, slope, se, score, ok) if f]
    return sorted(flagged, key=lambda d: -d["z"])
