"""A failing generation server: 502 or 503 with a JSON detail on every answering route, or an
error event ending a stream already under way; never a bare 500, and the question is logged as
before (the pipeline logs an answer however it ends)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from assistant.api.app import create_app
from assistant.config import Settings
from assistant.generation.base import GenerationError, GenerationUnavailable, Generator
from assistant.store import InteractionRow
from assistant.types import Usage

QUESTION = "How do I reset my password?"
UPSTREAM = "http://vllm.internal:8000/v1/chat/completions"
SESSION = "0123456789abcdef0123456789abcdef"
# a sentence the answer check lets through (it is in the password article), then more
WORDS = ["Click", "'Forgot", "password'", "on", "the", "sign-in", "page.", "Then", "follow"]
ROUTES = {
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": QUESTION}]}, {}),
    "chat-stream": (
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": QUESTION}], "stream": True},
        {},
    ),
    "widget": ("/widget/v1/chat", {"message": QUESTION}, {"X-Assistant-Session": SESSION}),
}
FAILURES = {  # the error the generator raises -> (status, what the detail says)
    "bad-answer": (GenerationError, 502, "answered badly"),
    "unavailable": (GenerationUnavailable, 503, "unreachable or timed out"),
}


class FailingGenerator(Generator):
    """Says ``words`` words, then fails as the remote generator does (with ``error``)."""

    model_id = "failing-generator"

    def __init__(self) -> None:
        self.words = 0
        self.error: type[GenerationError] = GenerationError

    def stream(
        self, messages: list[dict[str, str]], *, max_new_tokens: int = 64, usage: Usage | None = None
    ) -> Iterator[str]:
        for index, word in enumerate(WORDS[: self.words]):
            yield word if index == 0 else " " + word
        raise self.error(f"remote generator at {UPSTREAM} failed: boom")


@pytest.fixture
def failing() -> FailingGenerator:
    return FailingGenerator()


@pytest.fixture
def assistant(api_settings: Settings, kb_dir: Path, make_assistant, failing: FailingGenerator):
    """The API's assistant (see conftest) with the failing generator."""
    built = make_assistant(api_settings, failing)
    built.ingest([kb_dir])
    built.refresh()
    return built


def logged(assistant) -> list[tuple[str, str]]:
    with assistant.store.session() as session:
        return [tuple(row) for row in session.execute(select(InteractionRow.question, InteractionRow.answer))]


@pytest.mark.parametrize("failure", FAILURES, ids=list(FAILURES))
@pytest.mark.parametrize("route", ROUTES, ids=list(ROUTES))
def test_a_failure_before_the_first_token_answers_with_its_status(
    client: TestClient, assistant, failing: FailingGenerator, route: str, failure: str, caplog
) -> None:
    path, body, headers = ROUTES[route]
    failing.error, status, said = FAILURES[failure]
    with caplog.at_level(logging.ERROR, logger="assistant.api.errors"):
        response = client.post(path, json=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert "generation server" in detail and said in detail
    assert "vllm.internal" not in response.text  # the upstream's address and answer stay in the log
    assert UPSTREAM in caplog.text
    assert logged(assistant) == [(QUESTION, "")]  # logged, as the pipeline logs any answer that ended


@pytest.mark.parametrize("route", ["chat-stream", "widget"])
def test_a_failure_mid_stream_ends_it_with_an_error_event(
    client: TestClient, assistant, failing: FailingGenerator, route: str, caplog
) -> None:
    path, body, headers = ROUTES[route]
    failing.words = len(WORDS)
    with caplog.at_level(logging.ERROR, logger="assistant.api.errors"):
        response = client.post(path, json=body, headers=headers)
    assert response.status_code == 200  # the answer had started
    events = [part[len("data: ") :] for part in response.text.split("\n\n") if part.startswith("data: ")]
    assert "[DONE]" not in events
    *chunks, last = [json.loads(event) for event in events]
    assert last == {
        "error": {
            "message": "the answer could not be generated: the generation server answered badly",
            "type": "generation_error",
            "code": 502,
        }
    }
    streamed = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)
    assert streamed.startswith("Click 'Forgot password'")
    assert UPSTREAM in caplog.text
    [(question, answer)] = logged(assistant)
    assert question == QUESTION and streamed.startswith(answer)  # logged as far as it got


def test_a_stream_that_fails_frees_its_generation_slot(assistant, failing: FailingGenerator) -> None:
    assistant.settings = assistant.settings.model_copy(update={"max_concurrent_generations": 1})
    path, body, headers = ROUTES["chat-stream"]
    with TestClient(create_app(assistant, watch_releases=False)) as one_slot:
        for _ in range(3):  # each would wait for the slot the one before held, and be shed
            assert one_slot.post(path, json=body, headers=headers).status_code == 502
        failing.words = len(WORDS)
        assert one_slot.post(path, json=body, headers=headers).status_code == 200
        assert one_slot.post(path, json=body, headers=headers).status_code == 200
