import signal
import textwrap
from pathlib import Path

import pytest

# Tests that interrupt a child run with SIGINT (Ctrl-C) need it at its default there. A shell
# that starts the suite in the background without job control (``bash .ci/run &``) starts it
# with SIGINT ignored, and an ignored signal stays ignored across exec: every child would
# then run to the end through its Ctrl-C. A handled one is reset to the default on exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def write(tmp_path: Path):
    """write(name, text) -> path: a file in tmp_path with dedented text (or raw bytes)."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip())
        return path

    return _write


COUNTS = "task_id,n,c\nT/0,10,5\nT/1,10,7\nT/2,10,1\n"


@pytest.fixture
def ladder_dir(write, tmp_path):
    """A valid three-model ladder with counts; returns the ladder file's path."""
    for name in ("a", "b", "c"):
        write(f"counts/{name}.csv", COUNTS)
    return write("ladder.toml", """
        name = "tiny"
        target = "big"

        [[models]]
        name = "a"
        compute = 1e20
        counts = "counts/a.csv"

        [[models]]
        name = "b"
        params = 1e9
        tokens = 2e10
        counts = "counts/b.csv"

        [[models]]
        name = "c"
        compute = 1e22
        loss = 2.5
        counts = "counts/c.csv"

        [[models]]
        name = "big"
        compute = 1e24

        [sampling]
        n = 10
        temperature = 0.8
    """)
