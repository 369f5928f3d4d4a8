"""Entry point of one sandboxed verifier worker (started by :mod:`pool`; speaks JSON lines).

The worker limits itself before it reads any input: address-space limit (RLIMIT_AS), no core dumps,
a per-task CPU-time limit (RLIMIT_CPU, raised again after each task) and a per-task soft deadline
(SIGALRM). After its imports it installs an audit hook that refuses process creation, writes to files,
sockets and ctypes, so even an expression that reaches Python evaluation cannot act on the machine.
Only tasks named in ``TASKS`` can run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any, Callable


class Deadline(BaseException):
    """The task's soft deadline passed. BaseException so library ``except Exception`` blocks let it through."""


def _alarm(signum: int, frame: Any) -> None:
    raise Deadline()


def _set_limits(memory_mb: int) -> None:
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):
            pass
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


# The longest one task may take, whatever a caller asks for: the CPU limit must mean something.
MAX_TASK_S = 3600.0


def _die_with_parent() -> None:
    """Be killed by the kernel when the pool's process dies (Linux ``PR_SET_PDEATHSIG``), even in the middle
    of a computation that never returns to Python; elsewhere, the reader loop's parent check does it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _watch_parent(parent: int, every_s: float = 0.5) -> None:
    """A daemon thread that ends the worker when its pool has died (the thread runs whenever the task's
    Python code gives up the GIL, which it does every few milliseconds)."""
    import threading

    def watch() -> None:
        while _parent_alive(parent):
            time.sleep(every_s)
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _parent_alive(parent: int) -> bool:
    """Still the child of the process that started it (an orphan is re-parented to init or a subreaper)."""
    return os.getppid() == parent


def _cpu_budget(seconds: float) -> None:
    """Allow ``seconds`` more CPU time from now (RLIMIT_CPU is cumulative over the process life)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    now = int(used.ru_utime + used.ru_stime)
    soft = now + max(1, int(seconds) + 1)
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY and soft > hard:
        soft = hard
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ValueError, OSError):
        pass


_BLOCKED_EVENTS = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "pty.spawn",
                   "subprocess.Popen", "socket.", "os.remove", "os.unlink", "os.rename", "os.rmdir", "os.mkdir",
                   "os.chmod", "os.chown", "os.truncate", "os.link", "os.symlink", "os.kill", "os.killpg",
                   "shutil.", "ctypes.", "webbrowser.", "os.putenv", "os.unsetenv", "os.chdir", "os.utime",
                   "resource.setrlimit", "sys.addaudithook", "urllib.", "ftplib.", "smtplib.", "http.",
                   "os.startfile", "os.setuid", "os.setgid")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "resource.setrlimit" and sys._getframe(1).f_code is _cpu_budget.__code__:
        return  # the worker's own per-task CPU budget
    if event.startswith(_BLOCKED_EVENTS):
        raise PermissionError(f"verifier worker: {event} is not allowed")
    if event == "open" and len(args) >= 3:
        mode, flags = args[1], args[2]
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            raise PermissionError("verifier worker: writing files is not allowed")
        if isinstance(flags, int) and flags & _WRITE_FLAGS:
            raise PermissionError("verifier worker: writing files is not allowed")


def _ping(payload: dict[str, Any]) -> dict[str, Any]:
    return {"pong": True, "pid": os.getpid(), "rlimit_as": list(resource.getrlimit(resource.RLIMIT_AS)),
            "rlimit_cpu": list(resource.getrlimit(resource.RLIMIT_CPU))}


def _math_verify_alone(payload: dict[str, Any]) -> dict[str, Any]:
    """math-verify's standard usage, ``verify(parse(gold), parse(pred))``: the benchmark's baseline."""
    import math_verify.grader as grader
    from math_verify import parse, verify

    from scireflect.tools.verifiers import mathcmp

    # The answer task puts the project's numeric comparison into math-verify's grader in this process;
    # the baseline must be math-verify's own.
    ours, original = grader.sympy_numeric_eq, mathcmp._ORIGINAL_NUMERIC_EQ
    grader.sympy_numeric_eq = original or ours
    try:
        gold = parse(str(payload.get("gold", "")))
        pred = parse(str(payload.get("pred", "")))
        return {"ok": bool(verify(gold, pred))}
    finally:
        grader.sympy_numeric_eq = ours


