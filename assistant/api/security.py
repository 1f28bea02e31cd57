"""Security headers on what the server serves, and the widget's CORS allow-list.

:class:`SecurityHeaders` gives every HTML page a strict Content-Security-Policy (scripts and
everything else from this server only, no inline scripts, no framing) plus ``nosniff`` and a
referrer policy. Pages that need a script serve it as a file (``/try.js``, the admin UI's
static files); inline ``<style>`` stays allowed.

:class:`WidgetCORS` guards the widget endpoints (``/widget/v1/...``): a browser request from an
origin on ``ASSISTANT_WIDGET_ALLOWED_ORIGINS`` gets CORS headers (preflights answered here), one
from any other origin gets 403 and no CORS headers. The rest of the API is left alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
HTML_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",  # frame-ancestors for browsers that predate it
}
WIDGET_PREFIX = "/widget/v1/"
WIDGET_KEY_HEADER = "X-Assistant-Widget-Key"
SESSION_HEADER = "X-Assistant-Session"
ALLOWED_HEADERS = f"Content-Type, {WIDGET_KEY_HEADER}, {SESSION_HEADER}"
PREFLIGHT_MAX_AGE = "600"


def _add_missing(message: Message, extra: dict[str, str]) -> None:
    """Add headers to an ``http.response.start`` message unless the response set them itself."""
    present = {name.lower() for name, _ in message.get("headers", [])}
    message["headers"] = list(message.get("headers", [])) + [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in extra.items()
        if name.encode("latin-1") not in present
    ]


class SecurityHeaders:
    """``nosniff`` on every response; CSP, referrer policy and no framing on every HTML page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
                extra = {"x-content-type-options": "nosniff"}
                if content_type.lower().startswith("text/html"):
                    extra.update(HTML_HEADERS)
                _add_missing(message, extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def server_origin(scope: Scope) -> str:
    """This server's own origin as the browser sees it (scheme and Host header)."""
    host = Headers(scope=scope).get("host", "")
    return f"{scope.get('scheme', 'http')}://{host}".lower()


class WidgetCORS:
    """The CORS allow-list of the widget endpoints: allowed origins get CORS headers, others 403.

    ``origins`` holds normalised origins (``https://www.example.com``) or ``*`` for any. Pages
    served by this server itself are always allowed; requests without ``Origin`` (same-origin
    GETs, scripts, curl) pass, since only browsers enforce CORS: the widget key and rate limits
    are what apply to everyone.
    """

    def __init__(self, app: ASGIApp, origins: Iterable[str], prefix: str = WIDGET_PREFIX) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.prefix = prefix

    def allows(self, origin: str, scope: Scope) -> bool:
        origin = origin.lower()
        return "*" in self.origins or origin in self.origins or origin == server_origin(scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if not self.allows(origin, scope):
            detail = (
                f"origin {origin} may not use this assistant's widget; "
                "the operator can add it to ASSISTANT_WIDGET_ALLOWED_ORIGINS"
            )
            await _respond(send, 403, {"detail": detail})
            return
        cors = {"access-control-allow-origin": origin, "vary": "Origin"}
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            cors.update(
                {
                    "access-control-allow-methods": "GET, POST, OPTIONS",
                    "access-control-allow-headers": ALLOWED_HEADERS,
                    "access-control-max-age": PREFLIGHT_MAX_AGE,
                }
            )
            await _respond(send, 204, None, cors)
            return
        cors["access-control-expose-headers"] = "Retry-After"

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_missing(message, cors)
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _respond(send: Send, status: int, body: dict | None, headers: dict[str, str] | None = None) -> None:
    payload = b"" if body is None else json.dumps(body).encode("utf-8")
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    if body is not None:
        raw += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
