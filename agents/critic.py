"""Stage 2: the critic finds the first mistake in a rejected attempt without knowing the answer.

The verifier findings it reads are stripped of anything derived from the reference answer.
"""

from __future__ import annotations

from typing import Any

from scireflect.agents.base import Agent, chunk_view, question_view
from scireflect.schema import Attempt, Chunk, Question, Verdict

MAX_FINDINGS = 8


def findings_for_critic(verdicts: list[Verdict], question: Question) -> list[str]:
    """Verifier findings as short lines, with the reference answer kept out (no expected value or unit)."""
    lines: list[str] = []
    for v in verdicts:
        if v.ok:
            continue
        if v.verifier == "answer" or v.reason in ("unequal", "dimension_mismatch", "no_answer"):
            text = {
                "no_answer": "no final answer could be found; end with 'The answer is \\boxed{...}'",
                "dimension_mismatch": "the final answer has the wrong physical dimension (check its units)",
                "unequal": "the final answer is incorrect",
            }.get(v.reason, f"the final answer was not accepted ({v.reason})")
            lines.append(text)
        steps = v.details.get("steps") if isinstance(v.details, dict) else None
        if isinstance(steps, list):
            for s in steps:
                if isinstance(s, dict) and s.get("status") == "wrong":
                    note = s.get("message") or s.get("note") or "does not hold"
                    lines.append(f"line {s.get('line', '?')}: `{str(s.get('text', ''))[:160]}` {note}")
        elif v.verifier != "answer" and v.message:
            lines.append(f"{v.verifier}: {v.message[:300]}")
    return [redact(line, question) for line in lines[:MAX_FINDINGS]]


def redact(text: str, question: Question) -> str:
    """Defense in depth: remove any literal copy of the reference answer from a finding."""
    gold = question.answer.strip()
    if len(gold) >= 2 and gold in text:
        text = text.replace(gold, "[redacted]")
    return text


class Critic(Agent):
    name = "critic"
    prompt = "critic"
    inputs = frozenset({"question", "choices", "solution", "findings", "chunks"})

    def build(self, question: Question, attempt: Attempt, chunks: list[Chunk] | None = None,
              **_: Any) -> dict[str, Any]:
        return {**question_view(question), "solution": attempt.solution,
                "findings": findings_for_critic(attempt.verdicts, question), "chunks": chunk_view(chunks)}
