"""The searchable index of one release: chunks, their embeddings, FAISS and BM25.

An :class:`IndexSnapshot` is written into a release folder and read back by servers. The
embedding matrix is kept so the next ingest re-embeds only chunks that changed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from assistant.retrieval import dense
from assistant.retrieval.lexical import LexicalIndex
from assistant.types import Chunk

CHUNKS_FILE = "chunks.jsonl"
EMBEDDINGS_FILE = "embeddings.npy"
FAISS_FILE = "index.faiss"
LEXICAL_DIR = "bm25"
INDEX_META_FILE = "index.json"
DOCUMENTS_FILE = "documents.json"


@dataclass(frozen=True)
class IndexInfo:
    """What a snapshot was built with; stored as ``index.json`` and in the release manifest."""

    embedder: str
    dimension: int
    chunks: int
    index_type: str


@dataclass(frozen=True)
class IndexedDocument:
    """A document in the snapshot, with the file it came from and that file's hash."""

    doc_id: str
    title: str
    source: str
    origin: str
    content_hash: str
    chunk_count: int


@dataclass
class IndexSnapshot:
    chunks: list[Chunk]
    embeddings: np.ndarray
    info: IndexInfo
    faiss_index: faiss.Index
    lexical: LexicalIndex
    documents: dict[str, IndexedDocument]

    @classmethod
    def build(
        cls,
        chunks: Sequence[Chunk],
        embeddings: np.ndarray,
        *,
        embedder: str,
        index_type: str = "flat",
        documents: dict[str, IndexedDocument] | None = None,
    ) -> IndexSnapshot:
        if len(chunks) != len(embeddings):
            raise ValueError(f"{len(chunks)} chunks but {len(embeddings)} embeddings")
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        info = IndexInfo(embedder, int(embeddings.shape[1]), len(chunks), index_type)
        return cls(
            list(chunks),
            embeddings,
            info,
            dense.build_index(embeddings, index_type),
            LexicalIndex.build([c.text for c in chunks]),
            dict(documents or {}),
        )

    def save(self, folder: Path) -> None:
        """Write every file of the snapshot into ``folder`` (which must exist)."""
        with (folder / CHUNKS_FILE).open("w", encoding="utf-8") as out:
            for chunk in self.chunks:
                out.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        np.save(folder / EMBEDDINGS_FILE, self.embeddings)
        dense.save_index(self.faiss_index, folder / FAISS_FILE)
        self.lexical.save(folder / LEXICAL_DIR)
        (folder / INDEX_META_FILE).write_text(json.dumps(asdict(self.info), indent=2))
        documents = {doc_id: asdict(d) for doc_id, d in sorted(self.documents.items())}
        (folder / DOCUMENTS_FILE).write_text(json.dumps(documents, indent=1, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path) -> IndexSnapshot:
        info = IndexInfo(**json.loads((folder / INDEX_META_FILE).read_text()))
        with (folder / CHUNKS_FILE).open(encoding="utf-8") as lines:
            chunks = [Chunk(**json.loads(line)) for line in lines if line.strip()]
        embeddings = np.load(folder / EMBEDDINGS_FILE)
        return cls(
            chunks,
            embeddings,
            info,
            dense.load_index(folder / FAISS_FILE),
            LexicalIndex.load(folder / LEXICAL_DIR, len(chunks)),
            {k: IndexedDocument(**v) for k, v in json.loads((folder / DOCUMENTS_FILE).read_text()).items()},
        )

    @classmethod
    def empty(cls, embedder: str, dimension: int, index_type: str = "flat") -> IndexSnapshot:
        return cls.build(
            [], np.zeros((0, dimension), dtype=np.float32), embedder=embedder, index_type=index_type
        )
