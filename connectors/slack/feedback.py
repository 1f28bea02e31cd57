"""The answer's buttons: 👍, 👎, Resolved, Talk to a human — stored like the web's feedback.

The Slack user id is the pseudonymous voter; the idempotency key comes from the button, the
answer and the user, so a double click counts once. "Talk to a human" records the
``escalated`` resolution (which flags the answer) and hands off to people.
"""

from __future__ import annotations

import logging

from assistant.escalation import build_escalation, notify
from assistant.feedback import record_feedback_and_flag
from connectors.slack import blocks, escalation, review, threads
from connectors.slack.deps import SupportDeps, support

log = logging.getLogger(__name__)

SIGNALS: dict[str, tuple[str | None, str | None]] = {
    blocks.ACTION_UP: ("up", None),
    blocks.ACTION_DOWN: ("down", None),
    blocks.ACTION_RESOLVED: (None, "resolved"),
    blocks.ACTION_HUMAN: (None, "escalated"),
}
THANKS = {
    blocks.ACTION_UP: "Thanks for the feedback!",
    blocks.ACTION_DOWN: "Thanks, a support lead will look at this answer.",
    blocks.ACTION_RESOLVED: "Glad that solved it!",
}
HANDED_OFF = "I've asked our support team to join this conversation; someone will reply here."
HANDED_OFF_QUEUE = "I've passed this to our support team; someone will get back to you."


def on_feedback_button(ack, body: dict, action: dict, context) -> None:
    """Record the click once, then thank the user (or hand off)."""
    ack()
    deps = support(context)
    action_id, interaction_id = action["action_id"], action.get("value") or ""
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or ""
    message = body.get("message") or {}
    thread_ts = message.get("thread_ts") or (body.get("container") or {}).get("thread_ts")
    rating, resolution = SIGNALS[action_id]
    try:
        _, created = record_feedback_and_flag(
            deps.store,
            deps.settings,
            interaction_id=interaction_id,
            rating=rating,
            resolution=resolution,
            voter=user,
            idempotency_key=f"slack:{action_id}:{interaction_id}:{user}"[:200],
        )
    except LookupError:
        deps.poster.ephemeral(channel, user, "This answer is no longer on record.", thread_ts=thread_ts)
        return
    if not created:
        return  # a double click: counted once, answered once
    if action_id == blocks.ACTION_HUMAN:
        hand_off(deps, interaction_id, user, channel, thread_ts or message.get("ts"))
    else:
        deps.poster.ephemeral(channel, user, THANKS[action_id], thread_ts=thread_ts)
    try:
        review.post_flag(deps, interaction_id)
    except Exception:
        log.exception("could not post interaction %s for review", interaction_id)


def hand_off(deps: SupportDeps, interaction_id: str, user: str, channel: str, thread_ts: str | None) -> None:
    """Post the hand-off (link to the thread), tell the other escalation targets, tell the user."""
    posted = False
    try:
        item = build_escalation(deps.store, interaction_id)
        where = threads.location_of(deps.store, interaction_id)
        link_channel, link_ts = (where[0], where[1] or thread_ts) if where else (channel, thread_ts)
        permalink = deps.poster.permalink(link_channel, link_ts) if link_ts else None
        target = (channel, thread_ts) if thread_ts else None
        posted = escalation.post_handoff(
            deps.poster, deps.settings, item, user=user, permalink=permalink, thread=target
        )
    except Exception:
        log.exception("could not post the hand-off of interaction %s to Slack", interaction_id)
    notify(deps.store, list(deps.notifiers), interaction_id, None)  # webhook & co.; never raises
    text = HANDED_OFF if posted else HANDED_OFF_QUEUE
    deps.poster.post(channel, text, thread_ts=thread_ts)
