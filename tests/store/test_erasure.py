"""Erasing one customer: the log, curated answers, dataset builds, the tombstone, the CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from assistant.cli import app
from assistant.pipeline import Assistant
from assistant.privacy import erase_user, user_hash
from assistant.review.actions import review
from assistant.review.curated import export_csv, import_csv
from assistant.review.flags import flag_interaction
from assistant.store import Base, record_feedback
from assistant.store.models import CuratedAnswerRow, ErasedUserRow, FeedbackRow, InteractionRow
from tests.clirunner import cli
from training.config import DatasetConfig
from training.datasets import build_datasets

A, B = "slack:U0ALICE", "web:9f2c0d"
CANARY = "zq-canary-7731"
CONFIG = DatasetConfig(min_sft_rows=1, dev_share=0.5, max_rows_per_voter=3, max_rows_per_conversation=3)


def ask(assistant: Assistant, question: str, user_id: str) -> str:
    return assistant.ask(question, user_id=user_id, channel="api").interaction_id


def vote(assistant: Assistant, interaction_id: str, voter: str, rating: str, resolution: str | None = None):
    with assistant.store.session() as session:
        record_feedback(session, interaction_id=interaction_id, rating=rating, voter=voter)
        if resolution:
            record_feedback(session, interaction_id=interaction_id, resolution=resolution, voter=voter)


def correct(
    assistant: Assistant, interaction_id: str, answer: str = "", curated_id: str | None = None
) -> str:
    """👎-flag and correct one interaction (or link it to ``curated_id``); the curated answer's id."""
    with assistant.store.session() as session:
        flag = flag_interaction(session, interaction_id, assistant.settings)
        done = review(
            session,
            flag.id,
            "correct",
            expected_version=flag.version,
            actor="lead-ana",
            answer=answer or None,
            curated_answer_id=curated_id,
        )
        return done.curated_answer_id


def build(assistant: Assistant, **kwargs):
    return build_datasets(
        assistant.store, assistant.settings, config=CONFIG, embedder=assistant.embedder, **kwargs
    )


def store_text(assistant: Assistant) -> str:
    """Every row of every table, as one string."""
    dumped = []
    with assistant.store.session() as session:
        for table in Base.metadata.sorted_tables:
            rows = session.execute(select(table)).mappings().all()
            dumped.append(json.dumps([dict(row) for row in rows], default=str, ensure_ascii=False))
    return "\n".join(dumped)


def files_text(folder: Path) -> str:
    if not folder.is_dir():
        return ""
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def traffic(assistant: Assistant) -> dict:
    """Two customers: A's questions carry the canary, one correction settles both A and B."""
    a_only = ask(assistant, f"How do I reset my password? My code is {CANARY}", A)
    vote(assistant, a_only, A, "down")
    only_a = correct(assistant, a_only, "Use 'Forgot password' on the sign-in page.")
    a_shared = ask(assistant, f"How long does a refund take for order {CANARY}?", A)
    vote(assistant, a_shared, A, "down")
    shared = correct(assistant, a_shared, "Refunds arrive within 5 business days of the return.")
    b_shared = ask(assistant, "How long does a refund take?", B)
    vote(assistant, b_shared, B, "down")
    correct(assistant, b_shared, curated_id=shared)
    b_good = ask(assistant, "What delivery options are there?", B)
    vote(assistant, b_good, B, "up", "resolved")
    vote(assistant, b_good, A, "up")  # A's vote on B's answer
    with assistant.store.session() as session:
        exported = export_csv(session)
    with_a = build(assistant)
    without_a = build(assistant, exclude_user_ids=[A])
    assert not with_a.skipped and not without_a.skipped and with_a.dataset_id != without_a.dataset_id
    assert CANARY in files_text(with_a.path)
    return {
        "b_ids": {b_shared, b_good},
        "only_a": only_a,
        "shared": shared,
        "exported": exported,
        "with_a": with_a,
        "without_a": without_a,
    }


