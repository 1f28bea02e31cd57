"""One dataset build, start to finish: :func:`build_datasets` and what it returns (:class:`DatasetBuild`).

It reads the log (:mod:`~training.datasets.log`) and the source texts of a release's index
snapshot (:mod:`~training.datasets.sources`), builds the rows (:mod:`~training.datasets.rows`),
keeps and splits them (:mod:`~training.datasets.selection`), and writes them with a manifest
(:mod:`~training.datasets.writing`), or returns the dataset that already holds the same content.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.privacy import erased_users_among
from assistant.releases import EMBEDDER_DIR, TUNED_PREFIX, ReleaseRegistry
from assistant.retrieval.embedder import Embedder
from assistant.retrieval.snapshot import IndexSnapshot
from assistant.store import Store
from training.config import DatasetConfig
from training.datasets.log import read_log
from training.datasets.rows import RowBuilder, ServingPrompts
from training.datasets.selection import select_rows, split_rows
from training.datasets.sources import Sources
from training.datasets.writing import (
    MANIFEST_FILE,
    build_manifest,
    content_hash,
    content_of,
    existing,
    features,
    write,
)

log = logging.getLogger(__name__)


class DatasetError(ValueError):
    """A dataset cannot be built from the given inputs; the message says what to fix."""


@dataclass
class DatasetBuild:
    """The outcome of :func:`build_datasets`: where the dataset is, or why nothing was written."""

    dataset_id: str | None
    path: Path | None
    skipped: bool = False
    reason: str | None = None
    reused: bool = False
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    def rows(self, kind: str, split: str) -> int:
        """How many rows of ``kind`` (``sft``, ``kto``, ``pairs``) the ``split`` holds (0 when none)."""
        return int(self.counts.get(kind, {}).get(split, 0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "path": str(self.path) if self.path else None,
            "skipped": self.skipped,
            "reason": self.reason,
            "reused": self.reused,
            "counts": self.counts,
        }


def _load_snapshot(
    settings: Settings, release_dir: Path | None, snapshot: IndexSnapshot | None
) -> tuple[IndexSnapshot | None, str | None]:
    if snapshot is not None:
        return snapshot, Path(release_dir).name if release_dir else None
    if release_dir is not None:
        release_dir = Path(release_dir)
        if not release_dir.is_dir():
            raise DatasetError(f"no release folder {release_dir}")
        return IndexSnapshot.load(release_dir), release_dir.name
    registry = ReleaseRegistry(settings.releases_dir)
    current = registry.current_id()
    if current is None:
        return None, None
    return IndexSnapshot.load(registry.path(current)), current


def _release_path(settings: Settings, release_id: str | None) -> Path | None:
    return ReleaseRegistry(settings.releases_dir).path(release_id) if release_id else None


def _embedder_of(snapshot: IndexSnapshot, release_path: Path | None) -> Embedder:
    """The embedder ``snapshot`` was indexed with: a model id, or the release's own tuned copy."""
    name = snapshot.info.embedder
    if not name.startswith(TUNED_PREFIX):
        return Embedder(name)
    if release_path is None:
        raise DatasetError(f"the snapshot's embedder {name} is a release's tuned copy: give its release_dir")
    return Embedder(str(release_path / EMBEDDER_DIR), name=name)


