"""Versioned training sets built from the conversation log: SFT, preference (KTO) and retriever pairs.

Use :func:`build_datasets` at the start of a learning cycle. It reads the store (interactions,
feedback events, flags, curated answers) and the index snapshot of a release (for the source
texts the interactions saw), and writes ``<home>/datasets/<dataset_id>/``:

- ``sft/`` — a ``datasets.DatasetDict`` (``train``/``dev``) in TRL's conversational
  *prompt-completion* format: ``prompt`` is the chat messages exactly as
  :func:`~assistant.generation.prompts.build_messages` builds them when serving (instructions,
  earlier turns, numbered sources, question), ``completion`` is one assistant message.
  ``weight`` is 1.0 for reviewed answers (enabled curated answers, via
  :func:`~assistant.review.examples.training_examples`) and ``outcome_weight`` for generated
  answers a voter rated 👍 *and* marked ``resolved``.
- ``kto/`` — unpaired preferences for TRL's ``KTOTrainer``: ``prompt``, ``completion``,
  ``label`` (True for 👍, False for 👎) from generated answers.
- ``pairs/`` — retriever pairs for sentence-transformers: ``anchor`` (the question),
  ``positive`` (the chunk that resolved it or that a lead picked), ``negative`` (a chunk cited in
  a 👎 answer to a near question, or None). Select ``anchor``/``positive`` (/``negative``)
  before training: the other columns are provenance.
- ``manifest.json`` — id, filters (:class:`~training.config.DatasetConfig`), counts, drops by
  reason, redactions by kind, each voter's share of the weight, the largest share one answer
  text's vote-derived rows carry (``max_answer_weight_share``), and every row's source
  interaction and feedback events; ``dataset_config.json`` — the config alone.

Safety rules, applied before anything is written: only reviewed items or outcome-weighted
votes; rejected items never; a voter's votes count on at most ``max_rows_per_voter``
interactions (once per interaction), a conversation gives at most ``max_rows_per_conversation``
vote-derived rows per kind, and one answer text (normalised completion) gives at most
``max_rows_per_answer`` vote-derived rows per kind, however many voters pushed it (a flood of
👍 on one planted answer adds weight, not information; reviewed rows are not capped); a lead's
verdict overrules votes (no 👍 row for a corrected answer, no 👎 row for an approved one);
conflicting votes on one answer give no row; every text (question, turns, sources, answers) is
PII-redacted; interactions and votes of
``exclude_user_ids`` and of erased customers (tombstoned, :mod:`assistant.privacy`) are left
out; duplicates (same normalised question and completion) are kept once; the dev split is
chosen by a stable hash of the conversation id, never by turn.

The build is deterministic: the same store, snapshot and config give the same rows and the same
content hash. A build whose content already exists under ``out_dir`` returns that dataset
(``reused=True``) instead of writing a copy, so the id is stable. Too few SFT rows is a clean,
logged skip (``skipped=True``) that writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assistant.config import Settings
from assistant.generation.prompts import build_messages
from assistant.privacy import erased_users_among
from assistant.releases import ReleaseRegistry
from assistant.retrieval.snapshot import IndexSnapshot
from assistant.review.examples import training_examples
from assistant.store import Store
from assistant.store.models import FeedbackRow, FlagRow, InteractionRow
from assistant.types import Chunk, Hit, Turn
from training.config import DatasetConfig
from training.redact import redact_counts

log = logging.getLogger(__name__)

KINDS = ("sft", "kto", "pairs")
SPLITS = ("train", "dev")
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
REVIEWED = "(reviewed)"  # the voter key that reviewed rows are attributed to in weight shares
_OVERRULED_UP = ("corrected", "gap")  # a lead said the answer was wrong or not covered
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and are can do does for from how i in is it me my of on or the to what when where which why "
        "with you your",
    )
)


class DatasetError(ValueError):
    """A dataset cannot be built from the given inputs; the message says what to fix."""


@dataclass
class DatasetBuild:
    """The outcome of :func:`build_datasets`: where the dataset is, or why nothing was written."""

    dataset_id: str | None
    path: Path | None
    skipped: bool = False
    reason: str | None = None
    reused: bool = False
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "path": str(self.path) if self.path else None,
            "skipped": self.skipped,
            "reason": self.reason,
            "reused": self.reused,
            "counts": self.counts,
        }


def _features() -> dict[str, Any]:
    """The column types of each kind (explicit, so empty splits load back with their columns)."""
    from datasets import Features, List, Value

    message = List({"role": Value("string"), "content": Value("string")})
    provenance = {
        "source": Value("string"),
        "interaction_id": Value("string"),
        "conversation_id": Value("string"),
        "curated_answer_id": Value("string"),
        "feedback_ids": List(Value("int64")),
    }
    return {
        "sft": Features({"prompt": message, "completion": message, "weight": Value("float64"), **provenance}),
        "kto": Features({"prompt": message, "completion": message, "label": Value("bool"), **provenance}),
        "pairs": Features(
            {
                "anchor": Value("string"),
                "positive": Value("string"),
                "negative": Value("string"),
                "positive_chunk_id": Value("string"),
                "negative_chunk_id": Value("string"),
                **provenance,
            }
        ),
    }


# --- reading the log -----------------------------------------------------------------------------


@dataclass
class _Vote:
    """One voter's latest rating and latest resolution on one interaction (with the event ids)."""

    rating: str | None = None
    rating_event: int | None = None
    resolution: str | None = None
    resolution_event: int | None = None

    def events(self) -> list[int]:
        return [e for e in (self.rating_event, self.resolution_event) if e is not None]


