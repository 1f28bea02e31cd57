"""Overload is shed: past ``max_concurrent_generations`` a question gets 503 + Retry-After, fast."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from assistant.api.shedding import GenerationSlots, in_threads
from assistant.config import Settings
from assistant.store import InteractionRow
from tests.fakes import FakeGenerator

QUESTION = {
    "model": "support-assistant",
    "messages": [{"role": "user", "content": "How do I reset my password?"}],
}
SESSION = "0123456789abcdef0123456789abcdef"


class BlockingGenerator(FakeGenerator):
    """Starts an answer, then waits for ``gate`` before saying anything."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.gate = threading.Event()

    def stream(
        self, messages: list[dict[str, str]], *, max_new_tokens: int = 64, usage=None
    ) -> Iterator[str]:
        self.started.set()
        assert self.gate.wait(20), "the test never opened the gate"
        yield from super().stream(messages, max_new_tokens=max_new_tokens, usage=usage)


@pytest.fixture
def blocking() -> BlockingGenerator:
    return BlockingGenerator()


@pytest.fixture
def assistant(tmp_path: Path, db_url: str, kb_dir: Path, make_assistant, blocking: BlockingGenerator):
    """One generation slot, a 0.1 s queue, widget rate limits off, the blocking generator."""
    settings = Settings(
        home=tmp_path / "home",
        database_url=db_url,
        max_concurrent_generations=1,
        generation_queue_seconds=0.1,
        widget_rate_limit_session="",
        widget_rate_limit_ip="",
        _env_file=None,
    )
    built = make_assistant(settings, blocking)
    built.ingest([kb_dir])
    built.refresh()
    return built


def logged(assistant) -> int:
    with assistant.store.session() as session:
        return session.scalar(select(func.count()).select_from(InteractionRow))


def test_a_question_past_the_limit_gets_503_with_retry_after(live_url: str, assistant, blocking) -> None:
    first: list[httpx.Response] = []
    holder = threading.Thread(
        target=lambda: first.append(httpx.post(f"{live_url}/v1/chat/completions", json=QUESTION, timeout=30))
    )
    holder.start()
    assert blocking.started.wait(10)
    started = time.monotonic()
    shed = httpx.post(f"{live_url}/v1/chat/completions", json={**QUESTION, "stream": True}, timeout=10)
    widget = httpx.post(
        f"{live_url}/widget/v1/chat",
        json={"message": "How do I reset my password?"},
        headers={"X-Assistant-Session": SESSION},
        timeout=10,
    )
    assert time.monotonic() - started < 5  # answered after the short queue wait, not a timeout
    for response in (shed, widget):
        assert response.status_code == 503, response.text
        assert int(response.headers["Retry-After"]) >= 1
        assert "try again" in response.json()["detail"]
    blocking.gate.set()
    holder.join(30)
    assert first[0].status_code == 200
    assert logged(assistant) == 1  # only the answered question is in the log
    again = httpx.post(f"{live_url}/v1/chat/completions", json=QUESTION, timeout=30)
    assert again.status_code == 200  # the slot came back


def test_a_stream_dropped_before_it_starts_frees_its_slot() -> None:
    slots = GenerationSlots(1, 0.05)
    stream = slots.hold(lambda: iter([1, 2]))
    del stream
    gc.collect()
    assert list(slots.hold(lambda: iter([3]))) == [3]
    held = slots.hold(lambda: iter([4]))
    with pytest.raises(Exception, match="answering 1 questions"):
        slots.hold(lambda: iter([5]))
    assert list(held) == [4]


def test_a_client_gone_mid_answer_frees_the_slot_and_logs_the_answer(
    live_url: str, assistant, blocking
) -> None:
    blocking.gate.set()
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST", f"{live_url}/v1/chat/completions", json={**QUESTION, "stream": True}
        ) as response,
    ):
        assert next(response.iter_lines()).startswith("data: ")  # then hang up mid-answer
    deadline = time.monotonic() + 10
    while logged(assistant) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert logged(assistant) == 1
    again = httpx.post(f"{live_url}/v1/chat/completions", json=QUESTION, timeout=30)
    assert again.status_code == 200


def test_a_stream_read_on_its_thread_joins_what_queued_and_raises_what_broke_it() -> None:
    produced = threading.Event()

    def chunks() -> Iterator[str]:
        yield "a"
        yield "b"
        produced.set()
        yield "c"
        raise RuntimeError("generator broke")

    async def read() -> list[str]:
        received = []
        stream = in_threads(chunks())
        received.append(await anext(stream))
        while not produced.is_set():  # the consumer is busy while the thread hands more over
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        with pytest.raises(RuntimeError, match="generator broke"):
            async for text in stream:
                received.append(text)
        return received

    received = asyncio.run(read())
    assert "".join(received) == "abc"
    assert len(received) < 3  # what queued while the consumer was busy came as one piece


def test_a_stream_left_early_is_closed_on_its_thread_before_the_response_ends() -> None:
    closed: list[str] = []
    endless = threading.Event()

    def chunks() -> Iterator[str]:
        try:
            while True:
                yield "word "
                endless.wait(0.01)
        finally:
            closed.append(threading.current_thread().name)

    async def leave_after_one() -> None:
        stream = in_threads(chunks())
        assert (await anext(stream)).startswith("word ")
        await stream.aclose()
        assert closed == ["answer-stream"]  # closed (and so logged) before aclose returned

    asyncio.run(leave_after_one())
