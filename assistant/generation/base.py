"""The generator plugin surface: one small class every backend implements.

Use :func:`load_generator` to get the backend the settings ask for; implement
:class:`Generator` to add a backend (tests use a fake one).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from assistant.config import Settings
from assistant.types import Usage


class GenerationError(RuntimeError):
    """Generation failed: the backend is unreachable, timed out, or answered nonsense."""


class Generator(ABC):
    """A chat model that streams an answer for a list of ``{"role", "content"}`` messages."""

    model_id: str
    adapter_id: str | None = None

    @abstractmethod
    def stream(
        self, messages: list[dict[str, str]], *, max_new_tokens: int, usage: Usage | None = None
    ) -> Iterator[str]:
        """Yield the answer's text in pieces, as soon as each is produced; fill in ``usage``
        (tokens read and written) where the backend can tell."""

    def generate(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> str:
        """The whole answer at once; use when nothing is streamed to a user."""
        return "".join(self.stream(messages, max_new_tokens=max_new_tokens))

    def warmup(self) -> None:  # noqa: B027 - optional hook; most backends have nothing to warm
        """Pay one-off start-up costs before the first user does (servers call it before a swap)."""


def load_generator(settings: Settings) -> Generator:
    """The generator the settings choose: local transformers, or a remote OpenAI-compatible server."""
    if settings.generator_backend == "remote":
        from assistant.generation.remote import RemoteGenerator

        return RemoteGenerator(
            settings.remote_base_url,
            settings.remote_model or settings.generator,
            api_key=settings.remote_api_key,
            timeout_s=settings.remote_timeout_s,
            temperature=settings.temperature,
            ask_usage=settings.remote_usage,
        )
    from assistant.generation.local import LocalGenerator  # imports torch: only when asked for

    return LocalGenerator(
        settings.generator,
        cache_dir=settings.model_cache_dir,
        adapter=settings.adapter or None,
        quantize=settings.quantize,
        num_threads=settings.num_threads,
        temperature=settings.temperature,
    )
