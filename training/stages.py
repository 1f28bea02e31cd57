"""The training stages of a learning cycle, and the run record they report into.

Each stage turns the cycle's dataset into one part of the candidate release, in the cycle's
staging folder, or keeps the parent release's part and says why in ``stages`` (the cycle's
per-stage summary, shown in its result and kept in the release's notes):

- :func:`generator_stage` — LoRA SFT (in this process, or in the processes that
  ``settings.train_launcher`` starts), then KTO when ``settings.train_kto``; the adapter folder;
- :func:`retrieval_stage` — the tuned embedder and the parent's index re-embedded with it.

Their configs are built from the settings (:meth:`~training.defaults.FromSettings.from_settings`).
:class:`CycleRun` reports stages, steps and loss into the run record, and stops a stage at the
next step once the run is cancelled (:class:`~training.lora.RunCancelled`).
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from assistant import runs
from assistant.config import Settings
from assistant.ingest.runner import reembed
from assistant.releases import EMBEDDER_DIR, TUNED_PREFIX, ReleaseManifest, ReleaseRegistry
from assistant.retrieval.embedder import Embedder
from assistant.retrieval.snapshot import IndexSnapshot
from assistant.store import Store
from training.datasets import DatasetBuild
from training.lora import LoraTrainingConfig, Progress, RunCancelled, TrainResult

log = logging.getLogger(__name__)
ADAPTER_DIR = "adapter"  # the candidate's adapter folder, when the cycle trained one


class CycleRun:
    """The run record of one cycle (:mod:`assistant.runs`), updated as it goes; its heartbeat too."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.id = run_id

    def stage(self, name: str) -> None:
        """Start stage ``name`` (its steps at 0); raises :class:`RunCancelled` if the run was cancelled."""
        self.check_cancel()
        runs.update_run(self.store, self.id, stage=name, step=0, total_steps=0, loss=None, eta_s=None)
        runs.log_line(self.store, self.id, f"stage {name}")
        runs.heartbeat(self.store, self.id)

    def progress(self, progress: Progress) -> None:
        """A training step done: step, loss and time left (a trainer's ``on_progress``)."""
        runs.update_run(
            self.store,
            self.id,
            step=progress.step,
            total_steps=progress.total_steps,
            loss=progress.loss,
            eta_s=progress.eta_s,
        )
        runs.heartbeat(self.store, self.id)

    def steps(self, done: int, total: int) -> None:
        """Progress of a stage that has no loss (re-embedding the index)."""
        runs.update_run(self.store, self.id, step=done, total_steps=total)

    def should_stop(self) -> bool:
        """Whether someone asked to cancel the run (a trainer's ``should_stop``)."""
        return runs.cancel_requested(self.store, self.id)

    def check_cancel(self) -> None:
        if self.should_stop():
            raise RunCancelled

    def log(self, line: str) -> None:
        """Add ``line`` to the run's log (and this process's)."""
        log.info("%s: %s", self.id, line)
        runs.log_line(self.store, self.id, line)


def generator_stage(
    settings: Settings,
    parent: ReleaseManifest,
    registry: ReleaseRegistry,
    build: DatasetBuild,
    staging: Path,
    run: CycleRun,
    stages: dict[str, Any],
) -> str | None:
    """Train the LoRA adapter (and KTO) into ``staging``; returns the release's adapter folder name."""
    assert build.path is not None
    if not settings.train_sft or settings.generator_backend != "local":
        if parent.adapter:  # keep serving the adapter the parent had
            shutil.copytree(registry.path(parent.id) / parent.adapter, staging / parent.adapter)
        stages["sft"] = {"skipped": "off in settings" if not settings.train_sft else "remote generator"}
        return parent.adapter
    from assistant.generation.local import resolve_weights
    from training.lora import train_sft

    base = resolve_weights(settings.generator, settings.model_cache_dir)
    config = LoraTrainingConfig.from_settings(settings)
    run.stage("sft")
    if settings.train_launcher:
        sft = _launch_sft(settings, base, build.path / "sft", staging / ADAPTER_DIR, config, run)
    else:
        sft = train_sft(
            base,
            build.path / "sft",
            staging / ADAPTER_DIR,
            config,
            on_progress=run.progress,
            should_stop=run.should_stop,
        )
    if sft.cancelled:
        raise RunCancelled
    stages["sft"] = {
        "examples": sft.examples,
        "steps": sft.steps,
        "train_loss": sft.train_loss,
        "eval_loss": sft.eval_loss,
        "seconds": round(sft.seconds, 1),
    }
    if settings.train_kto:
        _train_kto(base, build, staging, run, stages)
    return ADAPTER_DIR


