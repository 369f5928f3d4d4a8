"""The batch engine (Pipeline.arun_batch): concurrency, resume from checkpoints, faults, dedup, rerun."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scireflect.dedup import find_duplicates
from scireflect.errors import StoreError
from scireflect.graph.pipeline import Pipeline
from scireflect.schema import Question
from tests.scale_support import ScriptedModel, make_questions


def pipe_for(settings: Any, stores: Any, model: Any) -> Pipeline:
    return Pipeline(settings, stores, models=[(model, None)], retriever=None, gate=None)


def statuses(stores: Any) -> dict[str, str]:
    return {r["question_id"]: r["status"] for r in stores.traces.list(limit=1000)}


def batch(p: Pipeline, qs: list[Question], **kw: Any) -> Any:
    return asyncio.run(p.arun_batch(qs, p.start_run(None), **kw))


def test_concurrency_is_bounded_and_every_question_ends(settings, stores):
    qs = make_questions(12)
    model = ScriptedModel(questions=qs, latency_s=0.02)
    summary = batch(pipe_for(settings, stores, model), qs, concurrency=4)
    assert model.max_in_flight == 4
    assert sum(summary.counts.values()) == 12 and summary.errors == 0
    assert summary.counts["accepted_cot"] == 3 and summary.counts["rejected"] == 3
    assert stores.records.count() == 9  # cot, reflection and with_answer questions
    run = stores.runs.get(summary.run.id)
    assert run["status"] == "finished" and run["tokens"]["solver"]["in"] > 0


def test_stop_then_rerun_resumes_from_the_checkpoint(settings, stores):
    qs = make_questions(3, ["reflection", "cot", "cot"])
    hung = ScriptedModel(questions=qs, hang={("critic", "q0")})
    p = pipe_for(settings, stores, hung)

    async def interrupted() -> Any:
        stop = asyncio.Event()

        async def stopper() -> None:
            while hung.calls[("critic", "q0")] == 0 or p.progress.done < 2:
                await asyncio.sleep(0.01)
            stop.set()

        task = asyncio.create_task(stopper())
        summary = await p.arun_batch(qs, p.start_run(None), concurrency=3, stop=stop)
        await task
        return summary

    first = asyncio.run(interrupted())
    assert first.interrupted and first.in_flight == 1
    assert stores.runs.get(first.run.id)["status"] == "interrupted"
    t0 = stores.traces.find("q0", p.version)
    assert t0.status == "running"
    assert [e.node for e in stores.traces.get(t0.id).events] == ["solve", "verify"]

    fresh = ScriptedModel(questions=qs)
    second = batch(pipe_for(settings, stores, fresh), qs, concurrency=3)
    assert second.skipped == 2 and second.counts["accepted_reflection"] == 1
    t1 = stores.traces.get(t0.id)
    assert t1.status == "accepted_reflection" and t1.run_id == second.run.id  # the same trace, finished
    assert fresh.calls["solver"] == 0  # solve was checkpointed: not run again
    assert [e.node for e in t1.events] == ["solve", "verify", "critique", "revise", "verify", "gate"]
    assert [e.seq for e in t1.events] == list(range(1, 7))
    assert stores.traces.count() == 3 and stores.records.count() == 3


def test_a_stop_inside_verification_never_repeats_the_model_call_before_it(settings, stores, monkeypatch):
    """verify is a node of its own: a stop while it checks the revision leaves the last checkpoint after
    revise (a model call), so the resume runs verify again, never the reviser; each step of the finished
    trace appears once, numbered 1..n."""
    import scireflect.graph.nodes as nodes

    qs = make_questions(1, ["reflection"])
    real_verify, entered = nodes.NODES["verify"], asyncio.Event()

    async def verify_hangs_on_the_revision(state: Any, ctx: Any) -> Any:
        if state["attempts"][-1].stage == "reflection":
            entered.set()
            await asyncio.sleep(3600)
        return await real_verify(state, ctx)

    monkeypatch.setitem(nodes.NODES, "verify", verify_hangs_on_the_revision)
    p = pipe_for(settings, stores, ScriptedModel(questions=qs))

    async def interrupted() -> Any:
        stop = asyncio.Event()

        async def stopper() -> None:
            await entered.wait()
            await asyncio.sleep(0.2)  # the revise event and its checkpoint reach the store
            stop.set()

        task = asyncio.create_task(stopper())
        summary = await p.arun_batch(qs, p.start_run(None), concurrency=1, stop=stop)
        await task
        return summary

    assert asyncio.run(interrupted()).interrupted
    t0 = stores.traces.find("q0", p.version)
    assert [e.node for e in stores.traces.get(t0.id).events] == ["solve", "verify", "critique", "revise"]

    monkeypatch.setitem(nodes.NODES, "verify", real_verify)
    fresh = ScriptedModel(questions=qs)
    batch(pipe_for(settings, stores, fresh), qs, concurrency=1)
    t1 = stores.traces.get(t0.id)
    assert t1.status == "accepted_reflection"
    assert fresh.calls["solver"] == 0 and fresh.calls["critic"] == 0 and fresh.calls["reviser"] == 0
    assert [e.node for e in t1.events] == ["solve", "verify", "critique", "revise", "verify", "gate"]
    assert [e.seq for e in t1.events] == list(range(1, 7))
    assert t1.tokens_in == sum(e.tokens_in for e in t1.events)


def test_exhausted_retries_end_one_question_as_error_not_the_batch(settings, stores):
    qs = make_questions(4, ["cot"])
    model = ScriptedModel(questions=qs, fail={"q1"})
    summary = batch(pipe_for(settings, stores, model), qs, concurrency=2)
    assert summary.counts == {"accepted_cot": 3, "error": 1}
    assert model.calls[("solver", "q1")] == settings.max_retries + 1
    bad = stores.traces.find("q1", pipe_for(settings, stores, model).version)
    assert bad.status == "error" and "solve failed" in bad.reason and "503" in bad.reason


def test_duplicates_are_stored_with_their_reason_and_skipped_later(settings, stores):
    qs = make_questions(2, ["cot"])
    qs.append(Question(id="copy", question=qs[0].question.upper(), answer="1", type="numeric"))
    dups = find_duplicates(qs)
    model = ScriptedModel(questions=qs)
    p = pipe_for(settings, stores, model)
    summary = batch(p, qs, concurrency=2, duplicates=dups)
    assert summary.counts["duplicate"] == 1
    t = stores.traces.find("copy", p.version)
    assert t.status == "duplicate" and t.reason == "duplicate of q0: same text after normalisation"
    assert batch(p, qs, duplicates=dups).skipped == 3


def test_rerun_starts_a_clean_trace(settings, stores):
    qs = make_questions(1, ["reflection"])
    p = pipe_for(settings, stores, ScriptedModel(questions=qs))
    batch(p, qs)
    first = stores.traces.find("q0", p.version)
    batch(p, qs, skip_finished=False)
    second = stores.traces.find("q0", p.version)
    assert second.id != first.id and second.status == "accepted_reflection"
    assert [a.stage for a in stores.traces.get(second.id).attempts] == ["cot", "reflection"]


def test_without_checkpoints(settings, stores):
    qs = make_questions(4)
    summary = batch(pipe_for(settings, stores, ScriptedModel(questions=qs)), qs, concurrency=4, checkpoint=False)
    assert sum(summary.counts.values()) == 4
    assert not (settings.home / "checkpoints").exists()


def test_a_failing_store_stops_the_batch_with_a_store_error(settings, stores, monkeypatch):
    from scireflect.graph.tracewriter import TraceWriter

    def broken(self: Any, conn: Any, evs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(TraceWriter, "_events", broken)
    qs = make_questions(6, ["cot"])
    with pytest.raises(StoreError, match="disk full"):
        batch(pipe_for(settings, stores, ScriptedModel(questions=qs, latency_s=0.01)), qs, concurrency=2)


def test_checkpoint_saver_keeps_error_and_interrupt_writes_but_not_ordinary_ones(tmp_path):
    """One node per superstep: a node's channel writes are superseded by the checkpoint right after it,
    so only the writes LangGraph needs to resume (errors, interrupts) are stored; checkpoints are queued
    on the writer in order without waiting for the commit."""
    import aiosqlite
    from langgraph.checkpoint.base import WRITES_IDX_MAP
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from scireflect.graph.checkpoints import batched_sqlite_saver

    class Writer:
        def __init__(self) -> None:
            self.sql: list[str] = []

        async def acheckpoint(self, sql: str, rows: list[tuple]) -> None:
            self.sql.append(sql.split(" (")[0])

    async def main() -> list[str]:
        async with aiosqlite.connect(str(tmp_path / "c.sqlite")) as conn:
            await AsyncSqliteSaver(conn).setup()
            w = Writer()
            saver = batched_sqlite_saver(conn, w, set())
            cfg = {"configurable": {"thread_id": "q1:v", "checkpoint_ns": "", "checkpoint_id": "c1"}}
            await saver.aput_writes(cfg, [("attempts", [1]), ("round", 1)], "task-1")
            assert w.sql == []
            special = next(iter(WRITES_IDX_MAP))  # __error__ / __interrupt__ / ...
            await saver.aput_writes(cfg, [("attempts", [1]), (special, "boom")], "task-2")
            return w.sql

    assert asyncio.run(main()) == ["INSERT OR REPLACE INTO writes"]
