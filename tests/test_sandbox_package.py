"""The sandbox is its own package: it imports nothing of capability, and runs alone."""

import json
import subprocess
import sys

import pytest
from sandbox_support import PROBLEMS, needs_isolation


def test_importing_sandbox_imports_no_capability_module():
    code = ("import sys, sandbox, sandbox.pool, sandbox.distributed, sandbox.__main__; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'capability'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@needs_isolation
def test_python_m_sandbox_agrees_with_capability_execute(tmp_path):
    ids = list(PROBLEMS)[:4]
    rows = [{"task_id": t, "completion": c, "k": i} for i, t in enumerate(ids)
            for c in (PROBLEMS[t].canonical_solution, "    return None\n")]
    rows += [{"task_id": t, "solution": PROBLEMS[t].prompt + PROBLEMS[t].canonical_solution}
             for t in ids[:2]]             # EvalPlus's format: the whole program
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    alone = tmp_path / "alone.jsonl"
    proc = subprocess.run([sys.executable, "-m", "sandbox", str(samples), "-o", str(alone),
                           "--workers", "2"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    via = tmp_path / "via.jsonl"
    proc = subprocess.run([sys.executable, "-m", "capability", "execute", str(samples), "-o",
                           str(via), "--workers", "2"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    a = [json.loads(x) for x in alone.read_text().splitlines()]
    b = [json.loads(x) for x in via.read_text().splitlines()]
    assert a == b and [r["passed"] for r in a] == [True, False] * 4 + [True] * 2


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_the_seam_refuses_a_worker_count_that_is_not_one(workers):
    """Checked before any worker starts; 0 was read as "one per core" (``workers or
    os.cpu_count()``) while -1 was refused."""
    from sandbox import open_sandbox

    with pytest.raises(ValueError, match="`workers` must be a whole number >= 1, or None"):
        open_sandbox(workers=workers)