def build_datasets(
    store: Store,
    settings: Settings,
    *,
    release_dir: Path | None = None,
    snapshot: IndexSnapshot | None = None,
    since: datetime | None = None,
    out_dir: Path | None = None,
    exclude_user_ids: Iterable[str] = (),
    config: DatasetConfig | None = None,
    embedder: Embedder | None = None,
) -> DatasetBuild:
    """Build the SFT, preference and retriever-pair datasets from the log; write them with a manifest.

    ``snapshot`` (or the snapshot in ``release_dir``, else the active release's) supplies the
    source texts. ``since`` keeps only interactions logged (and curated answers changed) at or
    after it. ``exclude_user_ids`` leaves out those users' interactions and votes; customers
    erased with :func:`~assistant.privacy.erase_user` are always left out (their tombstones).
    ``config`` defaults to :meth:`DatasetConfig.from_settings`. Prompts are rebuilt as serving
    builds them (:func:`~assistant.generation.prompts.serving_messages`), with ``embedder``: the
    embedder the snapshot was indexed with (loaded from the release when not given). Writes
    ``out_dir/<dataset_id>/`` (default ``<home>/datasets``) through a temporary folder renamed
    at the end, so a reader never sees half a dataset.
    """
    config = config or DatasetConfig.from_settings(settings)
    out_dir = Path(out_dir) if out_dir is not None else settings.home / "datasets"
    if since is not None and since.tzinfo is None:
        raise DatasetError("since must be timezone-aware (UTC)")
    with store.session() as session:  # erased customers stay out, whoever calls
        excluded = frozenset(u for u in exclude_user_ids if u) | erased_users_among(session)
    snapshot, release_id = _load_snapshot(settings, release_dir, snapshot)
    if snapshot is None:
        log.info("dataset build skipped: no active release to read source texts from")
        return DatasetBuild(None, None, skipped=True, reason="no active release (ingest documents first)")

    if embedder is None:
        embedder = _embedder_of(
            snapshot, Path(release_dir) if release_dir else _release_path(settings, release_id)
        )
    prompts = ServingPrompts(embedder, sources=settings.prompt_sources, sentences=settings.prompt_sentences)
    builder = RowBuilder(config, Sources(snapshot), read_log(store, since, excluded), prompts)
    reviewed = builder.reviewed(since, excluded)
    reviewed_ids = {i for row in reviewed[0] for i in row.provenance["interaction_ids"]}
    kept = select_rows(
        reviewed, builder.voted(reviewed_ids), order=builder.order, drops=builder.drops, config=config
    )
    builder.add_negatives(kept["pairs"])

    splits = split_rows(kept, config.dev_share)
    counts = {kind: {s: len(rows) for s, rows in by_split.items()} for kind, by_split in splits.items()}
    drops = {kind: dict(sorted(c.items())) for kind, c in builder.drops.items() if c}
    drops.setdefault("feedback", {})
    if builder.log.excluded_feedback:
        drops["feedback"]["excluded_user"] = builder.log.excluded_feedback
    if not drops["feedback"]:
        del drops["feedback"]

    sft_rows = len(kept["sft"])
    if sft_rows < config.min_sft_rows:
        reason = f"too little new data: {sft_rows} SFT rows, at least {config.min_sft_rows} needed"
        log.info("dataset build skipped: %s", reason)
        return DatasetBuild(None, None, skipped=True, reason=reason, counts=counts)

    types = features()
    content = content_of(splits, types)
    excluded_hashes = sorted(hashlib.sha256(u.encode()).hexdigest() for u in excluded)
    digest = content_hash(content, config, excluded_hashes)
    twin = existing(out_dir, digest)
    if twin is not None:
        manifest = json.loads((twin / MANIFEST_FILE).read_text())
        log.info("dataset %s already holds this content; reusing it", twin.name)
        return DatasetBuild(twin.name, twin, reused=True, counts=manifest["counts"], manifest=manifest)

    now = datetime.now(timezone.utc)
    dataset_id = f"{now.strftime('%Y%m%d-%H%M%S')}-{digest}"
    manifest = build_manifest(
        dataset_id=dataset_id,
        created_at=now,
        digest=digest,
        release_id=release_id,
        snapshot=snapshot,
        since=since,
        excluded_hashes=excluded_hashes,
        config=config,
        counts=counts,
        drops=drops,
        kept=kept,
        splits=splits,
    )
    write(out_dir, dataset_id, content, types, manifest, config)
    path = out_dir / dataset_id
    log.info("dataset %s written: %s", dataset_id, counts)
    return DatasetBuild(dataset_id, path, counts=counts, manifest=manifest)
