"""The SciInstruct self-reflective loop as a LangGraph StateGraph.

START -> (retrieve, when retrieval is on and an index exists) -> solve -> verify --ok--> gate -> END
                                \\--not ok, round < max--> critique -> revise -> verify
                                \\--not ok, rounds spent, stage 3 on--> revise_with_answer -> verify
                                \\--otherwise--> END (rejected)

The gate ends a verified trace as ``accepted_<stage>``, or ``gated_out`` when its classifier rejects it.

``verify``, and ``gate`` after a passing verdict, run inside the attempt node before them (solve, revise,
revise_with_answer: ``nodes.verified``), in the same superstep, and record their own Events: one superstep
per model call. ``mermaid()`` draws the loop above, with verify and gate as steps.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph

from scireflect.graph.context import GraphContext
from scireflect.graph.nodes import ATTEMPT_NODES, INSIDE, NODES, recorded, verified
from scireflect.graph.state import InputState, State, last_attempt
from scireflect.schema import VERIFIED_STATUSES


class RoutingError(RuntimeError):
    """A router met a state it does not expect: a bug, never a user error."""


def _failed(state: State) -> bool:
    return state.get("status") == "error"


def start(state: State) -> Literal["retrieve", "solve"]:
    return "retrieve" if state.get("retrieval", True) else "solve"


def after_critique(state: State) -> Literal["revise", "__end__"]:
    return END if _failed(state) else "revise"


def after_verify(state: State) -> Literal["critique", "revise_with_answer", "__end__"]:
    """After an attempt node: it verified its attempt and, if that passed, ran the gate (``nodes.verified``)."""
    attempt = last_attempt(state)
    if _failed(state) or state.get("status") in ("rejected", *VERIFIED_STATUSES):
        return END
    if attempt is None or not attempt.verdicts:
        raise RoutingError(f"verify produced no verdicts (trace {state.get('trace_id')})")
    if attempt.ok:
        raise RoutingError(f"a verified attempt ended without the gate's status (trace {state.get('trace_id')})")
    if attempt.stage == "with_answer":
        raise RoutingError("a failed stage-3 attempt must end the trace as rejected")
    if state.get("round", 0) < state["max_rounds"]:
        return "critique"
    if state["stage3"] and not state.get("answer_shown"):
        return "revise_with_answer"
    raise RoutingError(f"no route after verify for round {state.get('round')} (trace {state.get('trace_id')})")


def _in_loop(router: Any) -> Any:
    """The router as an untraced coroutine. LangGraph runs a sync router of an async graph in a thread
    pool, one thread hop per routing decision (about 10% of a batch's CPU), and wraps a plain function
    in a traced runnable: a callback run and an extra task per decision (another 5%). These routers are
    pure and instant, and every node already records its own event, so neither is of use here."""

    async def route(state: State) -> Any:
        return router(state)

    route.__name__ = router.__name__
    try:  # LangGraph's own wrapper, as it builds for nodes (trace=False); a plain coroutine otherwise
        from langgraph._internal._runnable import RunnableCallable

        return RunnableCallable(None, route, name=router.__name__, trace=False)
    except (ImportError, TypeError):  # pragma: no cover - a LangGraph that moved or changed it
        return route


def build_graph(checkpointer: Any = None) -> Any:
    """Compile the graph. ``checkpointer`` makes runs resumable (one thread per question and version)."""
    g = StateGraph(State, context_schema=GraphContext, input_schema=InputState)
    for name, impl in NODES.items():
        if name not in INSIDE:
            g.add_node(name, verified(name, impl) if name in ATTEMPT_NODES else recorded(name, impl))
    g.add_conditional_edges(START, _in_loop(start), ["retrieve", "solve"])
    g.add_edge("retrieve", "solve")
    for name in ATTEMPT_NODES:  # each has verified its attempt (and gated a passing one): route on that
        g.add_conditional_edges(name, _in_loop(after_verify), ["critique", "revise_with_answer", END])
    g.add_conditional_edges("critique", _in_loop(after_critique), ["revise", END])
    return g.compile(checkpointer=checkpointer)


def recursion_limit(max_rounds: int) -> int:
    """Supersteps on the longest path (retrieve, solve, 2 per round, stage 3) plus a small margin;
    never LangGraph's default."""
    return 2 + 2 * max_rounds + 1 + 4


def mermaid() -> str:
    """Mermaid text of the loop as users read it: the compiled graph with ``verify`` drawn as the step
    after each attempt node and ``gate`` after a passing verify (both run inside the attempt nodes).
    The README's diagram and the viewer's are this."""
    from langchain_core.runnables.graph import Edge, Graph, Node

    compiled = build_graph().get_graph()
    nodes: dict[str, Node] = {}
    for nid, node in compiled.nodes.items():
        if nid == END:
            nodes["gate"] = Node(id="gate", name="gate", data=None, metadata=None)
        nodes[nid] = node
        if nid == "solve":
            nodes["verify"] = Node(id="verify", name="verify", data=None, metadata=None)
    pairs: set[tuple[str, str]] = {("verify", "gate"), ("gate", END)}
    for e in compiled.edges:
        if e.source in ATTEMPT_NODES:
            # the attempt node failed (END) or handed its attempt to verify, which routes on; an accepted
            # attempt (END in the compiled graph) goes through the gate
            pairs |= {(e.source, END), (e.source, "verify"), ("verify", e.target)}
        else:
            pairs.add((e.source, e.target))
    edges = [Edge(a, b, conditional=(a, b) not in PLAIN) for a, b in sorted(pairs)]
    return Graph(nodes=nodes, edges=edges).draw_mermaid()


PLAIN = {("retrieve", "solve"), ("gate", END)}  # the diagram's unconditional edges


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
