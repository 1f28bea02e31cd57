"""Split documents into retrievable chunks that follow headings and paragraphs.

Sizes are counted in approximate tokens (words x 1.3), close enough to the embedder's
word-piece count to keep chunks under its 256-token window. Every chunk starts with the
document title and its section heading, so a chunk read alone still says what it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.ingest.loaders import HEADING_PATTERN
from assistant.types import Chunk, Document

TOKENS_PER_WORD = 1.3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: list[str]


def _tokens(words: int) -> int:
    return int(words * TOKENS_PER_WORD + 0.5)


def approx_tokens(text: str) -> int:
    return _tokens(len(text.split()))


def split_sections(markdown: str) -> list[Section]:
    """Group paragraphs under the nearest heading above them (code fences kept whole)."""
    sections: list[Section] = [Section("", [])]
    paragraph: list[str] = []
    in_fence = False

    def flush() -> None:
        if paragraph and "".join(paragraph).strip():
            sections[-1].paragraphs.append("\n".join(paragraph).strip())
        paragraph.clear()

    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            paragraph.append(line)
            continue
        heading = None if in_fence else HEADING_PATTERN.match(line)
        if heading:
            flush()
            sections.append(Section(heading.group(1), []))
        elif not in_fence and not line.strip():
            flush()
        else:
            paragraph.append(line)
    flush()
    return [s for s in sections if s.paragraphs]


def _pieces(paragraph: str, limit: int) -> list[str]:
    """A paragraph as pieces no longer than ``limit`` tokens: sentences, then word windows."""
    if approx_tokens(paragraph) <= limit:
        return [paragraph]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        if approx_tokens(sentence) <= limit:
            pieces.append(sentence)
            continue
        words = sentence.split()
        step = max(1, int(limit / TOKENS_PER_WORD))
        pieces.extend(" ".join(words[i : i + step]) for i in range(0, len(words), step))
    return pieces


def _pack(pieces: list[str], limit: int, overlap: int, joiner: str) -> list[str]:
    """Greedily pack pieces into windows of ``limit`` tokens, repeating ~``overlap`` tokens.

    Sizes are counted on the window's words together: rounding each piece apart undercounts.
    """
    windows: list[str] = []
    current: list[str] = []
    words = 0
    for piece in pieces:
        count = len(piece.split())
        if current and _tokens(words + count) > limit:
            windows.append(joiner.join(current))
            carried: list[str] = []
            carried_words = 0
            for previous in reversed(current):
                more = carried_words + len(previous.split())
                if _tokens(more) > overlap or _tokens(more + count) > limit:
                    break  # the overlap must leave room for the next piece
                carried.insert(0, previous)
                carried_words = more
            current, words = carried, carried_words
        current.append(piece)
        words += count
    if current:
        windows.append(joiner.join(current))
    return windows


def chunk_document(document: Document, chunk_tokens: int = 220, overlap: int = 30) -> list[Chunk]:
    """Chunks of one document, with ids ``<doc_id>#<n>`` that are stable for the same text."""
    chunks: list[Chunk] = []
    for section in split_sections(document.text) or [Section("", [document.text])]:
        heading = section.heading if section.heading and section.heading != document.title else ""
        prefix = f"{document.title} — {heading}" if heading else document.title
        budget = max(16, chunk_tokens - approx_tokens(prefix))
        pieces = [p for paragraph in section.paragraphs for p in _pieces(paragraph, budget)]
        for body in _pack(pieces, budget, overlap, "\n\n"):
            chunks.append(
                Chunk(
                    chunk_id=f"{document.doc_id}#{len(chunks)}",
                    doc_id=document.doc_id,
                    title=document.title,
                    source=document.source,
                    text=f"{prefix}\n\n{body}",
                )
            )
    return chunks
