"""Reasoning blocks in model output: the final response is what gets graded, never the reasoning.

Reasoning models write their thinking inside tags (``<think>…</think>``, and the ``<thinking>``,
``<reasoning>``, ``<thought>`` and ``<|begin_of_thought|>…<|end_of_thought|>`` variants) before the final
response. Servers that parse the block out (vLLM's ``--reasoning-parser``) send it in a separate
``reasoning_content`` field instead; such a response has no tags and passes through unchanged.

The rules, applied to any text:

* The final response is the text after the last closing tag. Chat templates that open the block in the
  prompt (DeepSeek-R1) leave a closing tag without an opening one; that is the same case.
* An opening tag with no closing tag after it means the output stopped inside its reasoning: the response
  is *truncated* and has no final answer, whatever numbers the reasoning contains.
* ``<|begin_of_solution|>…<|end_of_solution|>`` around the final response is unwrapped.

Regular expressions only, bounded: safe on any model output in the main process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAMES = r"think|thinking|reasoning|thought"
_OPEN = re.compile(rf"<(?:{_NAMES})>|<\|begin_of_thought\|>", re.IGNORECASE)
_CLOSE = re.compile(rf"</(?:{_NAMES})>|<\|end_of_thought\|>", re.IGNORECASE)
_SOLUTION = re.compile(r"<\|begin_of_solution\|>(.*?)(?:<\|end_of_solution\|>|$)", re.S)


@dataclass(frozen=True)
class Response:
    """A model output split into its reasoning (None when it had none) and its final response."""

    reasoning: str | None
    final: str
    truncated: bool = False

    @property
    def has_reasoning(self) -> bool:
        return self.reasoning is not None


def split_reasoning(text: str | None) -> Response:
    """Split ``text`` into reasoning and final response (see the module docstring). Total."""
    text = "" if text is None else str(text)
    if "<" not in text:
        return Response(None, text)
    closes = list(_CLOSE.finditer(text))
    if closes:
        last = closes[-1]
        reasoning = _OPEN.sub("", text[:last.start()]).strip()
        final = text[last.end():]
        reopened = _OPEN.search(final)
        if reopened:  # thinking started again after the last close and never ended
            return Response(reasoning + "\n" + final[reopened.end():].strip(), final[:reopened.start()], True)
        return Response(reasoning, _unwrap_solution(final))
    opened = _OPEN.search(text)
    if opened:
        return Response(text[opened.end():].strip(), text[:opened.start()], True)
    return Response(None, _unwrap_solution(text))


def _unwrap_solution(final: str) -> str:
    m = _SOLUTION.search(final)
    return m.group(1) if m else final


def final_response(text: str | None) -> str | None:
    """The part of ``text`` that states the answer; None when the output stopped inside its reasoning."""
    r = split_reasoning(text)
    return None if r.truncated else r.final
