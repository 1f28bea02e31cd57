"""Each format becomes documents with the right id, title, source and text; bad files are skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.ingest.loaders import SkippedFile, load_file


def minimal_pdf(text: str, title: str | None = None) -> bytes:
    """A one-page PDF with ``text`` in Helvetica (hand-written objects, correct xref offsets)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if title:
        objects.append(b"<< /Title (" + title.encode() + b") >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = b" /Info %d 0 R" % len(objects) if title else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_markdown_front_matter_overrides_id_title_and_url(tmp_path: Path) -> None:
    path = write(
        tmp_path, "a/b.md", "---\nid: refunds\ntitle: Refund guide\nurl: https://x.test/r\n---\n# H\n\nBody."
    )
    [doc] = load_file(path, tmp_path)
    assert (doc.doc_id, doc.title, doc.source) == ("refunds", "Refund guide", "https://x.test/r")
    assert "Body." in doc.text and "url:" not in doc.text


def test_markdown_id_is_relative_path_and_title_first_heading(tmp_path: Path) -> None:
    path = write(
        tmp_path, "guides/setup.md", "Intro line\n\n```\n# not a heading\n```\n\n## Setting up\n\nText."
    )
    [doc] = load_file(path, tmp_path)
    assert doc.doc_id == "guides/setup.md"
    assert doc.title == "Setting up"
    assert doc.source == "guides/setup.md"  # where it came from, not the server's file layout


def test_title_falls_back_to_file_name(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path, "no-heading.md", "Just a paragraph of text."), tmp_path)
    assert doc.title == "no-heading"


def test_plain_text(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path, "notes.txt", "Opening hours\n\nWe are open 9 to 5."), tmp_path)
    assert doc.title == "Opening hours" and "9 to 5" in doc.text


def test_html_keeps_main_text_only(tmp_path: Path) -> None:
    html = """<html><head><title>Returns | Shop</title><style>.x{color:red}</style>
    <script>var secret = "SCRIPT_TEXT";</script></head><body>
    <nav><a href="/">Home</a> <a href="/a">NAV_LINK_TEXT</a></nav>
    <main><article><h1>Returning an item</h1>
    <p>You can return any item within 30 days of delivery for a full refund of the price.</p>
    <p>Print the prepaid label from your order page and drop the parcel at any post office.</p>
    </article></main><footer>FOOTER_TEXT copyright</footer></body></html>"""
    [doc] = load_file(write(tmp_path, "returns.html", html), tmp_path)
    assert doc.title == "Returning an item"
    assert "within 30 days" in doc.text and "prepaid label" in doc.text
    for noise in ("SCRIPT_TEXT", "color:red", "NAV_LINK_TEXT"):
        assert noise not in doc.text


def test_pdf(tmp_path: Path) -> None:
    path = write(tmp_path, "policy.pdf", minimal_pdf("Warranty lasts two years.", title="Warranty policy"))
    [doc] = load_file(path, tmp_path)
    assert doc.title == "Warranty policy"
    assert "Warranty lasts two years." in doc.text


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (
            "faq.jsonl",
            '{"question": "Do you ship abroad?", "answer": "Yes, to 30 countries."}\n'
            '{"question": "Can I pay by invoice?", "answer": "Only business accounts."}\n',
        ),
        (
            "faq.csv",
            'question,answer\nDo you ship abroad?,"Yes, to 30 countries."\n'
            "Can I pay by invoice?,Only business accounts.\n",
        ),
    ],
)
def test_faq_rows_become_documents(tmp_path: Path, name: str, content: str) -> None:
    docs = load_file(write(tmp_path, name, content), tmp_path)
    assert [d.doc_id for d in docs] == [f"{name}#1", f"{name}#2"]
    assert docs[0].title == "Do you ship abroad?"
    assert "30 countries" in docs[0].text


def test_faq_fields_are_configurable(tmp_path: Path) -> None:
    path = write(tmp_path, "faq.jsonl", '{"id": "q7", "q": "Gift wrap?", "a": "Yes, for 2 EUR."}\n')
    [doc] = load_file(path, tmp_path, faq_question_field="q", faq_answer_field="a")
    assert doc.doc_id == "faq.jsonl#q7" and "2 EUR" in doc.text
    with pytest.raises(SkippedFile, match="lack field"):
        load_file(path, tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", "   \n", "empty"),
        ("binary.txt", b"\x00\x01\x02binary\x00", "binary"),
        ("image.png", b"\x89PNG\r\n", "unsupported"),
        ("broken.jsonl", "{not json}\n", "not JSON"),
        ("broken.pdf", b"%PDF-1.4 garbage", "PDF"),
        ("nothing.html", "<html><body><script>x()</script></body></html>", "no main text"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(tmp_path: Path, name: str, content, reason: str) -> None:
    with pytest.raises(SkippedFile, match=reason):
        load_file(write(tmp_path, name, content), tmp_path)


def test_unreadable_file_is_skipped(tmp_path: Path) -> None:
    folder_named_like_a_file = tmp_path / "folder.md"
    folder_named_like_a_file.mkdir()
    with pytest.raises(SkippedFile, match="unreadable"):
        load_file(folder_named_like_a_file, tmp_path)
