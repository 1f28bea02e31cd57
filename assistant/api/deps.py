"""Access to the per-app objects from a request, and the API-key check of the ``/v1`` routes."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from assistant.pipeline import Assistant


def assistant_of(request: Request) -> Assistant:
    return request.app.state.assistant


def unauthorized(detail: str) -> HTTPException:
    """A 401 that tells the client to send a Bearer credential."""
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; ``None`` without one or when malformed."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


async def require_api_key(request: Request) -> None:
    """Refuse (401) a ``/v1`` request without one of ``ASSISTANT_API_KEYS``; all pass when none is set.

    Use it as a router dependency: the widget and the admin API authenticate their own way.
    Async on purpose: it does no I/O, so it needs no thread of the pool.
    """
    keys = assistant_of(request).settings.api_key_list
    if not keys:
        return
    given = (bearer_token(request) or "").encode("latin-1", "replace")
    # compare with every key, in constant time: how far a guess matched must not show in the timing
    matched = [hmac.compare_digest(given, key.encode("ascii")) for key in keys]
    if not any(matched):
        raise unauthorized("this API needs 'Authorization: Bearer <key>' with one of ASSISTANT_API_KEYS")
