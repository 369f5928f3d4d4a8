"""Start a local server process for tests and benchmarks, wait until it answers, stop it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Iterator, Sequence


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(proc: subprocess.Popen, health_url: str, timeout_s: float, name: str,
                  log: Path | None = None) -> None:
    """Poll ``health_url`` until it answers 2xx; fail early if the process exits."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            where = f"; see {log}" if log else ""
            raise RuntimeError(f"{name} exited with {proc.returncode}{where}")
        try:
            if httpx.get(health_url, timeout=1.0).is_success:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer on {health_url} within {timeout_s:.0f} s")
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def served(cmd: Sequence[str], health_url: str, *, name: str, timeout_s: float = 60.0,
           log: Path | None = None) -> Iterator[subprocess.Popen]:
    """Run ``cmd``, wait until ``health_url`` answers, yield the process, stop it on exit."""
    out: IO[bytes] = open(log, "wb") if log else open("/dev/null", "wb")
    proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(proc, health_url, timeout_s, name, log)
        yield proc
    finally:
        stop(proc)
        out.close()