@dataclass
class _Log:
    interactions: list[InteractionRow]
    users: dict[str, str | None]  # interaction id -> user id (every interaction, for reviewed rows)
    votes: dict[str, dict[str, _Vote]]  # interaction id -> voter -> latest vote
    events: dict[str, list[int]]  # interaction id -> feedback event ids kept
    flags: dict[str, str]  # interaction id -> flag status
    examples: list[dict[str, Any]]
    excluded_feedback: int = 0


def _voter_key(event: FeedbackRow, interaction: InteractionRow | None) -> str:
    """Who cast a vote: the voter given, else the asker, else the conversation (anonymous)."""
    if event.voter:
        return event.voter
    if interaction is not None and interaction.user_id:
        return f"user:{interaction.user_id}"
    return f"conversation:{interaction.conversation_id if interaction else event.interaction_id}"


def _read_log(store: Store, since: datetime | None, excluded: frozenset[str]) -> _Log:
    with store.session() as session:
        users = dict(session.execute(select(InteractionRow.id, InteractionRow.user_id)).tuples().all())
        query = select(InteractionRow).order_by(InteractionRow.created_at, InteractionRow.id)
        if since is not None:
            query = query.where(InteractionRow.created_at >= since)
        interactions = [row for row in session.scalars(query) if row.user_id not in excluded]
        by_id = {row.id: row for row in interactions}
        votes: dict[str, dict[str, _Vote]] = defaultdict(dict)
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
            vote = votes[event.interaction_id].setdefault(_voter_key(event, interaction), _Vote())
            if event.rating:
                vote.rating, vote.rating_event = event.rating, event.id
            if event.resolution:
                vote.resolution, vote.resolution_event = event.resolution, event.id
        flags = dict(session.execute(select(FlagRow.interaction_id, FlagRow.status)).tuples().all())
        examples = list(training_examples(session))
    return _Log(interactions, users, dict(votes), dict(events), flags, examples, excluded_feedback)


# --- texts: sources from the snapshot, PII redaction --------------------------------------------


