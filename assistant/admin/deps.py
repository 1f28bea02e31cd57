"""FastAPI dependencies for admin routes: who is calling, and may they?

Two ways in: ``Authorization: Bearer ast_…`` (an API token from ``assistant users token``, for
automation) or the admin UI's session cookie (from logging in at ``/admin/login``). A request
made with the cookie that changes anything must also carry the session's CSRF token, in the
``X-CSRF-Token`` header or a ``csrf_token`` form field; bearer tokens are never sent by a
browser on its own, so they need none. Missing, malformed, unknown, expired or revoked
credentials and disabled users get 401; a missing or wrong CSRF token or a role the route does
not allow gets 403. ``admin`` is always allowed.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from assistant.admin.auth import user_for_session, user_for_token
from assistant.api.deps import assistant_of, bearer_token, unauthorized
from assistant.store.models import ROLES

SESSION_COOKIE = "assistant_admin"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, detached from any database session.

    ``csrf_token`` is set for browser sessions (pages put it into their forms).
    """

    id: int
    username: str
    role: str
    csrf_token: str | None = None


def _bearer(request: Request) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise unauthorized("malformed Authorization header: expected 'Bearer <token>'")
    with assistant_of(request).store.session() as session:
        user = user_for_token(session, token)
        if user is None:
            raise unauthorized("invalid, revoked or disabled token")
        return Principal(id=user.id, username=user.username, role=user.role)


async def _sent_csrf_token(request: Request) -> str:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent or ""


def _session(request: Request, cookie: str) -> Principal:
    with assistant_of(request).store.session() as session:
        found = user_for_session(session, cookie)
        if found is None:
            raise unauthorized("your session has expired or ended: log in again")
        user, row = found
        return Principal(id=user.id, username=user.username, role=user.role, csrf_token=row.csrf_token)


async def _cookie(request: Request, cookie: str) -> Principal:
    principal = await run_in_threadpool(_session, request, cookie)
    assert principal.csrf_token is not None
    if request.method not in SAFE_METHODS:
        sent = await _sent_csrf_token(request)
        if not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return principal


async def authenticate(request: Request) -> Principal:
    """The caller of ``request``, or 401/403 (looked up once per request)."""
    cached = getattr(request.state, "admin_principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization")
    cookie = request.cookies.get(SESSION_COOKIE)
    if header:
        principal = await run_in_threadpool(_bearer, request)  # the store may block
    elif cookie:
        principal = await _cookie(request, cookie)
    else:
        raise unauthorized("authentication required: log in, or send 'Authorization: Bearer <token>'")
    request.state.admin_principal = principal
    return principal


def require_roles(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting callers whose role is in ``roles`` (``admin`` always is)."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r}")
    allowed = frozenset(roles) | {"admin"}

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if principal.role not in allowed:
            raise HTTPException(
                403, f"role {principal.role!r} may not do this (allowed: {', '.join(sorted(allowed))})"
            )
        return principal

    return dependency
