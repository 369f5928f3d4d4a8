"""Every routing branch of the self-reflective graph, with deterministic fake chat models."""

from __future__ import annotations

from typing import Any

import pytest

from scireflect.graph.graph import RoutingError, after_verify, pipeline_version, recursion_limit
from scireflect.graph.pipeline import Pipeline
from scireflect.schema import Attempt, Question, Verdict
from tests.conftest import FailingChatModel, fake_model

GOLD = "987.65"
Q = Question(id="p1", question="A gas sample is compressed. What is the final pressure?", answer=GOLD,
             unit="kPa", type="numeric", subject="physics")
RIGHT = "Step 1: p2 = p1 V1 / V2.\nThe answer is \\boxed{987.65 kPa}"
WRONG = "Step 1: p2 = p1 V1 / V2 = 500 kPa.\nThe answer is \\boxed{500 kPa}"


def run(settings: Any, stores: Any, *texts: str, model: Any = None, q: Question = Q) -> Any:
    pipe = Pipeline(settings, stores, models=[(model or fake_model(*texts), None)], retriever=None, gate=None)
    return pipe.run(q)


def nodes(trace: Any) -> list[str]:
    return [e.node for e in trace.events]


def test_accepted_at_stage_1(settings, stores):
    trace = run(settings, stores, RIGHT)
    assert trace.status == "accepted_cot"
    assert nodes(trace) == ["solve", "verify", "gate"]
    assert [e.seq for e in trace.events] == [1, 2, 3]
    assert trace.attempts[0].verdicts[0].ok
    stored = stores.traces.get(trace.id)
    assert stored.status == "accepted_cot" and not stored.answer_shown and len(stored.events) == 3


def test_accepted_after_a_reflection_round(settings, stores):
    trace = run(settings, stores, WRONG, "The pressure formula was applied wrongly.", RIGHT)
    assert trace.status == "accepted_reflection"
    assert nodes(trace) == ["solve", "verify", "critique", "revise", "verify", "gate"]
    assert [a.stage for a in trace.attempts] == ["cot", "reflection"]
    assert trace.attempts[1].critique == "The pressure formula was applied wrongly."
    assert not trace.answer_shown


def test_accepted_with_the_answer_shown(settings, stores):
    s = settings.model_copy(update={"max_rounds": 1})
    trace = run(s, stores, WRONG, "wrong formula", WRONG, RIGHT)
    assert trace.status == "accepted_with_answer"
    assert trace.answer_shown
    assert nodes(trace) == ["solve", "verify", "critique", "revise", "verify",
                            "revise_with_answer", "verify", "gate"]
    shown = [e for e in trace.events if e.node == "revise_with_answer"][0]
    assert GOLD in shown.messages_in[-1]["content"]


def test_stage_1_and_2_prompts_never_contain_the_reference_answer(settings, stores):
    s = settings.model_copy(update={"max_rounds": 2})
    trace = run(s, stores, WRONG, "check", WRONG, "check again", WRONG, RIGHT)
    assert trace.status == "accepted_with_answer"
    for ev in trace.events:
        if ev.node in ("solve", "critique", "revise"):
            text = "\n".join(m["content"] for m in ev.messages_in)
            assert GOLD not in text and "kPa" not in text.replace("500 kPa", ""), ev.node


def test_rejected_after_all_rounds(settings, stores):
    s = settings.model_copy(update={"max_rounds": 2})
    trace = run(s, stores, WRONG, "c1", WRONG, "c2", WRONG, WRONG)
    assert trace.status == "rejected"
    assert nodes(trace).count("critique") == 2
    assert nodes(trace)[-1] == "verify"
    assert "2 reflection round(s) and with the answer shown" in trace.reason
    assert stores.traces.get(trace.id).status == "rejected"


def test_rejected_without_stage_3(settings, stores):
    s = settings.model_copy(update={"max_rounds": 1, "stage3": False})
    trace = run(s, stores, WRONG, "c1", WRONG)
    assert trace.status == "rejected"
    assert "revise_with_answer" not in nodes(trace)
    assert not trace.answer_shown


