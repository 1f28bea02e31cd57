"""Access to the per-app objects from a request, and the API-key check of the ``/v1`` routes."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from assistant.pipeline import Assistant


def assistant_of(request: Request) -> Assistant:
    return request.app.state.assistant


def require_api_key(request: Request) -> None:
    """Refuse (401) a ``/v1`` request without one of ``ASSISTANT_API_KEYS``; all pass when none is set.

    Use it as a router dependency: the widget and the admin API authenticate their own way.
    """
    keys = [k.strip() for k in assistant_of(request).settings.api_keys.get_secret_value().split(",")]
    keys = [k for k in keys if k]
    if not keys:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # compare with every key, in constant time: how far a guess matched must not show in the timing
    matched = [hmac.compare_digest(given.strip().encode(), key.encode()) for key in keys]
    if scheme.lower() != "bearer" or not any(matched):
        raise HTTPException(
            401,
            "this API needs 'Authorization: Bearer <key>' with one of the server's ASSISTANT_API_KEYS",
            headers={"WWW-Authenticate": "Bearer"},
        )
