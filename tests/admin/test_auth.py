"""Accounts: argon2 hashes, disabled users, tokens stored only as hashes."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from assistant.admin.auth import (
    AccountError,
    create_api_token,
    create_user,
    disable_user,
    list_users,
    revoke_tokens,
    user_for_token,
    verify_password,
)
from assistant.store import Store
from assistant.store.models import ApiTokenRow
from tests.admin.conftest import PASSWORD


@pytest.fixture
def db(db_url: str):
    store = Store(db_url)
    store.upgrade()
    yield store
    store.close()


def test_password_round_trip_and_wrong_password(db: Store) -> None:
    with db.session() as session:
        user = create_user(session, "ana", PASSWORD, "lead")
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    with db.session() as session:
        assert verify_password(session, "ana", PASSWORD).username == "ana"
        assert verify_password(session, "ana", PASSWORD + "x") is None
        assert verify_password(session, "nobody", PASSWORD) is None
        assert [u.username for u in list_users(session)] == ["ana"]


def test_disabled_user_is_refused_by_password_and_token(db: Store) -> None:
    with db.session() as session:
        token = create_api_token(session, create_user(session, "ana", PASSWORD, "lead"))
        assert user_for_token(session, token).username == "ana"
        disable_user(session, "ana")
    with db.session() as session:
        assert verify_password(session, "ana", PASSWORD) is None
        assert user_for_token(session, token) is None


def test_token_is_stored_only_as_its_hash_and_can_be_revoked(db: Store) -> None:
    with db.session() as session:
        user = create_user(session, "bo", PASSWORD, "engineer")
        token = create_api_token(session, user, "ci")
        assert token.startswith("ast_") and len(token) > 40
        row = session.scalar(select(ApiTokenRow))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and row.last_used_at is None
        assert user_for_token(session, token).username == "bo"
        assert row.last_used_at is not None
        assert user_for_token(session, token + "x") is None and user_for_token(session, "nope") is None
        assert revoke_tokens(session, user) == 1
        assert user_for_token(session, token) is None


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("ana", "short", "lead", "at least 12"),
        ("ana", PASSWORD, "boss", "role must be one of"),
        ("bad name", PASSWORD, "lead", "username must be"),
    ],
)
def test_bad_input_is_refused(db: Store, username: str, password: str, role: str, message: str) -> None:
    with pytest.raises(AccountError, match=message), db.session() as session:
        create_user(session, username, password, role)


def test_duplicate_username_is_refused(db: Store) -> None:
    with db.session() as session:
        create_user(session, "ana", PASSWORD, "lead")
    with pytest.raises(AccountError, match="already exists"), db.session() as session:
        create_user(session, "ana", PASSWORD, "admin")
    with pytest.raises(AccountError, match="no user"), db.session() as session:
        disable_user(session, "nobody")
