"""Alembic environment of the label store: runs on the connection that wsp_core hands over."""

from alembic import context

from wsp_core.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - wsp_core always passes its connection
    raise RuntimeError("run the store's migrations through wsp_core.store.db.migrate()")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
