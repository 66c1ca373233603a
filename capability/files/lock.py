"""One writer per output file: an exclusive advisory lock held while a command resumes and
appends to it, so that a second command given the same output stops at once instead of
interleaving its lines with the first's."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from capability.errors import InputError

__all__ = ["sole_writer"]

# flock's answers where a filesystem keeps no locks (NFS without lockd, some FUSE mounts).
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL}


@contextmanager
def sole_writer(path: str | Path, command: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created empty if absent, its folder too)
    for the body; released when the body ends or the process dies. A file created here and
    still empty when the body ends (it failed before writing) is removed. Where the
    filesystem has no locks (some network filesystems), the body runs unguarded.

    Raises
    ------
    InputError
        Another process holds the lock: it is writing this file now.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"another process is writing this file now (a second `{command}` "
                             "with the same output?); wait for it to end, or choose another "
                             "output", path=path) from None
        except OSError as err:
            if err.errno not in _NO_LOCKS:
                raise
        try:
            yield
        finally:
            if created and os.fstat(fd).st_size == 0:
                path.unlink(missing_ok=True)
    finally:
        os.close(fd)  # closing the descriptor releases the lock
