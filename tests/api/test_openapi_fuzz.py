"""Schemathesis against the served OpenAPI document: no server errors, no responses off the schema.

Every operation (public, widget and admin) is called with generated inputs on a real SQLite
store, a real index and the fake generator. The admin routes get an admin's Bearer token, the
widget routes a valid session header, and training runs are queued but never launched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from assistant.admin.auth import create_api_token, create_user
from assistant.api.app import create_app
from assistant.config import Settings
from assistant.pipeline import Assistant
from assistant.releases import ReleaseRegistry
from assistant.retrieval.embedder import Embedder
from assistant.store import Store
from tests.conftest import write_kb
from tests.fakes import FakeGenerator

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
# Per operation and mode: 20 takes ~1 minute for the whole document; raise it to dig deeper.
EXAMPLES = int(os.environ.get("ASSISTANT_FUZZ_EXAMPLES", "20"))
SESSION = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[FastAPI]:
    """The served app over a tiny help centre on SQLite, rate limits off, run launches stubbed."""
    root = tmp_path_factory.mktemp("fuzz")
    app_settings = Settings(
        home=root / "home", widget_rate_limit_session="", widget_rate_limit_ip="", _env_file=None
    )
    store = Store(app_settings.resolved_database_url)
    store.upgrade()
    assistant = Assistant(
        app_settings,
        store,
        ReleaseRegistry(app_settings.releases_dir),
        embedder=embedder,
        generator_factory=lambda _: FakeGenerator(),
    )
    assistant.ingest([write_kb(root / "kb")])
    assistant.refresh()
    app = create_app(assistant, watch_releases=False)
    app.state.run_launcher = lambda settings, run_id: None  # queue runs, never train
    yield app
    store.engine.dispose()


@pytest.fixture(scope="module")
def auth_headers(fuzz_app: FastAPI) -> dict[str, str]:
    """An admin's Bearer token and a widget session, sent with every request."""
    with fuzz_app.state.assistant.store.session() as session:
        user = create_user(session, "fuzzer", "correct horse battery", "admin")
        token = create_api_token(session, user, "fuzz")
    return {"Authorization": f"Bearer {token}", "X-Assistant-Session": SESSION}


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


def fuzz_operation(
    operation: APIOperation, mode: GenerationMode, headers: dict[str, str]
) -> BaseException | None:
    """Call ``operation`` with generated cases; the first (shrunk) failure, or None."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=EXAMPLES <= 20,  # the default run is the same every time
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except (AssertionError, FailureGroup) as exc:  # a failed check, or several
        return exc
    except Unsatisfiable:  # nothing of this operation can be made invalid (negative mode)
        if mode is GenerationMode.NEGATIVE:
            return None
        raise
    return None


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_operation_conforms_to_the_openapi_document(
    api_schema: schemathesis.BaseSchema, auth_headers: dict[str, str], mode: GenerationMode
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15  # public, widget and admin routes are all in the document
    failures = {}
    for operation in operations:
        error = fuzz_operation(operation, mode, auth_headers)
        if error is not None:
            failures[operation.label] = error
    assert not failures, "\n\n".join(f"{label}:\n{error}" for label, error in failures.items())
