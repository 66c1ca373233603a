"""Simulated ladders with known truth (pure generation; ``write_simulation`` does the I/O).

Every kind draws each problem's difficulty for the target, ``a_i = -log p_i(C_T)``, from a
log-normal (median 0.25, log-sd 1.3, clipped to [0.01, 20]): most problems easy for the
target (median pass rate 0.78) and a heavy tail of pass rates near zero, the shape of
per-problem pass rates Schaeffer et al. (2025) describe. How the pass rate moves with compute
``C`` (FLOPs) is the kind (``KINDS``):

``clean``
    ``-log p_i(C) = a_i (C / C_T)^(-k)``: the report's law holds for every problem.
``spread``
    the same with per-problem exponents ``k_i ~ k * LogNormal(0, 0.33)`` (about
    ``N(0.3, 0.1)``).
``emergence``
    a per-problem logistic in log compute, ``logit p_i(C) = logit p_i(C_T) + s_i
    log10(C / C_T)`` with slopes ``s_i ~ 2 * LogNormal(0, 0.5)`` per decade: problems that
    are near zero for the small models and rise late.
``ceilings``
    ``clean``, but 30% of the problems level off at ``q_i ~ U(0.3, 0.9)``:
    ``p_i(C) = q_i exp(-a_i (C / C_T)^(-k))``.
``saturating``
    ``clean`` with much easier problems (``a_i`` median 0.03), as instruct models on
    EvalPerf: most buckets near a pass rate of 1.
``few-samples``
    ``emergence`` with 20 samples per problem.
``inverse``
    ``clean`` with 10 problems whose pass rate falls with scale (``k_i < 0``).
``irregular``
    ``clean``, but every model (the target too) is as good as a model of
    ``C * 10^(u_m)`` FLOPs, ``u_m ~ N(0, 0.15^2)`` decades (``offset_sd``; real families'
    visible offsets are 0.2-0.5 decades rms, :mod:`capability.prediction.offsets`): a
    family whose members are not trained exactly alike (data mixes, post-training), the way
    real ladders are off their trend, all problems of one model together.
``slowing``
    ``clean`` on a family whose growth slows: model ``m`` performs as a model of
    ``C_T 10^(g(x_m))`` FLOPs, ``x_m = log10(C_m / C_T)``, with ``g`` (:func:`slowed`)
    0.82, 0.62, 0.38 and 0.18 decades of effective compute per decade at 1000x, 100x, 10x
    and 1x below the target (its loss too): every model's problems on the same bent axis,
    the bend continuing beyond the ladder, so that a law fitted to the ladder's average
    slope overshoots the target.
``interaction``
    ``clean``, but every model (the target too) finds each problem easier or harder than
    the trend says: ``logit p_im`` moves by ``e_im ~ N(0, 1)`` (``interaction_sd``),
    independently per problem and model. Real ladders scatter like this beyond the
    binomial noise (EvalPerf's Qwen2.5-Instruct counts: an sd of about 1.4 on the logit
    scale from the 7B-32B, 1.55 from all four); it needs many samples per problem to see
    and makes single problems' trends unreliable.
``family``
    what the real instruct families show, at once: ``emergence``'s per-problem logistic,
    every model (the target too) off the family's trend as in ``irregular`` (``offset_sd``
    default 0.3 decades, the offsets prior's scale; real families' visible offsets are
    0.02-0.26 decades rms for base models, 0.16-0.92 for the instruct ladders here), and
    problem-by-model effects as in ``interaction`` (``interaction_sd`` default 1.5, the
    real instruct ladders' 0.7-1.6). The target's own offset alone moves its bucket means
    by several points, which no ladder shows.

``k_spread`` and ``n_inverse`` apply on top of any kind (``n_inverse`` default: 2 for
``clean``, as the GPT-4 report notes such problems exist). Counts are binomial:
``c ~ Binomial(n, p_i(C))``. The final loss follows ``L(C) = E + A (C / C_T)^(-beta)`` with
small log-normal noise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from capability.checks import is_whole
from capability.options import SIMULATED_KINDS

__all__ = ["SimulatedLadder", "simulate_ladder", "write_simulation", "bucket_truth",
           "SimulatedEvaluation", "simulate_evaluation", "counts_ladder_text",
           "write_served_ladder", "KINDS"]

DEFAULT_RATIOS = (1000.0, 300.0, 100.0, 30.0, 10.0)
IRREGULAR_SD = 0.15   # decades of effective compute, per model, for kind "irregular"
INTERACTION_SD = 1.0  # logit scale, per problem and model, for kind "interaction"
FAMILY_OFFSET_SD, FAMILY_INTERACTION_SD = 0.3, 1.5   # both at once, for kind "family"
LOGISTIC_KINDS = ("emergence", "few-samples", "family")   # per-problem logistic laws
OFFSET_KINDS = ("irregular", "family")        # every model off its trend (offset_sd)
INTERACTION_KINDS = ("interaction", "family")  # problem-by-model effects (interaction_sd)
KINDS = SIMULATED_KINDS
SLOWING_BEND = -1.5   # decades below the target where a "slowing" family's growth has halved
SLOWING_RATE = 1.0    # per decade: how sharply it bends there


def slowed(x):
    """Effective ``log10(C / C_T)`` of a ``slowing`` family at nominal ``x = log10(C /
    C_T)``: ``g(x) - g(0)`` with ``g(x) = -log(1 + exp(-r (x - x_b))) / r`` (``r =
    SLOWING_RATE``, ``x_b = SLOWING_BEND``), whose slope ``1 / (1 + exp(r (x - x_b)))`` falls
    from 1 far below ``x_b`` through 1/2 at it towards 0 above it: equal to the target at
    the target, and 0.82, 0.62, 0.38 and 0.18 decades of effective compute per decade at
    1000x, 100x, 10x and 1x below it."""
    def g(v):
        return -np.logaddexp(0.0, -SLOWING_RATE * (np.asarray(v, float) - SLOWING_BEND)) \
            / SLOWING_RATE
    return g(x) - g(0.0)


@dataclass(frozen=True)
class SimulatedLadder:
    """A simulated ladder and its truth.

    Attributes
    ----------
    kind
        One of ``KINDS``.
    models
        ``(name, compute)`` of the ladder models, smallest first.
    target, target_compute
        The target's name and compute (FLOPs).
    a, k
        ``a_i = -log p_i(C_T)`` and, for the power-law kinds, the per-problem exponent
        (NaN for ``emergence``), indexed by task id.
    q, s
        Per-problem ceiling (1 without one) and logistic slope per decade (NaN unless
        ``emergence``).
    counts
        Long table ``model, task_id, n, c`` for ladder models and the target.
    losses
        ``{model: final loss}`` for the ladder models and the target (target: the truth).
    loss_law
        ``{"E", "A", "beta"}`` of the loss law in ``C / C_T``.
    """

    name: str
    models: tuple[tuple[str, float], ...]
    target: str
    target_compute: float
    a: pd.Series
    k: pd.Series
    counts: pd.DataFrame
    losses: dict[str, float]
    loss_law: dict[str, float]
    seed: int
    kind: str = "clean"
    q: pd.Series | None = None
    s: pd.Series | None = None
    offsets: dict[str, float] | None = None
    interactions: pd.DataFrame | None = None

    def effective_compute(self, model: str) -> float:
        """The compute (FLOPs) a model performs as: its own (bent by :func:`slowed` for
        ``slowing`` ladders), times ``10^(u_m)`` for ``irregular`` ladders (``offsets``)."""
        compute = self.target_compute if model == self.target else dict(self.models)[model]
        if self.kind == "slowing":
            compute = self.target_compute * 10.0 ** slowed(np.log10(compute / self.target_compute))
        return compute * 10.0 ** (self.offsets or {}).get(model, 0.0)

    def model_pass_rate(self, model: str) -> pd.Series:
        """``p_i`` of a ladder model or the target, at its effective compute (and with its
        problem-by-model effects on the logit scale, ``interactions``, for kind
        ``interaction``)."""
        p = self.true_pass_rate(self.effective_compute(model))
        if self.interactions is None:
            return p
        return special.expit(special.logit(p) + self.interactions.loc[model])

    def true_pass_rate(self, compute: float) -> pd.Series:
        """``p_i(C)`` for every problem at ``compute`` FLOPs."""
        ratio = compute / self.target_compute
        if self.kind in LOGISTIC_KINDS:
            z = special.logit(np.exp(-self.a)) + self.s * np.log10(ratio)
            p = special.expit(z)
        else:
            p = np.exp(-self.a * ratio ** (-self.k))
        return p * (1.0 if self.q is None else self.q)

    def true_neg_log_pass_rate(self, compute: float) -> pd.Series:
        """``-log p_i(C)`` for every problem at ``compute`` FLOPs."""
        return -np.log(self.true_pass_rate(compute))


def simulate_ladder(*, seed: int = 0, n_problems: int = 164, n_samples: int | None = None,
                    target_compute: float = 1e24, ratios=DEFAULT_RATIOS, k: float = 0.3,
                    k_spread: float | None = None, n_inverse: int | None = None,
                    kind: str = "clean", task_prefix: str = "HumanEval/",
                    offset_sd: float | None = None,
                    interaction_sd: float | None = None) -> SimulatedLadder:
    """Draw a ladder of ``kind`` (see the module docstring): ``len(ratios)`` models at
    ``target_compute / ratio`` FLOPs, ``n_samples`` samples per problem (default 200; 20
    for ``few-samples``), and the target; for ``irregular``, every model's offset from the
    trend has sd ``offset_sd`` decades (default 0.15; 0.3 for ``family``); for
    ``interaction``, every problem-by-model effect has sd ``interaction_sd`` on the logit
    scale (default 1.0; 1.5 for ``family``). Seeded through
    ``numpy.random.default_rng(seed)``.
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {', '.join(KINDS)}. Got {kind!r} instead.")
    if n_samples is None:
        n_samples = 20 if kind == "few-samples" else 200
    if k_spread is None:
        k_spread = 0.33 if kind == "spread" else 0.0
    if n_inverse is None:
        n_inverse = {"clean": 2, "inverse": 10}.get(kind, 0)
    if offset_sd is None:
        offset_sd = FAMILY_OFFSET_SD if kind == "family" else IRREGULAR_SD
    if interaction_sd is None:
        interaction_sd = FAMILY_INTERACTION_SD if kind == "family" else INTERACTION_SD
    for name, value, ok, expected in (
            ("n_problems", n_problems, n_problems >= 1, ">= 1"),
            ("n_samples", n_samples, n_samples >= 1, ">= 1"),
            ("k", k, k > 0, "> 0"), ("target_compute", target_compute, target_compute > 0, "> 0"),
            ("k_spread", k_spread, k_spread >= 0, ">= 0"),
            ("offset_sd", offset_sd, offset_sd >= 0, ">= 0"),
            ("interaction_sd", interaction_sd, interaction_sd >= 0, ">= 0")):
        if not ok:
            raise ValueError(f"expected {name} {expected}, found {value!r}")
    ratio_values = np.asarray(ratios, float).ravel()
    if ratio_values.size == 0 or not np.all(np.isfinite(ratio_values) & (ratio_values > 0)):
        raise ValueError("expected ratios: one or more finite numbers > 0 (the target's "
                         f"compute over each ladder model's), found {ratios!r}")
    if not is_whole(seed, 0):
        raise ValueError(f"expected seed a whole number >= 0, found {seed!r}")
    if not 0 <= n_inverse <= n_problems:
        raise ValueError(f"n_inverse must be in [0, n_problems]. Got {n_inverse!r} instead.")
    rng = np.random.default_rng(seed)
    task_ids = [f"{task_prefix}{i}" for i in range(n_problems)]
    median = 0.03 if kind == "saturating" else 0.25
    # Clipped to [median / 25, 20]: [0.01, 20] for the default median.
    a = np.clip(np.exp(np.log(median) + 1.3 * rng.standard_normal(n_problems)), median / 25,
                20.0)
    p_target = np.exp(-a)
    k_i = k * np.exp(k_spread * rng.standard_normal(n_problems) - k_spread**2 / 2)
    if n_inverse:
        # Problems that get worse with scale: mid-difficulty ones, mildly inverse.
        candidates = np.flatnonzero((p_target > 0.5) & (p_target < 0.95))
        pool = candidates if candidates.size >= n_inverse else np.arange(n_problems)
        inverse = rng.choice(pool, size=n_inverse, replace=False)
        k_i[inverse] = -rng.uniform(0.01, 0.04, size=n_inverse)
    q = np.ones(n_problems)
    if kind == "ceilings":
        capped = rng.random(n_problems) < 0.3
        q[capped] = rng.uniform(0.3, 0.9, size=int(capped.sum()))
    slopes = np.full(n_problems, np.nan)
    if kind in LOGISTIC_KINDS:
        slopes = 2.0 * np.exp(0.5 * rng.standard_normal(n_problems))
        k_i = np.full(n_problems, np.nan)
    ratios = sorted((float(r) for r in ratios), reverse=True)
    models = tuple((f"m{j + 1}", target_compute / r) for j, r in enumerate(ratios))
    target = "target"
    loss_law = {"E": 1.7, "A": 0.35, "beta": 0.15}
    sim = SimulatedLadder(name=f"simulated-{kind}-seed{seed}", models=models, target=target,
                          target_compute=target_compute,
                          a=pd.Series(a, index=task_ids, name="a"),
                          k=pd.Series(k_i, index=task_ids, name="k"), counts=pd.DataFrame(),
                          losses={}, loss_law=loss_law, seed=seed, kind=kind,
                          q=pd.Series(q, index=task_ids, name="q"),
                          s=pd.Series(slopes, index=task_ids, name="s"),
                          offsets={name: float(u) for name, u in zip(
                              [m[0] for m in models] + [target],
                              offset_sd * rng.standard_normal(len(models) + 1))}
                          if kind in OFFSET_KINDS else None,
                          interactions=pd.DataFrame(
                              interaction_sd * rng.standard_normal((len(models) + 1,
                                                                    n_problems)),
                              index=[m[0] for m in models] + [target], columns=task_ids)
                          if kind in INTERACTION_KINDS else None)
    rows, losses = [], {}
    for name, compute in (*models, (target, target_compute)):
        c = rng.binomial(n_samples, sim.model_pass_rate(name).to_numpy())
        rows.append(pd.DataFrame({"model": name, "task_id": task_ids, "n": n_samples, "c": c}))
        if kind == "slowing":
            compute = sim.effective_compute(name)
        loss = loss_law["E"] + loss_law["A"] * (compute / target_compute) ** (-loss_law["beta"])
        losses[name] = float(loss if name == target else loss * np.exp(0.002 * rng.normal()))
    return replace(sim, counts=pd.concat(rows, ignore_index=True), losses=losses)


