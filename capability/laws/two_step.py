"""Two steps through the loss: compute -> final loss by the loss law ``L(C) = a C^b + c``
(:func:`capability.laws.fit.fit_loss_law`), then loss -> pass rate by a per-problem logistic in
``-log10 L``, partially pooled (:mod:`capability.laws.per_problem`), evaluated at the
predicted target loss. The draws are the per-problem laws' at that loss: the loss law's own
bootstrap, with so few residual degrees of freedom a heavy-tailed one, is not carried into
them (measured with the loss law's point fit converged, ``slowing`` ladders erred 2.43
points with those draws and 1.76 without), and its error at the target is the law error
the rolling backtests calibrate. Only when every ladder model has a final loss."""

from __future__ import annotations

import warnings

import numpy as np

from capability.errors import FitError
from capability.laws.base import LadderData, LawFit
from capability.laws.fit import fit_loss_law
from capability.laws.per_problem import fit_per_problem


def fit(data: LadderData, target_compute: float, *, n_draws: int = 400,
        rng=None) -> LawFit | None:
    """None when the ladder has no losses or the loss law cannot be fitted."""
    if data.loss is None:
        return None
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    loss = data.loss_fit
    if loss is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                loss = fit_loss_law(data.compute, data.loss, target_compute=target_compute,
                                    n_resamples=0)
        except FitError:
            return None
    # -log10 L, rescaled to span as many units as log10 C over the ladder (a linear change
    # of the covariate: the law is the same, the pooled prior is better conditioned).
    span_c = np.ptp(np.log10(data.compute))
    x_loss = -np.log10(data.loss)
    scale = span_c / max(np.ptp(x_loss), 1e-12)
    target_loss = loss.prediction.estimate
    return fit_per_problem(data, target_compute, name="two_step", link="logit",
                           n_draws=n_draws, rng=rng, covariate=scale * x_loss,
                           target_covariate=-scale * np.log10(target_loss))
