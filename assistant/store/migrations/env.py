"""Alembic environment for the conversation log.

Run programmatically through :mod:`assistant.store.migrate` (which hands over a connection),
or with the alembic CLI: ``alembic -c assistant/store/alembic.ini -x url=URL upgrade head``
(without ``-x url`` the database of ``ASSISTANT_DATABASE_URL`` / the data home is used).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from assistant.store.models import Base

# Any constant: only one process migrates a PostgreSQL database at a time.
PG_MIGRATION_LOCK = 7_300_451_001

target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if url:
        return url
    from assistant.config import get_settings

    return get_settings().resolved_database_url


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"))
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    from assistant.store.db import make_engine

    engine = make_engine(_url())
    try:
        with engine.begin() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
