"""Test doubles for the model parts only (never for the store, FAISS or HTTP)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

from assistant.generation.base import Generator


class FakeGenerator(Generator):
    """A generator that answers from the first source of the prompt, word by word.

    Fine for API and pipeline plumbing tests; never for claims about answer quality.
    """

    model_id = "fake-generator"

    def __init__(self, adapter_id: str | None = None, answer: str | None = None) -> None:
        self.adapter_id = adapter_id
        self.answer = answer
        self.calls: list[list[dict[str, str]]] = []
        self._lock = threading.Lock()

    def stream(self, messages: list[dict[str, str]], *, max_new_tokens: int = 64) -> Iterator[str]:
        with self._lock:
            self.calls.append(messages)
        text = self.answer
        if text is None:
            first_source = re.search(r"^Source \[1\] [^:]*: (.*)$", messages[-1]["content"], re.M)
            words = first_source.group(1).split()[:25] if first_source else ["No", "sources."]
            text = " ".join(words) + " [1]"
        for index, word in enumerate(text.split(" ")[:max_new_tokens]):
            yield word if index == 0 else " " + word
