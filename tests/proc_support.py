"""Which sandbox worker processes are this test process's (for leak checks that must hold
while other pytest-xdist workers run sandboxes of their own)."""

import os
import subprocess


def leaked_forkservers() -> list[str]:
    """Fork servers still alive that belong to this process: under it, or orphaned (their
    nearest ancestor that is not bubblewrap or a fork server is init). Another test
    process's live fork servers hang under that process and are not counted."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True,
                         text=True).stdout
    procs = {}
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3:
            procs[int(parts[0])] = (int(parts[1]), parts[2])
    me, found = os.getpid(), []
    for pid, (_, args) in procs.items():
        if "forkserver.py" not in args:
            continue
        parent = procs[pid][0]
        while parent in procs and ("bwrap" in procs[parent][1] or
                                   "forkserver.py" in procs[parent][1]):
            parent = procs[parent][0]
        if parent in (me, 1) or parent not in procs:
            found.append(args)
    return found
