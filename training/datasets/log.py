"""Reading the conversation log for a dataset build: interactions, each voter's latest vote, flags, reviews.

:func:`read_log` takes one look at the store and returns a :class:`ConversationLog`, what every
row of the build is derived from. It leaves out the interactions and votes of excluded users
(asked to be left out, or erased) and counts the votes it left out; a voter who voted more than
once on one interaction counts with their latest rating and latest resolution.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from assistant.review.examples import training_examples
from assistant.store import Store
from assistant.store.models import FeedbackRow, FlagRow, InteractionRow


@dataclass
class Vote:
    """One voter's latest rating and latest resolution on one interaction (with the event ids)."""

    rating: str | None = None
    rating_event: int | None = None
    resolution: str | None = None
    resolution_event: int | None = None

    def events(self) -> list[int]:
        return [e for e in (self.rating_event, self.resolution_event) if e is not None]


@dataclass
class ConversationLog:
    """What a build reads from the store, in log order (oldest interaction first)."""

    interactions: list[InteractionRow]
    users: dict[str, str | None]  # interaction id -> user id (every interaction, for reviewed rows)
    votes: dict[str, dict[str, Vote]]  # interaction id -> voter -> latest vote
    events: dict[str, list[int]]  # interaction id -> feedback event ids kept
    flags: dict[str, str]  # interaction id -> flag status
    examples: list[dict[str, Any]]  # reviewed answers (:func:`~assistant.review.examples.training_examples`)
    excluded_feedback: int = 0


def _voter_key(event: FeedbackRow, interaction: InteractionRow | None) -> str:
    """Who cast a vote: the voter given, else the asker, else the conversation (anonymous)."""
    if event.voter:
        return event.voter
    if interaction is not None and interaction.user_id:
        return f"user:{interaction.user_id}"
    return f"conversation:{interaction.conversation_id if interaction else event.interaction_id}"


def read_log(store: Store, since: datetime | None, excluded: frozenset[str]) -> ConversationLog:
    """The log from ``since`` on (all of it when None), without the users in ``excluded``."""
    with store.session() as session:
        users = dict(session.execute(select(InteractionRow.id, InteractionRow.user_id)).tuples().all())
        query = select(InteractionRow).order_by(InteractionRow.created_at, InteractionRow.id)
        if since is not None:
            query = query.where(InteractionRow.created_at >= since)
        interactions = [row for row in session.scalars(query) if row.user_id not in excluded]
        by_id = {row.id: row for row in interactions}
        votes: dict[str, dict[str, Vote]] = defaultdict(dict)
        events: dict[str, list[int]] = defaultdict(list)
        excluded_feedback = 0
        for event in session.scalars(select(FeedbackRow).order_by(FeedbackRow.created_at, FeedbackRow.id)):
            interaction = by_id.get(event.interaction_id)
            if event.voter in excluded or (
                event.voter is None and users.get(event.interaction_id) in excluded
            ):
                excluded_feedback += 1
                continue
            events[event.interaction_id].append(event.id)
            if interaction is None:
                continue  # older than ``since`` or excluded; its events still name reviewed rows
            vote = votes[event.interaction_id].setdefault(_voter_key(event, interaction), Vote())
            if event.rating:
                vote.rating, vote.rating_event = event.rating, event.id
            if event.resolution:
                vote.resolution, vote.resolution_event = event.resolution, event.id
        flags = dict(session.execute(select(FlagRow.interaction_id, FlagRow.status)).tuples().all())
        examples = list(training_examples(session))
    return ConversationLog(interactions, users, dict(votes), dict(events), flags, examples, excluded_feedback)
