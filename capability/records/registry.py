"""Register predictions before the target exists, and score them after (immutable records).

A registry is a directory of JSON records, one file per record, named by the record's id:
the sha256 of its canonical JSON content (sorted keys, no spaces, UTF-8). A record is
written once (exclusive create, then made read-only) and never modified; reading one
recomputes its hash, so a record edited after the fact is detected. Two kinds:

``prediction``
    The prediction as ``capability run`` wrote it (buckets with their task ids, held out,
    excluded, every parameter), the sha256 of the ladder file and of every input read and
    the tool's version. The UTC time of registration sits in the file beside the record,
    outside what is hashed: the same prediction always gets the same id, and registering it
    again finds the existing record instead of making a second one.
``score``
    A registered prediction compared with the target's measured counts, linked to it by id.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from capability import __version__
from capability.errors import CapabilityError, InputError

__all__ = ["RegistryError", "Registered", "sha256_file", "record_id", "record_content",
           "write_record",
           "read_record", "find_record", "read_registry", "read_registration", "registration_holds",
           "SHORT_ID"]

SHORT_ID = 12


class RegistryError(CapabilityError):
    """A record is missing, ambiguous, tampered with, or may not be registered."""

    exit_code = 2


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        for chunk in iter(lambda: fp.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _canonical(content: dict) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def record_id(content: dict) -> str:
    """The id of a record: sha256 of its canonical JSON."""
    return hashlib.sha256(_canonical(content)).hexdigest()


@dataclass(frozen=True)
class Registered:
    """What :func:`write_record` did: the record's id and content, when it was first
    registered (UTC, ISO 8601), and whether it was there already."""

    id: str
    content: dict
    created_utc: str
    existed: bool


def record_content(kind: str, body: dict) -> dict:
    """What a record of ``kind`` holds and its id hashes: ``{"kind", "tool_version",
    **body}`` (the time of registration is kept beside it, not in it)."""
    return {"kind": kind, "tool_version": __version__, **body}


def write_record(registry: str | Path, kind: str, body: dict) -> Registered:
    """Add a record of ``kind`` to the registry, or find it there.

    The content is ``{"kind", "tool_version", **body}`` and the id its hash; the time of
    registration is kept in the file beside the content, outside what is hashed, so the same
    content always has the same id: registering it again returns the existing record (and
    its first time), never a second one."""
    registry = Path(registry)
    registry.mkdir(parents=True, exist_ok=True)
    content = record_content(kind, body)
    rid = record_id(content)
    path = registry / f"{rid}.json"
    created = datetime.now(UTC).isoformat(timespec="seconds")
    data = json.dumps({"id": rid, "created_utc": created, "record": content}, indent=1,
                      sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        _, _, first = _read(path)
        return Registered(rid, content, first, existed=True)
    with os.fdopen(fd, "w", encoding="utf-8") as fp:
        fp.write(data)
        fp.flush()
        os.fsync(fp.fileno())
    return Registered(rid, content, created, existed=False)


def find_record(registry: str | Path, prefix: str) -> Path:
    """The record file whose id starts with ``prefix`` (at least 6 hex digits)."""
    registry = Path(registry)
    prefix = prefix.strip().lower()
    if len(prefix) < 6 or any(ch not in "0123456789abcdef" for ch in prefix):
        raise InputError(f"expected a record id (at least 6 hex digits), found {prefix!r}",
                         key="ID")
    if not registry.is_dir():
        raise RegistryError(f"no registry at {registry}")
    matches = sorted(registry.glob(f"{prefix}*.json"))
    if not matches:
        raise RegistryError(f"no record {prefix} in {registry}")
    if len(matches) > 1:
        raise RegistryError(f"id {prefix} is ambiguous in {registry}: "
                            f"{', '.join(m.stem[:SHORT_ID] for m in matches)}")
    return matches[0]


def _read(path: Path) -> tuple[str, dict, str]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        rid, content = doc["id"], doc["record"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RegistryError(f"{path}: not a registry record ({err})") from None
    if record_id(content) != rid or path.stem != rid:
        raise RegistryError(f"{path}: record {rid[:SHORT_ID]} was modified after it was "
                            "registered: its content no longer matches its id")
    # Records of version 0.1.0 kept the time inside the hashed content.
    return rid, content, str(doc.get("created_utc") or content.get("created_utc", ""))


def read_record(path: str | Path) -> tuple[str, dict]:
    """Read and verify one record; return ``(id, content)``.

    Raises
    ------
    RegistryError
        The file is not a record, or its content no longer hashes to its id (tampered)."""
    rid, content, _ = _read(Path(path))
    return rid, content


def read_registry(registry: str | Path) -> tuple[list[tuple[str, str, dict]], list[str]]:
    """Every record of a registry, verified: ``(id, created_utc, content)`` in the order of
    their files' names, and one message per file that is no record or was modified after
    it was registered (those are left out of the list).

    Raises
    ------
    RegistryError
        ``registry`` is no directory."""
    registry = Path(registry)
    if not registry.is_dir():
        raise RegistryError(f"no registry at {registry}")
    records, problems = [], []
    for path in sorted(registry.glob("*.json")):
        try:
            rid, content, created = _read(path)
        except RegistryError as err:
            problems.append(str(err))
            continue
        records.append((rid, created, content))
    return records, problems


def read_registration(run_dir: str | Path) -> dict | None:
    """A run directory's ``registration.json`` (``{"id", "registry", ...}``, written by
    ``capability register``), or None where there is none.

    Raises
    ------
    InputError
        The file is not such a registration."""
    path = Path(run_dir) / "registration.json"
    if not path.is_file():
        return None
    try:
        registration = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(registration.get("id"), str) and registration.get("registry")):
            raise KeyError("id and registry")
    except (ValueError, KeyError, AttributeError) as err:
        raise InputError(f"expected a registration written by 'capability register' "
                         f"({err})", path=path) from None
    return registration


def registration_holds(registration: dict, prediction: dict) -> bool | None:
    """Whether a run directory's ``registration.json`` (``registration``) registered the
    prediction its ``prediction.json`` now holds (``prediction``): the record it names,
    read from its registry and verified, holds that same prediction. False: the run was
    made again since it was registered; None: the record cannot be read to tell (the
    registry moved, or the record is missing or was modified)."""
    try:
        _, content = read_record(find_record(registration["registry"], registration["id"]))
    except (CapabilityError, KeyError, TypeError):
        return None
    return content.get("prediction") == prediction
