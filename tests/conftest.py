"""Shared fixtures: databases, the real embedder, a fake generator, tiny knowledge bases."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# the suite's releases start on the base model; the tests of the starter adapter opt in
os.environ.setdefault("ASSISTANT_STARTER_ADAPTER", "")

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from assistant import config
from assistant.config import Settings
from assistant.pipeline import Assistant
from assistant.releases import ReleaseRegistry
from assistant.retrieval.embedder import Embedder
from assistant.store import Store
from tests.fakes import FakeGenerator

POSTGRES_URL = os.environ.get(
    "ASSISTANT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@functools.cache
def postgres_unreachable() -> str | None:
    """Why the PostgreSQL tests cannot run, or None when the server answers."""
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure to connect means: skip, and say why
        safe = make_url(POSTGRES_URL).render_as_string(hide_password=True)
        return f"PostgreSQL at {safe} is unreachable (set ASSISTANT_TEST_POSTGRES_URL): {error}"
    finally:
        engine.dispose()
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections see only a fresh, uniquely named schema (dropped afterwards)."""
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"assistant_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty database: a SQLite file in a not-yet-existing folder, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'assistant.db'}"
    return request.getfixturevalue("postgres_url")


# A test with the real models that takes half a minute or more runs on one backend only (its
# cheaper siblings cover both); decorate it with one of these.
ON_SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
ON_POSTGRES = pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``$ASSISTANT_TEST_MODEL_CACHE`` (kept between runs), else a cache made once per session."""
    given = os.environ.get("ASSISTANT_TEST_MODEL_CACHE")
    return Path(given) if given else tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default embedder (offline MiniLM), loaded once."""
    return Embedder()


KB = {
    "refunds.md": "---\nurl: https://help.example.com/refunds\n---\n# Getting a refund\n\n"
    "Refunds are paid to the original payment method within 5 business days after we receive the return.\n\n"
    "## Tracking a refund\n\nOpen Orders, pick the order and read the refund status line.\n",
    "password.md": "# Resetting your password\n\nClick 'Forgot password' on the sign-in page and follow "
    "the link we email you. The link expires after 30 minutes.\n",
    "shipping/options.md": "# Delivery options\n\nWe ship with standard (3-5 days) and express (next day) "
    "delivery. Express orders placed before 2 pm leave the same day.\n",
}


def write_kb(folder: Path, files: dict[str, str] = KB) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return folder


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    """A tiny help centre: three Markdown articles, one in a sub-folder."""
    return write_kb(tmp_path / "kb")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", _env_file=None)


@pytest.fixture
def make_assistant(embedder: Embedder):
    """Build an :class:`Assistant` on given settings with the fake generator (real everything else)."""

    def build(settings: Settings, generator: FakeGenerator | None = None) -> Assistant:
        store = Store(settings.resolved_database_url)
        store.upgrade()
        fake = generator or FakeGenerator()
        return Assistant(
            settings,
            store,
            ReleaseRegistry(settings.releases_dir),
            embedder=embedder,
            generator_factory=lambda _: fake,
        )

    return build


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


@pytest.fixture
def home(
    tmp_path: Path, kb_dir: Path, make_assistant, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Assistant]:
    """An assistant on the tiny help centre whose data home the CLI uses too (SQLite)."""
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "home"))
    config.get_settings.cache_clear()
    built = make_assistant(Settings(home=tmp_path / "home", _env_file=None))
    built.ingest([kb_dir])
    yield built
    config.get_settings.cache_clear()
