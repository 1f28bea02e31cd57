"""Conversations, the turns used as history, and the interaction log."""

from __future__ import annotations

import uuid

import pytest

from assistant import store
from assistant.types import Chunk, Citation, Hit, Turn


def test_client_given_id_is_created_then_found(db: store.Store) -> None:
    with db.session() as session:
        created = store.get_or_create_conversation(
            session, conversation_id="client-chosen-42", channel="web", user_id="anon-7"
        )
    with db.session() as session:
        again = store.get_or_create_conversation(
            session, conversation_id="client-chosen-42", channel="web", user_id="anon-7"
        )
        assert session.query(store.ConversationRow).count() == 1
    assert (created.id, again.id, again.channel, again.user_id) == ("client-chosen-42",) * 2 + (
        "web",
        "anon-7",
    )
    assert again.created_at.tzinfo is not None


def test_missing_id_makes_a_uuid(db: store.Store) -> None:
    with db.session() as session:
        one = store.get_or_create_conversation(session, conversation_id=None, channel="api", user_id=None)
        two = store.get_or_create_conversation(session, conversation_id=None, channel="api", user_id=None)
    assert one.id != two.id
    assert str(uuid.UUID(one.id)) == one.id


def test_external_ref_finds_the_thread_per_channel(db: store.Store) -> None:
    with db.session() as session:
        thread = store.get_or_create_conversation(
            session, conversation_id=None, channel="slack", user_id="U1", external_ref="1700000000.0001"
        )
    with db.session() as session:
        same = store.get_or_create_conversation(
            session, conversation_id=None, channel="slack", user_id="U2", external_ref="1700000000.0001"
        )
        other_channel = store.get_or_create_conversation(
            session, conversation_id=None, channel="web", user_id=None, external_ref="1700000000.0001"
        )
    assert same.id == thread.id
    assert other_channel.id != thread.id


@pytest.mark.parametrize(
    ("conversation_id", "channel", "message"),
    [
        (None, "email", "channel must be one of"),
        ("", "api", "conversation_id must be a non-empty string"),
        ("x" * 129, "api", "longer than 128"),
    ],
)
def test_bad_conversation_input(db: store.Store, conversation_id, channel, message) -> None:
    with pytest.raises(ValueError, match=message), db.session() as session:
        store.get_or_create_conversation(
            session, conversation_id=conversation_id, channel=channel, user_id=None
        )
    with db.session() as session:
        assert session.query(store.ConversationRow).count() == 0


def test_turns_are_the_last_pairs_oldest_first(db: store.Store, add_interaction) -> None:
    with db.session() as session:
        for n in range(5):
            add_interaction(session, "conv-1", question=f"q{n}", answer=f"a{n}")
        add_interaction(session, "conv-2", question="elsewhere", answer="elsewhere")
    with db.session() as session:
        turns = store.conversation_turns(session, "conv-1", limit=2)
        everything = store.conversation_turns(session, "conv-1", limit=10)
        assert store.conversation_turns(session, "conv-1", limit=0) == []
        assert store.conversation_turns(session, "unknown", limit=3) == []
    assert turns == [Turn("user", "q3"), Turn("assistant", "a3"), Turn("user", "q4"), Turn("assistant", "a4")]
    assert [turn.content for turn in everything[::2]] == ["q0", "q1", "q2", "q3", "q4"]


def test_interaction_round_trip(db: store.Store) -> None:
    chunk = Chunk(
        chunk_id="billing.md#0", doc_id="billing.md", title="Billing", source="https://x/b", text="long"
    )
    citation = Citation(
        number=1,
        doc_id="billing.md",
        chunk_id="billing.md#0",
        title="Billing",
        source="https://x/b",
        score=0.81234,
    )
    with db.session() as session:
        store.get_or_create_conversation(session, conversation_id="c", channel="slack", user_id="U9")
        interaction_id = store.record_interaction(
            session,
            conversation_id="c",
            question="Où est ma facture ?",
            history=[Turn("user", "bonjour"), {"role": "assistant", "content": "Bonjour !"}],
            hits=[
                Hit(chunk, 0.81234),
                {"doc_id": "faq", "chunk_id": "faq#1", "title": "FAQ", "source": "s", "score": 0.2},
            ],
            prompt="[1] Billing ...",
            answer="Dans Paramètres › Facturation [1].",
            citations=[citation],
            abstained=False,
            confidence=0.77,
            release_id="rel-3",
            model_id="SmolLM2-135M-Instruct",
            adapter_id="lora-2",
            index_id="idx-9",
            curated_answer_id=None,
            latency_ms={"retrieve": 12.5, "first_token": 80, "total": 410.25},
        )
    with db.session() as session:
        row = store.get_interaction(session, interaction_id)
        assert store.get_interaction(session, "nope") is None
    assert row is not None
    assert (row.channel, row.user_id) == ("slack", "U9")  # taken from the conversation
    assert row.question == "Où est ma facture ?"
    assert row.history == [
        {"role": "user", "content": "bonjour"},
        {"role": "assistant", "content": "Bonjour !"},
    ]
    assert row.hits[0] == {
        "doc_id": "billing.md",
        "chunk_id": "billing.md#0",
        "title": "Billing",
        "source": "https://x/b",
        "score": 0.8123,
    }
    assert row.hits[1]["doc_id"] == "faq"
    assert row.citations == [citation.to_dict()]
    assert (row.abstained, row.confidence, row.release_id, row.adapter_id, row.index_id) == (
        False,
        0.77,
        "rel-3",
        "lora-2",
        "idx-9",
    )
    assert row.latency_ms == {"retrieve": 12.5, "first_token": 80.0, "total": 410.25}
    assert row.prompt == "[1] Billing ..." and row.curated_answer_id is None


def test_interaction_with_given_id_and_defaults(db: store.Store, add_interaction) -> None:
    with db.session() as session:
        given = add_interaction(
            session, interaction_id="11111111-2222-3333-4444-555555555555", abstained=True
        )
    with db.session() as session:
        row = store.get_interaction(session, given)
    assert row is not None and row.id == given
    assert (row.history, row.hits, row.citations, row.latency_ms, row.abstained) == ([], [], [], {}, True)


def test_interaction_for_unknown_conversation(db: store.Store) -> None:
    with pytest.raises(LookupError, match="unknown conversation"), db.session() as session:
        store.record_interaction(
            session,
            conversation_id="ghost",
            question="q",
            answer="a",
            release_id="r",
            model_id="m",
            index_id="i",
        )
    with db.session() as session:
        assert session.query(store.InteractionRow).count() == 0