def bucket_truth(sim: SimulatedLadder, buckets) -> list[dict[str, float]]:
    """Per bucket the true mean ``-log p`` and mean pass rate of the target (at its
    effective compute)."""
    y = -np.log(sim.model_pass_rate(sim.target))
    return [{"neg_log_pass_rate": float(y[list(ids)].mean()),
             "mean_pass_rate": float(np.exp(-y[list(ids)]).mean())} for ids in buckets]


_LAW_TEXT = {
    "emergence": "logit p_i(C) = logit(exp(-a_i)) + s_i * log10(C / target_compute)",
    "few-samples": "logit p_i(C) = logit(exp(-a_i)) + s_i * log10(C / target_compute)",
    "family": "logit p_im = logit(exp(-a_i)) + s_i * log10(C_m 10^(u_m) / target_compute) + "
              "e_im",
    "ceilings": "p_i(C) = q_i * exp(-a_i * (C / target_compute) ** (-k_i))",
    "slowing": "-log p_i(C) = a_i * 10 ** (-k_i * g(log10(C / target_compute))), g(x) = "
               f"h(x) - h(0), h(x) = -log(1 + exp(-{SLOWING_RATE} * (x - ({SLOWING_BEND})))) "
               f"/ {SLOWING_RATE}",
}


def _truth(sim: SimulatedLadder) -> dict:
    p_target = sim.model_pass_rate(sim.target)

    def num(series, t):
        return None if series is None or not np.isfinite(series[t]) else float(series[t])

    return {
        "seed": sim.seed,
        "kind": sim.kind,
        "target": sim.target,
        "target_compute": sim.target_compute,
        "law": _LAW_TEXT.get(sim.kind, "-log p_i(C) = a_i * (C / target_compute) ** (-k_i)"),
        "loss_law": {**sim.loss_law, "law": "L(C) = E + A * (C / target_compute) ** (-beta)"},
        "target_loss": sim.losses[sim.target],
        "effective_compute_offsets_decades": sim.offsets,
        "problems": [{"task_id": t, "a": float(sim.a[t]), "k": num(sim.k, t),
                      "q": num(sim.q, t), "s": num(sim.s, t),
                      "target_neg_log_pass_rate": float(-np.log(p_target[t])),
                      "target_pass_rate": float(p_target[t])} for t in sim.a.index],
    }


