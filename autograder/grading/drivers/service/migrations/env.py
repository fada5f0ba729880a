"""Alembic environment of the service's database: run on the connection the service hands in (db.upgrade)."""

from __future__ import annotations

from alembic import context

from autograder.grading.drivers.service.db import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the service's migrations through autograder.grading.drivers.service.db.upgrade")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
