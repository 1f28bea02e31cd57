"""The one path from a question to a logged, cited answer (real store, FAISS, embedder; fake generator)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from assistant.config import Settings
from assistant.pipeline import ABSTAIN_MESSAGE, ConversationNotOpen, Delta, Done
from assistant.review.flags import list_flags
from assistant.store import ConversationRow, InteractionRow, get_interaction
from tests.fakes import FakeGenerator


@pytest.fixture
def ingested(settings: Settings, kb_dir: Path, make_assistant):
    assistant = make_assistant(settings)
    assistant.ingest([kb_dir])
    return assistant


def test_answer_is_cited_streamed_and_logged(ingested) -> None:
    events = list(ingested.ask_stream("How do I reset my password?", user_id="cust-1", channel="web"))
    deltas = [e.text for e in events if isinstance(e, Delta)]
    [done] = [e for e in events if isinstance(e, Done)]
    answer = done.answer
    assert len(deltas) >= 2 and "".join(deltas).strip() == answer.answer  # streamed sentence by sentence
    assert not answer.abstained and answer.citations[0].doc_id == "password.md"
    assert answer.release == ingested.registry.current_id()
    with ingested.store.session() as session:
        row = get_interaction(session, answer.interaction_id)
        assert (
            row.question == "How do I reset my password?" and row.channel == "web" and row.user_id == "cust-1"
        )
        assert row.release_id == answer.release and row.model_id == "fake-generator"
        assert row.hits[0]["doc_id"] == "password.md" and "score" in row.hits[0]
        assert row.citations[0]["doc_id"] == "password.md"
        assert set(row.latency_ms) >= {"retrieve", "prompt", "first_token", "total"}
        assert "[1]" in row.prompt


def test_low_confidence_abstains_without_generation(settings: Settings, kb_dir: Path, make_assistant) -> None:
    fake = FakeGenerator()
    assistant = make_assistant(settings.model_copy(update={"min_confidence": 0.99}), fake)
    assistant.ingest([kb_dir])
    answer = assistant.ask("What is the airspeed of an unladen swallow?")
    assert answer.abstained and answer.answer == ABSTAIN_MESSAGE and answer.citations == ()
    assert fake.calls == []


def test_no_release_abstains(settings: Settings, make_assistant) -> None:
    answer = make_assistant(settings).ask("anything?")
    assert answer.abstained and answer.release == "none"


def test_follow_up_uses_the_stored_conversation(ingested) -> None:
    first = ingested.ask("How do refunds work?", user_id="u")
    second = ingested.ask("and how can I track it?", conversation_id=first.conversation_id, user_id="u")
    assert second.conversation_id == first.conversation_id
    with ingested.store.session() as session:
        row = get_interaction(session, second.interaction_id)
    assert row.history[0] == {"role": "user", "content": "How do refunds work?"}
    assert second.citations[0].doc_id == "refunds.md"


def test_invalid_citations_never_reach_the_answer(settings: Settings, kb_dir: Path, make_assistant) -> None:
    fake = FakeGenerator(answer="Use the reset link [2][9] as described [1].")
    assistant = make_assistant(settings, fake)
    assistant.ingest([kb_dir])
    events = list(assistant.ask_stream("How do I reset my password?"))
    streamed = "".join(e.text for e in events if isinstance(e, Delta))
    answer = events[-1].answer
    assert "[9]" not in streamed and "[9]" not in answer.answer
    hits = [h["doc_id"] for h in _logged_hits(assistant, answer.interaction_id)]
    assert [c.doc_id for c in answer.citations] == [hits[1], hits[0]]


def _logged_hits(assistant, interaction_id: str) -> list[dict]:
    with assistant.store.session() as session:
        return get_interaction(session, interaction_id).hits


def test_a_disconnected_stream_is_still_logged(ingested) -> None:
    stream = ingested.ask_stream("How do I reset my password?")
    next(stream)
    stream.close()  # the client went away mid-answer
    with ingested.store.session() as session:
        rows = session.query(InteractionRow).all()
    assert len(rows) == 1 and rows[0].question == "How do I reset my password?"


def test_a_new_conversation_is_written_with_its_first_answer_not_before(ingested) -> None:
    stream = ingested.ask_stream("How do I reset my password?", user_id="cust-2", conversation_id="chat-42")
    assert isinstance(next(stream), Delta)
    with ingested.store.session() as session:  # streaming has begun: nothing written yet
        assert session.query(ConversationRow).count() == 0
    *_, done = stream
    assert done.answer.conversation_id == "chat-42"
    with ingested.store.session() as session:
        conversation = session.get(ConversationRow, "chat-42")
        assert conversation.user_id == "cust-2" and conversation.channel == "api"
        assert get_interaction(session, done.answer.interaction_id).conversation_id == "chat-42"


@pytest.mark.parametrize(
    ("options", "message"),
    [({"conversation_id": " "}, "conversation_id must be"), ({"channel": "fax"}, "channel must be one of")],
)
def test_a_bad_conversation_key_fails_before_anything_is_answered(ingested, options, message) -> None:
    fake = ingested.live.generator_for(ingested.registry.current())
    with pytest.raises(ValueError, match=message):
        next(ingested.ask_stream("How do I reset my password?", **options))
    assert fake.calls == []
    with ingested.store.session() as session:
        assert session.query(InteractionRow).count() == 0


def test_only_its_user_continues_a_conversation_but_anyone_in_a_slack_thread(ingested) -> None:
    ana = ingested.ask("How do refunds work?", user_id="ana", channel="web", conversation_id="conv-ana")
    for intruder in ({"user_id": "bob", "channel": "web"}, {"user_id": "ana", "channel": "api"}):
        with pytest.raises(ConversationNotOpen, match="conv-ana"):
            ingested.ask_stream(
                "What did I ask?", conversation_id="conv-ana", **intruder
            )  # no next(): at once
    thread = ingested.ask("How do refunds work?", user_id="U1", channel="slack", conversation_id="thread-1")
    reply = ingested.ask("And returns?", user_id="U2", channel="slack", conversation_id="thread-1")
    assert reply.conversation_id == thread.conversation_id == "thread-1"
    with ingested.store.session() as session:
        assert [r.user_id for r in session.query(InteractionRow).filter_by(conversation_id="conv-ana")] == [
            "ana"
        ]
    assert ana.conversation_id == "conv-ana"


def test_two_users_racing_for_a_new_conversation_id_never_share_it(ingested) -> None:
    """Both pass the check while the id is new; the one logged second gets a conversation of its own."""
    bob = ingested.ask_stream("How do I reset my password?", user_id="bob", conversation_id="chat-7")
    ana = ingested.ask("How do refunds work?", user_id="ana", conversation_id="chat-7")
    *_, done = bob
    assert ana.conversation_id == "chat-7" and done.answer.conversation_id not in ("chat-7", None)
    with ingested.store.session() as session:
        assert session.get(ConversationRow, done.answer.conversation_id).user_id == "bob"
        assert [r.user_id for r in session.query(InteractionRow).filter_by(conversation_id="chat-7")] == [
            "ana"
        ]


@pytest.mark.postgres
def test_a_conversation_started_between_the_check_and_the_answer_gives_no_context(
    settings: Settings, kb_dir: Path, make_assistant, postgres_url: str
) -> None:
    """PostgreSQL shows each statement what is committed by then: Ana's turn, logged under the
    new id just after Bob's request found it unused, must not become Bob's context."""
    fake = FakeGenerator()
    assistant = make_assistant(settings.model_copy(update={"database_url": postgres_url}), fake)
    assistant.ingest([kb_dir])
    raced: list[str] = []

    def ana_logs_first(state: ORMExecuteState):
        if raced or not state.is_select or state.bind_mapper is None:
            return None
        if state.bind_mapper.class_ is not ConversationRow:
            return None
        raced.append("ana")
        result = state.invoke_statement().freeze()  # Bob's lookup: the id is unused
        assistant.ask("My code is CANARY-7731, how do refunds work?", user_id="ana", conversation_id="chat-9")
        return result()

    event.listen(Session, "do_orm_execute", ana_logs_first)
    try:
        bob = assistant.ask_stream("How do I reset my password?", user_id="bob", conversation_id="chat-9")
    finally:
        event.remove(Session, "do_orm_execute", ana_logs_first)
    *_, done = bob
    assert raced == ["ana"] and done.answer.conversation_id != "chat-9"
    assert "CANARY-7731" not in str(fake.calls[-1])
    with assistant.store.session() as session:
        assert get_interaction(session, done.answer.interaction_id).history == []


def test_an_answer_cut_off_at_the_token_limit_says_so(
    settings: Settings, kb_dir: Path, make_assistant
) -> None:
    short = make_assistant(settings.model_copy(update={"max_new_tokens": 5}))
    short.ingest([kb_dir])
    cut = short.ask("How do I reset my password?")
    assert cut.finish_reason == "length" and cut.usage.completion_tokens == 5
    whole = make_assistant(settings).ask("How do I reset my password?")
    assert whole.finish_reason == "stop" and 5 < whole.usage.completion_tokens < settings.max_new_tokens


def test_the_logged_answer_is_the_streamed_answer(settings: Settings, kb_dir: Path, make_assistant) -> None:
    """One citation rule for the stream and the log: "[1; 9]" keeps [1] in both, a marker to no
    source goes from both, however the model's pieces fall."""
    fake = FakeGenerator(
        answer="Click Forgot password [1; 9] on the sign-in page [7]. The link expires [1][1]."
    )
    assistant = make_assistant(settings, generator=fake)
    assistant.ingest([kb_dir])
    events = list(assistant.ask_stream("How do I reset my password?"))
    streamed = "".join(e.text for e in events if isinstance(e, Delta))
    [done] = [e for e in events if isinstance(e, Done)]
    assert (
        streamed
        == done.answer.answer
        == "Click Forgot password [1] on the sign-in page. The link expires [1][1]."
    )
    with assistant.store.session() as session:
        assert get_interaction(session, done.answer.interaction_id).answer == streamed
    assert [c.number for c in done.answer.citations] == [1]


