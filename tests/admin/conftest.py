"""Admin fixtures: an assistant and its HTTP app on SQLite and PostgreSQL, users with tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.admin.auth import create_api_token, create_user
from assistant.api.app import create_app
from assistant.config import Settings
from assistant.pipeline import Assistant

PASSWORD = "correct horse battery"


@pytest.fixture
def assistant(settings: Settings, db_url: str, kb_dir: Path, make_assistant) -> Assistant:
    built = make_assistant(settings.model_copy(update={"database_url": db_url}))
    built.ingest([kb_dir])
    return built


@pytest.fixture
def client(assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(create_app(assistant, watch_releases=False)) as test_client:
        yield test_client


@pytest.fixture
def make_token(assistant: Assistant):
    """Create a user with ``role`` and return ``Authorization`` headers for a fresh token of theirs."""

    def make(username: str, role: str) -> dict[str, str]:
        with assistant.store.session() as session:
            user = create_user(session, username, PASSWORD, role)
            token = create_api_token(session, user, "test")
        return {"Authorization": f"Bearer {token}"}

    return make
