"""Question → answer: the one path every channel (API, CLI, widget, Slack) uses.

:class:`Assistant` serves the active release: it retrieves, abstains when retrieval is not
confident, otherwise streams a grounded answer with numbered citations, and logs the
interaction with the release that answered it. What answers (the release, its models, the
hot-swap) is :mod:`assistant.serving`'s job; :meth:`Assistant.refresh` asks it to swap.

Over 400 lines: the one answering path, with its logging; what each step does lives elsewhere
(retrieval/, generation/, review/), and what remains is their order.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from assistant.config import Settings
from assistant.generation.answer_check import AnswerCheck
from assistant.generation.base import Generator, load_generator
from assistant.generation.citations import CitationFilter
from assistant.generation.extractive import extractive_answer
from assistant.generation.guard import OutputGuard
from assistant.generation.prompts import rewrite_query, serving_messages
from assistant.generation.streaming import FilterChain
from assistant.ingest.runner import IngestReport, Progress, ingest_paths
from assistant.releases import ReleaseManifest, ReleaseRegistry
from assistant.retrieval.abstention import abstains
from assistant.retrieval.embedder import Embedder
from assistant.retrieval.retriever import SearchResult
from assistant.review.curated import CuratedMatch, CuratedMatcher, record_serving
from assistant.review.flags import flag_interaction
from assistant.review.gaps import clear_gaps
from assistant.serving import LiveServing, Serving
from assistant.store import ConversationRow, Store, repository
from assistant.types import Answer, Citation, Hit, Turn, Usage

ABSTAIN_MESSAGE = (
    "I couldn't find this in our help articles, so I'd rather not guess. "
    "A member of our support team can help: ask for a human and they will pick it up."
)
Channel = Literal["api", "web", "slack", "cli"]
CURATED_TITLE = "Verified answer"
log = logging.getLogger(__name__)


class ConversationNotOpen(LookupError):
    """A named conversation belongs to another user or channel: it cannot be continued."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(
            f"no conversation {conversation_id!r} for this user and channel: continue it with "
            "the user (and channel) it started with"
        )
        self.conversation_id = conversation_id


@dataclass(frozen=True)
class Delta:
    """A piece of answer text, streamed as it is generated."""

    text: str


@dataclass(frozen=True)
class Done:
    """The end of a streamed answer, with the logged result."""

    answer: Answer


@dataclass
class Draft:
    """An answer as it is being made: filled in by answering, then logged (or evaluated)."""

    started: float
    result: SearchResult = field(default_factory=lambda: SearchResult([], 0.0))
    curated: CuratedMatch | None = None
    abstained: bool = False
    guarded: bool = False  # the output guard withheld the answer or removed links from it
    fallback: str | None = None  # why the model's answer was replaced by an extractive one
    prompt: str | None = None
    text: str = ""
    citations: list[Citation] = field(default_factory=list)
    latency: dict[str, float] = field(default_factory=dict)
    usage: Usage = field(default_factory=lambda: Usage(0, 0))  # nothing generated, nothing used
    finish_reason: Literal["stop", "length"] = "stop"


