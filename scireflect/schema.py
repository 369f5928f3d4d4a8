"""Core types shared by every layer: questions in, verdicts and traces out, records for training."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

QuestionType = Literal["numeric", "symbolic", "multiple_choice", "proof", "free"]
Stage = Literal["cot", "reflection", "with_answer"]
# "gated_out": verified, then rejected by the quality gate; the stage it reached stays in ``stage`` and the reason.
# "duplicate": skipped by a batch run's dedup (graph/pipeline.py, scireflect/dedup.py); the reason names the original.
TraceStatus = Literal["accepted_cot", "accepted_reflection", "accepted_with_answer", "gated_out", "rejected", "error",
                      "duplicate"]
TRACE_STATUSES: tuple[str, ...] = (*get_args(TraceStatus), "running")  # every value of ``traces.status``
# Verified and passed by the gate (or no gate): what "accepted" means in counts, colours and filters.
ACCEPTED_STATUSES: tuple[str, ...] = ("accepted_cot", "accepted_reflection", "accepted_with_answer")
# Verified, whatever the gate said: each makes a training record (a gated-out one is stored with
# ``gate_decision="reject"`` and left out of exports by default).
VERIFIED_STATUSES: tuple[str, ...] = (*ACCEPTED_STATUSES, "gated_out")
STATUS_BY_STAGE: dict[str, str] = {
    "cot": "accepted_cot",
    "reflection": "accepted_reflection",
    "with_answer": "accepted_with_answer",
}


def gated_status(stage: str, decision: str) -> str:
    """The status of a verified trace whose final attempt reached ``stage``, after the gate's ``decision``
    (the gate node sets it; a rescore with a new classifier can set it again)."""
    return "gated_out" if decision == "reject" else STATUS_BY_STAGE[stage]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:16]


class Question(BaseModel):
    """One input problem with its reference answer (one line of a questions JSONL file)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    question: str = Field(min_length=1)
    answer: str
    subject: str = "general"
    type: QuestionType = "free"
    unit: str | None = None
    choices: list[str] | None = None
    tolerance: float | None = Field(default=None, ge=0)
    lean_statement: str | None = None
    lean_imports: list[str] | None = None
    source: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    retrieval: bool | None = None  # per-question override of the run's retrieval setting

    @field_validator("id", "answer", mode="before")
    @classmethod
    def _stringify(cls, v: Any) -> Any:
        # Numbers are common in hand-written JSONL ("answer": 60); keep them as text.
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return str(v)
        return v

    @property
    def gold(self) -> str:
        """The reference answer with its unit, as the verifiers compare it."""
        if self.unit and self.unit.strip() and self.unit.strip() not in self.answer:
            return f"{self.answer} {self.unit.strip()}"
        return self.answer


class Verdict(BaseModel):
    """A verifier's decision on one attempt, with a reason code and details for the critic and the viewer."""

    verifier: str
    ok: bool
    score: float = Field(default=0.0, ge=0.0, le=1.0)
    reason: str
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    required: bool = True

    def __bool__(self) -> bool:  # `if verdict:` reads as "is it ok"
        return self.ok


class Chunk(BaseModel):
    """A retrieved passage of a textbook."""

    id: str
    text: str
    source: str = ""
    page: int | None = None
    section: str | None = None
    subject: str | None = None
    score: float = 0.0


class Attempt(BaseModel):
    """One solution written by the solver or the reviser, with what the verifiers said of it."""

    stage: Stage
    round: int = 0
    solution: str
    extracted_answer: str | None = None
    verdicts: list[Verdict] = Field(default_factory=list)
    critique: str | None = None
    retrieved: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        required = [v for v in self.verdicts if v.required]
        return bool(required) and all(v.ok for v in required)


class Event(BaseModel):
    """One node execution of the graph, stored as soon as the node finishes."""

    trace_id: str
    seq: int
    node: str
    started_at: datetime = Field(default_factory=utcnow)
    latency_ms: float = 0.0
    messages_in: list[dict[str, Any]] = Field(default_factory=list)
    output: Any = None
    tokens_in: int = 0
    tokens_out: int = 0
    model: str | None = None
    error: str | None = None


class Gate(BaseModel):
    score: float | None = None
    decision: Literal["pass", "reject", "skipped"] = "skipped"
    classifier_version: str | None = None
    reason: str = ""


class Trace(BaseModel):
    """The whole story of one question in one run."""

    id: str = Field(default_factory=lambda: new_id("t_"))
    question_id: str
    run_id: str | None = None
    pipeline_version: str = ""
    question: Question | None = None
    status: TraceStatus | Literal["running"] = "running"
    reason: str = ""
    answer_shown: bool = False
    attempts: list[Attempt] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    gate: Gate = Field(default_factory=Gate)
    model: str | None = None
    provider: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None

    @property
    def stage(self) -> str | None:
        return self.attempts[-1].stage if self.attempts else None

    @property
    def accepted_attempt(self) -> Attempt | None:
        """The attempt that made the trace accepted: the last verified one, else the last one."""
        for a in reversed(self.attempts):
            if a.ok:
                return a
        return self.attempts[-1] if self.attempts else None

    @property
    def tokens_in(self) -> int:
        return sum(e.tokens_in for e in self.events)

    @property
    def tokens_out(self) -> int:
        return sum(e.tokens_out for e in self.events)


class Run(BaseModel):
    id: str = Field(default_factory=lambda: new_id("r_"))
    input_path: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    pipeline_version: str = ""
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    tokens: dict[str, dict[str, int]] = Field(default_factory=dict)
    cost_usd: float = 0.0


class Record(BaseModel):
    """One training example made from an accepted trace."""

    trace_id: str
    question_id: str
    prompt: str
    completion: str
    messages: list[dict[str, str]] = Field(default_factory=list)
    subject: str = "general"
    stage: Stage
    answer_shown: bool = False
    gate_score: float | None = None
    gate_decision: str = "skipped"
    provenance: dict[str, Any] = Field(default_factory=dict)