def test_llm_error_ends_the_trace_as_error(settings, stores):
    model = FailingChatModel.make(ConnectionError("connection refused"))
    trace = run(settings, stores, model=model)
    assert trace.status == "error"
    assert "solve failed" in trace.reason
    assert nodes(trace) == ["solve"]
    assert trace.events[-1].error and "ProviderError" in trace.events[-1].error


def test_no_extractable_answer_continues_the_loop(settings, stores):
    s = settings.model_copy(update={"max_rounds": 1})
    trace = run(s, stores, "I am not sure how to do this.", "You never stated an answer.", RIGHT)
    first = trace.attempts[0]
    assert first.extracted_answer is None
    assert first.verdicts[0].reason == "no_answer"
    assert trace.status == "accepted_reflection"
    critic_prompt = [e for e in trace.events if e.node == "critique"][0].messages_in[-1]["content"]
    assert "no final answer" in critic_prompt


def test_many_rounds_stay_within_the_recursion_limit(settings, stores):
    s = settings.model_copy(update={"max_rounds": 6})
    texts = [WRONG] + ["c", WRONG] * 6 + [WRONG]
    trace = run(s, stores, *texts)
    assert trace.status == "rejected"
    assert len(trace.events) == 2 + 3 * 6 + 2  # solve, verify; 3 events per round; stage 3 and its verify
    # a superstep per node: retrieve (with an index), solve, verify, 3 per round, stage 3 and its verify
    supersteps = 1 + 1 + 1 + 3 * 6 + 2
    assert supersteps <= recursion_limit(6) <= supersteps + 8  # never LangGraph's default


def test_router_raises_on_an_unexpected_state():
    bad = Attempt(stage="with_answer", round=3, solution="x",
                  verdicts=[Verdict(verifier="answer", ok=False, reason="unequal")])
    with pytest.raises(RoutingError):
        after_verify({"question": Q, "trace_id": "t", "max_rounds": 1, "stage3": True, "attempts": [bad],
                      "round": 3})
    with pytest.raises(RoutingError):
        after_verify({"question": Q, "trace_id": "t", "max_rounds": 1, "stage3": True,
                      "attempts": [Attempt(stage="cot", solution="x")]})


def test_pipeline_version_tracks_output_settings(settings):
    v1 = pipeline_version(settings)
    assert v1 == pipeline_version(settings.model_copy())
    assert v1 != pipeline_version(settings.model_copy(update={"max_rounds": settings.max_rounds + 1}))
    assert v1 == pipeline_version(settings.model_copy(update={"llm_timeout_s": 1.0}))


def test_events_are_stored_as_nodes_finish(settings, stores):
    """A crash mid-graph leaves a readable partial trace: events exist before the trace finishes."""
    seen: list[int] = []
    pipe = Pipeline(settings, stores, models=[(fake_model(RIGHT), None)], retriever=None, gate=None)
    orig = stores.traces.add_event

    def spy(ev):
        out = orig(ev)
        seen.append(len(stores.traces.events(ev.trace_id)))
        assert stores.traces.get(ev.trace_id).status == "running"
        return out

    stores.traces.add_event = spy
    pipe.run(Q)
    assert seen == [1, 2, 3]


def test_retrieve_runs_only_when_on_for_the_question_and_an_index_exists(settings, stores):
    from scireflect.schema import Chunk

    class Index:
        def __init__(self) -> None:
            self.queries: list[str] = []

        def retrieve(self, query: str, k: int, where: Any = None) -> list[Chunk]:
            self.queries.append(query)
            return [Chunk(id="c1", text="p1 V1 = p2 V2 at constant temperature.", source="book.md")]

    index = Index()
    on = settings.model_copy(update={"retrieval": True})
    pipe = Pipeline(on, stores, models=[(fake_model(RIGHT, RIGHT), None)], retriever=index, gate=None)
    with_index = pipe.run(Q)
    assert nodes(with_index) == ["retrieve", "solve", "verify", "gate"] and index.queries == [Q.question]
    assert with_index.attempts[0].retrieved == ["c1"]
    opted_out = pipe.run(Q.model_copy(update={"id": "p2", "retrieval": False}))  # the question's own flag wins
    assert nodes(opted_out) == ["solve", "verify", "gate"] and len(index.queries) == 1
