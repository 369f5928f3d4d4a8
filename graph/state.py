"""Typed graph state: the question, retrieved chunks, attempts (merge reducer), round, status."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from scireflect.schema import Attempt, Chunk, Gate, Question


def merge_attempts(left: list[Attempt] | None, right: list[Attempt] | None) -> list[Attempt]:
    """Append new attempts; an attempt with the same (stage, round) replaces the stored one.

    ``solve``/``revise`` add an attempt, the ``verify`` node returns it again with its verdicts.
    """
    out = list(left or [])
    for a in right or []:
        for i, b in enumerate(out):
            if (b.stage, b.round) == (a.stage, a.round):
                out[i] = a
                break
        else:
            out.append(a)
    return out


class InputState(TypedDict):
    """What a caller passes in: the question, its trace, and the limits the routers use."""

    question: Question
    trace_id: str
    max_rounds: int
    stage3: bool
    retrieval: bool  # the retrieve node runs: retrieval is on for this question and an index exists


class State(InputState, total=False):
    chunks: list[Chunk]
    attempts: Annotated[list[Attempt], merge_attempts]
    round: int
    critique: str | None
    answer_shown: bool
    status: str
    reason: str
    gate: Gate
    # Events this trace's nodes have recorded: a checkpoint's value says how many of a trace's events
    # precede it, so a resume deletes the later ones (their nodes run again).
    events: int


# Channels that only the nodes calling a model write (solve, revise, revise_with_answer set the round;
# critique sets the critique). A checkpoint whose new versions include one of them follows a model call;
# graph/checkpoints.py stores only those, since every other node is cheap to run again.
MODEL_OUTPUT_CHANNELS = frozenset({"round", "critique"})


def last_attempt(state: dict[str, Any]) -> Attempt | None:
    attempts = state.get("attempts") or []
    return attempts[-1] if attempts else None
