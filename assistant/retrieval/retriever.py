"""Find the chunks that answer a question: dense, lexical, or both fused.

Hybrid fusion is a convex combination of the exact cosine similarity and the saturated BM25
score ``s / (s + 4)``, both absolute (comparable across queries); on the Bitext benchmark this
beat min-max normalisation and reciprocal-rank fusion. Every candidate from either side gets
its exact cosine from the stored embeddings, so fusion never guesses a missing score. Hits
are de-duplicated per document (best chunk wins).

``confidence`` is the cosine of the best hit: an absolute scale, so one threshold
(``min_confidence``) separates questions the knowledge base covers from those it does not;
``eval/bench_retrieval.py`` measures where that threshold sits on real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from assistant.retrieval import dense
from assistant.retrieval.embedder import Embedder
from assistant.retrieval.snapshot import IndexSnapshot
from assistant.types import Hit

Mode = Literal["hybrid", "dense", "lexical"]
CANDIDATES = 50
LEXICAL_SATURATION = 4.0


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    confidence: float


class Retriever:
    """Searches one :class:`IndexSnapshot` with one :class:`Embedder`."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        embedder: Embedder,
        *,
        mode: Mode = "hybrid",
        lexical_weight: float = 0.2,
    ) -> None:
        if snapshot.chunks and snapshot.info.embedder != embedder.model_id:
            raise ValueError(
                f"index was built with embedder {snapshot.info.embedder!r}, not {embedder.model_id!r}: "
                "re-ingest or activate a matching release"
            )
        self.snapshot = snapshot
        self.embedder = embedder
        self.mode = mode
        self.lexical_weight = lexical_weight

    def search(self, query: str, k: int = 5, *, vector: np.ndarray | None = None) -> SearchResult:
        """The ``k`` best documents' best chunks for ``query``, best first.

        ``vector`` is the query's embedding when the caller already has it.
        """
        if not self.snapshot.chunks or not query.strip():
            return SearchResult([], 0.0)
        if vector is None:
            vector = self.embedder.encode_query(query)
        candidates: dict[int, float] = {}  # row -> lexical score (0 when only dense found it)
        if self.mode in ("hybrid", "dense"):
            _, rows = dense.search(self.snapshot.faiss_index, vector, CANDIDATES)
            candidates.update((int(r), 0.0) for r in rows if r >= 0)
        if self.mode in ("hybrid", "lexical"):
            scores, rows = self.snapshot.lexical.search(query, CANDIDATES)
            saturated = scores / (scores + LEXICAL_SATURATION)
            candidates.update((int(r), float(s)) for r, s in zip(rows, saturated, strict=True))
        if not candidates:
            return SearchResult([], 0.0)
        rows = np.fromiter(candidates, dtype=np.int64)
        cosine = self.snapshot.embeddings[rows] @ vector
        lexical = np.array([candidates[int(r)] for r in rows], dtype=np.float32)
        weight = {"hybrid": self.lexical_weight, "dense": 0.0, "lexical": 1.0}[self.mode]
        fused = (1.0 - weight) * np.clip(cosine, 0.0, 1.0) + weight * lexical
        hits: list[Hit] = []
        seen: set[str] = set()
        best_cosine = 0.0
        for position in np.argsort(-fused, kind="stable"):
            chunk = self.snapshot.chunks[int(rows[position])]
            if chunk.doc_id in seen:
                continue
            if not hits:
                best_cosine = float(cosine[position])
            seen.add(chunk.doc_id)
            hits.append(Hit(chunk, float(fused[position])))
            if len(hits) == k:
                break
        return SearchResult(hits, max(0.0, best_cosine))
