"""Stages 2 and 3: the reviser rewrites a solution from the critique; in stage 3 it is shown the answer."""

from __future__ import annotations

from typing import Any

from scireflect.agents.base import Agent, chunk_view, question_view
from scireflect.agents.critic import findings_for_critic
from scireflect.schema import Attempt, Chunk, Question


class Reviser(Agent):
    """Stage 2: revise without the reference answer."""

    name = "reviser"
    prompt = "reviser"
    inputs = frozenset({"question", "choices", "solution", "critique", "findings", "chunks"})

    def build(self, question: Question, attempt: Attempt, critique: str, chunks: list[Chunk] | None = None,
              **_: Any) -> dict[str, Any]:
        return {**question_view(question), "solution": attempt.solution, "critique": critique,
                "findings": findings_for_critic(attempt.verdicts, question), "chunks": chunk_view(chunks)}


class AnswerReviser(Agent):
    """Stage 3: revise given the reference answer (the trace records ``answer_shown``)."""

    name = "reviser_with_answer"
    prompt = "reviser_with_answer"
    inputs = frozenset({"question", "choices", "solution", "critique", "reference_answer"})

    def build(self, question: Question, attempt: Attempt, critique: str | None = None,
              **_: Any) -> dict[str, Any]:
        return {**question_view(question), "solution": attempt.solution, "critique": critique or "",
                "reference_answer": question.gold}
