"""Review actions: each one audited, conflicts caught, nothing lost, bulk on a cluster."""

from __future__ import annotations

import pytest

from assistant.review.actions import ReviewConflict, ReviewError, audit_trail, review, review_cluster
from assistant.review.flags import flag_interaction
from assistant.store import record_feedback
from assistant.store.models import CuratedAnswerRow, FlagRow


def thumbs_down(assistant, question: str) -> FlagRow:
    answer = assistant.ask(question)
    with assistant.store.session() as session:
        record_feedback(session, interaction_id=answer.interaction_id, rating="down")
        return flag_interaction(session, answer.interaction_id, assistant.settings, assistant.embedder)


@pytest.mark.parametrize(
    ("action", "kwargs", "status", "curated"),
    [
        ("approve", {}, "approved", True),
        (
            "correct",
            {"answer": "Use the 'Forgot password' link.", "doc_ids": ["password.md"]},
            "corrected",
            True,
        ),
        ("gap", {"note": "no article on 2FA"}, "gap", False),
        ("reject", {"note": "spam"}, "rejected", False),
    ],
)
def test_each_action_is_applied_and_audited(assistant, action, kwargs, status, curated) -> None:
    flag = thumbs_down(assistant, "How do I reset my password?")
    with assistant.store.session() as session:
        done = review(session, flag.id, action, expected_version=1, actor="lead-ana", **kwargs)
        assert done.status == status and done.version == 2 and done.reviewed_by == "lead-ana"
        assert (done.curated_answer_id is not None) == curated
        [audit] = audit_trail(session, flag.id)
        assert audit.actor == "lead-ana" and audit.action == action and audit.created_at is not None
        assert audit.before["status"] == "open" and audit.after["status"] == status
        if curated:
            row = session.get(CuratedAnswerRow, done.curated_answer_id)
            assert (
                row.question == "How do I reset my password?" and row.enabled and row.created_by == "lead-ana"
            )
            assert row.doc_ids == ["password.md"]
            if action == "correct":
                assert row.answer == kwargs["answer"]


def test_two_leads_at_once_one_wins_the_other_gets_a_conflict(assistant) -> None:
    flag = thumbs_down(assistant, "How do I reset my password?")
    with assistant.store.session() as session:
        review(session, flag.id, "correct", expected_version=1, actor="ana", answer="Answer A.")
    with (
        pytest.raises(ReviewConflict, match="changed since you loaded it"),
        assistant.store.session() as session,
    ):
        review(session, flag.id, "correct", expected_version=1, actor="ben", answer="Answer B.")
    with assistant.store.session() as session:
        stored = session.get(FlagRow, flag.id)
        answers = [row.answer for row in session.query(CuratedAnswerRow)]
        assert stored.reviewed_by == "ana" and stored.version == 2 and answers == ["Answer A."]
        assert [a.actor for a in audit_trail(session, flag.id)] == ["ana"]


# PostgreSQL only: SQLite serialises writers (BEGIN IMMEDIATE), so this interleaving cannot happen
@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_racing_update_loses_in_the_database(assistant) -> None:
    """The second writer passed the in-memory check but the guarded UPDATE sees the new version."""
    flag = thumbs_down(assistant, "How do I reset my password?")
    with assistant.store.session() as first:
        loaded = first.get(FlagRow, flag.id)
        assert loaded.version == 1
        with assistant.store.session() as second:
            review(second, flag.id, "reject", expected_version=1, actor="ben")
        first.expire_all()
        with pytest.raises(ReviewConflict):
            review(first, flag.id, "gap", expected_version=1, actor="ana")


def test_new_feedback_bumps_the_version(assistant) -> None:
    flag = thumbs_down(assistant, "How do I reset my password?")
    with assistant.store.session() as session:
        record_feedback(session, interaction_id=flag.interaction_id, resolution="escalated")
        flag_interaction(session, flag.interaction_id, assistant.settings)
    with pytest.raises(ReviewConflict), assistant.store.session() as session:
        review(session, flag.id, "approve", expected_version=1, actor="ana")


@pytest.mark.parametrize(
    ("action", "kwargs", "message"),
    [
        ("correct", {}, "needs the answer text"),
        ("correct", {"answer": "x", "doc_ids": ["nope.md"]}, "unknown document 'nope.md'"),
        ("launch", {}, "action must be one of"),
    ],
)
def test_bad_input_changes_nothing(assistant, action, kwargs, message) -> None:
    flag = thumbs_down(assistant, "How do I reset my password?")
    with pytest.raises(ReviewError, match=message), assistant.store.session() as session:
        review(session, flag.id, action, expected_version=1, actor="ana", **kwargs)
    with assistant.store.session() as session:
        assert session.get(FlagRow, flag.id).status == "open" and session.query(CuratedAnswerRow).count() == 0
        assert audit_trail(session, flag.id) == []


def test_unknown_flag(assistant) -> None:
    with pytest.raises(ReviewError, match="no flag 999"), assistant.store.session() as session:
        review(session, 999, "reject", expected_version=1, actor="ana")


def test_approving_an_abstention_is_refused(assistant) -> None:
    assistant.ask("What is the airspeed of an unladen swallow?")
    with assistant.store.session() as session:
        flag = session.query(FlagRow).one()
        with pytest.raises(ReviewError, match="correct it instead"):
            review(session, flag.id, "approve", expected_version=flag.version, actor="ana")


def test_bulk_action_settles_the_whole_cluster_with_one_curated_answer(assistant) -> None:
    flags = [thumbs_down(assistant, q) for q in ("Do you ship to Canada?", "do u ship to canada")]
    other = thumbs_down(assistant, "Can I pay with bitcoin?")
    with assistant.store.session() as session:
        first = session.get(FlagRow, flags[0].id)
        assert first.cluster_id == session.get(FlagRow, flags[1].id).cluster_id
        done = review_cluster(
            session, first.id, "correct", expected_version=first.version, actor="ana", answer="Yes, 5-8 days."
        )
        assert sorted(f.id for f in done) == sorted(f.id for f in flags)
        assert {f.status for f in done} == {"corrected"} and len({f.curated_answer_id for f in done}) == 1
        assert session.query(CuratedAnswerRow).count() == 1
        assert session.get(FlagRow, other.id).status == "open"
        assert all(len(audit_trail(session, f.id)) == 1 for f in flags)
