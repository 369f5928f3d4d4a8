"""TraceStore and RunStore: traces with their per-node events, and runs with their accounting."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import Engine, and_, func, insert, or_, select, update

from scireflect.schema import TRACE_STATUSES, Event, Run, Trace, utcnow
from scireflect.store.tables import events, runs, traces


def _jsonable(value: Any) -> Any:
    """JSON columns take plain data; pydantic models and datetimes are dumped first."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _trace_row(t: Trace) -> dict[str, Any]:
    q = t.question
    return {
        "id": t.id, "question_id": t.question_id, "run_id": t.run_id, "pipeline_version": t.pipeline_version,
        "status": t.status, "reason": t.reason, "stage": t.stage,
        "subject": q.subject if q else None, "qtype": q.type if q else None,
        "question_text": q.question if q else None, "answer_shown": t.answer_shown,
        "question": _jsonable(q) if q else None, "attempts": _jsonable(t.attempts), "gate": _jsonable(t.gate),
        "gate_score": t.gate.score, "gate_decision": t.gate.decision, "model": t.model, "provider": t.provider,
        "tokens_in": t.tokens_in, "tokens_out": t.tokens_out, "created_at": t.created_at,
        "finished_at": t.finished_at, "verdicts": verdict_tokens(t.attempts),
    }


def verdict_tokens(attempts: list[Any]) -> str | None:
    """The final checked attempt's verdicts as space-padded ``name:ok|fail`` and ``name:reason`` tokens."""
    for a in reversed(attempts):
        if a.verdicts:
            toks = [f"{v.verifier}:{'ok' if v.ok else 'fail'} {v.verifier}:{v.reason}" for v in a.verdicts]
            return " " + " ".join(toks) + " "
    return None


class TraceStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    # writing ----------------------------------------------------------------------------------
    def start(self, trace: Trace) -> None:
        """Insert the trace (status ``running``) before its first node, so events always have a parent."""
        with self.engine.begin() as conn:
            exists = conn.execute(select(traces.c.id).where(traces.c.id == trace.id)).first()
            if exists:
                conn.execute(update(traces).where(traces.c.id == trace.id).values(**_trace_row(trace)))
            else:
                conn.execute(insert(traces).values(**_trace_row(trace)))

    def add_event(self, event: Event) -> Event:
        """Append one node execution; ``seq`` continues after the trace's last stored event."""
        with self.engine.begin() as conn:
            last = conn.execute(select(func.max(events.c.seq)).where(events.c.trace_id == event.trace_id)).scalar()
            event.seq = (last or 0) + 1
            row = _jsonable(event.model_dump())
            row["started_at"] = event.started_at
            conn.execute(insert(events).values(**row))
            conn.execute(update(traces).where(traces.c.id == event.trace_id).values(
                tokens_in=traces.c.tokens_in + event.tokens_in, tokens_out=traces.c.tokens_out + event.tokens_out))
        return event

    def finish(self, trace: Trace) -> None:
        """Store the final status, attempts and gate; token totals come from the stored events."""
        trace.finished_at = trace.finished_at or utcnow()
        row = _trace_row(trace)
        row.pop("tokens_in"), row.pop("tokens_out")
        with self.engine.begin() as conn:
            conn.execute(update(traces).where(traces.c.id == trace.id).values(**row))

    # reading ----------------------------------------------------------------------------------
    def get(self, trace_id: str, with_events: bool = True) -> Trace | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(traces).where(traces.c.id == trace_id)).mappings().first()
            if row is None:
                # allow unique prefixes, as git does for commits
                rows = conn.execute(select(traces).where(traces.c.id.like(trace_id + "%")).limit(2)).mappings().all()
                if len(rows) != 1:
                    return None
                row = rows[0]
            evs = []
            if with_events:
                evs = [dict(r) for r in conn.execute(
                    select(events).where(events.c.trace_id == row["id"]).order_by(events.c.seq)).mappings()]
        return _trace_from_row(row, evs)

    def find(self, question_id: str, pipeline_version: str) -> Trace | None:
        """The newest trace of a question under a pipeline version (what a resumed run looks up)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(traces).where(and_(traces.c.question_id == question_id,
                                                         traces.c.pipeline_version == pipeline_version))
                               .order_by(traces.c.created_at.desc()).limit(1)).mappings().first()
        return _trace_from_row(row, []) if row else None

    def list(self, *, status: str | None = None, run_id: str | None = None, subject: str | None = None,
             stage: str | None = None, search: str | None = None, min_score: float | None = None,
             max_score: float | None = None, verdict: str | None = None, limit: int = 50,
             offset: int = 0) -> list[dict[str, Any]]:
        """Summaries (no attempts or events), newest first."""
        cols = [traces.c.id, traces.c.question_id, traces.c.run_id, traces.c.status, traces.c.reason,
                traces.c.stage, traces.c.subject, traces.c.qtype, traces.c.question_text, traces.c.answer_shown,
                traces.c.gate_score, traces.c.gate_decision, traces.c.model, traces.c.tokens_in,
                traces.c.tokens_out, traces.c.created_at, traces.c.finished_at, traces.c.pipeline_version,
                traces.c.verdicts]
        q = select(*cols).where(*self._filters(status, run_id, subject, stage, search, min_score, max_score,
                                               verdict))
        # Both keys descending, so ix_traces_created_id serves the order and deep pages skip rows cheaply.
        q = q.order_by(traces.c.created_at.desc(), traces.c.id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def count(self, **filters: Any) -> int:
        q = select(func.count()).select_from(traces).where(*self._filters(**filters))
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def status_counts(self, **filters: Any) -> dict[str, int]:
        """Traces per status under ``filters`` (any but ``status``), in the order of ``TRACE_STATUSES``."""
        filters.pop("status", None)
        q = (select(traces.c.status, func.count()).select_from(traces).where(*self._filters(**filters))
             .group_by(traces.c.status))
        with self.engine.connect() as conn:
            got = {str(s): int(n) for s, n in conn.execute(q)}
        order = {s: i for i, s in enumerate(TRACE_STATUSES)}
        return dict(sorted(got.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))

    @staticmethod
    def _filters(status: str | None = None, run_id: str | None = None, subject: str | None = None,
                 stage: str | None = None, search: str | None = None, min_score: float | None = None,
                 max_score: float | None = None, verdict: str | None = None) -> list[Any]:
        conds: list[Any] = []
        if status:
            conds.append(traces.c.status == status)
        if run_id:
            conds.append(traces.c.run_id == run_id)
        if subject:
            conds.append(traces.c.subject == subject)
        if stage:
            conds.append(traces.c.stage == stage)
        if search:
            like = f"%{search}%"
            conds.append(or_(traces.c.question_text.ilike(like), traces.c.question_id.ilike(like)))
        if min_score is not None:
            conds.append(traces.c.gate_score >= min_score)
        if max_score is not None:
            conds.append(traces.c.gate_score <= max_score)
        if verdict:  # "answer:fail", "steps:ok", "answer:timeout" (see verdict_tokens)
            conds.append(traces.c.verdicts.contains(f" {verdict.strip()} ", autoescape=True))
        return conds

    def subjects(self) -> list[str]:
        """Distinct subjects of stored traces (the viewer's filter choices)."""
        q = select(traces.c.subject).where(traces.c.subject.is_not(None)).distinct().order_by(traces.c.subject)
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(q)]

    def token_totals(self, run_id: str) -> dict[str, dict[str, int]]:
        """Tokens in and out per node over all traces of a run (one aggregate query)."""
        q = (select(events.c.node, func.sum(events.c.tokens_in), func.sum(events.c.tokens_out))
             .join(traces, traces.c.id == events.c.trace_id).where(traces.c.run_id == run_id)
             .group_by(events.c.node))
        with self.engine.connect() as conn:
            return {node: {"in": int(tin or 0), "out": int(tout or 0)} for node, tin, tout in conn.execute(q)}

    def events(self, trace_id: str) -> list[Event]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(events).where(events.c.trace_id == trace_id).order_by(events.c.seq)).mappings()
            return [_event_from_row(dict(r)) for r in rows]

    def iter_finished(self, statuses: Iterable[str] | None = None, batch: int = 500) -> Iterable[Trace]:
        """Every finished trace (with attempts, without events), in stable order, streamed in batches."""
        last = ""
        while True:
            q = select(traces).where(traces.c.id > last, traces.c.status != "running")
            if statuses:
                q = q.where(traces.c.status.in_(list(statuses)))
            with self.engine.connect() as conn:
                rows = conn.execute(q.order_by(traces.c.id).limit(batch)).mappings().all()
            if not rows:
                return
            for r in rows:
                yield _trace_from_row(r, [])
            last = rows[-1]["id"]