class _Sources:
    """Chunk texts by id from a snapshot; a vanished chunk falls back to its document's first one."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.by_id = {chunk.chunk_id: chunk for chunk in snapshot.chunks}
        self.first: dict[str, Chunk] = {}
        for chunk in snapshot.chunks:
            self.first.setdefault(chunk.doc_id, chunk)

    def find(self, chunk_id: str | None, doc_id: str | None) -> tuple[Chunk | None, bool]:
        """The chunk, and whether it is the fallback (its document's first chunk)."""
        if chunk_id and chunk_id in self.by_id:
            return self.by_id[chunk_id], False
        return (self.first.get(doc_id or ""), True) if doc_id in self.first else (None, False)


class _Redactor:
    """Redacts texts (cached), adding what it found to the counter of the row being built."""

    def __init__(self, regions: Sequence[str]) -> None:
        self.regions = tuple(regions)
        self.cache: dict[str, tuple[str, Counter[str]]] = {}

    def __call__(self, text: str, counts: Counter[str]) -> str:
        if text not in self.cache:
            self.cache[text] = redact_counts(text, region=self.regions)
        redacted, found = self.cache[text]
        counts.update(found)
        return redacted


@dataclass
class _Row:
    """A row before the caps and the split: its columns, who voted for it, its provenance."""

    kind: str
    columns: dict[str, Any]
    dedup_key: tuple[str, ...]
    voters: tuple[str, ...] = ()
    redactions: Counter[str] = field(default_factory=Counter)
    fallbacks: int = 0
    provenance: dict[str, Any] = field(default_factory=dict)
    interaction_id: str | None = None

    @property
    def conversation_id(self) -> str:
        return self.columns["conversation_id"]

    @property
    def answer_key(self) -> str:
        """The normalised completion of an SFT or KTO row: what the per-answer cap counts."""
        return self.dedup_key[-1]


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"\w+", text.casefold()) if w not in _STOPWORDS)


def _is_generated(row: InteractionRow) -> bool:
    return not row.curated_answer_id and not row.abstained and bool(row.answer.strip())


