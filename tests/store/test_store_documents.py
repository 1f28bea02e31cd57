"""What ingestion stores about documents: upsert, delete, look-ups by file and by folder."""

from __future__ import annotations

from assistant import store


def put(session, doc_id: str, origin: str, content_hash: str = "h1", chunk_count: int = 2) -> None:
    store.upsert_document(
        session,
        doc_id=doc_id,
        title=doc_id.title(),
        source=f"https://help.example.com/{doc_id}",
        origin=origin,
        content_hash=content_hash,
        chunk_count=chunk_count,
    )


def test_upsert_inserts_then_replaces(db: store.Store) -> None:
    with db.session() as session:
        put(session, "billing.md", "/kb/billing.md")
    with db.session() as session:
        first = store.get_document(session, "billing.md")
        put(session, "billing.md", "/kb/billing.md", content_hash="h2", chunk_count=5)
    with db.session() as session:
        (row,) = store.list_documents(session)
    assert (row.doc_id, row.content_hash, row.chunk_count) == ("billing.md", "h2", 5)
    assert row.source == "https://help.example.com/billing.md"
    assert row.ingested_at >= first.ingested_at


def test_delete_documents_counts_only_existing(db: store.Store) -> None:
    with db.session() as session:
        for name in ("a.md", "b.md", "c.md"):
            put(session, name, f"/kb/{name}")
    with db.session() as session:
        assert store.delete_documents(session, ["a.md", "c.md", "missing.md", "a.md"]) == 2
        assert store.delete_documents(session, []) == 0
    with db.session() as session:
        assert [row.doc_id for row in store.list_documents(session)] == ["b.md"]


def test_delete_many_documents_in_batches(db: store.Store) -> None:
    ids = [f"faq.jsonl#{n}" for n in range(1203)]
    with db.session() as session:
        session.add_all(
            store.DocumentRow(
                doc_id=doc_id, title="Q", source="s", origin="/kb/faq.jsonl", content_hash="h", chunk_count=1
            )
            for doc_id in ids
        )
    with db.session() as session:
        assert len(store.list_documents(session)) == 1203
        assert store.delete_documents(session, ids) == 1203
