"""The command line: JSON shapes, exit code 2 with one line on bad input, nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant import config
from assistant.cli import app
from assistant.cli import common as cli_common


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "home"))
    config.get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    yield invoke
    config.get_settings.cache_clear()


def test_ingest_json_summary_and_incremental(cli, kb_dir: Path) -> None:
    (kb_dir / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    first = cli("ingest", str(kb_dir), "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert (
        report["documents"] == 3 and report["release"] and report["skipped"][0]["path"].endswith("broken.pdf")
    )
    again = json.loads(cli("ingest", str(kb_dir), "--json").stdout)
    assert again["release"] is None and again["chunks_embedded"] == 0 and again["unchanged"] == 3


def test_search_json_shape(cli, kb_dir: Path) -> None:
    cli("ingest", str(kb_dir))
    result = cli("search", "forgot my password", "--k", "2", "--json")
    hits = json.loads(result.stdout)
    assert result.exit_code == 0 and len(hits) == 2 and hits[0]["doc_id"] == "password.md"
    assert set(hits[0]) == {"doc_id", "chunk_id", "title", "source", "score", "text"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "/no/such/folder"], "path does not exist: /no/such/folder"),
        (["search", "  "], "the query is empty"),
        (["ask", ""], "the question is empty"),
        (["feedback", "abc"], "give --up or --down"),
        (["feedback", "abc", "--up", "--down"], "not both"),
        (
            ["feedback", "abc", "--resolved", "--unresolved"],
            "give one outcome, not --resolved and --unresolved",
        ),
        (["feedback", "no-such-interaction", "--up"], "no interaction 'no-such-interaction'"),
        (["releases", "activate", "nope"], "no release 'nope'"),
        (["releases", "rollback"], "no release is active"),
    ],
)
def test_bad_input_exits_2_with_one_line(cli, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]


def test_ask_continues_only_the_users_own_conversation_and_feedback_takes_every_outcome(cli, kb_dir) -> None:
    cli("ingest", str(kb_dir))
    first = json.loads(cli("ask", "How do refunds work?", "--user", "ana", "--json").stdout)
    voted = cli("feedback", first["interaction_id"], "--unresolved", "--json")
    assert voted.exit_code == 0 and json.loads(voted.stdout)["created"] is True
    assert "no open flags" not in cli("review", "list").stdout  # an unresolved answer is flagged
    result = cli("ask", "What did I ask?", "--conversation", first["conversation_id"], "--user", "bob")
    assert result.exit_code == 2 and "for this user and channel" in result.stderr
    again = cli("ask", "And returns?", "--conversation", first["conversation_id"], "--user", "ana", "--json")
    assert json.loads(again.stdout)["conversation_id"] == first["conversation_id"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ASSISTANT_CHUNK_OVERLAP", "5000", "chunk_overlap must be smaller"),
        ("ASSISTANT_API_KEYS", "clé-S3CRET-KEY", "printable ASCII"),
        ("ASSISTANT_MAX_MESSAGES", "many", "max_messages: Input should be a valid integer"),
    ],
)
def test_an_invalid_setting_is_a_clear_error_without_secrets(cli, monkeypatch, variable, value, message):
    """Pydantic's own message repeats every input: the tokens below must not reach the terminal."""
    monkeypatch.setenv("ASSISTANT_SLACK_BOT_TOKEN", "xoxb-S3CRET-TOKEN")
    monkeypatch.setenv("ASSISTANT_SLACK_SIGNING_SECRET", "S3CRET-SIGNING")
    monkeypatch.setenv(variable, value)
    config.get_settings.cache_clear()
    result = cli("releases", "list")
    assert result.exit_code == 2 and message in result.stderr
    assert "S3CRET" not in result.stderr + result.stdout


def test_releases_list_activate_rollback(cli, kb_dir: Path) -> None:
    first = json.loads(cli("ingest", str(kb_dir), "--json").stdout)["release"]
    (kb_dir / "new.md").write_text("# Gift cards\n\nGift cards never expire.")
    second = json.loads(cli("ingest", str(kb_dir), "--json").stdout)["release"]
    listed = json.loads(cli("releases", "list", "--json").stdout)
    assert [(r["id"], r["active"]) for r in listed] == [(first, False), (second, True)]
    assert json.loads(cli("releases", "rollback", "--json").stdout) == {"active": first}
    assert json.loads(cli("releases", "show", first, "--json").stdout)["active"] is True
    assert json.loads(cli("releases", "activate", second, "--json").stdout) == {"active": second}


def test_release_ids_are_shown_whole_on_a_narrow_terminal(cli, kb_dir: Path, monkeypatch) -> None:
    """People copy the id from the table into `releases activate`: it must not end in '…'."""
    release = json.loads(cli("ingest", str(kb_dir), "--json").stdout)["release"]
    monkeypatch.setattr(cli_common.out, "width", 80)  # rich read COLUMNS once, at import
    assert release in cli("releases", "list").stdout


@pytest.mark.slow
def test_ask_and_feedback_end_to_end_with_the_real_models(
    tmp_path: Path, kb_dir: Path, model_cache: Path
) -> None:
    """The installed console script, the real embedder and SmolLM2, as a user runs them."""
    env = {
        "ASSISTANT_HOME": str(tmp_path / "home"),
        "HF_HUB_OFFLINE": "1",
        "PATH": str(Path(sys.executable).parent),
    }
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "models").symlink_to(model_cache)  # one GGUF conversion per test session

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(Path(sys.executable).parent / "assistant"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    assert run("ingest", str(kb_dir)).returncode == 0
    asked = run("ask", "How do I reset my password?", "--json")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert set(answer) >= {
        "interaction_id",
        "answer",
        "citations",
        "abstained",
        "release",
        "curated_answer_id",
    }
    assert not answer["abstained"] and answer["answer"] and answer["citations"][0]["doc_id"] == "password.md"
    voted = run("feedback", answer["interaction_id"], "--up", "--resolved", "--json")
    assert voted.returncode == 0 and json.loads(voted.stdout)["created"] is True
