"""The real embedder's question path: one worker thread, batches of waiting questions, own vectors."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import pytest
import torch

from assistant.retrieval import onnx_questions
from assistant.retrieval.embedder import Embedder, question_worker
from assistant.retrieval.onnx_questions import OnnxQuestionEncoder
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
    """``encode_questions`` recording each call and its torch threads; the first waits for ``release``."""

    def __init__(self, encode: Callable, fail: bool = False) -> None:
        self.encode, self.fail = encode, fail
        self.calls: list[list[str]] = []
        self.threads: list[int] = []
        self.release = threading.Event()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        self.threads.append(torch.get_num_threads())
        if len(self.calls) == 1:
            self.release.wait(timeout=30)
        if self.fail:
            raise RuntimeError("model crashed")
        return self.encode(texts)


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
    held = HeldEncode(embedder.encode_questions)
    monkeypatch.setattr(embedder, "encode_questions", held)

    vectors = ask_concurrently(embedder, held)

    assert held.calls[0] == QUESTIONS[:1] and sorted(held.calls[1]) == sorted(QUESTIONS[1:])
    assert len(held.calls) == 2
    for vector, expected in zip(vectors, alone, strict=True):
        assert isinstance(vector, np.ndarray) and vector.shape == (embedder.dimension,)
        np.testing.assert_allclose(vector, expected, atol=1e-5)
    # questions are encoded single-threaded (torch's count matters where ONNX is not used);
    # every other thread keeps torch's default
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
    held = HeldEncode(embedder.encode_questions, fail=True)
    monkeypatch.setattr(embedder, "encode_questions", held)

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


def test_questions_on_a_cpu_are_embedded_by_onnx_runtime_as_torch_embeds_them(embedder: Embedder) -> None:
    embedder.warmup()
    assert isinstance(embedder._questions, OnnxQuestionEncoder)
    by_torch = embedder.encode(QUESTIONS)
    by_onnx = embedder.encode_questions(QUESTIONS)  # one padded batch of mixed lengths
    assert by_onnx.dtype == np.float32 and by_onnx.shape == by_torch.shape
    np.testing.assert_allclose(by_onnx, by_torch, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(by_onnx, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(embedder.encode_query(QUESTIONS[2]), by_torch[2], atol=1e-5)


def test_a_model_that_does_not_export_keeps_torch_for_its_questions(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_export(*args, **kwargs) -> None:
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(torch.onnx, "export", broken_export)
    with caplog.at_level(logging.WARNING, logger=onnx_questions.__name__):
        assert onnx_questions.export_questions_encoder(embedder._model) is None
    assert "ONNX export failed (unsupported operator)" in caplog.text

    fresh = Embedder()  # its warmup meets the broken exporter: questions go through torch
    expected = embedder.encode([QUESTIONS[0]])[0]
    np.testing.assert_allclose(fresh.encode_query(QUESTIONS[0]), expected, atol=1e-5)
    assert fresh._questions is None


def test_an_export_that_differs_from_torch_is_not_used(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_embed = OnnxQuestionEncoder.embed
    monkeypatch.setattr(OnnxQuestionEncoder, "embed", lambda self, feats: real_embed(self, feats) + 0.01)
    with caplog.at_level(logging.WARNING, logger=onnx_questions.__name__):
        assert onnx_questions.export_questions_encoder(embedder._model) is None
    assert "the ONNX export differs by 0.01" in caplog.text
