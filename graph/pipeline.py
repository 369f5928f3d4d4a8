"""Runs questions through the graph: one trace per question, stored as it goes, accounted per run.

``run``/``arun`` handle one question. ``arun_batch`` is the batch engine: a fixed pool of asyncio
workers (``concurrency``), one LangGraph thread per question (``question_id:pipeline_version``),
checkpoints for resume, a group-committing trace writer, duplicates recorded as skipped, and a clean
stop that leaves in-flight questions checkpointed. ``graph/distributed.py`` runs the same batch
function on Ray workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from langchain_core.language_models.chat_models import BaseChatModel

from scireflect.errors import ScireflectError, StoreError
from scireflect.graph.context import GraphContext
from scireflect.graph.graph import build_graph, pipeline_version, recursion_limit
from scireflect.graph.nodes import retrieval_enabled
from scireflect.graph.resume import Known, changed, known_traces, resume_point, thread_id
from scireflect.schema import ACCEPTED_STATUSES, VERIFIED_STATUSES, Question, Run, Trace, utcnow
from scireflect.settings import Settings

log = logging.getLogger(__name__)

NODE_AGENT = {"solve": "solver", "critique": "critic", "revise": "reviser", "revise_with_answer": "reviser"}

# on_step("start", node name) when a LangGraph node starts; on_step("event", Event) when a step is recorded.
StepCallback = Callable[[str, Any], Any]


def _notify(on_step: StepCallback, kind: str, what: Any) -> None:
    try:
        on_step(kind, what)
    except Exception:  # noqa: BLE001 - a display must not fail a question
        log.exception("progress callback failed")


class _EventTap:
    """The trace store as the nodes see it, telling ``on_step`` of each event once it is stored."""

    def __init__(self, traces: Any, on_step: StepCallback):
        self._traces, self._on_step = traces, on_step

    def __getattr__(self, name: str) -> Any:
        return getattr(self._traces, name)

    def add_event(self, event: Any) -> Any:
        stored = self._traces.add_event(event)
        _notify(self._on_step, "event", stored if stored is not None else event)
        return stored

    async def aadd_event(self, event: Any) -> Any:
        add = getattr(self._traces, "aadd_event", None)
        stored = await (add(event) if add is not None else asyncio.to_thread(self._traces.add_event, event))
        _notify(self._on_step, "event", stored if stored is not None else event)
        return stored


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


def default_models(settings: Settings) -> list[tuple[BaseChatModel, str | None]]:
    """One chat model per endpoint, used round-robin."""
    from scireflect.llm import chat_model, endpoints

    return [(chat_model(settings, base_url=url), url) for url in endpoints(settings)]


@dataclass
class RunSummary:
    run: Run
    counts: Counter = field(default_factory=Counter)
    skipped: int = 0
    failed_inputs: int = 0
    interrupted: bool = False
    in_flight: int = 0  # questions left running (checkpointed) by a stop
    changed: list[str] = field(default_factory=list)  # ids whose question changed since their stored trace
    retried: int = 0  # questions whose earlier run ended in a transient error, run again

    @property
    def errors(self) -> int:
        return self.counts.get("error", 0)


@dataclass
class Progress:
    """Live counters of a batch, read by progress displays while it runs."""

    total: int = 0
    done: int = 0
    accepted: int = 0
    gated_out: int = 0
    rejected: int = 0
    errors: int = 0
    skipped: int = 0
    duplicates: int = 0
    writer: Any = None

    @property
    def tokens(self) -> int:
        w = self.writer
        return (w.tokens_in + w.tokens_out) if w is not None else 0

    def snapshot(self) -> dict[str, Any]:
        return {"total": self.total, "done": self.done, "accepted": self.accepted, "gated_out": self.gated_out,
                "rejected": self.rejected, "errors": self.errors, "skipped": self.skipped,
                "duplicates": self.duplicates, "tokens": self.tokens}

    def add(self, status: str) -> None:
        self.done += 1
        if status in ACCEPTED_STATUSES:
            self.accepted += 1
        elif status == "gated_out":
            self.gated_out += 1
        elif status == "rejected":
            self.rejected += 1
        elif status == "error":
            self.errors += 1
        elif status == "duplicate":
            self.duplicates += 1


class Pipeline:
    """Everything a run needs, built once: models, stores, verifiers, retriever, gate, compiled graph."""

    def __init__(self, settings: Settings, stores: Any, *, models: list[tuple[BaseChatModel, str | None]] | None = None,
                 registry: Any = None, retriever: Any = "auto", gate: Any = "auto", checkpointer: Any = None):
        from scireflect.llm import model_name
        from scireflect.tools.verifiers import default_registry

        self.settings = settings
        self.stores = stores
        if registry is None:
            # Plugin verifiers run only when named (settings.verifiers, --verifier): an installed package
            # must not change every run's verdicts. Unnamed, the built-ins run on what they apply to.
            registry = default_registry(plugins=settings.verifiers is not None)
        for name in settings.verifiers or []:
            registry.get(name)  # an unknown name fails here, in one line, not as an error in every trace
        if models is None:
            models = default_models(settings)
        self.context = GraphContext(
            settings=settings, models=models, traces=stores.traces,
            registry=registry,
            retriever=_optional_retriever(settings) if retriever == "auto" else retriever,
            gate=_optional_gate(settings) if gate == "auto" else gate,
            model_name=model_name(settings))
        for m, _ in models:
            if hasattr(m, "load"):
                m.load()  # load an in-process model now: a bad model file fails before any question runs
        self.graph = build_graph(checkpointer=checkpointer)
        self.version = pipeline_version(settings)
        self.progress = Progress()
        if self.context.gate is not None and getattr(self.context.gate, "trained", True) is False:
            log.info("no quality classifier is trained: the gate passes every accepted trace")

    def new_trace(self, q: Question, run_id: str | None) -> Trace:
        return Trace(question_id=q.id, run_id=run_id, pipeline_version=self.version, question=q,
                     model=self.context.model_name, provider=self.settings.provider)

    def _config(self, q: Question) -> dict[str, Any]:
        return {"recursion_limit": recursion_limit(self.settings.max_rounds),
                "configurable": {"thread_id": thread_id(q, self.version)}}

    def _inputs(self, q: Question, trace: Trace) -> dict[str, Any]:
        return {"question": q, "trace_id": trace.id, "max_rounds": self.settings.max_rounds,
                "stage3": self.settings.stage3, "retrieval": self.retrieves(q)}

    def retrieves(self, q: Question) -> bool:
        """Whether the retrieve node runs for ``q``: its own flag, else the settings', and an index exists.
        Otherwise the graph goes straight to solve (a step less per question: no event saying it is off)."""
        return retrieval_enabled(self.settings, q) and self.context.retriever is not None

    async def _invoke(self, graph: Any, inputs: dict[str, Any] | None, q: Question, ctx: GraphContext,
                      on_step: StepCallback | None = None) -> dict[str, Any]:
        """Run the graph to its end; a failure of the graph itself becomes this trace's error."""
        try:
            if on_step is None:
                return await graph.ainvoke(inputs, config=self._config(q), context=ctx)
            return await self._stream(graph, inputs, q, ctx, on_step)
        except asyncio.CancelledError:
            raise
        except StoreError:
            raise
        except Exception as e:  # noqa: BLE001 - a graph failure is this trace's error, not the run's
            log.exception("graph failed on question %s", q.id)
            return {"status": "error", "reason": f"graph failed: {type(e).__name__}: {e}"}

    async def _stream(self, graph: Any, inputs: dict[str, Any] | None, q: Question, ctx: GraphContext,
                      on_step: StepCallback) -> dict[str, Any]:
        """``ainvoke`` with ``on_step("start", node_name)`` as each LangGraph node starts and
        ``on_step("event", event)`` as each step's Event is recorded."""
        ctx = dataclasses.replace(ctx, traces=_EventTap(ctx.traces, on_step))
        state: dict[str, Any] = {}
        async for mode, chunk in graph.astream(inputs, config=self._config(q), context=ctx,
                                               stream_mode=["tasks", "values"]):
            if mode == "values":
                state = chunk
            elif isinstance(chunk, dict) and "input" in chunk and chunk.get("name"):
                _notify(on_step, "start", chunk["name"])
        return state

    async def arun(self, q: Question, run_id: str | None = None, trace: Trace | None = None,
                   on_step: StepCallback | None = None) -> Trace:
        """Run one question to a terminal status. Never raises for model or verifier failures.
        ``on_step``: see ``_stream`` (a progress display; its failures are logged, never raised)."""
        trace = trace or self.new_trace(q, run_id)
        await asyncio.to_thread(self.stores.traces.start, trace)
        state = await self._invoke(self.graph, self._inputs(q, trace), q, self.context, on_step)
        return await asyncio.to_thread(self._finish, trace, state)

    @staticmethod
    def _apply(trace: Trace, state: dict[str, Any]) -> Trace:
        trace.status = state.get("status") or "error"
        if trace.status == "running":
            trace.status = "error"
        trace.reason = state.get("reason") or ("graph ended without a status" if trace.status == "error" else "")
        trace.attempts = state.get("attempts") or []
        trace.answer_shown = bool(state.get("answer_shown"))
        if state.get("gate") is not None:
            trace.gate = state["gate"]
        trace.finished_at = utcnow()
        return trace

    def _finish(self, trace: Trace, state: dict[str, Any]) -> Trace:
        self._apply(trace, state)
        records = getattr(self.stores, "records", None)
        if records is not None and trace.status in VERIFIED_STATUSES:
            try:  # the record first: see TraceWriter._finish
                records.add_from_trace(trace)
            except ScireflectError as e:
                log.warning("could not store the record of trace %s: %s", trace.id, e)
        self.stores.traces.finish(trace)
        stored = self.stores.traces.get(trace.id)
        return stored or trace

    def run(self, q: Question, run_id: str | None = None, on_step: StepCallback | None = None) -> Trace:
        async def main() -> Trace:
            try:
                return await self.arun(q, run_id, on_step=on_step)
            finally:
                await self.aclose_models()

        return asyncio.run(main())

    async def aclose_models(self) -> None:
        """Close HTTP sessions bound to the running event loop."""
        for m, _ in self.context.models:
            if hasattr(m, "aclose"):
                await m.aclose()

    # --- batches ---------------------------------------------------------------------------
    def finished(self, questions: Iterable[Question]) -> int:
        """How many of ``questions`` already have a finished trace under this pipeline version (a batch
        skips those); when that is all of them, a run would record nothing, so callers start none."""
        qs = {q.id: q for q in questions}
        known = known_traces(self.stores.engine, self.version, list(qs))
        return sum(1 for qid, q in qs.items() if qid in known and known[qid].finished and not changed(known[qid], q)
                   and not (self.settings.retry_errors and known[qid].transient_error))

    def start_run(self, input_path: str | None) -> Run:
        run = Run(input_path=input_path, settings=self.settings.snapshot(), pipeline_version=self.version)
        return self.stores.runs.create(run)

    async def arun_batch(self, questions: Iterable[Question], run: Run, concurrency: int = 1,
                         on_done: Callable[[Trace], Any] | None = None, skip_finished: bool = True, *,
                         checkpoint: bool | None = None, stop: asyncio.Event | None = None,
                         duplicates: dict[str, Any] | None = None, worker: str = "local",
                         finish: bool = True, on_start: Callable[[Question], Any] | None = None) -> RunSummary:
        """Run ``questions`` with ``concurrency`` in flight; see the module docstring.

        ``checkpoint``: resume through LangGraph checkpoints (default: when the ``scale`` extra is
        installed). ``stop``: set it to stop; in-flight questions are cancelled at their last
        checkpoint and resume on the next run. ``duplicates``: question id -> ``dedup.Duplicate``.
        ``finish``: write the run's accounting at the end (a distributed driver does it once itself).
        ``on_start``/``on_done``: called when a question is taken up and when it ends.
        """
        from scireflect.graph.tracewriter import TraceWriter

        qs = list(questions)
        summary = RunSummary(run=run)
        self.progress = prog = Progress(total=len(qs))
        known = await asyncio.to_thread(known_traces, self.stores.engine, self.version, [q.id for q in qs])
        writer = TraceWriter(self.stores.traces, getattr(self.stores, "records", None))
        prog.writer = writer
        ctx = dataclasses.replace(self.context, traces=writer)
        batch = _Batch(self, run, summary, prog, known, writer, ctx, on_done, skip_finished, duplicates or {})
        batch.on_start = on_start
        use_ckpt = (self.settings.checkpoints and _checkpoints_available(self.settings)) if checkpoint is None else checkpoint
        frozen = _quiet_gc()
        try:
            async with _maybe_checkpointer(self.settings, worker, use_ckpt, writer) as saver:
                batch.saver = saver
                batch.graph = build_graph(checkpointer=saver) if saver is not None else self.graph
                await batch.run_all(qs, max(1, concurrency), stop)
                await batch.drain()
        finally:
            _restore_gc(frozen)
            await asyncio.to_thread(writer.close)
            await self.aclose_models()
        fatal = batch.fatal or writer.error
        if fatal is not None:
            raise fatal
        if finish:
            self.finish_run(summary, status="interrupted" if summary.interrupted else "finished")
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
        if summary.in_flight:
            run.counts["in_flight"] = summary.in_flight
        tin = sum(t["in"] for t in tokens.values())
        tout = sum(t["out"] for t in tokens.values())
        run.cost_usd = (tin * self.settings.price_in_per_mtok + tout * self.settings.price_out_per_mtok) / 1e6
        self.stores.runs.finish(run, status=status)