class _Builder:
    def __init__(self, config: DatasetConfig, sources: _Sources, log_: _Log) -> None:
        self.config = config
        self.sources = sources
        self.log = log_
        self.redact = _Redactor(config.pii_regions)
        self.drops: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
        self.order = {row.id: n for n, row in enumerate(log_.interactions)}  # log order, for the caps

    # -- prompts --
    def prompt(
        self,
        row: _Row,
        question: str,
        history: Iterable[dict[str, Any]],
        hits: Iterable[dict[str, Any]],
        extra_doc_ids: Sequence[str] = (),
    ) -> list[dict[str, str]] | None:
        """The serving prompt rebuilt with redacted texts; None when a source is gone."""
        found: list[Hit] = []
        for hit in hits:
            chunk, fell_back = self.sources.find(hit.get("chunk_id"), hit.get("doc_id"))
            if chunk is None:
                return None
            row.fallbacks += fell_back
            found.append(Hit(self._clean(chunk, row), float(hit.get("score") or 0.0)))
        shown = {hit.chunk.doc_id for hit in found}
        for doc_id in extra_doc_ids:  # a lead pointed at a document retrieval missed: show it too
            chunk = self.sources.first.get(doc_id)
            if chunk is not None and doc_id not in shown:
                found.append(Hit(self._clean(chunk, row), 0.0))
                shown.add(doc_id)
        turns = [
            Turn(turn["role"], self.redact(str(turn.get("content", "")), row.redactions))
            for turn in history
            if turn.get("role") in ("user", "assistant")
        ]
        return build_messages(self.redact(question, row.redactions), found, turns)

    def _clean(self, chunk: Chunk, row: _Row) -> Chunk:
        return Chunk(
            chunk.chunk_id,
            chunk.doc_id,
            self.redact(chunk.title, row.redactions),
            chunk.source,
            self.redact(chunk.text, row.redactions),
        )

    def _text(self, chunk: Chunk, row: _Row) -> str:
        return self.redact(chunk.text, row.redactions)

    # -- reviewed rows (lead-verified) --
    def reviewed(self, since: datetime | None, excluded: frozenset[str]) -> tuple[list[_Row], list[_Row]]:
        sft: list[_Row] = []
        pairs: list[_Row] = []
        for example in self.log.examples:
            provenance = example["provenance"]
            if since is not None and datetime.fromisoformat(provenance["updated_at"]) < since:
                continue
            reviews = provenance["reviews"]
            interaction_ids = [review["interaction_id"] for review in reviews]
            if any(self.log.users.get(i) in excluded for i in interaction_ids):
                self.drops["sft"]["excluded_user"] += 1
                continue
            first = reviews[0] if reviews else None
            conversation_id = first["conversation_id"] if first else f"curated:{example['id']}"
            base = {
                "source": "reviewed",
                "interaction_id": first["interaction_id"] if first else None,
                "conversation_id": conversation_id,
                "curated_answer_id": example["id"],
                "feedback_ids": sorted(e for i in interaction_ids for e in self.log.events.get(i, [])),
            }
            meta = {
                "kind": example["kind"],
                "flag_ids": [review["flag_id"] for review in reviews],
                "interaction_ids": interaction_ids,
                "reviewed_by": sorted({r["reviewed_by"] for r in reviews if r["reviewed_by"]})
                or [provenance["created_by"]],
            }
            row = _Row("sft", dict(base), (), provenance=meta, interaction_id=base["interaction_id"])
            messages = self.prompt(
                row, example["question"], example["history"], example["sources"], example["doc_ids"]
            )
            if messages is None:
                self.drops["sft"]["source_missing"] += 1
                continue
            answer = self.redact(example["answer"], row.redactions)
            row.columns.update(
                prompt=messages, completion=[{"role": "assistant", "content": answer}], weight=1.0
            )
            row.dedup_key = (_normalise(messages[-1]["content"]), _normalise(answer))
            sft.append(row)

            pair = self.pair(example["question"], example["doc_ids"], example["sources"], base, meta)
            if pair is not None:
                pairs.append(pair)
        return sft, pairs

    def pair(
        self,
        question: str,
        doc_ids: Sequence[str],
        hits: Sequence[dict[str, Any]],
        base: dict[str, Any],
        meta: dict[str, Any],
        voters: tuple[str, ...] = (),
    ) -> _Row | None:
        """Question → the chunk of the first picked document (the retrieved one if shown, else its first)."""
        if not doc_ids:
            self.drops["pairs"]["no_document"] += 1
            return None
        row = _Row(
            "pairs",
            dict(base),
            (),
            voters=voters,
            provenance=dict(meta),
            interaction_id=base["interaction_id"],
        )
        shown = next((h for h in hits if h.get("doc_id") == doc_ids[0]), None)
        chunk, fell_back = self.sources.find(shown.get("chunk_id") if shown else None, doc_ids[0])
        if chunk is None:
            self.drops["pairs"]["source_missing"] += 1
            return None
        row.fallbacks += fell_back and shown is not None
        anchor = self.redact(question, row.redactions)
        row.columns.update(
            anchor=anchor,
            positive=self._text(chunk, row),
            positive_chunk_id=chunk.chunk_id,
            negative=None,
            negative_chunk_id=None,
        )
        row.dedup_key = (_normalise(anchor), chunk.chunk_id)
        return row

    # -- vote-derived rows --
    def voted(self, reviewed_ids: set[str]) -> tuple[list[_Row], list[_Row], list[_Row]]:
        sft: list[_Row] = []
        kto: list[_Row] = []
        pairs: list[_Row] = []
        for interaction in self.log.interactions:
            votes = self.log.votes.get(interaction.id)
            if not votes or not _is_generated(interaction):
                continue
            status = self.log.flags.get(interaction.id)
            ups = sorted(v for v, vote in votes.items() if vote.rating == "up")
            downs = sorted(v for v, vote in votes.items() if vote.rating == "down")
            resolved = [v for v in ups if votes[v].resolution == "resolved"]
            base = {
                "interaction_id": interaction.id,
                "conversation_id": interaction.conversation_id,
                "curated_answer_id": None,
            }
            if resolved:
                row = self._outcome(interaction, status, resolved, downs, reviewed_ids, base)
                if row is not None:
                    sft.append(row)
                    citation = (interaction.citations or [{}])[0]
                    meta = {"kind": "outcome", "voters": list(resolved)}
                    pair = self.pair(
                        interaction.question,
                        [citation["doc_id"]] if citation.get("doc_id") else [],
                        [citation],
                        {k: row.columns[k] for k in (*base, "source", "feedback_ids")},
                        meta,
                        voters=tuple(resolved),
                    )
                    if pair is not None:
                        pairs.append(pair)
            if ups or downs:
                row = self._preference(interaction, status, ups, downs, base)
                if row is not None:
                    kto.append(row)
        return sft, kto, pairs

    def _outcome(
        self,
        interaction: InteractionRow,
        status: str | None,
        resolved: list[str],
        downs: list[str],
        reviewed_ids: set[str],
        base: dict[str, Any],
    ) -> _Row | None:
        reason = None
        if status == "rejected":
            reason = "rejected"
        elif status in _OVERRULED_UP:
            reason = "overruled_by_lead"
        elif interaction.id in reviewed_ids:
            reason = "reviewed"  # the reviewed row stands for it
        elif downs:
            reason = "conflicting_votes"
        if reason:
            self.drops["sft"][reason] += 1
            return None
        votes = self.log.votes[interaction.id]
        events = sorted(e for v in resolved for e in votes[v].events())
        row = _Row(
            "sft",
            {**base, "source": "outcome", "feedback_ids": events},
            (),
            voters=tuple(resolved),
            provenance={"kind": "outcome", "voters": list(resolved)},
            interaction_id=interaction.id,
        )
        messages = self.prompt(row, interaction.question, interaction.history, interaction.hits)
        if messages is None:
            self.drops["sft"]["source_missing"] += 1
            return None
        answer = self.redact(interaction.answer, row.redactions)
        row.columns.update(
            prompt=messages,
            completion=[{"role": "assistant", "content": answer}],
            weight=self.config.outcome_weight,
        )
        row.dedup_key = (_normalise(messages[-1]["content"]), _normalise(answer))
        return row

    def _preference(
        self, interaction: InteractionRow, status: str | None, ups: list[str], downs: list[str], base: dict
    ) -> _Row | None:
        label = bool(ups)
        reason = None
        if status == "rejected":
            reason = "rejected"
        elif ups and downs:
            reason = "conflicting_votes"
        elif (label and status in _OVERRULED_UP) or (not label and status == "approved"):
            reason = "overruled_by_lead"
        if reason:
            self.drops["kto"][reason] += 1
            return None
        voters = ups or downs
        votes = self.log.votes[interaction.id]
        events = sorted(votes[v].rating_event for v in voters if votes[v].rating_event is not None)
        row = _Row(
            "kto",
            {**base, "source": "outcome", "feedback_ids": events, "label": label},
            (),
            voters=tuple(voters),
            provenance={"kind": "desirable" if label else "undesirable", "voters": list(voters)},
            interaction_id=interaction.id,
        )
        messages = self.prompt(row, interaction.question, interaction.history, interaction.hits)
        if messages is None:
            self.drops["kto"]["source_missing"] += 1
            return None
        answer = self.redact(interaction.answer, row.redactions)
        row.columns.update(prompt=messages, completion=[{"role": "assistant", "content": answer}])
        row.dedup_key = (_normalise(messages[-1]["content"]), _normalise(answer))
        return row

    # -- hard negatives --
    def add_negatives(self, pairs: list[_Row]) -> None:
        """Give each pair the chunk cited by the most similar 👎 answer (other document), if near enough."""
        rejected_answers = []
        for interaction in self.log.interactions:
            votes = self.log.votes.get(interaction.id, {})
            if (
                _is_generated(interaction)
                and self.log.flags.get(interaction.id) not in ("rejected", "approved")
                and any(v.rating == "down" for v in votes.values())
                and not any(v.rating == "up" for v in votes.values())
                and interaction.citations
            ):
                rejected_answers.append((_words(interaction.question), interaction))
        if not rejected_answers:
            return
        for pair in pairs:
            anchor_words = _words(pair.columns["anchor"])
            positive_doc = self.sources.by_id[pair.columns["positive_chunk_id"]].doc_id
            best: tuple[float, Chunk, InteractionRow] | None = None
            for words, interaction in rejected_answers:
                if interaction.id == pair.interaction_id or not (words | anchor_words):
                    continue
                similarity = len(words & anchor_words) / len(words | anchor_words)
                if similarity < self.config.negative_min_similarity or (best and similarity <= best[0]):
                    continue
                for citation in interaction.citations:
                    chunk, _ = self.sources.find(citation.get("chunk_id"), citation.get("doc_id"))
                    if chunk is not None and chunk.doc_id != positive_doc:
                        best = (similarity, chunk, interaction)
                        break
            if best is not None:
                _, chunk, interaction = best
                pair.columns.update(negative=self._text(chunk, pair), negative_chunk_id=chunk.chunk_id)
                pair.provenance["negative_interaction_id"] = interaction.id
                pair.columns["feedback_ids"] = sorted(
                    set(pair.columns["feedback_ids"]) | set(self.log.events.get(interaction.id, []))
                )


