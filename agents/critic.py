"""Stage 2: the critic finds the first mistake in a rejected attempt without knowing the answer.

The verifier findings it reads are stripped of anything derived from the reference answer.
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from scireflect.agents.base import Agent, AgentOutput, chunk_view, question_view
from scireflect.schema import Attempt, Chunk, Question, Verdict
from scireflect.settings import Settings

MAX_FINDINGS = 8


# What a failed answer check tells the critic; the reference's value and unit stay out.
ANSWER_FINDINGS = {
    "no_answer": "no final answer could be found; end with 'The answer is \\boxed{...}'",
    "dimension_mismatch": "the final answer has the wrong physical dimension (check its units)",
    "unequal": "the final answer is incorrect",
}
# Verdicts that say the checker could not decide, not that the solution is wrong: nothing for the critic.
CHECKER_FAILURES = frozenset({"error", "timeout", "too_large", "unavailable"})


def findings_for_critic(verdicts: list[Verdict], question: Question) -> list[str]:
    """Verifier findings as short lines, each once, with the reference answer kept out (no expected value
    or unit). A steps verdict contributes its wrong steps, not another "the final answer is incorrect":
    its ``unequal`` is about a derivation line."""
    lines: list[str] = []
    for v in verdicts:
        if v.ok or v.reason in CHECKER_FAILURES:
            continue
        steps = v.details.get("steps") if isinstance(v.details, dict) else None
        if isinstance(steps, list):
            for s in steps:
                if isinstance(s, dict) and s.get("status") == "wrong":
                    note = s.get("message") or s.get("note") or "does not hold"
                    lines.append(f"line {s.get('line', '?')}: `{str(s.get('text', ''))[:160]}` {note}")
        elif v.verifier == "answer" or v.reason in ("dimension_mismatch", "no_answer"):
            lines.append(ANSWER_FINDINGS.get(v.reason, f"the final answer was not accepted ({v.reason})"))
        elif v.message:
            lines.append(f"{v.verifier}: {v.message[:300]}")
    unique = list(dict.fromkeys(redact(line, question) for line in lines))
    return unique[:MAX_FINDINGS]


def redact(text: str, question: Question) -> str:
    """Defense in depth: remove any literal copy of the reference answer from a finding."""
    gold = question.answer.strip()
    if len(gold) >= 2 and gold in text:
        text = text.replace(gold, "[redacted]")
    return text


_CHECKER_HEADER = re.compile(r"^(an|the) automatic checker (rejected|found)\b")
_LINE_REF = re.compile(r"^line \d+:")


def _norm(line: str) -> str:
    line = " ".join(line.strip().lstrip("-*• ").split()).lower()
    return _LINE_REF.sub("line #:", line)


def collate(critique: str, findings: list[str]) -> str:
    """The critique without what it copied from its prompt: the checker's findings and header (small models
    echo them, often in a loop) and any line it already said. The reviser reads the findings separately."""
    echoed = {_norm(f) for f in findings}
    seen: set[str] = set()
    kept: list[str] = []
    for line in critique.splitlines():
        key = _norm(line)
        if key and (key in echoed or key in seen or _CHECKER_HEADER.match(key)):
            continue
        seen.add(key)
        if key or (kept and kept[-1].strip()):
            kept.append(line.rstrip())
    text = "\n".join(kept).strip()
    return text or critique.strip()


class Critic(Agent):
    name = "critic"
    prompt = "critic"
    inputs = frozenset({"question", "choices", "solution", "findings", "chunks"})

    def build(self, question: Question, attempt: Attempt, chunks: list[Chunk] | None = None,
              **_: Any) -> dict[str, Any]:
        return {**question_view(question), "solution": attempt.solution,
                "findings": findings_for_critic(attempt.verdicts, question), "chunks": chunk_view(chunks)}

    def run(self, model: BaseChatModel, settings: Settings, url: str | None = None, **kwargs: Any) -> AgentOutput:
        return self._collated(super().run(model, settings, url, **kwargs), **kwargs)

    async def arun(self, model: BaseChatModel, settings: Settings, url: str | None = None,
                   **kwargs: Any) -> AgentOutput:
        return self._collated(await super().arun(model, settings, url, **kwargs), **kwargs)

    @staticmethod
    def _collated(out: AgentOutput, question: Question, attempt: Attempt, **_: Any) -> AgentOutput:
        text = collate(out.text, findings_for_critic(attempt.verdicts, question))
        if text != out.text:
            out.extra["raw_text"] = out.text  # what the model wrote, before collation
            out.text = text
        return out