def test_a_refusal_of_a_covered_question_gets_the_article_instead(
    settings: Settings, kb_dir: Path, make_assistant
) -> None:
    """The model refuses although retrieval found the article: the customer gets its sentences,
    cited, and a lead gets the interaction flagged "refused"."""
    fake = FakeGenerator(answer="I'm unable to assist with passwords, as I'm not a customer support AI.")
    assistant = make_assistant(settings, generator=fake)
    assistant.ingest([kb_dir])
    answer = assistant.ask("How do I reset my password?")
    assert answer.answer.startswith("From *Resetting your password*: ") and "Forgot password" in answer.answer
    assert "unable" not in answer.answer and answer.citations[0].doc_id == "password.md"
    with assistant.store.session() as session:
        assert list_flags(session)[0]["reasons"] == ["refused"]


def test_a_loop_stops_generating(settings: Settings, kb_dir: Path, make_assistant) -> None:
    fake = FakeGenerator(answer="Click Forgot password on the sign-in page. " * 20)
    assistant = make_assistant(settings, generator=fake)
    assistant.ingest([kb_dir])
    answer = assistant.ask("How do I reset my password?")
    assert answer.answer == "Click Forgot password on the sign-in page." and answer.finish_reason == "stop"
    assert answer.usage.completion_tokens is not None and answer.usage.completion_tokens < 30
