"""Training fixtures and helpers: small-data dataset settings, votes, reviews."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.pipeline import Assistant
from assistant.review.actions import review
from assistant.review.flags import flag_interaction
from assistant.store import record_feedback
from training.config import DatasetConfig


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The suite's settings without the answer check: these tests plant answers the check would
    replace (it is tested in tests/generation), to see what the training data makes of them."""
    return Settings(home=tmp_path / "home", answer_check=False, _env_file=None)


@pytest.fixture
def config() -> DatasetConfig:
    """Small-data settings: one SFT row is enough, half the conversations go to dev."""
    return DatasetConfig(min_sft_rows=1, dev_share=0.5, max_rows_per_voter=3, max_rows_per_conversation=3)


def ask(assistant: Assistant, question: str, **kwargs) -> str:
    """Ask and return the interaction id."""
    return assistant.ask(question, **kwargs).interaction_id


def vote(
    assistant: Assistant,
    interaction_id: str,
    rating: str | None,
    resolution: str | None = None,
    *,
    voter: str,
) -> list[int]:
    """Record a rating and (separately) a resolution; returns the feedback event ids."""
    ids = []
    with assistant.store.session() as session:
        if rating:
            ids.append(
                record_feedback(session, interaction_id=interaction_id, rating=rating, voter=voter)[0].id
            )
        if resolution:
            row, _ = record_feedback(
                session, interaction_id=interaction_id, resolution=resolution, voter=voter
            )
            ids.append(row.id)
    return ids


def settle(
    assistant: Assistant, question: str, action: str, *, conversation_id: str | None = None, **kwargs
) -> tuple[str, str | None]:
    """Ask, 👎, flag and review; returns (interaction id, curated answer id)."""
    interaction_id = ask(assistant, question, conversation_id=conversation_id)
    vote(assistant, interaction_id, "down", voter="asker")
    with assistant.store.session() as session:
        flag = flag_interaction(session, interaction_id, assistant.settings)
        done = review(session, flag.id, action, expected_version=flag.version, actor="lead-ana", **kwargs)
        return interaction_id, done.curated_answer_id