def _checkpoints_available(settings: Settings) -> bool:
    from scireflect.graph.checkpoints import is_postgres

    try:
        if is_postgres(settings.db_url):
            import langgraph.checkpoint.postgres.aio  # noqa: F401
        else:
            import aiosqlite  # noqa: F401
            import langgraph.checkpoint.sqlite.aio  # noqa: F401
    except ImportError as e:
        log.info("%s is not installed: runs resume per question, not per node (pip install 'scireflect[scale]' "
                 "or 'scireflect[postgres]')", e.name)
        return False
    return True


@contextlib.asynccontextmanager
async def _maybe_checkpointer(settings: Settings, worker: str, enabled: bool, writer: Any) -> Any:
    if not enabled:
        yield None
        return
    from scireflect.graph.checkpoints import open_checkpointer

    async with open_checkpointer(settings, worker, writer=writer) as saver:
        yield saver


def _quiet_gc() -> tuple[int, int, int]:
    """Move the long-lived objects out of the collector's way for the batch: with thousands of
    questions in flight, full collections otherwise cost a sizeable share of the orchestrator's CPU."""
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(max(old[0], 10_000), max(old[1], 20), max(old[2], 20))
    return old


def _restore_gc(old: tuple[int, int, int]) -> None:
    gc.unfreeze()
    gc.set_threshold(*old)


