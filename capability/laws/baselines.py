"""The naive baselines as candidate laws (pure), per bucket and quantity:

``no_change``
    The largest ladder model's measured value: "the big model will do what the biggest
    small one does".
``linear``
    Ordinary least squares of the bucket's measured value on ``log10 C`` over the ladder,
    extrapolated to the target (mean pass rate clipped to [0, 1], ``-log`` pass rate to
    >= 0): "a straight line in the usual plot".

Draws: the counts redrawn as ``c* ~ Binomial(n, c / n)`` and the baseline recomputed.
"""

from __future__ import annotations

import numpy as np

from capability.estimate import neg_log_pass_rate
from capability.laws.base import LadderData, LawFit, bucket_means

__all__ = ["bucket_values", "no_change", "linear"]


def bucket_values(n, c, buckets, estimator: str) -> tuple[np.ndarray, np.ndarray]:
    """Measured bucket mean pass rate and ``-E[log p]`` per model: ``(..., M, n_buckets)``."""
    y = neg_log_pass_rate(n, c, estimator=estimator).estimate
    return bucket_means(c / n, buckets), bucket_means(y, buckets)


def _fit(data: LadderData, target_compute: float, n_draws: int, rng, name: str) -> LawFit:
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    x = np.log10(data.compute)
    x_t = np.log10(target_compute)

    def apply(n, c):
        mp, nl = bucket_values(n, c, data.buckets, data.estimator)   # (..., M, nb)
        if name == "no_change":
            return mp[..., -1, :], nl[..., -1, :]
        xc = x - x.mean()
        w = xc / (xc**2).sum()

        def line(v):
            slope = np.einsum("m,...mb->...b", w, v)
            return v.mean(-2) + slope * (x_t - x.mean())
        return np.clip(line(mp), 0.0, 1.0), np.maximum(line(nl), 0.0)

    mean_p, neg_log = apply(data.n, data.c)
    if n_draws > 0:
        c_star = rng.binomial(data.n[None].astype(np.int64), data.c / data.n,
                              size=(n_draws, *data.n.shape))
        mp_draws, nl_draws = apply(np.broadcast_to(data.n, c_star.shape), c_star)
        method = f"{n_draws} parametric bootstrap resamples of the counts (binomial)"
    else:
        mp_draws = nl_draws = np.empty((0, len(data.buckets)))
        method = "no draws"

    def curve(compute):
        g = np.log10(np.asarray(compute, float))
        mp, nl = bucket_values(data.n, data.c, data.buckets, data.estimator)
        if name == "no_change":
            return (np.repeat(mp[-1][:, None], g.size, 1), np.repeat(nl[-1][:, None], g.size, 1))
        out = []
        for v, hi in ((mp, 1.0), (nl, np.inf)):
            slope, icpt = np.polyfit(x, v, 1)
            out.append(np.clip(icpt[:, None] + slope[:, None] * g[None], 0.0, hi))
        return tuple(out)

    return LawFit(law=name, mean_pass_rate=mean_p, neg_log_pass_rate=neg_log,
                  mean_pass_rate_draws=mp_draws, neg_log_pass_rate_draws=nl_draws,
                  noise_method=method, curve=curve,
                  details=tuple(None for _ in data.buckets))


def no_change(data: LadderData, target_compute: float, *, n_draws: int = 400,
              rng=None) -> LawFit:
    return _fit(data, target_compute, n_draws, rng, "no_change")


def linear(data: LadderData, target_compute: float, *, n_draws: int = 400,
           rng=None) -> LawFit:
    return _fit(data, target_compute, n_draws, rng, "linear")
