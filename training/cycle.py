"""One learning cycle, end to end: log → datasets → training → candidate release → gate → activate.

:func:`run_cycle` is what ``assistant flywheel run`` (and the schedule, and the admin UI) call.
It holds the database lock, so a second cycle started meanwhile exits cleanly ("skipped"), and
it records every stage in its run record, so progress is visible from anywhere. Training starts
from the configured base models each time, on everything reviewed so far, so a cycle is
reproducible; the candidate is an ordinary release (kind ``cycle``) whose parent is the release
that was active, and it is activated only when the gate passes.

This module is the orchestration and the judging of candidates (the gate's measurements, and
the retrieval-only fallback candidate); the stages that train are in :mod:`training.stages`.
"""

from __future__ import annotations

import json
import os
import shutil
import traceback
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from assistant import runs
from assistant.config import Settings
from assistant.generation.prompts import PROMPT_VERSION
from assistant.releases import ReleaseManifest, ReleaseRegistry
from assistant.retrieval.embedder import Embedder
from assistant.store import Store
from assistant.store.models import utcnow
from training.datasets import DatasetBuild, build_datasets
from training.lora import RunCancelled
from training.stages import ADAPTER_DIR, CycleRun, generator_stage, retrieval_stage


@dataclass
class CycleResult:
    """What a cycle did; ``assistant flywheel run --json`` prints :meth:`to_dict`."""

    run_id: str
    status: str  # succeeded, skipped, failed, cancelled
    reason: str | None = None
    parent_release: str | None = None
    candidate_release: str | None = None
    dataset: dict[str, Any] | None = None
    stages: dict[str, Any] = field(default_factory=dict)
    verdict: str | None = None
    report: dict[str, Any] | None = None
    activated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_cycle(
    settings: Settings,
    store: Store,
    registry: ReleaseRegistry,
    *,
    run_id: str | None = None,
    requested_by: str | None = None,
    activate: bool | None = None,
    embedder: Embedder | None = None,
    force: bool = False,
) -> CycleResult:
    """Run one whole cycle; never raises for an expected outcome (skip, gate failure, cancel).

    ``run_id`` continues a queued run record (the admin UI makes one); ``activate`` overrides
    ``settings.cycle_activate``; ``embedder`` is the configured embedder, if already loaded;
    ``force`` trains again even when nothing is new since the last cycle on this release.
    """
    run_id = run_id or runs.create_run(store, requested_by=requested_by)
    run = CycleRun(store, run_id)
    result = CycleResult(run_id=run_id, status="running")
    stale = timedelta(minutes=settings.cycle_lock_stale_minutes)
    try:
        runs.acquire_lock(store, run_id, stale_after=stale)
    except runs.RunLocked as exc:
        return _finish(run, result, "skipped", reason=f"another cycle is running: {exc}")
    try:
        runs.update_run(store, run_id, status="running", started_at=utcnow())
        _cycle(settings, store, registry, run, result, activate, embedder, force)
        return _finish(run, result, "skipped" if result.reason else "succeeded")
    except RunCancelled:
        return _finish(run, result, "cancelled", reason="cancelled on request")
    except Exception as exc:  # recorded on the run for the engineer, then reported
        run.log(traceback.format_exc())
        return _finish(run, result, "failed", reason=f"{type(exc).__name__}: {exc}")
    finally:
        runs.release_lock(store, run_id)


def _finish(run: CycleRun, result: CycleResult, status: str, *, reason: str | None = None) -> CycleResult:
    result.status = status
    result.reason = reason or result.reason
    if result.reason:
        run.log(result.reason)
    runs.update_run(
        run.store,
        run.id,
        status=status,
        finished_at=utcnow(),
        error=result.reason if status == "failed" else None,
        result=result.to_dict(),
        candidate_release=result.candidate_release,
        parent_release=result.parent_release,
        verdict=result.verdict,
        report=result.report,
        activated=result.activated,
    )
    return result


