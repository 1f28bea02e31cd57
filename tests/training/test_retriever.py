"""Retriever fine-tuning with MultipleNegativesRankingLoss (slow: the real MiniLM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset, DatasetDict

from assistant.retrieval.embedder import Embedder
from training.retriever import CONFIG_FILE, RetrieverTrainingConfig, _columns, train_retriever

PAIRS = [
    ("my parcel is lost", "Lost parcels: we resend the order for free after 7 days.", ""),
    ("where is my package", "Lost parcels: we resend the order for free after 7 days.", ""),
    ("cancel my order", "Cancelling: open Orders and click Cancel.", "Refunds arrive within 5 days."),
    ("get my money back", "Refunds arrive within 5 days.", ""),
]


def test_rows_without_a_hard_negative_borrow_another_passage() -> None:
    data = Dataset.from_list([{"anchor": a, "positive": p, "negative": n} for a, p, n in PAIRS])
    out = _columns(data)
    assert out.column_names == ["anchor", "positive", "negative"]
    assert out["negative"][2] == "Refunds arrive within 5 days."  # the hard negative stays
    assert all(n and n != p for p, n in zip(out["positive"], out["negative"], strict=True))
    plain = Dataset.from_list([{"anchor": a, "positive": p, "negative": ""} for a, p, _ in PAIRS])
    assert _columns(plain).column_names == ["anchor", "positive"]


@pytest.mark.slow
def test_training_pulls_questions_towards_their_passages(tmp_path: Path) -> None:
    data = DatasetDict(
        {"train": Dataset.from_list([{"anchor": a, "positive": p, "negative": n} for a, p, n in PAIRS])}
    )
    before = Embedder()
    config = RetrieverTrainingConfig(epochs=8, batch_size=4, learning_rate=5e-5, warmup_ratio=0.0)
    result = train_retriever("sentence-transformers/all-MiniLM-L6-v2", data, tmp_path / "embedder", config)
    assert result.steps == 8 and result.examples == 4 and (tmp_path / "embedder" / CONFIG_FILE).exists()
    after = Embedder(str(tmp_path / "embedder"))

    def margin(embedder: Embedder) -> float:
        q = embedder.encode(["where is my package"])[0]
        right, wrong = embedder.encode([PAIRS[0][1], PAIRS[2][1]])
        return float(np.dot(q, right) - np.dot(q, wrong))

    assert margin(after) > margin(before)
    assert not (tmp_path / ".embedder.work").exists()