def write_served_ladder(sim: SimulatedLadder, out_dir: str | Path, url: str, *,
                        n: int = 20) -> Path:
    """Write ``ladder.toml`` whose models (target included) sample from a
    :class:`capability.simulation.simserver.SimServer` at ``url``, and ``truth.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f'name = "{sim.name}-served"', f'target = "{sim.target}"', "",
             "[sampling]", f"n = {n}", "temperature = 0.8", "seed = 1", ""]
    for name, compute in (*sim.models, (sim.target, sim.target_compute)):
        lines += ["[[models]]", f'name = "{name}"', f"compute = {compute:.6e}"]
        if name != sim.target:
            lines.append(f"loss = {sim.losses[name]:.6f}")
        lines += [f'server = {{ url = "{url}", model = "{name}" }}', ""]
    path = out / "ladder.toml"
    path.write_text("\n".join(lines))
    (out / "truth.json").write_text(json.dumps(_truth(sim), indent=1) + "\n")
    return path


def counts_ladder_text(sim: SimulatedLadder, name: str | None = None) -> str:
    """A ladder file whose models read ``counts/<model>.csv`` (losses included) and whose
    target has only its compute."""
    lines = [f'name = "{name or sim.name}"', f'target = "{sim.target}"', ""]
    for model, compute in sim.models:
        lines += ["[[models]]", f'name = "{model}"', f"compute = {compute:.6e}",
                  f"loss = {sim.losses[model]:.6f}", f'counts = "counts/{model}.csv"', ""]
    lines += ["[[models]]", f'name = "{sim.target}"', f"compute = {sim.target_compute:.6e}", ""]
    return "\n".join(lines)


def write_simulation(sim: SimulatedLadder, out_dir: str | Path) -> Path:
    """Write ``ladder.toml``, ``counts/<model>.csv`` (the target's too, for scoring later; the
    ladder file does not point at it) and ``truth.json``; return the ladder file's path."""
    out = Path(out_dir)
    (out / "counts").mkdir(parents=True, exist_ok=True)
    for name, group in sim.counts.groupby("model", sort=False):
        group[["task_id", "n", "c"]].to_csv(out / "counts" / f"{name}.csv", index=False)
    ladder_path = out / "ladder.toml"
    ladder_path.write_text(counts_ladder_text(sim))
    truth = {**_truth(sim), "target_counts": f"counts/{sim.target}.csv"}
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return ladder_path


