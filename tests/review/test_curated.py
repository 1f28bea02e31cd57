"""Curated answers: a correction is served at once for paraphrases, logged, and editable."""

from __future__ import annotations

import pytest

from assistant.pipeline import Delta
from assistant.review.actions import review
from assistant.review.curated import CuratedError, edit_curated, export_csv, import_csv, list_curated
from assistant.review.flags import flag_interaction
from assistant.store import get_interaction, record_feedback
from assistant.store.models import CuratedAnswerRow

CORRECTION = "Yes: we ship to Canada in 5-8 business days with tracked delivery."


def correct_canada(assistant, doc_ids=("shipping/options.md",)) -> str:
    """👎 on a question → flag → correction; returns the curated answer id."""
    answer = assistant.ask("Do you ship to Canada?")
    assert answer.curated_answer_id is None
    with assistant.store.session() as session:
        record_feedback(session, interaction_id=answer.interaction_id, rating="down", voter="cust-1")
        flag = flag_interaction(session, answer.interaction_id, assistant.settings, assistant.embedder)
        done = review(
            session,
            flag.id,
            "correct",
            expected_version=flag.version,
            actor="lead",
            answer=CORRECTION,
            doc_ids=list(doc_ids),
        )
        return done.curated_answer_id


def test_a_correction_is_served_for_a_paraphrase_without_generation(assistant, fake) -> None:
    curated_id = correct_canada(assistant)
    calls = len(fake.calls)
    events = list(assistant.ask_stream("Do you ship orders to Canada?"))
    answer = events[-1].answer
    assert answer.curated_answer_id == curated_id and answer.answer == CORRECTION and not answer.abstained
    assert "".join(e.text for e in events if isinstance(e, Delta)) == CORRECTION
    assert len(fake.calls) == calls  # no generation
    assert [c.doc_id for c in answer.citations] == ["shipping/options.md"]
    assert answer.citations[0].title == "Delivery options"
    assert answer.to_dict()["curated_answer_id"] == curated_id
    with assistant.store.session() as session:
        logged = get_interaction(session, answer.interaction_id)
        assert logged.curated_answer_id == curated_id and logged.model_id == ""
        assert session.get(CuratedAnswerRow, curated_id).served_count == 1


@pytest.mark.parametrize(
    "question", ["Do you ship to Mexico?", "How do I reset my password?", "Can I pay with PayPal?"]
)
def test_not_served_for_unrelated_questions(assistant, question: str) -> None:
    correct_canada(assistant)
    assert assistant.ask(question).curated_answer_id is None


def test_disabled_answers_are_not_served_and_enabling_serves_again(assistant) -> None:
    curated_id = correct_canada(assistant)
    with assistant.store.session() as session:
        edit_curated(session, curated_id, enabled=False)
    assert assistant.ask("Do you ship orders to Canada?").curated_answer_id is None
    with assistant.store.session() as session:
        edit_curated(session, curated_id, enabled=True, answer="Edited answer.")
    served = assistant.ask("Do you ship orders to Canada?")
    assert served.curated_answer_id == curated_id and served.answer == "Edited answer."


def test_missing_documents_cite_the_curated_answer_itself(assistant) -> None:
    curated_id = correct_canada(assistant, doc_ids=())
    [citation] = assistant.ask("do u ship to canada").citations
    assert citation.source == f"curated:{curated_id}" and citation.title == "Verified answer"


def test_another_process_picks_up_a_correction(assistant, make_assistant) -> None:
    """A server (its own Assistant) serves a correction made elsewhere on its next question."""
    server = make_assistant(assistant.settings)
    assert server.ask("Do you ship orders to Canada?").curated_answer_id is None  # matcher loaded, empty
    curated_id = correct_canada(assistant)
    assert server.ask("Do you ship orders to Canada?").curated_answer_id == curated_id


def test_csv_round_trip(assistant) -> None:
    curated_id = correct_canada(assistant)
    with assistant.store.session() as session:
        text = export_csv(session)
    assert text.splitlines()[0] == "id,question,answer,doc_ids,enabled"
    edited = text.replace("5-8 business days", "a week").replace(",true", ",false")
    extra = 'new-1,"How long do refunds take?","Five business days.",refunds.md,true\n'
    with assistant.store.session() as session:
        assert import_csv(session, edited + extra, actor="lead") == {"added": 1, "updated": 1, "erased": 0}
    with assistant.store.session() as session:
        rows = {row.id: row for row in list_curated(session)}
    assert "a week" in rows[curated_id].answer and not rows[curated_id].enabled
    assert rows["new-1"].doc_ids == ["refunds.md"] and rows["new-1"].enabled
    assert assistant.ask("how long does a refund take?").curated_answer_id == "new-1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,answer\n1,x\n", "no 'question' column"),
        ("question,answer\nok,fine\n,empty question\n", "line 3: question and answer must not be empty"),
        ("question,answer,enabled\nq,a,maybe\n", "enabled must be true or false"),
    ],
)
def test_a_bad_csv_changes_nothing(assistant, text: str, message: str) -> None:
    curated_id = correct_canada(assistant)
    with pytest.raises(CuratedError, match=message), assistant.store.session() as session:
        import_csv(session, text, actor="lead")
    with assistant.store.session() as session:
        assert [row.id for row in list_curated(session)] == [curated_id]
