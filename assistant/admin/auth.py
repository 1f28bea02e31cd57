"""Admin accounts: argon2 password hashes, roles, API tokens and browser sessions (SHA-256 only).

A route names the roles it allows (see :func:`assistant.admin.deps.require_roles`); ``admin``
is always allowed. There is no implicit order between ``lead`` and ``engineer``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.store.models import ROLES, AdminSessionRow, AdminUserRow, ApiTokenRow, utcnow

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
TOKEN_PREFIX = "ast_"
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

_hasher = PasswordHasher()
# Verified when the user does not exist, so an unknown name costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """Bad input for an account operation (short password, duplicate or unknown user, bad role)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password: str) -> None:
    """Raise :class:`AccountError` unless ``password`` is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")


def get_user(session: Session, username: str) -> AdminUserRow | None:
    return session.scalar(select(AdminUserRow).where(AdminUserRow.username == username))


def create_user(session: Session, username: str, password: str, role: str) -> AdminUserRow:
    """Add an enabled user, or raise :class:`AccountError` (nothing written)."""
    if not USERNAME_RE.match(username):
        raise AccountError(
            "the username must be 1-64 characters: letters, digits, '.', '_', '@' or '-' "
            "(starting with a letter or digit)"
        )
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}; got {role!r}")
    check_password(password)
    if get_user(session, username) is not None:
        raise AccountError(f"user {username!r} already exists")
    user = AdminUserRow(
        username=username,
        password_hash=hash_password(password),
        role=role,
        disabled=False,
        created_at=utcnow(),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent add won the race; the caller's session rolls back
        raise AccountError(f"user {username!r} already exists") from exc
    return user


def user_dict(user: AdminUserRow) -> dict[str, Any]:
    """One user as JSON (never the password hash)."""
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
    }


def list_users(session: Session) -> list[AdminUserRow]:
    return list(session.scalars(select(AdminUserRow).order_by(AdminUserRow.username)))


def disable_user(session: Session, username: str) -> AdminUserRow:
    """Disable a user: their password and every token stop working at once."""
    user = get_user(session, username)
    if user is None:
        raise AccountError(f"no user {username!r}")
    user.disabled = True
    session.flush()
    return user


def verify_password(session: Session, username: str, password: str) -> AdminUserRow | None:
    """The enabled user with these credentials, else None; always costs one argon2 verification."""
    user = get_user(session, username)
    encoded = user.password_hash if user is not None else _DUMMY_HASH
    try:
        _hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(session: Session, user: AdminUserRow, name: str = "default") -> str:
    """A new token for ``user``; returns the plaintext, which is stored nowhere (only its SHA-256)."""
    name = name.strip() or "default"
    if len(name) > 100:
        raise AccountError("the token name must have at most 100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiTokenRow(
            user_id=user.id,
            token_hash=token_hash(token),
            name=name,
            created_at=utcnow(),
            last_used_at=None,
            revoked=False,
        )
    )
    session.flush()
    return token


def revoke_tokens(session: Session, user: AdminUserRow) -> int:
    """Revoke every token of ``user``; returns how many were live."""
    rows = session.scalars(select(ApiTokenRow).where(ApiTokenRow.user_id == user.id, ~ApiTokenRow.revoked))
    count = 0
    for row in rows:
        row.revoked = True
        count += 1
    session.flush()
    return count


def user_for_token(session: Session, token: str) -> AdminUserRow | None:
    """The enabled user owning this live token (and mark it used), else None.

    Tokens are 256-bit random, so looking one up by its SHA-256 leaks nothing useful by timing.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash(token)))
    if row is None or row.revoked:
        return None
    user = session.get(AdminUserRow, row.user_id)
    if user is None or user.disabled:
        return None
    row.last_used_at = utcnow()
    return user


def create_session(session: Session, user: AdminUserRow, hours: float) -> tuple[str, AdminSessionRow]:
    """A new browser session for ``user``: the cookie value (stored only as SHA-256) and its row.

    Expired sessions are swept here, so the table stays as small as the number of live logins.
    """
    now = utcnow()
    session.execute(delete(AdminSessionRow).where(AdminSessionRow.expires_at <= now))
    cookie = secrets.token_urlsafe(32)
    row = AdminSessionRow(
        user_id=user.id,
        token_hash=token_hash(cookie),
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(row)
    session.flush()
    return cookie, row


def user_for_session(session: Session, cookie: str) -> tuple[AdminUserRow, AdminSessionRow] | None:
    """The enabled user of this live, unexpired session cookie, with the session row; else None."""
    if not cookie or len(cookie) > 200:
        return None
    row = session.scalar(select(AdminSessionRow).where(AdminSessionRow.token_hash == token_hash(cookie)))
    if row is None or row.expires_at <= utcnow():
        return None
    user = session.get(AdminUserRow, row.user_id)
    if user is None or user.disabled:
        return None
    return user, row


def end_session(session: Session, cookie: str) -> None:
    """Log out: the session cookie stops working at once (unknown cookies are ignored)."""
    session.execute(delete(AdminSessionRow).where(AdminSessionRow.token_hash == token_hash(cookie)))
