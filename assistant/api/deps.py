"""Access to the per-app objects from a request."""

from __future__ import annotations

from fastapi import Request

from assistant.pipeline import Assistant


def assistant_of(request: Request) -> Assistant:
    return request.app.state.assistant
