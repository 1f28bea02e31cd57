"""Measuring one release on the gate's sets: retrieval, answers and abstention, per question.

Metrics, per set: retrieval ``hit@1``, ``recall@5`` and ``mrr`` (ranx); for answers, similarity
to the reference (embedding cosine), the share with valid citations, and the share answered;
``oos.abstention``, the share of out-of-scope questions declined (by the same rule serving
applies, :func:`assistant.retrieval.abstention.abstains`). Every metric is "higher is better".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assistant.retrieval.abstention import abstains
from training.gate.metrics import retrieval_per_query
from training.gate.sets import EvalItem, EvalSets

if TYPE_CHECKING:
    from assistant.pipeline import Assistant
    from assistant.releases import ReleaseManifest
    from assistant.retrieval.retriever import Retriever

RETRIEVAL_K = 10
GATED_RETRIEVAL = ("hit@1", "recall@5", "mrr")


@dataclass(frozen=True)
class ReleaseScores:
    """What the gate measured of one release: its metrics, and per golden question how close
    its answer came to the reference (cosine)."""

    metrics: dict[str, float]
    golden_answers: dict[str, float] = field(default_factory=dict)
    per_question: dict[str, list[float]] = field(default_factory=dict)  # metric -> value per question


def retrieval_per_item(retriever: Retriever, items: Sequence[EvalItem]) -> dict[str, list[float]]:
    """hit@1, recall@5, MRR and nDCG@10 of ``retriever`` on each of ``items`` (with ``doc_ids``), in order."""
    qrels = {f"q{i:07d}": {doc: 1 for doc in item.doc_ids} for i, item in enumerate(items)}
    run = {}
    for i, item in enumerate(items):
        hits = retriever.search(item.question, RETRIEVAL_K).hits
        run[f"q{i:07d}"] = {hit.chunk.doc_id: hit.score for hit in hits}
    return retrieval_per_query(qrels, run)


def retrieval_scores(retriever: Retriever, items: Sequence[EvalItem]) -> dict[str, float]:
    """hit@1, recall@5, MRR and nDCG@10 of ``retriever`` on ``items``, averaged."""
    return {name: float(np.mean(values)) for name, values in retrieval_per_item(retriever, items).items()}


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)  # the embedder's vectors are unit length


def evaluate_release(
    assistant: Assistant, release: ReleaseManifest | None, sets: EvalSets, *, answer_samples: int
) -> ReleaseScores:
    """Every gate metric of ``release``; nothing is logged, curated answers are not used."""
    serving = assistant.serving_for(release)
    per_question: dict[str, list[float]] = {}
    golden_answers: dict[str, float] = {}
    for name, items in (("dev", sets.dev), ("golden", sets.golden)):
        with_docs = [item for item in items if item.doc_ids]
        if with_docs:
            scores = retrieval_per_item(serving.retriever, with_docs)
            per_question.update({f"{name}.{key}": scores[key] for key in GATED_RETRIEVAL})
        with_answers = [item for item in items if item.answer][:answer_samples]
        if with_answers:
            drafts = [assistant.answer_unlogged(item.question, release=release) for item in with_answers]
            documents = serving.retriever.snapshot.documents
            vectors = assistant.embedder.encode([draft.text for draft in drafts])
            references = assistant.embedder.encode([item.answer for item in with_answers])
            similarity = [float(value) for value in _cosine(vectors, references)]
            per_question[f"{name}.answer_similarity"] = similarity
            per_question[f"{name}.citations_valid"] = [
                float(all(c.doc_id in documents for c in draft.citations)) for draft in drafts
            ]
            per_question[f"{name}.answered"] = [float(not draft.abstained) for draft in drafts]
            if name == "golden":
                golden_answers = {
                    item.question: round(value, 4)
                    for item, value in zip(with_answers, similarity, strict=True)
                }
    if sets.out_of_scope:
        per_question["oos.abstention"] = [
            float(
                abstains(
                    serving.retriever.search(q, assistant.settings.top_k), assistant.settings.min_confidence
                )
            )
            for q in sets.out_of_scope
        ]
    metrics = {name: round(float(np.mean(values)), 4) for name, values in per_question.items()}
    return ReleaseScores(metrics, golden_answers, per_question)
