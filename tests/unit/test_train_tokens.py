"""Tokenization: the base's chat template, loss on assistant tokens only, truncation counted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_support import gguf_tokenizer_dir  # noqa: E402

from scireflect.training.data import Example  # noqa: E402
from scireflect.training.tokens import IGNORE, ensure_chat_template, tokenize_examples  # noqa: E402


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gguf_tokenizer_dir())


def _answer_text(tok, row) -> str:
    return tok.decode([t for t, lab in zip(row["input_ids"], row["labels"]) if lab != IGNORE])


def test_only_assistant_turns_enter_the_loss(tok) -> None:
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"},
            {"role": "assistant", "content": "6, obviously."}]
    rows, stats = tokenize_examples([Example(msgs, "f:1")], tok, 1024)
    text = tok.decode(rows[0]["input_ids"])
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>")  # SmolLM2's own template
    # both answers and their end-of-turn tokens (the model must learn to stop), nothing of the prompts
    assert _answer_text(tok, rows[0]) == "4<|im_end|>\n6, obviously.<|im_end|>\n"
    assert stats.truncated == 0 and stats.answer_tokens == sum(x != IGNORE for x in rows[0]["labels"])


def test_truncation_is_counted_and_empty_answers_dropped(tok) -> None:
    long_answer = [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "word " * 200}]
    long_prompt = [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "A."}]
    short = [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]
    ex = [Example(long_answer, "f:1"), Example(long_prompt, "f:2"), Example(short, "f:3")]
    rows, stats = tokenize_examples(ex, tok, 64)
    assert stats.truncated == 2 and stats.truncated_where == ["f:1", "f:2"]
    assert stats.dropped == 1  # the long prompt left no answer token
    assert len(rows) == 2 and all(len(r["input_ids"]) <= 64 for r in rows)
    assert stats.longest > 200


def test_template_less_tokenizer_gets_chatml(tok) -> None:
    from transformers import AutoTokenizer

    bare = AutoTokenizer.from_pretrained(gguf_tokenizer_dir())
    bare.chat_template = None
    assert ensure_chat_template(bare) is True
    assert ensure_chat_template(tok) is False
    rows, _ = tokenize_examples([Example([{"role": "user", "content": "Q?"},
                                          {"role": "assistant", "content": "A."}], "f:1")], bare, 64)
    assert _answer_text(bare, rows[0]) == "A.<|im_end|>\n"
