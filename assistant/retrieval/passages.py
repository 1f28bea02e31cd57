"""The sentences of a source that answer a question: what the model is given, and the extractive fallback.

A chunk is a few hundred words; the sentence that answers is often not in its first lines, and a
135M model copies what it sees first. :func:`best_sentences` ranks a chunk's sentences by cosine
with the question under the release's embedder and keeps the best few in their original order,
so they still read as a passage. :func:`split_sentences` is the one sentence rule, shared with
the answer check (:mod:`assistant.generation.answer_check`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from assistant.retrieval.embedder import Embedder

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


def best_sentences(
    question: str | np.ndarray, texts: Sequence[str], embedder: Embedder, *, keep: int
) -> list[list[str]]:
    """For each of ``texts``, its ``keep`` sentences closest to ``question``, in their own order.

    ``question`` may be its embedding already (the pipeline has it). Sentences of all texts
    are embedded in one batch.
    """
    split = [split_sentences(text) for text in texts]
    flat = [sentence for sentences in split for sentence in sentences]
    if not flat:
        return [[] for _ in texts]
    vector = embedder.encode_query(question) if isinstance(question, str) else question
    scores = embedder.encode(flat) @ np.asarray(vector, dtype=np.float32)
    chosen, start = [], 0
    for sentences in split:
        mine = scores[start : start + len(sentences)]
        best = sorted(np.argsort(-mine, kind="stable")[:keep].tolist())
        chosen.append([sentences[i] for i in best])
        start += len(sentences)
    return chosen
