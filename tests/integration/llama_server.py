"""A real OpenAI-compatible server for tests: ``python -m llama_cpp.server`` with the embedded GGUF."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Iterator

from scireflect.testing.process import free_port, served


@contextlib.contextmanager
def llama_server(model: Path, alias: str = "smollm2", timeout: float = 120.0) -> Iterator[str]:
    """Start the server on a free loopback port, yield its base URL, stop it."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--verbose", "False"]
    url = f"http://127.0.0.1:{port}/v1"
    with served(cmd, url + "/models", name="llama_cpp.server", timeout_s=timeout):
        yield url
