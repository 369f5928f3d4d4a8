"""RecordStore: training records made from accepted traces, with their provenance and the gate's decision.

One record per trace (unique trace id; writing it again updates it). Records the gate rejects stay
in the store with the gate's reason and are left out of exports by default: nothing is deleted.
"""

from __future__ import annotations

from typing import Any, Iterator

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from scireflect.errors import StoreError
from scireflect.schema import VERIFIED_STATUSES, Gate, Record, Trace, utcnow
from scireflect.store.tables import records


def prompt_of(trace: Trace) -> str:
    """The question as the solver saw it: its text, then lettered options for multiple choice."""
    q = trace.question
    if q is None:
        return ""
    text = q.question.strip()
    if q.choices:
        text += "\nOptions:\n" + "\n".join(f"({chr(ord('A') + i)}) {c}" for i, c in enumerate(q.choices))
    return text


def record_from_trace(trace: Trace) -> Record | None:
    """The training record of a verified trace (accepted or gated out); None for rejected, failed or empty ones."""
    if trace.status not in VERIFIED_STATUSES or trace.question is None:
        return None
    attempt = trace.accepted_attempt
    if attempt is None or not attempt.solution.strip():
        return None
    from scireflect import __version__ as scireflect_version

    q, gate = trace.question, trace.gate
    prompt, completion = prompt_of(trace), attempt.solution.strip()
    provenance = {
        "question_id": q.id, "question_source": q.source, "subject": q.subject, "type": q.type,
        "trace_id": trace.id, "run_id": trace.run_id, "status": trace.status,
        "model": trace.model, "provider": trace.provider, "pipeline_version": trace.pipeline_version,
        "stage": attempt.stage, "round": attempt.round, "answer_shown": trace.answer_shown,
        "verdicts": [{"verifier": v.verifier, "ok": v.ok, "reason": v.reason, "score": v.score,
                      "required": v.required} for v in attempt.verdicts],
        "retrieved": list(attempt.retrieved),
        "classifier_version": gate.classifier_version, "gate_score": gate.score,
        "gate_decision": gate.decision, "gate_reason": gate.reason,
        "trace_created_at": trace.created_at.isoformat() if trace.created_at else None,
        "trace_finished_at": trace.finished_at.isoformat() if trace.finished_at else None,
        "recorded_at": utcnow().isoformat(), "scireflect_version": scireflect_version,
    }
    return Record(trace_id=trace.id, question_id=q.id, prompt=prompt, completion=completion,
                  messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}],
                  subject=q.subject, stage=attempt.stage, answer_shown=trace.answer_shown,
                  gate_score=gate.score, gate_decision=gate.decision, provenance=provenance)


def _row(rec: Record) -> dict[str, Any]:
    p = rec.provenance
    return {
        "trace_id": rec.trace_id, "question_id": rec.question_id, "pipeline_version": p.get("pipeline_version") or "",
        "subject": rec.subject, "stage": rec.stage, "answer_shown": rec.answer_shown, "prompt": rec.prompt,
        "completion": rec.completion, "messages": rec.messages, "gate_score": rec.gate_score,
        "gate_decision": rec.gate_decision, "provenance": p, "created_at": utcnow(),
        "run_id": p.get("run_id"), "status": p.get("status"), "model": p.get("model"), "provider": p.get("provider"),
        "question_source": p.get("question_source"), "classifier_version": p.get("classifier_version"),
        "gate_reason": p.get("gate_reason"),
    }


def _record(row: Any) -> Record:
    r = dict(row)
    return Record(trace_id=r["trace_id"], question_id=r["question_id"], prompt=r["prompt"],
                  completion=r["completion"], messages=r["messages"] or [], subject=r["subject"] or "general",
                  stage=r["stage"] or "cot", answer_shown=bool(r["answer_shown"]), gate_score=r["gate_score"],
                  gate_decision=r["gate_decision"] or "skipped", provenance=r["provenance"] or {})


