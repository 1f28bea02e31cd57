"""Ingestion parsers on arbitrary input: documents or a :class:`SkippedFile`, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.ingest.loaders import SUPPORTED, SkippedFile, file_hash, load_file
from assistant.types import Document
from tests.ingest.test_loaders import minimal_pdf

ROOT = Path("/kb")
TEXT_SUFFIXES = sorted(SUPPORTED - {".pdf", ".html", ".htm"})
words = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12)


def load(name: str, data: bytes) -> list[Document] | None:
    """``load_file`` on ``data`` as ``/kb/<name>``: its documents, or None when it was skipped."""
    try:
        documents = load_file(ROOT / name, ROOT, data=data)
    except SkippedFile as exc:
        assert str(exc)  # a reason a person can act on
        return None
    assert documents
    digest = file_hash(data, "question", "answer")
    for document in documents:
        assert document.text and document.text == document.text.strip()
        assert document.doc_id and isinstance(document.title, str)
        assert document.content_hash == digest
    assert len({d.doc_id for d in documents}) == len(documents)  # ids never collide in one file
    assert load_file(ROOT / name, ROOT, data=data) == documents  # deterministic
    return documents


@given(suffix=st.sampled_from(TEXT_SUFFIXES), data=st.binary(max_size=2000))
def test_arbitrary_bytes_load_or_skip(suffix: str, data: bytes) -> None:
    load(f"doc{suffix}", data)


@given(suffix=st.sampled_from(TEXT_SUFFIXES), text=st.text(max_size=2000))
def test_arbitrary_text_loads_or_skips(suffix: str, text: str) -> None:
    load(f"doc{suffix}", text.encode())


@settings(max_examples=30)  # trafilatura is slow
@given(text=st.text(max_size=1000), tag=st.sampled_from(["p", "article", "div", "h1", "script"]))
def test_html_loads_or_skips(text: str, tag: str) -> None:
    load("page.html", f"<html><body><{tag}>{text}</{tag}></body></html>".encode())
    load("raw.htm", text.encode())


@settings(max_examples=40)
@given(data=st.data())
def test_damaged_pdf_loads_or_skips(data: st.DataObject) -> None:
    pdf = bytearray(minimal_pdf("Refunds take five days", title="Refunds"))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(pdf) - 1))
        pdf[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(pdf)))
    load("manual.pdf", bytes(pdf[:cut]))


@given(
    body=st.lists(words, min_size=1, max_size=30).map(" ".join), folder=st.sampled_from(["", "a/", "a/b/"])
)
def test_plain_text_keeps_its_words_and_path_id(body: str, folder: str) -> None:
    [document] = load(f"{folder}notes.txt", body.encode()) or [None]
    assert document is not None
    assert document.doc_id == f"{folder}notes.txt"
    assert document.text.split() == body.split()


@given(heading=words, body=st.lists(words, min_size=1, max_size=30).map(" ".join))
def test_markdown_keeps_its_body_and_heading_title(heading: str, body: str) -> None:
    [document] = load("guide.md", f"# {heading}\n\n{body}\n".encode()) or [None]
    assert document is not None
    assert document.doc_id == "guide.md" and document.title == heading
    assert body in document.text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
faq_rows = st.lists(
    st.fixed_dictionaries(
        {"question": json_values, "answer": json_values},
        optional={"id": json_values, "url": json_values},
    ),
    min_size=1,
    max_size=6,
)


@given(rows=faq_rows)
def test_jsonl_faq_rows_load_or_skip(rows: list[dict]) -> None:
    documents = load("faq.jsonl", "\n".join(json.dumps(row) for row in rows).encode())
    answered = [r for r in rows if str(r["question"] or "").strip() and str(r["answer"] or "").strip()]
    if documents is not None:
        assert len(documents) == len(answered)
        for document, row in zip(documents, answered, strict=True):
            assert document.doc_id.startswith("faq.jsonl#")
            assert str(row["answer"]).strip() in document.text


@given(lines=st.lists(st.text(max_size=60), max_size=6), nesting=st.integers(0, 5000))
def test_jsonl_garbage_and_deep_nesting_skip(lines: list[str], nesting: int) -> None:
    load("faq.jsonl", "\n".join([*lines, "[" * nesting + "]" * nesting, "1" * nesting]).encode())


@given(
    rows=st.lists(
        st.tuples(st.text(max_size=30), st.text(max_size=30), st.text(max_size=5)), min_size=1, max_size=6
    )
)
def test_csv_faq_rows_load_or_skip(rows: list[tuple[str, str, str]]) -> None:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["question", "answer", "id"])
    writer.writerows(rows)
    documents = load("faq.csv", out.getvalue().encode())
    if documents is not None:
        assert all(d.doc_id.startswith("faq.csv#") for d in documents)
