"""Dense, lexical and hybrid search over a real FAISS/BM25 snapshot with the real embedder."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.retrieval import dense
from assistant.retrieval.retriever import Retriever
from assistant.retrieval.snapshot import IndexSnapshot
from assistant.types import Chunk

TEXTS = {
    "refunds": ["Refunds are paid within 5 business days.", "Refunds go back to the original card."],
    "password": ["Reset your password with the 'Forgot password' link."],
    "errors": ["Error code E-4012 means the payment gateway timed out; retry after a minute."],
    "shipping": ["Express shipping arrives the next day."],
}


@pytest.fixture(scope="module")
def snapshot(embedder) -> IndexSnapshot:
    chunks = [
        Chunk(f"{doc}#{n}", doc, doc.title(), f"https://help.test/{doc}", text)
        for doc, texts in TEXTS.items()
        for n, text in enumerate(texts)
    ]
    return IndexSnapshot.build(chunks, embedder.encode([c.text for c in chunks]), embedder=embedder.model_id)


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_each_mode_finds_the_right_document(snapshot, embedder, mode: str) -> None:
    result = Retriever(snapshot, embedder, mode=mode).search("how do I reset my password", 3)
    assert result.hits[0].chunk.doc_id == "password"


def test_hits_are_one_per_document_best_first(snapshot, embedder) -> None:
    hits = Retriever(snapshot, embedder).search("when do refunds arrive on my card", 4).hits
    doc_ids = [h.chunk.doc_id for h in hits]
    assert doc_ids[0] == "refunds" and len(doc_ids) == len(set(doc_ids)) == 4
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_lexical_rescues_an_exact_code(snapshot, embedder) -> None:
    hybrid = Retriever(snapshot, embedder, mode="hybrid", lexical_weight=0.5).search("E-4012", 1)
    assert hybrid.hits[0].chunk.doc_id == "errors"


def test_confidence_separates_covered_from_unrelated_questions(snapshot, embedder) -> None:
    retriever = Retriever(snapshot, embedder)
    covered = retriever.search("I forgot my password, how do I reset it?", 3).confidence
    unrelated = retriever.search("what is the capital of Mongolia", 3).confidence
    assert covered > 0.5 > unrelated


def test_empty_index_and_empty_query(embedder) -> None:
    empty = Retriever(IndexSnapshot.empty(embedder.model_id, embedder.dimension), embedder)
    assert empty.search("anything", 5).hits == []
    assert empty.search("   ", 5).confidence == 0.0


def test_embedder_mismatch_is_refused(snapshot, embedder) -> None:
    other = type("Other", (), {"model_id": "another-model", "dimension": embedder.dimension})()
    with pytest.raises(ValueError, match="re-ingest"):
        Retriever(snapshot, other)


def test_snapshot_round_trip(snapshot, embedder, tmp_path) -> None:
    snapshot.save(tmp_path)
    loaded = IndexSnapshot.load(tmp_path)
    assert loaded.chunks == snapshot.chunks and loaded.info == snapshot.info
    query = "express delivery next day"
    assert Retriever(loaded, embedder).search(query, 2) == Retriever(snapshot, embedder).search(query, 2)


@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivf"])
def test_index_types_find_the_nearest_vector(index_type: str) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = dense.build_index(vectors, index_type)
    hits = [dense.search(index, vectors[i], 5)[1][0] for i in range(0, 3000, 150)]
    assert hits == list(range(0, 3000, 150))


def test_unknown_index_type_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="use flat, hnsw or ivf"):
        dense.build_index(np.zeros((2000, 4), dtype=np.float32), "annoy")
