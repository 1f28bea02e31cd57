"""Releases are immutable, checksummed, share files, and switch atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.releases import ReleaseError, ReleaseRegistry


def stage(registry: ReleaseRegistry, files: dict[str, str]) -> Path:
    folder = registry.staging_dir()
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    return folder


def create(registry: ReleaseRegistry, files: dict[str, str], parent: str | None = None):
    return registry.create(
        stage(registry, files),
        parent=parent,
        kind="ingest",
        embedder="e",
        generator="g",
        adapter=None,
        prompt_version="v1",
        index={},
    )


def test_create_activate_rollback(tmp_path: Path) -> None:
    registry = ReleaseRegistry(tmp_path)
    assert registry.current_id() is None
    first = create(registry, {"a.txt": "one", "sub/b.txt": "two"})
    registry.activate(first.id)
    second = create(registry, {"a.txt": "one", "sub/b.txt": "changed"}, parent=first.id)
    registry.activate(second.id)
    assert registry.current_id() == second.id
    assert [m.id for m in registry.list()] == [first.id, second.id]
    # the unchanged file is one blob shared by both releases
    assert (registry.path(first.id) / "a.txt").stat().st_ino == (
        registry.path(second.id) / "a.txt"
    ).stat().st_ino
    assert registry.rollback().id == first.id and registry.current_id() == first.id
    with pytest.raises(ReleaseError, match="no parent"):
        registry.rollback()


def test_damaged_release_is_refused(tmp_path: Path) -> None:
    registry = ReleaseRegistry(tmp_path)
    good = create(registry, {"a.txt": "one"})
    registry.activate(good.id)
    bad = create(registry, {"b.txt": "two"}, parent=good.id)
    target = registry.path(bad.id) / "b.txt"
    target.unlink()
    target.write_text("tampered")
    assert registry.verify(bad.id) == ["checksum mismatch in b.txt"]
    with pytest.raises(ReleaseError, match="damaged"):
        registry.activate(bad.id)
    assert registry.current_id() == good.id


@pytest.mark.parametrize("release_id", ["", "nope", "../etc", ".blobs"])
def test_unknown_release_is_a_clear_error(tmp_path: Path, release_id: str) -> None:
    with pytest.raises(ReleaseError, match="no release"):
        ReleaseRegistry(tmp_path).activate(release_id)


def test_pointer_switch_leaves_no_temporary_files(tmp_path: Path) -> None:
    registry = ReleaseRegistry(tmp_path)
    for _ in range(3):
        registry.activate(create(registry, {"a.txt": "x"}).id)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".CURRENT")]
    assert not any((tmp_path / ".staging").iterdir())


def test_a_report_is_attached_to_a_candidate_before_it_is_active(tmp_path: Path) -> None:
    registry = ReleaseRegistry(tmp_path)
    first = create(registry, {"index.bin": "a"})
    registry.activate(first.id)
    candidate = create(registry, {"index.bin": "b"}, parent=first.id)
    updated = registry.attach(candidate.id, "gate_report.json", b'{"verdict": "passed"}')
    assert "gate_report.json" in updated.files and registry.get(candidate.id).files == updated.files
    assert (registry.path(candidate.id) / "gate_report.json").read_bytes() == b'{"verdict": "passed"}'
    assert registry.verify(candidate.id) == []
    with pytest.raises(ReleaseError, match="cannot attach"):
        registry.attach(candidate.id, "gate_report.json", b"again")
    with pytest.raises(ReleaseError, match="cannot attach"):
        registry.attach(candidate.id, "../escape.json", b"x")
    with pytest.raises(ReleaseError, match="is active"):
        registry.attach(first.id, "late.json", b"x")
    assert registry.verify(first.id) == [] and "late.json" not in registry.get(first.id).files
    registry.activate(candidate.id)
    assert registry.current_id() == candidate.id
