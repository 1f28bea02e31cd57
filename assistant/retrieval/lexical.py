"""BM25 keyword index (bm25s) with English stemming; fused with dense results for hybrid search."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN_PLUS


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


_WORDS = re.compile(r"[a-z]{2,}")  # "i'm" gives "i" and "m": contractions fall away


def content_terms(text: str) -> set[str]:
    """The stemmed words of ``text`` that carry meaning (no stopwords), as BM25 sees them."""
    words = [word for word in _WORDS.findall(text.lower()) if word not in STOPWORDS_EN_PLUS]
    return set(_stemmer().stemWords(words))


def _tokenize(texts: Sequence[str], *, return_ids: bool):
    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=return_ids, show_progress=False
    )


class LexicalIndex:
    """A BM25 index whose document ``i`` is chunk ``i`` of the release."""

    def __init__(self, model: bm25s.BM25 | None, size: int) -> None:
        self._model = model
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        if not texts:
            return cls(None, 0)
        model = bm25s.BM25()
        model.index(_tokenize(texts, return_ids=True), show_progress=False)
        return cls(model, len(texts))

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """BM25 scores and row numbers of the best ``k`` rows with a positive score."""
        if self._model is None or k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        tokens = _tokenize([query], return_ids=False)
        if not tokens[0]:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        rows, scores = self._model.retrieve(tokens, k=min(k, self.size), show_progress=False)
        keep = scores[0] > 0
        return scores[0][keep].astype(np.float32), rows[0][keep].astype(np.int64)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self._model is not None:
            self._model.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        if size == 0:
            return cls(None, 0)
        return cls(bm25s.BM25.load(str(folder), show_progress=False, verbosity=0), size)
