"""Table definitions shared by SQLite and PostgreSQL (SQLAlchemy Core). Changes need a migration."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", String(64), primary_key=True),
    Column("input_path", Text),
    Column("settings", JSON, nullable=False, default=dict),
    Column("pipeline_version", String(64), nullable=False, default=""),
    Column("status", String(32), nullable=False, default="running"),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("counts", JSON, nullable=False, default=dict),
    Column("tokens", JSON, nullable=False, default=dict),
    Column("cost_usd", Float, nullable=False, default=0.0),
)

traces = Table(
    "traces", metadata,
    Column("id", String(64), primary_key=True),
    Column("question_id", String(255), nullable=False),
    Column("run_id", String(64)),
    Column("pipeline_version", String(64), nullable=False, default=""),
    Column("status", String(32), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("stage", String(32)),
    Column("subject", String(128)),
    Column("qtype", String(32)),
    Column("question_text", Text),
    Column("answer_shown", Boolean, nullable=False, default=False),
    Column("question", JSON),
    Column("attempts", JSON, nullable=False, default=list),
    Column("gate", JSON, nullable=False, default=dict),
    Column("gate_score", Float),
    Column("gate_decision", String(16)),
    Column("model", String(255)),
    Column("provider", String(32)),
    Column("tokens_in", Integer, nullable=False, default=0),
    Column("tokens_out", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    # " answer:ok answer:equal steps:fail steps:wrong_step ": the final attempt's verdicts, so the
    # viewer can filter by verifier outcome without parsing JSON in SQL (migration 0003).
    Column("verdicts", Text),
    Index("ix_traces_question_version", "question_id", "pipeline_version"),
    Index("ix_traces_status", "status"),
    Index("ix_traces_run", "run_id"),
    Index("ix_traces_created", "created_at"),
    # The viewer's list page (migration 0003): newest-first pages without a sort, filter menus from an index.
    Index("ix_traces_created_id", "created_at", "id"),
    Index("ix_traces_subject", "subject"),
    Index("ix_traces_gate_score", "gate_score"),
    Index("ix_traces_verdicts", "verdicts"),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trace_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("node", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("latency_ms", Float, nullable=False, default=0.0),
    Column("messages_in", JSON, nullable=False, default=list),
    Column("output", JSON),
    Column("tokens_in", Integer, nullable=False, default=0),
    Column("tokens_out", Integer, nullable=False, default=0),
    Column("model", String(255)),
    Column("error", Text),
    Index("ix_events_trace_seq", "trace_id", "seq", unique=True),
)

records = Table(
    "records", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trace_id", String(64), nullable=False, unique=True),
    Column("question_id", String(255), nullable=False),
    Column("pipeline_version", String(64), nullable=False, default=""),
    Column("subject", String(128)),
    Column("stage", String(32)),
    Column("answer_shown", Boolean, nullable=False, default=False),
    Column("prompt", Text, nullable=False),
    Column("completion", Text, nullable=False),
    Column("messages", JSON, nullable=False, default=list),
    Column("gate_score", Float),
    Column("gate_decision", String(16)),
    Column("provenance", JSON, nullable=False, default=dict),
    Column("created_at", DateTime(timezone=True)),
    # Provenance the export and stats filter or group on (migration 0004); the rest is in `provenance`.
    Column("run_id", String(64)),
    Column("status", String(32)),
    Column("model", String(255)),
    Column("provider", String(32)),
    Column("question_source", String(255)),
    Column("classifier_version", String(64)),
    Column("gate_reason", Text),
    Index("ix_records_question_version", "question_id", "pipeline_version"),
    Index("ix_records_gate_decision", "gate_decision"),
    Index("ix_records_subject", "subject"),
    Index("ix_records_run", "run_id"),
)