def _debug_tasks() -> dict[str, Callable[[dict[str, Any]], Any]]:
    """Tasks the safety tests use to crash, hang or exhaust a worker on purpose (``--debug-tasks`` only)."""

    def crash(p: dict[str, Any]) -> Any:
        os._exit(int(p.get("code", 3)))

    def sleep(p: dict[str, Any]) -> Any:
        time.sleep(float(p.get("seconds", 10)))
        return {"slept": True}

    def spin_c(p: dict[str, Any]) -> Any:
        # A computation stuck in C code: signals are not handled until it returns, so only a kill stops it.
        return {"digits": len(str(9 ** (9 ** 9)))}

    def alloc(p: dict[str, Any]) -> Any:
        return {"len": len(bytearray(int(p.get("mb", 100000)) * 1024 * 1024))}

    def segv(p: dict[str, Any]) -> Any:
        signal.raise_signal(signal.SIGSEGV)

    def parse_expr(p: dict[str, Any]) -> Any:
        # What a library that evaluates its input would do: shows the sandbox holds even then.
        from sympy.parsing.sympy_parser import parse_expr as pe

        return {"value": str(pe(str(p.get("text", ""))))}

    def spin_py(p: dict[str, Any]) -> Any:
        while True:
            pass

    return {"_crash": crash, "_sleep": sleep, "_spin_c": spin_c, "_alloc": alloc, "_segv": segv,
            "_parse_expr": parse_expr, "_spin_py": spin_py}


def _tasks(debug: bool) -> dict[str, Callable[[dict[str, Any]], Any]]:
    from scireflect.tools.verifiers import equiv, steps_check

    tasks: dict[str, Callable[[dict[str, Any]], Any]] = {
        "ping": _ping,
        "answer": equiv.compare_task,
        "steps": steps_check.check_task,
        "math_verify_alone": _math_verify_alone,
    }
    if debug:
        tasks.update(_debug_tasks())
    return tasks


def _run_one(fn: Callable[[dict[str, Any]], Any], payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    _cpu_budget(timeout)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, timeout))
    try:
        return {"status": "ok", "result": fn(payload)}
    except Deadline:
        return {"status": "timeout", "error": f"no verdict within {timeout:g} s"}
    except MemoryError:
        # The heap may be fragmented or near the limit: answer, then let the pool replace this worker.
        return {"status": "too_large", "error": "memory limit reached", "recycle": True}
    except RecursionError:
        return {"status": "too_large", "error": "expression nested too deeply"}
    except Exception as e:  # noqa: BLE001 - a task's failure is a reply, not a dead worker
        return {"status": "error", "error": f"{type(e).__name__}: {e}"[:2000],
                "trace": traceback.format_exc(limit=5)[-4000:]}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--memory-mb", type=int, default=2048)
    ap.add_argument("--debug-tasks", action="store_true")
    ap.add_argument("--die-with-parent", action="store_true", help="ask the kernel for SIGKILL when the parent dies")
    opts = ap.parse_args(argv)

    # The protocol owns the real stdout; anything a library prints goes to stderr instead.
    proto = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    inp = sys.stdin.buffer

    parent = os.getppid()
    if opts.die_with_parent:
        _die_with_parent()
    if not _parent_alive(parent) or parent == 1:
        return 1  # the pool died before this worker could arrange to die with it
    _watch_parent(parent)
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGXCPU, _alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal goes to the parent, which closes us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _set_limits(opts.memory_mb)
    tasks = _tasks(opts.debug_tasks)
    sys.setrecursionlimit(4000)
    try:
        from scireflect.tools.verifiers import equiv

        equiv.warm_up()
    except Exception:  # noqa: BLE001 - a cold cache is slower, not broken
        pass
    sys.addaudithook(_audit)

    def reply(msg: dict[str, Any]) -> None:
        proto.write(json.dumps(msg, default=str).encode() + b"\n")

    reply({"ready": True, "pid": os.getpid()})
    for raw in inp:
        try:
            req = json.loads(raw)
            fn = tasks.get(req.get("task", ""))
        except (ValueError, AttributeError):
            reply({"status": "error", "error": "malformed request"})
            continue
        if fn is None:
            reply({"id": req.get("id"), "status": "error", "error": f"unknown task {req.get('task')!r}"})
            continue
        if not _parent_alive(parent):
            return 1
        out = _run_one(fn, req.get("payload") or {}, _task_seconds(req.get("timeout")))
        out["id"] = req.get("id")
        reply(out)
    return 0


def _task_seconds(value: Any) -> float:
    """The task's deadline: positive, finite and at most :data:`MAX_TASK_S`."""
    try:
        seconds = float(value or 5.0)
    except (TypeError, ValueError):
        return 5.0
    if not 0 < seconds < float("inf"):
        return 5.0
    return min(seconds, MAX_TASK_S)


if __name__ == "__main__":
    sys.exit(main())
