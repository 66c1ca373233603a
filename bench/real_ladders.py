"""Real ladders from ``../shared/data/external`` (development data the project does not ship;
every function returns an empty list when it is absent).

Compute is ``6 N D`` with the parameter count ``N`` from the model's name and the published
pre-training token count ``D`` of each family (post-training compute is not counted):

* Qwen2.5-Instruct 7/14/32/72B: 18T tokens each (Qwen2.5 technical report), EvalPerf counts
  (100 samples per task, 118 tasks);
* Gemma-3-it 1/4/12/27B: 2T, 4T, 12T, 14T tokens (Gemma 3 technical report);
* Qwen2-Instruct 0.5/1.5/7/72B: 12T, 7T, 7T, 7T tokens (Qwen2 technical report);
  eval-arena HumanEval counts (10-17 samples per problem, 164 problems).

Each backtest holds out the family's largest member and predicts it from the rest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "external"

EVAL_ARENA = {
    "gemma-3-it": [("google_gemma_3_1b_it", 1e9, 2e12), ("google_gemma_3_4b_it", 4e9, 4e12),
                   ("google_gemma_3_12b_it", 12e9, 12e12),
                   ("google_gemma_3_27b_it", 27e9, 14e12)],
    "qwen2-instruct": [("qwen2-0.5b-instruct", 0.5e9, 12e12), ("qwen2-1.5b-instruct", 1.5e9, 7e12),
                       ("qwen2-7b-instruct", 7e9, 7e12), ("qwen2-72b-instruct", 72e9, 7e12)],
}
EVALPERF_QWEN = [("Qwen--Qwen2.5-7B-Instruct_vllm_temp_1.0", 7.6e9),
                 ("Qwen--Qwen2.5-14B-Instruct_vllm_temp_1.0", 14.7e9),
                 ("Qwen--Qwen2.5-32B-Instruct_vllm_temp_1.0", 32.5e9),
                 ("Qwen--Qwen2.5-72B-Instruct_vllm_temp_1.0", 72.7e9)]


def real_ladders() -> list[dict]:
    """``[{"name", "counts" (model, task_id, n, c), "models" [(name, compute, None)]}]``,
    models smallest first (the last is the one a backtest holds out)."""
    out = []
    arena = EXTERNAL / "eval-arena-humaneval-lowk" / "counts.csv"
    if arena.exists():
        table = pd.read_csv(arena)
        for family, members in EVAL_ARENA.items():
            names = [m[0] for m in members]
            counts = table[table["model"].isin(names)][["model", "task_id", "n", "c"]]
            out.append({"name": f"eval-arena {family}", "counts": counts,
                        "models": [(m, 6 * n * d, None) for m, n, d in members]})
    perf = EXTERNAL / "evalplus-evalperf" / "evalperf_per_task.csv"
    if perf.exists():
        table = pd.read_csv(perf)
        names = [m[0] for m in EVALPERF_QWEN]
        counts = table[table["model"].isin(names)].rename(
            columns={"n_samples": "n", "n_correct": "c"})[["model", "task_id", "n", "c"]]
        out.append({"name": "evalperf qwen2.5-instruct", "counts": counts,
                    "models": [(m, 6 * n * 18e12, None) for m, n in EVALPERF_QWEN]})
    return out


OBSSCALING = EXTERNAL / "obsscaling" / "base_llm_benchmark_eval.csv"
# Metadata errors its SOURCE.md names: btlm's tokens are 1000x too many (627 for 0.627T),
# open_llama_7b_v2's size is listed as 13B; both are left out rather than patched.
OBSSCALING_BAD = ("cerebras/btlm-3b-8k-base", "openlm-research/open_llama_7b_v2")
FLOOR = 0.03   # greedy pass@1 at or below 5 of 164 problems: a family not yet on the benchmark


def real_families() -> list[dict]:
    """Aggregate HumanEval (greedy pass@1) of base-model families from the Observational
    Scaling Laws table (``../shared/data/external/obsscaling``; empty when absent):
    ``[{"name", "models", "compute" (6 N D, FLOP), "pass_rate"}]``, members with compute
    and a pass rate above ``FLOOR``, smallest first, families with at least three such."""
    if not OBSSCALING.exists():
        return []
    table = pd.read_csv(OBSSCALING)
    table = table[table["FLOPs (1E21)"].notna() & ~table["Model"].isin(OBSSCALING_BAD)
                  & (table["HumanEval"] > FLOOR)]
    out = []
    for family, group in table.groupby("Model Family"):
        group = group.sort_values("FLOPs (1E21)")
        if len(group) >= 3:
            out.append({"name": family, "models": list(group["Model"]),
                        "compute": group["FLOPs (1E21)"].to_numpy() * 1e21,
                        "pass_rate": group["HumanEval"].to_numpy()})
    return out


LEADERBOARD = EXTERNAL / "evalplus-leaderboard" / "results.json"
# Families of three or more sizes trained alike, as the EvalPlus leaderboard names them
# (greedy HumanEval+ pass@1). Left out: CodeT5+ (its larger members reuse frozen CodeGen
# decoders, not one recipe at several sizes), StarCoder-15B (StarCoderBase-15B tuned on
# Python, beside the Base 1/3/7B) and the families with two sizes.
LEADERBOARD_FAMILIES = {
    "CodeLlama": ["CodeLlama-7B", "CodeLlama-13B", "CodeLlama-34B", "CodeLlama-70B"],
    "CodeGen": ["CodeGen-2B", "CodeGen-6B", "CodeGen-16B"],
    "CodeGen2": ["CodeGen2-1B", "CodeGen2-3B", "CodeGen2-7B", "CodeGen2-16B"],
    "DeepSeek-Coder": ["DeepSeek-Coder-1.3B-base", "DeepSeek-Coder-6.7B-base",
                       "DeepSeek-Coder-33B-base"],
    "DeepSeek-Coder-it": ["DeepSeek-Coder-1.3B-instruct", "DeepSeek-Coder-6.7B-instruct",
                          "DeepSeek-Coder-33B-instruct"],
    "StarCoderBase": ["StarCoderBase-1B", "StarCoderBase-3B", "StarCoderBase-7B"],
    "StarCoder2": ["StarCoder2-3B", "StarCoder2-7B", "StarCoder2-15B"],
}
NOMINAL_TOKENS = 1e12   # the leaderboard lists sizes alone: one token count per family


def leaderboard_families() -> list[dict]:
    """Greedy HumanEval+ pass@1 of the code-model families of the EvalPlus leaderboard
    (``../shared/data/external/evalplus-leaderboard``; empty when absent), as
    :func:`real_families` gives them. The leaderboard lists each model's size, not its
    tokens, so compute is ``6 N D`` with one nominal ``D`` for every member of a family:
    a straight line in log compute and the distances between members are then those of
    log size, exact where a family's members saw the same tokens and off by the log of
    their ratio where not (StarCoder2's 3.3-4.3T, say: 0.05-0.07 decades per step)."""
    import json

    if not LEADERBOARD.exists():
        return []
    table = json.loads(LEADERBOARD.read_text())
    out = []
    for family, members in LEADERBOARD_FAMILIES.items():
        rows = [(m, float(table[m]["size"]), table[m]["pass@1"]["humaneval+"] / 100.0)
                for m in members if m in table]
        rows = [r for r in rows if r[2] > FLOOR]
        if len(rows) >= 3:
            out.append({"name": family, "models": [r[0] for r in rows],
                        "compute": np.array([6 * r[1] * 1e9 * NOMINAL_TOKENS for r in rows]),
                        "pass_rate": np.array([r[2] for r in rows])})
    return out
