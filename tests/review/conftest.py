"""Review fixtures: an assistant on a tiny help centre, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.pipeline import Assistant
from tests.fakes import FakeGenerator


@pytest.fixture
def fake() -> FakeGenerator:
    return FakeGenerator()


@pytest.fixture
def assistant(
    settings: Settings, db_url: str, kb_dir: Path, make_assistant, fake: FakeGenerator
) -> Assistant:
    """An assistant serving the tiny help centre, its log in ``db_url`` (both backends)."""
    built = make_assistant(settings.model_copy(update={"database_url": db_url}), fake)
    built.ingest([kb_dir])
    return built
