"""The conversation log: documents, conversations, interactions and feedback events.

Typical use::

    from assistant import store

    db = store.Store(settings.resolved_database_url)
    db.upgrade()
    with db.session() as s:
        conversation = store.get_or_create_conversation(s, conversation_id=None, channel="api", user_id=None)
        interaction_id = store.record_interaction(s, conversation_id=conversation.id, ...)
"""

from assistant.store.db import Store, make_engine
from assistant.store.migrate import current_revision
from assistant.store.models import (
    CHANNELS,
    RATINGS,
    RESOLUTIONS,
    Base,
    ConversationRow,
    DocumentRow,
    FeedbackRow,
    InteractionRow,
    utcnow,
)
from assistant.store.repository import (
    MAX_COMMENT_CHARS,
    IdempotencyConflict,
    conversation_turns,
    delete_documents,
    feedback_for,
    feedback_key,
    get_conversation,
    get_document,
    get_interaction,
    get_or_create_conversation,
    list_documents,
    record_feedback,
    record_interaction,
    upsert_document,
)

__all__ = [
    "CHANNELS",
    "MAX_COMMENT_CHARS",
    "RATINGS",
    "RESOLUTIONS",
    "Base",
    "ConversationRow",
    "DocumentRow",
    "FeedbackRow",
    "IdempotencyConflict",
    "InteractionRow",
    "Store",
    "conversation_turns",
    "current_revision",
    "delete_documents",
    "feedback_for",
    "feedback_key",
    "get_conversation",
    "get_document",
    "get_interaction",
    "get_or_create_conversation",
    "list_documents",
    "make_engine",
    "record_feedback",
    "record_interaction",
    "upsert_document",
    "utcnow",
]
