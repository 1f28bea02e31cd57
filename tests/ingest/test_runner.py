"""Incremental ingestion into releases: unchanged files cost nothing, changes update the index."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.ingest.runner import IngestPathError, ingest_paths
from assistant.releases import ReleaseRegistry
from assistant.retrieval.embedder import Embedder
from assistant.retrieval.retriever import Retriever
from assistant.retrieval.snapshot import IndexSnapshot
from assistant.store import Store, list_documents


@pytest.fixture
def run(settings: Settings, embedder: Embedder):
    store = Store(settings.resolved_database_url)
    store.upgrade()
    registry = ReleaseRegistry(settings.releases_dir)

    def ingest(*paths: Path):
        return ingest_paths(list(paths), settings=settings, store=store, registry=registry, embedder=embedder)

    ingest.store = store
    ingest.registry = registry
    return ingest


def active_snapshot(registry: ReleaseRegistry) -> IndexSnapshot:
    return IndexSnapshot.load(registry.path(registry.current_id()))


def test_first_ingest_makes_an_active_release_and_mirrors_documents(run, kb_dir: Path, embedder) -> None:
    report = run(kb_dir)
    assert sorted(report.added) == ["password.md", "refunds.md", "shipping/options.md"]
    assert report.documents == 3 and report.chunks >= 4 and report.chunks_embedded == report.chunks
    assert run.registry.current_id() == report.release
    assert run.registry.verify(report.release) == []
    with run.store.session() as session:
        rows = {d.doc_id: d for d in list_documents(session)}
    assert rows["refunds.md"].source == "https://help.example.com/refunds"
    assert rows["refunds.md"].title == "Getting a refund"
    hits = (
        Retriever(active_snapshot(run.registry), embedder)
        .search("how long until my money comes back", 3)
        .hits
    )
    assert hits[0].chunk.doc_id == "refunds.md"


def test_a_new_loader_version_reloads_unchanged_files_once(run, kb_dir: Path, monkeypatch) -> None:
    """What loading puts in a document changed (e.g. its source): files whose bytes did not are redone."""
    from assistant.ingest import loaders

    run(kb_dir)
    monkeypatch.setattr(loaders, "LOADER_VERSION", loaders.LOADER_VERSION + 1)
    upgraded = run(kb_dir)
    assert upgraded.release and upgraded.unchanged == 0 and upgraded.chunks_embedded == upgraded.chunks
    assert run(kb_dir).release is None  # then unchanged again


def test_reingesting_unchanged_files_does_no_work(run, kb_dir: Path) -> None:
    first = run(kb_dir)
    again = run(kb_dir)
    assert again.release is None and not again.changed
    assert again.unchanged == 3 and again.chunks_embedded == 0
    assert run.registry.current_id() == first.release
    assert len(run.registry.list()) == 1


def test_changed_file_reembeds_only_its_chunks(run, kb_dir: Path) -> None:
    first = run(kb_dir)
    (kb_dir / "password.md").write_text(
        "# Resetting your password\n\nUse the magic link; it lasts 10 minutes.\n"
    )
    report = run(kb_dir)
    assert report.updated == ["password.md"] and report.added == [] and report.chunks_embedded == 1
    manifest = run.registry.get(report.release)
    assert manifest.parent == first.release and manifest.kind == "ingest"
    texts = " ".join(c.text for c in active_snapshot(run.registry).chunks)
    assert "magic link" in texts and "30 minutes" not in texts
    # unchanged files share their stored blobs with the parent release (hard links, not copies)
    old, new = run.registry.path(first.release), run.registry.path(report.release)
    assert (new / "index.json").stat().st_ino == (old / "index.json").stat().st_ino  # same chunk count
    assert (new / "chunks.jsonl").stat().st_ino != (old / "chunks.jsonl").stat().st_ino


def test_deleted_file_leaves_the_index(run, kb_dir: Path) -> None:
    run(kb_dir)
    (kb_dir / "shipping" / "options.md").unlink()
    report = run(kb_dir)
    assert report.removed == ["shipping/options.md"] and report.documents == 2
    assert {c.doc_id for c in active_snapshot(run.registry).chunks} == {"refunds.md", "password.md"}
    with run.store.session() as session:
        assert sorted(d.doc_id for d in list_documents(session)) == ["password.md", "refunds.md"]


def test_ingesting_a_single_file_does_not_remove_its_siblings(run, kb_dir: Path) -> None:
    run(kb_dir)
    report = run(kb_dir / "password.md")
    assert report.removed == [] and report.documents == 3


def test_bad_files_are_skipped_and_the_rest_ingests(run, kb_dir: Path) -> None:
    (kb_dir / "empty.md").write_text("")
    (kb_dir / "blob.txt").write_bytes(b"\x00\x00\x00")
    (kb_dir / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    report = run(kb_dir)
    assert report.documents == 3
    assert sorted((Path(s["path"]).name, s["reason"]) for s in report.skipped) == [
        ("blob.txt", "binary content in a text file"),
        ("empty.md", "empty file"),
        ("photo.jpg", "unsupported file type .jpg"),
    ]


def test_a_file_that_turns_bad_keeps_its_last_good_version(run, kb_dir: Path) -> None:
    run(kb_dir)
    (kb_dir / "password.md").write_bytes(b"\x00binary now")
    report = run(kb_dir)
    assert report.skipped and report.removed == [] and report.documents == 3


def test_missing_path_raises_and_changes_nothing(run, kb_dir: Path) -> None:
    first = run(kb_dir)
    with pytest.raises(IngestPathError, match="does not exist"):
        run(kb_dir, kb_dir / "nope")
    assert run.registry.current_id() == first.release
    assert len(run.registry.list()) == 1


def test_new_embedder_reembeds_everything(run, kb_dir: Path, settings: Settings, embedder) -> None:
    run(kb_dir)

    class Renamed(Embedder):
        def __init__(self) -> None:  # same weights, another id: stands for a fine-tuned embedder
            self.__dict__.update(embedder.__dict__)
            self.model_id = "tuned-minilm"

    store = Store(settings.resolved_database_url)
    report = ingest_paths(
        [kb_dir],
        settings=settings,
        store=store,
        registry=ReleaseRegistry(settings.releases_dir),
        embedder=Renamed(),
    )
    assert report.release and report.chunks_embedded == report.chunks
    assert active_snapshot(ReleaseRegistry(settings.releases_dir)).info.embedder == "tuned-minilm"
