"""The real embedder's question path: one worker thread, batches of waiting questions, own vectors."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import pytest
import torch

from assistant.retrieval.embedder import Embedder, question_worker
from tests.fakes import FakeEmbedder

QUESTIONS = [
    "How do I get a refund?",
    "reset password link expired",
    "Can express delivery arrive tomorrow if I order at noon?",
    "where is my order",
    "Cancel my subscription please, I was charged twice this month and nobody answers",
]


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class HeldEncode:
    """``embedder.encode`` that records each call and its torch threads; the first waits for ``release``."""

    def __init__(self, encode: Callable, fail: bool = False) -> None:
        self.encode, self.fail = encode, fail
        self.calls: list[list[str]] = []
        self.threads: list[int] = []
        self.release = threading.Event()

    def __call__(self, texts: Sequence[str], **options) -> np.ndarray:
        self.calls.append(list(texts))
        self.threads.append(torch.get_num_threads())
        if len(self.calls) == 1:
            self.release.wait(timeout=30)
        if self.fail:
            raise RuntimeError("model crashed")
        return self.encode(texts, **options)


def ask_concurrently(embedder: Embedder, held: HeldEncode) -> list[np.ndarray | BaseException]:
    """The first question holds the worker; the rest queue behind it, then all are let through."""
    results: list[np.ndarray | BaseException | None] = [None] * len(QUESTIONS)

    def ask(index: int) -> None:
        try:
            results[index] = embedder.encode_query(QUESTIONS[index])
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            results[index] = error

    threads = [threading.Thread(target=ask, args=(index,)) for index in range(len(QUESTIONS))]
    threads[0].start()
    wait_for(lambda: len(held.calls) == 1)
    for thread in threads[1:]:
        thread.start()
    wait_for(lambda: question_worker()._waiting.qsize() == len(QUESTIONS) - 1)
    held.release.set()
    for thread in threads:
        thread.join(timeout=60)
    assert all(result is not None for result in results)
    return results  # type: ignore[return-value]


def test_questions_waiting_for_the_model_share_one_batch_and_get_their_own_vectors(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = [embedder.encode([question])[0] for question in QUESTIONS]
    threads_here = torch.get_num_threads()
    held = HeldEncode(embedder.encode)
    monkeypatch.setattr(embedder, "encode", held)

    vectors = ask_concurrently(embedder, held)

    assert held.calls[0] == QUESTIONS[:1] and sorted(held.calls[1]) == sorted(QUESTIONS[1:])
    assert len(held.calls) == 2
    for vector, expected in zip(vectors, alone, strict=True):
        assert isinstance(vector, np.ndarray) and vector.shape == (embedder.dimension,)
        np.testing.assert_allclose(vector, expected, atol=1e-5)
    # questions are encoded single-threaded; every other thread keeps torch's default
    assert held.threads == [1, 1]
    assert torch.get_num_threads() == threads_here
    other: list[int] = []
    thread = threading.Thread(target=lambda: other.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert other == [threads_here]


def test_a_failed_encode_fails_its_waiting_questions_and_the_worker_goes_on(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = embedder.encode([QUESTIONS[0]])[0]
    held = HeldEncode(embedder.encode, fail=True)
    monkeypatch.setattr(embedder, "encode", held)

    results = ask_concurrently(embedder, held)

    assert all(isinstance(result, RuntimeError) and str(result) == "model crashed" for result in results)
    monkeypatch.undo()
    np.testing.assert_allclose(embedder.encode_query(QUESTIONS[0]), expected, atol=1e-5)


def test_a_forked_process_embeds_questions_with_a_worker_of_its_own() -> None:
    embedder = FakeEmbedder()
    expected = embedder.encode_query("where is my order")  # the parent's worker is running now
    child = os.fork()
    if child == 0:  # the child exits without returning into pytest
        try:
            os._exit(0 if np.allclose(embedder.encode_query("where is my order"), expected) else 1)
        except BaseException:  # noqa: BLE001
            os._exit(2)
    deadline = time.monotonic() + 60
    while (finished := os.waitpid(child, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            pytest.fail("the forked child never got its question embedded")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(finished[1]) == 0
