"""What a rerun does with each question: skip it, resume it from its checkpoint, or start it.

A question is keyed by (question id, pipeline version). A finished trace under that key is skipped;
a trace still ``running`` (the process died, or was stopped with Ctrl-C) is reused, so its events
continue and no second trace or record appears; its LangGraph thread resumes from the last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select

from scireflect.schema import Question
from scireflect.store.tables import traces

CHUNK = 500
# Reasons of an ``error`` trace that a later run may not meet again (ProviderError's wording).
_TRANSIENT = re.compile(r"model call failed|timed out|connection error|HTTP (?:408|409|425|429|5\d\d)")


@dataclass(frozen=True)
class Known:
    """The newest stored trace of a question under the run's pipeline version; ``content``: the
    :func:`content_hash` of the question it ran (None for traces stored without one)."""

    trace_id: str
    status: str
    run_id: str | None
    content: str | None = None
    reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.status != "running"

    @property
    def transient_error(self) -> bool:
        """It ended ``error`` because a model call failed (an outage, retries spent): worth another run."""
        return self.status == "error" and bool(_TRANSIENT.search(self.reason or ""))


def known_traces(engine: Any, version: str, question_ids: Iterable[str]) -> dict[str, Known]:
    """Newest trace per question id (of those given) under ``version``: one query per 500 ids."""
    ids = list(dict.fromkeys(question_ids))
    out: dict[str, tuple[Any, Known]] = {}
    cols = (traces.c.question_id, traces.c.id, traces.c.status, traces.c.run_id, traces.c.created_at,
            traces.c.question, traces.c.reason)
    with engine.connect() as conn:
        for i in range(0, len(ids), CHUNK):
            q = select(*cols).where(traces.c.pipeline_version == version, traces.c.question_id.in_(ids[i:i + CHUNK]))
            for qid, tid, status, run_id, created, stored, reason in conn.execute(q):
                prev = out.get(qid)
                if prev is None or _later(created, prev[0]):
                    out[qid] = (created, Known(trace_id=tid, status=status, run_id=run_id,
                                               content=_stored_hash(stored), reason=reason))
    return {qid: k for qid, (_, k) in out.items()}


# What makes two questions under one id the same question: a change to any of these is a new question.
_CONTENT_FIELDS = ("question", "answer", "unit", "choices", "type", "tolerance", "lean_statement", "lean_imports")


def content_hash(q: Question) -> str:
    """A short hash of what a question asks and what counts as its answer."""
    data = {k: getattr(q, k) for k in _CONTENT_FIELDS}
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]


def _stored_hash(stored: Any) -> str | None:
    try:
        data = json.loads(stored) if isinstance(stored, str) else stored
        return content_hash(Question.model_validate(data)) if isinstance(data, dict) else None
    except (ValueError, TypeError):
        return None


def changed(known: Known | None, q: Question) -> bool:
    """The question under this id is not the one its stored trace ran."""
    return known is not None and known.content is not None and known.content != content_hash(q)


def _later(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return b is None
    try:
        return a > b
    except TypeError:  # naive vs aware datetimes from different drivers
        return a.replace(tzinfo=None) > b.replace(tzinfo=None)


def thread_id(question: Question, version: str) -> str:
    """One LangGraph thread per question content and pipeline version (a question edited under the same id
    never resumes the old one's checkpoint)."""
    return f"{question.id}:{version}:{content_hash(question)}"


@dataclass(frozen=True)
class ResumePoint:
    """How to (re)enter the graph for a question, and how many of its trace's events stay.

    ``how``: ``start`` (from the beginning), ``continue`` (from the last checkpoint) or ``done`` (the graph
    had ended before the crash; ``values`` is its final state). ``keep_events``: events with a higher
    sequence number belong to nodes that will run again and are deleted (None: keep all). A checkpoint's
    ``events`` channel counts the events its trace's nodes had recorded when it was taken.
    """

    how: str
    values: dict[str, Any]
    keep_events: int | None


async def resume_point(graph: Any, saver: Any, config: dict[str, Any], resumed: bool) -> ResumePoint:
    """Where a question resumes. A thread left over from an earlier trace of the same key (``--rerun``)
    is deleted first, so its attempts never leak into the new trace."""
    snap = await graph.aget_state(config)
    values = dict(snap.values or {})
    if resumed and values:
        if snap.next:
            done = values.get("events")
            return ResumePoint("continue", {}, max(0, done) if isinstance(done, int) else None)
        if values.get("status") and values["status"] != "running":
            return ResumePoint("done", values, None)
    if values:
        await saver.adelete_thread(config["configurable"]["thread_id"])
    return ResumePoint("start", {}, 0)
