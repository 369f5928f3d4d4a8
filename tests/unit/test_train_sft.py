"""LoRA SFT on CPU with a tiny Llama: overfitting, frozen base, adapter reload, resume, merge, packing, --full."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_support import QA, greedy, sixteen, tiny_model_dir, write_jsonl  # noqa: E402

from scireflect.errors import ConfigError  # noqa: E402
from scireflect.settings import Settings  # noqa: E402

pytest.importorskip("trl", reason="the train extra is not installed (pip install 'scireflect[train]')")

from transformers import TrainerCallback  # noqa: E402

from scireflect.training.artifacts import load_adapter_model, merge_adapter  # noqa: E402
from scireflect.training.sft import make_options, train  # noqa: E402

FAST = dict(learning_rate=1e-2, max_length=64, batch_size=4, warmup=0, logging_steps=1)


class WeightWatch(TrainerCallback):
    """Snapshots the base (non-LoRA) and LoRA weights when training starts and ends."""

    def __init__(self) -> None:
        self.before: dict[str, Any] = {}
        self.after: dict[str, Any] = {}
        self.requires_grad: dict[str, bool] = {}

    @staticmethod
    def _snap(model: Any) -> dict[str, Any]:
        return {n: p.detach().clone() for n, p in model.named_parameters()}

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        self.before = self._snap(model)
        self.requires_grad = {n: p.requires_grad for n, p in model.named_parameters()}

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        self.after = self._snap(model)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sft")


@pytest.fixture(scope="module")
def settings_m(workdir: Path) -> Settings:
    return Settings(home=workdir / "ws")


@pytest.fixture(scope="module")
def overfit(workdir: Path, settings_m: Settings) -> tuple[Any, WeightWatch]:
    """One 20-step LoRA run on the 16 examples, shared by the tests below."""
    watch = WeightWatch()
    opts = make_options(data=sixteen(workdir / "sixteen.jsonl", "chatml"), base=str(tiny_model_dir()),
                        out=workdir / "run", max_steps=20, val_split=0.125, eval_steps=10, save_steps=10, **FAST)
    return train(opts, settings_m, callbacks=[watch]), watch


def test_twenty_steps_overfit_sixteen_examples(overfit: Any) -> None:
    result, _ = overfit
    m = result.metrics
    assert m["global_step"] == 20 and m["mode"] == "lora" and m["device"] == "cpu"
    assert m["final_train_loss"] <= m["first_train_loss"] / 2, m["train_loss_curve"]
    assert m["final_val_loss"] is not None and m["val_loss_curve"]
    assert m["tokens_per_s"] > 0 and m["peak_memory_mb"] > 0 and m["tokens_trained"] > 0
    assert 0 < m["trainable_parameters"] < m["total_parameters"]
    assert m["data"]["examples"] == 16 and m["data"]["truncated"] == 0


def test_artifacts(overfit: Any) -> None:
    run = overfit[0].run_dir
    for name in ("adapter_config.json", "adapter_model.safetensors", "base_model.json", "train_config.json",
                 "metrics.json", "loss_curve.png", "train.log", "tokenizer_config.json"):
        assert (run / name).is_file(), name
    assert json.loads((run / "base_model.json").read_text())["path"] == str(tiny_model_dir())
    config = json.loads((run / "train_config.json").read_text())
    assert config["options"]["lora_r"] == 16 and config["sft_config"]["max_length"] == 64
    assert config["precision"] == {"dtype_name": "float32", "bf16": False, "gradient_checkpointing": False}
    assert (run / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    log = (run / "train.log").read_text()
    assert "step 20:" in log and "tokens/s=" in log and "checkpoint saved at step 20" in log


def test_base_weights_stay_frozen(overfit: Any) -> None:
    _, watch = overfit
    base = [n for n in watch.before if "lora_" not in n]
    lora = [n for n in watch.before if "lora_" in n]
    assert base and lora
    assert not any(watch.requires_grad[n] for n in base)
    assert all(watch.before[n].equal(watch.after[n]) for n in base)
    assert any(not watch.before[n].equal(watch.after[n]) for n in lora)


def test_adapter_reloads_and_changes_generations(overfit: Any) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = overfit[0].run_dir
    model, tok = load_adapter_model(run)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir())
    base_tok = AutoTokenizer.from_pretrained(tiny_model_dir())
    changed = [greedy(model, tok, q) != greedy(base, base_tok, q) for q, _ in QA[:4]]
    assert any(changed)


def test_merge_generates_like_base_plus_adapter(overfit: Any, workdir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = overfit[0].run_dir
    info = merge_adapter(run, workdir / "merged")
    merged = AutoModelForCausalLM.from_pretrained(workdir / "merged")
    tok = AutoTokenizer.from_pretrained(workdir / "merged")
    peft_model, _ = load_adapter_model(run)
    assert info["dtype"] == "float32" and not (workdir / "merged" / "adapter_config.json").exists()
    for q, _ in QA[:4]:
        assert greedy(merged, tok, q) == greedy(peft_model, tok, q)
    ids = tok("What is 2 to the power 10?", return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(merged(**ids).logits, peft_model(**ids).logits, atol=1e-4)
    with pytest.raises(ConfigError, match="not empty"):
        merge_adapter(run, workdir / "merged")


def test_resume_continues_from_saved_step(workdir: Path, settings_m: Settings) -> None:
    data = sixteen(workdir / "resume.jsonl")
    common = dict(data=data, base=str(tiny_model_dir()), out=workdir / "resumed", val_split=0, save_steps=2, **FAST)
    first = train(make_options(max_steps=4, **common), settings_m)
    assert first.metrics["global_step"] == 4
    with pytest.raises(ConfigError, match="already holds checkpoints.*--resume"):
        train(make_options(max_steps=6, **common), settings_m)
    second = train(make_options(max_steps=6, resume=True, **common), settings_m)
    assert second.metrics["resumed_from_step"] == 4 and second.metrics["global_step"] == 6
    assert [s for s, _ in second.metrics["train_loss_curve"]] == [5, 6]  # only the new steps ran
    with pytest.raises(ConfigError, match="no checkpoint"):
        train(make_options(max_steps=2, resume=True, **{**common, "out": workdir / "fresh"}), settings_m)


def test_packing_and_truncation_counted(workdir: Path, settings_m: Settings) -> None:
    rows = [{"prompt": q, "completion": a} for q, a in QA]
    rows.append({"prompt": "Explain.", "completion": "a very long answer " * 40})
    data = write_jsonl(workdir / "long.jsonl", rows)
    res = train(make_options(data=data, base=str(tiny_model_dir()), out=workdir / "packed", max_steps=2,
                             packing=True, val_split=0, **FAST), settings_m)
    m = res.metrics
    assert m["global_step"] == 2 and m["data"]["truncated"] == 1 and m["data"]["dropped"] == 0
    assert "1 of 17 sequences were longer than max_length=64" in (workdir / "packed" / "train.log").read_text()


def test_full_finetune_writes_a_standalone_model(workdir: Path, settings_m: Settings) -> None:
    res = train(make_options(data=sixteen(workdir / "full.jsonl"), base=str(tiny_model_dir()), out=workdir / "full",
                             full=True, max_steps=2, val_split=0, max_length=64, batch_size=4), settings_m)
    m = res.metrics
    assert m["mode"] == "full" and m["trainable_parameters"] == m["total_parameters"]
    assert m["full_finetune_memory"]["estimated_bytes"] > 0
    cfg = json.loads((workdir / "full" / "train_config.json").read_text())["options"]
    assert cfg["learning_rate"] == 3e-6 and cfg["epochs"] == 2.0  # the SciGLM preset
    assert (workdir / "full" / "model.safetensors").is_file()
    with pytest.raises(ConfigError, match="already a standalone model"):
        merge_adapter(workdir / "full", workdir / "merged-full")


def test_bad_options(settings_m: Settings, workdir: Path) -> None:
    with pytest.raises(ConfigError, match="--lora-r must be at least 1, got 0"):
        make_options(lora_r=0)
    with pytest.raises(ConfigError, match="--max-steps must be at least 1"):
        make_options(max_steps=-1)  # the Python API leaves max_steps out (None) to train for the epochs
    with pytest.raises(ConfigError, match="either --data FILE or --from-store"):
        train(make_options(data=workdir / "x.jsonl", from_store=True, out=workdir / "b1"), settings_m)
    with pytest.raises(ConfigError, match="no training data"):
        train(make_options(out=workdir / "b2"), settings_m)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            train(make_options(data=sixteen(workdir / "b.jsonl"), device="cuda", out=workdir / "b3"), settings_m)
    with pytest.raises(ConfigError, match="invalid training configuration"):
        train(make_options(data=sixteen(workdir / "b.jsonl"), base=str(tiny_model_dir()), out=workdir / "b5",
                           lr_scheduler="no-such-schedule", max_steps=1), settings_m)
    with pytest.raises(ConfigError, match="could not set up training"):
        train(make_options(data=sixteen(workdir / "b.jsonl"), base=str(tiny_model_dir()), out=workdir / "b4",
                           target_modules=["no_such_proj"], max_steps=1), settings_m)


def test_from_store_splits_by_question(workdir: Path) -> None:
    from scireflect.schema import Record
    from scireflect.store import open_stores

    settings = Settings(home=workdir / "store-ws")
    stores = open_stores(settings)
    try:
        for i, (q, a) in enumerate(QA[:8]):
            for j in range(2):  # two solutions per question: both must land on the same side
                stores.records.add(Record(trace_id=f"t{i}-{j}", question_id=f"q{i}", prompt=q,
                                          completion=a if j == 0 else f"{a}\nChecked again: {a}",
                                          subject="physics", stage="cot"))
    finally:
        stores.close()
    # The exported prompt is the student prompt (a system message of a few hundred tokens).
    res = train(make_options(from_store=True, base=str(tiny_model_dir()), out=workdir / "store-run", max_steps=1,
                             val_split=0.25, store_filters={"subject": "physics"}, **{**FAST, "max_length": 768}),
                settings)
    data = res.metrics["data"]
    assert data["source"] == "store" and data["examples"] == 16
    # what the export left out is part of the run's record (nothing here: distinct, not from a benchmark)
    saved = json.loads((workdir / "store-run" / "metrics.json").read_text())["data"]["excluded"]
    assert saved == {"duplicates": 0, "decontaminated": 0, "flags": []}
    assert res.metrics["final_val_loss"] is not None
