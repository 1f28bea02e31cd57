"""Small immutable records shared by every part of the assistant."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Document:
    """One source document as loaded from disk, before chunking."""

    doc_id: str
    title: str
    source: str  # a URL from front matter, else the file path
    text: str
    content_hash: str


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document; ``chunk_id`` is stable across re-ingests."""

    chunk_id: str
    doc_id: str
    title: str
    source: str
    text: str


@dataclass(frozen=True)
class Hit:
    """A chunk found for a query, with its fused score in [0, 1]."""

    chunk: Chunk
    score: float

    def to_dict(self) -> dict:
        return {
            "doc_id": self.chunk.doc_id,
            "chunk_id": self.chunk.chunk_id,
            "title": self.chunk.title,
            "source": self.chunk.source,
            "score": round(self.score, 4),
            "text": self.chunk.text,
        }


@dataclass(frozen=True)
class Citation:
    """A source the answer relies on; ``number`` is its [n] in the prompt."""

    number: int
    doc_id: str
    chunk_id: str
    title: str
    source: str
    score: float

    @classmethod
    def of(cls, number: int, hit: Hit) -> Citation:
        """Source ``number`` of a prompt, which was ``hit``."""
        chunk = hit.chunk
        return cls(number, chunk.doc_id, chunk.chunk_id, chunk.title, chunk.source, hit.score)

    def to_dict(self) -> dict:
        data = asdict(self)
        del data["number"]
        data["score"] = round(self.score, 4)
        return data


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: Role
    content: str


@dataclass
class Usage:
    """The tokens one answer read (prompt) and wrote; ``None`` where the backend did not say."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def to_dict(self) -> dict[str, int] | None:
        """OpenAI's ``usage`` object, or None when the counts are not known."""
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


@dataclass(frozen=True)
class Answer:
    """The outcome of one question, as returned to every channel."""

    interaction_id: str
    answer: str
    citations: tuple[Citation, ...]
    abstained: bool
    release: str
    confidence: float
    curated_answer_id: str | None = None
    conversation_id: str | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    usage: Usage = field(default_factory=lambda: Usage(0, 0))  # nothing generated, nothing used
    finish_reason: Literal["stop", "length"] = "stop"  # length: cut off at the token limit

    def to_dict(self) -> dict:
        return {
            "interaction_id": self.interaction_id,
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
            "release": self.release,
            "curated_answer_id": self.curated_answer_id,
            "conversation_id": self.conversation_id,
            "usage": self.usage.to_dict(),
            "finish_reason": self.finish_reason,
        }
