"""Backends that run Lean 4 code: the leanprover-community REPL (JSON over stdin/stdout, pooled processes),
a Kimina Lean Server (HTTP), and LeanDojo (optional extra).

Each backend's ``run(code, header, timeout_s)`` returns a :class:`LeanResult`: the REPL's response
(``messages``, ``sorries``) or why there is none (``timeout``, ``unavailable``, ``error``). REPL processes
are pooled per import header (the header is elaborated once, later commands reuse its environment) and
recycled after a timeout, too much memory, or ``max_uses`` commands.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from scireflect.tools.verifiers.childproc import ChildProcess

log = logging.getLogger(__name__)


@dataclass
class LeanResult:
    status: str  # ok | timeout | unavailable | error
    response: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    elapsed_s: float = 0.0


class LeanUnavailable(Exception):
    """No Lean toolchain / server to run the code."""


# -- the REPL process ----------------------------------------------------------------------------
class ReplProcess(ChildProcess):
    """One REPL process in its own process group, speaking the documented JSON protocol:
    commands are JSON objects separated by blank lines; each response is a JSON object ended by a blank line."""

    what = "REPL"

    def __init__(self, cmd: list[str], cwd: str | None, header: str, startup_timeout_s: float):
        exe = shutil.which(cmd[0]) if not os.path.isabs(cmd[0]) else cmd[0]
        if exe is None or not os.path.exists(exe):
            raise LeanUnavailable(f"{cmd[0]!r} not found on PATH (install a Lean toolchain and the REPL)")
        try:
            self.proc = subprocess.Popen([exe, *cmd[1:]], cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            raise LeanUnavailable(f"could not start the Lean REPL: {e}") from e
        self.header = header
        self.uses = 0
        self.env: int | None = None
        self._buf = b""
        if header.strip():
            resp = self.command({"cmd": header}, startup_timeout_s)
            if resp is None:
                self.kill()
                raise TimeoutError(f"import header did not finish within {startup_timeout_s:g} s")
            if "env" not in resp or _errors(resp):
                self.kill()
                raise LeanUnavailable(f"import header failed: {_first_error(resp)}")
            self.env = int(resp["env"])

    def command(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any] | None:
        """Send one command and read its response; None at the deadline. Raises EOFError if the REPL died."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message, ensure_ascii=False).encode() + b"\n\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise EOFError(f"REPL input closed: {e}") from e
        return self._read_until(time.monotonic() + timeout_s, self._try_parse)

    def _try_parse(self) -> dict[str, Any] | None:
        # A response ends at a blank line; the JSON may itself span several lines.
        start = 0
        while True:
            idx = self._buf.find(b"\n\n", start)
            if idx < 0:
                return None
            text = self._buf[:idx].strip()
            if not text:
                self._buf = self._buf[idx + 2:]
                start = 0
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                start = idx + 2
                continue
            self._buf = self._buf[idx + 2:]
            return obj if isinstance(obj, dict) else {"message": str(obj)}

    def rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0


def _errors(resp: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in resp.get("messages") or [] if m.get("severity") == "error"]


def _first_error(resp: dict[str, Any]) -> str:
    errs = _errors(resp)
    if errs:
        return str(errs[0].get("data", ""))[:300]
    return str(resp.get("message", resp))[:300]


