"""Hand-offs in Slack: post to the escalation channel (or mention the team in the thread).

Slack's own "Talk to a human" button posts with a link to the thread (:func:`post_handoff`).
:func:`slack_notifier` is the Slack target of :mod:`assistant.escalation`: it tells the
same channel about hand-offs from the web widget and the API.
"""

from __future__ import annotations

import logging

from assistant.config import Settings
from assistant.escalation import Escalation, Notifier
from connectors.slack import blocks
from connectors.slack.client import Poster, build_client

log = logging.getLogger(__name__)


def enabled(settings: Settings) -> bool:
    """True when hand-offs have a Slack destination."""
    return bool(
        settings.slack_bot_token.get_secret_value()
        and (settings.slack_escalation_channel or settings.slack_escalation_mention)
    )


def post_handoff(
    poster: Poster,
    settings: Settings,
    escalation: Escalation,
    *,
    user: str | None = None,
    permalink: str | None = None,
    thread: tuple[str, str] | None = None,
) -> bool:
    """Tell the team; True when something was posted.

    With an escalation channel the post goes there; otherwise, for a Slack thread (``thread`` =
    ``(channel, thread_ts)``), the mention goes into the thread itself.
    """
    text, body = blocks.escalation(
        question=escalation.question,
        answer=escalation.answer,
        channel=escalation.channel,
        user=user,
        permalink=permalink,
        mention=settings.slack_escalation_mention,
        comment=escalation.comment,
    )
    if settings.slack_escalation_channel:
        poster.post(settings.slack_escalation_channel, text, blocks=body)
        return True
    if settings.slack_escalation_mention and thread is not None:
        poster.post(thread[0], text, blocks=body, thread_ts=thread[1])
        return True
    return False


def slack_notifier(settings: Settings, poster: Poster | None = None) -> Notifier:
    """An escalation target posting hand-offs from other channels to the escalation channel.

    Slack conversations are skipped here: the button's own listener posts those with a link.
    """
    state: dict[str, Poster] = {}

    def send(escalation: Escalation) -> None:
        if escalation.channel == "slack" or not settings.slack_escalation_channel:
            return
        if "poster" not in state:
            state["poster"] = poster or Poster(build_client(settings))
        post_handoff(state["poster"], settings, escalation)

    send.__qualname__ = "slack_notifier"
    return send
