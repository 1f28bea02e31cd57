"""``assistant review`` and ``assistant curated``: JSON shapes, exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clirunner import cli, ok_json


def test_thumbs_down_to_served_correction_through_the_cli(home, tmp_path: Path) -> None:
    answer = home.ask("Do you ship to Canada?")
    assert cli("feedback", answer.interaction_id, "--down").exit_code == 0
    [item] = ok_json("review", "list", "--reason", "thumbs_down")
    assert item["interaction_id"] == answer.interaction_id and item["reasons"][0] == "thumbs_down"
    assert {"id", "question", "answer", "priority", "cluster", "version"} <= set(item)
    shown = ok_json("review", "show", str(item["id"]))  # the whole context a lead decides on
    assert shown["question"] == "Do you ship to Canada?" and shown["answer"] == answer.answer
    assert [e["rating"] for e in shown["feedback"]] == ["down"] and shown["audit"] == []
    assert shown["sources"] and {s["doc_id"] for s in shown["sources"] if s["cited"]} == {
        c.doc_id for c in answer.citations
    }
    text = cli("review", "show", str(item["id"])).stdout
    assert "Do you ship to Canada?" in text and shown["sources"][0]["doc_id"] in text and "down" in text
    done = ok_json(
        "review",
        "correct",
        str(item["id"]),
        "--answer",
        "Yes, in 5-8 days.",
        "--doc",
        "shipping/options.md",
        "--actor",
        "ana",
    )
    assert done["status"] == "corrected" and done["curated_answer_id"]
    served = home.ask("Do you ship orders to Canada?")
    assert served.curated_answer_id == done["curated_answer_id"] and served.answer == "Yes, in 5-8 days."
    assert ok_json("review", "list") == []
    assert cli("review", "list").stdout.strip() == "no open flags"
    reviewed = ok_json("review", "show", str(item["id"]))
    assert reviewed["status"] == "corrected" and reviewed["audit"][0]["actor"] == "ana"
    assert reviewed["curated"]["answer"] == "Yes, in 5-8 days."

    [curated] = ok_json("curated", "list")
    assert curated["served_count"] == 1 and curated["created_by"] == "ana"
    exported = tmp_path / "curated.csv"
    assert ok_json("curated", "export", str(exported))["count"] == 1
    assert ok_json("curated", "disable", curated["id"])["enabled"] is False
    assert home.ask("Do you ship orders to Canada?").curated_answer_id is None
    assert ok_json("curated", "delete", curated["id"]) == {"deleted": curated["id"]}
    assert ok_json("curated", "import", str(exported)) == {"added": 1, "updated": 0, "erased": 0}


def test_gap_and_reject_and_gaps_export(home, tmp_path: Path) -> None:
    home.ask("Do you sell gift cards?")
    home.ask("What is the airspeed of a swallow?")
    items = ok_json("review", "list", "--reason", "abstained")
    assert len(items) == 2
    gap = ok_json("review", "gap", str(items[0]["id"]), "--note", "write a gift card article")
    assert gap["status"] == "gap"
    assert ok_json("review", "reject", str(items[1]["id"]))["status"] == "rejected"
    gaps = ok_json("review", "gaps", "--csv", str(tmp_path / "gaps.csv"))
    assert [g["notes"] for g in gaps] == [["write a gift card article"]]
    assert (tmp_path / "gaps.csv").read_text().startswith("cluster,count,examples")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["review", "approve", "999"], "no flag 999"),
        (["review", "show", "999"], "no flag 999"),
        (["review", "list", "--reason", "bored"], "--reason must be one of"),
        (["review", "correct", "FLAG", "--answer", "  "], "needs the answer text"),
        (["review", "correct", "FLAG", "--answer", "x", "--doc", "nope.md"], "unknown document 'nope.md'"),
        (["review", "reject", "FLAG", "--version", "7"], "changed since you loaded it"),
        (["curated", "disable", "nope"], "no curated answer 'nope'"),
        (["curated", "delete", "nope"], "no curated answer 'nope'"),
        (["curated", "import", "/no/such.csv"], "no such file"),
        (["curated", "import", "BADCSV"], "no 'question' column"),
    ],
)
def test_bad_input_exits_2_with_one_line(home, tmp_path: Path, args: list[str], message: str) -> None:
    answer = home.ask("What is the airspeed of a swallow?")
    assert answer.abstained
    [item] = ok_json("review", "list")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("id,answer\n1,x\n")
    args = [str(item["id"]) if a == "FLAG" else str(bad_csv) if a == "BADCSV" else a for a in args]
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert ok_json("review", "list")[0]["version"] == item["version"]  # nothing changed


def test_review_then_conflict_for_the_second_lead(home) -> None:
    home.ask("What is the airspeed of a swallow?")
    [item] = ok_json("review", "list")
    version = str(item["version"])
    assert cli("review", "gap", str(item["id"]), "--version", version).exit_code == 0
    second = cli("review", "reject", str(item["id"]), "--version", version)
    assert second.exit_code == 2 and "changed since you loaded it" in second.stderr


def test_examples_for_the_learning_cycle(home, tmp_path: Path) -> None:
    answer = home.ask("Do you ship to Canada?")
    cli("feedback", answer.interaction_id, "--down")
    [item] = ok_json("review", "list")
    ok_json("review", "correct", str(item["id"]), "--answer", "Yes, in 5-8 days.", "--actor", "ana")
    target = tmp_path / "examples.jsonl"
    [example] = ok_json("review", "examples", "--jsonl", str(target))
    assert example["kind"] == "corrected" and example["answer"] == "Yes, in 5-8 days."
    assert example["provenance"]["reviews"][0]["interaction_id"] == answer.interaction_id
    assert [json.loads(line) for line in target.read_text().splitlines()] == [example]
    shown = cli("review", "examples")
    assert shown.exit_code == 0 and "corrected  Do you ship to Canada?  (ana)" in shown.stdout