class ReplBackend:
    """Pooled REPL processes, per import header. Thread-safe; processes end at interpreter exit."""

    name = "repl"

    def __init__(self, cmd: list[str] | None = None, project_dir: str | None = None, max_repls: int = 2,
                 max_uses: int = 200, max_mem_mb: float = 8192, startup_timeout_s: float = 600.0):
        self.cmd = cmd or ["lake", "env", "repl"]
        self.project_dir = project_dir
        self.max_repls = max(1, max_repls)
        self.max_uses = max_uses
        self.max_mem_mb = max_mem_mb
        self.startup_timeout_s = startup_timeout_s
        self._idle: dict[str, list[ReplProcess]] = {}
        self._count: dict[str, int] = {}
        self._cond = threading.Condition()
        self._closed = False
        self.stats = {"started": 0, "recycled": 0, "timeouts": 0, "crashes": 0, "commands": 0}
        _BACKENDS.append(self)

    def _checkout(self, header: str, wait_s: float) -> ReplProcess | None:
        deadline = time.monotonic() + wait_s
        with self._cond:
            while True:
                idle = self._idle.setdefault(header, [])
                while idle:
                    p = idle.pop()
                    if p.alive():
                        return p
                    self._count[header] -= 1
                if self._count.get(header, 0) < self.max_repls:
                    self._count[header] = self._count.get(header, 0) + 1
                    break
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    return None
        try:  # start outside the lock: importing Mathlib takes a while
            p = ReplProcess(self.cmd, self.project_dir, header, self.startup_timeout_s)
            self.stats["started"] += 1
            return p
        except BaseException:
            self._release_slot(header)
            raise

    def _release_slot(self, header: str) -> None:
        with self._cond:
            self._count[header] = max(0, self._count.get(header, 1) - 1)
            self._cond.notify()

    def _checkin(self, p: ReplProcess, recycle: bool) -> None:
        if recycle or self._closed or p.uses >= self.max_uses or not p.alive() or (
                self.max_mem_mb and p.rss_mb() > self.max_mem_mb):
            self.stats["recycled"] += 1
            p.kill()
            self._release_slot(p.header)
            return
        with self._cond:
            self._idle.setdefault(p.header, []).append(p)
            self._cond.notify()

    def run(self, code: str, header: str, timeout_s: float) -> LeanResult:
        t0 = time.monotonic()
        try:
            p = self._checkout(header, wait_s=max(timeout_s, 1.0) * 4)
        except LeanUnavailable as e:
            return LeanResult("unavailable", error=str(e))
        except TimeoutError as e:
            return LeanResult("timeout", error=str(e), elapsed_s=time.monotonic() - t0)
        if p is None:
            return LeanResult("timeout", error="no Lean REPL became free", elapsed_s=time.monotonic() - t0)
        msg: dict[str, Any] = {"cmd": code}
        if p.env is not None:
            msg["env"] = p.env
        p.uses += 1
        self.stats["commands"] += 1
        try:
            resp = p.command(msg, timeout_s)
        except EOFError as e:
            self.stats["crashes"] += 1
            self._checkin(p, recycle=True)
            return LeanResult("error", error=f"Lean REPL died: {e}", elapsed_s=time.monotonic() - t0)
        if resp is None:  # wall-clock timeout: kill the process group, never reuse this REPL
            self.stats["timeouts"] += 1
            self._checkin(p, recycle=True)
            return LeanResult("timeout", error=f"no response within {timeout_s:g} s",
                              elapsed_s=time.monotonic() - t0)
        self._checkin(p, recycle=False)
        if "env" not in resp and "message" in resp:  # the REPL rejected the command itself
            return LeanResult("error", resp, error=str(resp["message"])[:500], elapsed_s=time.monotonic() - t0)
        return LeanResult("ok", resp, elapsed_s=time.monotonic() - t0)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            procs = [p for ps in self._idle.values() for p in ps]
            self._idle.clear()
        for p in procs:
            p.kill()


_BACKENDS: list[ReplBackend] = []


@atexit.register
def _close_all() -> None:
    for b in list(_BACKENDS):
        b.close()


