"""Viewer: traces.verdicts (verifier outcomes as searchable tokens) and the list page's indexes.

The trace viewer filters by verifier outcome ("steps:fail", "answer:timeout"). Reading that out of the
``attempts`` JSON in SQL differs between SQLite and PostgreSQL, so the store keeps a small denormalized
text column (`` answer:ok answer:equal steps:fail steps:wrong_step ``), filled on every write and
backfilled here for traces stored before this revision. The indexes keep the list page fast at 10,000+
traces: (created_at, id) serves newest-first pages without a sort (deep pages too), subject feeds the
filter menu, gate_score the score range, and verdicts lets the outcome filter scan an index instead of
the wide rows. Idempotent: what a database already has (a re-ordered revision chain) is left as it is.

Revision ID: 0003
Revises: 0001
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def _tokens(attempts: Any) -> str | None:
    """Frozen copy of scireflect.store.traces.verdict_tokens, on the stored JSON."""
    for a in reversed(attempts or []):
        verdicts = a.get("verdicts") if isinstance(a, dict) else None
        if verdicts:
            toks = [f"{v.get('verifier')}:{'ok' if v.get('ok') else 'fail'} {v.get('verifier')}:{v.get('reason')}"
                    for v in verdicts]
            return " " + " ".join(toks) + " "
    return None


INDEXES = {"ix_traces_created_id": ["created_at", "id"], "ix_traces_subject": ["subject"],
           "ix_traces_gate_score": ["gate_score"], "ix_traces_verdicts": ["verdicts"]}


def upgrade() -> None:
    bind = op.get_bind()
    if "verdicts" not in {c["name"] for c in sa.inspect(bind).get_columns("traces")}:
        _add_verdicts(bind)
    have = {ix["name"] for ix in sa.inspect(bind).get_indexes("traces")}
    for name, cols in INDEXES.items():
        if name not in have:
            op.create_index(name, "traces", cols)


def _add_verdicts(bind: Any) -> None:
    with op.batch_alter_table("traces") as batch:
        batch.add_column(sa.Column("verdicts", sa.Text(), nullable=True))
    traces = sa.table("traces", sa.column("id", sa.String), sa.column("attempts", sa.JSON),
                      sa.column("verdicts", sa.Text))
    rows = bind.execute(sa.select(traces.c.id, traces.c.attempts)).all()
    for trace_id, attempts in rows:
        tokens = _tokens(attempts)
        if tokens:
            bind.execute(sa.update(traces).where(traces.c.id == trace_id).values(verdicts=tokens))


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="traces")
    with op.batch_alter_table("traces") as batch:
        batch.drop_column("verdicts")
