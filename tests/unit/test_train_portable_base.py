"""Saved adapters name their base portably (a hub id where known); the local path stays in the run's metadata."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_support import sixteen, tiny_model_dir  # noqa: E402

from scireflect.settings import Settings  # noqa: E402
from scireflect.training import base_model  # noqa: E402
from scireflect.training.base_model import (EMBEDDED_HUB_ID, BaseRef, dir_portable_name,  # noqa: E402
                                            gguf_portable_name, resolve_base)


def test_embedded_base_is_named_by_its_hub_id(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base_model, "convert_gguf", lambda gguf, s: s.home / "models" / f"{gguf.stem}-hf")
    ref = resolve_base(None, settings)
    assert ref.portable_name == EMBEDDED_HUB_ID == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert ref.to_json()["portable_name"] == EMBEDDED_HUB_ID and ref.to_json()["path"].startswith(str(settings.home))


def test_model_folders_and_hub_ids(settings: Settings, tmp_path: Path) -> None:
    assert resolve_base(str(tiny_model_dir()), settings).portable_name == "tiny-llama"
    snap = tmp_path / "hub" / "models--HuggingFaceTB--SmolLM2-360M" / "snapshots" / "0123abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    assert dir_portable_name(snap) == "HuggingFaceTB/SmolLM2-360M"
    named = tmp_path / "local-copy"
    named.mkdir()
    (named / "config.json").write_text(json.dumps({"_name_or_path": "Qwen/Qwen2.5-0.5B"}))
    assert dir_portable_name(named) == "Qwen/Qwen2.5-0.5B"
    (named / "config.json").write_text(json.dumps({"_name_or_path": str(tmp_path / "somewhere")}))
    assert dir_portable_name(named) == "local-copy"  # a recorded local path is not a portable name
    assert BaseRef(spec="org/m", kind="hub", path=str(snap), source="org/m").portable_name == "org/m"


def test_gguf_named_by_its_source_metadata(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "model.Q8_0.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_string("general.source.url", "https://huggingface.co/HuggingFaceTB/SmolLM2-1.7B-Instruct")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    assert gguf_portable_name(path) == "HuggingFaceTB/SmolLM2-1.7B-Instruct"
    plain = tmp_path / "plain.gguf"
    plain.write_bytes(b"GGUF" + b"\0" * 16)  # unreadable metadata: the file name
    assert gguf_portable_name(plain) == "plain"


def test_adapter_records_the_portable_name_and_metrics_the_local_path(tmp_path: Path) -> None:
    pytest.importorskip("trl", reason="the train extra is not installed (pip install 'scireflect[train]')")
    from scireflect.training.artifacts import load_adapter_model
    from scireflect.training.sft import make_options, train

    opts = make_options(data=sixteen(tmp_path / "d.jsonl"), base=str(tiny_model_dir()), out=tmp_path / "run",
                        max_steps=2, val_split=0, save_steps=2, learning_rate=1e-2, max_length=64, batch_size=4,
                        warmup=0, logging_steps=1)
    result = train(opts, Settings(home=tmp_path / "ws"))
    run = result.run_dir
    assert json.loads((run / "adapter_config.json").read_text())["base_model_name_or_path"] == "tiny-llama"
    for ckpt in (run / "checkpoints").glob("checkpoint-*"):
        assert json.loads((ckpt / "adapter_config.json").read_text())["base_model_name_or_path"] == "tiny-llama"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["base_model"] == {"name": "tiny-llama", "local_path": str(tiny_model_dir()),
                                     "source": str(tiny_model_dir()), "kind": "dir"}
    assert json.loads((run / "base_model.json").read_text())["portable_name"] == "tiny-llama"
    model, _ = load_adapter_model(run)  # still loads from the local base
    assert model.peft_config["default"].base_model_name_or_path == "tiny-llama"
