"""Weighing (or choosing) the candidate laws by the ladder's own rolling backtests
(pure).

**Model average** (``law="auto"`` with rolling backtests): each law's evidence is the
marginal likelihood of its mean-pass-rate backtest errors under the backtests' error model
(:mod:`capability.prediction.law_error`) at one offsets' spread for every law, ``Z_l =
integral p(e | sigma, tau_hat) p(sigma)`` (:func:`law_error_posterior`) with ``tau_hat`` the
median of the ladder's own posterior of the spread (:func:`shared_spread`), taken on the
steps and buckets where every law has a value so that they compare like with like. The
spread belongs to the ladder's models, not to a law: integrated per law, it let a law whose
backtest errors are one shift shared by the buckets read them as a large offset and so as no
law error -- with 20 samples per problem the per-problem power law took 0.93 of the weight
on one ladder, whose errors were larger than the logistic law's (0.0074 against 0.0050 per
decade^2), and erred 15.3 points; at the shared spread 7.7 (few-samples 4.83 -> 4.46 points
over 20 seeds, `interaction` 3.65 -> 3.73, every other kind within 0.01). The weights are
``Z_l / sum_m Z_m`` (Bayesian model averaging with equal prior weights) over the laws in
*Occam's window*: those whose mean squared backtest error per decade^2 (``mse_all``) is
within ``OCCAM_WINDOW`` (1.5) times the smallest; laws under ``MIN_WEIGHT`` of the largest
weight are dropped. The evidence measures how well a law's error model fits its errors, not
how small they are: without the window, on ladders whose models are off their family's trend
(kind ``irregular``) it gave the straight line, whose errors are large at every step and so
"well modelled", all the weight. Per bucket, on the scale, the estimate is the weighted mean
``sum_l w_l t_l`` and the interval the equal-tailed interval of the mixture of the laws'
posterior predictives (:func:`capability.prediction.calibrate.averaged_interval`): it widens
where laws that the backtests cannot tell apart disagree at the target. On 8 seeds of each
simulated kind (12 for irregular) it erred less than choosing the law with the smallest
backtest error: clean 0.43 -> 0.38 points, 20 samples per problem 4.49 -> 4.07, spread 0.56
-> 0.52, inverse 0.83 -> 0.75, irregular 4.56 -> 3.33, the others within 0.02 (without the
window: irregular 7.76; with a window of 1.25 or 2: 3.57 and 4.77).

**Censored input** (``CENSORED_INPUT``). The report's law (``power``) is fitted to a
bucket's means of per-problem ``-log p`` estimates, and a cell no sample solved caps its
estimate (``H_n``, :mod:`capability.estimation.estimate`): where a bucket has such a cell
at any ladder model, its small models' means sit low and the law comes out too flat, a
bias its backtests, at shorter distances, show less than the target. The per-problem
laws read those cells on the binomial likelihood. So in such a bucket the law is left out
of the average (:func:`censored_weights`), and the bucket's ``law_reason`` says so.
Where it was the only law in Occam's window, the window is taken again without it, about
the best of the other laws; only where no other law has a value there does it stay. On
clean ladders it took 0.49-0.86 of the weight in 3 of the 20 seeds 100-119, by backtests
that happened to favour it, and erred -2.4 to -4.1 points in the hardest bucket. See the
README's accuracy section for what the rule moved.

**One held model** (four ladder models: one rolling step). Its errors cannot tell growth
that stopped from the held model sitting below its family's trend, so ``no_change``
(``ONE_MODEL_EXCLUDED``) takes no part in the average there: on four-model simulated
ladders of kind ``irregular`` (10 seeds) it took all the weight in three, whenever the held
model sat low, and the average erred 4.57 points against 2.49 without it (2.88 for the
straight line); no other kind's error moved. The same holds for the short backtest of a
three-model ladder (the third model from the first two), which weighs the laws (below):
without ``no_change`` there, irregular ladders erred 4.75 points instead of 5.53 (5.90 for
the straight line) when that backtest chose one law, the other kinds and the real ladders
alike.

**Short backtest.** With too few ladder models for a rolling backtest the fallback rule sets
each law's interval (:mod:`capability.prediction.calibrate`), and the laws are weighed by a
*short* backtest (each model predicted from the two below it) as the rolling backtests weigh
them -- the evidence of its errors, in Occam's window, ``no_change`` set aside (one held
model) -- and the average's interval is the mixture of the laws' fallback predictives: the
short backtest's errors weigh the laws but do not narrow the interval. A forced law (``--law
NAME``), or a ladder with no short backtest either, takes one law (:func:`choose_laws`;
without a short backtest the default order ``DEFAULT_ORDER`` decides). Choosing the one law
with the smallest short-backtest error, as before, read one step's noise as a ranking: on
three-model ladders (20x, 8x and 3x below the target, 10 seeds) the average errs 0.44 points
on clean ladders (0.54 choosing), 3.05 on ``interaction`` (3.14), 3.25 with 20 samples per
problem (3.31), 4.83 on irregular (4.86), 0.74 on emergence (0.74), and the real ladders
here 13.35 (14.02); with 1000 samples per problem clean 0.26 (0.21: in one seed of ten the
straight line joined the window and took 0.45 of the weight), ``interaction`` 2.85 (2.83),
irregular 4.69 (4.68), emergence 0.36 (0.36). The short backtest may widen a law's interval
(:func:`fallback_widening`): where its root mean squared short-backtest error per decade
exceeds ``FALLBACK_SIGMA``, its fallback law error is scaled up to it (both quantities by
the same factor). A short backtest is one step from two models, too little to narrow an
interval by (calibrating three-model ``irregular`` ladders by it covered 0.55), but a third
model that the first two mispredict by more than the fallback allows is evidence that the
rule is too narrow for this family. Of the real ladders here it widens Qwen2's (0.39 per
decade: its 7B far above the line of its 0.5B and 1.5B; the 90% intervals then hold all six
buckets, against five); of the simulated three-model ladders (10 seeds of clean, irregular,
emergence, interaction and 20 samples per problem) two ``irregular`` ones, whose third model
sits off its family's trend (0.34 and 0.23 per decade; elsewhere 0.02-0.14).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
from scipy import special, stats

from capability.prediction.calibrate import FALLBACK_DOF, FALLBACK_SIGMA
from capability.prediction.law_error import (
    finite_cells,
    law_error_posterior,
    no_error_probability,
    posterior_bends,
    posterior_shares,
)

__all__ = ["LawScore", "score_laws", "choose_laws", "average_weights", "censored_weights",
           "excluded_laws", "fallback_widening", "shared_spread", "with_offsets",
           "bend_readable", "DEFAULT_ORDER", "OCCAM_WINDOW", "OCCAM_LEVEL", "occam_window",
           "MIN_WEIGHT", "CENSORED_INPUT", "BASELINES"]

DEFAULT_ORDER = ("problem_power", "logistic", "power", "linear", "no_change", "ceiling",
                 "two_step", "bent")
QUANTITIES = ("mean_pass_rate", "neg_log_pass_rate")
MIN_WEIGHT = 1e-3   # laws weighted below this fraction of the largest weight are left out
OCCAM_WINDOW = 1.5  # laws with a backtest error above this multiple of the best's are left out
OCCAM_LEVEL = 0.95  # ... or, one model held, above the F quantile at this level
ONE_MODEL_EXCLUDED = ("no_change",)   # not averaged when the backtests hold one model only
BASELINES = ("no_change", "linear")   # may join Occam's window, never set it
CENSORED_INPUT = ("power",)   # not averaged in a bucket with a cell no sample solved


@dataclass(frozen=True)
class LawScore:
    """A law's record in the rolling backtests.

    Attributes
    ----------
    steps
        Backtest steps in which the law had a value.
    mse_per_decade
        Per bucket, the mean over steps of ``(e_bj^2 - v_pred,bj - v_meas,bj) / d_j^2``
        (angular scale): the squared error per decade^2 beyond the noise of the law's
        estimate and of the measurement (may be negative when the errors are all noise).
    mse_all
        Mean over steps and buckets of ``e_bj^2 / d_j^2`` (angular scale): the law's squared
        error per decade^2, noise included -- what the choice ranks by.
    mean_abs_error_pp
        Mean over steps and buckets of ``|predicted - measured|`` mean pass rate, in points.
    sigma, dof
        Per quantity the law-error scale per decade (the posterior's root mean square when
        calibrated) and its degrees of freedom (of the fallback rule; when calibrated, the
        effective number of backtest observations).
    posterior
        Per quantity ``(sigma, weights, tau, kappa)``: the joint posterior of the law
        error per decade, the offsets' spread and the bend given the backtests
        (:func:`law_error_posterior`); None without backtests.
    exact_probability
        The posterior probability that the law has no error beyond noise (``sigma = 0``)
        given its mean-pass-rate backtests (prior ``EXACT_PRIOR``); NaN without backtests.
    offset_spread
        The posterior root mean square of the models' offset spread ``tau`` (decades of
        effective compute) given the ladder and this law's mean-pass-rate backtests; NaN
        without backtests.
    bend
        The posterior root mean square of the bend ``kappa`` in the family's growth (its
        curvature: the change, per decade, of the decades of effective compute per decade)
        given the same; NaN without backtests.
    log_evidence, weight
        The log marginal likelihood of the law's mean-pass-rate backtest errors
        (:func:`law_error_posterior`, on the steps and buckets every law shares, at the
        offsets' spread shared by every law, :func:`shared_spread`) and the law's
        model-averaging weight from it (NaN and 0 outside the pool or without backtests).
    """

    law: str
    steps: int
    mse_per_decade: np.ndarray
    mse_all: float
    mean_abs_error_pp: float
    sigma: dict[str, float]
    dof: float
    calibrated: bool
    posterior: dict[str, tuple[np.ndarray, ...]] | None = None
    log_evidence: float = float("nan")
    weight: float = 0.0
    offset_spread: float = float("nan")
    exact_probability: float = float("nan")
    bend: float = float("nan")

    def to_dict(self) -> dict:
        def f(x):
            return float(x) if np.isfinite(x) else None
        return {"law": self.law, "backtest_steps": self.steps,
                "excess_mse_per_decade_angular": [f(v) for v in self.mse_per_decade],
                "mse_per_decade_angular": f(self.mse_all),
                "mean_abs_error_pp": f(self.mean_abs_error_pp),
                "law_error_per_decade": {q: f(v) for q, v in self.sigma.items()},
                "dof": float(self.dof), "calibrated_by_backtests": self.calibrated,
                "log_evidence": f(self.log_evidence), "weight": float(self.weight),
                "offset_spread_decades": f(self.offset_spread),
                "exact_probability": f(self.exact_probability),
                "bend_per_decade": f(self.bend)}


def shared_spread(taus) -> np.ndarray | None:
    """The one offsets' spread every law's evidence is taken at: the median of the ladder's
    posterior nodes (:meth:`capability.prediction.offsets.ModelOffsets.nodes`), as a
    one-node array; ``taus`` itself when it is None or empty."""
    if taus is None or not np.size(taus):
        return taus
    return np.array([float(np.median(taus))])


def _evidence_weights(steps, laws, taus=None) -> dict[str, tuple[float, float]]:
    """Per law ``(log evidence, weight)`` from the rolling backtests of the mean pass rate
    (:func:`law_error_posterior`), on the steps and buckets where every law in the pool has
    a value, so that the evidences compare like with like; weights ``exp(log Z_l) / sum_m
    exp(log Z_m)`` (equal prior weights: Bayesian model averaging). The pool is every law
    with a value in every step; laws outside it, or every law when no cell is shared, get
    none."""
    q = "mean_pass_rate"
    pool = [law for law in laws if steps and all(law in s.error for s in steps)]
    if not pool:
        return {}
    cells = [np.logical_and.reduce([finite_cells(s, law, q) for law in pool]) for s in steps]
    evidence = {}
    for law in pool:
        out = law_error_posterior(steps, law, q, FALLBACK_SIGMA[q], taus, cells)
        if out is None:
            return {}
        evidence[law] = out[1]
    z = np.array(list(evidence.values()))
    w = np.exp(z - special.logsumexp(z))
    return {law: (float(zl), float(wl)) for (law, zl), wl in zip(evidence.items(), w)}


def score_laws(steps, laws, n_buckets: int, taus=None, weigh_at=None) -> dict[str, LawScore]:
    """Every law's :class:`LawScore` from the rolling backtest steps (``taus``: nodes of the
    ladder's offset spread, :mod:`capability.prediction.offsets`; None: no offsets;
    ``weigh_at``: the nodes the laws' evidence is taken at, :func:`shared_spread`, default
    ``taus``). The bend joins the posteriors where the backtests hold more than one model
    (:func:`bend_readable`)."""
    scores = {}
    read_bend = bend_readable(steps)
    weights = _evidence_weights(steps, laws, shared_spread(taus if weigh_at is None
                                                           else weigh_at))
    for law in laws:
        used = [s for s in steps if law in s.error]
        mse = np.full(n_buckets, np.nan)
        sigma = {q: FALLBACK_SIGMA[q] for q in QUANTITIES}
        dof, mae, mse_all, posterior = float(FALLBACK_DOF), np.nan, np.nan, {}
        spread = exact = bend = np.nan
        if used:
            q = "mean_pass_rate"
            with np.errstate(invalid="ignore"):
                # (steps, buckets): squared error per decade^2 beyond noise.
                excess = np.array([(s.error[law][q] ** 2 - s.var_pred[law][q] -
                                    s.var_meas[q]) / s.distance**2 for s in used])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN buckets, steps
                mae = np.nanmean(np.abs([100 * (s.predicted[law][q] - s.actual[q])
                                         for s in used]))
                mse = np.nanmean(np.where(np.isfinite(excess), excess, np.nan), axis=0)
                raw = np.array([s.error[law][q] ** 2 / s.distance**2 for s in used])
                mse_all = float(np.nanmean(np.where(np.isfinite(raw), raw, np.nan)))
                for quantity in QUANTITIES:
                    out = law_error_posterior(used, law, quantity, FALLBACK_SIGMA[quantity],
                                              taus, bend=read_bend,
                                              # the headline's pass@1 reads rho, no more
                                              shared=read_bend and quantity == q)
                    if out is not None:
                        post, _, blocks = out
                        if quantity == q:
                            dof = float(sum(np.unique(b.bucket).size for b in blocks))
                            spread = float(np.sqrt(np.sum(post[1] * post[2] ** 2)))
                            exact = no_error_probability(post)
                            bend = float(np.sqrt(np.sum(post[1] * posterior_bends(post) ** 2)))
                        posterior[quantity] = post
                        sigma[quantity] = float(np.sqrt(np.sum(post[1] * post[0] ** 2)))
        z, weight = weights.get(law, (np.nan, 0.0))
        scores[law] = LawScore(law=law, steps=len(used), mse_per_decade=mse, mse_all=mse_all,
                               mean_abs_error_pp=float(mae), sigma=sigma, dof=dof,
                               calibrated=bool(used), posterior=posterior if used else None,
                               log_evidence=z, weight=weight, offset_spread=spread,
                               exact_probability=exact, bend=bend)
    return _occam_window(scores, exclude=excluded_laws(steps),
                         window=occam_window(steps, n_buckets))


def with_offsets(scores: dict[str, LawScore], taus) -> dict[str, LawScore]:
    """The scores with the offsets' spread joined to each law-error posterior as an
    independent factor: ``(sigma, weights, tau, kappa)`` over the product of the law
    error's cells (with their bends) and the spread's equal-weight nodes ``taus`` (the
    ladder's posterior from its counts).
    For backtests on effective compute -- every model's compute corrected by its visible
    offset as estimated -- whose errors carry only that estimate's error
    (:func:`capability.prediction.offsets.residual_spread`) and say nothing of the spread,
    while the target's own offset stays unknown; unchanged without ``taus``."""
    if taus is None or not np.size(taus):
        return scores
    taus = np.asarray(taus, float)
    out = {}
    for law, sc in scores.items():
        if not sc.posterior:
            out[law] = sc
            continue
        post = {q: (np.repeat(p[0], taus.size), np.repeat(p[1], taus.size) / taus.size,
                    np.tile(taus, p[0].size), np.repeat(posterior_bends(p), taus.size),
                    np.repeat(posterior_shares(p), taus.size))
                for q, p in sc.posterior.items()}
        out[law] = replace(sc, posterior=post,
                           offset_spread=float(np.sqrt(np.mean(taus**2))))
    return out


def _held_models(steps) -> int:
    """How many distinct models the backtest steps hold out."""
    return len({s.held for s in steps})


def bend_readable(steps) -> bool:
    """Whether the backtests can tell a bend in the family's growth from a held model's
    offset: when they hold more than one model. One held model (four ladder models) errs
    by its offset and by a bend along the same loadings, ``beta_b``, at one distance: on
    four-model ``irregular`` ladders without the offsets (6 seeds) that model's offset read
    as a bend of 0.7-1.8 decades per decade (measured when a bend's loading was the
    distance)."""
    return _held_models(steps) > 1


def excluded_laws(steps) -> tuple[str, ...]:
    """The laws the backtests cannot speak for: ``ONE_MODEL_EXCLUDED`` when they hold one
    model only (one held model cannot tell growth that stopped from that model sitting
    below its family's trend), else none."""
    return ONE_MODEL_EXCLUDED if _held_models(steps) == 1 else ()


def occam_window(steps, n_buckets: int) -> float:
    """How many times the smallest backtest error a law's may be and the law stay in the
    average (:func:`_occam_window`): ``OCCAM_WINDOW``; where the backtests hold one model
    only (four ladder models, or three predicted by a short backtest), the wider
    ``F_{n,n}^-1(OCCAM_LEVEL)`` with ``n = n_buckets`` that model's measurements.

    The window compares two mean squares of ``n`` errors each, and two laws that predict
    equally well differ by their ratio's sampling spread, an ``F(n, n)`` law where the
    errors are independent: its 0.95 quantile is 4.28 for one held model of six buckets.
    The fixed 1.5 shut out, on one held model's six errors, laws the backtests cannot tell
    from the best: on four-model clean ladders at 1000 samples (``24,12,6,3``, 20 seeds)
    the per-problem power law, the one the simulator draws from, left the average in 2
    seeds to the logistic law, whose errors at the held model were half its own by chance
    and at the target up to 2.5 points off; 90% intervals held the truth in 0.78 of the
    buckets, 0.82 with this window (the four-model shapes of the README's table moved by
    -0.01 to +0.06, slowing `40,20,8,3` erred 1.09 points for 0.95). With more held
    models the F quantile (2.69 for two held models of six buckets) was measured and not
    taken: on five-model ladders (20 seeds) it moved `slowing` from 1.37 to 1.63 points
    and `interaction` from 3.21 to 3.49 (worst bucket 14.1 -> 24.6), clean and
    saturating not at all (docs/accuracy-history.md)."""
    if _held_models(steps) != 1:
        return OCCAM_WINDOW
    return max(OCCAM_WINDOW, float(stats.f.ppf(OCCAM_LEVEL, n_buckets, n_buckets)))


def _occam_window(scores: dict[str, LawScore], exclude=(),
                  window: float = OCCAM_WINDOW) -> dict[str, LawScore]:
    """Keep in the average only the laws whose backtest error ``mse_all`` is within
    ``window`` times the smallest (:func:`occam_window`; Occam's window, Madigan & Raftery
    1994, with accuracy as the criterion), their evidence weights renormalised; when none
    of them has weight, the most accurate takes it all. Laws in ``exclude`` take no part
    (their scores are kept for the record). The evidence alone rewards a law whose error
    model fits its errors, however large: on ladders whose models are off their trend
    (kind ``irregular``) it put the weight on the straight line, whose errors are large at
    every step, and erred 7.8 points where the window errs 3.3.

    The smallest error is the smallest of the laws' other than the ``BASELINES`` (of every
    law's when only baselines have one): a baseline may join the window, and take weight
    by its evidence, but not shut the laws out of it. Where the largest ladder models
    happen to sit below their family's trend, no change predicts them best by a margin the
    window read as decisive: on five-model ``irregular`` ladders with the target 2x beyond
    the largest, it took all the weight in 2 of 20 seeds (7.8 and 8.7 points off, where the
    per-problem laws erred 2.2 and 3.6), and the method erred 3.02 points against 2.96 for
    the straight line; with this rule 2.74. No other kind moved (20 seeds each)."""
    pool = {law: sc for law, sc in scores.items()
            if np.isfinite(sc.log_evidence) and np.isfinite(sc.mse_all) and law not in exclude}
    if not pool:
        return scores
    laws = [law for law in pool if law not in BASELINES] or list(pool)
    best = min(pool[law].mse_all for law in laws)
    inside = {law for law, sc in pool.items() if sc.mse_all <= window * best}
    # Summed in the pool's order, not the set's: a set of strings iterates in an order
    # that changes with the process's hash seed, and so would the sum's last bits.
    total = sum(pool[law].weight for law in pool if law in inside)
    if total > 0:
        new = {law: pool[law].weight / total if law in inside else 0.0 for law in pool}
    else:
        top = min(inside, key=lambda law: pool[law].mse_all)
        new = {law: float(law == top) for law in pool}
    return {law: replace(sc, weight=new.get(law, 0.0)) for law, sc in scores.items()}


def average_weights(scores: dict[str, LawScore], estimates: dict[str, np.ndarray],
                    bucket: int, exclude=()) -> dict[str, float]:
    """One bucket's model-averaging weights: the laws' evidence weights
    (:attr:`LawScore.weight`) over the laws with a value in that bucket, those below
    ``MIN_WEIGHT`` of the largest dropped, then the laws in ``exclude`` (unless no other
    law is left), renormalised, largest first; empty when none of them has weight."""
    have = {law: scores[law].weight for law, v in estimates.items()
            if law in scores and np.isfinite(v[bucket]) and scores[law].weight > 0}
    top = max(have.values(), default=0.0)
    have = {law: w for law, w in have.items() if w >= MIN_WEIGHT * top}
    have = {law: w for law, w in have.items() if law not in exclude} or have
    total = sum(have.values())
    return {law: w / total for law, w in sorted(have.items(), key=lambda kv: -kv[1])} \
        if total > 0 else {}


def censored_weights(scores: dict[str, LawScore], estimates: dict[str, np.ndarray],
                     bucket: int, *, excluded=(), window: float = OCCAM_WINDOW
                     ) -> tuple[dict[str, float], bool]:
    """One censored bucket's averaging weights (``CENSORED_INPUT`` left out) and whether
    Occam's window had to be recomputed for them.

    Where the laws left in the window include one that is not censored-input, those, as
    :func:`average_weights` with ``exclude=CENSORED_INPUT`` gives them. Where the
    censored-input law was alone in the window, the window is recomputed without it (and
    without ``excluded``, the laws the backtests cannot speak for): the evidence weights
    ``exp(log Z_l)`` restored over the laws with evidence, then :func:`_occam_window` at
    ``window`` about the best of the rest -- so that the bucket is not left to the law the
    rule sets aside just because the backtests favoured it everywhere. Where no other law
    has evidence and a value there, the censored-input law's weights as before (``False``).
    """
    kept = average_weights(scores, estimates, bucket, exclude=CENSORED_INPUT)
    if not kept or set(kept) - set(CENSORED_INPUT):
        return kept, False
    z = {law: sc.log_evidence for law, sc in scores.items() if np.isfinite(sc.log_evidence)}
    if not z:
        return kept, False
    top = max(z.values())
    restored = {law: replace(sc, weight=float(np.exp(z[law] - top)) if law in z else 0.0)
                for law, sc in scores.items()}
    again = _occam_window(restored, exclude=tuple(excluded) + CENSORED_INPUT, window=window)
    rest = average_weights(again, estimates, bucket)
    return (rest, True) if rest else (kept, False)


def fallback_widening(short: LawScore | None) -> float:
    """The factor on the fallback rule's law error for a law chosen by a short backtest:
    ``max(1, sqrt(mse_all) / FALLBACK_SIGMA["mean_pass_rate"])``, the law's root mean squared
    short-backtest error per decade (angular scale) over the fallback's (module docstring);
    1 without a short backtest."""
    if short is None or not np.isfinite(short.mse_all):
        return 1.0
    return max(1.0, float(np.sqrt(short.mse_all)) / FALLBACK_SIGMA["mean_pass_rate"])


def choose_laws(scores: dict[str, LawScore], estimates: dict[str, np.ndarray],
                forced: str | None = None, short: bool = False,
                exclude=()) -> list[tuple[str | None, str]]:
    """Per bucket ``(law, reason)``: the forced law, or the best by the rolling backtests
    (laws in ``exclude`` left out of the ranking), or the first of ``DEFAULT_ORDER`` with a
    value; ``(None, reason)`` when no law has one."""
    n_buckets = len(next(iter(estimates.values())))
    out = []
    for b in range(n_buckets):
        have = [law for law, v in estimates.items() if np.isfinite(v[b])]
        if forced is not None:
            out.append((forced, "chosen by --law") if forced in have else
                       (None, f"law {forced!r} has no value for this bucket"))
            continue
        if not have:
            out.append((None, "no candidate law has a value for this bucket"))
            continue
        ranked = sorted((scores[law].mse_all, law) for law in have
                        if law in scores and np.isfinite(scores[law].mse_all) and
                        law not in exclude)
        if ranked:
            best, law = ranked[0]
            others = ", ".join(f"{name} {v:.2g}" for v, name in ranked[1:4])
            kind = "short rolling-backtest (2 models below)" if short else "rolling-backtest"
            out.append((law, f"smallest {kind} error over all buckets ({best:.2g} squared "
                        f"per decade^2 on the angular scale; next: {others})"))
        else:
            law = next((name for name in DEFAULT_ORDER if name in have), have[0])
            out.append((law, "no rolling backtest (too few ladder models): default order"))
    return out
