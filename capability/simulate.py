"""A simulated ladder with known truth (pure generation; ``write_simulation`` does the I/O).

Per problem ``i`` and compute ``C`` (FLOPs), the true pass rate follows

.. math:: -\\log p_i(C) = a_i \\, (C / C_T)^{-k_i},

so ``a_i = -log p_i(C_T)`` is the problem's difficulty for the target. The ``a_i`` are
log-normal (median 0.25, log-sd 1.3, clipped to [0.01, 20]): most problems easy for the
target (median pass rate 0.78) and a heavy tail of pass rates near zero, the shape of
per-problem pass rates Schaeffer et al. (2025) describe.
``k_i = k`` for all problems (spread with ``k_spread``, a log-normal sigma), except
``n_inverse`` problems whose pass rate falls with scale (``k_i < 0``; the GPT-4 report notes
such problems exist). Counts are binomial: ``c ~ Binomial(n, p_i(C))``. The final loss follows
``L(C) = E + A (C / C_T)^(-beta)`` with small log-normal noise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["SimulatedLadder", "simulate_ladder", "write_simulation", "bucket_truth",
           "write_served_ladder"]

DEFAULT_RATIOS = (1000.0, 300.0, 100.0, 30.0, 10.0)


@dataclass(frozen=True)
class SimulatedLadder:
    """A simulated ladder and its truth.

    Attributes
    ----------
    models
        ``(name, compute)`` of the ladder models, smallest first.
    target, target_compute
        The target's name and compute (FLOPs).
    a, k
        Per-problem law parameters (``a_i = -log p_i(C_T)``), indexed by task id.
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

    def true_neg_log_pass_rate(self, compute: float) -> pd.Series:
        """``-log p_i(C)`` for every problem at ``compute`` FLOPs."""
        return self.a * (compute / self.target_compute) ** (-self.k)


def simulate_ladder(*, seed: int = 0, n_problems: int = 164, n_samples: int = 200,
                    target_compute: float = 1e24, ratios=DEFAULT_RATIOS, k: float = 0.3,
                    k_spread: float = 0.0, n_inverse: int = 2,
                    task_prefix: str = "HumanEval/") -> SimulatedLadder:
    """Draw a ladder: ``len(ratios)`` models at ``target_compute / ratio`` FLOPs, ``n_samples``
    samples per problem, and the target. Seeded through ``numpy.random.default_rng(seed)``."""
    if n_problems < 1 or n_samples < 1 or k <= 0 or k_spread < 0 or target_compute <= 0:
        raise ValueError("n_problems and n_samples must be >= 1, k and target_compute > 0, "
                         "k_spread >= 0.")
    if not 0 <= n_inverse <= n_problems:
        raise ValueError(f"n_inverse must be in [0, n_problems]. Got {n_inverse!r} instead.")
    rng = np.random.default_rng(seed)
    task_ids = [f"{task_prefix}{i}" for i in range(n_problems)]
    a = np.clip(np.exp(np.log(0.25) + 1.3 * rng.standard_normal(n_problems)), 0.01, 20.0)
    p_target = np.exp(-a)
    k_i = k * np.exp(k_spread * rng.standard_normal(n_problems) - k_spread**2 / 2)
    if n_inverse:
        # Problems that get worse with scale: mid-difficulty ones, mildly inverse.
        candidates = np.flatnonzero((p_target > 0.5) & (p_target < 0.95))
        pool = candidates if candidates.size >= n_inverse else np.arange(n_problems)
        inverse = rng.choice(pool, size=n_inverse, replace=False)
        k_i[inverse] = -rng.uniform(0.01, 0.04, size=n_inverse)
    a_s = pd.Series(a, index=task_ids, name="a")
    k_s = pd.Series(k_i, index=task_ids, name="k")
    ratios = sorted((float(r) for r in ratios), reverse=True)
    models = tuple((f"m{j + 1}", target_compute / r) for j, r in enumerate(ratios))
    target = "target"
    loss_law = {"E": 1.7, "A": 0.35, "beta": 0.15}
    rows, losses = [], {}
    for name, compute in (*models, (target, target_compute)):
        p = np.exp(-a * (compute / target_compute) ** (-k_i))
        c = rng.binomial(n_samples, p)
        rows.append(pd.DataFrame({"model": name, "task_id": task_ids, "n": n_samples, "c": c}))
        loss = loss_law["E"] + loss_law["A"] * (compute / target_compute) ** (-loss_law["beta"])
        losses[name] = float(loss if name == target else loss * np.exp(0.002 * rng.normal()))
    counts = pd.concat(rows, ignore_index=True)
    return SimulatedLadder(name=f"simulated-seed{seed}", models=models, target=target,
                           target_compute=target_compute, a=a_s, k=k_s, counts=counts,
                           losses=losses, loss_law=loss_law, seed=seed)


def bucket_truth(sim: SimulatedLadder, buckets) -> list[dict[str, float]]:
    """Per bucket the true mean ``-log p`` and mean pass rate at the target's compute."""
    y = sim.true_neg_log_pass_rate(sim.target_compute)
    return [{"neg_log_pass_rate": float(y[list(ids)].mean()),
             "mean_pass_rate": float(np.exp(-y[list(ids)]).mean())} for ids in buckets]


def _truth(sim: SimulatedLadder) -> dict:
    y_target = sim.true_neg_log_pass_rate(sim.target_compute)
    return {
        "seed": sim.seed,
        "target": sim.target,
        "target_compute": sim.target_compute,
        "law": "-log p_i(C) = a_i * (C / target_compute) ** (-k_i)",
        "loss_law": {**sim.loss_law, "law": "L(C) = E + A * (C / target_compute) ** (-beta)"},
        "target_loss": sim.losses[sim.target],
        "problems": [{"task_id": t, "a": float(sim.a[t]), "k": float(sim.k[t]),
                      "target_neg_log_pass_rate": float(y_target[t]),
                      "target_pass_rate": float(np.exp(-y_target[t]))} for t in sim.a.index],
    }


def write_served_ladder(sim: SimulatedLadder, out_dir: str | Path, url: str, *,
                        n: int = 20) -> Path:
    """Write ``ladder.toml`` whose models (target included) sample from a
    :class:`capability.simserver.SimServer` at ``url``, and ``truth.json``."""
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


def write_simulation(sim: SimulatedLadder, out_dir: str | Path) -> Path:
    """Write ``ladder.toml``, ``counts/<model>.csv`` (the target's too, for scoring later; the
    ladder file does not point at it) and ``truth.json``; return the ladder file's path."""
    out = Path(out_dir)
    (out / "counts").mkdir(parents=True, exist_ok=True)
    for name, group in sim.counts.groupby("model", sort=False):
        group[["task_id", "n", "c"]].to_csv(out / "counts" / f"{name}.csv", index=False)
    lines = [f'name = "{sim.name}"', f'target = "{sim.target}"', ""]
    for name, compute in sim.models:
        lines += ["[[models]]", f'name = "{name}"', f"compute = {compute:.6e}",
                  f"loss = {sim.losses[name]:.6f}", f'counts = "counts/{name}.csv"', ""]
    lines += ["[[models]]", f'name = "{sim.target}"', f"compute = {sim.target_compute:.6e}", ""]
    ladder_path = out / "ladder.toml"
    ladder_path.write_text("\n".join(lines))
    truth = {**_truth(sim), "target_counts": f"counts/{sim.target}.csv"}
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return ladder_path
