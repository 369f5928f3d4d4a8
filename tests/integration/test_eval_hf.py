"""End to end on CPU: SmolLM2 (the embedded GGUF loaded into transformers) against the same model
with a LoRA adapter, on a handful of items, then ``eval compare``; and an adapter for another model."""

from __future__ import annotations

import copy
import json

import pytest
from typer.testing import CliRunner

from scireflect.cli import app

pytest.importorskip("transformers", reason="transformers is in the 'train' extra")
peft = pytest.importorskip("peft", reason="peft is in the 'train' extra")
pytest.importorskip("gguf", reason="gguf (to read the embedded model into transformers) is in the 'train' extra")

pytestmark = [pytest.mark.integration, pytest.mark.slow]
runner = CliRunner()
ARGS = ["eval", "-b", "mmlu-mini", "--provider", "hf", "--limit", "3", "--concurrency", "3", "--max-tokens", "8",
        "--prompt", "direct", "--json"]


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    """The embedded GGUF converted once (as `scireflect train` does) for every test of this module."""
    from scireflect.evaluation.hf import resolve
    from scireflect.settings import Settings

    return resolve(None, Settings(home=tmp_path_factory.mktemp("models_home"))).path


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory, base_dir):
    """A LoRA adapter for SmolLM2 with random (not zero) weights, so it visibly changes the outputs."""
    from scireflect.evaluation.hf import load_base

    model, _ = load_base(base_dir)
    cfg = peft.LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    path = tmp_path_factory.mktemp("adapter")
    peft.get_peft_model(copy.deepcopy(model), cfg).save_pretrained(str(path))
    return path


def test_base_against_adapter(home, base_dir, adapter_dir):
    args = [*ARGS, "--model", base_dir]
    base = runner.invoke(app, args)
    assert base.exit_code == 0, base.output
    tuned = runner.invoke(app, [*args, "--adapter", str(adapter_dir)])
    assert tuned.exit_code == 0, tuned.output
    a, b = json.loads(base.output), json.loads(tuned.output)
    assert a["id"] != b["id"] and b["backend"]["adapter"]["path"] == str(adapter_dir)
    assert a["counts"]["scored"] == b["counts"]["scored"] == 3
    out_a = [json.loads(x)["output"] for x in (home / "eval" / a["id"] / "items.jsonl").read_text().splitlines()]
    out_b = [json.loads(x)["output"] for x in (home / "eval" / b["id"] / "items.jsonl").read_text().splitlines()]
    assert out_a != out_b  # the adapter is applied
    cmp = runner.invoke(app, ["eval", "compare", a["id"], b["id"], "--json"])
    assert cmp.exit_code == 0, cmp.output
    data = json.loads(cmp.output)
    assert data["overall"]["n"] == 3 and data["chart"].endswith(".png")
    # Same base again: the loaded model is reused and the run resumes with nothing left to do.
    again = json.loads(runner.invoke(app, args).output)
    assert again["id"] == a["id"] and again["timing"]["generated"] == 0


def test_adapter_of_another_model_is_a_clear_error(home, tmp_path, base_dir):
    import torch
    import transformers

    torch.manual_seed(0)
    other = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2))
    peft.get_peft_model(other, peft.LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(str(tmp_path / "a"))
    res = runner.invoke(app, [*ARGS, "--model", base_dir, "--adapter", str(tmp_path / "a")])
    assert res.exit_code == 2
    assert "does not match base model SmolLM2-135M-Instruct" in res.output and "Traceback" not in res.output
