"""Test doubles for the model parts only (never for the store, FAISS or HTTP)."""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from assistant.generation.base import Generator
from assistant.retrieval.embedder import Embedder
from assistant.types import Usage


class FakeGenerator(Generator):
    """A generator that answers from the first source of the prompt, word by word.

    ``answer`` fixes the text; ``respond`` computes it from the messages (e.g. a model that
    obeys an injected instruction). Fine for API and pipeline plumbing tests; never for claims
    about answer quality.
    """

    model_id = "fake-generator"

    def __init__(
        self,
        adapter_id: str | None = None,
        answer: str | None = None,
        respond: Callable[[list[dict[str, str]]], str] | None = None,
    ) -> None:
        self.adapter_id = adapter_id
        self.answer = answer
        self.respond = respond
        self.calls: list[list[dict[str, str]]] = []
        self._lock = threading.Lock()

    def stream(
        self, messages: list[dict[str, str]], *, max_new_tokens: int = 64, usage: Usage | None = None
    ) -> Iterator[str]:
        """The answer word by word; a word counts as a token."""
        with self._lock:
            self.calls.append(messages)
        text = self.respond(messages) if self.respond else self.answer
        if text is None:
            first_source = re.search(r"^Source \[1\] [^:]*: (.*)$", messages[-1]["content"], re.M)
            words = first_source.group(1).split()[:25] if first_source else ["No", "sources."]
            text = " ".join(words) + " [1]"
        usage = usage or Usage()
        usage.prompt_tokens = sum(len(m["content"].split()) for m in messages)
        for index, word in enumerate(text.split(" ")[:max_new_tokens]):
            usage.completion_tokens = index + 1
            yield word if index == 0 else " " + word


class FakeEmbedder(Embedder):
    """Hashed bag-of-words vectors: an embedder without a model, for serving plumbing tests only."""

    def __init__(self, dimension: int = 64) -> None:  # deliberately skips loading a model
        self.model_id = "fake-embedder"
        self.dimension = dimension
        self._lock = threading.Lock()
        self._questions, self._questions_prepared = None, True  # questions go through encode()

    @property
    def max_tokens(self) -> int:
        return 256

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                vectors[row, zlib.crc32(word.encode()) % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)
