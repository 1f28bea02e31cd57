"""The grounded fallback: an answer made of the best source's own sentences, when the model's fails.

Used when the answer check (:mod:`assistant.generation.answer_check`) let nothing of the
model's answer through: the customer still gets the article's steps, with its citation, and a
lead gets the interaction flagged with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.retrieval.embedder import Embedder
from assistant.retrieval.passages import best_sentences, chunk_body
from assistant.types import Citation, Hit

FALLBACK_SENTENCES = 3


def extractive_answer(
    question: str | np.ndarray, hits: Sequence[Hit], embedder: Embedder
) -> tuple[str, list[Citation]]:
    """ "From *Title*: " and the best source's sentences closest to ``question``, cited as [1]."""
    best = hits[0]
    [sentences] = best_sentences(question, [chunk_body(best.chunk)], embedder, keep=FALLBACK_SENTENCES)
    body = " ".join(s if s.endswith((".", "!", "?", ":")) else s + "." for s in sentences)
    return f"From *{best.chunk.title}*: {body} [1]", [Citation.of(1, best)]
