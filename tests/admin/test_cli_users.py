"""``assistant users``: add, list, disable, token; exit 2 with one line on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant import config
from assistant.admin.auth import user_for_token, verify_password
from assistant.cli import app
from assistant.config import Settings
from assistant.store import Store
from tests.admin.conftest import PASSWORD


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "home"))
    config.get_settings.cache_clear()
    db = Store(Settings(home=tmp_path / "home", _env_file=None).resolved_database_url)
    db.upgrade()
    yield db
    db.close()
    config.get_settings.cache_clear()


def cli(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, list(args), input=stdin)


def test_add_list_token_disable(store: Store) -> None:
    added = cli("users", "add", "ana", "--role", "lead", "--password-stdin", "--json", stdin=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) | {"id": 0, "created_at": ""} == {
        "id": 0,
        "created_at": "",
        "username": "ana",
        "role": "lead",
        "disabled": False,
    }
    prompted = cli("users", "add", "bo", "--role", "engineer", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    with store.session() as session:
        assert verify_password(session, "bo", PASSWORD).role == "engineer"

    listed = cli("users", "list", "--json")
    assert [(u["username"], u["role"]) for u in json.loads(listed.stdout)] == [
        ("ana", "lead"),
        ("bo", "engineer"),
    ]
    assert "ana" in cli("users", "list").stdout

    token = cli("users", "token", "ana", "--name", "ci")
    assert token.exit_code == 0 and token.stdout.startswith("ast_")
    with store.session() as session:
        assert user_for_token(session, token.stdout.strip()).username == "ana"

    disabled = cli("users", "disable", "ana", "--json")
    assert disabled.exit_code == 0 and json.loads(disabled.stdout)["disabled"] is True
    with store.session() as session:
        assert user_for_token(session, token.stdout.strip()) is None
    assert cli("users", "token", "ana").exit_code == 2


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("users", "add", "ana", "--password-stdin"), "short\n", "at least 12 characters"),
        (("users", "add", "ana", "--role", "boss", "--password-stdin"), PASSWORD + "\n", "--role must be"),
        (("users", "add", "bad name", "--password-stdin"), PASSWORD + "\n", "username must be"),
        (("users", "disable", "nobody"), None, "no user 'nobody'"),
        (("users", "token", "nobody"), None, "no user 'nobody'"),
    ],
)
def test_bad_input_exits_2_with_one_line(store: Store, args, stdin, message: str) -> None:
    result = cli(*args, stdin=stdin)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_duplicate_username_exits_2(store: Store) -> None:
    assert cli("users", "add", "ana", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    again = cli("users", "add", "ana", "--password-stdin", stdin=PASSWORD + "\n")
    assert again.exit_code == 2 and "already exists" in again.stderr
    with store.session() as session:
        assert verify_password(session, "ana", PASSWORD) is not None
