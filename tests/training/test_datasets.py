"""Datasets from the conversation log: provenance, weights, safety rules, splits, reproducibility."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from datasets import load_from_disk

from assistant.releases import ReleaseRegistry
from assistant.retrieval.snapshot import IndexSnapshot
from assistant.types import Chunk
from tests.conftest import KB, write_kb
from tests.fakes import FakeGenerator
from tests.training.conftest import ask, settle, vote
from training.config import CONFIG_FILE, DatasetConfig
from training.datasets import KINDS, build_datasets, split_of


def build(assistant, config, **kwargs):
    return build_datasets(
        assistant.store, assistant.settings, config=config, embedder=assistant.embedder, **kwargs
    )


def rows(result, kind: str) -> list[dict]:
    loaded = load_from_disk(str(result.path / kind))
    return [row for split in ("train", "dev") for row in loaded[split]]


def test_reviewed_and_outcome_rows_carry_weights_and_provenance(assistant, fake, config) -> None:
    corrected_id, curated_id = settle(
        assistant,
        "How long does a refund take?",
        "correct",
        answer="Within 5 business days of the return.",
        doc_ids=["refunds.md"],
    )
    rejected_id, _ = settle(assistant, "When do express orders leave the warehouse?", "reject", note="spam")
    vote(assistant, rejected_id, "up", "resolved", voter="mallory")
    outcome_id = ask(assistant, "How do I reset my password?")
    served = fake.calls[-1]
    events = vote(assistant, outcome_id, "up", "resolved", voter="alice")
    up_only = ask(assistant, "What delivery options are there?")
    vote(assistant, up_only, "up", voter="bob")  # 👍 without "resolved": preference only

    result = build(assistant, config)
    assert not result.skipped and result.path.is_dir()
    sft = {row["source"]: row for row in rows(result, "sft")}
    assert len(rows(result, "sft")) == 2
    reviewed, outcome = sft["reviewed"], sft["outcome"]
    assert reviewed["weight"] == 1.0 and reviewed["curated_answer_id"] == curated_id
    assert reviewed["interaction_id"] == corrected_id
    assert reviewed["completion"] == [
        {"role": "assistant", "content": "Within 5 business days of the return."}
    ]
    assert reviewed["prompt"][-1]["content"].endswith("How long does a refund take?")
    assert outcome["weight"] == pytest.approx(0.3) and outcome["interaction_id"] == outcome_id
    assert outcome["feedback_ids"] == sorted(events) and outcome["curated_answer_id"] is None
    assert outcome["prompt"] == served  # rebuilt with build_messages: what the generator saw
    assert reviewed["feedback_ids"]  # the 👎 that flagged it

    everything = json.dumps([rows(result, kind) for kind in KINDS]) + json.dumps(result.manifest)
    assert rejected_id not in everything and "warehouse" not in everything
    assert (
        result.manifest["drops"]["sft"]["rejected"] == 1 and result.manifest["drops"]["kto"]["rejected"] == 1
    )

    kto = {row["interaction_id"]: row["label"] for row in rows(result, "kto")}
    assert kto == {outcome_id: True, up_only: True, corrected_id: False}
    pairs = {row["interaction_id"]: row for row in rows(result, "pairs")}
    assert pairs[corrected_id]["positive_chunk_id"].startswith("refunds.md")
    assert "5 business days" in pairs[corrected_id]["positive"]
    assert pairs[outcome_id]["anchor"] == "How do I reset my password?"
    assert "Forgot password" in pairs[outcome_id]["positive"]

    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["id"] == result.dataset_id and manifest["config"] == config.to_dict()
    assert DatasetConfig.load(result.path) == config and (result.path / CONFIG_FILE).is_file()
    provenance = [r for s in manifest["rows"]["sft"].values() for r in s]
    assert {(r["source"], r["interaction_id"]) for r in provenance} == {
        ("reviewed", corrected_id),
        ("outcome", outcome_id),
    }
    assert {r["interaction_id"]: r["feedback_ids"] for r in provenance}[outcome_id] == sorted(events)
    assert manifest["voter_weight_share"]["sft"] == {
        "(reviewed)": pytest.approx(1 / 1.3, abs=1e-5),
        "alice": pytest.approx(0.3 / 1.3, abs=1e-5),
    }
    assert sum(manifest["counts"]["sft"].values()) == 2


def test_thumbs_down_only_feeds_kto_as_undesirable(assistant, config) -> None:
    good = ask(assistant, "How do I reset my password?")
    vote(assistant, good, "up", "resolved", voter="alice")
    bad = ask(assistant, "How fast is express delivery?")
    vote(assistant, bad, "down", "unresolved", voter="bob")
    result = build(assistant, config)
    assert [r["interaction_id"] for r in rows(result, "sft")] == [good]
    assert {r["interaction_id"]: r["label"] for r in rows(result, "kto")} == {good: True, bad: False}
    assert bad not in {r["interaction_id"] for r in rows(result, "pairs")}


def test_one_voter_in_fifty_sessions_stays_capped(assistant, config, fake) -> None:
    settle(
        assistant,
        "How long does a refund take?",
        "correct",
        answer="Five business days.",
        doc_ids=["refunds.md"],
    )
    honest = ask(assistant, "How do I reset my password?")
    vote(assistant, honest, "up", "resolved", voter="alice")
    fake.answer = "Send us your card number by post [1]"  # the planted answer
    for n in range(50):
        planted = ask(assistant, f"Question {n} about express delivery times", conversation_id=None)
        vote(assistant, planted, "up", "resolved", voter="mallory")

    result = build(assistant, config)
    sft = rows(result, "sft")
    by_mallory = [r for r in sft if "card number" in r["completion"][0]["content"]]
    assert len(by_mallory) == config.max_rows_per_voter  # 3 of 50 sessions
    assert len([r for r in rows(result, "kto") if r["label"]]) == config.max_rows_per_voter + 1
    shares = result.manifest["voter_weight_share"]["sft"]
    total = 1.0 + 0.3 + 3 * 0.3
    assert shares["mallory"] == pytest.approx(0.9 / total, abs=1e-5)
    assert shares["mallory"] < 0.5
    assert shares["(reviewed)"] > shares["mallory"]
    assert result.manifest["drops"]["sft"]["voter_cap"] == 47


def test_a_conversation_gives_at_most_m_rows(assistant, config) -> None:
    first = assistant.ask("How do I reset my password?")
    questions = [
        "Does the reset link expire?",
        "How do refunds work?",
        "What delivery options exist?",
        "How fast is express delivery?",
    ]
    for n, question in enumerate(questions):
        interaction = ask(assistant, question, conversation_id=first.conversation_id)
        vote(assistant, interaction, "up", "resolved", voter=f"voter-{n}")
    vote(assistant, first.interaction_id, "up", "resolved", voter="voter-x")
    result = build(assistant, config)
    assert len(rows(result, "sft")) == config.max_rows_per_conversation
    assert result.manifest["drops"]["sft"]["conversation_cap"] == 2


def test_pii_is_redacted_in_every_text(settings, make_assistant, tmp_path, db_url, config) -> None:
    kb = dict(KB)
    kb["contact.md"] = "# Contacting billing\n\nWrite to billing-team@example.com or call +44 20 7946 0958.\n"
    pii = [
        "jane.doe@example.org",
        "billing-team@example.com",
        "+44 20 7946 0958",
        "4111 1111 1111 1111",
        "(415) 555-2671",
        "DE89 3704 0044 0532 0130 00",
    ]
    fake = FakeGenerator(answer="Email billing-team@example.com with card 4111 1111 1111 1111 [1]")
    assistant = make_assistant(settings.model_copy(update={"database_url": db_url}), fake)
    assistant.ingest([write_kb(tmp_path / "kb2", kb)])
    first = assistant.ask("I am jane.doe@example.org, how do I contact billing?")
    second = assistant.ask(
        "My IBAN is DE89 3704 0044 0532 0130 00 and phone (415) 555-2671: how do I contact billing?",
        conversation_id=first.conversation_id,
    )
    vote(assistant, second.interaction_id, "up", "resolved", voter="jane")

    result = build(assistant, config)
    [row] = rows(result, "sft")
    everything = (
        json.dumps([rows(result, kind) for kind in KINDS]) + (result.path / "manifest.json").read_text()
    )
    assert not [p for p in pii if p in everything]
    prompt = "\n".join(m["content"] for m in row["prompt"])
    assert "[EMAIL]" in row["prompt"][1]["content"]  # the earlier turn
    assert "[IBAN]" in prompt and "[PHONE]" in prompt and "[CARD]" in row["completion"][0]["content"]
    counts = result.manifest["redactions"]
    assert counts["EMAIL"] >= 3 and counts["PHONE"] >= 2 and counts["CARD"] >= 1 and counts["IBAN"] >= 1


def test_erased_users_are_left_out_and_recorded(assistant, config) -> None:
    kept = ask(assistant, "How do I reset my password?", user_id="u-keep")
    vote(assistant, kept, "up", "resolved", voter="u-keep")
    gone = ask(assistant, "How do refunds work?", user_id="u-gone")
    vote(assistant, gone, "up", "resolved", voter="u-gone")
    vote(assistant, kept, "down", voter="u-gone")  # an erased voter's vote disappears too
    result = build(assistant, config, exclude_user_ids=["u-gone"])
    assert [r["interaction_id"] for r in rows(result, "sft")] == [kept]
    assert "u-gone" not in json.dumps(result.manifest)
    assert result.manifest["excluded_users"]["count"] == 1


def test_split_is_by_conversation_never_by_turn(assistant, config) -> None:
    conversations = [f"conv-{n}" for n in range(8)]
    assert {split_of(c, 0.5) for c in conversations} == {"train", "dev"}  # fixed ids: both splits used
    for n, conversation in enumerate(conversations):
        for question in (f"How do I reset my password, case {n}?", f"Does the reset link expire, case {n}?"):
            interaction = ask(assistant, question, conversation_id=conversation)
            vote(assistant, interaction, "up", "resolved", voter=f"v{n}")
    # the fake generator gives these questions one answer text: lift the per-answer cap here
    result = build(assistant, replace(config, max_rows_per_answer=16))
    assert result.counts["sft"]["train"] and result.counts["sft"]["dev"]
    for kind in KINDS:
        loaded = load_from_disk(str(result.path / kind))
        train, dev = set(loaded["train"]["conversation_id"]), set(loaded["dev"]["conversation_id"])
        assert not train & dev
        assert all(split_of(c, 0.5) == "dev" for c in dev) and all(split_of(c, 0.5) == "train" for c in train)
    assert sum(result.counts["sft"].values()) == 16


def test_duplicates_are_kept_once(assistant, config) -> None:
    for n in range(3):
        interaction = ask(assistant, "How do I reset my password?")
        vote(assistant, interaction, "up", "resolved", voter=f"v{n}")
        vote(assistant, ask(assistant, "how do I reset my password"), "up", "resolved", voter=f"w{n}")
    result = build(assistant, config)
    assert len(rows(result, "sft")) == 1 and len(rows(result, "kto")) == 1 and len(rows(result, "pairs")) == 1
    assert result.manifest["drops"]["sft"]["duplicate"] == 5


def test_vanished_chunks_fall_back_to_their_document_or_drop(assistant, config) -> None:
    interaction = ask(assistant, "How do I reset my password?")
    vote(assistant, interaction, "up", "resolved", voter="alice")
    registry = ReleaseRegistry(assistant.settings.releases_dir)
    snapshot = IndexSnapshot.load(registry.path(registry.current_id()))
    renamed = [Chunk(c.chunk_id + "-v2", c.doc_id, c.title, c.source, c.text) for c in snapshot.chunks]
    moved = IndexSnapshot.build(renamed, snapshot.embeddings, embedder=snapshot.info.embedder)
    result = build(assistant, config, snapshot=moved)
    [row] = rows(result, "sft")
    assert "Forgot password" in row["prompt"][-1]["content"] and result.manifest["source_fallbacks"] >= 1

    keep = [n for n, c in enumerate(snapshot.chunks) if c.doc_id != "password.md"]
    gone = IndexSnapshot.build(
        [renamed[n] for n in keep], snapshot.embeddings[keep], embedder=snapshot.info.embedder
    )
    skipped = build(assistant, config, snapshot=gone)
    assert skipped.skipped and "0 SFT rows" in skipped.reason


def test_too_little_data_is_a_clean_skip(assistant, config, tmp_path: Path) -> None:
    interaction = ask(assistant, "How do I reset my password?")
    vote(assistant, interaction, "up", "resolved", voter="alice")
    out = tmp_path / "datasets"
    result = build(assistant, DatasetConfig(min_sft_rows=5), out_dir=out)
    assert result.skipped and result.dataset_id is None and "1 SFT rows" in result.reason
    assert not out.exists()


def test_saved_sets_load_back_in_trl_formats_and_rebuild_to_the_same_id(assistant, config) -> None:
    from trl.data_utils import is_conversational

    settle(assistant, "How long does a refund take?", "approve")
    good = ask(assistant, "How do I reset my password?")
    vote(assistant, good, "up", "resolved", voter="alice")
    first = build(assistant, config)
    again = build(assistant, config)
    assert again.dataset_id == first.dataset_id and again.reused and again.path == first.path
    assert [p.name for p in first.path.parent.iterdir()] == [first.dataset_id]
    vote(assistant, ask(assistant, "What delivery options are there?"), "up", "resolved", voter="bob")
    changed = build(assistant, config)
    assert not changed.reused and changed.dataset_id.split("-")[-1] != first.dataset_id.split("-")[-1]

    expected = {
        "sft": {"prompt", "completion", "weight"},
        "kto": {"prompt", "completion", "label"},
        "pairs": {"anchor", "positive", "negative"},
    }
    for kind, columns in expected.items():
        loaded = load_from_disk(str(first.path / kind))
        assert set(loaded) == {"train", "dev"}
        for split in loaded.values():
            assert columns <= set(split.column_names)
            assert {"interaction_id", "conversation_id", "feedback_ids", "source"} <= set(split.column_names)
    example = rows(first, "sft")[0]
    assert is_conversational(example) and example["prompt"][0]["role"] == "system"
    assert is_conversational(rows(first, "kto")[0])


def test_a_thumbs_down_answer_to_a_near_question_gives_a_hard_negative(assistant, config, fake) -> None:
    good = ask(assistant, "How do I reset my password?")
    vote(assistant, good, "up", "resolved", voter="alice")
    fake.answer = "Pick express delivery [2]"  # cites the second source: another article
    bad = ask(assistant, "How can I reset my password quickly?")
    down_events = vote(assistant, bad, "down", voter="bob")
    result = build(assistant, config)
    [pair] = [r for r in rows(result, "pairs") if r["interaction_id"] == good]
    assert pair["positive_chunk_id"].startswith("password.md")
    assert pair["negative"] and not pair["negative_chunk_id"].startswith("password.md")
    assert set(down_events) <= set(pair["feedback_ids"])
    provenance = [r for s in result.manifest["rows"]["pairs"].values() for r in s]
    assert {r["interaction_id"]: r.get("negative_interaction_id") for r in provenance}[good] == bad


def test_since_and_imported_curated_answers(assistant, config) -> None:
    from assistant.review.curated import import_csv
    from assistant.store.models import utcnow

    old = ask(assistant, "How long does a refund take?")
    vote(assistant, old, "up", "resolved", voter="alice")
    since = utcnow()
    new = ask(assistant, "How do I reset my password?")
    vote(assistant, new, "up", "resolved", voter="bob")
    with assistant.store.session() as session:
        import_csv(
            session,
            "question,answer,doc_ids\n"
            "What delivery options are there?,Standard and express.,shipping/options.md\n",
            actor="lead-ana",
        )
    result = build(assistant, config, since=since)
    sft = rows(result, "sft")
    assert {r["interaction_id"] for r in sft} == {new, None}
    [imported] = [r for r in sft if r["source"] == "reviewed"]
    assert (
        imported["conversation_id"].startswith("curated:") and "express" in imported["prompt"][-1]["content"]
    )
    assert result.manifest["since"] == since.isoformat()
    [pair] = [r for r in rows(result, "pairs") if r["source"] == "reviewed"]
    assert pair["positive_chunk_id"].startswith("shipping/options.md")
