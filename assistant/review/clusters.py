"""Clustering the review queue: open flags whose questions mean the same thing are one cluster.

:func:`recluster` groups open flags by the cosine of their questions' embeddings and
recomputes their priority with the cluster's size (a question asked often comes first). It is
not run on every vote (that is O(open flags²) inside the write transaction, and it held up
every vote under load): the queue's readers call it first, the admin UI with the server's
embedder, ``assistant review list`` through :func:`refresh_clusters`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from assistant.config import Settings
from assistant.review.flags import priority
from assistant.store.models import FlagRow, InteractionRow

if TYPE_CHECKING:
    from assistant.retrieval.embedder import Embedder


@dataclass(frozen=True)
class _Open:
    flag: FlagRow
    question: str
    confidence: float


def recluster(session: Session, settings: Settings, embedder: Embedder | None = None) -> int:
    """Group open flags with cosine ≥ ``settings.cluster_similarity``; returns the cluster count.

    Greedy union of every pair above the threshold; a cluster's id is its oldest flag's id,
    so it stays put as new flags join. Questions not embedded yet are embedded when an
    ``embedder`` is given, else they stay alone. Priorities are recomputed with the cluster
    size; neither touches ``version``.
    """
    query = (
        select(FlagRow, InteractionRow.question, InteractionRow.confidence)
        .join(InteractionRow, InteractionRow.id == FlagRow.interaction_id)
        .where(FlagRow.status == "open")
        .order_by(FlagRow.id)
    )
    rows = [_Open(flag, question, confidence) for flag, question, confidence in session.execute(query)]
    missing = [row for row in rows if row.flag.embedding is None]
    if missing and embedder is not None:
        vectors = embedder.encode([row.question for row in missing])
        for row, vector in zip(missing, vectors, strict=True):
            row.flag.embedding = [round(float(x), 6) for x in vector]
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    embedded = [i for i, row in enumerate(rows) if row.flag.embedding is not None]
    if embedded:
        matrix = np.asarray([rows[i].flag.embedding for i in embedded], dtype=np.float32)
        similar = matrix @ matrix.T
        for a, b in zip(*np.nonzero(np.triu(similar >= settings.cluster_similarity, k=1)), strict=True):
            root_a, root_b = find(embedded[a]), find(embedded[b])
            if root_a != root_b:
                parent[max(root_a, root_b)] = min(root_a, root_b)  # the oldest flag stays the root
    members: dict[int, list[int]] = {}
    for i in range(len(rows)):
        members.setdefault(find(i), []).append(i)
    for root, group in members.items():
        for i in group:
            flag = rows[i].flag
            flag.cluster_id = str(rows[root].flag.id)
            flag.priority = priority(flag.reasons, rows[i].confidence, similar=len(group) - 1)
    session.flush()
    return len(members)


_UNEMBEDDED = select(exists().where(FlagRow.status == "open", FlagRow.embedding.is_(None)))


def configured_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings`` name, loaded now (seconds: torch and the model)."""
    from assistant.retrieval.embedder import Embedder

    return Embedder(settings.embedder)


def refresh_clusters(
    session: Session,
    settings: Settings,
    load_embedder: Callable[[Settings], Embedder] = configured_embedder,
) -> int:
    """:func:`recluster` for a process without a loaded model (the CLI); returns the cluster count.

    The embedder is loaded (``load_embedder(settings)``) only when an open flag's question is
    not embedded yet: loading a model takes seconds, and a queue whose questions are all
    embedded is clustered without one.
    """
    embedder = load_embedder(settings) if session.scalar(_UNEMBEDDED) else None
    return recluster(session, settings, embedder)
