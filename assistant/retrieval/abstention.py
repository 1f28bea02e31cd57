"""When the assistant declines to answer: the one rule serving and the release gate share.

Serving (:mod:`assistant.pipeline`) hands a question off instead of answering it when this says
so, and the gate (:mod:`training.gate.scoring`) measures out-of-scope abstention with the same
call, so what the gate measured is what customers get.
"""

from __future__ import annotations

from assistant.retrieval.retriever import SearchResult


def abstains(result: SearchResult, min_confidence: float) -> bool:
    """Decline (and hand off) when retrieval found nothing it is confident in."""
    return result.confidence < min_confidence or not result.hits
