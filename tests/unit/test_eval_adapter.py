"""The adapter check of the ``hf`` backend on tiny random Llama models: an adapter made for another
model is refused with the layer that does not fit; a matching one changes outputs, the base stays intact."""

from __future__ import annotations

import pytest

from scireflect.errors import ConfigError

torch = pytest.importorskip("torch", reason="torch is in the 'train' extra")
transformers = pytest.importorskip("transformers", reason="transformers is in the 'train' extra")
peft = pytest.importorskip("peft", reason="peft is in the 'train' extra")

from scireflect.evaluation.hf import attach_adapter, check_adapter  # noqa: E402


def tiny(hidden: int = 16, layers: int = 2) -> object:
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=64, hidden_size=hidden, intermediate_size=2 * hidden,
                                   num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=2)
    return transformers.LlamaForCausalLM(cfg).eval()


def save_adapter(model: object, path, **kw) -> None:
    cfg = peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False, **kw)
    pm = peft.get_peft_model(model, cfg)
    pm.save_pretrained(str(path))


def test_adapter_for_a_wider_model_is_refused(tmp_path):
    save_adapter(tiny(hidden=32), tmp_path / "a")
    with pytest.raises(ConfigError) as e:
        check_adapter(tiny(hidden=16), tmp_path / "a", "tiny-16")
    msg = str(e.value)
    assert "does not match base model tiny-16" in msg and "16 inputs in the base model, 32 in the adapter" in msg


def test_adapter_for_a_deeper_model_is_refused(tmp_path):
    save_adapter(tiny(layers=3), tmp_path / "a")
    with pytest.raises(ConfigError, match="layer 'model.layers.2.self_attn.q_proj', which the base model does not have"):
        check_adapter(tiny(layers=2), tmp_path / "a", "tiny")


def test_not_an_adapter_folder(tmp_path):
    with pytest.raises(ConfigError, match="not a PEFT adapter folder"):
        check_adapter(tiny(), tmp_path, "tiny")


def test_matching_adapter_changes_outputs_and_leaves_base_alone(tmp_path):
    save_adapter(tiny(), tmp_path / "a")
    base = tiny()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    wrapped, info = attach_adapter(base, tmp_path / "a", "tiny")
    assert info["r"] == 2 and sorted(info["target_modules"]) == ["q_proj", "v_proj"]
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert not torch.allclose(base(ids).logits, wrapped(ids).logits)
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())  # the cached base is untouched
