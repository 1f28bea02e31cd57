"""Flags: reasons, priority, one flag per interaction."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from assistant.config import Settings
from assistant.review.flags import compute_reasons, flag_interaction, list_flags, priority
from assistant.store import record_feedback
from assistant.store.models import FlagRow

SETTINGS = Settings(_env_file=None)


def _fb(rating=None, resolution=None):
    return SimpleNamespace(rating=rating, resolution=resolution)


@pytest.mark.parametrize(
    ("abstained", "confidence", "feedback", "expected"),
    [
        (False, 0.9, [], []),
        (False, 0.9, [_fb("up", "resolved")], []),
        (False, 0.40, [], ["low_confidence"]),
        (True, 0.1, [], ["abstained"]),
        (False, 0.9, [_fb("down")], ["thumbs_down"]),
        (False, 0.9, [_fb(None, "escalated")], ["escalated"]),
        (False, 0.9, [_fb("down", "unresolved"), _fb("down")], ["thumbs_down", "unresolved"]),
        (True, 0.1, [_fb("down", "escalated")], ["thumbs_down", "escalated", "abstained"]),
    ],
)
def test_reasons(abstained: bool, confidence: float, feedback: list, expected: list[str]) -> None:
    assert (
        compute_reasons(abstained=abstained, confidence=confidence, feedback=feedback, settings=SETTINGS)
        == expected
    )


@pytest.mark.parametrize(
    ("reasons", "confidence", "similar", "expected"),
    [
        (["low_confidence"], 0.4, 0, 0.6),
        (["thumbs_down"], 0.8, 0, 1.2),
        (["thumbs_down", "escalated"], 0.8, 0, 2.2),
        (["abstained"], 0.0, 0, 1.5),
        (["abstained"], 0.0, 4, 2.5),
    ],
)
def test_priority(reasons: list[str], confidence: float, similar: int, expected: float) -> None:
    assert priority(reasons, confidence, similar) == pytest.approx(expected)


def test_priority_orders_negative_and_frequent_first() -> None:
    assert priority(["thumbs_down"], 0.9) > priority(["low_confidence"], 0.4)
    assert priority(["abstained"], 0.1, similar=3) > priority(["abstained"], 0.1)


def test_a_thumbs_down_flags_once_and_updates_reasons(assistant) -> None:
    answer = assistant.ask("How do I reset my password?")
    with assistant.store.session() as session:
        assert (
            flag_interaction(session, answer.interaction_id, assistant.settings) is None
        )  # confident, no votes
        record_feedback(session, interaction_id=answer.interaction_id, rating="down")
        flag = flag_interaction(session, answer.interaction_id, assistant.settings, assistant.embedder)
        assert flag.reasons == ["thumbs_down"] and flag.status == "open" and flag.version == 1
        record_feedback(session, interaction_id=answer.interaction_id, resolution="escalated")
        again = flag_interaction(session, answer.interaction_id, assistant.settings)
        assert again.id == flag.id and again.reasons == ["thumbs_down", "escalated"] and again.version == 2
        assert session.query(FlagRow).count() == 1


def test_abstained_answers_are_flagged_by_the_pipeline(assistant) -> None:
    answer = assistant.ask("What is the airspeed of an unladen swallow?")
    assert answer.abstained
    with assistant.store.session() as session:
        [item] = list_flags(session)
    assert item["interaction_id"] == answer.interaction_id and item["reasons"] == ["abstained"]
    assert set(item) >= {
        "id",
        "interaction_id",
        "question",
        "answer",
        "reasons",
        "priority",
        "cluster",
        "version",
    }
