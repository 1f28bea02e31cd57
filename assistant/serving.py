"""What answers now: the active release's retriever and generator, loaded and swapped atomically.

:class:`LiveServing` loads the active release (its index, the embedder it was built with, its
LoRA adapter) and :meth:`LiveServing.refresh` swaps in a newly activated one after warming it,
so no request sees a mix: a request takes one :class:`Serving` and keeps it to the end. Models
are loaded once per embedder and per adapter and shared between releases that use the same.
A release other than the active one can be loaded beside it for evaluation (the gate).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from assistant.config import Settings
from assistant.generation.base import Generator
from assistant.releases import ReleaseManifest, ReleaseRegistry
from assistant.retrieval.embedder import Embedder
from assistant.retrieval.retriever import Retriever
from assistant.retrieval.snapshot import IndexSnapshot

NO_RELEASE = "none"


@dataclass(frozen=True)
class Serving:
    """What answers right now: one release's retriever and generator."""

    release: ReleaseManifest | None
    retriever: Retriever
    generator: Generator | None

    @property
    def embedder(self) -> Embedder:
        """The embedder this release's index was built with (queries must use it too)."""
        return self.retriever.embedder

    @property
    def release_id(self) -> str:
        return self.release.id if self.release else NO_RELEASE


class LiveServing:
    """The serving state of one process: the active release, hot-swapped, and one pinned beside it."""

    def __init__(
        self,
        settings: Settings,
        registry: ReleaseRegistry,
        embedder: Embedder,
        generator_factory: Callable[[Settings], Generator],
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.embedder = embedder  # the configured one; a release may bring its own tuned copy
        self._generator_factory = generator_factory
        self._generators: dict[str | None, Generator] = {}
        self._embedders: dict[str, Embedder] = {embedder.model_id: embedder}
        self._serving: Serving | None = None
        self._pinned: Serving | None = None  # a release loaded for evaluation, not serving
        self._swap_lock = threading.Lock()

    def current(self, *, with_generator: bool) -> Serving:
        """What answers now, loading the active release (and its generator) on first use."""
        serving = self._serving
        if serving is None or (with_generator and serving.generator is None):
            self.refresh(with_generator=with_generator)
        assert self._serving is not None
        return self._serving

    def refresh(self, *, with_generator: bool = True) -> bool:
        """Load the active release if it is not the one serving; True when it swapped."""
        with self._swap_lock:
            release = self.registry.current()
            current = self._serving
            if current is not None and current.release_id == (release.id if release else NO_RELEASE):
                if with_generator and current.generator is None:
                    self._serving = replace(current, generator=self.generator_for(release))
                return False
            self._serving = self.load(release, with_generator=with_generator)
            return True

    def load(self, release: ReleaseManifest | None, *, with_generator: bool) -> Serving:
        """``release``'s index with its embedder, and its generator when ``with_generator``."""
        embedder = self.embedder_for(release)
        if release is None:
            snapshot = IndexSnapshot.empty(embedder.model_id, embedder.dimension)
        else:
            snapshot = IndexSnapshot.load(self.registry.path(release.id))
        retriever = Retriever(
            snapshot,
            embedder,
            mode=self.settings.retrieval_mode,
            lexical_weight=self.settings.lexical_weight,
        )
        generator = None
        if with_generator:  # about to serve: the question path ready before the first question
            embedder.warmup()
            generator = self.generator_for(release)
        return Serving(release, retriever, generator)

    def embedder_for(self, release: ReleaseManifest | None) -> Embedder:
        """The embedder a release was indexed with: the configured one, or its own tuned copy."""
        if release is None:
            return self.embedder
        if release.embedder not in self._embedders:
            location = self.registry.embedder_location(release)
            self._embedders[release.embedder] = Embedder(location, name=release.embedder)
        return self._embedders[release.embedder]

    def generator_for(self, release: ReleaseManifest | None) -> Generator:
        """The generator with ``release``'s adapter (``ASSISTANT_ADAPTER`` overrides), warmed, once."""
        adapter = self.settings.adapter or (
            str(self.registry.path(release.id) / release.adapter) if release and release.adapter else ""
        )
        key = adapter or None
        if key not in self._generators:
            generator = self._generator_factory(self.settings.model_copy(update={"adapter": adapter}))
            generator.warmup()
            self._generators[key] = generator
        return self._generators[key]

    @property
    def loaded(self) -> Serving | None:
        """The serving state if models are loaded, without loading them."""
        return self._serving

    @property
    def ready(self) -> bool:
        serving = self._serving
        return serving is not None and serving.release is not None and serving.generator is not None

    def serving_for(self, release: ReleaseManifest | None) -> Serving:
        """The serving state of ``release``: the active one, or another loaded beside it (evaluation)."""
        current = self.current(with_generator=True)
        if current.release_id == (release.id if release else NO_RELEASE):
            return current
        with self._swap_lock:
            if self._pinned is None or self._pinned.release_id != (release.id if release else NO_RELEASE):
                self._pinned = self.load(release, with_generator=True)
            return self._pinned
