"""Feedback events: append-only, idempotent, race-safe, and strict about bad input."""

from __future__ import annotations

import threading

import pytest

from assistant import store
from assistant.store import repository


def count_feedback(db: store.Store) -> int:
    with db.session() as session:
        return session.query(store.FeedbackRow).count()


def test_same_vote_twice_is_stored_once(db: store.Store, interaction_id: str) -> None:
    with db.session() as session:
        first, created = store.record_feedback(
            session, interaction_id=interaction_id, rating="up", voter="u1"
        )
    assert created is True
    with db.session() as session:
        again, created_again = store.record_feedback(
            session, interaction_id=interaction_id, rating="up", voter="u1"
        )
    assert created_again is False
    assert again.id == first.id
    assert count_feedback(db) == 1


def test_different_votes_append(db: store.Store, interaction_id: str) -> None:
    posts = [
        {"rating": "up", "voter": "u1"},
        {"rating": "up", "voter": "u2"},
        {"rating": "down", "voter": "u1", "comment": "wrong plan name"},
        {"resolution": "escalated", "voter": "u1"},
        {"rating": "up", "resolution": "resolved"},
    ]
    with db.session() as session:
        flags = [store.record_feedback(session, interaction_id=interaction_id, **post)[1] for post in posts]
    with db.session() as session:
        rows = store.feedback_for(session, interaction_id)
    assert flags == [True] * len(posts)
    assert [(row.rating, row.resolution, row.voter) for row in rows] == [
        ("up", None, "u1"),
        ("up", None, "u2"),
        ("down", None, "u1"),
        (None, "escalated", "u1"),
        ("up", "resolved", None),
    ]
    assert rows[2].comment == "wrong plan name"
    assert all(row.created_at.tzinfo is not None for row in rows)


def test_explicit_idempotency_key(db: store.Store, interaction_id: str) -> None:
    with db.session() as session:
        _, created = store.record_feedback(
            session, interaction_id=interaction_id, rating="down", idempotency_key="k1"
        )
        _, again = store.record_feedback(
            session, interaction_id=interaction_id, rating="down", idempotency_key="k1"
        )
        _, other_key = store.record_feedback(
            session, interaction_id=interaction_id, rating="down", idempotency_key="k2"
        )
    assert (created, again, other_key) == (True, False, True)
    with pytest.raises(store.IdempotencyConflict, match="already used"), db.session() as session:
        store.record_feedback(session, interaction_id=interaction_id, rating="up", idempotency_key="k1")
    assert count_feedback(db) == 2


@pytest.mark.timeout(120)
def test_concurrent_identical_posts_store_one_row(db: store.Store, interaction_id: str) -> None:
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    created: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def post() -> None:
        try:
            barrier.wait(timeout=30)
            with db.session() as session:
                _, was_created = store.record_feedback(
                    session, interaction_id=interaction_id, rating="down", voter="u1", comment="not helpful"
                )
            with lock:
                created.append(was_created)
        except BaseException as error:  # reported by the main thread
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=post) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert errors == []
    assert sorted(created) == [False] * (threads_n - 1) + [True]
    assert count_feedback(db) == 1


def test_lost_insert_race_returns_the_winner(db: store.Store, interaction_id: str, monkeypatch) -> None:
    """The IntegrityError path: another transaction inserted the key after our look-up."""
    with db.session() as session:
        winner, _ = store.record_feedback(session, interaction_id=interaction_id, rating="up", voter="u1")
    real_find = repository._find_feedback
    calls = iter([None])
    monkeypatch.setattr(repository, "_find_feedback", lambda s, key: next(calls, None) or real_find(s, key))
    with db.session() as session:
        row, created = store.record_feedback(session, interaction_id=interaction_id, rating="up", voter="u1")
        # the transaction is still usable after the rolled-back savepoint
        store.record_feedback(session, interaction_id=interaction_id, rating="down", voter="u2")
    assert (row.id, created) == (winner.id, False)
    assert count_feedback(db) == 2


def test_unknown_interaction_writes_nothing(db: store.Store, interaction_id: str) -> None:
    with pytest.raises(LookupError, match="unknown interaction"), db.session() as session:
        store.record_feedback(session, interaction_id="no-such-id", rating="up")
    assert count_feedback(db) == 0


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"rating": "great"}, "rating must be 'up' or 'down'"),
        ({"rating": "up", "resolution": "fixed"}, "resolution must be one of"),
        ({}, "needs a rating or a resolution"),
        ({"comment": "only words"}, "needs a rating or a resolution"),
        ({"rating": "down", "comment": "x" * 2001}, "longer than 2000"),
        ({"rating": "down", "idempotency_key": "k" * 201}, "idempotency_key"),
    ],
)
def test_invalid_feedback_leaves_stored_rows_alone(
    db: store.Store, interaction_id: str, post, message
) -> None:
    with db.session() as session:
        store.record_feedback(session, interaction_id=interaction_id, rating="up", voter="u1")
    with pytest.raises(ValueError, match=message), db.session() as session:
        store.record_feedback(session, interaction_id=interaction_id, rating="down", voter="u2")
        store.record_feedback(session, interaction_id=interaction_id, **post)
    with db.session() as session:
        rows = store.feedback_for(session, interaction_id)
    assert [(row.rating, row.voter) for row in rows] == [("up", "u1")]


def test_comment_at_the_limit_is_kept(db: store.Store, interaction_id: str) -> None:
    with db.session() as session:
        row, _ = store.record_feedback(
            session, interaction_id=interaction_id, rating="down", comment="y" * 2000
        )
    assert len(row.comment) == 2000


def test_feedback_key_is_deterministic() -> None:
    key = store.feedback_key("i", "u", "up", None, None)
    assert key == store.feedback_key("i", "u", "up", None, None)
    assert key != store.feedback_key("i", "u", "down", None, None)
    assert key != store.feedback_key("i", None, "up", None, None)
