"""Per-problem logistic on a bent compute axis, partially pooled: ``logit p_i(C) = b_i + s_i
u_gamma(log10 C)`` with ``(b_i, s_i) ~ N(mu, Sigma)`` as :mod:`capability.laws.logistic`, on
the axis

    u_gamma(x) = (10^(gamma (x - x_0)) - 1) / (gamma ln 10)     (x - x_0 at gamma = 0),

``x_0`` the largest ladder model's ``log10 C``. ``u`` grows by ``10^gamma`` times as much in
each decade as in the one before: ``gamma < 0`` is a family whose growth slows (every
problem at once, as when the family's effective compute bends), ``gamma > 0`` one whose
growth speeds up, ``gamma = 0`` the logistic law. It is the two-step law's shape without
the losses: a loss law ``L = c + a C^b`` makes ``-log L`` about ``u_b`` where the reducible
loss is small beside ``c``, so a ladder without losses can still read a bend its counts
share across problems.

``gamma`` is the mode over ``GAMMAS`` of the summed Laplace marginal likelihood of the
problems' counts (the pooled fit's empirical-Bayes prior, refitted at each ``gamma``, the
problem-by-model variance held at one value for all) times a normal prior ``N(0,
GAMMA_PRIOR_SD^2)``, which keeps ``gamma`` at 0 where the counts cannot tell (a ladder of
fewer than three computes has no curvature to read: ``gamma = 0``). The prediction is the
logistic law's on that axis (:func:`capability.laws.per_problem.fit_per_problem`);
``gamma``'s own uncertainty is left to the law error the rolling backtests calibrate.
The model average leaves the law out where the bend does not stand out of the models' own
deviation from their trend (:func:`bend_visible`,
:func:`capability.prediction.predict.bend_gate`): a model's offset moves all its
problems together, and the summed evidence would read it as a bend. The law reads the
buckets' problems; the gate reads every problem of the ladder as well, since the buckets
leave out the hardest, chosen on the same counts, and the rest can read a bend that is not
there: on ``interaction`` ladders (no bend; problem-by-model effects of sd 1 on the logit
scale) the buckets' problems read -0.3 to -0.5 per decade on 14 of seeds 0-19, where
every problem reads 0 to -0.2 on 12 of them (-0.3 and -0.4 on the other two).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from capability.laws._hierarchical import fit_hierarchical, interaction_variance, log_evidence
from capability.laws._memo import Memo, digest
from capability.laws.base import LadderData, LawFit
from capability.laws.per_problem import fit_per_problem

__all__ = ["GAMMAS", "GAMMA_PRIOR_SD", "BendProfile", "bend_axis", "bend_profile", "bend_visible",
           "fit"]

GAMMAS = np.round(np.arange(-0.6, 0.41, 0.1), 2) + 0.0   # per decade (no -0.0)
GAMMA_PRIOR_SD = 0.3
_profiles = Memo(16)   # bend_profile's memo, the 16 latest ladders


def bend_axis(log10_compute, gamma: float, x0: float) -> np.ndarray:
    """``u_gamma(x) = (10^(gamma (x - x0)) - 1) / (gamma ln 10)``, ``x - x0`` at ``gamma =
    0``; increasing in ``x`` for every ``gamma``, with slope 1 at ``x0``."""
    d = np.asarray(log10_compute, float) - x0
    if gamma == 0:
        return d
    r = gamma * np.log(10.0)
    return np.expm1(r * d) / r


def bend_visible(log10_compute, gamma: float) -> float:
    """How far the bent axis strays from a straight line over the ladder's computes, in
    decades: the largest residual of ``u_gamma`` from its least-squares line in ``log10 C``,
    over the line's slope. A ``gamma`` of -0.1 shows 0.06 decades over five models 1000x
    to 10x below a target, 0.01 over four models 16x to 2x below."""
    x = np.asarray(log10_compute, float)
    u = bend_axis(x, gamma, float(x.max()))
    slope, intercept = np.polyfit(x, u, 1)
    return float(np.max(np.abs(u - (slope * x + intercept))) / slope)


@dataclass(frozen=True)
class BendProfile:
    """The bend read from a ladder's counts: ``gamma`` (per decade) and, per candidate of
    ``gammas``, the log posterior (summed Laplace log evidence plus the prior's log
    density, up to a constant)."""

    gamma: float
    gammas: np.ndarray
    log_posterior: np.ndarray

    def to_dict(self) -> dict:
        return {"gamma": float(self.gamma), "gammas": [float(g) for g in self.gammas],
                "log_posterior": [float(v) for v in self.log_posterior - self.log_posterior.max()]}


def bend_profile(data: LadderData) -> BendProfile:
    """``gamma``'s posterior mode over ``GAMMAS`` (see the module docstring), memoised on
    the counts, the computes and the problem-by-model variance: the model average's gate
    (:func:`capability.prediction.predict.bend_gate`) and the law read the same
    ladder's."""
    x = np.log10(np.asarray(data.compute, float))
    if np.unique(x).size < 3:
        return BendProfile(0.0, np.array([0.0]), np.array([0.0]))
    n, c = data.likelihood_counts()
    omega2 = None if data.interaction is None else data.interaction.get("logit")
    if omega2 is None:
        omega2 = interaction_variance(n, c, x - x.mean(), "logit")
    key = digest(n, c, x, extra=(np.shape(n), float(omega2)))

    def compute():
        x0 = float(x.max())
        logpost = np.empty(GAMMAS.size)
        for j, gamma in enumerate(GAMMAS):
            f = fit_hierarchical(n, c, bend_axis(x, gamma, x0), link="logit",
                                 interaction=omega2, monte_carlo=False)
            logpost[j] = (float(np.sum(log_evidence(f))) -
                          0.5 * (gamma / GAMMA_PRIOR_SD) ** 2)
        return BendProfile(float(GAMMAS[int(np.argmax(logpost))]), GAMMAS.copy(), logpost)

    return _profiles.get(key, compute)


def fit(data: LadderData, target_compute: float, *, n_draws: int = 400, rng=None) -> LawFit:
    profile = bend_profile(data)
    x0 = float(np.log10(np.max(data.compute)))
    out = fit_per_problem(data, target_compute, name="bent", link="logit", n_draws=n_draws,
                          rng=rng, axis=lambda x: bend_axis(x, profile.gamma, x0))
    return replace(out, record=profile.to_dict(),
                   noise_method=f"{out.noise_method}; on the axis bent by gamma "
                                f"{profile.gamma:+.1f} per decade")