@dataclass(frozen=True)
class SimulatedEvaluation:
    """Two models evaluated on the same problems, with known population pass@k.

    Per problem ``logit p_A = m + s z_i`` and ``logit p_B = m + shift + s z_i + e_i`` with
    ``z_i, e_i ~ N(0, 1)`` independent: the models find the same problems hard (the shared
    ``z_i``), B differs by ``shift`` on average and by ``e_i`` (sd ``noise``) per problem.
    Counts are ``Binomial(n_samples, p)``. The truth is the *population* pass@k,
    ``E[1 - (1 - p)^k]`` over problems drawn as these were (Gauss-Hermite quadrature), the
    quantity :mod:`capability.evaluation.passk`'s intervals are for.
    """

    n: np.ndarray
    c_a: np.ndarray
    c_b: np.ndarray
    mean_logit: float
    spread: float
    shift: float
    noise: float

    def true_pass_at_k(self, k: int) -> tuple[float, float]:
        """Population pass@k of A and of B."""
        x, w = np.polynomial.hermite_e.hermegauss(201)
        w = w / w.sum()

        def pop(mu, sd):
            return float(np.sum(w * -np.expm1(k * special.log_expit(-(mu + sd * x)))))

        return (pop(self.mean_logit, self.spread),
                pop(self.mean_logit + self.shift, np.hypot(self.spread, self.noise)))


def simulate_evaluation(*, seed: int = 0, n_problems: int = 164, n_samples: int = 10,
                        mean_logit: float = 0.5, spread: float = 2.0, shift: float = -0.3,
                        noise: float = 0.5) -> SimulatedEvaluation:
    """Draw a :class:`SimulatedEvaluation` (counts directly, no samples or execution)."""
    if n_problems < 2 or n_samples < 1 or spread < 0 or noise < 0:
        raise ValueError("n_problems must be >= 2, n_samples >= 1, spread and noise >= 0.")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n_problems)
    e = rng.standard_normal(n_problems)
    p_a = special.expit(mean_logit + spread * z)
    p_b = special.expit(mean_logit + shift + spread * z + noise * e)
    n = np.full(n_problems, n_samples)
    return SimulatedEvaluation(n=n, c_a=rng.binomial(n, p_a), c_b=rng.binomial(n, p_b),
                               mean_logit=mean_logit, spread=spread, shift=shift, noise=noise)
