"""Store fixtures; ``db_url`` (tests/conftest.py) runs each test on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from assistant import store


@pytest.fixture
def db(db_url: str) -> Iterator[store.Store]:
    """A migrated store."""
    instance = store.Store(db_url)
    instance.upgrade()
    yield instance
    instance.close()


def add_interaction(
    session: Session, conversation_id: str = "conv-1", question: str = "How do I reset my password?", **fields
) -> str:
    """Log one interaction (creating its conversation) with plausible defaults."""
    store.get_or_create_conversation(session, conversation_id=conversation_id, channel="api", user_id="u1")
    values = {"answer": "Use the reset link [1].", "release_id": "r1", "model_id": "m", "index_id": "i1"}
    values.update(fields)
    return store.record_interaction(session, conversation_id=conversation_id, question=question, **values)


@pytest.fixture(name="add_interaction")
def add_interaction_fixture():
    """:func:`add_interaction`, for tests to call."""
    return add_interaction


@pytest.fixture
def interaction_id(db: store.Store) -> str:
    """The id of one committed interaction."""
    with db.session() as session:
        return add_interaction(session)
