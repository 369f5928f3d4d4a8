"""Shared fixtures: an isolated workspace, settings, stores, and deterministic fake chat models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh workspace; the working directory is a temp dir so no scireflect.toml leaks in."""
    ws = tmp_path / "ws"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCIREFLECT_HOME", str(ws))
    for var in ("SCIREFLECT_PROVIDER", "SCIREFLECT_MODEL", "SCIREFLECT_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    return ws


@pytest.fixture
def settings(home: Path) -> Any:
    from scireflect.settings import Settings

    return Settings(home=home, retry_base_s=0.0, retry_max_s=0.0, max_retries=1)


@pytest.fixture
def stores(settings: Any) -> Iterable[Any]:
    from scireflect.store import open_stores

    s = open_stores(settings)
    yield s
    s.close()


def fake_model(*texts: str) -> Any:
    """A langchain_core fake chat model that answers with ``texts`` in order."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    return GenericFakeChatModel(messages=iter([AIMessage(content=t) for t in texts]))


class FailingChatModel:
    """Builds a fake chat model whose every call raises ``exc`` (a provider outage)."""

    @staticmethod
    def make(exc: Exception) -> Any:
        from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

        class _Failing(GenericFakeChatModel):
            def _generate(self, *a: Any, **k: Any) -> Any:
                raise exc

        return _Failing(messages=iter([]))


# --- PostgreSQL (a real server per test session; see tests/pg_fixture.py) ---------------------------
@pytest.fixture(scope="session")
def postgres_server() -> Iterable[Any]:
    """A throwaway PostgreSQL server on 127.0.0.1 (skipped, with the reason, where none can start)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from pg_fixture import skip_reason, start_server

    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: Any) -> Iterable[str]:
    """``postgresql://...`` of a fresh, empty database, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url.rsplit("/", 1)[1])
