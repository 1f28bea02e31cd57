"""Stream filters: what the model writes passes through them, in order, before anyone sees it.

A filter holds back text it cannot decide yet (a ``[`` that may become a citation, a link
still being written) and lets out the rest; :class:`FilterChain` feeds each filter's output to
the next one. The pipeline chains the citation rule (:mod:`assistant.generation.citations`)
and the output guard (:mod:`assistant.generation.guard`).
"""

from __future__ import annotations

from typing import Protocol


class StreamFilter(Protocol):
    def feed(self, text: str) -> str:
        """The decided part of ``text`` plus what was held back before."""
        ...

    def flush(self) -> str:
        """Everything still held back: the stream has ended."""
        ...


class FilterChain:
    """Filters applied in turn: each one's output feeds the next; flushing flushes in order."""

    def __init__(self, *filters: StreamFilter) -> None:
        self.filters = filters

    def feed(self, text: str) -> str:
        for stage in self.filters:
            text = stage.feed(text) if text else text
        return text

    def flush(self) -> str:
        text = ""
        for stage in self.filters:
            text = stage.feed(text) if text else ""
            text += stage.flush()
        return text
