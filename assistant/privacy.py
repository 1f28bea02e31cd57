"""Erasing one customer (right to erasure): their log, what was derived from it, and a tombstone.

Use :func:`erase_user` (``assistant users erase USER_ID``, ``DELETE /admin/api/customers/{id}``).
A customer is the ``user_id`` a channel logs (a web widget session hash, a Slack user id, an API
user id). Erasing one deletes, in one transaction:

- their interactions and conversations (a conversation others also spoke in stays, without
  their user id), the feedback on their interactions and every vote they cast on others';
- the flags on their interactions and those flags' review actions;
- curated answers whose only provenance is their interactions. A curated answer that also
  settled other customers' flags stays, with the lead's answer, but its question becomes the
  next settled customer's question and its link to them goes (``curated_kept``);
- their questions and answers quoted in other customers' interactions (earlier turns of a
  shared thread, the logged prompt) become ``[erased]``.

Then it deletes every dataset build under ``<home>/datasets`` whose manifest names one of those
rows, and lists the releases trained on such a build (their weights cannot forget: roll them
back or retrain if that matters). It keeps a tombstone: the SHA-256 of the user id and the ids
of the rows erased, never the user id. Tombstones keep the customer out of later dataset builds
(``build_datasets`` excludes them by itself) and keep a CSV re-import from bringing their
erased curated answers, or their question in a kept one, back. Erasing again is safe: it
removes whatever is left (say, traffic from the same id since) and reports zeros otherwise.

What stays: a customer who comes back under the same id is answered and logged as before
(feedback needs the interaction), but nothing of theirs enters a dataset build; erase again
to remove the new rows. Adapters already trained on a deleted build are reported, not changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from assistant.store.models import (
    ConversationRow,
    CuratedAnswerRow,
    ErasedUserRow,
    FeedbackRow,
    FlagRow,
    InteractionRow,
    ReviewActionRow,
    TrainingRunRow,
    utcnow,
)

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.store import Store

log = logging.getLogger(__name__)

ERASED = "[erased]"
RECORD_KINDS = ("interactions", "feedback", "curated_answers", "curated_rewritten")


def user_hash(user_id: str) -> str:
    """The SHA-256 (hex) of a user id: the only form in which an erased customer is kept."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()


@dataclass
class ErasureReport:
    """What :func:`erase_user` removed; all zeros and empty lists when nothing was left."""

    user_hash: str
    already_erased: bool = False
    conversations: int = 0
    conversations_detached: int = 0
    interactions: int = 0
    feedback: int = 0
    flags: int = 0
    review_actions: int = 0
    curated_deleted: list[str] = field(default_factory=list)
    curated_kept: list[str] = field(default_factory=list)
    scrubbed_interactions: int = 0
    datasets_deleted: list[str] = field(default_factory=list)
    releases_affected: list[str] = field(default_factory=list)

    @property
    def removed(self) -> int:
        """How many things were removed or changed in all."""
        counts = (self.conversations, self.conversations_detached, self.interactions, self.feedback)
        lists = (self.curated_deleted, self.curated_kept, self.datasets_deleted)
        return (
            sum(counts) + self.flags + self.review_actions + self.scrubbed_interactions + sum(map(len, lists))
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "removed": self.removed}


# --- tombstones ----------------------------------------------------------------------------------


def erased_hashes(session: Session) -> set[str]:
    """The hashes of every erased customer."""
    return set(session.scalars(select(ErasedUserRow.user_hash)))


def erased_record_ids(session: Session, kind: str) -> set[Any]:
    """The ids of every erased row of ``kind`` (one of :data:`RECORD_KINDS`)."""
    return {i for ids in session.scalars(select(ErasedUserRow.erased_ids)) for i in ids.get(kind, [])}


def erased_users_among(session: Session) -> frozenset[str]:
    """The user ids (and voters) still present in the log whose customer was erased.

    After an erase this is empty unless the customer came back (new traffic under the same id)
    or old rows were restored; ``build_datasets`` leaves these users out.
    """
    hashes = erased_hashes(session)
    if not hashes:
        return frozenset()
    present: set[str] = set()
    for column in (InteractionRow.user_id, ConversationRow.user_id, FeedbackRow.voter):
        present.update(u for u in session.scalars(select(column).distinct()) if u)
    return frozenset(u for u in present if user_hash(u) in hashes)


