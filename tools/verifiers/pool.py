"""Bounded worker processes for parsing and checking untrusted answers.

``sympify``/``parse_expr`` (and LaTeX parsing that builds huge numbers) must never run on model output
in the main process. Every such check runs here instead: a small pool of worker processes, each with
CPU-time and memory limits set by the worker itself, a soft per-task deadline inside the worker and a
hard wall-clock deadline enforced by the pool (it kills the worker's process group and replaces it).
The pool starts lazily, is shared and thread-safe, and is shut down at interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import json
import logging
import os
import collections
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from scireflect.tools.verifiers.childproc import ChildProcess

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MEMORY_MB = 2048
# Extra wall time the pool grants past the task's deadline before it kills the worker: the worker's own
# soft deadline should answer first, the kill is for computations stuck in C code.
KILL_GRACE_S = 1.0
STARTUP_TIMEOUT_S = 120.0
MAX_LINE = 64 * 1024 * 1024


@dataclass
class TaskResult:
    """What one pooled call came back with. ``status``: ok | timeout | too_large | crashed | error."""

    status: str
    result: Any = None
    error: str = ""
    elapsed_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class _Worker(ChildProcess):
    """One worker process speaking JSON lines over its stdin/stdout."""

    what = "worker"

    def __init__(self, args: list[str]):
        env = dict(os.environ)
        env["PYTHONHASHSEED"] = "0"
        stderr = None if os.environ.get("SCIREFLECT_VERIFIER_WORKER_STDERR") == "1" else subprocess.DEVNULL
        # Own session: a timeout kills the worker's whole process group, nothing of it survives.
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                     env=env, start_new_session=True, close_fds=True)
        self._buf = b""
        self.tasks = 0
        self.ready = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def recv(self, deadline: float) -> dict[str, Any] | None:
        """The next JSON line, or None at the deadline. Raises EOFError when the worker died."""
        return self._read_until(deadline, self._take_line, max_bytes=MAX_LINE)

    def _take_line(self) -> Any:
        if b"\n" not in self._buf:
            return None
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def close(self, timeout: float = 2.0) -> None:
        """Ask politely (EOF on stdin), then kill."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class _Waiter:
    __slots__ = ("event", "worker")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.worker: _Worker | None = None