# -- Kimina Lean Server --------------------------------------------------------------------------
class KiminaBackend:
    """A Kimina Lean Server (``POST {url}/api/check``); it keeps its own REPL pool on the server side."""

    name = "kimina"

    def __init__(self, url: str, api_key: str | None = None, connect_timeout_s: float = 10.0):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.connect_timeout_s = connect_timeout_s
        self._n = 0
        self._lock = threading.Lock()

    def run(self, code: str, header: str, timeout_s: float) -> LeanResult:
        import httpx

        with self._lock:
            self._n += 1
            snippet_id = f"scireflect-{os.getpid()}-{self._n}"
        full = f"{header}\n\n{code}" if header.strip() else code
        body = {"snippet": {"id": snippet_id, "code": full}, "timeout": max(1, int(round(timeout_s))),
                "debug": False, "reuse": True}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        t0 = time.monotonic()
        try:
            r = httpx.post(f"{self.url}/api/check", json=body, headers=headers,
                           timeout=httpx.Timeout(timeout_s + 30, connect=self.connect_timeout_s))
        except httpx.TimeoutException:
            return LeanResult("timeout", error=f"Kimina server gave no answer within {timeout_s + 30:g} s",
                              elapsed_s=time.monotonic() - t0)
        except httpx.HTTPError as e:
            return LeanResult("unavailable", error=f"Kimina server {self.url} unreachable: {e}")
        elapsed = time.monotonic() - t0
        if r.status_code in (401, 403):
            return LeanResult("unavailable", error=f"Kimina server {self.url} refused the API key ({r.status_code})")
        if r.status_code >= 400:
            return LeanResult("unavailable" if r.status_code in (429, 503) else "error",
                              error=f"Kimina server {self.url} answered HTTP {r.status_code}", elapsed_s=elapsed)
        try:
            data = r.json()
        except ValueError:
            return LeanResult("error", error="Kimina server sent a non-JSON answer", elapsed_s=elapsed)
        err = data.get("error")
        if err:
            status = "timeout" if "timed out" in str(err).lower() else "error"
            return LeanResult(status, data.get("response") or {}, error=str(err)[:500], elapsed_s=elapsed)
        return LeanResult("ok", data.get("response") or {}, elapsed_s=elapsed)


# -- LeanDojo --------------------------------------------------------------------------------------
class LeanDojoBackend:
    """Theorems inside a traced repository, through LeanDojo (``pip install 'scireflect[lean]'``).

    Needs ``question.metadata``: ``lean_repo`` (git URL), ``lean_commit``, ``lean_file``, ``lean_theorem``.
    The proof is run as a tactic script, one tactic per line, from the theorem's initial state.
    """

    name = "leandojo"

    def run_theorem(self, meta: dict[str, Any], tactics: list[str], timeout_s: float) -> LeanResult:
        try:
            import lean_dojo  # type: ignore[import-not-found]
        except ImportError:
            return LeanResult("unavailable", error="lean-dojo is not installed; install it with: "
                                                    "pip install 'scireflect[lean]'")
        missing = [k for k in ("lean_repo", "lean_commit", "lean_file", "lean_theorem") if not meta.get(k)]
        if missing:
            return LeanResult("error", error=f"question metadata lacks {', '.join(missing)} for LeanDojo")
        t0 = time.monotonic()
        try:
            repo = lean_dojo.LeanGitRepo(meta["lean_repo"], meta["lean_commit"])
            thm = lean_dojo.Theorem(repo, meta["lean_file"], meta["lean_theorem"])
            with lean_dojo.Dojo(thm, timeout=int(timeout_s)) as (dojo, state):
                for tac in tactics:
                    state = dojo.run_tac(state, tac)
                    if not isinstance(state, lean_dojo.TacticState):
                        break
            if isinstance(state, lean_dojo.ProofFinished):
                return LeanResult("ok", {"messages": [], "sorries": []}, elapsed_s=time.monotonic() - t0)
            data = getattr(state, "error", None) or "proof incomplete"
            return LeanResult("ok", {"messages": [{"severity": "error", "data": str(data)}]},
                              elapsed_s=time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001 - LeanDojo raises many types (DojoTacticTimeoutError, ...)
            status = "timeout" if "timeout" in type(e).__name__.lower() else "error"
            return LeanResult(status, error=f"{type(e).__name__}: {e}"[:500], elapsed_s=time.monotonic() - t0)
