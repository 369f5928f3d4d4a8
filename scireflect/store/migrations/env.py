"""Alembic environment: migrations run programmatically from scireflect.store.migrate()."""

from __future__ import annotations

from alembic import context

from scireflect.store.tables import metadata

config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
