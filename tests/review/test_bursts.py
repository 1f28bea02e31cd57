"""Vote bursts: distinct voters 👍 one generated answer text within the window, and all of it is flagged."""

from __future__ import annotations

import pytest

from assistant.feedback import record_feedback_and_flag
from assistant.review.flags import VOTE_BURST, list_flags

VOTERS = 3
QUESTION = "How do I reset my password?"  # a confident answer: flagged by nothing but the burst


@pytest.fixture
def assistant(assistant):
    assistant.settings = assistant.settings.model_copy(update={"vote_burst_voters": VOTERS})
    return assistant


def upvote(assistant, question: str, voter: str) -> str:
    """``voter`` asks ``question`` and 👍 the answer; returns the interaction id."""
    answer = assistant.ask(question, user_id=voter)
    record_feedback_and_flag(
        assistant.store, assistant.settings, interaction_id=answer.interaction_id, rating="up", voter=voter
    )
    return answer.interaction_id


def burst(assistant) -> set[str]:
    with assistant.store.session() as session:
        return {item["interaction_id"] for item in list_flags(session, reason=VOTE_BURST)}


def test_the_vote_completing_a_burst_flags_every_interaction_of_it(assistant) -> None:
    first = [upvote(assistant, QUESTION, f"voter-{n}") for n in range(VOTERS - 1)]
    assert burst(assistant) == set()  # one voter short
    completing = upvote(assistant, QUESTION, f"voter-{VOTERS - 1}")
    assert burst(assistant) == {*first, completing}
    later = upvote(assistant, QUESTION, "voter-late")  # while it goes on, each vote flags its own
    assert burst(assistant) == {*first, completing, later}


def test_one_voter_many_times_is_no_burst(assistant) -> None:
    for _ in range(VOTERS + 1):
        upvote(assistant, QUESTION, "voter-0")
    assert burst(assistant) == set()


def test_abstentions_are_never_a_burst(assistant) -> None:
    for n in range(VOTERS + 1):
        upvote(assistant, "What is the airspeed of an unladen swallow?", f"voter-{n}")
    assert burst(assistant) == set()
