"""Recording feedback, what every channel calls: stored once, flagged, and strict about bad input."""

from __future__ import annotations

import asyncio

import pytest

from assistant.feedback import feedback_write, record_feedback_and_flag
from assistant.store import feedback_for
from assistant.store.models import FlagRow


def flags(assistant) -> list[tuple[str, list[str], int]]:
    with assistant.store.session() as session:
        return [(f.interaction_id, list(f.reasons), f.version) for f in session.query(FlagRow)]


def test_a_vote_is_stored_once_and_flags_its_interaction(assistant) -> None:
    answer = assistant.ask("How do I reset my password?")
    vote = {"interaction_id": answer.interaction_id, "rating": "down", "voter": "u1"}
    event_id, created = record_feedback_and_flag(assistant.store, assistant.settings, **vote)
    assert created and flags(assistant) == [(answer.interaction_id, ["thumbs_down"], 1)]
    assert record_feedback_and_flag(assistant.store, assistant.settings, **vote) == (event_id, False)
    escalated = {"interaction_id": answer.interaction_id, "resolution": "escalated", "comment": "a human"}
    _, created = asyncio.run(assistant.store.write_async(feedback_write(assistant.settings, **escalated)))
    assert created and flags(assistant) == [(answer.interaction_id, ["thumbs_down", "escalated"], 2)]
    with assistant.store.session() as session:
        assert [(e.rating, e.resolution) for e in feedback_for(session, answer.interaction_id)] == [
            ("down", None),
            (None, "escalated"),
        ]


def test_an_unknown_interaction_raises_lookup_error_and_writes_nothing(assistant) -> None:
    with pytest.raises(LookupError):
        record_feedback_and_flag(assistant.store, assistant.settings, interaction_id="nobody", rating="up")
    assert flags(assistant) == []


def test_invalid_or_conflicting_feedback_raises_value_error_and_keeps_what_was_stored(assistant) -> None:
    answer = assistant.ask("How do I reset my password?")
    record = {"interaction_id": answer.interaction_id, "idempotency_key": "k1"}
    record_feedback_and_flag(assistant.store, assistant.settings, rating="down", **record)
    with pytest.raises(ValueError, match="rating must be"):
        record_feedback_and_flag(
            assistant.store, assistant.settings, interaction_id=answer.interaction_id, rating="great"
        )
    with pytest.raises(ValueError, match="already used"):  # the same key for another event
        record_feedback_and_flag(assistant.store, assistant.settings, rating="up", **record)
    with assistant.store.session() as session:
        assert [e.rating for e in feedback_for(session, answer.interaction_id)] == ["down"]
    assert flags(assistant) == [(answer.interaction_id, ["thumbs_down"], 1)]
