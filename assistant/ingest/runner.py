"""Incremental ingestion: files → documents → chunks → embeddings → a new active release.

Only files whose bytes changed are loaded and embedded; chunks of unchanged documents keep
their embeddings from the current release. Files that vanished from a folder given again are
removed from the index. Nothing changed means no new release.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.generation.prompts import PROMPT_VERSION
from assistant.ingest.chunking import chunk_document
from assistant.ingest.loaders import SkippedFile, file_hash, load_file
from assistant.releases import EMBEDDER_DIR, STARTER_DIR, TUNED_PREFIX, ReleaseRegistry, starter_adapter
from assistant.retrieval.embedder import Embedder
from assistant.retrieval.snapshot import IndexedDocument, IndexSnapshot
from assistant.store import Store, repository
from assistant.types import Chunk

EMBED_BATCH = 64
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class IngestPathError(Exception):
    """A path given to ingest does not exist."""


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    documents: int = 0
    chunks: int = 0
    release: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def to_dict(self) -> dict:
        return {
            "documents": self.documents,
            "chunks": self.chunks,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "chunks_embedded": self.chunks_embedded,
            "release": self.release,
        }


def _files_under(path: Path) -> tuple[Path, list[Path]]:
    """The root for document ids and the visible files of ``path``."""
    if path.is_file():
        return path.parent, [path]
    files = [
        p
        for p in sorted(path.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    ]
    return path, files


def _is_under(origin: str, folder: Path) -> bool:
    return origin == str(folder) or origin.startswith(str(folder) + os.sep)


def ingest_paths(
    paths: Sequence[Path],
    *,
    settings: Settings,
    store: Store,
    registry: ReleaseRegistry,
    embedder: Embedder,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring the index in line with ``paths`` and activate the result as a new release."""
    resolved = [Path(p).resolve() for p in paths]
    for original, path in zip(paths, resolved, strict=True):
        if not path.exists():
            raise IngestPathError(f"path does not exist: {original}")
    with registry.locked():
        parent = registry.current()
        previous = IndexSnapshot.load(registry.path(parent.id)) if parent else None
        report = IngestReport()
        known = previous.documents if previous else {}
        by_origin: dict[str, list[IndexedDocument]] = {}
        for doc in known.values():
            by_origin.setdefault(doc.origin, []).append(doc)

        seen_origins: set[str] = set()
        new_documents = []
        for root, files in (_files_under(p) for p in resolved):
            for number, file in enumerate(files, start=1):
                if progress:
                    progress("read", number, len(files))
                origin = str(file)
                seen_origins.add(origin)
                stored = by_origin.get(origin, [])
                try:
                    data = file.read_bytes()
                    data_hash = file_hash(data, settings.faq_question_field, settings.faq_answer_field)
                    if stored and all(d.content_hash == data_hash for d in stored):
                        report.unchanged += len(stored)
                        continue
                    documents = load_file(
                        file,
                        root,
                        faq_question_field=settings.faq_question_field,
                        faq_answer_field=settings.faq_answer_field,
                        data=data,
                    )
                except (SkippedFile, OSError) as exc:
                    unreadable = f"unreadable: {getattr(exc, 'strerror', None) or exc}"
                    reason = str(exc) if isinstance(exc, SkippedFile) else unreadable
                    report.skipped.append({"path": origin, "reason": reason})
                    continue
                produced = {d.doc_id for d in documents}
                report.removed.extend(d.doc_id for d in stored if d.doc_id not in produced)
                for document in documents:
                    (report.updated if document.doc_id in known else report.added).append(document.doc_id)
                    new_documents.append((origin, document))

        for path in resolved:
            report.removed.extend(
                doc.doc_id
                for origin, docs in by_origin.items()
                if origin not in seen_origins and _is_under(origin, path)
                for doc in docs
            )

        current_snapshot = previous
        if report.changed or (previous and previous.info.embedder != embedder.model_id):
            current_snapshot = _rebuild(previous, new_documents, report, settings, embedder, progress)
            staging = registry.staging_dir()
            current_snapshot.save(staging)
            starter = None if parent else starter_adapter(settings)
            if starter is not None:
                shutil.copytree(starter, staging / STARTER_DIR)
            if parent:
                carried = [parent.adapter] if parent.adapter else []
                if parent.embedder == embedder.model_id and parent.embedder.startswith(TUNED_PREFIX):
                    carried.append(EMBEDDER_DIR)  # the tuned embedder the index was built with
                for folder in carried:
                    shutil.copytree(
                        registry.path(parent.id) / folder, staging / folder, copy_function=os.link
                    )
            manifest = registry.create(
                staging,
                parent=parent.id if parent else None,
                kind="ingest",
                embedder=embedder.model_id,
                generator=parent.generator if parent else settings.generator,
                adapter=parent.adapter if parent else (STARTER_DIR if starter else None),
                prompt_version=PROMPT_VERSION,
                index=asdict(current_snapshot.info),
                notes={
                    "added": len(report.added),
                    "updated": len(report.updated),
                    "removed": len(report.removed),
                },
            )
            registry.activate(manifest.id)
            report.release = manifest.id
            _mirror_documents(
                store, current_snapshot, changed=report.added + report.updated, removed=report.removed
            )
        if current_snapshot:
            report.documents = len(current_snapshot.documents)
            report.chunks = len(current_snapshot.chunks)
        return report