def _launch_sft(
    settings: Settings, base: str, data: Path, out: Path, config: LoraTrainingConfig, run: CycleRun
) -> TrainResult:
    """The SFT stage in child processes started by ``settings.train_launcher`` (multi-GPU)."""
    command = shlex.split(settings.train_launcher)
    beside = Path(sys.executable).parent / command[0]  # `accelerate` from this environment
    if "/" not in command[0] and beside.exists():
        command[0] = str(beside)
    command += ["-m", "training.lora", "--base", base, "--data", str(data), "--out", str(out)]
    command += ["--config", json.dumps(asdict(config)), "--run-id", run.id]
    run.log("launch: " + " ".join(command))
    env = runs.child_env(settings)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        run.check_cancel()
        raise RuntimeError(f"the SFT launcher failed ({done.returncode}): {done.stderr[-2000:]}")
    fields = json.loads(done.stdout.strip().splitlines()[-1])
    return TrainResult(**(fields | {"adapter_dir": Path(fields["adapter_dir"])}))


def _train_kto(base: str, build: DatasetBuild, staging: Path, run: CycleRun, stages: dict[str, Any]) -> None:
    """Tune the SFT adapter in ``staging`` with KTO, in its place (without both 👍 and 👎 rows it stands)."""
    from training.kto import train_kto

    assert build.path is not None
    run.stage("kto")
    try:
        kto = train_kto(
            base,
            staging / ADAPTER_DIR,
            build.path / "kto",
            staging / ".kto",
            on_progress=run.progress,
            should_stop=run.should_stop,
        )
    except ValueError as exc:  # e.g. only 👍 so far: the SFT adapter stands
        stages["kto"] = {"skipped": str(exc)}
        run.log(f"kto skipped: {exc}")
        return
    if kto.cancelled:
        raise RunCancelled
    shutil.rmtree(staging / ADAPTER_DIR)
    (staging / ".kto").rename(staging / ADAPTER_DIR)
    stages["kto"] = {"examples": kto.examples, "steps": kto.steps, "train_loss": kto.train_loss}


def retrieval_stage(
    settings: Settings,
    parent: ReleaseManifest,
    registry: ReleaseRegistry,
    build: DatasetBuild,
    staging: Path,
    run: CycleRun,
    stages: dict[str, Any],
) -> tuple[str, IndexSnapshot]:
    """Tune the embedder and re-embed the parent's index with it, or keep the parent's index."""
    assert build.path is not None
    snapshot = IndexSnapshot.load(registry.path(parent.id))
    pairs = build.rows("pairs", "train")
    if not settings.train_retriever or pairs < 2:
        why = "off in settings" if not settings.train_retriever else f"{pairs} pairs (needs 2)"
        stages["retriever"] = {"skipped": why}
        if parent.embedder.startswith(TUNED_PREFIX):
            shutil.copytree(registry.path(parent.id) / EMBEDDER_DIR, staging / EMBEDDER_DIR)
        return parent.embedder, snapshot
    from training.retriever import RetrieverTrainingConfig, train_retriever

    run.stage("retriever")
    config = RetrieverTrainingConfig.from_settings(settings)
    tuned = train_retriever(settings.embedder, build.path / "pairs", staging / EMBEDDER_DIR, config)
    stages["retriever"] = {
        "examples": tuned.examples,
        "steps": tuned.steps,
        "train_loss": tuned.train_loss,
        "seconds": round(tuned.seconds, 1),
    }
    run.check_cancel()
    run.stage("index")
    name = f"{TUNED_PREFIX}{run.id}"
    embedder = Embedder(str(staging / EMBEDDER_DIR), name=name)
    return name, reembed(snapshot, embedder, settings, lambda _stage, done, total: run.steps(done, total))
