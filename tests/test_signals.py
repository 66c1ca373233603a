"""`capability run` stopped by a signal while its fits run in worker processes: SIGTERM (a
scheduler's time limit, `kill`) stops it as Ctrl-C does, with its own exit status, and
neither SIGTERM nor SIGKILL leaves a worker process running for no one."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capability.cli import main

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                reason="reads processes from /proc (Linux)")


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            out.add(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


@pytest.fixture(scope="module")
def ladder(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("signals")
    # Eight models: the fits run long enough (15-20 s) to be stopped in the middle.
    assert main(["simulate", "--out", str(tmp / "sim"), "--seed", "2",
                 "--ratios", "3000,1000,300,100,30,10,3,2"]) == 0
    return tmp / "sim" / "ladder.toml"


@pytest.mark.parametrize("sig, into", [(signal.SIGTERM, 0.5), (signal.SIGKILL, 0.5),
                                       (signal.SIGKILL, 0.0)],
                         ids=["SIGTERM", "SIGKILL", "SIGKILL-as-workers-start"])
def test_a_stopped_run_leaves_no_worker_behind(ladder, tmp_path, sig, into):
    """``into``: seconds after the fits' workers appear. At 0 the run dies while they are
    still importing, before their initializer runs: it must still know whose they were."""
    proc = subprocess.Popen([sys.executable, "-m", "capability", "run", str(ladder),
                             "--out", str(tmp_path / "out"), "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        # The fits' worker: a child that is a Python process of joblib's loky executor.
        workers = {p for p in _children(proc.pid)
                   if b"popen_loky" in Path(f"/proc/{p}/cmdline").read_bytes()}
        if workers:
            break
        time.sleep(0.01)
    assert workers and proc.poll() is None, "the run ended before its fits' workers started"
    time.sleep(into)   # into the fits, or as the workers start
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)   # a worker holding the pipes would hang this
    if sig == signal.SIGTERM:
        assert proc.returncode == 143, err.decode()[-2000:]
        assert b"terminated (SIGTERM)" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "out" / "prediction.json").exists()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    left = [p for p in workers if _alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"worker(s) {left} still running after the run was stopped"


def test_sigterm_while_sampling_lets_the_event_loop_finish_what_it_was_doing():
    """SIGTERM during sampling cancels the sampling coroutine, after the event loop's
    callback in progress has run to its end, and then reaches the command's handler
    (Terminated). Raised inside that callback instead (Python's handler runs at the next
    bytecode), it cut it short: here the clean-up waits for the callback's work, as a
    connection's close waits for a lock a cut callback never released -- a run once hung
    so, forever, in asyncio.run's clean-up."""
    import asyncio

    from capability.cli import _raise_on_sigterm
    from capability.errors import Terminated
    from capability.sampling.run import run_terminable

    cleaned = []

    async def sampling():
        finished = asyncio.Event()

        def callback():
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(10_000))                       # bytecodes after the signal
            finished.set()

        asyncio.get_running_loop().call_soon(callback)
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.wait_for(finished.wait(), 5)
            cleaned.append(True)

    restore = _raise_on_sigterm()
    handler = signal.getsignal(signal.SIGTERM)
    try:
        start = time.monotonic()
        with pytest.raises(Terminated):
            run_terminable(sampling)
        assert cleaned == [True] and time.monotonic() - start < 5
        assert signal.getsignal(signal.SIGTERM) is handler   # the command's, restored
    finally:
        restore()