def _cycle(
    settings: Settings,
    store: Store,
    registry: ReleaseRegistry,
    run: CycleRun,
    result: CycleResult,
    activate: bool | None,
    embedder: Embedder | None,
    force: bool,
) -> None:
    parent = registry.current()
    if parent is None:
        result.reason = "no active release: ingest a knowledge base first"
        return
    result.parent_release = parent.id
    runs.update_run(store, run.id, parent_release=parent.id)

    run.stage("datasets")
    build = build_datasets(store, settings, release_dir=registry.path(parent.id))
    result.dataset = build.to_dict() | {"manifest": None}
    if build.skipped or build.path is None or build.dataset_id is None:
        result.reason = build.reason
        return
    runs.update_run(store, run.id, dataset_id=build.dataset_id, examples=build.rows("sft", "train"))
    run.log(f"dataset {build.dataset_id}: {build.counts}")
    earlier = None if force else runs.run_for_dataset(store, build.dataset_id, parent.id, exclude=run.id)
    if earlier is not None:  # nothing new since: running again would only repeat that cycle
        result.reason = f"no new data since run {earlier} (dataset {build.dataset_id})"
        return

    staging = registry.staging_dir()
    try:
        adapter = generator_stage(settings, parent, registry, build, staging, run, result.stages)
        embedder_name, snapshot = retrieval_stage(
            settings, parent, registry, build, staging, run, result.stages
        )
        run.stage("release")
        snapshot.save(staging)
        candidate = registry.create(
            staging,
            parent=parent.id,
            kind="cycle",
            embedder=embedder_name,
            generator=parent.generator,
            adapter=adapter,
            prompt_version=PROMPT_VERSION,
            index=asdict(snapshot.info),
            notes={"run": run.id, "dataset": build.dataset_id, "stages": result.stages},
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.candidate_release = candidate.id
    runs.update_run(store, run.id, candidate_release=candidate.id)
    run.log(f"candidate release {candidate.id}")

    run.stage("gate")
    gate = _Gate(settings, store, registry, parent, build, embedder)
    report = _judge(gate, registry, candidate, run)
    retrieval_changed = candidate.embedder != parent.embedder  # a tuned embedder: a new index too
    if (
        report["verdict"] == "failed"
        and settings.cycle_retrieval_fallback
        and adapter == ADAPTER_DIR
        and retrieval_changed
    ):
        # the new adapter may be what failed: keep the better retrieval with the parent's adapter
        run.stage("release")
        candidate = _retrieval_only(registry, candidate, parent)
        result.candidate_release = candidate.id
        runs.update_run(store, run.id, candidate_release=candidate.id)
        run.log(f"retrieval-only candidate {candidate.id} (the parent's adapter)")
        run.stage("gate")
        report = _judge(gate, registry, candidate, run)
    result.report, result.verdict = report, report["verdict"]
    if report["verdict"] == "passed" and (settings.cycle_activate if activate is None else activate):
        run.stage("activate")
        with registry.locked():
            if registry.current_id() != parent.id:  # someone ingested or activated meanwhile
                result.reason = f"not activated: the active release changed from {parent.id} during the cycle"
                return
            registry.activate(candidate.id)
        result.activated = True
        run.log(f"activated {candidate.id}")


def _judge(
    gate: _Gate, registry: ReleaseRegistry, candidate: ReleaseManifest, run: CycleRun
) -> dict[str, Any]:
    """Gate ``candidate`` and keep the report with it (checksummed like its other files)."""
    report = gate.judge(candidate)
    registry.attach(candidate.id, runs.GATE_REPORT_FILE, json.dumps(report, indent=2).encode())
    run.log(f"gate {report['verdict']}" + (": " + "; ".join(report["reasons"]) if report["reasons"] else ""))
    return report


def _retrieval_only(
    registry: ReleaseRegistry, candidate: ReleaseManifest, parent: ReleaseManifest
) -> ReleaseManifest:
    """A second candidate: ``candidate``'s index and embedder with ``parent``'s adapter (or none)."""
    staging = registry.staging_dir()
    try:
        kept = [
            (registry.path(candidate.id), rel)
            for rel in candidate.files
            if rel != runs.GATE_REPORT_FILE and not _in(rel, candidate.adapter)
        ]
        kept += [(registry.path(parent.id), rel) for rel in parent.files if _in(rel, parent.adapter)]
        for folder, relative in kept:  # hard links: the files are immutable blobs already
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(folder / relative, target)
        return registry.create(
            staging,
            parent=parent.id,
            kind="cycle",
            embedder=candidate.embedder,
            generator=candidate.generator,
            adapter=parent.adapter,
            prompt_version=candidate.prompt_version,
            index=candidate.index,
            notes={**candidate.notes, "retrieval_only_of": candidate.id},
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _in(relative: str, folder: str | None) -> bool:
    return folder is not None and relative.startswith(folder.rstrip("/") + "/")


class _Gate:
    """The gate of one cycle: its sets and the parent's scores are measured once, then each
    candidate (the full one, perhaps a retrieval-only one) is judged against them."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: ReleaseRegistry,
        parent: ReleaseManifest,
        build: DatasetBuild,
        embedder: Embedder | None,
    ) -> None:
        from assistant.pipeline import Assistant
        from training.gate import EvalSets, dev_items, evaluate_release, load_golden, out_of_scope

        assert build.path is not None
        self.settings = settings
        self.parent = parent
        self.sets = EvalSets(
            dev=dev_items(build.path),
            golden=load_golden(Path(settings.golden_set)) if settings.golden_set else [],
            out_of_scope=out_of_scope(settings.gate_oos_samples) if settings.gate_oos_samples else [],
        )
        self.assistant = Assistant(settings, store, registry, embedder=embedder)
        self.current = evaluate_release(
            self.assistant, parent, self.sets, answer_samples=settings.gate_answer_samples
        )

    def judge(self, candidate: ReleaseManifest) -> dict[str, Any]:
        """Evaluate ``candidate`` on the same sets and decide; the report says why."""
        from training.gate import decide, evaluate_release, gate_report

        settings = self.settings
        measured = evaluate_release(
            self.assistant, candidate, self.sets, answer_samples=settings.gate_answer_samples
        )
        verdict = decide(
            measured,
            self.current,
            floors=settings.gate_floors,
            max_drop=settings.gate_max_drop,
            max_answer_drop=settings.gate_max_answer_drop,
        )
        return gate_report(
            candidate_id=candidate.id,
            current_id=self.parent.id,
            candidate=measured,
            current=self.current,
            verdict=verdict,
            sets=self.sets,
            floors=settings.gate_floors,
            max_drop=settings.gate_max_drop,
            max_answer_drop=settings.gate_max_answer_drop,
        )
