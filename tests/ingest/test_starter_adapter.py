"""The starter adapter: the first release of an install carries it when it fits the generator,
later releases carry it on, and a missing or mismatched one leaves the base model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from assistant.config import DEFAULT_GENERATOR, PROJECT_ROOT, Settings
from assistant.ingest.runner import ingest_paths
from assistant.releases import STARTER_DIR, ReleaseRegistry, starter_adapter
from assistant.retrieval.embedder import Embedder
from assistant.store import Store


def make_starter(folder: Path, generator: str = DEFAULT_GENERATOR) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    (folder / "starter.json").write_text(json.dumps({"generator": generator, "rows": 3}))
    return folder


def ingest(settings: Settings, embedder: Embedder, kb: Path):
    store = Store(settings.resolved_database_url)
    store.upgrade()
    registry = ReleaseRegistry(settings.releases_dir)
    report = ingest_paths([kb], settings=settings, store=store, registry=registry, embedder=embedder)
    return registry, registry.get(report.release)


def test_the_first_release_carries_the_starter_and_later_ones_keep_it(
    settings: Settings, embedder: Embedder, kb_dir: Path, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"starter_adapter": str(make_starter(tmp_path / "starter"))})
    registry, first = ingest(settings, embedder, kb_dir)
    assert first.adapter == STARTER_DIR
    assert (registry.path(first.id) / STARTER_DIR / "adapter_model.safetensors").read_bytes() == b"weights"
    (kb_dir / "new.md").write_text("# Gift cards\n\nGift cards never expire.\n")
    registry, second = ingest(settings, embedder, kb_dir)
    assert second.parent == first.id and second.adapter == STARTER_DIR
    assert (registry.path(second.id) / STARTER_DIR / "starter.json").is_file()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"generator": "Qwen/Qwen2.5-0.5B-Instruct"}, "trained for HuggingFaceTB/SmolLM2-135M-Instruct"),
        ({"starter_adapter": "no/such/folder"}, "no starter adapter at"),
        ({"generator_backend": "remote"}, ""),
        ({"starter_adapter": ""}, ""),
    ],
)
def test_a_starter_that_does_not_fit_leaves_the_base_model(
    change: dict, message: str, settings: Settings, embedder: Embedder, kb_dir: Path, tmp_path: Path, caplog
) -> None:
    settings = settings.model_copy(
        update={"starter_adapter": str(make_starter(tmp_path / "starter")), **change}
    )
    with caplog.at_level(logging.INFO, logger="assistant.releases"):
        registry, first = ingest(settings, embedder, kb_dir)
    assert first.adapter is None and not (registry.path(first.id) / STARTER_DIR).exists()
    assert message in caplog.text


def test_the_shipped_starter_is_found_from_any_folder_and_fits_the_default_generator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    found = starter_adapter(Settings(starter_adapter="demo/starter-adapter", _env_file=None))
    assert found == PROJECT_ROOT / "demo" / "starter-adapter"
    assert (found / "adapter_model.safetensors").stat().st_size > 1_000_000
    assert Settings.model_fields["starter_adapter"].default == "demo/starter-adapter"
