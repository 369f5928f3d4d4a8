"""Graph nodes. Each node is a small async function of (state, context) returning a NodeResult;
``recorded`` wraps it into a LangGraph node that stores its Event as soon as it finishes and turns
any failure into ``status="error"`` with a reason, so the graph ends cleanly and the trace stays readable.
Every step of the protocol (retrieve, solve, verify, critique, revise, revise_with_answer, gate) is a node
of its own; ``graph.py`` routes between them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from langgraph.runtime import Runtime

from scireflect.agents import AnswerReviser, Critic, Reviser, Solver
from scireflect.agents.base import AgentOutput
from scireflect.errors import ScireflectError
from scireflect.graph.context import GraphContext
from scireflect.graph.state import State, last_attempt
from scireflect.schema import STATUS_BY_STAGE, Attempt, Event, Gate, Trace, Verdict, gated_status, utcnow
from scireflect.tools.extract import extract_answer
from scireflect.tools.verifiers.registry import options_from_settings

log = logging.getLogger(__name__)


@dataclass
class NodeResult:
    update: dict[str, Any]
    output: Any = None
    messages_in: list[dict[str, str]] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    model: str | None = None


Impl = Callable[[State, GraphContext], Awaitable[NodeResult]]


def recorded(name: str, impl: Impl) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def node(state: State, runtime: Runtime[GraphContext]) -> dict[str, Any]:
        ctx = runtime.context
        started, t0 = utcnow(), time.perf_counter()
        error = None
        try:
            res = await impl(state, ctx)
        except ScireflectError as e:
            error = f"{type(e).__name__}: {e}"
            res = NodeResult(update={"status": "error", "reason": f"{name} failed: {e}"})
        except Exception as e:  # noqa: BLE001 - an unexpected failure ends this trace, not the run
            log.exception("node %s failed", name)
            error = f"{type(e).__name__}: {e}"
            res = NodeResult(update={"status": "error", "reason": f"{name} failed: {error}"})
        event = Event(trace_id=state["trace_id"], seq=0, node=name, started_at=started,
                      latency_ms=(time.perf_counter() - t0) * 1000, messages_in=res.messages_in,
                      output=res.output, tokens_in=res.tokens_in, tokens_out=res.tokens_out,
                      model=res.model or (ctx.model_name if res.messages_in else None), error=error)
        add = getattr(ctx.traces, "aadd_event", None)  # batch runs: graph/tracewriter.py commits in groups
        await (add(event) if add is not None else asyncio.to_thread(ctx.traces.add_event, event))
        return {**res.update, "events": state.get("events", 0) + 1}

    node.__name__ = name
    return node


def _llm_result(out: AgentOutput, update: dict[str, Any], output: dict[str, Any]) -> NodeResult:
    return NodeResult(update=update, output={"text": out.text, **output}, messages_in=out.messages,
                      tokens_in=out.tokens_in, tokens_out=out.tokens_out, model=out.model)


# --- nodes ------------------------------------------------------------------------------------

def retrieval_enabled(settings: Any, q: Any) -> bool:
    """The question's own retrieval flag, else the settings'."""
    return bool(settings.retrieval if q.retrieval is None else q.retrieval)


async def retrieve(state: State, ctx: GraphContext) -> NodeResult:
    q = state["question"]
    enabled = retrieval_enabled(ctx.settings, q)
    if not enabled or ctx.retriever is None:  # a caller that ran the graph without the pipeline's flag
        why = "retrieval off" if not enabled else "no textbook index in this workspace"
        return NodeResult(update={"chunks": []}, output={"enabled": False, "reason": why, "chunks": []})
    chunks = await asyncio.to_thread(ctx.retriever.retrieve, q.question, ctx.settings.retrieval_k, None)
    return NodeResult(update={"chunks": chunks},
                      output={"enabled": True, "query": q.question,
                              "chunks": [{"id": c.id, "source": c.source, "page": c.page, "section": c.section,
                                          "score": c.score, "text": c.text} for c in chunks]})


async def solve(state: State, ctx: GraphContext) -> NodeResult:
    model, url = ctx.pick_model()
    chunks = state.get("chunks") or []
    out = await Solver().arun(model, ctx.settings, url, question=state["question"], chunks=chunks)
    attempt = Attempt(stage="cot", round=0, solution=out.text, extracted_answer=extract_answer(out.text),
                      retrieved=[c.id for c in chunks])
    return _llm_result(out, {"attempts": [attempt], "round": 0},
                       {"extracted_answer": attempt.extracted_answer})


async def verify(state: State, ctx: GraphContext) -> NodeResult:
    q, attempt = state["question"], last_attempt(state)
    if attempt is None:
        raise ScireflectError("verify reached without an attempt")
    verifiers = ctx.registry.for_question(q, names=ctx.settings.verifiers,
                                          options=options_from_settings(ctx.settings))
    # Verdicts reached without blocking (identical answers, nothing to check) are taken here; one thread
    # hop for the rest, which block (a sandboxed worker, a Lean REPL) but are bounded.
    quick = [v.quick_verify(q, attempt) for v in verifiers]
    slow = [v for v, verdict in zip(verifiers, quick) if verdict is None]
    done = iter(await asyncio.to_thread(lambda: [v.verify(q, attempt) for v in slow]) if slow else [])
    verdicts: list[Verdict] = [verdict if verdict is not None else next(done) for verdict in quick]
    for verdict in verdicts:
        if ctx.settings.require_steps and verdict.verifier == "steps":
            verdict.required = True
    if not any(v.required for v in verdicts):
        verdicts.append(Verdict(verifier="none", ok=False, reason="unavailable",
                                message=f"no required verifier applies to questions of type {q.type!r}"))
    checked = attempt.model_copy(update={"verdicts": verdicts})
    update: dict[str, Any] = {"attempts": [checked]}
    if not checked.ok:
        rnd, max_rounds = state.get("round", 0), state.get("max_rounds", 0)
        if checked.stage == "with_answer" or (rnd >= max_rounds and not state.get("stage3", False)):
            failed = ", ".join(f"{v.verifier}={v.reason}" for v in verdicts if v.required and not v.ok)
            shown = " and with the answer shown" if checked.stage == "with_answer" else ""
            reflections = sum(1 for a in state.get("attempts") or [] if a.stage == "reflection")
            update |= {"status": "rejected",
                       "reason": f"not verified after {reflections} reflection round(s){shown}: {failed}"}
    return NodeResult(update=update, output={"ok": checked.ok, "stage": checked.stage, "round": checked.round,
                                             "verdicts": [v.model_dump(mode="json") for v in verdicts]})


async def critique(state: State, ctx: GraphContext) -> NodeResult:
    model, url = ctx.pick_model()
    out = await Critic().arun(model, ctx.settings, url, question=state["question"],
                              attempt=last_attempt(state), chunks=state.get("chunks"))
    return _llm_result(out, {"critique": out.text}, {})


async def revise(state: State, ctx: GraphContext) -> NodeResult:
    model, url = ctx.pick_model()
    chunks, crit = state.get("chunks") or [], state.get("critique") or ""
    out = await Reviser().arun(model, ctx.settings, url, question=state["question"],
                               attempt=last_attempt(state), critique=crit, chunks=chunks)
    rnd = state.get("round", 0) + 1
    attempt = Attempt(stage="reflection", round=rnd, solution=out.text, extracted_answer=extract_answer(out.text),
                      critique=crit, retrieved=[c.id for c in chunks])
    return _llm_result(out, {"attempts": [attempt], "round": rnd}, {"extracted_answer": attempt.extracted_answer})


async def revise_with_answer(state: State, ctx: GraphContext) -> NodeResult:
    model, url = ctx.pick_model()
    crit = state.get("critique")
    out = await AnswerReviser().arun(model, ctx.settings, url, question=state["question"],
                                     attempt=last_attempt(state), critique=crit)
    rnd = state.get("round", 0) + 1
    attempt = Attempt(stage="with_answer", round=rnd, solution=out.text, extracted_answer=extract_answer(out.text),
                      critique=crit)
    return _llm_result(out, {"attempts": [attempt], "round": rnd, "answer_shown": True},
                       {"extracted_answer": attempt.extracted_answer, "answer_shown": True})


async def gate(state: State, ctx: GraphContext) -> NodeResult:
    """Score the verified attempt. A rejection is the trace's status (``gated_out``), not only its reason:
    the stage it reached stays in the reason and in the trace's ``stage``."""
    attempt = last_attempt(state)
    assert attempt is not None  # gate is only routed to after a verified attempt
    trace = Trace(id=state["trace_id"], question_id=state["question"].id, question=state["question"],
                  status=STATUS_BY_STAGE[attempt.stage], attempts=state.get("attempts") or [],
                  answer_shown=state.get("answer_shown", False))
    decision = (await asyncio.to_thread(ctx.gate.decide, trace) if ctx.gate is not None
                else Gate(decision="pass", reason="no quality gate configured"))
    where = {"cot": "on the first attempt", "reflection": f"after {attempt.round} reflection round(s)",
             "with_answer": "after revision with the reference answer shown"}[attempt.stage]
    reason = f"verified {where}; gate: {decision.decision}"
    if decision.decision == "reject" and decision.reason:
        reason += f" ({decision.reason.split(';')[0]})"  # the score against the threshold, without the features
    return NodeResult(update={"status": gated_status(attempt.stage, decision.decision), "reason": reason,
                              "gate": decision},
                      output=decision.model_dump(mode="json"))


NODES: dict[str, Impl] = {"retrieve": retrieve, "solve": solve, "verify": verify, "critique": critique,
                          "revise": revise, "revise_with_answer": revise_with_answer, "gate": gate}
# The nodes that write an attempt (and call a model); verify follows each of them.
ATTEMPT_NODES = ("solve", "revise", "revise_with_answer")
