"""Stage 1: the solver writes a chain-of-thought solution, grounded in retrieved passages."""

from __future__ import annotations

from typing import Any

from scireflect.agents.base import Agent, chunk_view, question_view
from scireflect.schema import Chunk, Question


class Solver(Agent):
    name = "solver"
    prompt = "solver"
    inputs = frozenset({"question", "choices", "chunks"})

    def build(self, question: Question, chunks: list[Chunk] | None = None, **_: Any) -> dict[str, Any]:
        return {**question_view(question), "chunks": chunk_view(chunks)}
