"""The texts rows are made of: source chunks from the index snapshot, and PII redaction of every text.

:class:`Sources` finds the chunk an interaction was shown (or, when re-chunking changed its id,
its document's first chunk). :class:`Redactor` redacts each text once (:mod:`training.redact`)
and counts what it found against the row being built, for the manifest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from assistant.retrieval.snapshot import IndexSnapshot
from assistant.types import Chunk
from training.redact import redact_counts


class Sources:
    """Chunk texts by id from a snapshot; a vanished chunk falls back to its document's first one."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.by_id = {chunk.chunk_id: chunk for chunk in snapshot.chunks}
        self.first: dict[str, Chunk] = {}
        for chunk in snapshot.chunks:
            self.first.setdefault(chunk.doc_id, chunk)

    def find(self, chunk_id: str | None, doc_id: str | None) -> tuple[Chunk | None, bool]:
        """The chunk, and whether it is the fallback (its document's first chunk)."""
        if chunk_id and chunk_id in self.by_id:
            return self.by_id[chunk_id], False
        return (self.first.get(doc_id or ""), True) if doc_id in self.first else (None, False)


class Redactor:
    """Redacts texts (cached), adding what it found to the counter of the row being built."""

    def __init__(self, regions: Sequence[str]) -> None:
        self.regions = tuple(regions)
        self.cache: dict[str, tuple[str, Counter[str]]] = {}

    def __call__(self, text: str, counts: Counter[str]) -> str:
        if text not in self.cache:
            self.cache[text] = redact_counts(text, region=self.regions)
        redacted, found = self.cache[text]
        counts.update(found)
        return redacted
