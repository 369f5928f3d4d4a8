"""Runs questions through the graph: one trace per question, stored as it goes, accounted per run."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable

from langchain_core.language_models.chat_models import BaseChatModel

from scireflect.errors import ScireflectError
from scireflect.graph.context import GraphContext
from scireflect.graph.graph import build_graph, pipeline_version, recursion_limit
from scireflect.schema import ACCEPTED_STATUSES, Question, Run, Trace, utcnow
from scireflect.settings import Settings

log = logging.getLogger(__name__)

NODE_AGENT = {"solve": "solver", "critique": "critic", "revise": "reviser", "revise_with_answer": "reviser"}


def _optional_retriever(settings: Settings) -> Any:
    if not settings.retrieval:
        return None
    try:
        from scireflect.tools.retrieval import open_retriever
    except ImportError:
        return None
    return open_retriever(settings)


def _optional_gate(settings: Settings) -> Any:
    try:
        from scireflect.training.gate import load_gate
    except ImportError:
        return None
    return load_gate(settings)


@dataclass
class RunSummary:
    run: Run
    counts: Counter = field(default_factory=Counter)
    skipped: int = 0
    failed_inputs: int = 0

    @property
    def errors(self) -> int:
        return self.counts.get("error", 0)


class Pipeline:
    """Everything a run needs, built once: models, stores, verifiers, retriever, gate, compiled graph."""

    def __init__(self, settings: Settings, stores: Any, *, models: list[tuple[BaseChatModel, str | None]] | None = None,
                 registry: Any = None, retriever: Any = "auto", gate: Any = "auto", checkpointer: Any = None):
        from scireflect.llm import chat_model, endpoints, model_name
        from scireflect.tools.verifiers import default_registry

        self.settings = settings
        self.stores = stores
        if models is None:
            models = [(chat_model(settings, base_url=url), url) for url in endpoints(settings)]
        self.context = GraphContext(
            settings=settings, models=models, traces=stores.traces,
            registry=registry or default_registry(),
            retriever=_optional_retriever(settings) if retriever == "auto" else retriever,
            gate=_optional_gate(settings) if gate == "auto" else gate,
            model_name=model_name(settings))
        for m, _ in models:
            if hasattr(m, "load"):
                m.load()  # load an in-process model now: a bad model file fails before any question runs
        self.graph = build_graph(checkpointer=checkpointer)
        self.version = pipeline_version(settings)
        if self.context.gate is not None and getattr(self.context.gate, "trained", True) is False:
            log.info("no quality classifier is trained: the gate passes every accepted trace")

    def new_trace(self, q: Question, run_id: str | None) -> Trace:
        return Trace(question_id=q.id, run_id=run_id, pipeline_version=self.version, question=q,
                     model=self.context.model_name, provider=self.settings.provider)

    async def arun(self, q: Question, run_id: str | None = None, trace: Trace | None = None) -> Trace:
        """Run one question to a terminal status. Never raises for model or verifier failures."""
        trace = trace or self.new_trace(q, run_id)
        await asyncio.to_thread(self.stores.traces.start, trace)
        config = {"recursion_limit": recursion_limit(self.settings.max_rounds),
                  "configurable": {"thread_id": f"{q.id}:{self.version}"}}
        inputs = {"question": q, "trace_id": trace.id, "max_rounds": self.settings.max_rounds,
                  "stage3": self.settings.stage3}
        try:
            state = await self.graph.ainvoke(inputs, config=config, context=self.context)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a graph failure is this trace's error, not the run's
            log.exception("graph failed on question %s", q.id)
            state = {"status": "error", "reason": f"graph failed: {type(e).__name__}: {e}"}
        return await asyncio.to_thread(self._finish, trace, state)

    def _finish(self, trace: Trace, state: dict[str, Any]) -> Trace:
        trace.status = state.get("status") or "error"
        if trace.status == "running":
            trace.status = "error"
        trace.reason = state.get("reason") or ("graph ended without a status" if trace.status == "error" else "")
        trace.attempts = state.get("attempts") or []
        trace.answer_shown = bool(state.get("answer_shown"))
        if state.get("gate") is not None:
            trace.gate = state["gate"]
        trace.finished_at = utcnow()
        self.stores.traces.finish(trace)
        records = getattr(self.stores, "records", None)
        if records is not None and trace.status in ACCEPTED_STATUSES:
            try:
                records.add_from_trace(trace)
            except ScireflectError as e:
                log.warning("could not store the record of trace %s: %s", trace.id, e)
        stored = self.stores.traces.get(trace.id)
        return stored or trace

    def run(self, q: Question, run_id: str | None = None) -> Trace:
        return asyncio.run(self.arun(q, run_id))

    # --- batches ---------------------------------------------------------------------------
    def start_run(self, input_path: str | None) -> Run:
        run = Run(input_path=input_path, settings=self.settings.snapshot(), pipeline_version=self.version)
        return self.stores.runs.create(run)

    async def arun_batch(self, questions: Iterable[Question], run: Run, concurrency: int = 1,
                         on_done: Callable[[Trace], Any] | None = None, skip_finished: bool = True) -> RunSummary:
        summary = RunSummary(run=run)
        sem = asyncio.Semaphore(max(1, concurrency))

        async def one(q: Question) -> None:
            async with sem:
                if skip_finished:
                    prev = await asyncio.to_thread(self.stores.traces.find, q.id, self.version)
                    if prev is not None and prev.status != "running":
                        summary.skipped += 1
                        if on_done:
                            on_done(prev)
                        return
                t = await self.arun(q, run.id)
                summary.counts[t.status] += 1
                if on_done:
                    on_done(t)

        await asyncio.gather(*(one(q) for q in questions))
        self.finish_run(summary)
        return summary

    def finish_run(self, summary: RunSummary, status: str = "finished") -> None:
        run = summary.run
        tokens: dict[str, dict[str, int]] = defaultdict(lambda: {"in": 0, "out": 0})
        for node, tok in self.stores.traces.token_totals(run.id).items():
            agent = NODE_AGENT.get(node)
            if agent:
                tokens[agent]["in"] += tok["in"]
                tokens[agent]["out"] += tok["out"]
        run.tokens = dict(tokens)
        run.counts = dict(summary.counts) | {"skipped": summary.skipped, "invalid_input": summary.failed_inputs}
        tin = sum(t["in"] for t in tokens.values())
        tout = sum(t["out"] for t in tokens.values())
        run.cost_usd = (tin * self.settings.price_in_per_mtok + tout * self.settings.price_out_per_mtok) / 1e6
        self.stores.runs.finish(run, status=status)
