"""Map the answer's ``[n]`` markers back to the sources the prompt numbered: one rule, streamed or not.

:class:`CitationFilter` is the rule. It reads an answer in pieces as the model writes it and
lets through only markers that point at a real source, holding back a ``[`` until it knows
what follows; :func:`extract_citations` runs the same filter over a whole text. What a
customer saw streamed and what is logged are therefore the same text, whatever the pieces.

A marker is ``[2]``, ``[1, 3]`` or ``[1; 3]`` (``[1][3]`` is two); spaces or tabs before it
belong to it. A number outside ``1..sources`` is dropped from its marker, repeats are dropped,
and a marker with nothing valid left goes with the spaces before it. Where one went, the text
is tidied as a person would: at a line start the spaces after it go too; before a space,
punctuation or the end nothing is left; between two words a single space keeps them apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.types import Citation, Hit

_MARKER = re.compile(r"([ \t]*)\[(\s*\d+\s*(?:[,;]\s*\d+\s*)*)\]")
_MARKER_PREFIX = re.compile(r"[ \t]*\[[\s\d,;]*")  # what a marker can look like before its "]"
_SPACES = " \t"
_CLOSES_GAP = frozenset(" \t.,;:!?)\n")  # after a removed marker, these need no space before them
MAX_MARKER_CHARS = 40  # held text longer than this is not a marker (the stream must move on)


class CitationFilter:
    """A stream filter for one answer over ``sources`` numbered sources.

    Feed it the model's pieces (:meth:`feed`) and then :meth:`flush`; the concatenated output
    is the answer to show and log, and :meth:`citations` the sources it cites, in order of
    first mention.
    """

    def __init__(self, sources: int) -> None:
        self.sources = sources
        self.cited: list[int] = []
        self._held = ""  # spaces and a "[…" that may still become a marker
        self._gone = False  # a marker was removed and nothing has been written after it yet
        self._gone_at_line_start = False
        self._line_start = True  # nothing written yet, or the last character written was "\n"
        self._out: list[str] = []

    def feed(self, text: str) -> str:
        """The part of ``text`` (with what was held back) that is decided."""
        for char in text:
            self._take(char)
        return self._emitted()

    def flush(self) -> str:
        """The end of the answer: what was held is not a marker (a removed one leaves nothing)."""
        held, self._held = self._held, ""
        if held.strip(_SPACES):
            self._write(held[0])
            for char in held[1:]:
                self._take(char)
            return self._emitted() + self.flush()
        if held:
            self._write(held)  # trailing spaces: the text had them
        self._gone = False
        return self._emitted()

    def citations(self, hits: Sequence[Hit]) -> list[Citation]:
        """The cited sources (``hits[n - 1]`` for each ``n`` cited), in order of first mention."""
        return [Citation.of(number, hits[number - 1]) for number in self.cited]

    # -- the rule, one character at a time ------------------------------------------------------
    def _take(self, char: str) -> None:
        if not self._held:
            if char in _SPACES or char == "[":
                self._held = char
            else:
                self._write(char)
            return
        if "[" not in self._held:  # spaces so far
            if char in _SPACES or char == "[":
                self._held += char
            else:
                self._write(self._held)
                self._held = ""
                self._take(char)
            return
        candidate = self._held + char
        if char == "]":
            self._held = ""
            match = _MARKER.fullmatch(candidate)
            if match:
                self._resolve(match)
            else:
                self._not_a_marker(candidate)
        elif _MARKER_PREFIX.fullmatch(candidate) and len(candidate) <= MAX_MARKER_CHARS:
            self._held = candidate
        else:
            self._held = ""
            self._not_a_marker(candidate)

    def _not_a_marker(self, text: str) -> None:
        """``text`` started like a marker but is not one: its first character is plain text."""
        self._write(text[0])
        for char in text[1:]:
            self._take(char)

    def _resolve(self, marker: re.Match[str]) -> None:
        numbers = [int(n) for n in re.split(r"[,;]", marker.group(2))]
        valid = [n for n in dict.fromkeys(numbers) if 1 <= n <= self.sources]
        self.cited.extend(n for n in valid if n not in self.cited)
        if valid == numbers:
            self._write(marker.group(0))
        elif valid:
            self._write(f"{marker.group(1)}[{', '.join(map(str, valid))}]")
        elif not self._gone:
            self._gone, self._gone_at_line_start = True, self._line_start

    def _write(self, text: str) -> None:
        if self._gone:
            if self._gone_at_line_start:
                text = text.lstrip(_SPACES)
                if not text:
                    return  # still only spaces after it: they go too
            elif text[0] not in _CLOSES_GAP:
                text = " " + text
            self._gone = False
        self._out.append(text)
        self._line_start = text.endswith("\n")

    def _emitted(self) -> str:
        text = "".join(self._out)
        self._out.clear()
        return text


def extract_citations(answer: str, hits: Sequence[Hit]) -> tuple[str, list[Citation]]:
    """The answer without markers that point nowhere, and the cited sources in order of first mention.

    The same rule as streaming (:class:`CitationFilter`). An empty list means the answer cites
    nothing valid: the caller decides what to show instead.
    """
    citing = CitationFilter(len(hits))
    text = citing.feed(answer) + citing.flush()
    return text, citing.citations(hits)
