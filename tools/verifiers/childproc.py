"""A child process in its own process group, read message by message against a deadline and killed whole.

Shared by the verifier worker pool (JSON lines) and the Lean REPL (JSON objects ended by a blank line).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from typing import Any, Callable


class ChildProcess:
    """Subclasses start ``self.proc`` with ``start_new_session=True`` and set ``self._buf = b""``."""

    proc: subprocess.Popen
    _buf: bytes
    what = "child process"  # named in EOFError messages

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read_until(self, deadline: float, take: Callable[[], Any], max_bytes: int | None = None) -> Any:
        """``take()`` pulls one complete message off ``self._buf`` (or returns None); read until it gives
        one. None at the ``time.monotonic()`` deadline; EOFError when the process closed its output."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            msg = take()
            if msg is not None:
                return msg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise EOFError(f"{self.what} closed its output")
            self._buf += chunk
            if max_bytes is not None and len(self._buf) > max_bytes:
                raise EOFError(f"{self.what} reply too long")

    def kill(self) -> None:
        """SIGKILL the whole process group, reap the process and close its pipes."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):  # SIGKILL is not ignorable
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