def filters(*, min_score: float | None = None, subject: str | None = None, stage: str | None = None,
            include_answer_shown: bool = True, include_rejected: bool = False, run_id: str | None = None,
            decision: str | None = None, pipeline_version: str | None = None) -> list[Any]:
    """SQL conditions for the export and stats filters (all optional)."""
    c = records.c
    conds: list[Any] = []
    if min_score is not None:
        conds.append(c.gate_score >= min_score)
    if subject:
        conds.append(c.subject == subject)
    if stage:
        conds.append(c.stage == stage)
    if not include_answer_shown:
        conds.append(c.answer_shown.is_(False))
    if decision:
        conds.append(c.gate_decision == decision)
    elif not include_rejected:
        conds.append((c.gate_decision != "reject") | c.gate_decision.is_(None))
    if run_id:
        conds.append(c.run_id == run_id)
    if pipeline_version:
        conds.append(c.pipeline_version == pipeline_version)
    return conds


class RecordStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    # writing ------------------------------------------------------------------------------------
    def add_from_trace(self, trace: Trace) -> Record | None:
        """Store the record of an accepted trace (again: update it); None when the trace has no record."""
        rec = record_from_trace(trace)
        if rec is None:
            return None
        return self.add(rec)

    def add(self, rec: Record) -> Record:
        row = _row(rec)
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(records.c.id).where(records.c.trace_id == rec.trace_id)).first():
                    row.pop("created_at")
                    conn.execute(update(records).where(records.c.trace_id == rec.trace_id).values(**row))
                else:
                    conn.execute(insert(records).values(**row))
        except IntegrityError:  # another writer inserted the same trace in between: update instead
            row.pop("created_at", None)
            with self.engine.begin() as conn:
                conn.execute(update(records).where(records.c.trace_id == rec.trace_id).values(**row))
        except SQLAlchemyError as e:
            raise StoreError(f"cannot store the record of trace {rec.trace_id}: {type(e).__name__}: "
                             f"{str(e).splitlines()[0][:200]}") from e
        return rec

    def update_gate(self, trace_id: str, gate: Gate) -> bool:
        """Replace a record's gate (after rescoring with a new classifier); False if there is no record."""
        rec = self.get(trace_id)
        if rec is None:
            return False
        rec.gate_score, rec.gate_decision = gate.score, gate.decision
        rec.provenance.update(classifier_version=gate.classifier_version, gate_score=gate.score,
                              gate_decision=gate.decision, gate_reason=gate.reason)
        self.add(rec)
        return True

    # reading ------------------------------------------------------------------------------------
    def get(self, trace_id: str) -> Record | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(records).where(records.c.trace_id == trace_id)).mappings().first()
        return _record(row) if row else None

    def count(self, **flt: Any) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(records).where(*filters(**flt))).scalar() or 0)

    def iter(self, batch: int = 500, **flt: Any) -> Iterator[Record]:
        """Matching records in a stable order (by id), streamed in batches."""
        last = 0
        conds = filters(**flt)
        while True:
            q = select(records).where(records.c.id > last, *conds).order_by(records.c.id).limit(batch)
            with self.engine.connect() as conn:
                rows = conn.execute(q).mappings().all()
            if not rows:
                return
            for r in rows:
                yield _record(r)
            last = rows[-1]["id"]

    def question_ids(self, **flt: Any) -> list[str]:
        q = select(records.c.question_id).where(*filters(**flt)).distinct().order_by(records.c.question_id)
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(q)]

    def scores(self, **flt: Any) -> list[float]:
        q = select(records.c.gate_score).where(records.c.gate_score.is_not(None), *filters(**flt))
        with self.engine.connect() as conn:
            return [float(r[0]) for r in conn.execute(q)]

    def counts_by(self, column: str, **flt: Any) -> dict[str, int]:
        """Number of matching records per value of ``column`` (subject, stage, gate_decision, ...)."""
        col = records.c[column]
        q = select(col, func.count()).where(*filters(**flt)).group_by(col).order_by(col)
        with self.engine.connect() as conn:
            return {("none" if k is None else str(k)): int(n) for k, n in conn.execute(q)}