def _rebuild(
    previous: IndexSnapshot | None,
    new_documents: list,
    report: IngestReport,
    settings: Settings,
    embedder: Embedder,
    progress: Progress | None,
) -> IndexSnapshot:
    replaced = set(report.removed) | {doc.doc_id for _, doc in new_documents}
    kept_rows = [i for i, c in enumerate(previous.chunks) if c.doc_id not in replaced] if previous else []
    kept_chunks = [previous.chunks[i] for i in kept_rows] if previous else []
    documents = {k: v for k, v in previous.documents.items() if k not in replaced} if previous else {}

    fresh_chunks: list[Chunk] = []
    for origin, document in new_documents:
        chunks = chunk_document(document, settings.chunk_tokens, settings.chunk_overlap)
        fresh_chunks.extend(chunks)
        documents[document.doc_id] = IndexedDocument(
            document.doc_id, document.title, document.source, origin, document.content_hash, len(chunks)
        )

    if previous and previous.info.embedder == embedder.model_id:
        kept_vectors = previous.embeddings[kept_rows]
        to_embed = fresh_chunks
    else:  # a new embedder: every chunk is embedded again
        kept_vectors = np.zeros((0, embedder.dimension), dtype=np.float32)
        fresh_chunks = kept_chunks + fresh_chunks
        kept_chunks, to_embed = [], fresh_chunks
    vectors = _embed([c.text for c in to_embed], embedder, progress)
    report.chunks_embedded = len(to_embed)
    return IndexSnapshot.build(
        kept_chunks + fresh_chunks,
        np.concatenate([kept_vectors, vectors]) if len(kept_vectors) else vectors,
        embedder=embedder.model_id,
        index_type=settings.index_type,
        documents=documents,
    )


def reembed(
    snapshot: IndexSnapshot, embedder: Embedder, settings: Settings, progress: Progress | None = None
) -> IndexSnapshot:
    """The same chunks and documents, embedded again with ``embedder`` (e.g. a tuned retriever)."""
    vectors = _embed([chunk.text for chunk in snapshot.chunks], embedder, progress)
    return IndexSnapshot.build(
        snapshot.chunks,
        vectors,
        embedder=embedder.model_id,
        index_type=settings.index_type,
        documents=snapshot.documents,
    )


def _embed(texts: list[str], embedder: Embedder, progress: Progress | None) -> np.ndarray:
    """Embeddings in ``texts`` order; batches are formed by length so little padding is computed."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    for start in range(0, len(order), EMBED_BATCH):
        batch = order[start : start + EMBED_BATCH]
        vectors[batch] = embedder.encode([texts[i] for i in batch], batch_size=EMBED_BATCH)
        if progress:
            progress("embed", min(start + EMBED_BATCH, len(texts)), len(texts))
    return vectors


def _mirror_documents(
    store: Store, snapshot: IndexSnapshot, *, changed: Iterable[str], removed: Iterable[str]
) -> None:
    """Keep the store's documents table equal to the active index's documents."""
    with store.session() as session:
        repository.delete_documents(session, [d for d in removed if d not in snapshot.documents])
        for doc in (snapshot.documents[d] for d in changed):
            repository.upsert_document(
                session,
                doc_id=doc.doc_id,
                title=doc.title,
                source=doc.source,
                origin=doc.origin,
                content_hash=doc.content_hash,
                chunk_count=doc.chunk_count,
            )
