"""Base model resolution and the --full memory guard (no weights are loaded here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_support import tiny_model_dir  # noqa: E402

from scireflect.errors import ConfigError  # noqa: E402
from scireflect.training import base_model  # noqa: E402
from scireflect.training.base_model import BaseRef, check_full_finetune_memory, resolve_base  # noqa: E402


def test_missing_path(settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="base model path does not exist: .*nope"):
        resolve_base(str(tmp_path / "nope"), settings)
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_base("./models/missing.gguf", settings)


def test_dir_without_config(settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="has no config.json"):
        resolve_base(str(tmp_path), settings)


def test_file_that_is_not_gguf(settings, tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"NOPE" + b"\0" * 16)
    with pytest.raises(ConfigError, match="neither a GGUF file nor a model directory"):
        resolve_base(str(bad), settings)


def test_hub_id_not_in_cache_is_never_downloaded(settings) -> None:
    with pytest.raises(ConfigError, match="not in the local Hugging Face cache.*never downloads"):
        resolve_base("scireflect-test-org/no-such-model", settings)


def test_model_dir(settings) -> None:
    ref = resolve_base(str(tiny_model_dir()), settings)
    assert ref.kind == "dir" and not ref.gguf_quantized and Path(ref.path).is_dir()


def test_stale_gguf_conversion_is_redone(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 16)
    calls = []
    monkeypatch.setattr(base_model, "_convert", lambda g, out, stamp: (
        calls.append(out), out.mkdir(parents=True, exist_ok=True), (out / "config.json").write_text("{}"),
        (out / base_model.SOURCE_FILE).write_text(json.dumps(stamp))))
    first = base_model.convert_gguf(gguf, settings)
    assert base_model.convert_gguf(gguf, settings) == first and len(calls) == 1  # cached
    gguf.write_bytes(b"GGUF" + b"\1" * 32)
    base_model.convert_gguf(gguf, settings)
    assert len(calls) == 2 and first == settings.home / "models" / "m-hf"
    (first / base_model.SOURCE_FILE).write_text("{broken")  # a conversion killed while writing its marker
    assert base_model.convert_gguf(gguf, settings) == first and len(calls) == 3  # converted again, no crash


def _gguf_ref() -> BaseRef:
    return BaseRef(spec="embedded", kind="gguf", path=str(tiny_model_dir()), source="/x/SmolLM2.Q4_1.gguf",
                   gguf_quantized=True)


def test_full_on_gguf_without_enough_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base_model, "available_memory_bytes", lambda device: 2**20)
    with pytest.raises(ConfigError) as e:
        check_full_finetune_memory(_gguf_ref(), "cpu", "float32")
    msg = str(e.value)
    assert "--full needs about 2 MiB of RAM" in msg and "only 1 MiB is free" in msg and "quantized GGUF" in msg
    assert "drop --full" in msg


def test_full_with_enough_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base_model, "available_memory_bytes", lambda device: 64 * 2**30)
    info = check_full_finetune_memory(_gguf_ref(), "cpu", "float32")
    assert info["parameters"] > 50_000 and info["estimated_bytes"] >= 16 * info["parameters"]


def test_available_memory_is_positive() -> None:
    assert base_model.available_memory_bytes("cpu") > 0
