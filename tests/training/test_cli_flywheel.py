"""``assistant flywheel`` and the gate-aware ``releases activate``: JSON shapes, exit codes."""

from __future__ import annotations

import json

import pytest

from assistant import runs
from assistant.cli.flywheel import parse_every, run_progress
from assistant.retrieval.snapshot import IndexSnapshot
from tests.clirunner import cli, ok_json


def failed_candidate(assistant) -> str:
    """A cycle candidate release whose gate failed (made by hand: no training needed)."""
    registry = assistant.registry
    parent = registry.current()
    staging = registry.staging_dir()
    IndexSnapshot.load(registry.path(parent.id)).save(staging)
    manifest = registry.create(
        staging,
        parent=parent.id,
        kind="cycle",
        embedder=parent.embedder,
        generator=parent.generator,
        adapter=None,
        prompt_version=parent.prompt_version,
        index=parent.index,
    )
    run_id = runs.create_run(assistant.store)
    report = {"verdict": "failed", "reasons": ["dev.hit@1 fell"], "metrics": {}}
    runs.update_run(
        assistant.store,
        run_id,
        status="succeeded",
        candidate_release=manifest.id,
        verdict="failed",
        report=report,
    )
    return manifest.id


def test_run_with_too_little_data_is_a_clean_skip(home) -> None:
    result = ok_json("flywheel", "run")
    assert result["status"] == "skipped" and "too little new data" in result["reason"]
    [listed] = ok_json("flywheel", "status")
    assert listed["id"] == result["run_id"] and listed["status"] == "skipped"
    one = ok_json("flywheel", "status", result["run_id"])
    assert "stage datasets" in one["log"]
    assert cli("flywheel", "status", "run-nope").exit_code == 2
    assert cli("flywheel", "cancel", result["run_id"]).exit_code == 2  # already finished
    shown = cli("flywheel", "run")
    assert shown.exit_code == 0 and "skipped" in shown.stdout


def test_a_failed_candidate_needs_a_reason_to_be_promoted(home) -> None:
    candidate = failed_candidate(home)
    shown = ok_json("releases", "show", candidate)
    assert shown["gate"]["verdict"] == "failed" and shown["active"] is False  # from the run record
    report = {"verdict": "failed", "reasons": ["attached to the release"], "metrics": {}}
    home.registry.attach(candidate, "gate_report.json", json.dumps(report).encode())
    assert ok_json("releases", "show", candidate)["gate"] == report  # the release's own copy
    refused = cli("releases", "activate", candidate)
    assert refused.exit_code == 2 and "give the reason" in refused.output
    assert cli("flywheel", "promote", candidate).exit_code == 2
    assert ok_json("flywheel", "promote", candidate, "--reason", "hit@1 dip is noise", "--actor", "eve") == {
        "active": candidate
    }
    [run] = ok_json("flywheel", "status")
    assert run["verdict"] == "overridden" and run["activated"] is True
    assert "promoted by eve: hit@1 dip is noise" in ok_json("flywheel", "status", run["id"])["log"]
    assert ok_json("releases", "rollback")["active"] != candidate


def test_cancel_a_queued_run(home) -> None:
    run_id = runs.create_run(home.store)
    assert ok_json("flywheel", "cancel", run_id) == {"cancel_requested": run_id}
    result = cli("flywheel", "run", "--run-id", run_id, "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["status"] == "cancelled"


def test_schedule_runs_cycles(home) -> None:
    result = cli("flywheel", "schedule", "--every", "1s", "--cycles", "2")
    assert result.exit_code == 0 and "cycle 2: run" in result.stdout and "cycle 3" not in result.stdout
    assert len(ok_json("flywheel", "status")) == 2
    bad = cli("flywheel", "schedule", "--every", "daily")
    assert bad.exit_code == 2 and "24h" in bad.output


@pytest.mark.parametrize(
    ("text", "seconds"), [("24h", 86400), ("30m", 1800), ("90s", 90), ("1d", 86400), ("0.5h", 1800)]
)
def test_parse_every(text: str, seconds: float) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["", "0h", "h", "10", "1w", "-1h"])
def test_parse_every_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="24h"):
        parse_every(text)


def test_a_runs_progress_reads_as_words_in_an_80_column_table() -> None:
    run = {"status": "running", "stage": "sft", "step": 3, "total_steps": 10, "eta_s": 42.4, "loss": 1.23456}
    running = run_progress(run | {"verdict": None, "activated": False})
    assert running == "running, sft, step 3/10, about 42 s left, loss 1.235"
    done = run_progress(run | {"status": "succeeded", "verdict": "passed", "activated": True})
    assert done == "succeeded, loss 1.235, gate passed, activated"
