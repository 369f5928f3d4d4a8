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


class DigitsTokenizer:
    """Token ids written as numbers ("5 17 3"); left padding with 0, as the backend sets up."""

    pad_token_id, chat_template = 0, None

    def __init__(self, eos: int):
        self.eos_token_id = eos

    def __call__(self, texts, **kw):
        rows = [[int(t) for t in s.split()] for s in texts]
        n = max(map(len, rows))
        return {"input_ids": torch.tensor([[0] * (n - len(r)) + r for r in rows]),
                "attention_mask": torch.tensor([[0] * (n - len(r)) + [1] * len(r) for r in rows])}

    def decode(self, tokens, skip_special_tokens=True):
        return " ".join(str(int(t)) for t in tokens if int(t) not in (self.pad_token_id, self.eos_token_id))


def test_hf_rows_are_handed_on_as_they_end():
    from scireflect.evaluation.hf import HFBackend
    from scireflect.settings import Settings

    model = tiny()
    prompts = ["5 9 11", "7 3", "12 40 41 42", "8"]
    tok = DigitsTokenizer(eos=-1)
    enc = tok(prompts)
    with torch.inference_mode():  # greedy, without an end token: every row runs 8 steps
        free = model.generate(**enc, max_new_tokens=8, do_sample=False, pad_token_id=0, eos_token_id=None)
    new = free[:, enc["input_ids"].shape[1]:].tolist()
    eos = new[0][2]  # so row 0 ends after three tokens, and others when (if) they produce it
    tok.eos_token_id = model.generation_config.eos_token_id = eos
    with torch.inference_mode():
        ref = model.generate(**enc, max_new_tokens=8, do_sample=False, pad_token_id=0)

    be = object.__new__(HFBackend)
    be.settings, be.model, be.tok, be._batch = Settings(max_tokens=8, temperature=0.0), model, tok, None
    seen = []
    gens = be.generate(prompts, lambda row, gen: seen.append((row, be._batch.steps if be._batch else None, gen)))
    start = enc["input_ids"].shape[1]
    assert [g.text for g in gens] == [tok.decode(r) for r in ref[:, start:]]  # the same text as one generate
    assert sorted(r for r, _, _ in seen) == [0, 1, 2, 3] and seen[0][:2] == (0, 3)  # row 0 first, at step 3
    ends = {r: next((i + 1 for i, t in enumerate(new[r]) if t == eos), 8) for r in range(4)}
    assert [steps for _, steps, _ in seen] == sorted(ends.values())  # each row as soon as it ends
    assert be._batch is None and be.activity().in_flight == 0
