"""Distributed execution on a real Dask LocalCluster and a local Ray instance, through
joblib: results equal the single-machine run, sample for sample."""

import json

import pytest
from sandbox_support import PROBLEMS, job, needs_isolation

from capability.cli import main
from capability.execution.execute import execute_samples

# One worker runs this file: its module fixture is set up once (pytest --dist loadgroup).
pytestmark = [needs_isolation, pytest.mark.xdist_group("distributed")]


def _samples(path):
    rows = []
    for i, task_id in enumerate(list(PROBLEMS)[:40]):
        canonical = PROBLEMS[task_id].canonical_solution
        rows += [{"task_id": task_id, "completion": canonical, "k": 0},
                 {"task_id": task_id, "completion": "    return None\n", "k": 1},
                 {"task_id": task_id, "completion": canonical, "k": 2}]
        if i % 10 == 0:
            rows.append({"task_id": task_id, "completion": "    while True:\n        pass\n",
                         "k": 3})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _records(text):
    """The results, in order, with a timed-out sample's ``reason`` dropped: it says which
    of two timeouts fired first (the sandbox's own, "timed out", or the host's kill at
    timeout + 1 s), which depends on how loaded the machine is, not on the backend. Every
    other key, a timed-out sample's verdict too, must match."""
    rows = [json.loads(line) for line in text.splitlines()]
    for r in rows:
        if r["result"] == "timed out":
            assert r["reason"] in ("timed out", "killed at timeout + 1 s"), r
            del r["reason"]
    return rows


@pytest.fixture(scope="module")
def local_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    samples = _samples(tmp / "s.jsonl")
    out = tmp / "local.jsonl"
    execute_samples(samples, out, PROBLEMS, workers=2, progress=False)
    return samples, out.read_text()


def test_dask_local_cluster_equals_single_machine(local_results, tmp_path):
    distributed = pytest.importorskip("distributed")
    samples, expected = local_results
    # Two threads per worker, as `dask worker` runs (a thread per core): their tasks share
    # each process's warm pool.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster:
        out = tmp_path / "dask.jsonl"
        assert main(["execute", str(samples), "-o", str(out), "--backend", "dask",
                     "--scheduler", cluster.scheduler_address, "--workers", "1"]) == 0
        with distributed.Client(cluster) as client:
            # Every Dask worker shut its warm sandbox workers down.
            left = client.run(lambda: __import__(
                "sandbox.distributed", fromlist=["x"])._LOCAL_POOLS.__len__())
            assert set(left.values()) == {0}
    assert _records(out.read_text()) == _records(expected)


def test_ray_local_instance_equals_single_machine(local_results, tmp_path):
    pytest.importorskip("ray")
    samples, expected = local_results
    out = tmp_path / "ray.jsonl"
    assert main(["execute", str(samples), "-o", str(out), "--backend", "ray", "--address",
                 "local", "--workers", "1"]) == 0
    assert _records(out.read_text()) == _records(expected)


@pytest.mark.parametrize("backend", ["dask", "ray"])
def test_many_rounds_through_one_pool_equal_single_machine(backend, local_results, tmp_path):
    """Batches of 4 samples make 31 batches and 8 rounds of dispatch (4 batches a round on
    2 cluster cores), each round a call of the one joblib pool the run keeps open: every
    round's verdicts come back to their own samples, in order, as on one machine. (That
    the pool is not started again each round shows in speed, not here:
    ``bench/execute_distributed.py``.)"""
    pytest.importorskip("distributed" if backend == "dask" else "ray")
    from sandbox import Limits
    from sandbox.distributed import DistributedSandbox

    samples, expected = local_results
    out = tmp_path / f"{backend}.jsonl"
    cluster = None
    if backend == "dask":
        import distributed

        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                           dashboard_address=None)
    try:
        address = cluster.scheduler_address if cluster else "local"
        with DistributedSandbox(backend=backend, address=address, limits=Limits(),
                                isolation="strict", workers=1, batch_size=4) as sandbox:
            assert sandbox.round_batches == 4
            execute_samples(samples, out, PROBLEMS, sandbox=sandbox, progress=False)
    finally:
        if cluster is not None:
            cluster.close()
    assert _records(out.read_text()) == _records(expected)


def test_batches_from_threads_of_one_process_get_their_own_verdicts():
    """A Dask worker runs a task in each of its threads: each thread runs its batches in a
    warm pool of its own, side by side with the others, and each batch gets exactly its own
    samples' verdicts. A pool whose thread has ended is closed when another is opened."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from sandbox import Limits
    from sandbox.distributed import _LOCAL_POOLS, _close_local_pools, run_batch

    tasks = list(PROBLEMS)[:40]
    jobs = [(i, job(t, PROBLEMS[t].canonical_solution if i % 2 else "    return None\n"))
            for i, t in enumerate(tasks * 4)]
    batches = [jobs[i:i + 16] for i in range(0, len(jobs), 16)]
    try:
        with ThreadPoolExecutor(4) as threads:
            # Four batches at once, one per thread, then the rest.
            start = threading.Barrier(4, timeout=60)
            first = list(threads.map(lambda b: (start.wait(), run_batch(
                b, Limits(), "strict", 1))[1], batches[:4]))
            results = first + list(threads.map(
                lambda b: run_batch(b, Limits(), "strict", 1), batches[4:]))
            assert len(_LOCAL_POOLS) == 4
            assert {p.workers for p in _LOCAL_POOLS.values()} == {1}
        ended = list(_LOCAL_POOLS.values())
        run_batch(batches[0], Limits(), "strict", 1)   # this thread's: the others ended
        assert len(_LOCAL_POOLS) == 1 and all(p._pool == [] for p in ended)
    finally:
        _close_local_pools()
    for batch, verdicts in zip(batches, results):
        assert sorted(k for k, _ in verdicts) == [k for k, _ in batch]
        assert all(v.passed == bool(k % 2) for k, v in verdicts)


def test_dask_needs_a_scheduler(tmp_path, capsys):
    samples = _samples(tmp_path / "s.jsonl")
    assert main(["execute", str(samples), "-o", str(tmp_path / "r.jsonl"), "--backend",
                 "dask"]) == 2
    assert "--scheduler" in capsys.readouterr().err
