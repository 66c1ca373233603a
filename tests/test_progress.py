"""Progress: a bar on a terminal (tested in a pseudo-terminal), one line per stage in logs."""

import os
import pty
import sys

from capability.cli import main


def _in_pty(argv, cols=100):
    """Run ``argv`` with stdout and stderr on a pseudo-terminal; return all it wrote."""
    import fcntl
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.execv(sys.executable, [sys.executable, "-m", "capability", *argv])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    out = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_run_shows_a_bar_on_a_terminal_and_a_line_in_logs(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path / "sim")]) == 0
    ladder = str(tmp_path / "sim" / "ladder.toml")
    code, out = _in_pty(["run", ladder, "--out", str(tmp_path / "tty"), "--resamples", "50"])
    assert code == 0, out[-2000:]
    assert "fitting 8 laws and their rolling backtests:" in out, out[:2000]
    # One fit at the target and three rolling steps (m4, m5 from m1-m3; m5 from m1-m4).
    assert "4/4" in out and ("fit/s" in out or "s/fit" in out)           # a tqdm bar
    assert "capability: fitting" not in out            # no log line on a terminal
    capsys.readouterr()
    assert main(["run", ladder, "--out", str(tmp_path / "log"), "--resamples", "50"]) == 0
    err = capsys.readouterr().err
    assert "capability: fitting 8 laws and their rolling backtests: 4 fits in " in err


def test_a_stage_ended_by_an_error_says_it_stopped_not_that_it_finished(capsys):
    """In logs a stage that fails says 'stopped after S s' (its error follows), not the
    'in S s' of a stage that finished."""
    import pytest

    from capability.progress import stage

    with stage("sampling m1") as advance:
        advance(3)
    assert capsys.readouterr().err.startswith("capability: sampling m1: 3 steps in ")
    with pytest.raises(KeyboardInterrupt), stage("sampling m2") as advance:
        advance()
        raise KeyboardInterrupt
    err = capsys.readouterr().err
    assert err.startswith("capability: sampling m2: stopped after ") and " in " not in err
