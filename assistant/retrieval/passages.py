"""The sentences of a source that answer a question: what the model is given, and the extractive fallback.

A chunk is a few hundred words; the sentence that answers is often not in its first lines, and a
135M model copies what it sees first. :func:`best_sentences` ranks a chunk's sentences by cosine
with the question under the release's embedder and keeps the best few in their original order,
so they still read as a passage. :func:`split_sentences` is the one sentence rule, shared with
the answer check (:mod:`assistant.generation.answer_check`).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from assistant.retrieval.embedder import Embedder
from assistant.types import Chunk

# a sentence ends at . ! ? followed by white space, or at a line break; list items and headings
# are sentences of their own, and a bare list number ("1.") joins the sentence after it
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_LIST_NUMBER = re.compile(r"\d{1,3}[.)]")
_MARKDOWN = re.compile(r"^\s*(?:#+|[-*+]|>)\s*")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped of Markdown heading and bullet marks, in order."""
    sentences: list[str] = []
    number = ""
    for part in SENTENCE_END.split(text):
        sentence = _MARKDOWN.sub("", part).strip()
        if _LIST_NUMBER.fullmatch(sentence):
            number = sentence + " "
        elif sentence:
            sentences.append(number + sentence)
            number = ""
    return sentences


def chunk_body(chunk: Chunk) -> str:
    """A chunk's text without the "Title — Section" line chunking puts first (the title is shown
    beside it anyway, and a heading is no answer)."""
    head, _, body = chunk.text.partition("\n\n")
    return body if body and head.startswith(chunk.title) else chunk.text


def best_sentences(
    question: str | np.ndarray, texts: Sequence[str], embedder: Embedder, *, keep: int
) -> list[list[str]]:
    """For each of ``texts``, its ``keep`` sentences closest to ``question``, in their own order.

    ``question`` may be its embedding already (the pipeline has it). A text's sentences are
    embedded once per embedder and kept (:data:`CACHED_TEXTS` of them): sources repeat from
    question to question, and embedding three of them cost ~90 ms a question on 2 cores.
    """
    vector = np.asarray(
        embedder.encode_query(question) if isinstance(question, str) else question, dtype=np.float32
    )
    chosen: list[list[str]] = []
    for text in texts:
        sentences, vectors = _sentence_vectors(embedder, text)
        if not sentences:
            chosen.append([])
            continue
        best = sorted(np.argsort(-(vectors @ vector), kind="stable")[:keep].tolist())
        chosen.append([sentences[i] for i in best])
    return chosen


CACHED_TEXTS = 4096
_cache: OrderedDict[tuple[str, str], tuple[list[str], np.ndarray]] = OrderedDict()
_cache_lock = threading.Lock()


def _sentence_vectors(embedder: Embedder, text: str) -> tuple[list[str], np.ndarray]:
    """The sentences of ``text`` and their embeddings under ``embedder`` (kept, least recent out)."""
    key = (embedder.model_id, text)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    sentences = split_sentences(text)
    vectors = embedder.encode(sentences) if sentences else np.zeros((0, 0), dtype=np.float32)
    with _cache_lock:
        _cache[key] = (sentences, vectors)
        if len(_cache) > CACHED_TEXTS:
            _cache.popitem(last=False)
    return sentences, vectors
