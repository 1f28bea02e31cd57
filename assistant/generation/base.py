"""The generator plugin surface: one small class every backend implements.

Use :func:`load_generator` to get the backend the settings ask for. To add a backend, implement
:class:`Generator` (``stream`` and ``from_settings``) and name it in :data:`BACKENDS`; tests
inject a fake one through the pipeline's ``generator_factory``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from importlib import import_module

from assistant.config import Settings
from assistant.types import Usage


class GenerationError(RuntimeError):
    """Generation failed: the backend is unreachable, timed out, or answered nonsense."""


class GenerationUnavailable(GenerationError):
    """The backend could not be reached or did not answer in time: trying again later may work."""


class Generator(ABC):
    """A chat model that streams an answer for a list of ``{"role", "content"}`` messages."""

    model_id: str
    adapter_id: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Generator:
        """The backend configured by ``settings`` (what :func:`load_generator` calls)."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from settings")

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


# The backends ``ASSISTANT_GENERATOR_BACKEND`` can name, as "module:Class". The module is imported
# only when its backend is chosen: the local one loads torch and transformers.
BACKENDS: dict[str, str] = {
    "local": "assistant.generation.local:LocalGenerator",
    "remote": "assistant.generation.remote:RemoteGenerator",
}


def load_generator(settings: Settings) -> Generator:
    """The generator the settings choose (a :data:`BACKENDS` entry), built by its ``from_settings``."""
    module, _, name = BACKENDS[settings.generator_backend].partition(":")  # Settings allows these only
    backend: type[Generator] = getattr(import_module(module), name)
    return backend.from_settings(settings)
