"""Test doubles for the model parts only (never for the store, FAISS or HTTP)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator


class FakeGenerator:
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
            first_source = re.search(r"\[1\](.*?)(?=\n\s*\[2\]|\Z)", messages[-1]["content"], re.S)
            words = first_source.group(1).split()[:25] if first_source else ["No", "sources."]
            text = " ".join(words) + " [1]"
        for index, word in enumerate(text.split(" ")[:max_new_tokens]):
            yield word if index == 0 else " " + word

    def generate(self, messages: list[dict[str, str]], *, max_new_tokens: int = 64) -> str:
        return "".join(self.stream(messages, max_new_tokens=max_new_tokens))

    def warmup(self) -> None:
        pass
