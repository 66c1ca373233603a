"""The naive baselines as candidate laws (pure), per bucket and quantity:

``no_change``
    The largest ladder model's measured value: "the big model will do what the biggest
    small one does".
``linear``
    Ordinary least squares of the bucket's measured value on ``log10 C`` over the ladder,
    extrapolated to the target (mean pass rate clipped to [0, 1], ``-log`` pass rate to
    >= 0): "a straight line in the usual plot".

Draws: the counts redrawn as ``c* ~ Binomial(n, p~)`` and the baseline recomputed, with
``p~ = c / n`` but at ``c = 0`` and ``c = n``, where it is the Jeffreys posterior mean
``(c + 1/2) / (n + 1)``: a count every sample passed (or failed) redrawn at ``c / n`` never
moves, and a bucket every ladder model saturated got a zero-width interval, [1.000, 1.000]
from 10-17 samples a model, as if a dozen passes proved a pass rate of 1.

:func:`naive_baselines` is the pair as a prediction records them beside its own: on the
ladder's nominal compute, whatever the laws were fitted on, so that a score compares the
method with what anyone could have drawn on the day (``no_change`` and
``linear_log_compute``).
"""

from __future__ import annotations

import numpy as np

from capability.estimation.estimate import neg_log_pass_rate
from capability.laws.base import LadderData, LawFit, bucket_means, chunk_rows

__all__ = ["bucket_values", "no_change", "linear", "naive_baselines", "NAIVE"]

# The naive baselines by the names a prediction, a score and a backtest give them.
NAIVE = ("no_change", "linear_log_compute")


def bucket_values(n, c, buckets, estimator: str) -> tuple[np.ndarray, np.ndarray]:
    """Measured bucket mean pass rate and ``-E[log p]`` per model: ``(..., M, n_buckets)``."""
    y = neg_log_pass_rate(n, c, estimator=estimator).estimate
    return bucket_means(c / n, buckets), bucket_means(y, buckets)


def _redraw_rate(n, c) -> np.ndarray:
    """The rate the counts are redrawn at: ``c / n``, or ``(c + 1/2) / (n + 1)`` (the
    Jeffreys posterior mean) at ``c = 0`` and ``c = n``."""
    n, c = np.asarray(n, float), np.asarray(c, float)
    return np.where((c == 0) | (c == n), (c + 0.5) / (n + 1.0), c / n)


def _fit(data: LadderData, target_compute: float, n_draws: int, rng, name: str) -> LawFit:
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    x = np.log10(data.compute)
    xc = x - x.mean()

    def apply(n, c, x_new):
        """The baseline from counts ``(..., M, P)`` at ``log10`` computes ``x_new`` (shape
        ``(G,)``): mean pass rate and ``-E[log p]``, each ``(..., n_buckets, G)``."""
        mp, nl = bucket_values(n, c, data.buckets, data.estimator)   # (..., M, nb)
        out = []
        for v, top in ((mp, 1.0), (nl, np.inf)):
            if name == "no_change":
                line = np.repeat(v[..., -1, :, None], x_new.size, -1)
            else:
                slope = np.einsum("m,...mb->...b", xc / (xc**2).sum(), v)
                line = v.mean(-2)[..., None] + slope[..., None] * (x_new - x.mean())
            out.append(np.clip(line, 0.0, top))
        return out

    x_t = np.array([np.log10(target_compute)])
    mean_p, neg_log = (v[..., 0] for v in apply(data.n, data.c, x_t))
    if n_draws > 0:
        c_star = rng.binomial(data.n[None].astype(np.int64), _redraw_rate(data.n, data.c),
                              size=(n_draws, *data.n.shape))
        # A chunk of draws at a time: the estimators' temporaries are (draws, M, P) float
        # arrays, hundreds of MB at once for a thousand problems; each draw's values are
        # computed as over all draws at once.
        rows = chunk_rows(data.n.size)
        parts = [apply(np.broadcast_to(data.n, c_star[i:i + rows].shape), c_star[i:i + rows],
                       x_t) for i in range(0, n_draws, rows)]
        mp_draws, nl_draws = (np.concatenate([part[q][..., 0] for part in parts])
                              for q in (0, 1))
        method = f"{n_draws} parametric bootstrap resamples of the counts (binomial)"
    else:
        mp_draws = nl_draws = np.empty((0, len(data.buckets)))
        method = "no draws"

    def curve(compute):
        return tuple(apply(data.n, data.c, np.log10(np.atleast_1d(np.asarray(compute,
                                                                              float)))))

    return LawFit(law=name, mean_pass_rate=mean_p, neg_log_pass_rate=neg_log,
                  mean_pass_rate_draws=mp_draws, neg_log_pass_rate_draws=nl_draws,
                  noise_method=method, curve=curve)


def no_change(data: LadderData, target_compute: float, *, n_draws: int = 400,
              rng=None) -> LawFit:
    return _fit(data, target_compute, n_draws, rng, "no_change")


def linear(data: LadderData, target_compute: float, *, n_draws: int = 400,
           rng=None) -> LawFit:
    return _fit(data, target_compute, n_draws, rng, "linear")


def naive_baselines(data: LadderData, target_compute: float) -> dict[str, list[dict]]:
    """The two naive baselines' point predictions at ``target_compute``, per bucket:
    ``{"no_change" | "linear_log_compute": [{"mean_pass_rate", "neg_log_pass_rate"}, ...]}``
    (NaN where a bucket has no problems). ``data.compute`` should be the nominal compute: a
    baseline is naive, and knows nothing of models off their family's trend."""
    fits = dict(zip(NAIVE, (no_change(data, target_compute, n_draws=0),
                            linear(data, target_compute, n_draws=0))))
    return {name: [{"mean_pass_rate": float(f.mean_pass_rate[b]),
                    "neg_log_pass_rate": float(f.neg_log_pass_rate[b])}
                   for b in range(len(data.buckets))] for name, f in fits.items()}
