"""Crash safety: `capability run` killed (SIGKILL, SIGINT, SIGTERM) in the middle of sampling and in
the middle of execution, then run again, ends with exactly an uninterrupted run's samples,
results and prediction: no sample lost, none doubled, no corrupt line."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sandbox_support import PROBLEMS, needs_isolation

from capability.simulation.simserver import Faults, SimServer
from capability.simulation.simulate import simulate_ladder

# One worker runs this file: its module fixture is set up once (pytest --dist loadgroup).
pytestmark = [needs_isolation, pytest.mark.xdist_group("crash_safety")]

SIM = simulate_ladder(seed=4)
IDS = list(PROBLEMS)[:20]
MODELS = SIM.models[2:]  # three ladder models


def _ladder(tmp: Path, url: str) -> Path:
    (tmp / "p.jsonl").write_text("".join(json.dumps(PROBLEMS[t].record) + "\n" for t in IDS))
    # 10 samples per problem: 200 lines per model, long enough to be killed midway
    # (20 doubled every run's time and proved nothing more).
    text = ('problems = "p.jsonl"\ntarget = "target"\n[sampling]\nn = 10\nseed = 9\n'
            + "".join(f'[[models]]\nname = "{m}"\ncompute = {c}\n'
                      f'server = {{ url = "{url}", model = "{m}", concurrency = 4, '
                      'max_n = 1 }\n' for m, c in MODELS)
            + '[[models]]\nname = "target"\ncompute = 1e24\n')
    path = tmp / "ladder.toml"
    path.write_text(text)
    return path


def _cmd(ladder: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "capability", "run", str(ladder), "--out", str(out),
            "--hold-out", "2", "--buckets", "3", "--zero-policy", "keep", "--resamples", "50",
            "--workers", "1", "--no-dedup"]


def _state(out: Path) -> dict:
    state = {}
    for kind in ("samples", "results"):
        for path in sorted((out / kind).glob("*.jsonl")):
            lines = path.read_text().splitlines()
            rows = [json.loads(line) for line in lines]  # no corrupt line
            keys = [(r["task_id"], r["sample_index"]) for r in rows]
            assert len(keys) == len(set(keys)), f"duplicates in {path}"
            state[f"{kind}/{path.name}"] = sorted(
                (r["task_id"], r["sample_index"], r["completion"], r.get("result"))
                for r in rows)
    pred = json.loads((out / "prediction.json").read_text())
    state["buckets"] = [(b["task_ids"], b["neg_log_pass_rate"]) for b in pred["buckets"]]
    return state


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crash")
    with SimServer(SIM, PROBLEMS, faults=Faults(latency=0.01), loop_rate=0.0) as server:
        ladder = _ladder(tmp, server.url)
        reference = tmp / "reference"
        subprocess.run(_cmd(ladder, reference), check=True, capture_output=True, timeout=300)
        yield ladder, _state(reference), tmp


@pytest.mark.parametrize("phase, watch, at_least", [
    ("sampling", "samples/m4.jsonl", 60),
    ("execution", "results/m3.jsonl", 100),
])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM],
                         ids=["SIGKILL", "SIGINT", "SIGTERM"])
def test_killed_run_resumes_to_the_uninterrupted_result(served, phase, watch, at_least, sig):
    ladder, reference, tmp = served
    out = tmp / f"{phase}-{sig.name}"
    proc = subprocess.Popen(_cmd(ladder, out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _lines(out / watch) < at_least:
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and b"cancelled by user" in err
    if sig == signal.SIGTERM:
        assert proc.returncode == 143 and b"terminated (SIGTERM)" in err
    assert not (out / "prediction.json").exists()
    again = subprocess.run(_cmd(ladder, out), capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert _state(out) == reference


def test_atomic_writes_get_the_mode_open_would_give(tmp_path):
    """prediction.json and the other atomically written files are as readable as a plain
    ``open`` would make them (0o666 less the umask), not mkstemp's owner-only 0o600, and a
    file that is replaced keeps its mode."""
    from capability.files.jsonl import write_json_atomic

    old = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "a.json", {"x": 1})
        os.umask(0o077)
        write_json_atomic(tmp_path / "b.json", {"x": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o600
    os.chmod(tmp_path / "a.json", 0o640)
    write_json_atomic(tmp_path / "a.json", {"x": 2})
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 2}
    assert not list(tmp_path.glob(".*.tmp"))
