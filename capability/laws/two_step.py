"""Two steps through the loss: compute -> final loss by the loss law ``L(C) = a C^b + c``
(:func:`capability.laws.fit.fit_loss_law`), then loss -> pass rate by a per-problem logistic in
``-log10 L``, partially pooled (:mod:`capability.laws.per_problem`), evaluated at the
predicted target loss. Only when every ladder model has a final loss.

**The target loss's uncertainty.** Where the loss law's fit has a bootstrap
(``LadderData.loss_fit``, the prediction's own, at the target) and at least
``MIN_LOSS_DOF`` (2) residual degrees of freedom (five or more models), each draw is taken
at a target loss drawn from that bootstrap, so the law's draws carry the loss law's
uncertainty as well as the per-problem laws'. Without it, on five-model ladders whose
losses bend (``slowing``, 1000 samples, the target 2x beyond the largest: ``python
bench/accuracy.py --no-real --seeds 10 --ratios 50,20,8,4,2 --samples 1000 --kinds
slowing``) 90% intervals held 0.73 of the buckets at 0.84 points wide. With one residual
degree of freedom (four models) the bootstrap's residual scale has a Cauchy-like
posterior, and carrying it took the four-model slowing ladders from 0.88 and 0.95 to 0.97
and 1.00 at two to three times the width; there the draws stay at the point loss, as in the
rolling backtests' fits (which have no bootstrap: the loss law's error at the origins is
in the law error they calibrate; carrying a bootstrap there made the law's draws too wide
to weigh by, ``slowing`` 2.43 points against 1.76)."""

from __future__ import annotations

import warnings

import numpy as np

from capability.errors import FitError
from capability.laws.base import LadderData, LawFit
from capability.laws.fit import fit_loss_law
from capability.laws.per_problem import fit_per_problem

MIN_LOSS_DOF = 2   # residual degrees of freedom of the loss law for its bootstrap to be drawn


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
    boot = np.asarray(loss.prediction.bootstrap_distribution, float)   # empty without one
    boot = boot[np.isfinite(boot) & (boot > 0)]
    if n_draws > 0 and boot.size and data.loss.size - 3 >= MIN_LOSS_DOF:
        target_loss = rng.choice(boot, size=n_draws)
    return fit_per_problem(data, target_compute, name="two_step", link="logit",
                           n_draws=n_draws, rng=rng, covariate=scale * x_loss,
                           target_covariate=-scale * np.log10(target_loss))
