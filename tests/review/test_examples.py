"""Lead-verified answers as training examples with provenance; rejected and disabled never."""

from __future__ import annotations

from assistant.review.actions import review, review_cluster
from assistant.review.clusters import recluster
from assistant.review.curated import edit_curated, import_csv
from assistant.review.examples import training_examples
from tests.review.test_actions import thumbs_down


def act(assistant, question: str, action: str, **kwargs):
    flag = thumbs_down(assistant, question)
    with assistant.store.session() as session:
        return review(
            session, flag.id, action, expected_version=flag.version, actor="ana", embedder=None, **kwargs
        )


def test_corrections_and_approvals_become_examples_with_provenance(assistant) -> None:
    history_answer = assistant.ask("Where is my refund?")
    corrected = thumbs_down(assistant, "How long does a refund take?")
    with assistant.store.session() as session:
        review(
            session,
            corrected.id,
            "correct",
            expected_version=corrected.version,
            actor="ana",
            answer="Within 5 business days of the return.",
            doc_ids=["refunds.md"],
        )
    approved = act(assistant, "How do I reset my password?", "approve")
    act(assistant, "Do you ship to Mars?", "reject", note="joke")
    act(assistant, "Can I pay in bitcoin?", "gap", note="no payments article")

    with assistant.store.session() as session:
        examples = list(training_examples(session))
    assert [(e["kind"], e["question"]) for e in examples] == [
        ("corrected", "How long does a refund take?"),
        ("approved", "How do I reset my password?"),
    ]
    first = examples[0]
    assert first["answer"] == "Within 5 business days of the return." and first["doc_ids"] == ["refunds.md"]
    assert first["sources"] and first["sources"][0]["doc_id"]
    [provenance] = first["provenance"]["reviews"]
    assert provenance["flag_id"] == corrected.id and provenance["interaction_id"] == corrected.interaction_id
    assert provenance["reviewed_by"] == "ana" and provenance["reviewed_at"]
    assert provenance["reasons"] == ["thumbs_down"]
    assert provenance["original_answer"] != first["answer"]  # what the model said first
    assert provenance["release_id"] and provenance["model_id"] == "fake-generator"
    assert examples[1]["provenance"]["reviews"][0]["flag_id"] == approved.id
    assert history_answer.interaction_id not in {
        r["interaction_id"] for e in examples for r in e["provenance"]["reviews"]
    }


def test_a_cluster_settled_at_once_is_one_example_naming_every_flag(assistant) -> None:
    flags = [thumbs_down(assistant, q) for q in ("How do I reset my password?", "how do i reset my password")]
    with assistant.store.session() as session:
        recluster(session, assistant.settings, assistant.embedder)
        first = session.merge(flags[0])
        review_cluster(
            session, first.id, "correct", expected_version=first.version, actor="bo", answer="Use the link."
        )
        [example] = training_examples(session)
    assert sorted(r["flag_id"] for r in example["provenance"]["reviews"]) == sorted(f.id for f in flags)


def test_disabled_answers_drop_out_and_imported_ones_join(assistant) -> None:
    done = act(assistant, "How do I reset my password?", "approve")
    with assistant.store.session() as session:
        import_csv(session, "question,answer\nDo you ship abroad?,Yes.\n", actor="ana")
        edit_curated(session, done.curated_answer_id, enabled=False)
        [example] = training_examples(session)
    assert example["kind"] == "imported" and example["question"] == "Do you ship abroad?"
    assert example["provenance"]["created_by"] == "ana" and example["provenance"]["reviews"] == []
    assert example["history"] == [] and example["sources"] == []
