"""Helpers for the scale tests: an in-process scripted chat model and question files with outcomes."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from scireflect.errors import ProviderError
from scireflect.schema import Question
from scireflect.testing.openai_server import Script, reply_for, role_of

OUTCOMES = ["cot", "reflection", "with_answer", "rejected"]


def make_questions(n: int, outcomes: list[str] | None = None, prefix: str = "q") -> list[Question]:
    """``n`` numeric questions whose scripted outcome cycles through ``outcomes`` (in metadata)."""
    outcomes = outcomes or OUTCOMES
    return [Question(id=f"{prefix}{i}", question=f"A cart of mass {i + 1} kg feels a net force of {2 * i + 3} N. "
                     f"What is the acceleration of cart number {i}?", answer=str(3 * i + 1), type="numeric",
                     subject="physics", metadata={"outcome": outcomes[i % len(outcomes)]}) for i in range(n)]


def write_questions(path: Path, questions: list[Question]) -> Path:
    path.write_text("".join(json.dumps(q.model_dump(mode="json", exclude_none=True)) + "\n" for q in questions))
    return path


class ScriptedModel(BaseChatModel):
    """Answers like the test server, in process. ``hang``: (role, question id) pairs that never answer;
    ``fail``: question ids whose every call raises a retryable ProviderError."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    questions: list[Question]
    latency_s: float = 0.0
    hang: set[tuple[str, str]] = Field(default_factory=set)
    fail: set[str] = Field(default_factory=set)
    calls: Counter = Field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    script: Any = None
    _ids: dict[str, str] = PrivateAttr(default_factory=dict)

    def model_post_init(self, _: Any) -> None:
        self.script = Script.load(None, {"cot": 1.0})
        from scireflect.testing.openai_server import Entry, normalize

        for q in self.questions:
            self.script.by_text[normalize(q.question)] = Entry(
                question=q.question, answer=q.answer, outcome=q.metadata.get("outcome", "cot"), unit=q.unit)
        self._ids = {normalize(q.question): q.id for q in self.questions}

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, *a: Any, **k: Any) -> ChatResult:
        raise NotImplementedError("async only")

    async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> ChatResult:
        from scireflect.testing.openai_server import normalize

        msgs = [{"role": {"system": "system", "human": "user"}.get(m.type, m.type), "content": str(m.content)}
                for m in messages]
        role = role_of(msgs[0]["content"])
        entry = self.script.find(msgs[-1]["content"])
        qid = self._ids.get(normalize(entry.question)) if entry else None
        self.calls[role] += 1
        self.calls[(role, qid)] += 1
        if qid in self.fail:
            raise ProviderError("model call failed: HTTP 503 (scripted)", status=503, retryable=True)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if (role, qid) in self.hang:
                await asyncio.Event().wait()
            await asyncio.sleep(self.latency_s)
        finally:
            self.in_flight -= 1
        text = reply_for(role, entry, msgs)
        msg = AIMessage(content=text, usage_metadata={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15})
        return ChatResult(generations=[ChatGeneration(message=msg)])


# --- driving `scireflect run` in a child process (integration tests) ---------------------------

def cli(home: Path, *args: str, url: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    """Start ``scireflect run ...`` against the test server at ``url``; returns the Popen."""
    import os
    import subprocess
    import sys

    full = dict(os.environ, SCIREFLECT_HOME=str(home), SCIREFLECT_RETRY_BASE_S="0.05",
                SCIREFLECT_RETRY_MAX_S="0.5", **(env or {}))
    cmd = [sys.executable, "-c", "from scireflect.cli import main; main()", "run", *args, "--provider", "openai",
           "--base-url", url, "--no-retrieval", "--json"]
    return subprocess.Popen(cmd, env=full, cwd=str(cwd or home.parent), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def finish(proc: Any, timeout: float = 240) -> tuple[int, dict[str, Any], str]:
    out, err = proc.communicate(timeout=timeout)
    try:
        data = json.loads(out[out.index("{"):]) if "{" in out else {}
    except ValueError:
        data = {}
    return proc.returncode, data, err


def query(url: str, sql: str) -> list[tuple]:
    """Rows of ``sql`` on a SQLAlchemy URL (SQLite file or PostgreSQL)."""
    from sqlalchemy import create_engine, text

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'scireflect.db'}"


def outcome(url: str) -> dict[str, Any]:
    """What a run leaves: per question its single trace's status and the nodes of its events in order
    (each node once, numbered 1..n, even where a crash made some of them run again), the traces' token
    totals against their events', and the records' content."""
    traces = query(url, "SELECT question_id, status FROM traces")
    records = query(url, "SELECT question_id, stage, answer_shown, completion FROM records")
    evs = query(url, "SELECT t.question_id, e.seq, e.node FROM events e JOIN traces t ON t.id = e.trace_id "
                     "ORDER BY t.question_id, e.seq")
    nodes: dict[str, list[tuple[int, str]]] = {}
    for qid, seq, node in evs:
        nodes.setdefault(qid, []).append((seq, node))
    mismatched = query(url, "SELECT count(*) FROM traces t WHERE t.tokens_in != (SELECT coalesce(sum(tokens_in), 0) "
                            "FROM events e WHERE e.trace_id = t.id) OR t.tokens_out != (SELECT "
                            "coalesce(sum(tokens_out), 0) FROM events e WHERE e.trace_id = t.id)")[0][0]
    return {"traces": sorted(traces), "records": sorted(records),
            "nodes": {q: [n for _, n in v] for q, v in nodes.items()},
            "seq_gaps": sum(1 for v in nodes.values() if [s for s, _ in v] != list(range(1, len(v) + 1))),
            "token_mismatch": mismatched,
            "trace_dups": len(traces) - len({t[0] for t in traces}),
            "record_dups": len(records) - len({r[0] for r in records})}


def wait_for(url: str, sql: str, at_least: int, proc: Any, timeout: float = 120) -> int:
    """Poll until ``sql`` (a count) reaches ``at_least`` while ``proc`` runs; returns the count seen."""
    import time

    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            n = int(query(url, sql)[0][0] or 0)
        except Exception:  # noqa: BLE001 - the database may not exist yet
            n = 0
        if n >= at_least:
            return n
        time.sleep(0.05)
    try:  # the process ended (or time ran out): one last look, a poll may have met a busy database
        n = int(query(url, sql)[0][0] or 0)
    except Exception:  # noqa: BLE001
        pass
    return n
