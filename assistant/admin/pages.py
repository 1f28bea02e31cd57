"""Rendering admin UI pages: Jinja2 templates from ``templates/``, autoescaped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from assistant.admin.deps import Principal

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def render(
    request: Request, name: str, principal: Principal | None, status_code: int = 200, **context: Any
) -> Response:
    """A page from ``templates/``, with the logged-in user (for the header and CSRF fields)."""
    return templates.TemplateResponse(
        request, name, {"principal": principal, **context}, status_code=status_code
    )