def _tombstone(session: Session, digest: str, ids: dict[str, list[Any]]) -> bool:
    """Record (or extend) the tombstone; True if one existed already."""
    row = session.get(ErasedUserRow, digest)
    if row is None:
        now = utcnow()
        session.add(ErasedUserRow(user_hash=digest, erased_ids=ids, erased_at=now, updated_at=now))
        return False
    merged = {
        kind: sorted({*row.erased_ids.get(kind, []), *ids.get(kind, [])}, key=str) for kind in RECORD_KINDS
    }
    if merged != row.erased_ids:
        row.erased_ids, row.updated_at = merged, utcnow()
    return True


# --- the log -------------------------------------------------------------------------------------


def _scrub(texts: Iterable[str], value: str) -> str:
    for text in texts:
        value = value.replace(text, ERASED)
    return value


def _scrub_others(session: Session, mine: list[InteractionRow], report: ErasureReport) -> None:
    """Replace their turns in other customers' interactions of the same conversations."""
    questions = {row.question for row in mine if row.question.strip()}
    quoted = sorted(
        questions | {row.answer for row in mine if len(row.answer.strip()) > 20}, key=len, reverse=True
    )
    conversations = {row.conversation_id for row in mine}
    mine_ids = {row.id for row in mine}
    if not conversations:
        return
    others = session.scalars(select(InteractionRow).where(InteractionRow.conversation_id.in_(conversations)))
    for row in others:
        if row.id in mine_ids:
            continue
        history, erase_next = [], False
        for turn in row.history:
            content = turn.get("content", "")
            if turn.get("role") == "user" and content in questions:
                turn, erase_next = {**turn, "content": ERASED}, True
            elif turn.get("role") == "assistant" and erase_next:
                turn, erase_next = {**turn, "content": ERASED}, False
            else:
                turn = {**turn, "content": _scrub(quoted, content)} if isinstance(content, str) else turn
            history.append(turn)
        prompt = _scrub(quoted, row.prompt) if row.prompt else row.prompt
        if history != row.history or prompt != row.prompt:
            row.history, row.prompt = history, prompt
            report.scrubbed_interactions += 1


def _settle_curated(
    session: Session, mine_rows: list[InteractionRow], flag_ids: list[int], report: ErasureReport
) -> None:
    """Delete curated answers only they gave rise to; re-point shared ones at another customer."""
    mine = sorted(row.id for row in mine_rows)
    questions = {row.question for row in mine_rows}
    linked = select(FlagRow.curated_answer_id).where(
        FlagRow.id.in_(flag_ids), FlagRow.curated_answer_id.is_not(None)
    )
    query = select(CuratedAnswerRow).where(
        or_(CuratedAnswerRow.source_interaction_id.in_(mine), CuratedAnswerRow.id.in_(linked))
    )
    for curated in session.scalars(query.order_by(CuratedAnswerRow.created_at, CuratedAnswerRow.id)).all():
        other = session.execute(
            select(FlagRow.interaction_id, InteractionRow.question)
            .join(InteractionRow, InteractionRow.id == FlagRow.interaction_id)
            .where(FlagRow.curated_answer_id == curated.id, FlagRow.interaction_id.not_in(mine))
            .order_by(FlagRow.id)
            .limit(1)
        ).first()
        if other is None:
            session.delete(curated)
            report.curated_deleted.append(curated.id)
        else:
            if curated.source_interaction_id in mine:
                curated.source_interaction_id = other.interaction_id
            if curated.question in questions:  # their words, unless a lead rewrote the question
                curated.question, curated.embedding = other.question, None  # re-embedded by the matcher
            curated.updated_at = utcnow()
            report.curated_kept.append(curated.id)
    session.flush()