class WorkerPool:
    """A fixed-size pool of sandboxed worker processes. Safe to call from any thread and from asyncio.

    ``call(task, payload)`` never raises for what the task does: it returns a :class:`TaskResult` whose
    status says whether the worker answered, timed out, ran out of memory, or crashed (a crashed or killed
    worker is replaced in the background and the pool keeps serving).
    """

    def __init__(self, size: int | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 memory_mb: int = DEFAULT_MEMORY_MB, max_tasks_per_worker: int = 2000,
                 debug_tasks: bool = False):
        self.size = max(1, size or min(4, os.cpu_count() or 2))
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.max_tasks_per_worker = max_tasks_per_worker
        self.debug_tasks = debug_tasks
        # Idle workers, and callers waiting for one in arrival order: a freed worker is handed to the
        # longest waiter, so a busy caller that asks again cannot starve the others (queue.Queue barges).
        self._idle: list[_Worker] = []
        self._waiters: collections.deque[_Waiter] = collections.deque()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._ids = itertools.count(1)
        self.stats = {"tasks": 0, "timeouts": 0, "crashes": 0, "replaced": 0, "recycled": 0}
        # One thread that lives as long as the pool starts every worker (see _args: --die-with-parent).
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="verifier-spawn")

    # -- lifecycle -------------------------------------------------------------------------------
    def _args(self) -> list[str]:
        args = [sys.executable, "-m", "scireflect.tools.verifiers._worker", "--memory-mb", str(self.memory_mb)]
        if self.debug_tasks:
            args.append("--debug-tasks")
        # The kernel's parent-death signal fires when the spawning *thread* ends; workers are started from
        # the pool's one long-lived spawner thread (see _spawn), so it fires only when the pool is gone.
        args.append("--die-with-parent")
        return args

    def _spawn(self) -> None:
        """Start one worker and hand it to the idle queue once it has said it is ready (in a thread)."""
        try:
            w = self._spawner.submit(_Worker, self._args()).result()
        except OSError as e:
            log.error("could not start a verifier worker: %s", e)
            return
        with self._lock:
            if self._closed:
                w.kill()
                return
            self._all.add(w)

        def wait_ready() -> None:
            try:
                msg = w.recv(time.monotonic() + STARTUP_TIMEOUT_S)
            except (EOFError, ValueError, OSError):
                msg = None
            if msg and msg.get("ready"):
                w.ready = True
                self._release(w)
            elif self._closed:  # shut down while it was starting: nothing to report
                w.kill()
            else:
                log.error("verifier worker %s failed to start", w.pid)
                self._retire(w)
                with self._lock:
                    closed = self._closed
                if not closed:
                    time.sleep(1.0)  # avoid a hot respawn loop when the interpreter itself is broken
                    self._spawn()

        threading.Thread(target=wait_ready, name="verifier-worker-start", daemon=True).start()

    def start(self) -> None:
        with self._lock:
            if self._started or self._closed:
                return
            self._started = True
        for _ in range(self.size):
            self._spawn()

    def wait_ready(self, timeout_s: float = STARTUP_TIMEOUT_S) -> bool:
        """Start the pool and block until every worker is idle and ready (benchmarks, tests)."""
        self.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                ready = len(self._idle)
            if ready >= self.size:
                return True
            time.sleep(0.05)
        return False

    def _retire(self, w: _Worker) -> None:
        with self._lock:
            self._all.discard(w)
        w.kill()

    def _replace(self, w: _Worker) -> None:
        self._retire(w)
        self.stats["replaced"] += 1
        with self._lock:
            closed = self._closed
        if not closed:
            self._spawn()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
            waiters, self._waiters = list(self._waiters), collections.deque()
        for waiter in waiters:  # wake callers still waiting for a worker; they get "pool is closed"
            waiter.event.set()
        for w in workers:
            w.close(timeout=0.5)
        self._spawner.shutdown(wait=False)

    @property
    def closed(self) -> bool:
        return self._closed

    def pids(self) -> list[int]:
        with self._lock:
            return sorted(w.pid for w in self._all)

    def _acquire(self, wait_s: float) -> _Worker | None:
        with self._lock:
            if self._idle and not self._waiters:
                return self._idle.pop()
            waiter = _Waiter()
            self._waiters.append(waiter)
        if waiter.event.wait(wait_s):
            return waiter.worker
        with self._lock:
            if waiter.worker is not None:  # handed over just as the wait ended
                return waiter.worker
            self._waiters.remove(waiter)
        return None

    def _release(self, w: _Worker) -> None:
        with self._lock:
            if self._closed:
                handoff = None
            elif self._waiters:
                handoff = self._waiters.popleft()
                handoff.worker = w
            else:
                self._idle.append(w)
                return
        if handoff is None:
            w.close(timeout=0.5)
        else:
            handoff.event.set()

    # -- calls -----------------------------------------------------------------------------------
    def call(self, task: str, payload: dict[str, Any] | None = None, *, timeout_s: float | None = None,
             wait_s: float = STARTUP_TIMEOUT_S) -> TaskResult:
        """Run ``task`` in a worker. Total: returns a TaskResult, never raises for the task's behaviour."""
        if self._closed:
            return TaskResult("error", error="verifier pool is closed")
        self.start()
        timeout = float(timeout_s if timeout_s is not None else self.timeout_s)
        w = self._acquire(wait_s)
        if w is None and self._closed:
            return TaskResult("error", error="verifier pool is closed")
        if w is None:
            return TaskResult("timeout", error=f"no verifier worker became free within {wait_s:g} s")
        t0 = time.monotonic()
        msg_id = next(self._ids)
        try:
            w.send({"id": msg_id, "task": task, "payload": payload or {}, "timeout": timeout})
            reply = w.recv(t0 + timeout + KILL_GRACE_S)
        except (EOFError, OSError, ValueError) as e:
            self.stats["crashes"] += 1
            try:  # EOF can arrive just before the process is reaped
                code = w.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                code = None
            self._replace(w)
            return self._crashed(code, e, time.monotonic() - t0)
        elapsed = time.monotonic() - t0
        self.stats["tasks"] += 1
        if reply is None:  # stuck past the soft deadline: kill the group, replace, answer "timeout"
            self.stats["timeouts"] += 1
            self._replace(w)
            return TaskResult("timeout", error=f"killed after {timeout + KILL_GRACE_S:g} s wall time",
                              elapsed_s=elapsed)
        w.tasks += 1
        if reply.get("recycle") or w.tasks >= self.max_tasks_per_worker:
            self.stats["recycled"] += 1
            self._replace(w)
        else:
            self._release(w)
        return TaskResult(reply.get("status", "error"), reply.get("result"), reply.get("error", ""), elapsed)

    def _crashed(self, code: int | None, exc: Exception, elapsed: float) -> TaskResult:
        if code is not None and code < 0:
            sig = -code
            if sig == signal.SIGXCPU:
                return TaskResult("timeout", error="worker exceeded its CPU-time limit", elapsed_s=elapsed)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            return TaskResult("crashed", error=f"worker died with signal {name}", elapsed_s=elapsed)
        return TaskResult("crashed", error=f"worker died (exit code {code}): {exc}", elapsed_s=elapsed)

    async def acall(self, task: str, payload: dict[str, Any] | None = None, **kw: Any) -> TaskResult:
        """``call`` for asyncio code: runs in the default executor so the event loop never blocks."""
        return await asyncio.to_thread(self.call, task, payload, **kw)


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool(size: int | None = None, **kw: Any) -> WorkerPool:
    """The process-wide pool, created on first use (size from ``SCIREFLECT_VERIFIER_WORKERS``)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.closed:
            env_size = os.environ.get("SCIREFLECT_VERIFIER_WORKERS")
            if size is None and env_size and env_size.isdigit():
                size = int(env_size)
            _POOL = WorkerPool(size, **kw)
        return _POOL


def shutdown_pool() -> None:
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.close()


atexit.register(shutdown_pool)