def _dedup(rows: list[_Row], drops: Counter[str]) -> list[_Row]:
    seen: set[tuple[str, ...]] = set()
    kept = []
    for row in rows:
        if row.dedup_key in seen:
            drops["duplicate"] += 1
            continue
        seen.add(row.dedup_key)
        kept.append(row)
    return kept


class _Caps:
    """Per-voter budget of interactions (shared by all kinds); per-conversation and per-answer rows."""

    def __init__(self, config: DatasetConfig) -> None:
        self.config = config
        self.by_voter: dict[str, set[str]] = defaultdict(set)
        self.by_conversation: Counter[tuple[str, str]] = Counter()
        self.by_answer: Counter[tuple[str, str]] = Counter()

    def admit(self, row: _Row, drops: Counter[str]) -> bool:
        if not row.voters:
            return True  # reviewed: vouched for by a lead
        eligible = tuple(
            v
            for v in row.voters
            if row.interaction_id in self.by_voter[v]
            or len(self.by_voter[v]) < self.config.max_rows_per_voter
        )
        if not eligible:
            drops["voter_cap"] += 1
            return False
        key = (row.kind, row.conversation_id)
        if self.by_conversation[key] >= self.config.max_rows_per_conversation:
            drops["conversation_cap"] += 1
            return False
        answer = (row.kind, row.answer_key)
        if self.by_answer[answer] >= self.config.max_rows_per_answer:
            drops["answer_cap"] += 1
            return False
        self.by_conversation[key] += 1
        self.by_answer[answer] += 1
        for voter in eligible:
            self.by_voter[voter].add(row.interaction_id)
        row.voters = eligible
        return True


