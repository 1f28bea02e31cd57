"""Turn files into :class:`~assistant.types.Document` records.

One loader per format; :func:`load_file` picks by extension. A file that cannot become a
document raises :class:`SkippedFile` with a reason a person can act on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path

import frontmatter

from assistant.types import Document

MARKDOWN = {".md", ".markdown"}
TEXT = {".txt", ".text", ".rst"}
HTML = {".html", ".htm"}
PDF = {".pdf"}
FAQ = {".jsonl", ".csv"}
SUPPORTED = MARKDOWN | TEXT | HTML | PDF | FAQ
MAX_FILE_BYTES = 50 * 1024 * 1024


class SkippedFile(Exception):
    """A file that was not ingested; ``str(exc)`` says why."""


# Part of every file's hash: bump it when loading changes what a file's documents hold, so the
# next ingest reloads files whose bytes did not change (2: sources without a URL are relative).
LOADER_VERSION = 2


def file_hash(data: bytes, faq_question_field: str, faq_answer_field: str) -> str:
    """Hash of a file's bytes, the settings that shape its documents and the loader's version."""
    shape = f"|{faq_question_field}|{faq_answer_field}|v{LOADER_VERSION}"
    return hashlib.sha256(data + shape.encode()).hexdigest()


def document_id(path: Path, root: Path) -> str:
    """The id of a file's document: its path relative to the folder given, with ``/``."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def load_file(
    path: Path,
    root: Path,
    *,
    faq_question_field: str = "question",
    faq_answer_field: str = "answer",
    data: bytes | None = None,
) -> list[Document]:
    """Load one file into documents (one, or one per FAQ row); ``data`` is its bytes if already read."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise SkippedFile(f"unsupported file type {suffix or '(none)'}")
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SkippedFile(f"unreadable: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise SkippedFile(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    if not data.strip():
        raise SkippedFile("empty file")
    doc_id = document_id(path, root)
    digest = file_hash(data, faq_question_field, faq_answer_field)
    if suffix in PDF:
        return [_load_pdf(data, doc_id, path, digest)]
    text = _decode_text(data)
    if suffix in MARKDOWN:
        return [_load_markdown(text, doc_id, path, digest)]
    if suffix in HTML:
        return [_load_html(text, doc_id, path, digest)]
    if suffix in FAQ:
        rows = _jsonl_rows(text) if suffix == ".jsonl" else _csv_rows(text)
        return _faq_documents(rows, doc_id, digest, faq_question_field, faq_answer_field)
    return [_document(doc_id, _first_line_title(text) or path.stem, doc_id, text, digest)]


def _decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise SkippedFile("binary content in a text file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SkippedFile("not valid UTF-8 or Windows-1252 text")


def _document(doc_id: str, title: str, source: str, text: str, file_hash: str) -> Document:
    text = text.strip()
    if not text:
        raise SkippedFile("no text content")
    return Document(doc_id=doc_id, title=title.strip(), source=source, text=text, content_hash=file_hash)


HEADING_PATTERN = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def first_heading(markdown: str) -> str | None:
    """The text of the first Markdown heading, outside code fences."""
    in_fence = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        match = HEADING_PATTERN.match(line)
        if match and not in_fence:
            return match.group(1)
    return None


def _first_line_title(text: str) -> str | None:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:120] if len(line.strip()) <= 120 else None
    return None


def _load_markdown(text: str, doc_id: str, path: Path, file_hash: str) -> Document:
    try:
        post = frontmatter.loads(text)
    except Exception as exc:  # the YAML parser raises many types; all mean the same to a user
        raise SkippedFile(f"invalid front matter: {exc}") from exc
    meta = post.metadata if isinstance(post.metadata, dict) else {}
    body = post.content
    title = str(meta.get("title") or first_heading(body) or path.stem)
    return _document(str(meta.get("id") or doc_id), title, str(meta.get("url") or doc_id), body, file_hash)


def _load_html(text: str, doc_id: str, path: Path, file_hash: str) -> Document:
    import trafilatura

    markdown = trafilatura.extract(
        text,
        output_format="markdown",
        include_comments=False,
        include_tables=True,
        include_images=False,
        favor_recall=True,
    )
    if not markdown:
        raise SkippedFile("no main text found in HTML")
    meta = trafilatura.extract_metadata(text)
    url = meta.url if meta and meta.url else doc_id
    title = first_heading(markdown) or (meta.title if meta and meta.title else None) or path.stem
    return _document(doc_id, title, url, markdown, file_hash)


def _load_pdf(data: bytes, doc_id: str, path: Path, file_hash: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise SkippedFile(f"unreadable PDF: {exc}") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    return _document(doc_id, meta_title or _first_line_title(text) or path.stem, doc_id, text, file_hash)


def _jsonl_rows(text: str) -> list[dict]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:  # bad JSON, too deeply nested, a too-long number
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise SkippedFile(f"line {number} is not JSON: {reason}") from exc
        if not isinstance(row, dict):
            raise SkippedFile(f"line {number} is not a JSON object")
        rows.append(row)
    return rows


def _csv_rows(text: str) -> list[dict]:
    try:
        return list(csv.DictReader(io.StringIO(text)))
    except csv.Error as exc:
        raise SkippedFile(f"invalid CSV: {exc}") from exc


def _faq_documents(
    rows: list[dict], doc_id: str, file_hash: str, question_field: str, answer_field: str
) -> list[Document]:
    if not rows:
        raise SkippedFile("no FAQ rows")
    missing = [f for f in (question_field, answer_field) if f not in rows[0]]
    if missing:
        raise SkippedFile(
            f"FAQ rows lack field(s) {', '.join(missing)} "
            "(set ASSISTANT_FAQ_QUESTION_FIELD / ASSISTANT_FAQ_ANSWER_FIELD)"
        )
    documents = []
    row_of_id: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        question = str(row.get(question_field) or "").strip()
        answer = str(row.get(answer_field) or "").strip()
        if not question or not answer:
            continue
        row_id = str(row.get("id") or number)
        if row_id in row_of_id:  # two documents with one id would overwrite each other in the index
            raise SkippedFile(f"FAQ rows {row_of_id[row_id]} and {number} have the same id {row_id!r}")
        row_of_id[row_id] = number
        source = str(row.get("url") or f"{doc_id}#{row_id}")
        documents.append(
            _document(f"{doc_id}#{row_id}", question, source, f"# {question}\n\n{answer}", file_hash)
        )
    if not documents:
        raise SkippedFile("no FAQ row has both a question and an answer")
    return documents
