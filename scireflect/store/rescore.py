"""Apply the workspace's current quality gate to records already in the store.

A classifier trained after a run leaves that run's records scored by the old gate (or by none). Rescoring
decides every selected record again, stores the new gate on the record and on its trace, and moves the
trace between its accepted status and ``gated_out`` as the decision says, keeping the runs' counts in step.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scireflect.schema import VERIFIED_STATUSES, gated_status


@dataclass
class RescoreResult:
    classifier_version: str | None
    threshold: float | None
    records: int = 0
    changes: Counter = field(default_factory=Counter)  # "pass -> reject" -> n
    missing_traces: int = 0
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"classifier_version": self.classifier_version, "threshold": self.threshold,
                "records": self.records, "changes": dict(self.changes), "missing_traces": self.missing_traces,
                "dry_run": self.dry_run}


def rescore(stores: Any, gate: Any, *, run_id: str | None = None, batch: int = 200,
            dry_run: bool = False) -> RescoreResult:
    """Decide the selected records (all, or one run's) again with ``gate`` (a trained ``QualityGate``)."""
    result = RescoreResult(gate.version, gate.threshold, dry_run=dry_run)
    records = stores.records.iter(run_id=run_id, include_rejected=True, include_answer_shown=True)
    chunk: list[Any] = []
    for rec in records:
        chunk.append(rec)
        if len(chunk) >= batch:
            _rescore_chunk(stores, gate, chunk, result)
            chunk = []
    if chunk:
        _rescore_chunk(stores, gate, chunk, result)
    return result


def _rescore_chunk(stores: Any, gate: Any, recs: list[Any], result: RescoreResult) -> None:
    traces = [stores.traces.get(r.trace_id, with_events=False) for r in recs]
    pairs = [(r, t) for r, t in zip(recs, traces) if t is not None and t.status in VERIFIED_STATUSES]
    result.missing_traces += len(recs) - len(pairs)
    if not pairs:
        return
    gates = gate.decide_many([t for _, t in pairs])
    shifts: dict[str, Counter] = {}
    for (rec, trace), new in zip(pairs, gates):
        result.records += 1
        result.changes[f"{rec.gate_decision} -> {new.decision}"] += 1
        if result.dry_run:
            continue
        stores.records.update_gate(rec.trace_id, new)
        old_status = trace.status
        trace.gate = new
        if trace.stage is not None and new.decision in ("pass", "reject"):
            trace.status = gated_status(trace.stage, new.decision)
        trace.reason = _reason(trace.reason, new)
        stores.traces.finish(trace)
        if trace.run_id and trace.status != old_status:
            shifts.setdefault(trace.run_id, Counter()).update({old_status: -1, trace.status: 1})
    for run_id, delta in shifts.items():
        stores.runs.shift_counts(run_id, delta)


def _reason(reason: str | None, gate: Any) -> str:
    """The trace's reason with its gate clause replaced by the new decision (worded as the gate node does)."""
    head = (reason or "").split("; gate:", 1)[0].strip()
    clause = f"gate: {gate.decision}"
    if gate.decision == "reject" and gate.reason:
        clause += f" ({gate.reason.split(';')[0]})"  # the score against the threshold, without the features
    return f"{head}; {clause}" if head else clause
