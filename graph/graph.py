"""The SciInstruct self-reflective loop as a LangGraph StateGraph.

START -> (retrieve, when retrieval is on and an index exists) -> solve -> verify --ok--> gate -> END
                                \\--not ok, round < max--> critique -> revise -> verify
                                \\--not ok, rounds spent, stage 3 on--> revise_with_answer -> verify
                                \\--otherwise--> END (rejected)

Every step is a node of the compiled graph, routed by the conditional edges below; ``mermaid()`` is the
compiled graph's own drawing. ``verify`` decides the terminal ``rejected`` status (it alone knows whether
rounds are left); the gate ends a verified trace as ``accepted_<stage>``, or ``gated_out`` when its
classifier rejects it. The routers only read the state.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph

from scireflect.graph.context import GraphContext
from scireflect.graph.nodes import ATTEMPT_NODES, NODES, recorded
from scireflect.graph.state import InputState, State, last_attempt


class RoutingError(RuntimeError):
    """A router met a state it does not expect: a bug, never a user error."""


def _failed(state: State) -> bool:
    return state.get("status") == "error"


def start(state: State) -> Literal["retrieve", "solve"]:
    return "retrieve" if state.get("retrieval", True) else "solve"


def after_critique(state: State) -> Literal["revise", "__end__"]:
    return END if _failed(state) else "revise"


def after_attempt(state: State) -> Literal["verify", "__end__"]:
    """After solve, revise or revise_with_answer: verify the new attempt, unless the model call failed."""
    return END if _failed(state) else "verify"


def after_verify(state: State) -> Literal["gate", "critique", "revise_with_answer", "__end__"]:
    attempt = last_attempt(state)
    if _failed(state) or state.get("status") == "rejected":
        return END
    if attempt is None or not attempt.verdicts:
        raise RoutingError(f"verify produced no verdicts (trace {state.get('trace_id')})")
    if attempt.ok:
        return "gate"
    if attempt.stage == "with_answer":
        raise RoutingError("a failed stage-3 attempt must end the trace as rejected")
    if state.get("round", 0) < state["max_rounds"]:
        return "critique"
    if state["stage3"] and not state.get("answer_shown"):
        return "revise_with_answer"
    raise RoutingError(f"no route after verify for round {state.get('round')} (trace {state.get('trace_id')})")


def _async(router: Any) -> Any:
    """The router as a coroutine function: LangGraph runs a sync router of an async graph in a worker
    thread, one thread hop per decision; these routers are pure and instant."""

    async def route(state: State) -> Any:
        return router(state)

    route.__name__ = router.__name__
    route.__annotations__ = {"state": State, "return": router.__annotations__.get("return")}
    return route


def build_graph(checkpointer: Any = None) -> Any:
    """Compile the graph. ``checkpointer`` makes runs resumable (one thread per question and version)."""
    g = StateGraph(State, context_schema=GraphContext, input_schema=InputState)
    for name, impl in NODES.items():
        g.add_node(name, recorded(name, impl))
    g.add_conditional_edges(START, _async(start), ["retrieve", "solve"])
    g.add_edge("retrieve", "solve")
    for name in ATTEMPT_NODES:
        g.add_conditional_edges(name, _async(after_attempt), ["verify", END])
    g.add_conditional_edges("verify", _async(after_verify), ["gate", "critique", "revise_with_answer", END])
    g.add_conditional_edges("critique", _async(after_critique), ["revise", END])
    g.add_edge("gate", END)
    return g.compile(checkpointer=checkpointer)


def recursion_limit(max_rounds: int) -> int:
    """Supersteps on the longest path (retrieve, solve, verify, 3 per round, stage 3 and its verify, gate)
    plus a small margin; never LangGraph's default."""
    return 3 + 3 * max_rounds + 2 + 1 + 4


def mermaid() -> str:
    """Mermaid text of the compiled graph (``build_graph().get_graph().draw_mermaid()``): the README's diagram
    and the viewer's are this, so they draw the machine that runs."""
    return build_graph().get_graph().draw_mermaid()


def graph_signature() -> str:
    """Nodes and edges of the compiled graph, stable across runs."""
    gr = build_graph().get_graph()
    nodes = sorted(gr.nodes)
    edges = sorted(f"{e.source}->{e.target}:{int(bool(e.conditional))}" for e in gr.edges)
    return "|".join(nodes) + "#" + "|".join(edges)


def pipeline_version(settings: Any) -> str:
    """Short hash of the prompts, the graph's nodes and edges, and the settings that change outputs."""
    from scireflect.agents.prompts import prompt_files_digest

    h = hashlib.sha256()
    for part in (prompt_files_digest(), graph_signature(), settings.output_fingerprint()):
        h.update(part.encode())
    return h.hexdigest()[:12]
