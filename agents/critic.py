"""Stage 2: the critic finds the first mistake in a rejected attempt without knowing the answer.

The verifier findings it reads are stripped of anything derived from the reference answer.
"""

from __future__ import annotations

from typing import Any

from scireflect.agents.base import Agent, chunk_view, question_view
from scireflect.schema import Attempt, Chunk, Question, Verdict

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


class Critic(Agent):
    name = "critic"
    prompt = "critic"
    inputs = frozenset({"question", "choices", "solution", "findings", "chunks"})

    def build(self, question: Question, attempt: Attempt, chunks: list[Chunk] | None = None,
              **_: Any) -> dict[str, Any]:
        return {**question_view(question), "solution": attempt.solution,
                "findings": findings_for_critic(attempt.verdicts, question), "chunks": chunk_view(chunks)}