class _Batch:
    """The per-question function of a batch and the worker pool around it."""

    def __init__(self, pipe: Pipeline, run: Run, summary: RunSummary, prog: Progress, known: dict[str, Known],
                 writer: Any, ctx: GraphContext, on_done: Callable[[Trace], Any] | None, skip_finished: bool,
                 duplicates: dict[str, Any]):
        self.pipe, self.run, self.summary, self.prog = pipe, run, summary, prog
        self.known, self.writer, self.ctx = known, writer, ctx
        self.on_done, self.skip_finished, self.duplicates = on_done, skip_finished, duplicates
        self.saver: Any = None
        self.graph: Any = None
        self.fatal: BaseException | None = None
        self.in_flight: set[asyncio.Task] = set()
        self.cleanup: set[asyncio.Task] = set()
        self.on_start: Callable[[Question], Any] | None = None

    async def run_all(self, qs: list[Question], concurrency: int, stop: asyncio.Event | None) -> None:
        it = iter(qs)
        stop = stop or asyncio.Event()

        async def worker() -> None:
            for q in it:
                if stop.is_set():
                    return
                task = asyncio.current_task()
                self.in_flight.add(task)  # type: ignore[arg-type]
                if self.on_start is not None:
                    self.on_start(q)
                try:
                    await self.one(q)
                except StoreError as e:  # the store is gone: stop the run, report it once
                    self.fatal = self.fatal or e
                    stop.set()
                    return
                finally:
                    self.in_flight.discard(task)  # type: ignore[arg-type]

        workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, max(1, len(qs))))]
        stopper = asyncio.create_task(stop.wait())
        pending = set(workers)
        while pending:
            done, pending = await asyncio.wait(pending | {stopper}, return_when=asyncio.FIRST_COMPLETED)
            pending.discard(stopper)
            if stopper in done and pending:
                await self._cancel(pending)
                break
        stopper.cancel()

    async def drain(self) -> None:
        if self.cleanup:
            await asyncio.gather(*self.cleanup, return_exceptions=True)

    def _drop_thread(self, tid: str) -> str | None:
        """The finished question's checkpoints go: through the writer for SQLite, after it otherwise."""
        if self.saver is None or getattr(self.saver, "path", None) is not None:
            return tid if self.saver is not None else None

        async def later() -> None:
            await self.writer.barrier()
            await self.saver.adelete_thread(tid)

        task = asyncio.create_task(later())
        self.cleanup.add(task)
        task.add_done_callback(self.cleanup.discard)
        return None

    async def _cancel(self, workers: set[asyncio.Task]) -> None:
        """Ctrl-C: cancel in-flight questions; each keeps its trace ``running`` and its last checkpoint."""
        self.summary.interrupted = True
        self.summary.in_flight = len(self.in_flight)
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    def _done(self, trace: Trace) -> None:
        if self.on_done is not None:
            try:
                self.on_done(trace)
            except Exception:  # noqa: BLE001 - a display callback must not fail a question
                log.exception("on_done callback failed")

    async def one(self, q: Question) -> None:
        pipe, prev = self.pipe, self.known.get(q.id)
        if changed(prev, q):  # edited under the same id: a new question, its old trace stays as it was
            self.summary.changed.append(q.id)
            prev = None
        retry = prev is not None and prev.transient_error and pipe.settings.retry_errors
        if retry:  # an outage ended it; run it again in its own trace, from its last checkpoint if any
            self.summary.retried += 1
            prev = dataclasses.replace(prev, status="running")
        if prev is not None and prev.finished and self.skip_finished:
            self.summary.skipped += 1
            self.prog.skipped += 1
            self.prog.done += 1
            self._done(Trace(id=prev.trace_id, question_id=q.id, run_id=prev.run_id, status=prev.status,
                             pipeline_version=pipe.version, question=q))
            return
        resumed = prev is not None and not prev.finished
        trace = pipe.new_trace(q, self.run.id)
        if resumed:
            trace.id = prev.trace_id  # type: ignore[union-attr]
        dup = self.duplicates.get(q.id)
        try:
            if dup is not None:
                trace = await self._duplicate(trace, dup, resumed)
            else:
                trace = await self._solve(q, trace, resumed, rerun=prev is not None and not resumed)
        except (asyncio.CancelledError, StoreError):
            raise
        except Exception as e:  # noqa: BLE001 - a bug on one question must not end the batch
            log.exception("question %s failed outside the graph", q.id)
            trace.status, trace.reason = "error", f"failed outside the graph: {type(e).__name__}: {e}"
            await self.writer.afinish(trace)
        self.summary.counts[trace.status] += 1
        self.prog.add(trace.status)
        self._done(trace)

    async def _duplicate(self, trace: Trace, dup: Any, resumed: bool) -> Trace:
        await self.writer.astart(trace, resumed)
        trace.status, trace.reason = "duplicate", dup.reason  # type: ignore[assignment]
        trace.finished_at = utcnow()
        await self.writer.afinish(trace)
        return trace

    async def _solve(self, q: Question, trace: Trace, resumed: bool, rerun: bool) -> Trace:
        pipe = self.pipe
        inputs: dict[str, Any] | None = pipe._inputs(q, trace)
        state: dict[str, Any] | None = None
        keep: int | None = 0  # a resumed trace without a checkpoint runs again from its start
        if self.saver is not None and (resumed or rerun):
            point = await resume_point(self.graph, self.saver, pipe._config(q), resumed)
            keep = point.keep_events
            if point.how == "continue":
                inputs = None
            elif point.how == "done":
                state = point.values
        # the events of nodes that will run again go, so each node of the trace appears once
        await self.writer.astart(trace, resumed, keep_events=keep if resumed else None)
        if state is None:
            state = await pipe._invoke(self.graph, inputs, q, self.ctx)
        pipe._apply(trace, state)
        await self.writer.afinish(trace, drop_thread=self._drop_thread(thread_id(q, pipe.version)))
        return trace