def _erase_rows(session: Session, user_id: str, report: ErasureReport) -> dict[str, list[Any]]:
    mine_rows = list(session.scalars(select(InteractionRow).where(InteractionRow.user_id == user_id)))
    mine_list = sorted(row.id for row in mine_rows)
    feedback_query = select(FeedbackRow.id).where(
        or_(FeedbackRow.voter == user_id, FeedbackRow.interaction_id.in_(mine_list))
    )
    feedback_ids = sorted(session.scalars(feedback_query))
    flag_ids = list(session.scalars(select(FlagRow.id).where(FlagRow.interaction_id.in_(mine_list))))
    _scrub_others(session, mine_rows, report)
    _settle_curated(session, mine_rows, flag_ids, report)
    session.flush()

    def count_delete(statement: Any) -> int:
        return session.execute(statement, execution_options={"synchronize_session": False}).rowcount  # type: ignore[attr-defined]

    report.review_actions = count_delete(delete(ReviewActionRow).where(ReviewActionRow.flag_id.in_(flag_ids)))
    report.flags = count_delete(delete(FlagRow).where(FlagRow.id.in_(flag_ids)))
    report.feedback = count_delete(delete(FeedbackRow).where(FeedbackRow.id.in_(feedback_ids)))
    report.interactions = count_delete(delete(InteractionRow).where(InteractionRow.id.in_(mine_list)))
    conversations = set(session.scalars(select(ConversationRow.id).where(ConversationRow.user_id == user_id)))
    conversations |= {row.conversation_id for row in mine_rows}
    in_use = set(
        session.scalars(
            select(InteractionRow.conversation_id)
            .where(InteractionRow.conversation_id.in_(conversations))
            .distinct()
        )
    )
    report.conversations = count_delete(
        delete(ConversationRow).where(
            ConversationRow.id.in_(conversations - in_use),
            or_(ConversationRow.user_id == user_id, ConversationRow.user_id.is_(None)),
        )
    )
    report.conversations_detached = count_delete(
        update(ConversationRow)
        .where(ConversationRow.id.in_(conversations), ConversationRow.user_id == user_id)
        .values(user_id=None)
    )
    return {
        "interactions": mine_list,
        "feedback": feedback_ids,
        "curated_answers": list(report.curated_deleted),
        "curated_rewritten": list(report.curated_kept),
    }


# --- derived data on disk ------------------------------------------------------------------------


def _named(node: Any, keys: dict[str, set[Any]], user_id: str) -> bool:
    """Whether a manifest (or part of one) names an erased row or the user as a voter."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("interaction_id", "curated_answer_id") and value in keys[key]:
                return True
            listed = key in ("interaction_ids", "feedback_ids") and isinstance(value, list)
            if listed and keys[key.removesuffix("s")] & set(value):
                return True
            if key == "voters" and isinstance(value, list) and user_id in value:
                return True
            if _named(value, keys, user_id):
                return True
    elif isinstance(node, list):
        return any(_named(item, keys, user_id) for item in node)
    return False


def _erase_datasets(datasets_dir: Path, keys: dict[str, set[Any]], user_id: str) -> list[str]:
    deleted: list[str] = []
    if not datasets_dir.is_dir():
        return deleted
    for folder in sorted(datasets_dir.iterdir()):
        manifest = folder / "manifest.json"
        if not manifest.is_file():
            continue
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("erase: cannot read %s; check it by hand", manifest)
            continue
        if _named(data.get("rows", {}), keys, user_id):
            shutil.rmtree(folder)
            deleted.append(folder.name)
    return deleted


def erase_user(store: Store, settings: Settings, user_id: str) -> ErasureReport:
    """Erase one customer everywhere (see the module docstring); safe to run again.

    Raises ``ValueError`` for an empty user id. An unknown user id removes nothing and still
    leaves a tombstone, so later traffic under that id stays out of training data.
    """
    if not isinstance(user_id, str) or not user_id.strip():
        raise ValueError("the user id must be a non-empty string")
    report = ErasureReport(user_hash(user_id))
    with store.session() as session:
        ids = _erase_rows(session, user_id, report)
        report.already_erased = _tombstone(session, report.user_hash, ids)
        keys = {
            "interaction_id": erased_record_ids(session, "interactions") | set(ids["interactions"]),
            "feedback_id": erased_record_ids(session, "feedback") | set(ids["feedback"]),
            "curated_answer_id": erased_record_ids(session, "curated_answers") | set(ids["curated_answers"]),
        }
    report.datasets_deleted = _erase_datasets(settings.home / "datasets", keys, user_id)
    if report.datasets_deleted:
        with store.session() as session:
            query = select(TrainingRunRow.candidate_release).where(
                TrainingRunRow.dataset_id.in_(report.datasets_deleted),
                TrainingRunRow.candidate_release.is_not(None),
            )
            report.releases_affected = sorted(set(session.scalars(query)))
    log.info("erased user %s…: %s", report.user_hash[:12], report.to_dict())
    return report
