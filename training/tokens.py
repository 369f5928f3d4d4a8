"""Conversations -> token ids and labels with the base model's chat template, loss on answers only.

Tokenizing here rather than inside TRL lets us count what truncation does (the issue asks for
the count in the log) and mask every assistant turn, not just the last. The result
(``input_ids`` + ``labels``) is what TRL's SFTTrainer treats as an already prepared dataset; TRL
still pads, packs and computes the loss.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from scireflect.errors import ConfigError

log = logging.getLogger("scireflect.training")

IGNORE = -100  # label of tokens that do not enter the loss

# Used only when a base model ships no chat template (plain pretrained checkpoints).
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass
class TokenStats:
    examples: int = 0
    truncated: int = 0  # sequences longer than max_length, cut to it
    dropped: int = 0  # truncated so far that no answer token was left: nothing to learn from
    tokens: int = 0
    answer_tokens: int = 0  # tokens that enter the loss
    longest: int = 0
    truncated_where: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["truncated_where"] = self.truncated_where[:20]
        return data


def ensure_chat_template(tokenizer: Any) -> bool:
    """Give a template-less tokenizer a ChatML template; True when it had to."""
    if getattr(tokenizer, "chat_template", None):
        return False
    tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    log.warning("the base tokenizer has no chat template; using a ChatML template")
    return True


def _render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def answer_spans(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of every assistant turn (with its end token).

    A span runs from where the template's generation prompt ends to where the rendered turn ends, so
    the end-of-turn token is learned too (the model must learn to stop). Templates that render a
    prefix differently from the whole (some "thinking" templates) fall back to finding the content.
    """
    text = _render(tokenizer, messages)
    spans: list[tuple[int, int]] = []
    cursor = 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], generation_prompt=True) if i else ""
        upto = _render(tokenizer, messages[: i + 1])
        if i and text.startswith(before) and text.startswith(upto) and len(upto) > len(before) >= cursor:
            spans.append((len(before), len(upto)))
            cursor = len(upto)
            continue
        start = text.find(m["content"], cursor)
        if start < 0:
            raise ConfigError("the chat template of the base model drops assistant content; cannot mask the prompt")
        end = start + len(m["content"])
        eos = getattr(tokenizer, "eos_token", None)
        if eos and text.startswith(eos, end):
            end += len(eos)
        spans.append((start, end))
        cursor = end
    return text, spans


def encode(tokenizer: Any, messages: list[dict[str, str]], max_length: int) -> tuple[list[int], list[int], int]:
    """``(input_ids, labels, full_length)``: labels are IGNORE outside assistant turns; cut to max_length."""
    text, spans = answer_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(enc["input_ids"])
    labels = [IGNORE] * len(ids)
    for k, (start, end) in enumerate(enc["offset_mapping"]):
        # A token belongs to the answer when it starts inside a span (offsets are character based).
        if end > start and any(s <= start < e for s, e in spans):
            labels[k] = ids[k]
    full = len(ids)
    return ids[:max_length], labels[:max_length], full


def tokenize_examples(examples: list[Any], tokenizer: Any, max_length: int,
                      stats: TokenStats | None = None) -> tuple[list[dict[str, list[int]]], TokenStats]:
    """Rows ready for SFTTrainer and what truncation did to them."""
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("the base model's tokenizer is not a fast tokenizer; answer masking needs offsets")
    stats = stats or TokenStats()
    rows = []
    for ex in examples:
        ids, labels, full = encode(tokenizer, ex.messages, max_length)
        stats.examples += 1
        stats.longest = max(stats.longest, full)
        if full > max_length:
            stats.truncated += 1
            stats.truncated_where.append(ex.where)
        answer = sum(1 for x in labels if x != IGNORE)
        if answer == 0:
            stats.dropped += 1
            continue
        stats.tokens += len(ids)
        stats.answer_tokens += answer
        rows.append({"input_ids": ids, "labels": labels})
    return rows, stats