def split_of(conversation_id: str, dev_share: float) -> str:
    """``dev`` or ``train`` for a conversation: a stable hash, so all its turns land together."""
    bucket = int.from_bytes(hashlib.sha256(conversation_id.encode()).digest()[:8], "big") / 2**64
    return "dev" if bucket < dev_share else "train"


def _weight_shares(rows: list[_Row], weight: str | None) -> dict[str, float]:
    totals: Counter[str] = Counter()
    for row in rows:
        amount = float(row.columns[weight]) if weight else 1.0
        voters = row.voters or (REVIEWED,)
        for voter in voters:
            totals[voter] += amount / len(voters)
    whole = sum(totals.values())
    if not whole:
        return {}
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return {voter: round(amount / whole, 6) for voter, amount in ranked}


def max_answer_share(rows: list[_Row], weight: str | None) -> float:
    """The largest share of the kind's whole weight that vote-derived rows with one answer text carry."""
    whole = 0.0
    by_answer: Counter[str] = Counter()
    for row in rows:
        amount = float(row.columns[weight]) if weight else 1.0
        whole += amount
        if row.voters:
            by_answer[row.answer_key] += amount
    return round(max(by_answer.values()) / whole, 6) if by_answer and whole else 0.0


def _load_snapshot(
    settings: Settings, release_dir: Path | None, snapshot: IndexSnapshot | None
) -> tuple[IndexSnapshot | None, str | None]:
    if snapshot is not None:
        return snapshot, Path(release_dir).name if release_dir else None
    if release_dir is not None:
        release_dir = Path(release_dir)
        if not release_dir.is_dir():
            raise DatasetError(f"no release folder {release_dir}")
        return IndexSnapshot.load(release_dir), release_dir.name
    registry = ReleaseRegistry(settings.releases_dir)
    current = registry.current_id()
    if current is None:
        return None, None
    return IndexSnapshot.load(registry.path(current)), current


