"""Traces the quality gate rejected get their own status, ``gated_out``.

Before this revision a verified trace kept ``accepted_<stage>`` whatever the gate said; only its
``gate_decision`` (and the reason text) said ``reject``. Those traces now read ``gated_out``, as the gate
node writes them from now on: their stage stays in ``traces.stage`` and the reason. A run's stored
``counts`` move them from ``accepted_<stage>`` to ``gated_out``, and a record's ``status`` column (the
trace status it was made from, migration 0004) follows its trace; the record's provenance JSON is left as
it was recorded. Idempotent: a database migrated already has no such rows left.

Revision ID: 0005
Revises: 0004
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Frozen copies of scireflect.schema's statuses as of this revision.
BY_STAGE = {"cot": "accepted_cot", "reflection": "accepted_reflection", "with_answer": "accepted_with_answer"}
ACCEPTED = tuple(BY_STAGE.values())


def _tables() -> tuple[sa.Table, sa.Table, sa.Table]:
    meta = sa.MetaData()
    traces = sa.Table("traces", meta, sa.Column("id", sa.String(64)), sa.Column("run_id", sa.String(64)),
                      sa.Column("status", sa.String(32)), sa.Column("stage", sa.String(32)),
                      sa.Column("gate_decision", sa.String(16)))
    runs = sa.Table("runs", meta, sa.Column("id", sa.String(64)), sa.Column("counts", sa.JSON))
    records = sa.Table("records", meta, sa.Column("trace_id", sa.String(64)), sa.Column("status", sa.String(32)),
                       sa.Column("gate_decision", sa.String(16)))
    return traces, runs, records


def _move_counts(conn: Any, runs: sa.Table, moved: dict[str, dict[str, int]], to: str | None) -> None:
    """Shift each run's counts by ``moved`` (run -> old status -> n): to ``to``, or back when ``to`` is None."""
    for run_id, by_status in moved.items():
        counts = conn.execute(sa.select(runs.c.counts).where(runs.c.id == run_id)).scalar()
        if not isinstance(counts, dict):
            continue
        counts = dict(counts)
        for status, n in by_status.items():
            src, dst = (status, to) if to else ("gated_out", status)
            counts[src] = max(int(counts.get(src, 0)) - n, 0)
            counts[dst] = int(counts.get(dst, 0)) + n
            if not counts[src]:
                counts.pop(src)
        conn.execute(sa.update(runs).where(runs.c.id == run_id).values(counts=counts))


def upgrade() -> None:
    conn = op.get_bind()
    traces, runs, records = _tables()
    gated = sa.and_(traces.c.gate_decision == "reject", traces.c.status.in_(ACCEPTED))
    moved: dict[str, dict[str, int]] = {}
    for run_id, status, n in conn.execute(sa.select(traces.c.run_id, traces.c.status, sa.func.count())
                                          .where(gated, traces.c.run_id.is_not(None))
                                          .group_by(traces.c.run_id, traces.c.status)):
        moved.setdefault(run_id, {})[status] = int(n)
    conn.execute(sa.update(traces).where(gated).values(status="gated_out"))
    _move_counts(conn, runs, moved, "gated_out")
    if "records" in sa.inspect(conn).get_table_names():
        conn.execute(sa.update(records).where(records.c.gate_decision == "reject", records.c.status.in_(ACCEPTED))
                     .values(status="gated_out"))


def downgrade() -> None:
    conn = op.get_bind()
    traces, runs, records = _tables()
    moved: dict[str, dict[str, int]] = {}
    for run_id, stage, n in conn.execute(sa.select(traces.c.run_id, traces.c.stage, sa.func.count())
                                         .where(traces.c.status == "gated_out", traces.c.run_id.is_not(None))
                                         .group_by(traces.c.run_id, traces.c.stage)):
        if stage in BY_STAGE:
            moved.setdefault(run_id, {})[BY_STAGE[stage]] = int(n)
    for stage, status in BY_STAGE.items():
        conn.execute(sa.update(traces).where(traces.c.status == "gated_out", traces.c.stage == stage)
                     .values(status=status))
    _move_counts(conn, runs, moved, None)
    if "records" in sa.inspect(conn).get_table_names():
        stage_of = sa.select(traces.c.stage).where(traces.c.id == records.c.trace_id).scalar_subquery()
        for stage, status in BY_STAGE.items():
            conn.execute(sa.update(records).where(records.c.status == "gated_out", stage_of == stage)
                         .values(status=status))
