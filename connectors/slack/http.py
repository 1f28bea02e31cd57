"""HTTP mode: Slack's events and interactivity at ``POST /slack/events`` of the FastAPI app.

The signature is checked on the raw body before anything parses it; a bad or missing
signature, a timestamp more than five minutes off or an unreadable body answers 401 with a
JSON ``detail`` (never a 5xx). Bolt runs in a worker thread, so the event loop never waits.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool

from assistant.pipeline import Assistant
from connectors.slack.app import build_app

log = logging.getLogger(__name__)
PATH = "/slack/events"


def _refuse() -> JSONResponse:
    return JSONResponse({"detail": "invalid Slack request signature"}, status_code=401)


def install(app: FastAPI, assistant: Assistant, *, bolt_app: App | None = None) -> App:
    """Mount ``POST /slack/events`` on ``app``; returns the bolt app behind it.

    Its hand-offs go to the app's escalation notifiers (``app.state.escalation_notifiers``, see
    :func:`assistant.api.app.create_app`), the same ones the web's use.
    """
    settings = assistant.settings
    bolt = bolt_app or build_app(assistant, settings, notifiers=app.state.escalation_notifiers)
    verifier = SignatureVerifier(settings.slack_signing_secret.get_secret_value())

    @app.post(PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        raw = await request.body()
        try:
            valid = verifier.is_valid(
                raw,
                request.headers.get("x-slack-request-timestamp"),
                request.headers.get("x-slack-signature"),
            )
            bolt_request = (
                BoltRequest(body=raw.decode("utf-8"), query=request.url.query, headers=dict(request.headers))
                if valid
                else None
            )
        except (ValueError, TypeError, UnicodeDecodeError):
            bolt_request = None
        if bolt_request is None:
            return _refuse()
        response = await run_in_threadpool(bolt.dispatch, bolt_request)
        if response.status >= 500:
            log.error("Slack request failed inside the app (status %s)", response.status)
        return Response(
            content=response.body,
            status_code=response.status,
            headers=response.first_headers_without_set_cookie(),
        )

    app.state.slack_app = bolt
    return bolt
