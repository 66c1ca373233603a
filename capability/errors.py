"""Typed errors and the exit codes the command maps them to (one place for both).

Library modules raise these; only ``cli.py`` turns them into a message and an exit code.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "SUCCESS",
    "ERROR",
    "USAGE_ERROR",
    "INTERRUPTED",
    "TERMINATED",
    "Terminated",
    "CapabilityError",
    "InputError",
    "FitError",
]

SUCCESS = 0
ERROR = 1
USAGE_ERROR = 2  # bad input: a file, a line or a key that is not what was expected
INTERRUPTED = 130  # Ctrl-C
TERMINATED = 143  # SIGTERM (128 + 15), as a shell reports a process it ended


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread by the command's handler: a KeyboardInterrupt,
    so that every clean-up Ctrl-C runs (worker processes stopped, files flushed for the
    rerun to resume) runs for a scheduler's or a user's ``kill`` too."""


class CapabilityError(Exception):
    """Base class of every error the library raises on purpose."""

    exit_code = ERROR


class InputError(CapabilityError, ValueError):
    """Bad input: names the file, the line or key, what was expected and what was found.

    ``str(err)`` reads ``path:line: message`` or ``path: key: message``.
    """

    exit_code = USAGE_ERROR

    def __init__(self, message: str, *, path: str | Path | None = None,
                 line: int | None = None, key: str | None = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.key = key
        self.message = message
        where = []
        if self.path is not None:
            where.append(self.path if line is None else f"{self.path}:{line}")
        if key is not None:
            where.append(key)
        super().__init__(": ".join([*where, message]))


class FitError(CapabilityError):
    """A law could not be fitted (too few usable points, degenerate data)."""
