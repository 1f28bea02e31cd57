"""Map the answer's ``[n]`` markers back to the sources the prompt numbered."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.types import Citation, Hit

_MARKER = re.compile(r"([ \t]*)\[(\s*\d+\s*(?:,\s*\d+\s*)*)\]")
_GONE = "\x00"  # where a marker pointing nowhere was removed; resolved by the tidy-up below
_TIDY = (
    (re.compile(f"{_GONE}+"), _GONE),
    (re.compile(f"(^|\n){_GONE}[ \t]*"), r"\1"),  # at a line start: drop it and the space after it
    (re.compile(f"{_GONE}(?=[ \t.,;:!?)\n]|$)"), ""),  # before space or punctuation: just drop it
    (re.compile(_GONE), " "),  # between two words: keep them apart
)


def extract_citations(answer: str, hits: Sequence[Hit]) -> tuple[str, list[Citation]]:
    """The answer without markers that point nowhere, and the cited sources in order of first mention.

    ``[2]``, ``[1, 3]`` and ``[1][3]`` are understood; a number outside ``1..len(hits)`` is
    dropped from its marker (the marker goes if nothing valid is left). An empty list means
    the answer cites nothing valid: the caller decides what to show instead.
    """
    cited: list[int] = []

    def keep_valid(match: re.Match[str]) -> str:
        numbers = [int(n) for n in match.group(2).split(",")]
        valid = [n for n in dict.fromkeys(numbers) if 1 <= n <= len(hits)]
        cited.extend(n for n in valid if n not in cited)
        if valid == numbers:
            return match.group(0)
        if valid:
            return f"{match.group(1)}[{', '.join(map(str, valid))}]"
        return _GONE

    text = _MARKER.sub(keep_valid, answer.replace(_GONE, ""))
    for pattern, replacement in _TIDY:
        text = pattern.sub(replacement, text)
    return text, [_citation(n, hits[n - 1]) for n in cited]


def _citation(number: int, hit: Hit) -> Citation:
    chunk = hit.chunk
    return Citation(number, chunk.doc_id, chunk.chunk_id, chunk.title, chunk.source, hit.score)
