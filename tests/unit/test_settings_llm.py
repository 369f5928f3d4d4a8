"""Settings precedence, provider construction, and clear errors for bad model files."""

from __future__ import annotations

from pathlib import Path

import pytest

from scireflect.errors import ConfigError
from scireflect.llm import LlamaCppChatModel, chat_model, check_gguf, embedded_gguf
from scireflect.settings import Settings, load_settings


def test_precedence_cli_over_env_over_toml_over_default(home, tmp_path, monkeypatch):
    Path("scireflect.toml").write_text('max_rounds = 5\ntemperature = 0.7\nmax_tokens = 99\n')
    assert Settings().max_rounds == 5 and Settings().max_tokens == 99      # toml over default
    monkeypatch.setenv("SCIREFLECT_MAX_ROUNDS", "4")
    monkeypatch.setenv("SCIREFLECT_TEMPERATURE", "0.1")
    s = load_settings(max_rounds=1, temperature=None)
    assert s.max_rounds == 1           # CLI over env
    assert s.temperature == 0.1        # env over toml (None means "flag not given")
    assert s.max_tokens == 99          # toml over default
    assert Settings().n_ctx == 4096    # default


def test_home_from_env_and_files_under_it(home):
    s = Settings()
    assert s.home == home
    assert s.db_url.endswith(str(home / "scireflect.db"))


def test_invalid_setting_is_one_clear_error(home, monkeypatch):
    monkeypatch.setenv("SCIREFLECT_MAX_ROUNDS", "-3")
    with pytest.raises(ConfigError, match="max_rounds"):
        load_settings()


def test_snapshot_hides_secrets(home):
    snap = Settings(api_key="sk-secret", database_url="postgresql://u:pw@h/db").snapshot()
    assert "sk-secret" not in str(snap) and "pw" not in str(snap)


def test_embedded_gguf_is_shipped_in_the_package():
    p = embedded_gguf()
    assert p.suffix == ".gguf" and p.stat().st_size > 10_000_000
    assert check_gguf(p) == p


def test_missing_gguf_path_names_the_path(home, tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ConfigError, match="not found: .*nope.gguf"):
        chat_model(Settings(model=str(missing)))


def test_non_gguf_file_names_the_path(home, tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 definitely not gguf")
    with pytest.raises(ConfigError, match="not a GGUF model file.*model.gguf"):
        chat_model(Settings(model=str(bad)))


def test_truncated_gguf_fails_to_load_with_the_path(tmp_path):
    trunc = tmp_path / "trunc.gguf"
    trunc.write_bytes(b"GGUF" + b"\x00" * 64)
    m = LlamaCppChatModel(model_path=str(trunc))
    with pytest.raises(ConfigError, match="trunc.gguf"):
        m.load()


def test_openai_provider_builds_the_lean_http_model(home):
    pytest.importorskip("aiohttp", reason="the lean HTTP model needs aiohttp (the scale extra)")
    m = chat_model(Settings(provider="openai", base_url="http://127.0.0.1:9/v1", model="m"))
    assert type(m).__name__ == "HttpChatModel"
    assert m.max_tokens == 1024 and m.base_url == "http://127.0.0.1:9/v1"
