"""The one bolt ``App`` behind both transports: HTTP (``assistant serve``) and Socket Mode."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient

from assistant.config import Settings
from assistant.escalation import Notifier, notifiers_from_settings
from assistant.pipeline import Assistant
from connectors.slack import blocks, customers, feedback, review
from connectors.slack.client import Pacer, Poster, build_client
from connectors.slack.deps import CONTEXT_KEY, SupportDeps
from connectors.slack.leads import Leads

log = logging.getLogger(__name__)
WORKERS = 8


def build_app(
    assistant: Assistant,
    settings: Settings,
    *,
    client: WebClient | None = None,
    pacer: Pacer | None = None,
    notifiers: Sequence[Notifier] | None = None,
) -> App:
    """A bolt ``App`` answering customers and serving leads through ``assistant``.

    ``client`` defaults to :func:`~connectors.slack.client.build_client` (bot token, base URL,
    429 retries); ``notifiers`` to the configured escalation targets
    (:func:`~assistant.escalation.notifiers_from_settings`: the webhook and what plugins add, this
    connector's escalation channel among them, which leaves Slack's own hand-offs to the button).
    """
    client = client or build_client(settings)  # carries the bot token
    signing_secret = settings.slack_signing_secret.get_secret_value()
    app = App(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=bool(signing_secret),  # Socket Mode needs no secret
        token_verification_enabled=False,  # no Slack call at start-up; auth.test on first event
        process_before_response=False,  # ack first, work afterwards
        listener_executor=ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="slack-listener"),
        logger=logging.getLogger("connectors.slack.bolt"),
    )
    deps = SupportDeps(
        assistant=assistant,
        settings=settings,
        poster=Poster(client, pacer),
        leads=Leads(settings, client),
        notifiers=list(notifiers if notifiers is not None else notifiers_from_settings(settings)),
    )

    @app.middleware
    def attach_support(context, next):  # noqa: A002 (bolt's middleware signature)
        context[CONTEXT_KEY] = deps
        return next()

    app.event("app_mention")(customers.on_app_mention)
    app.event("message")(customers.on_message)
    app.action(re.compile("^(" + "|".join(blocks.FEEDBACK_ACTIONS) + ")$"))(feedback.on_feedback_button)
    app.action(re.compile("^(" + "|".join(blocks.REVIEW_ACTIONS) + ")$"))(review.on_review_button)
    app.view(blocks.CORRECT_VIEW)(review.on_correct_submit)
    app.error(_log_error)
    app.support = deps  # type: ignore[attr-defined] (tests and the sweeper reach it here)
    return app


def _log_error(error: Exception, body: dict) -> None:
    log.error("Slack listener failed on %s: %r", body.get("type") if isinstance(body, dict) else "?", error)
