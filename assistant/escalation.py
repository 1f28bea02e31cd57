"""Hand-off to people: tell the support team when a customer asks for a human.

An escalation is already stored (an ``escalated`` feedback event, which flags the interaction
for the review queue); the notifiers here only tell someone at once. A notifier is any callable
taking an :class:`Escalation`; :func:`notifiers_from_settings` builds the configured ones (the
webhook, and what plugins add: the Slack escalation channel when ``ASSISTANT_SLACK_ESCALATION_CHANNEL``
is set).
:func:`notify` runs after the response is sent and never raises: a failing target is logged
and the customer still got their confirmation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import httpx
from sqlalchemy import select

from assistant.config import Settings
from assistant.store import Store, repository
from assistant.store.models import InteractionRow

log = logging.getLogger(__name__)
TRANSCRIPT_TURNS = 20
WEBHOOK_ATTEMPTS = 3


@dataclass(frozen=True)
class Escalation:
    """What the support team needs to pick up a conversation (the webhook's JSON body)."""

    interaction_id: str
    conversation_id: str
    channel: str
    question: str
    answer: str
    comment: str | None
    release: str
    transcript: list[dict] = field(default_factory=list)  # oldest first: {role, content, at}
    event: str = "escalation"

    def to_dict(self) -> dict:
        return asdict(self)


Notifier = Callable[[Escalation], None]


def build_escalation(store: Store, interaction_id: str, comment: str | None = None) -> Escalation:
    """The escalated interaction with its conversation's last turns up to it."""
    with store.session() as session:
        row = repository.get_interaction(session, interaction_id)
        if row is None:
            raise LookupError(f"unknown interaction {interaction_id!r}")
        earlier = session.scalars(
            select(InteractionRow)
            .where(
                InteractionRow.conversation_id == row.conversation_id,
                InteractionRow.created_at <= row.created_at,
            )
            .order_by(InteractionRow.created_at.desc())
            .limit(TRANSCRIPT_TURNS)
        ).all()
        transcript = []
        for turn in reversed(earlier):
            at = turn.created_at.isoformat()
            transcript.append({"role": "user", "content": turn.question, "at": at})
            transcript.append({"role": "assistant", "content": turn.answer, "at": at})
        return Escalation(
            interaction_id=row.id,
            conversation_id=row.conversation_id,
            channel=row.channel,
            question=row.question,
            answer=row.answer,
            comment=comment,
            release=row.release_id,
            transcript=transcript,
        )


def webhook_notifier(url: str, *, secret: str = "", timeout_s: float = 5.0) -> Notifier:
    """POST the escalation as JSON to ``url`` (a few tries), signed with HMAC-SHA256 when ``secret``."""

    def send(escalation: Escalation) -> None:
        body = json.dumps(escalation.to_dict(), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "support-assistant"}
        if secret:
            digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
            headers["X-Assistant-Signature"] = f"sha256={digest}"
        for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
            try:
                response = httpx.post(url, content=body, headers=headers, timeout=timeout_s)
                response.raise_for_status()
                return
            except httpx.HTTPError:
                if attempt == WEBHOOK_ATTEMPTS:
                    raise
                time.sleep(0.5 * attempt)

    return send


def notifiers_from_settings(settings: Settings) -> list[Notifier]:
    """The notifiers the settings configure (none: escalations only reach the review queue)."""
    notifiers: list[Notifier] = []
    if settings.escalation_webhook_url:
        notifiers.append(
            webhook_notifier(
                settings.escalation_webhook_url,
                secret=settings.escalation_webhook_secret,
                timeout_s=settings.escalation_webhook_timeout_s,
            )
        )
    from assistant.plugins import escalation_notifiers  # connectors add theirs (Slack's channel)

    return notifiers + escalation_notifiers(settings)


def notify(store: Store, notifiers: Sequence[Notifier], interaction_id: str, comment: str | None) -> None:
    """Tell every notifier about an escalation; failures are logged, never raised."""
    if not notifiers:
        return
    try:
        escalation = build_escalation(store, interaction_id, comment)
    except Exception:
        log.exception("could not build the escalation of interaction %s", interaction_id)
        return
    for notifier in notifiers:
        try:
            notifier(escalation)
        except Exception:
            log.exception(
                "escalation of interaction %s did not reach %s (it is in the review queue)",
                interaction_id,
                getattr(notifier, "__qualname__", notifier),
            )
