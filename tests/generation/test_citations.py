"""extract_citations: which markers survive, which sources are cited, and how the text is tidied."""

from __future__ import annotations

import pytest

from assistant.generation.citations import extract_citations
from assistant.types import Chunk, Hit

HITS = [
    Hit(Chunk(f"c{n}", f"doc{n}", f"Title {n}", f"kb/doc{n}.md", f"text {n}"), 1 - n / 10) for n in (1, 2, 3)
]


@pytest.mark.parametrize(
    ("answer", "text", "numbers"),
    [
        ("Click 'Cancel Order' [1].", "Click 'Cancel Order' [1].", [1]),
        ("Refunds take 5 days [2]. Cancel first [1].", "Refunds take 5 days [2]. Cancel first [1].", [2, 1]),
        ("Both apply [1, 3].", "Both apply [1, 3].", [1, 3]),
        ("Both apply [1,3].", "Both apply [1,3].", [1, 3]),
        ("Both apply [1][3].", "Both apply [1][3].", [1, 3]),
        ("Again [2] and again [2], then [1].", "Again [2] and again [2], then [1].", [2, 1]),
        ("Out of range [7].", "Out of range.", []),
        ("Zero is no source [0].", "Zero is no source.", []),
        ("Mixed [1, 9].", "Mixed [1].", [1]),
        ("Repeated [2, 2].", "Repeated [2].", [2]),
        ("Gone [8] and kept [3].", "Gone and kept [3].", [3]),
        ("Word[9]joined", "Word joined", []),
        ("[5] Starts with a bad marker.", "Starts with a bad marker.", []),
        ("Line one [6]\n[4] line two", "Line one\nline two", []),
        ("Adjacent bad [8][9], good [1][8].", "Adjacent bad, good [1].", [1]),
        ("No markers at all.", "No markers at all.", []),
        ("A list [a] or [1-2] is not a marker.", "A list [a] or [1-2] is not a marker.", []),
    ],
)
def test_markers(answer: str, text: str, numbers: list[int]) -> None:
    cleaned, citations = extract_citations(answer, HITS)
    assert cleaned == text
    assert [c.number for c in citations] == numbers


def test_citation_carries_the_hit() -> None:
    _, [citation] = extract_citations("See [2].", HITS)
    assert (citation.doc_id, citation.chunk_id, citation.title, citation.source) == (
        "doc2",
        "c2",
        "Title 2",
        "kb/doc2.md",
    )
    assert citation.score == pytest.approx(0.8)


def test_no_hits_means_every_marker_goes() -> None:
    assert extract_citations("Nothing to cite [1].", []) == ("Nothing to cite.", [])
