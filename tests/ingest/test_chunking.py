"""Chunks follow headings and paragraphs, carry the title, stay within size, and keep stable ids."""

from __future__ import annotations

import re

import pytest

from assistant.ingest.chunking import approx_tokens, chunk_document, split_sections
from assistant.types import Document


def doc(text: str, title: str = "Guide") -> Document:
    return Document(doc_id="guide.md", title=title, source="guide.md", text=text, content_hash="h")


def test_sections_follow_headings_and_keep_code_fences_whole() -> None:
    sections = split_sections(
        "# Guide\n\nIntro.\n\n## Install\n\nStep one.\n\n```\n# comment\n\nmore\n```\n\n## Use\n\nRun it."
    )
    assert [s.heading for s in sections] == ["Guide", "Install", "Use"]
    assert sections[1].paragraphs[1].startswith("```") and "# comment" in sections[1].paragraphs[1]


def test_every_chunk_carries_title_and_section_heading() -> None:
    chunks = chunk_document(doc("# Guide\n\nIntro.\n\n## Install\n\nStep one."))
    assert [c.text.split("\n")[0] for c in chunks] == ["Guide", "Guide — Install"]
    assert all(c.doc_id == "guide.md" and c.title == "Guide" for c in chunks)


@pytest.mark.parametrize(("size", "overlap"), [(60, 15), (120, 20), (220, 30)])
def test_chunks_stay_within_size_and_overlap(size: int, overlap: int) -> None:
    sentences = [f"Sentence number {i} explains one small detail of the product." for i in range(80)]
    text = "# Guide\n\n" + " ".join(sentences[:40]) + "\n\n" + " ".join(sentences[40:])
    chunks = chunk_document(doc(text), size, overlap)
    assert len(chunks) > 2
    assert all(approx_tokens(c.text) <= size + 5 for c in chunks)
    # consecutive chunks share text (the overlap), and nothing is lost
    first_body, second_body = chunks[0].text.split("\n\n", 1)[1], chunks[1].text.split("\n\n", 1)[1]
    assert re.split(r"(?<=\.)\s+", first_body)[-1] in second_body
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)


def test_a_giant_word_run_is_split_by_words() -> None:
    chunks = chunk_document(doc("word " * 2000), 100, 10)
    assert len(chunks) >= 20 and all(approx_tokens(c.text) <= 110 for c in chunks)


def test_chunk_ids_are_stable_for_the_same_text() -> None:
    text = "# Guide\n\n" + "\n\n".join(f"Paragraph {i} about setup and billing." for i in range(30))
    first = chunk_document(doc(text), 60, 10)
    again = chunk_document(doc(text), 60, 10)
    assert (
        [c.chunk_id for c in first]
        == [c.chunk_id for c in again]
        == [f"guide.md#{i}" for i in range(len(first))]
    )
    assert len({c.chunk_id for c in first}) == len(first)
