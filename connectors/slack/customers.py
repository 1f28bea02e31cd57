"""Customers in Slack: mentions, direct messages and thread follow-ups answered in the thread.

Bolt acknowledges events before these listeners run (HTTP and Socket Mode alike), so the
work here never holds Slack's request. Each event is claimed by ``event_id`` in the store
first: of Slack's retries and concurrent deliveries exactly one answers.
"""

from __future__ import annotations

import logging
import time

from assistant.pipeline import Delta, Done
from connectors.slack import blocks, dedupe, review, threads
from connectors.slack.deps import SupportDeps, support
from connectors.slack.text import mentions, question_from

log = logging.getLogger(__name__)
STREAM_EVERY_S = 1.5  # update the message at most this often while the answer is written
ANSWERED_SUBTYPES = (None, "thread_broadcast", "file_share")
SORRY = "Sorry, something went wrong while answering. Please try again, or ask for a human."
EMPTY = "Ask me a question about our products and I'll answer from our help articles."


def on_app_mention(body: dict, event: dict, context) -> None:
    """``@assistant …`` in a channel: answer in the thread (allowed channels only)."""
    deps = support(context)
    if not _allowed(deps, event.get("channel", "")) or _ignored(deps, event, context):
        return
    answer_event(deps, body.get("event_id") or "", event, bot_user_id=context.get("bot_user_id"))


def on_message(body: dict, event: dict, context) -> None:
    """Direct messages, and replies in threads the assistant already answered in."""
    deps = support(context)
    if event.get("subtype") not in ANSWERED_SUBTYPES or _ignored(deps, event, context):
        return
    bot_user_id = context.get("bot_user_id")
    channel = event.get("channel", "")
    if event.get("channel_type") == "im":
        answer_event(deps, body.get("event_id") or "", event, bot_user_id=bot_user_id)
        return
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts") or not _allowed(deps, channel):
        return
    if mentions(event.get("text", ""), bot_user_id):
        return  # the app_mention event answers it
    if deps.settings.slack_thread_replies != "all":
        return
    if threads.known_thread(deps.store, channel, thread_ts):
        answer_event(deps, body.get("event_id") or "", event, bot_user_id=bot_user_id)


def _allowed(deps: SupportDeps, channel: str) -> bool:
    allowed = deps.settings.slack_channel_ids
    return not allowed or channel in allowed


def _ignored(deps: SupportDeps, event: dict, context) -> bool:
    """Its own messages always; other bots' unless ``slack_ignore_bots`` is off."""
    own = {context.get("bot_user_id"), context.get("bot_id")} - {None}
    if event.get("user") in own or event.get("bot_id") in own:
        return True
    from_bot = bool(event.get("bot_id")) or event.get("subtype") == "bot_message"
    return from_bot and deps.settings.slack_ignore_bots


def answer_event(deps: SupportDeps, event_id: str, event: dict, *, bot_user_id: str | None) -> None:
    """Answer one message event once (claimed by ``event_id``), streaming into a threaded reply."""
    key = f"event:{event_id or event.get('client_msg_id') or event.get('ts')}"
    if not dedupe.claim(deps.store, key):
        log.debug("Slack event %s already taken", key)
        return
    channel = event["channel"]
    user = event.get("user")
    is_dm = event.get("channel_type") == "im"
    thread_ts = event.get("thread_ts") or (None if is_dm else event.get("ts"))
    posted: str | None = None
    try:
        question = question_from(event.get("text", ""), bot_user_id)
        if not question:
            deps.poster.post(channel, EMPTY, thread_ts=thread_ts)
            return
        question = question[: deps.settings.max_message_chars]
        conversation_id = threads.conversation_for(deps.store, channel, thread_ts, user)
        posted = deps.poster.post(channel, blocks.THINKING, thread_ts=thread_ts)
        _stream(deps, channel, posted, question, conversation_id, user)
    except Exception:
        if posted is None:
            dedupe.release(deps.store, key)  # nothing reached Slack: a retried delivery may answer
        else:
            _sorry(deps, channel, posted)
        log.exception("could not answer Slack event %s", key)


def _stream(deps: SupportDeps, channel: str, ts: str, question: str, conversation_id: str, user) -> None:
    text, last = "", time.monotonic()
    done = None
    for event in deps.assistant.ask_stream(
        question, conversation_id=conversation_id, channel="slack", user_id=user
    ):
        if isinstance(event, Delta):
            text += event.text
            if time.monotonic() - last >= STREAM_EVERY_S and text.strip():
                deps.poster.update(channel, ts, text, blocks=blocks.streaming(text))
                last = time.monotonic()
        elif isinstance(event, Done):
            done = event.answer
    assert done is not None
    curated = done.curated_answer_id is not None
    body = blocks.answer(
        done.interaction_id,
        done.answer,
        [c.to_dict() for c in done.citations],
        curated=curated,
        abstained=done.abstained,
    )
    deps.poster.update(channel, ts, blocks.answer_text(done.answer, curated=curated), blocks=body)
    try:
        review.post_flag(deps, done.interaction_id)  # low confidence / abstained answers
    except Exception:
        log.exception("could not post interaction %s for review", done.interaction_id)


def _sorry(deps: SupportDeps, channel: str, ts: str) -> None:
    try:
        deps.poster.update(channel, ts, SORRY)
    except Exception:
        log.exception("could not tell Slack the answer failed")