def _existing(out_dir: Path, digest: str) -> Path | None:
    if not out_dir.is_dir():
        return None
    for folder in sorted(out_dir.glob(f"*-{digest}")):
        if (folder / MANIFEST_FILE).is_file():
            return folder
    return None


def build_datasets(
    store: Store,
    settings: Settings,
    *,
    release_dir: Path | None = None,
    snapshot: IndexSnapshot | None = None,
    since: datetime | None = None,
    out_dir: Path | None = None,
    exclude_user_ids: Iterable[str] = (),
    config: DatasetConfig | None = None,
) -> DatasetBuild:
    """Build the SFT, preference and retriever-pair datasets from the log; write them with a manifest.

    ``snapshot`` (or the snapshot in ``release_dir``, else the active release's) supplies the
    source texts. ``since`` keeps only interactions logged (and curated answers changed) at or
    after it. ``exclude_user_ids`` leaves out those users' interactions and votes; customers
    erased with :func:`~assistant.privacy.erase_user` are always left out (their tombstones).
    ``config`` defaults to :meth:`DatasetConfig.from_settings`. Writes
    ``out_dir/<dataset_id>/`` (default ``<home>/datasets``) through a temporary folder renamed
    at the end, so a reader never sees half a dataset.
    """
    config = config or DatasetConfig.from_settings(settings)
    out_dir = Path(out_dir) if out_dir is not None else settings.home / "datasets"
    if since is not None and since.tzinfo is None:
        raise DatasetError("since must be timezone-aware (UTC)")
    with store.session() as session:  # erased customers stay out, whoever calls
        excluded = frozenset(u for u in exclude_user_ids if u) | erased_users_among(session)
    snapshot, release_id = _load_snapshot(settings, release_dir, snapshot)
    if snapshot is None:
        log.info("dataset build skipped: no active release to read source texts from")
        return DatasetBuild(None, None, skipped=True, reason="no active release (ingest documents first)")

    builder = _Builder(config, _Sources(snapshot), _read_log(store, since, excluded))
    reviewed_sft, reviewed_pairs = builder.reviewed(since, excluded)
    reviewed_ids = {i for row in reviewed_sft for i in row.provenance["interaction_ids"]}
    voted_sft, kto, voted_pairs = builder.voted(reviewed_ids)

    # De-duplicate first (reviewed rows win), so a duplicate never uses up a voter's budget.
    kept: dict[str, list[_Row]] = {"sft": _dedup(reviewed_sft, builder.drops["sft"])}
    voted_sft = _dedup(kept["sft"] + voted_sft, builder.drops["sft"])[len(kept["sft"]) :]
    kto = _dedup(kto, builder.drops["kto"])
    # Then the caps, in log order, SFT before KTO: a voter's budget goes to the earliest interactions.
    caps = _Caps(config)
    signal = sorted(
        voted_sft + kto, key=lambda r: (builder.order.get(r.interaction_id or "", -1), KINDS.index(r.kind))
    )
    admitted = {id(row) for row in signal if caps.admit(row, builder.drops[row.kind])}
    kept["sft"] += [r for r in voted_sft if id(r) in admitted]
    kept["kto"] = [r for r in kto if id(r) in admitted]
    admitted_sft = {r.interaction_id for r in kept["sft"] if r.columns["source"] == "outcome"}
    pairs = reviewed_pairs + [p for p in voted_pairs if p.interaction_id in admitted_sft]
    kept["pairs"] = _dedup(pairs, builder.drops["pairs"])
    builder.add_negatives(kept["pairs"])

    splits = {
        kind: {s: [r for r in rows if split_of(r.conversation_id, config.dev_share) == s] for s in SPLITS}
        for kind, rows in kept.items()
    }
    counts = {kind: {s: len(rows) for s, rows in by_split.items()} for kind, by_split in splits.items()}
    drops = {kind: dict(sorted(c.items())) for kind, c in builder.drops.items() if c}
    drops.setdefault("feedback", {})
    if builder.log.excluded_feedback:
        drops["feedback"]["excluded_user"] = builder.log.excluded_feedback
    if not drops["feedback"]:
        del drops["feedback"]

    sft_rows = len(kept["sft"])
    if sft_rows < config.min_sft_rows:
        reason = f"too little new data: {sft_rows} SFT rows, at least {config.min_sft_rows} needed"
        log.info("dataset build skipped: %s", reason)
        return DatasetBuild(None, None, skipped=True, reason=reason, counts=counts)

    features = _features()
    columns = {kind: list(features[kind]) for kind in KINDS}
    content = {
        kind: {s: [{c: r.columns[c] for c in columns[kind]} for r in rows] for s, rows in by_split.items()}
        for kind, by_split in splits.items()
    }
    excluded_hashes = sorted(hashlib.sha256(u.encode()).hexdigest() for u in excluded)
    digest = hashlib.sha256(
        json.dumps(
            {
                "format": FORMAT_VERSION,
                "config": config.to_dict(),
                "excluded": excluded_hashes,
                "rows": content,
            },
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        ).encode()
    ).hexdigest()[:12]

    existing = _existing(out_dir, digest)
    if existing is not None:
        manifest = json.loads((existing / MANIFEST_FILE).read_text())
        log.info("dataset %s already holds this content; reusing it", existing.name)
        return DatasetBuild(
            existing.name, existing, reused=True, counts=manifest["counts"], manifest=manifest
        )

    now = datetime.now(timezone.utc)
    dataset_id = f"{now.strftime('%Y%m%d-%H%M%S')}-{digest}"
    redactions: Counter[str] = Counter()
    fallbacks = 0
    for row in kept["sft"] + kept["kto"] + kept["pairs"]:
        redactions.update(row.redactions)
        fallbacks += row.fallbacks
    manifest = {
        "id": dataset_id,
        "format_version": FORMAT_VERSION,
        "created_at": now.isoformat(timespec="seconds"),
        "content_hash": digest,
        "release_id": release_id,
        "index": {"embedder": snapshot.info.embedder, "chunks": snapshot.info.chunks},
        "since": since.isoformat() if since else None,
        "excluded_users": {"count": len(excluded), "sha256": excluded_hashes},
        "config": config.to_dict(),
        "counts": counts,
        "drops": drops,
        "redactions": dict(sorted(redactions.items())),
        "source_fallbacks": fallbacks,
        "voter_weight_share": {
            "sft": _weight_shares(kept["sft"], "weight"),
            "kto": _weight_shares(kept["kto"], None),
            "pairs": _weight_shares(kept["pairs"], None),
        },
        "max_answer_weight_share": {
            "sft": max_answer_share(kept["sft"], "weight"),
            "kto": max_answer_share(kept["kto"], None),
        },
        "rows": {
            kind: {
                s: [
                    {
                        "source": r.columns["source"],
                        "interaction_id": r.columns["interaction_id"],
                        "conversation_id": r.columns["conversation_id"],
                        "curated_answer_id": r.columns["curated_answer_id"],
                        "feedback_ids": r.columns["feedback_ids"],
                        **r.provenance,
                        "voters": list(r.voters),
                    }
                    for r in rows
                ]
                for s, rows in by_split.items()
            }
            for kind, by_split in splits.items()
        },
    }
    _write(out_dir, dataset_id, content, features, manifest, config)
    path = out_dir / dataset_id
    log.info("dataset %s written: %s", dataset_id, counts)
    return DatasetBuild(dataset_id, path, counts=counts, manifest=manifest)


def _write(
    out_dir: Path,
    dataset_id: str,
    content: dict[str, dict[str, list[dict[str, Any]]]],
    features: dict[str, Any],
    manifest: dict[str, Any],
    config: DatasetConfig,
) -> None:
    from datasets import Dataset, DatasetDict

    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".building-{dataset_id}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        for kind, by_split in content.items():
            DatasetDict(
                {
                    split: Dataset.from_dict(
                        {column: [row[column] for row in rows] for column in features[kind]},
                        features=features[kind],
                    )
                    for split, rows in by_split.items()
                }
            ).save_to_disk(
                str(staging / kind), num_shards=dict.fromkeys(by_split, 1)
            )  # empty splits load too
        config.save(staging)
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, ensure_ascii=False, default=str))
        os.replace(staging, out_dir / dataset_id)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
