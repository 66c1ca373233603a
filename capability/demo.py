"""The embedded default, end to end (``capability demo``).

A simulated ladder with known truth is served by the project's local OpenAI-compatible
server; its models are sampled over HTTP, executed in the sandbox, estimated, bucketed and
fitted; the prediction is registered; then the target is sampled and the prediction scored;
then the report is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from capability.files.ladder import load_ladder
from capability.files.problems import load_problems
from capability.pipeline import (
    ExecutionOptions,
    register_run,
    run_prediction,
    sample_ladder_model,
    score_registered,
)
from capability.prediction.predict import PredictionSettings
from capability.simulation.simserver import SimServer
from capability.simulation.simulate import (
    bucket_truth,
    counts_ladder_text,
    simulate_ladder,
    write_served_ladder,
)

__all__ = ["run_demo"]


def _ladder_after_demo(sim, sim_dir: Path, run_dir: Path) -> Path:
    """Rewrite the demo's ladder file, whose server is gone when the demo ends, to read the
    counts the served models produced (``counts/<model>.csv``, from ``run_dir``'s results;
    the target's too, for ``capability score``); the served version is kept as
    ``ladder-served.toml``."""
    from capability.execution.execute import count_results

    counts_dir = sim_dir / "counts"
    counts_dir.mkdir(parents=True, exist_ok=True)
    results = {name: run_dir / "results" / f"{name}.jsonl" for name, _ in sim.models}
    results[sim.target] = run_dir / "target_results.jsonl"
    for name, path in results.items():
        if path.is_file():
            count_results(path).to_csv(counts_dir / f"{name}.csv", index=False)
    ladder = sim_dir / "ladder.toml"
    ladder.replace(sim_dir / "ladder-served.toml")
    ladder.write_text("# Written by capability demo. Its server is gone; the models read the "
                      "counts\n# they produced (counts/<model>.csv; the target's too, for "
                      "capability score).\n# ladder-served.toml is the served version.\n" +
                      counts_ladder_text(sim, f"{sim.name}-demo"))
    return ladder


def run_demo(out_dir: str | Path, *, seed: int = 0, n: int = 50, loop_rate: float = 0.0005,
             execution: ExecutionOptions | None = None,
             settings: PredictionSettings = PredictionSettings(),
             echo: Callable[[str], None] = print) -> dict:
    """Run the whole pipeline on a served simulated ladder; return the paths it wrote and
    the ids it registered. ``echo`` receives progress lines and tables."""
    from capability.reports.report import write_report
    from capability.reports.table import format_prediction, format_score

    out = Path(out_dir)
    execution = execution or ExecutionOptions()
    sim = simulate_ladder(seed=seed)
    problems = load_problems()
    with SimServer(sim, problems, loop_rate=loop_rate, seed=seed) as server:
        ladder_path = write_served_ladder(sim, out / "sim", server.url, n=n)
        echo(f"serving the simulated ladder at {server.url}; ladder file {ladder_path}")
        run_dir = out / "run"
        result, pred = run_prediction(ladder_path, run_dir, settings, execution)
        truth = bucket_truth(sim, pred.assignment.buckets)
        echo(format_prediction(result, truth))
        rid = register_run(run_dir).id
        echo(f"registered prediction {rid}")
        echo(f"sampling the target {sim.target} ...")
        target = load_ladder(ladder_path).target
        samples, _ = sample_ladder_model(target, problems, run_dir, execution)
        sid, score, _ = score_registered(str(run_dir), samples, registry=None,
                                         out_dir=run_dir, execution=execution)
        echo(format_score(score))
    ladder_path = _ladder_after_demo(sim, out / "sim", run_dir)
    echo(f"the server is gone; {ladder_path} now reads the counts its models produced")
    md, html = write_report(run_dir)
    (out / "truth-by-bucket.json").write_text(json.dumps(truth, indent=1) + "\n")
    return {"ladder": ladder_path, "run": run_dir, "prediction_id": rid, "score_id": sid,
            "report_md": md, "report_html": html}
