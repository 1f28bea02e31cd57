"""FastAPI dependencies for admin routes: who is calling, and may they?

``Authorization: Bearer ast_…`` (an API token from ``assistant users token``). Missing, malformed,
unknown or revoked tokens and disabled users get 401 with ``WWW-Authenticate: Bearer``; a
role the route does not allow gets 403. ``admin`` is always allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from assistant.admin.auth import user_for_token
from assistant.api.deps import assistant_of
from assistant.store.models import ROLES


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, detached from any database session."""

    id: int
    username: str
    role: str


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def authenticate(request: Request) -> Principal:
    """The caller of ``request``, or 401 (looked up once per request)."""
    cached = getattr(request.state, "admin_principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("malformed Authorization header: expected 'Bearer <token>'")
    with assistant_of(request).store.session() as session:
        user = user_for_token(session, token)
        if user is None:
            raise _unauthorized("invalid, revoked or disabled token")
        principal = Principal(id=user.id, username=user.username, role=user.role)
    request.state.admin_principal = principal
    return principal


def require_roles(*roles: str) -> Callable[[Request], Principal]:
    """A dependency admitting callers whose role is in ``roles`` (``admin`` always is)."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r}")
    allowed = frozenset(roles) | {"admin"}

    def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if principal.role not in allowed:
            raise HTTPException(
                403, f"role {principal.role!r} may not do this (allowed: {', '.join(sorted(allowed))})"
            )
        return principal

    return dependency
