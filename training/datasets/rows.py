"""Building rows from the log: reviewed SFT rows, outcome-weighted SFT rows, KTO preferences, retriever pairs.

:class:`RowBuilder` turns a :class:`~training.datasets.log.ConversationLog` into :class:`Row`
objects of each kind in :data:`KINDS`, before the caps and the split
(:mod:`training.datasets.selection`). Each row's prompt is the serving prompt rebuilt from
redacted texts (:func:`~assistant.generation.prompts.build_messages`). The lead's verdict
overrules votes: rejected items never give a row, a corrected answer no 👍 row, an approved one
no 👎 row; conflicting votes on one answer give none. Every row it does not make is counted in
``drops`` by kind and reason. :meth:`RowBuilder.add_negatives` gives retriever pairs their
hard negatives.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from assistant.generation.prompts import serving_messages
from assistant.retrieval.embedder import Embedder
from assistant.store.models import InteractionRow
from assistant.types import Chunk, Hit, Turn
from training.config import DatasetConfig
from training.datasets.log import ConversationLog
from training.datasets.sources import Redactor, Sources

KINDS = ("sft", "kto", "pairs")
_OVERRULED_UP = ("corrected", "gap")  # a lead said the answer was wrong or not covered
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and are can do does for from how i in is it me my of on or the to what when where which why "
        "with you your",
    )
)


@dataclass
class Row:
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


@dataclass(frozen=True)
class ServingPrompts:
    """How serving shows sources to the generator: the best ``sources`` hits, each as its
    ``sentences`` sentences closest to the question under ``embedder``."""

    embedder: Embedder
    sources: int
    sentences: int


class RowBuilder:
    """Rows of every kind from one log, texts redacted; ``drops`` counts rows not made, by kind and reason.

    ``order`` is each interaction's place in the log: the caps admit rows in that order.
    """

    def __init__(
        self, config: DatasetConfig, sources: Sources, log_: ConversationLog, prompts: ServingPrompts
    ) -> None:
        self.config = config
        self.prompts = prompts
        self.sources = sources
        self.log = log_
        self.redact = Redactor(config.pii_regions)
        self.drops: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
        self.order = {row.id: n for n, row in enumerate(log_.interactions)}  # log order, for the caps

    # -- prompts --
    def prompt(
        self,
        row: Row,
        question: str,
        history: Iterable[dict[str, Any]],
        hits: Iterable[dict[str, Any]],
        extra_doc_ids: Sequence[str] = (),
    ) -> list[dict[str, str]] | None:
        """The serving prompt rebuilt with redacted texts; None when a source is gone."""
        found: list[Hit] = []
        for hit in list(hits)[: self.prompts.sources]:
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
        return serving_messages(
            self.redact(question, row.redactions),
            found,
            turns,
            self.prompts.embedder,
            sentences=self.prompts.sentences,
        )

    def _clean(self, chunk: Chunk, row: Row) -> Chunk:
        return Chunk(
            chunk.chunk_id,
            chunk.doc_id,
            self.redact(chunk.title, row.redactions),
            chunk.source,
            self.redact(chunk.text, row.redactions),
        )

    def _text(self, chunk: Chunk, row: Row) -> str:
        return self.redact(chunk.text, row.redactions)

    # -- reviewed rows (lead-verified) --
    def reviewed(self, since: datetime | None, excluded: frozenset[str]) -> tuple[list[Row], list[Row]]:
        """SFT rows and retriever pairs from reviewed answers changed at or after ``since``.

        An answer reviewed on an interaction of an ``excluded`` user gives no row.
        """
        sft: list[Row] = []
        pairs: list[Row] = []
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
            row = Row("sft", dict(base), (), provenance=meta, interaction_id=base["interaction_id"])
            messages = self.prompt(
                row, example["question"], example["history"], example["sources"], example["doc_ids"]
            )
            if messages is None:
                self.drops["sft"]["source_missing"] += 1
                continue
            answer = self.redact(example["answer"], row.redactions)
            row.columns.update(
                prompt=messages,
                completion=[{"role": "assistant", "content": answer}],
                weight=self.config.reviewed_weight,
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
    ) -> Row | None:
        """Question → the chunk of the first picked document (the retrieved one if shown, else its first)."""
        if not doc_ids:
            self.drops["pairs"]["no_document"] += 1
            return None
        row = Row(
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
    def voted(self, reviewed_ids: set[str]) -> tuple[list[Row], list[Row], list[Row]]:
        """Outcome-weighted SFT rows, KTO preferences and retriever pairs from the votes.

        Interactions in ``reviewed_ids`` give no outcome row: their reviewed row stands for them.
        """
        sft: list[Row] = []
        kto: list[Row] = []
        pairs: list[Row] = []
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
    ) -> Row | None:
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
        row = Row(
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
    ) -> Row | None:
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
        events = sorted(e for v in voters if (e := votes[v].rating_event) is not None)
        row = Row(
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
    def add_negatives(self, pairs: list[Row]) -> None:
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