class Assistant:
    """Answers questions from the active release and logs every interaction."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: ReleaseRegistry,
        *,
        embedder: Embedder | None = None,
        generator_factory: Callable[[Settings], Generator] = load_generator,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.embedder = embedder or Embedder(settings.embedder)
        self.live = LiveServing(settings, registry, self.embedder, generator_factory)
        self.curated = CuratedMatcher(store, self.embedder)

    # -- serving state (assistant/serving.py) --------------------------------------------------
    @property
    def serving(self) -> Serving:
        """What answers now, loading the active release (and its generator) on first use."""
        return self.live.current(with_generator=True)

    def refresh(self, *, with_generator: bool = True) -> bool:
        """Load the active release if it is not the one serving; True when it swapped."""
        return self.live.refresh(with_generator=with_generator)

    def serving_for(self, release: ReleaseManifest | None) -> Serving:
        """The serving state of ``release``: the active one, or another loaded beside it (evaluation)."""
        return self.live.serving_for(release)

    def embedder_for(self, release: ReleaseManifest | None) -> Embedder:
        """The embedder a release was indexed with: the configured one, or its own tuned copy."""
        return self.live.embedder_for(release)

    @property
    def loaded(self) -> Serving | None:
        """The serving state if models are loaded, without loading them."""
        return self.live.loaded

    @property
    def ready(self) -> bool:
        return self.live.ready

    def ingest(self, paths: Sequence[Path], progress: Progress | None = None) -> IngestReport:
        """Ingest files or folders into a new active release and serve it from this process."""
        report = ingest_paths(
            paths,
            settings=self.settings,
            store=self.store,
            registry=self.registry,
            embedder=self.embedder_for(self.registry.current()),
            progress=progress,
        )
        # keep a loaded generator loaded; a CLI ingest never needs one
        loaded = self.live.loaded
        self.refresh(with_generator=loaded is not None and loaded.generator is not None)
        if report.release:
            clear_gaps(self.store, self.live.current(with_generator=False).retriever, self.settings)
        return report

    # -- answering -----------------------------------------------------------------------------
    def search(self, query: str, k: int | None = None) -> SearchResult:
        return self.live.current(with_generator=False).retriever.search(query, k or self.settings.top_k)

    def ask(self, question: str, **kwargs) -> Answer:
        """Answer one question (no streaming); see :meth:`ask_stream` for the arguments."""
        for event in self.ask_stream(question, **kwargs):
            if isinstance(event, Done):
                return event.answer
        raise RuntimeError("answer stream ended without a result")  # pragma: no cover

    def ask_stream(
        self,
        question: str,
        *,
        history: Sequence[Turn] | None = None,
        conversation_id: str | None = None,
        channel: Channel = "api",
        user_id: str | None = None,
    ) -> Iterator[Delta | Done]:
        """Stream the answer to ``question``: :class:`Delta` pieces, then one :class:`Done`.

        ``history`` holds earlier turns sent by the client; without it, the stored turns of
        ``conversation_id`` are used. Raises :class:`ConversationNotOpen` at the call, before
        anything streams, when ``conversation_id`` is another user's (or another channel's).
        """
        started = time.perf_counter()
        repository.check_conversation_key(conversation_id, channel)
        if conversation_id is not None:  # before the models load: a refusal is at once
            with self.store.session() as session:
                row = session.get(ConversationRow, conversation_id)
                if row is not None and not repository.may_join(row, channel=channel, user_id=user_id):
                    raise ConversationNotOpen(conversation_id)
                if history is None and row is not None:
                    # only turns of a conversation seen to be this user's: one another user
                    # creates under a new id meanwhile must not become this answer's context
                    history = repository.conversation_turns(
                        session, conversation_id, self.settings.history_turns
                    )
        history = list(history or [])[-2 * self.settings.history_turns :]
        serving = self.serving
        # A new conversation is written with its first interaction (_log): nothing is written
        # before the first token, and the answer costs one transaction, not two.
        conversation_id = conversation_id or str(uuid.uuid4())
        return self._stream(question, history, conversation_id, channel, user_id, serving, Draft(started))

    def _stream(
        self,
        question: str,
        history: list[Turn],
        conversation_id: str,
        channel: Channel,
        user_id: str | None,
        serving: Serving,
        draft: Draft,
    ) -> Iterator[Delta | Done]:
        try:
            yield from self._answer(serving, question, history, draft, use_curated=True)
        finally:
            draft.latency["total"] = _ms_since(draft.started)
            answer = self._log(
                question=question,
                history=history,
                conversation_id=conversation_id,
                channel=channel,
                user_id=user_id,
                serving=serving,
                draft=draft,
            )
        yield Done(answer)

    def answer_unlogged(
        self, question: str, *, release: ReleaseManifest | None, history: Sequence[Turn] = ()
    ) -> Draft:
        """What ``release``'s index and model answer, without curated answers and without logging.

        For evaluation (the release gate): nothing reaches the conversation log or the flags.
        """
        serving = self.serving_for(release)
        draft = Draft(time.perf_counter())
        for _ in self._answer(serving, question, list(history), draft, use_curated=False):
            pass
        draft.latency["total"] = _ms_since(draft.started)
        return draft

    def _answer(
        self, serving: Serving, question: str, history: list[Turn], draft: Draft, *, use_curated: bool
    ) -> Iterator[Delta]:
        """Retrieve, then answer (curated, abstention or generated), streaming into ``draft``."""
        query = rewrite_query(question, history)
        # curated answers are matched with the configured embedder, whatever the release indexes with
        vector = (
            self.embedder.encode_query(query) if use_curated or serving.embedder is self.embedder else None
        )
        curated = (
            self.curated.match(vector, self.settings.curated_min_similarity)
            if use_curated and vector is not None
            else None
        )
        same_embedder = serving.embedder is self.embedder  # then one embedding serves both
        if curated is not None:
            result = SearchResult([], curated.similarity)
        else:
            result = serving.retriever.search(
                query, self.settings.top_k, vector=vector if same_embedder else None
            )
        draft.result, draft.curated = result, curated
        draft.latency["retrieve"] = _ms_since(draft.started)
        draft.abstained = curated is None and abstains(result, self.settings.min_confidence)
        if curated is not None:
            draft.text = curated.answer
            draft.citations = _curated_citations(curated, serving)
            yield Delta(draft.text)
            return
        if draft.abstained:
            draft.text = ABSTAIN_MESSAGE
            yield Delta(draft.text)
            return
        hits = result.hits[: self.settings.prompt_sources]
        about = vector if same_embedder and vector is not None else query  # in the release's space
        messages = serving_messages(
            question, hits, history, serving.embedder, sentences=self.settings.prompt_sentences, about=about
        )
        draft.prompt = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)
        draft.latency["prompt"] = _ms_since(draft.started)
        assert serving.generator is not None
        yield from self._generate(serving.generator, question, messages, hits, draft)
        if draft.fallback:  # nothing of the model's answer passed the answer check
            text, draft.citations = extractive_answer(about, hits, serving.embedder)
            yield self._shown(draft, text)

    def _generate(
        self,
        generator: Generator,
        question: str,
        messages: list[dict[str, str]],
        hits: Sequence[Hit],
        draft: Draft,
    ) -> Iterator[Delta]:
        """Stream the model's answer through the citation rule, the answer check and the output
        guard into ``draft``.

        ``draft.text`` is exactly what was streamed (a cut-off stream logs that much). Generation
        stops when the answer starts to loop; when nothing passed the check, ``draft.fallback``
        says why; an answer the guard withholds becomes the hand-off message.
        """
        guarded = answer_guard(messages, hits, self.settings).stream()
        citing = CitationFilter(len(hits))
        check = AnswerCheck.over(hits, question) if self.settings.answer_check else None
        filters = FilterChain(citing, check, guarded) if check else FilterChain(citing, guarded)
        draft.usage = Usage()  # unknown until the generator says
        pieces = generator.stream(messages, max_new_tokens=self.settings.max_new_tokens, usage=draft.usage)
        for piece in pieces:
            visible = filters.feed(piece)
            if visible:
                yield self._shown(draft, visible)
            if check and check.stop:  # a loop, or no sentence passes: nothing more worth generating
                close = getattr(pieces, "close", None)
                if close is not None:
                    close()
                break
        tail = filters.flush()
        if tail:
            yield self._shown(draft, tail)
        if guarded.leaked:  # the customer gets the hand-off, a lead the flag
            log.warning("output guard withheld an answer that quoted the system prompt")
            streamed = bool(draft.text)
            draft.text, draft.abstained, draft.guarded = ABSTAIN_MESSAGE, True, True
            yield Delta(f"\n\n{ABSTAIN_MESSAGE}" if streamed else ABSTAIN_MESSAGE)
            return
        draft.guarded = guarded.links_removed > 0
        draft.fallback = check.failure if check else None
        draft.citations = citing.citations(hits) or [Citation.of(1, hits[0])]
        stopped = check is not None and check.stop
        if not stopped and (draft.usage.completion_tokens or 0) >= self.settings.max_new_tokens:
            draft.finish_reason = "length"

    @staticmethod
    def _shown(draft: Draft, text: str) -> Delta:
        """``text`` added to what the customer sees; the first of it marks ``first_token`` (the
        answer check holds a sentence back until it ends, so this is when reading can start)."""
        draft.latency.setdefault("first_token", _ms_since(draft.started))
        draft.text += text
        return Delta(text)

    def _log(
        self,
        *,
        question: str,
        history: Sequence[Turn],
        conversation_id: str,
        channel: str,
        user_id: str | None,
        serving: Serving,
        draft: Draft,
    ) -> Answer:
        result, text, citations, abstained = (
            draft.result,
            draft.text.strip(),
            draft.citations,
            draft.abstained,
        )
        curated_answer_id = draft.curated.id if draft.curated else None
        latency, prompt = draft.latency, draft.prompt
        interaction_id = str(uuid.uuid4())
        generator = None if curated_answer_id else serving.generator
        generated = not abstained or draft.guarded  # a withheld answer was still generated
        with self.store.session() as session:
            conversation = repository.get_or_create_conversation(
                session, conversation_id=conversation_id, channel=channel, user_id=user_id
            )
            if not repository.may_join(conversation, channel=channel, user_id=user_id):
                # another user started a conversation with this (client-chosen) id meanwhile
                conversation = repository.get_or_create_conversation(
                    session, conversation_id=None, channel=channel, user_id=user_id
                )
            conversation_id = conversation.id
            repository.record_interaction(
                session,
                interaction_id=interaction_id,
                conversation_id=conversation_id,
                channel=channel,
                user_id=user_id,
                question=question,
                history=history,
                hits=result.hits,
                prompt=prompt,
                answer=text,
                citations=citations,
                abstained=abstained,
                confidence=result.confidence,
                release_id=serving.release_id,
                model_id=generator.model_id if generator and generated else "",
                adapter_id=generator.adapter_id if generator and generated else None,
                index_id=serving.release_id,
                curated_answer_id=curated_answer_id,
                latency_ms=latency,
            )
            if curated_answer_id:
                record_serving(session, curated_answer_id)
        needs_review = abstained or draft.guarded or draft.fallback
        if needs_review or result.confidence < self.settings.flag_below_confidence:
            try:
                with self.store.session() as session:
                    flag_interaction(
                        session,
                        interaction_id,
                        self.settings,
                        self.embedder,
                        guarded=draft.guarded,
                        fallback=draft.fallback,
                    )
            except Exception:  # flagging must never cost the customer their answer
                log.exception("could not flag interaction %s", interaction_id)
        return Answer(
            interaction_id=interaction_id,
            answer=text,
            citations=tuple(citations),
            abstained=abstained,
            release=serving.release_id,
            confidence=result.confidence,
            conversation_id=conversation_id,
            latency_ms=latency,
            curated_answer_id=curated_answer_id,
            usage=draft.usage,
            finish_reason=draft.finish_reason,
        )


def answer_guard(messages: Sequence[dict[str, str]], hits: Sequence[Hit], settings: Settings) -> OutputGuard:
    """The guard for one generated answer: links to the sources' hosts and the configured ones only,
    and no quoting of the system prompt it was generated with."""
    hosts = {urlsplit(hit.chunk.source).hostname or "" for hit in hits if "://" in hit.chunk.source}
    system = "\n".join(m["content"] for m in messages if m["role"] == "system")
    return OutputGuard(hosts | settings.link_hosts, system)


def _curated_citations(curated: CuratedMatch, serving: Serving) -> list[Citation]:
    """The curated answer's documents as citations, or the curated answer itself when none exist."""
    documents = serving.retriever.snapshot.documents
    found = [documents[doc_id] for doc_id in curated.doc_ids if doc_id in documents]
    if not found:
        return [
            Citation(
                1, f"curated:{curated.id}", "", CURATED_TITLE, f"curated:{curated.id}", curated.similarity
            )
        ]
    return [
        Citation(number, doc.doc_id, "", doc.title, doc.source, curated.similarity)
        for number, doc in enumerate(found, start=1)
    ]


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 1)
