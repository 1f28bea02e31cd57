"""Chunking: every chunk within its token budget, the document's words kept in order, stable ids."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from assistant.ingest.chunking import approx_tokens, chunk_document
from assistant.types import Document

word = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=10) | st.sampled_from(
    ["end.", "why?", "stop!", "x", "a"]
)
paragraph = st.lists(word, min_size=1, max_size=120).map(" ".join)
section = st.tuples(
    st.text(st.characters(categories=["L"]), min_size=1, max_size=15), st.lists(paragraph, max_size=4)
)
sizes = st.tuples(st.integers(16, 300), st.integers(0, 60))


def markdown(sections: list[tuple[str, list[str]]]) -> str:
    return "\n\n".join(f"## {heading}\n\n" + "\n\n".join(paragraphs) for heading, paragraphs in sections)


def bodies(document: Document, chunks_tokens: int, overlap: int) -> list[tuple[str, str]]:
    """(prefix, body) of each chunk; every chunk starts with its title line(s)."""
    out = []
    for chunk in chunk_document(document, chunks_tokens, overlap):
        prefix, sep, body = chunk.text.partition("\n\n")
        assert sep and prefix.startswith(document.title)
        out.append((prefix, body))
    return out


def contains_run(words: list[str], run: list[str]) -> bool:
    return any(words[i : i + len(run)] == run for i in range(len(words) - len(run) + 1))


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(any(word == other for other in remaining) for word in needle)


@given(
    title=st.text(min_size=1, max_size=40).map(str.strip).filter(bool), text=st.text(min_size=1), size=sizes
)
def test_arbitrary_text_chunks_within_budget_with_sequential_ids(title: str, text: str, size) -> None:
    chunk_tokens, overlap = size
    document = Document("doc", title, "src", text, "h")
    chunks = chunk_document(document, chunk_tokens, overlap)
    assert [c.chunk_id for c in chunks] == [f"doc#{i}" for i in range(len(chunks))]
    assert chunk_document(document, chunk_tokens, overlap) == chunks  # deterministic
    for chunk in chunks:
        assert chunk.doc_id == "doc" and chunk.text.startswith(title)
        prefix, _, body = chunk.text.partition("\n\n")
        assert approx_tokens(body) <= max(16, chunk_tokens - approx_tokens(prefix))


@given(title=word, sections=st.lists(section, min_size=1, max_size=4), size=sizes)
def test_chunks_cover_every_word_in_order(title: str, sections, size) -> None:
    chunk_tokens, overlap = size
    text = markdown(sections)
    expected = [w for _, paragraphs in sections for p in paragraphs for w in p.split()]
    assume(expected)  # headings alone are chunked as one paragraph, headings included
    document = Document("guide.md", title, "src", text, "h")
    found = bodies(document, chunk_tokens, overlap)
    body_words = [body.split() for _, body in found]
    for (prefix, body), words in zip(found, body_words, strict=True):
        assert approx_tokens(body) <= max(16, chunk_tokens - approx_tokens(prefix))
        assert contains_run(expected, words)  # nothing invented, nothing reordered inside a chunk
    assert is_subsequence(expected, [w for words in body_words for w in words])  # nothing lost


@given(title=word, paragraphs=st.lists(paragraph, min_size=1, max_size=6), size=sizes)
def test_chunks_without_overlap_partition_the_words(title: str, paragraphs: list[str], size) -> None:
    chunk_tokens, _ = size
    document = Document("d", title, "src", "\n\n".join(paragraphs), "h")
    words = [w for _, body in bodies(document, chunk_tokens, 0) for w in body.split()]
    assert words == [w for p in paragraphs for w in p.split()]


@given(count=st.integers(1, 400), size=sizes)
def test_many_short_paragraphs_stay_within_budget(count: int, size) -> None:
    chunk_tokens, overlap = size
    document = Document("d", "T", "src", "\n\n".join(f"w{i}" for i in range(count)), "h")
    for prefix, body in bodies(document, chunk_tokens, overlap):
        assert approx_tokens(body) <= max(16, chunk_tokens - approx_tokens(prefix))
