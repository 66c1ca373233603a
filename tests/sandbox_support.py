"""Shared helpers for the sandbox tests."""

import pytest

from capability.files.problems import load_problems
from sandbox import Job, probe_isolation

REPORT = probe_isolation()
needs_isolation = pytest.mark.skipif(
    not REPORT.complete,
    reason=f"full isolation unavailable here: {', '.join(REPORT.missing)} "
           "(install bubblewrap and python3-seccomp)")

PROBLEMS = load_problems()


def job(task_id: str, completion: str) -> Job:
    p = PROBLEMS[task_id]
    return Job(task_id=task_id, prompt=p.prompt, test=p.test, entry_point=p.entry_point,
               completion=completion)
