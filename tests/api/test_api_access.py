"""Who may use the /v1 API: API keys when configured, and only the owner continues a conversation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from assistant.api.app import create_app
from assistant.config import Settings
from assistant.store import InteractionRow

ASK = {"messages": [{"role": "user", "content": "How do I reset my password?"}]}
KEYS = "key-one-0123456789, key-two-0123456789"


@pytest.fixture
def keyed_assistant(tmp_path, db_url: str, kb_dir, make_assistant):
    settings = Settings(home=tmp_path / "keyed", database_url=db_url, api_keys=KEYS, _env_file=None)
    built = make_assistant(settings)
    built.ingest([kb_dir])
    built.refresh()
    return built


@pytest.fixture
def keyed(keyed_assistant) -> Iterator[TestClient]:
    with TestClient(create_app(keyed_assistant, watch_releases=False)) as test_client:
        yield test_client


def logged(assistant) -> int:
    with assistant.store.session() as session:
        return session.scalar(select(func.count()).select_from(InteractionRow))


BAD_HEADERS = [None, "Bearer wrong", "key-one-0123456789", "Basic key-one-0123456789", "Bearer key-one"]


def test_every_v1_route_refuses_a_missing_or_wrong_key(keyed, keyed_assistant) -> None:
    """Every /v1 operation the app documents (not a hand-made list: a new one is covered too)."""
    paths = keyed.get("/openapi.json").json()["paths"]
    routes = [(m.upper(), path) for path, ops in paths.items() if path.startswith("/v1/") for m in ops]
    expected = {"/v1/chat/completions", "/v1/models", "/v1/search", "/v1/feedback"}
    assert {path for _, path in routes} >= expected
    for method, path in routes:
        for header in BAD_HEADERS:
            headers = {"Authorization": header} if header else {}
            response = keyed.request(method, path, json=ASK, headers=headers)
            assert response.status_code == 401, (method, path, header)
            assert "ASSISTANT_API_KEYS" in response.json()["detail"]
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert logged(keyed_assistant) == 0


def test_a_key_no_header_can_carry_is_a_clear_settings_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        Settings(home=tmp_path, api_keys="good-key-0123, clé secrète", _env_file=None)


def test_any_configured_key_opens_the_api(keyed, keyed_assistant) -> None:
    for key in ("key-one-0123456789", "key-two-0123456789"):
        response = keyed.post("/v1/chat/completions", json=ASK, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200 and response.json()["interaction_id"]
    assert logged(keyed_assistant) == 2
    assert keyed.get("/healthz").status_code == 200  # probes need no key


def test_the_try_page_is_off_when_the_api_needs_a_key(keyed) -> None:
    page = keyed.get("/").text
    assert "ASSISTANT_API_KEYS" in page and "/try.js" not in page


def test_without_keys_the_api_and_try_page_are_open(client) -> None:
    assert client.get("/v1/models").status_code == 200
    assert "/try.js" in client.get("/").text


def test_another_user_cannot_continue_a_conversation(client, assistant) -> None:
    """Knowing a conversation id gives neither its history as context nor a place in its log."""
    secret = "my order 4471 goes to 12 Elm Street"
    first = client.post(
        "/v1/chat/completions",
        json={
            "messages": [{"role": "user", "content": f"How do I reset my password? {secret}"}],
            "conversation_id": "conv-ana",
            "user": "ana",
        },
    )
    assert first.status_code == 200
    for intruder in ({"user": "bob"}, {}, {"user": "ana", "channel": "web"}):
        response = client.post(
            "/v1/chat/completions",
            json={**ASK, "conversation_id": "conv-ana", "stream": True, **intruder},
        )
        assert response.status_code == 404 and "conv-ana" in response.json()["detail"]
        assert secret not in response.text
    again = client.post("/v1/chat/completions", json={**ASK, "conversation_id": "conv-ana", "user": "ana"})
    assert again.status_code == 200
    with assistant.store.session() as session:
        query = select(InteractionRow).where(InteractionRow.conversation_id == "conv-ana")
        rows = session.scalars(query).all()
    assert len(rows) == 2 and logged(assistant) == 2
