"""Shared pieces of the training tests: a tiny Llama with SmolLM2's tokenizer, 16-example data, greedy generation.

The tiny model (2 layers, hidden 64) is built inside the tests from a seeded random init, so CPU
steps take milliseconds; the real SmolLM2 from the GGUF is exercised in tests/integration. Builders
are cached per session (fixtures imported into several modules would otherwise build twice).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QA = [
    ("What is the SI unit of force?", "The newton (N)."),
    ("What is 7 times 8?", "7 times 8 is 56."),
    ("What is the chemical symbol for sodium?", "Na."),
    ("What is the derivative of x^2?", "2x."),
    ("What is the speed of light in vacuum?", "About 3.00e8 m/s."),
    ("What gas do plants absorb?", "Carbon dioxide."),
    ("What is the integral of 1/x?", "ln|x| + C."),
    ("How many protons does carbon have?", "Six."),
    ("What is Avogadro's number?", "About 6.022e23 per mole."),
    ("What is the boiling point of water at 1 atm?", "100 degrees Celsius."),
    ("What is Ohm's law?", "V = I R."),
    ("What is the pH of pure water at 25 C?", "7."),
    ("What is 2 to the power 10?", "1024."),
    ("What is the formula of kinetic energy?", "KE = m v^2 / 2."),
    ("What is the charge of an electron?", "About -1.602e-19 C."),
    ("What is the square root of 144?", "12."),
]

_ROOT = Path(tempfile.mkdtemp(prefix="scireflect-train-tests-"))
atexit.register(shutil.rmtree, _ROOT, True)


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def sixteen(path: Path, fmt: str = "prompt_completion") -> Path:
    rows: list[dict[str, Any]] = []
    for q, a in QA:
        if fmt == "chatml":
            rows.append({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                         "meta": {"subject": "physics"}})
        else:
            rows.append({"prompt": q, "completion": a})
    return write_jsonl(path, rows)


@functools.lru_cache(maxsize=1)
def gguf_tokenizer_dir() -> Path:
    """SmolLM2's tokenizer (with its chat template) read from the embedded GGUF, saved once."""
    from transformers import AutoTokenizer

    from scireflect.llm import embedded_gguf

    out = _ROOT / "tokenizer"
    gguf = embedded_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    tok.save_pretrained(out)
    return out


CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def tiny_tokenizer() -> Any:
    """A 400-token byte-level BPE trained on the test questions, with a ChatML template.

    A small vocabulary keeps the LM head (and TRL's chunked loss over it) cheap on CPU.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = [f"{q} {a} system user assistant" for q, a in QA] * 4
    bpe.train_from_iterator(corpus, trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    tok.chat_template = CHATML
    return tok


@functools.lru_cache(maxsize=1)
def tiny_model_dir() -> Path:
    """A seeded, randomly initialised 2-layer Llama (hidden 64, vocab 400) saved as a model directory.

    ``initializer_range=0.3`` (not 0.02) gives the frozen, tied embeddings enough norm that a LoRA on
    the linear layers alone can move the logits far enough to overfit; with 0.02 it cannot.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, initializer_range=0.3, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    out = _ROOT / "tiny-llama"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def greedy(model: Any, tokenizer: Any, question: str, new_tokens: int = 8) -> list[int]:
    """Greedy continuation token ids of a chat-formatted question."""
    import torch

    text = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                         add_generation_prompt=True)
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    model.eval()
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return out[0, ids["input_ids"].shape[1]:].tolist()