def _event_from_row(r: dict[str, Any]) -> Event:
    r = dict(r)
    r.pop("id", None)
    return Event.model_validate(r)


def _trace_from_row(row: Any, evs: list[dict[str, Any]]) -> Trace:
    r = dict(row)
    data = {k: r[k] for k in ("id", "question_id", "run_id", "pipeline_version", "status", "reason",
                              "answer_shown", "model", "provider", "created_at", "finished_at")}
    data["question"] = r.get("question")
    data["attempts"] = r.get("attempts") or []
    data["gate"] = r.get("gate") or {}
    data["events"] = [_event_from_row(e) for e in evs]
    return Trace.model_validate(data)


class RunStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create(self, run: Run) -> Run:
        with self.engine.begin() as conn:
            conn.execute(insert(runs).values(id=run.id, input_path=run.input_path, settings=_jsonable(run.settings),
                                             pipeline_version=run.pipeline_version, status="running",
                                             started_at=run.started_at, counts={}, tokens={}, cost_usd=0.0))
        return run

    def finish(self, run: Run, status: str = "finished") -> None:
        run.finished_at = run.finished_at or utcnow()
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run.id).values(
                status=status, finished_at=run.finished_at, counts=run.counts, tokens=run.tokens,
                cost_usd=run.cost_usd))

    def shift_counts(self, run_id: str, delta: dict[str, int]) -> None:
        """Move traces between a run's status counts (a rescore turned accepted traces into gated-out ones)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(runs.c.counts).where(runs.c.id == run_id)).first()
            if row is None:
                return
            counts = dict(row[0] or {})
            for status, n in delta.items():
                counts[status] = max(0, int(counts.get(status, 0)) + n)
            conn.execute(update(runs).where(runs.c.id == run_id).values(counts=counts))

    def get(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
            if row is None:
                rows = conn.execute(select(runs).where(runs.c.id.like(run_id + "%")).limit(2)).mappings().all()
                row = rows[0] if len(rows) == 1 else None
        return dict(row) if row else None

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.started_at.desc()).limit(limit)).mappings()
            return [dict(r) for r in rows]
