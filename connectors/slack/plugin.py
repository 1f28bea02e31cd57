"""The Slack connector's plugin (see :mod:`assistant.plugins`): the ``assistant slack`` command,
``POST /slack/events`` with its review sweeper on ``assistant serve``, and the Slack target for
hand-offs from every channel. slack-bolt is imported only when Slack is configured."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import typer
from fastapi import FastAPI

from assistant.config import Settings
from assistant.escalation import Notifier
from assistant.periodic import Periodic
from assistant.pipeline import Assistant
from assistant.plugins import hookimpl

log = logging.getLogger(__name__)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    from connectors.slack.commands import register

    register(app)


@hookimpl
def install_channels(app: FastAPI, assistant: Assistant) -> Sequence[Periodic]:
    if half := _half_of_slack_http(assistant.settings):
        log.warning("Slack events are not taken at /slack/events: %s", half)
    if not assistant.settings.slack_http_enabled:  # bot token + signing secret
        return []
    from connectors.slack.http import install
    from connectors.slack.review import review_sweeper

    sweeper = review_sweeper(install(app, assistant).support)
    return [sweeper] if sweeper else []


@hookimpl
def escalation_notifiers(settings: Settings) -> Sequence[Notifier]:
    if not (settings.slack_bot_token.get_secret_value() and settings.slack_escalation_channel):
        return []
    from connectors.slack.escalation import slack_notifier

    return [slack_notifier(settings)]


def _half_of_slack_http(settings: Settings) -> str | None:
    """What is missing when Slack's HTTP mode looks intended but is not complete, else None.

    A bot token alone is normal beside Socket Mode (an app token, `assistant slack`).
    """
    bot, secret, app = (
        bool(s.get_secret_value())
        for s in (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token)
    )
    if secret and not bot:
        return "ASSISTANT_SLACK_SIGNING_SECRET is set but ASSISTANT_SLACK_BOT_TOKEN is not"
    if bot and not secret and not app:
        return "ASSISTANT_SLACK_BOT_TOKEN is set but ASSISTANT_SLACK_SIGNING_SECRET is not"
    return None
