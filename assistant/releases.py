"""Release registry: immutable release folders and the atomic ``current`` pointer.

A release is ``releases/<id>/`` holding an index snapshot, an optional LoRA adapter, an
optional tuned embedder (``embedder/``, named ``tuned:<id>`` in the manifest), and a
``manifest.json`` with the checksum of every file. Files are stored once under
``releases/.blobs/`` and hard-linked into each release, so a release that changes little
costs little. ``releases/CURRENT`` names the active release; it is replaced atomically
(write, fsync, rename, fsync the folder), so a crash leaves the old or the new release
active, never a mix. Servers poll :meth:`ReleaseRegistry.current_id` and hot-swap.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock

from assistant.config import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
POINTER = "CURRENT"
EMBEDDER_DIR = "embedder"
STARTER_DIR = "starter-adapter"  # the first release's copy of the starter adapter
STARTER_REPORT = "starter.json"  # what made a starter adapter (written by training.starter)
TUNED_PREFIX = "tuned:"  # a manifest's embedder name when the release carries its own copy


class ReleaseError(Exception):
    """A release cannot be created, found, verified or activated; the message says why."""


@dataclass(frozen=True)
class ReleaseManifest:
    id: str
    created_at: str
    parent: str | None
    kind: str  # "ingest" for document changes, "cycle" for learning-cycle candidates
    embedder: str
    generator: str
    adapter: str | None  # folder inside the release, or None for the base model
    prompt_version: str
    index: dict
    files: dict[str, str]  # relative path -> sha256
    notes: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def starter_adapter(settings: Settings) -> Path | None:
    """The starter LoRA adapter the first release of an install carries, or None.

    ``ASSISTANT_STARTER_ADAPTER`` names it; a relative path is looked up in the working folder,
    then in the project's. It applies only to the local generator it was trained for (its
    ``starter.json`` names it): an adapter is tied to its base model's weights. Measured on the
    held-out Bitext and ABCD questions (docs/benchmarks.md), the shipped one makes the model's
    own answers pass the answer check far more often and sooner.
    """
    if not settings.starter_adapter or settings.generator_backend != "local":
        return None
    folder = Path(settings.starter_adapter)
    if not folder.is_absolute() and not folder.exists():
        folder = PROJECT_ROOT / folder
    report = folder / STARTER_REPORT
    if not report.is_file():
        log.warning(
            "no starter adapter at %s (no %s): the first release uses the base model", folder, report.name
        )
        return None
    trained_for = json.loads(report.read_text(encoding="utf-8")).get("generator")
    if trained_for != settings.generator:
        log.info("the starter adapter was trained for %s, not %s: not used", trained_for, settings.generator)
        return None
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_release_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


class ReleaseRegistry:
    """All releases under one folder; safe to share between processes on one file system."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._blobs = self.root / ".blobs"
        self._lock = FileLock(str(self.root / ".lock"))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the registry lock: one ingest or activation at a time across processes."""
        with self._lock:
            yield

    def path(self, release_id: str) -> Path:
        return self.root / release_id

    def embedder_location(self, manifest: ReleaseManifest) -> str:
        """Where a release's embedder loads from: its own tuned copy, else the model id it names."""
        if manifest.embedder.startswith(TUNED_PREFIX):
            return str(self.path(manifest.id) / EMBEDDER_DIR)
        return manifest.embedder

    def current_id(self) -> str | None:
        try:
            return (self.root / POINTER).read_text().strip() or None
        except FileNotFoundError:
            return None

    def get(self, release_id: str) -> ReleaseManifest:
        manifest = self.path(release_id) / MANIFEST
        # dot-folders are the registry's own (blobs, staging, a ``.building-*`` a killed deploy left)
        if not release_id or "/" in release_id or release_id.startswith(".") or not manifest.is_file():
            raise ReleaseError(f"no release {release_id!r}")
        return ReleaseManifest(**json.loads(manifest.read_text()))

    def current(self) -> ReleaseManifest | None:
        release_id = self.current_id()
        return self.get(release_id) if release_id else None

    def list(self) -> list[ReleaseManifest]:
        """Every release, oldest first."""
        releases = [
            self.get(p.name)
            for p in self.root.iterdir()
            if not p.name.startswith(".") and (p / MANIFEST).is_file()
        ]
        return sorted(releases, key=lambda m: (m.created_at, m.id))

    def staging_dir(self) -> Path:
        """A fresh folder to write a new release's files into before :meth:`create`."""
        folder = self.root / ".staging" / secrets.token_hex(8)
        folder.mkdir(parents=True)
        return folder

    def create(self, staging: Path, **manifest_fields) -> ReleaseManifest:
        """Turn a staging folder into an immutable release (not yet active)."""
        release_id = _new_release_id()
        files: dict[str, str] = {}
        building = self.root / f".building-{release_id}"
        for source in sorted(p for p in staging.rglob("*") if p.is_file()):
            relative = source.relative_to(staging).as_posix()
            digest = _sha256(source)
            blob = self._blobs / digest[:2] / digest
            if not blob.exists():
                blob.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, blob)
                blob.chmod(0o444)  # shared by every release that links it: never edited in place
            target = building / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(blob, target)
            files[relative] = digest
        building.mkdir(parents=True, exist_ok=True)
        manifest = ReleaseManifest(
            id=release_id,
            created_at=datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            files=files,
            **manifest_fields,
        )
        (building / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=2))
        os.replace(building, self.path(release_id))
        _fsync_dir(self.root)
        shutil.rmtree(staging, ignore_errors=True)
        return manifest

    def attach(self, release_id: str, relative: str, data: bytes) -> ReleaseManifest:
        """Add one file (e.g. its gate report) to a release that is not active yet, checksummed.

        A candidate is evaluated after it is created; its report belongs in it before anyone
        can activate it. The manifest is rewritten atomically; an active release is refused.
        """
        with self.locked():
            if self.current_id() == release_id:
                raise ReleaseError(f"release {release_id} is active: it can no longer change")
            manifest = self.get(release_id)
            if "/" in relative or relative in (MANIFEST, "") or relative in manifest.files:
                raise ReleaseError(f"cannot attach {relative!r} to release {release_id}")
            digest = hashlib.sha256(data).hexdigest()
            blob = self._blobs / digest[:2] / digest
            if not blob.exists():
                blob.parent.mkdir(parents=True, exist_ok=True)
                temporary = blob.with_name(f".{digest}.{secrets.token_hex(4)}")
                temporary.write_bytes(data)
                os.replace(temporary, blob)
                blob.chmod(0o444)
            folder = self.path(release_id)
            os.link(blob, folder / relative)
            updated = replace(manifest, files={**manifest.files, relative: digest})
            temporary = folder / f".{MANIFEST}.{secrets.token_hex(4)}"
            temporary.write_text(json.dumps(updated.to_dict(), indent=2))
            os.replace(temporary, folder / MANIFEST)
            _fsync_dir(folder)
            return updated

    def verify(self, release_id: str) -> builtins.list[str]:  # `list` here is the method above
        """Problems with a release's files (missing or changed); empty when it is whole."""
        manifest = self.get(release_id)
        folder = self.path(release_id)
        problems = []
        for relative, digest in manifest.files.items():
            path = folder / relative
            if not path.is_file():
                problems.append(f"missing {relative}")
            elif _sha256(path) != digest:
                problems.append(f"checksum mismatch in {relative}")
        return problems

    def activate(self, release_id: str) -> ReleaseManifest:
        """Make a verified release the current one, atomically."""
        manifest = self.get(release_id)
        problems = self.verify(release_id)
        if problems:
            raise ReleaseError(f"release {release_id} is damaged: {'; '.join(problems)}")
        pointer = self.root / POINTER
        temporary = self.root / f".{POINTER}.{secrets.token_hex(4)}"
        with temporary.open("w") as handle:
            handle.write(release_id)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, pointer)
        _fsync_dir(self.root)
        with (self.root / "history.jsonl").open("a") as history:
            history.write(
                json.dumps({"at": datetime.now(timezone.utc).isoformat(), "activated": release_id}) + "\n"
            )
        return manifest

    def rollback(self) -> ReleaseManifest:
        """Activate the parent of the current release."""
        current = self.current()
        if current is None:
            raise ReleaseError("no release is active")
        if current.parent is None:
            raise ReleaseError(f"release {current.id} has no parent to roll back to")
        return self.activate(current.parent)