def test_erase_leaves_no_trace_and_keeps_the_other_customer(assistant: Assistant, traffic: dict) -> None:
    report = erase_user(assistant.store, assistant.settings, A)

    assert (report.interactions, report.conversations, report.flags) == (2, 2, 2)
    assert report.feedback == 3  # two 👎 on their answers, one 👍 on B's
    assert report.review_actions == 2 and not report.already_erased
    assert report.curated_deleted == [traffic["only_a"]] and report.curated_kept == [traffic["shared"]]
    assert report.datasets_deleted == [traffic["with_a"].dataset_id]

    # the canary and the raw id are nowhere: store, datasets folder, a fresh build
    datasets = assistant.settings.home / "datasets"
    for text in (store_text(assistant), files_text(datasets)):
        assert CANARY not in text and A not in text
    fresh = build(assistant)
    assert not fresh.skipped and CANARY not in files_text(fresh.path)

    # B is intact: interactions, votes, the shared curated answer (lead's text, B's question), B-only build
    with assistant.store.session() as session:
        assert set(session.scalars(select(InteractionRow.id))) == traffic["b_ids"]
        assert {row.voter for row in session.scalars(select(FeedbackRow))} == {B}
        kept = session.get(CuratedAnswerRow, traffic["shared"])
        assert kept.answer == "Refunds arrive within 5 business days of the return."
        assert kept.question == "How long does a refund take?"
        assert kept.source_interaction_id in traffic["b_ids"]
        assert session.get(CuratedAnswerRow, traffic["only_a"]) is None
        tombstones = list(session.scalars(select(ErasedUserRow)))
    assert traffic["without_a"].path.is_dir()
    assert [t.user_hash for t in tombstones] == [hashlib.sha256(A.encode()).hexdigest()] == [user_hash(A)]
    assert A not in json.dumps(tombstones[0].erased_ids)

    again = erase_user(assistant.store, assistant.settings, A)
    assert again.removed == 0 and again.already_erased


def test_erased_customer_stays_out_of_training_and_imports(assistant: Assistant, traffic: dict) -> None:
    erase_user(assistant.store, assistant.settings, A)
    back = ask(assistant, f"How do I reset my password, {CANARY}-again?", A)  # they come back
    vote(assistant, back, A, "up", "resolved")
    vote(assistant, next(iter(traffic["b_ids"])), A, "up")

    fresh = build(assistant)  # no exclude_user_ids: the tombstone is enough
    assert CANARY not in files_text(fresh.path)
    assert fresh.manifest["excluded_users"] == {"count": 1, "sha256": [user_hash(A)]}
    with assistant.store.session() as session:
        counts = import_csv(session, traffic["exported"], actor="lead-ana")
        assert counts == {"added": 0, "updated": 1, "erased": 2}
        assert session.get(CuratedAnswerRow, traffic["only_a"]) is None
        assert session.get(CuratedAnswerRow, traffic["shared"]).question == "How long does a refund take?"

    report = erase_user(assistant.store, assistant.settings, A)  # erasing again removes the new rows
    assert report.already_erased and report.interactions == 1 and report.feedback == 3
    assert CANARY not in store_text(assistant)


def test_unknown_or_blank_user(assistant: Assistant) -> None:
    report = erase_user(assistant.store, assistant.settings, "nobody")
    assert report.removed == 0 and not report.already_erased
    with pytest.raises(ValueError):
        erase_user(assistant.store, assistant.settings, "  ")


def test_cli_erase(home: Assistant) -> None:
    first = home.ask(f"How do I reset my password? {CANARY}", user_id=A, channel="cli")
    home.ask("What delivery options are there?", user_id=B, channel="cli")
    vote(home, first.interaction_id, A, "down")

    declined = CliRunner().invoke(app, ["users", "erase", A], input="n\n")
    assert declined.exit_code == 1 and "nothing was erased" in declined.output
    assert CANARY in store_text(home)

    confirmed = CliRunner().invoke(app, ["users", "erase", A], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "removed 1 interactions, 1 conversations, 1 feedback events" in confirmed.output
    assert CANARY not in store_text(home)

    again = cli("users", "erase", A, "--yes", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["removed"] == 0
    unknown = cli("users", "erase", "nobody", "--yes")
    assert unknown.exit_code == 0 and "nothing stored for this user id" in unknown.output
    blank = cli("users", "erase", " ", "--yes")
    assert blank.exit_code == 2 and "USER_ID must not be empty" in blank.output
