"""Sampling throughput: our client against a plain sequential loop of the ``openai`` client,
on the same local OpenAI-compatible server (``capability serve-sim``'s) in the same run.

The server waits ``--latency`` seconds per request, standing in for generation time, so
the comparison measures what the client does with it: ours keeps many requests in flight
(``--concurrency``) and, where the server allows, asks for several completions per request.

    python bench/sample.py [--completions 640] [--latency 0.02]

Target: ours >= 10x the sequential loop.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from capability.files.problems import load_problems
from capability.sampling import SamplingSettings
from capability.sampling.openai_server import ServerBackend
from capability.sampling.run import sample_model
from capability.simulation.simserver import Faults, SimServer
from capability.simulation.simulate import simulate_ladder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--completions", type=int, default=640)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    import openai

    problems = list(load_problems().values())
    per_problem = max(1, args.completions // len(problems))
    chosen = problems[: max(1, args.completions // per_problem)]
    total = per_problem * len(chosen)
    settings = SamplingSettings(n=per_problem, temperature=0.8, top_p=0.95, max_tokens=512)
    with SimServer(simulate_ladder(seed=0), load_problems(),
                   faults=Faults(latency=args.latency)) as server, \
            tempfile.TemporaryDirectory() as tmp:
        client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=3)
        start = time.perf_counter()
        for p in chosen:
            for _ in range(per_problem):
                client.completions.create(model="m3", prompt=p.prompt, max_tokens=512,
                                          temperature=0.8, top_p=0.95,
                                          stop=list(settings.stop)[:4])
        t_seq = time.perf_counter() - start
        results = {}
        for label, max_n in (("ours, 1 completion per request", 1),
                             ("ours, up to 16 per request", 16)):
            out = Path(tmp) / f"{max_n}.jsonl"
            backend = ServerBackend(server.url, "m3", concurrency=args.concurrency,
                                    max_n=max_n)
            start = time.perf_counter()
            drawn = sample_model(backend, chosen, settings, out, model="m3", progress=False)
            results[label] = time.perf_counter() - start
            assert drawn == total
    print(f"{total} completions, server latency {args.latency * 1e3:.0f} ms per request")
    print(f"  openai client, sequential loop       {total / t_seq:8.1f} completions/s")
    for label, t in results.items():
        print(f"  {label:<36} {total / t:8.1f} completions/s  ({t_seq / t:.1f}x)")
    print("  target: >= 10x the sequential loop")


if __name__ == "__main__":
    main()
