"""The sandbox seam over an existing distributed engine: joblib's Dask or Ray backend.

Jobs are grouped into batches; joblib sends each batch to a worker of the cluster, which
runs it in its own local sandbox (:class:`sandbox.pool.ForkServerPool`, warm
fork servers kept for the life of that worker process and closed when it exits). Verdicts
come back as batches finish. Dispatch goes in rounds of a few batches per cluster core, so
a caller that bounds its read-ahead (None items, see :class:`sandbox.Sandbox`)
is honoured.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Iterable, Iterator

from sandbox import Job, Limits, SandboxError, Verdict

__all__ = ["DistributedSandbox", "BACKENDS", "run_batch"]

BACKENDS = ("local", "dask", "ray")
_LOCAL_POOLS: dict[tuple, object] = {}
_LOCAL_LOCK = threading.Lock()   # guards _LOCAL_POOLS; each pool has one thread as caller


def _close_local_pools() -> None:
    with _LOCAL_LOCK:
        for pool in _LOCAL_POOLS.values():
            pool.close()
        _LOCAL_POOLS.clear()


def _task_threads() -> int:
    """How many tasks this process runs at once: a Dask worker's threads, else 1 (a Ray
    actor, or a plain process)."""
    dask = sys.modules.get("distributed")   # a Dask worker has imported it; no one else need
    try:
        return max(1, int(dask.get_worker().state.nthreads))
    except (ValueError, AttributeError):   # no Dask here, or not in a Dask worker's task
        return 1


def run_batch(batch: list[tuple[object, Job]], limits: Limits, isolation: str,
              workers: int | None) -> list[tuple[object, Verdict]]:
    """Run one batch on this machine, in a sandbox kept warm in this process for the
    calling thread.

    A Dask worker runs a task in each of its threads, and each thread has a pool of its own
    (a pool serves one caller at a time: two would hand jobs to the same fork server and
    read each other's verdicts), with its share of the process's ``workers`` warm workers
    (default: the machine's cores), at least one. The threads' batches so run side by
    side: where they took turns on one pool, a sample that ran to its timeout held the
    whole process's cores idle behind it (1640 samples, 1% endless loops, 2 cores: Dask
    1.46x the local run's time). A pool whose thread has ended is closed."""
    from sandbox.pool import ForkServerPool

    thread = threading.get_ident()
    key = (limits, isolation, workers, thread)
    with _LOCAL_LOCK:
        pool = _LOCAL_POOLS.get(key)
        if pool is None:
            if not _LOCAL_POOLS:
                atexit.register(_close_local_pools)
            alive = {t.ident for t in threading.enumerate()}
            for old in [k for k in _LOCAL_POOLS if k[-1] not in alive]:
                _LOCAL_POOLS.pop(old).close()
            total = int(workers or os.cpu_count() or 1)
            share = max(1, -(-total // _task_threads()))
            pool = ForkServerPool(workers=share, limits=limits, isolation=isolation)
            _LOCAL_POOLS[key] = pool
    return list(pool.run(batch))


class DistributedSandbox:
    """Run jobs on a Dask (``backend="dask"``, ``address`` = scheduler) or Ray
    (``backend="ray"``, ``address`` = cluster address, or ``"local"`` to start one here)
    cluster through joblib. ``workers`` is the number of warm workers per cluster worker
    process (default: its machine's cores)."""

    def __init__(self, *, backend: str, address: str | None, limits: Limits,
                 isolation: str, workers: int | None = None, batch_size: int = 64,
                 rounds_per_core: int = 2) -> None:
        if backend not in ("dask", "ray"):
            raise ValueError(f"`backend` must be 'dask' or 'ray'. Got {backend!r} instead.")
        self.backend = backend
        self.limits = limits
        self.isolation = isolation
        self.local_workers = workers
        self.batch_size = batch_size
        self._client = None
        self._started_ray = False
        try:
            if backend == "dask":
                from dask.distributed import Client

                if not address:
                    raise SandboxError("--backend dask needs --scheduler ADDRESS")
                self._client = Client(address)
                cores = sum(self._client.nthreads().values())
            else:
                import ray
                from ray.util.joblib import register_ray

                register_ray()
                if not ray.is_initialized():
                    ray.init(address=None if address in (None, "local") else address,
                             include_dashboard=False, log_to_driver=False)
                    self._started_ray = True
                cores = int(ray.cluster_resources().get("CPU", 1))
        except ImportError as err:
            raise SandboxError(f"--backend {backend} needs the optional extra: "
                               f"pip install 'capability[{backend}]' ({err})") from None
        except OSError as err:
            raise SandboxError(f"cannot reach the {backend} cluster at {address}: "
                               f"{err}") from None
        self.workers = max(1, cores)
        self.round_batches = max(1, cores * rounds_per_core)

    def run(self, jobs: Iterable[tuple[object, Job] | None]) -> Iterator[tuple[object, Verdict]]:
        from joblib import Parallel, delayed, parallel_config

        # Ray's joblib backend returns whole rounds; Dask's streams batches as they end.
        return_as = "generator_unordered" if self.backend == "dask" else "list"
        # One Parallel for the whole run: joblib keeps its backend's pool between calls
        # (Ray's a pool of actors, each holding its warm sandbox), where a Parallel per
        # round started new actors -- and new sandboxes -- every round.
        with parallel_config(backend=self.backend, n_jobs=-1), \
                Parallel(return_as=return_as) as parallel:
            for batches in self._rounds(jobs):
                for verdicts in parallel(
                        delayed(run_batch)(b, self.limits, self.isolation, self.local_workers)
                        for b in batches):
                    yield from verdicts

    def _rounds(self, jobs: Iterable[tuple[object, Job] | None]
                ) -> Iterator[list[list[tuple[object, Job]]]]:
        """Group ``jobs`` into rounds of up to ``round_batches`` batches of ``batch_size``;
        a None item (the caller's read-ahead is full) ends the round early."""
        todo = iter(jobs)
        exhausted = False
        while not exhausted:
            batches: list[list[tuple[object, Job]]] = []
            current: list[tuple[object, Job]] = []
            while len(batches) < self.round_batches:
                try:
                    item = next(todo)
                except StopIteration:
                    exhausted = True
                    break
                if item is None:
                    if current or batches:
                        break
                    continue  # nothing in flight: the caller's buffer cannot be full
                current.append(item)
                if len(current) == self.batch_size:
                    batches.append(current)
                    current = []
            if current:
                batches.append(current)
            if batches:
                yield batches

    def close(self) -> None:
        if self._client is not None:
            # Close the warm workers on every Dask worker, then disconnect.
            self._client.run(_close_local_pools)
            self._client.close()
            self._client = None
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False

    def __enter__(self) -> DistributedSandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
