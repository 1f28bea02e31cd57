"""Search, feedback and health endpoints."""

from __future__ import annotations

import gc
import threading

import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app, release_watcher
from assistant.store import feedback_for


def ask(client: TestClient) -> str:
    body = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "reset password?"}]}
    )
    return body.json()["interaction_id"]


def test_search_matches_the_cli_shape(client: TestClient) -> None:
    hits = client.get("/v1/search", params={"q": "express delivery", "k": 2}).json()
    assert len(hits) == 2 and hits[0]["doc_id"] == "shipping/options.md"
    assert set(hits[0]) == {"doc_id", "chunk_id", "title", "source", "score", "text"}


@pytest.mark.parametrize("params", [{"q": ""}, {"q": "x", "k": 0}, {"q": "x", "k": 500}, {}])
def test_search_validates(client: TestClient, params: dict) -> None:
    assert client.get("/v1/search", params=params).status_code == 422


def test_feedback_is_idempotent_per_interaction_and_voter(client: TestClient, assistant) -> None:
    interaction = ask(client)
    vote = {"interaction_id": interaction, "rating": "up", "voter": "cust-1"}
    first = client.post("/v1/feedback", json=vote)
    again = client.post("/v1/feedback", json=vote)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    resolved = client.post(
        "/v1/feedback", json={"interaction_id": interaction, "resolution": "resolved", "voter": "cust-1"}
    )
    assert resolved.status_code == 201
    with assistant.store.session() as session:
        events = feedback_for(session, interaction)
    assert [(e.rating, e.resolution) for e in events] == [("up", None), (None, "resolved")]


def test_concurrent_duplicate_feedback_is_stored_once(client: TestClient, assistant) -> None:
    interaction = ask(client)
    vote = {"interaction_id": interaction, "rating": "down", "voter": "v", "comment": "wrong"}
    codes: list[int] = []
    threads = [
        threading.Thread(target=lambda: codes.append(client.post("/v1/feedback", json=vote).status_code))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] * 5 + [201]
    with assistant.store.session() as session:
        assert len(feedback_for(session, interaction)) == 1


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"interaction_id": "missing", "rating": "up"}, 404),
        ({"rating": "up"}, 422),
        ({"interaction_id": "x", "rating": "meh"}, 422),
        ({"interaction_id": "x"}, 422),
        ({"interaction_id": "x", "rating": "up", "comment": "c" * 2001}, 422),
        ({"interaction_id": "x", "rating": "up", "extra": 1}, 422),
    ],
)
def test_bad_feedback_is_refused_and_loses_nothing(
    client: TestClient, assistant, payload: dict, status: int
) -> None:
    interaction = ask(client)
    client.post("/v1/feedback", json={"interaction_id": interaction, "rating": "up"})
    response = client.post("/v1/feedback", json=payload)
    assert response.status_code == status and "detail" in response.json()
    with assistant.store.session() as session:
        assert len(feedback_for(session, interaction)) == 1


def test_health_and_readiness(client: TestClient, assistant) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["release"] == assistant.registry.current_id()


def test_not_ready_without_a_release(api_settings, make_assistant) -> None:
    empty = make_assistant(api_settings)
    with TestClient(create_app(empty, watch_releases=False)) as client:
        empty.refresh()
        response = client.get("/readyz")
    assert response.status_code == 503 and "assistant ingest" in response.json()["detail"]


def test_try_page_is_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/v1/chat/completions" in page.text


def test_release_watcher_freezes_the_heap_once_models_load(api_settings, kb_dir, make_assistant) -> None:
    built = make_assistant(api_settings)
    built.ingest([kb_dir])  # the index is loaded; the generator is not yet
    watcher = release_watcher(built, 3600)
    gc.unfreeze()
    try:
        watcher.work()  # loads the generator: what serves changed
        assert built.loaded is not None and built.loaded.generator is not None
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        watcher.work()  # nothing new to load: the heap is left alone
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()


def test_the_openapi_document_is_served_and_no_blank_docs_pages(client) -> None:
    assert "/v1/chat/completions" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
