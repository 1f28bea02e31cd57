"""One conversation per Slack thread: ``external_ref`` is ``CHANNEL:THREAD_TS`` (``CHANNEL`` alone
for the top level of a direct message, one rolling conversation per DM)."""

from __future__ import annotations

from assistant.store import Store, repository

CHANNEL = "slack"


def ref(channel: str, thread_ts: str | None) -> str:
    return f"{channel}:{thread_ts}" if thread_ts else channel


def parse(external_ref: str | None) -> tuple[str, str | None] | None:
    """``(channel, thread_ts)`` of a stored reference, or None."""
    if not external_ref:
        return None
    channel, _, thread_ts = external_ref.partition(":")
    return channel, thread_ts or None


def conversation_for(store: Store, channel: str, thread_ts: str | None, user: str | None) -> str:
    """The id of the thread's conversation, created on first use (race-safe)."""
    with store.session() as session:
        row = repository.get_or_create_conversation(
            session, conversation_id=None, channel=CHANNEL, user_id=user, external_ref=ref(channel, thread_ts)
        )
        return row.id


def known_thread(store: Store, channel: str, thread_ts: str) -> bool:
    """True when the assistant already answered in this thread."""
    with store.session() as session:
        return repository.conversation_by_ref(session, CHANNEL, ref(channel, thread_ts)) is not None


def location_of(store: Store, interaction_id: str) -> tuple[str, str | None] | None:
    """Where a Slack interaction's conversation lives, or None (not Slack, unknown)."""
    with store.session() as session:
        interaction = repository.get_interaction(session, interaction_id)
        if interaction is None or interaction.channel != CHANNEL:
            return None
        conversation = repository.get_conversation(session, interaction.conversation_id)
        return parse(conversation.external_ref if conversation else None)
