"""``assistant stats``: table, JSON and CSV of the dashboard numbers; exit code 2 on bad input."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant import config, store
from assistant.cli import app
from assistant.config import Settings
from assistant.review.dashboard import columns

DAY = datetime(2025, 3, 10, 9, tzinfo=timezone.utc)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A data home with three interactions: two on 2025-03-10 (r1), one on 2025-03-11 (r2)."""
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "home"))
    config.get_settings.cache_clear()
    db = store.Store(Settings(home=tmp_path / "home", _env_file=None).resolved_database_url)
    db.upgrade()
    with db.session() as s:
        store.get_or_create_conversation(s, conversation_id="c", channel="cli", user_id=None)
        for created_at, release, total in (
            (DAY, "r1", 100),
            (DAY, "r1", 300),
            (DAY + timedelta(days=1), "r2", 50),
        ):
            interaction_id = store.record_interaction(
                s,
                conversation_id="c",
                question="Where is my refund?",
                answer="On its way [1].",
                release_id=release,
                model_id="m",
                index_id="i",
                latency_ms={"total": total},
                created_at=created_at,
            )
            if total == 100:
                store.record_feedback(s, interaction_id=interaction_id, rating="up")
    db.close()
    yield
    config.get_settings.cache_clear()


def cli(*args: str):
    return CliRunner().invoke(app, ["stats", *args])


WINDOW = ("--since", "2025-03-01", "--until", "2025-03-11")  # --until is included


def test_json_rows_per_day_and_per_release(home) -> None:
    result = cli(*WINDOW, "--json")
    assert result.exit_code == 0, result.output
    days = json.loads(result.stdout)
    assert [(d["day"], d["questions"], d["thumbs_up_rate"]) for d in days] == [
        ("2025-03-10", 2, 0.5),
        ("2025-03-11", 1, 0.0),
    ]
    assert (days[0]["latency_p50_ms"], days[0]["latency_p95_ms"]) == (200, 290)
    releases = json.loads(cli(*WINDOW, "--by", "release", "--json").stdout)
    assert [r["release"] for r in releases] == ["r1", "r2"]
    only_first = json.loads(cli("--since", "2025-03-10", "--until", "2025-03-10", "--json").stdout)
    assert [d["day"] for d in only_first] == ["2025-03-10"]


def test_csv(home) -> None:
    result = cli(*WINDOW, "--by", "release", "--csv")
    assert result.exit_code == 0, result.output
    parsed = list(csv.reader(io.StringIO(result.stdout)))
    assert parsed[0] == list(columns("release"))
    assert [line[:3] for line in parsed[1:]] == [["r1", "2", "0.5"], ["r2", "1", "0.0"]]


def test_table(home) -> None:
    result = cli(*WINDOW, "--by", "release")
    assert result.exit_code == 0, result.output
    [r1] = [line.split() for line in result.stdout.splitlines() if line.split()[:1] == ["r1"]]
    assert r1 == ["r1", "2", "50.0", "0.0", "0.0", "0.0", "0.0", "0.0", "200", "290"]
    empty = cli("--since", "2024-01-01", "--until", "2024-01-31")
    assert empty.exit_code == 0 and "no questions in this period" in empty.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2025-13-01"], "--since must be a date like 2025-01-31"),
        (["--until", "yesterday"], "--until must be a date like 2025-01-31"),
        (["--since", "2025-03-12", "--until", "2025-03-10"], "must be before until"),
        (["--by", "week"], "--by must be one of day, release"),
        (["--json", "--csv"], "choose one of --json and --csv"),
    ],
)
def test_bad_input_exits_2_with_one_line(home, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]
