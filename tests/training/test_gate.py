"""The release gate: golden-set loading, evaluating a release, and the decision rule."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from training.gate import (
    EvalItem,
    EvalSets,
    GoldenSetError,
    ReleaseScores,
    decide,
    evaluate_release,
    load_golden,
    out_of_scope,
)


def test_load_golden_csv_and_jsonl(tmp_path: Path) -> None:
    csv_file = tmp_path / "golden.csv"
    csv_file.write_text(
        "question,doc_ids,answer\nHow do I get a refund?,refunds.md,Within 5 days.\nReset?,password.md,\n"
    )
    assert load_golden(csv_file) == [
        EvalItem("How do I get a refund?", ("refunds.md",), "Within 5 days."),
        EvalItem("Reset?", ("password.md",), ""),
    ]
    jsonl = tmp_path / "golden.jsonl"
    jsonl.write_text(
        '{"question": "Express?", "doc_id": "shipping/options.md"}\n\n{"question": "Q", "answer": "A"}\n'
    )
    assert load_golden(jsonl) == [EvalItem("Express?", ("shipping/options.md",)), EvalItem("Q", (), "A")]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("g.csv", "question,doc_ids\n,refunds.md\n", "g.csv:2: the question is empty"),
        ("g.csv", "question,doc_ids\nWhy?,\n", "g.csv:2: give doc_ids and/or an answer"),
        ("g.jsonl", '{"question": "x", "doc_ids": ["a"]}\nnot json\n', "g.jsonl:2: not JSON"),
        ("g.jsonl", "[1, 2]\n", "g.jsonl:1: expected an object"),
    ],
)
def test_bad_golden_sets_name_the_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(GoldenSetError, match=message):
        load_golden(tmp_path / name)


def test_evaluate_release_measures_retrieval_answers_and_abstention(assistant) -> None:
    sets = EvalSets(
        dev=[
            EvalItem("How do I reset my password?", ("password.md",), "Click 'Forgot password'."),
            EvalItem("When does express delivery arrive?", ("shipping/options.md",)),
        ],
        out_of_scope=out_of_scope(20),
    )
    metrics = evaluate_release(assistant, assistant.registry.current(), sets, answer_samples=5).metrics
    assert metrics["dev.hit@1"] == 1.0 and metrics["dev.recall@5"] == 1.0 and metrics["dev.mrr"] == 1.0
    assert metrics["dev.answered"] == 1.0 and metrics["dev.citations_valid"] == 1.0
    assert 0.0 < metrics["dev.answer_similarity"] <= 1.0
    assert 0.0 <= metrics["oos.abstention"] <= 1.0
    assert "golden.hit@1" not in metrics
    with assistant.store.session() as session:  # evaluation logs nothing
        from assistant.store.models import InteractionRow

        assert session.query(InteractionRow).count() == 0


def test_decide_floors_and_drops() -> None:
    current = ReleaseScores({"dev.hit@1": 0.80, "oos.abstention": 0.90})
    passing = ReleaseScores({"dev.hit@1": 0.79, "oos.abstention": 0.95})
    assert decide(passing, current, floors={}, max_drop=0.02, max_answer_drop=0.15).passed
    failed = decide(
        ReleaseScores({"dev.hit@1": 0.70, "oos.abstention": 0.95}),
        current,
        floors={"oos.abstention": 0.96},
        max_drop=0.02,
        max_answer_drop=0.15,
    )
    assert not failed.passed and len(failed.reasons) == 2
    assert any("fell from 0.800 to 0.700" in r for r in failed.reasons)
    assert any("below the floor" in r for r in failed.reasons)
    missing = decide(
        ReleaseScores({}), None, floors={"golden.hit@1": 0.5}, max_drop=0.02, max_answer_drop=0.15
    )
    assert not missing.passed and "golden.hit@1 was not measured (floor 0.5)" in missing.reasons


def test_a_drop_within_sampling_noise_passes_and_a_consistent_one_fails() -> None:
    # one answer of 8 declined: the share falls by 0.125, but one flip says little
    current = ReleaseScores({"dev.answered": 1.0}, per_question={"dev.answered": [1.0] * 8})
    one_flip = ReleaseScores({"dev.answered": 0.875}, per_question={"dev.answered": [1.0] * 7 + [0.0]})
    assert decide(one_flip, current, floors={}, max_drop=0.02).passed
    # every one of 40 questions a little worse: a real drop, whatever its size per question
    before = [0.80 + 0.005 * (i % 5) for i in range(40)]
    after = [value - 0.05 for value in before]
    current = ReleaseScores(
        {"dev.answer_similarity": float(np.mean(before))}, per_question={"dev.answer_similarity": before}
    )
    worse = ReleaseScores(
        {"dev.answer_similarity": float(np.mean(after))}, per_question={"dev.answer_similarity": after}
    )
    verdict = decide(worse, current, floors={}, max_drop=0.02)
    assert not verdict.passed and "dev.answer_similarity fell" in verdict.reasons[0]
    # without per-question values (older reports) the plain max_drop rule applies
    assert not decide(
        ReleaseScores({"dev.answered": 0.875}), ReleaseScores({"dev.answered": 1.0}), floors={}, max_drop=0.02
    ).passed


def test_one_golden_answer_turned_wrong_fails_even_when_the_mean_holds() -> None:
    """A poisoned adapter can improve one answer while it ruins another: the mean stays put."""
    current = ReleaseScores({"golden.answer_similarity": 0.75}, {"refund?": 0.91, "password?": 0.59})
    candidate = ReleaseScores({"golden.answer_similarity": 0.75}, {"refund?": 0.58, "password?": 0.92})
    assert decide(candidate, current, floors={}, max_drop=0.02).passed  # the check is opt-in
    verdict = decide(candidate, current, floors={}, max_drop=0.02, max_answer_drop=0.15)
    assert not verdict.passed
    (reason,) = verdict.reasons
    assert reason.startswith("golden answer to 'refund?' moved away") and "0.910 -> 0.580" in reason
    assert decide(candidate, current, floors={}, max_drop=0.02, max_answer_drop=0.5).passed


def test_out_of_scope_questions_alone_do_not_pass_a_candidate() -> None:
    only_oos = ReleaseScores({"oos.abstention": 0.95})
    verdict = decide(only_oos, ReleaseScores({"oos.abstention": 0.90}), floors={}, max_drop=0.02)
    assert not verdict.passed and "nothing in scope was measured" in verdict.reasons[0]


def test_the_demo_golden_set_asks_about_every_demo_article_by_its_id() -> None:
    demo = Path(__file__).resolve().parents[2] / "demo"
    ids = {re.search(r"^id: (\S+)$", page.read_text(), re.M).group(1) for page in (demo / "kb").glob("*.md")}
    items = load_golden(demo / "golden.jsonl")
    assert sorted(d for item in items for d in item.doc_ids) == sorted(ids)
