"""Records: provenance and gate columns the export filters on, and indexes for those filters.

Adds run id, model, provider, question source, trace status, classifier version and the gate's
reason as plain columns (the full provenance stays in the ``provenance`` JSON), so ``store export``
and ``store stats`` filter and group in SQL on SQLite and PostgreSQL alike. Idempotent: columns and
indexes that already exist are left as they are.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = {"run_id": sa.String(64), "status": sa.String(32), "model": sa.String(255), "provider": sa.String(32),
           "question_source": sa.String(255), "classifier_version": sa.String(64), "gate_reason": sa.Text()}
INDEXES = {"ix_records_gate_decision": ["gate_decision"], "ix_records_subject": ["subject"],
           "ix_records_run": ["run_id"]}


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    have = {c["name"] for c in insp.get_columns("records")}
    have_ix = {ix["name"] for ix in insp.get_indexes("records")}
    missing = [name for name in COLUMNS if name not in have]
    if missing:
        with op.batch_alter_table("records") as batch:
            for name in missing:
                batch.add_column(sa.Column(name, COLUMNS[name], nullable=True))
    for name, cols in INDEXES.items():
        if name not in have_ix:
            op.create_index(name, "records", cols)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="records")
    with op.batch_alter_table("records") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
