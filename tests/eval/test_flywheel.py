"""The evaluation harness and the flywheel simulation: splits, metrics, reports, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.store.models import InteractionRow
from eval.flywheel import customers_ask, lead_works_queue, worse_after_promotion, write_flywheel_report
from eval.harness import measure, rouge_l
from tests.clirunner import cli, ok_json
from training.gate import EvalItem, out_of_scope
from training.public_data import (
    LabelledQuestion,
    abcd_articles,
    abcd_questions,
    bitext_questions,
    near_duplicate_key,
    split,
)


def test_near_duplicates_share_a_key_once_digits_and_names_are_masked() -> None:
    assert near_duplicate_key("how can I cancel purchase 113542617735902?") == near_duplicate_key(
        "How can I cancel purchase 00004587345"
    )
    assert near_duplicate_key("I want my invoices from Ms. Hawkings") == near_duplicate_key(
        "i want my invoices from Ms. Smith"
    )
    assert near_duplicate_key("Cancel order {{Order Number}}") == near_duplicate_key("cancel order #A-12")
    assert near_duplicate_key("cancel my order") != near_duplicate_key("change my order")


def test_split_keeps_each_near_duplicate_group_in_one_part_and_is_stable() -> None:
    questions = bitext_questions()
    parts = split(questions, seed=0)
    assert sum(len(items) for items in parts.values()) == len(questions)
    keys = {name: {near_duplicate_key(q.question) for q in items} for name, items in parts.items()}
    assert (
        not keys["test"] & keys["stream"]
        and not keys["test"] & keys["dev"]
        and not keys["dev"] & keys["stream"]
    )
    assert 0.25 < len(parts["test"]) / len(questions) < 0.35
    assert split(questions, seed=0) == parts and split(questions, seed=1) != parts


def test_abcd_questions_point_at_its_articles() -> None:
    articles = {article.doc_id for article in abcd_articles()}
    questions = abcd_questions()
    assert len(articles) == 55 and {q.doc_id for q in questions} == articles
    assert all(q.question and q.reference for q in questions)
    parts = split(questions)
    assert all(parts[name] for name in ("stream", "dev", "test"))


def test_rouge_l_is_one_for_the_same_text_and_lower_for_others() -> None:
    same, other = rouge_l(
        ["Refunds take five days.", "Call us."], ["Refunds take five days.", "Refunds take days."]
    )
    assert same == pytest.approx(1.0) and 0.0 <= other < 0.5


def test_measure_reports_retrieval_answers_serving_and_scope_without_logging(assistant) -> None:
    items = [
        EvalItem(
            "How do I reset my password?", ("password.md",), "Click 'Forgot password' on the sign-in page."
        ),
        EvalItem(
            "When does express delivery arrive?", ("shipping/options.md",), "Express arrives the next day."
        ),
    ]
    metrics = measure(assistant, items, out_of_scope(20), answer_samples=2, resolve_similarity=0.0)
    assert metrics["hit@1"] == 1.0 and metrics["recall@5"] == 1.0 and metrics["ndcg@10"] == 1.0
    assert metrics["answered"] == 1.0 and metrics["curated_hits"] == 0.0
    assert metrics["resolution"] == 1.0  # right first source, and any similarity counts at 0.0
    assert 0.0 < metrics["answer_similarity"] <= 1.0 and 0.0 <= metrics["answer_rouge_l"] <= 1.0
    assert metrics["citations_valid"] == 1.0 and 0.0 <= metrics["oos.abstention"] <= 1.0
    assert metrics["first_token_ms.p50"] is not None and metrics["total_ms.p95"] >= metrics["total_ms.p50"]
    assert measure(assistant, items, answer_samples=2, resolve_similarity=1.01)["resolution"] == 0.0
    with assistant.store.session() as session:
        assert session.query(InteractionRow).count() == 0


def test_simulated_customers_vote_and_the_lead_corrects_wrong_answers(assistant) -> None:
    batch = [
        LabelledQuestion("How do I reset my password?", "password.md", "Click 'Forgot password'."),
        LabelledQuestion("When does express delivery arrive?", "refunds.md", "We pay refunds in 5 days."),
    ]
    asked, counts = customers_ask(assistant, batch, start=0, resolve_similarity=0.0)
    assert counts == {"asked": 2, "up": 1, "resolved": 1, "curated": 0, "abstained": 0}
    lead = lead_works_queue(assistant, asked, share=1.0)
    assert lead == {"approved": 0, "corrected": 1}  # only the 👎 answer was flagged
    again = assistant.ask("When will my express delivery arrive?")
    assert again.curated_answer_id is not None and again.answer == "We pay refunds in 5 days."


def _report(promoted: bool, hit: float) -> dict:
    base = {"hit@1": 0.7, "recall@5": 0.9, "answer_similarity": 0.5, "answered": 0.9, "oos.abstention": 0.9}
    cycle = {
        "cycle": 1,
        "promoted": promoted,
        "status": "succeeded",
        "verdict": "passed" if promoted else "failed",
        "gate_reasons": [] if promoted else ["dev.hit@1 fell"],
        "release": "r2",
        "dataset_counts": {"sft": {"train": 3}},
        "training_leaks": 0,
        "minutes": 1.0,
        "stream": {"asked": 10, "up": 7},
        "lead": {"approved": 1, "corrected": 2},
        "test": base | {"hit@1": hit},
    }
    rows = [{"cycle": 0, "release": "r1", "test": base}, cycle]
    return {"corpus": "bitext", "measured_at": "now", "sizes": {}, "config": {}, "cycles": rows}


def test_a_promoted_cycle_that_worsens_a_test_metric_is_reported(tmp_path: Path) -> None:
    assert worse_after_promotion(_report(True, 0.6)["cycles"]) == ["cycle 1: hit@1 0.700 → 0.600"]
    assert worse_after_promotion(_report(False, 0.6)["cycles"]) == []  # the gate held it back
    assert worse_after_promotion(_report(True, 0.95)["cycles"]) == []
    report = _report(True, 0.95) | {"worse_after_promotion": []}
    folder = write_flywheel_report(report, tmp_path / "run")
    assert (folder / "flywheel.png").read_bytes().startswith(b"\x89PNG")
    markdown = (folder / "report.md").read_text()
    assert "| 1 | yes | 0.950 |" in markdown and "7/10" in markdown and "none." in markdown
    assert json.loads((folder / "report.json").read_text())["cycles"][1]["test"]["hit@1"] == 0.95


def test_eval_release_cli_writes_a_report_and_refuses_bad_golden_sets(home, tmp_path: Path) -> None:
    golden = tmp_path / "golden.jsonl"
    golden.write_text('{"question": "How do I reset my password?", "doc_ids": ["password.md"]}\n')
    report = ok_json("eval", "release", "--golden", str(golden), "--oos", "10", "--out", str(tmp_path / "r"))
    assert report["metrics"]["hit@1"] == 1.0 and report["release"] == home.registry.current_id()
    assert (tmp_path / "r" / "report.md").read_text().startswith(f"# Release {report['release']}")
    assert "remote_api_key" not in report["settings"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": ""}\n')
    for args, message in (
        (["--golden", str(bad)], "bad.jsonl:1: the question is empty"),
        (["--golden", str(tmp_path / "missing.csv")], "does not exist"),
        ([], "give --golden FILE"),
    ):
        result = cli("eval", "release", *args)
        assert result.exit_code == 2 and message in result.output


def test_eval_flywheel_refuses_an_unknown_corpus() -> None:
    result = cli("eval", "flywheel", "--corpus", "nope")
    assert result.exit_code == 2 and "unknown corpus 'nope'" in result.output


@pytest.mark.slow
def test_quick_flywheel_runs_a_real_cycle_without_leaking_the_test_set(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import config

    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "user-home"))
    (tmp_path / "user-home").mkdir()
    (tmp_path / "user-home" / "models").symlink_to(model_cache.resolve(), target_is_directory=True)
    config.get_settings.cache_clear()
    report = ok_json("eval", "flywheel", "--quick", "--out", str(tmp_path / "report"))
    config.get_settings.cache_clear()
    base, cycle = report["cycles"]
    assert cycle["status"] == "succeeded" and cycle["verdict"] in ("passed", "failed")
    assert cycle["promoted"] == (cycle["verdict"] == "passed")
    assert cycle["training_leaks"] == 0 and cycle["dataset_counts"]["sft"]["train"] > 0
    assert cycle["stream"]["asked"] == 40 and cycle["lead"]["corrected"] + cycle["lead"]["approved"] > 0
    for row in (base, cycle):
        assert 0.0 <= row["test"]["hit@1"] <= 1.0 and row["test"]["answer_similarity"] is not None
    assert cycle["test"]["curated_hits"] >= base["test"]["curated_hits"] == 0.0
    assert (tmp_path / "report" / "flywheel.png").is_file() and (tmp_path / "report" / "report.md").is_file()
    assert not (tmp_path / "user-home" / "assistant.db").exists()  # the user's data home is untouched
