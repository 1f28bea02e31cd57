"""FastAPI app factory: the API, the try-it page, the widget, release hot-swapping, request limits."""

from __future__ import annotations

import gc
import logging
from collections.abc import Sequence
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import __version__
from assistant.admin import api as admin_api
from assistant.admin import ui as admin_ui
from assistant.api import chat, routes, widget
from assistant.api.errors import generation_failed
from assistant.api.security import SecurityHeaders
from assistant.api.shedding import GenerationSlots
from assistant.escalation import Notifier, notifiers_from_settings
from assistant.generation.base import GenerationError
from assistant.periodic import Periodic
from assistant.pipeline import Assistant
from assistant.plugins import manager as plugins

log = logging.getLogger(__name__)


class BodySizeLimit:
    """Answer 413 to request bodies over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge(self.limit)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        response = JSONResponse({"detail": _TooLarge(self.limit).detail}, status_code=413)
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class _TooLarge(HTTPException):
    """A streamed body past the limit: an HTTPException, so FastAPI's body parsing lets it through as 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


def settle_heap() -> None:
    """Collect garbage once, then exempt every object alive from later collections.

    Call it once models are loaded. The models and libraries are millions of long-lived
    objects that a full collection walks every time: ~300 ms with the GIL held, which stalled
    every request in flight. Frozen, they are still freed by reference counting; a full
    collection then walks only what serving created since (a few ms).
    """
    gc.unfreeze()  # the previous release's objects become collectable again
    gc.collect()
    gc.freeze()


def release_watcher(assistant: Assistant, interval_s: float) -> Periodic:
    """Loads the models at start-up, then swaps in newly activated releases as they appear.

    A release that fails to load is logged and the old one keeps serving; the next poll retries.
    """

    def refresh() -> None:
        before = assistant.loaded
        if assistant.refresh():
            log.info("serving release %s", assistant.serving.release_id)
        if assistant.loaded is not before:
            settle_heap()

    return Periodic("release-watcher", interval_s, refresh)


def create_app(
    assistant: Assistant, *, watch_releases: bool = True, notifiers: Sequence[Notifier] | None = None
) -> FastAPI:
    """The HTTP app around one :class:`Assistant` (``assistant serve`` runs it with uvicorn).

    ``notifiers``: where escalations from every channel of the app go (``/v1/feedback``, the
    widget, Slack's HTTP mode); by default the configured ones (:func:`notifiers_from_settings`).
    """
    chores = [release_watcher(assistant, assistant.settings.release_poll_seconds)] if watch_releases else []

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for chore in chores:
            chore.start()
        yield
        for chore in chores:
            chore.stop()

    # No /docs or /redoc: their pages load scripts from a CDN, which the CSP (and an offline
    # server) refuses, so they would be blank. /openapi.json serves the document to any viewer.
    app = FastAPI(
        title="Support assistant", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.assistant = assistant
    settings = assistant.settings
    app.state.escalation_notifiers = list(
        notifiers if notifiers is not None else notifiers_from_settings(settings)
    )
    app.state.generation_slots = GenerationSlots(
        settings.max_concurrent_generations, settings.generation_queue_seconds
    )
    app.include_router(chat.router)
    app.include_router(routes.router)
    app.include_router(routes.v1)
    app.include_router(admin_api.router)
    admin_ui.install(app)
    app.add_middleware(BodySizeLimit, limit=assistant.settings.max_body_bytes)
    widget.install(app, assistant.settings)  # /widget.js, /widget/v1/... and its CORS allow-list
    for installed in plugins().hook.install_channels(app=app, assistant=assistant):  # e.g. /slack/events
        chores.extend(installed)
    app.add_middleware(SecurityHeaders)  # outermost: CSP & co. on every HTML page, errors included

    app.add_exception_handler(GenerationError, generation_failed)  # 502/503, not a bare 500

    @app.exception_handler(Exception)
    async def unexpected(request, exc: Exception) -> JSONResponse:  # JSON, never an HTML page
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        # the try page calls /v1 from the browser: with API keys set it has none to send
        page = "try_off.html" if settings.api_key_list else "index.html"
        return resources.files("assistant.web").joinpath(page).read_text(encoding="utf-8")

    @app.get("/try.js", include_in_schema=False)
    def try_script() -> Response:  # the try page's script (the CSP allows no inline scripts)
        script = resources.files("assistant.web").joinpath("try.js").read_bytes()
        return Response(script, media_type="text/javascript; charset=utf-8")

    return app
