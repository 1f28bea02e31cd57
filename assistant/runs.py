"""Run records, the one-at-a-time lock and promotion of the learning cycle, kept in the store.

A run writes its progress (:func:`update_run`, :func:`log_line`) as it goes, so the CLI and the
admin UI can show it live from any process; :func:`request_cancel` asks it to stop. The lock
(:func:`acquire_lock`) is a row whose INSERT only one process can win, refreshed by a
heartbeat: a run that crashed leaves a stale lock the next run takes over.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.config import Settings
from assistant.releases import ReleaseManifest, ReleaseRegistry
from assistant.store import Store
from assistant.store.models import RunLockRow, TrainingRunRow, utcnow

GATE_REPORT_FILE = "gate_report.json"  # the gate report a cycle attaches to its candidate
LOCK_NAME = "flywheel"
MAX_LOG_CHARS = 200_000
FINISHED = ("succeeded", "failed", "cancelled", "skipped")


class RunLocked(RuntimeError):
    """Another run holds the lock; the message names it."""


def child_env(settings: Settings) -> dict[str, str]:
    """The environment for a child process that must work on this data home and store."""
    return os.environ | {
        "ASSISTANT_HOME": str(settings.home),
        "ASSISTANT_DATABASE_URL": settings.resolved_database_url,
    }


def new_run_id() -> str:
    return f"run-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def create_run(store: Store, *, requested_by: str | None = None, run_id: str | None = None) -> str:
    """Record a queued run and return its id."""
    run_id = run_id or new_run_id()
    with store.session() as session:
        session.add(
            TrainingRunRow(
                id=run_id,
                status="queued",
                step=0,
                total_steps=0,
                requested_by=requested_by,
                cancel_requested=False,
                activated=False,
                log="",
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    return run_id


def get_run(session: Session, run_id: str) -> TrainingRunRow:
    run = session.get(TrainingRunRow, run_id)
    if run is None:
        raise LookupError(f"no run {run_id!r}")
    return run


def update_run(store: Store, run_id: str, **fields: Any) -> None:
    """Set fields of a run (stage, step, loss, status, …); ``updated_at`` follows."""
    with store.session() as session:
        session.execute(
            update(TrainingRunRow)
            .where(TrainingRunRow.id == run_id)
            .values(**fields, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def log_line(store: Store, run_id: str, line: str) -> None:
    """Append a time-stamped line to the run's log (the oldest lines go past a size cap)."""
    with store.session() as session:
        run = get_run(session, run_id)
        text = run.log + f"{utcnow().strftime('%H:%M:%S')} {line}\n"
        run.log = text[-MAX_LOG_CHARS:]
        run.updated_at = utcnow()


def request_cancel(store: Store, run_id: str) -> bool:
    """Ask a queued or running run to stop; False when it had already finished."""
    with store.session() as session:
        run = get_run(session, run_id)
        if run.status in FINISHED:
            return False
        run.cancel_requested = True
        run.updated_at = utcnow()
        return True


def cancel_requested(store: Store, run_id: str) -> bool:
    with store.session() as session:
        return bool(get_run(session, run_id).cancel_requested)


def list_runs(session: Session, limit: int = 50) -> list[TrainingRunRow]:
    query = select(TrainingRunRow).order_by(TrainingRunRow.created_at.desc()).limit(limit)
    return list(session.scalars(query))


def run_dict(run: TrainingRunRow, *, with_log: bool = False) -> dict[str, Any]:
    """One run as JSON (``assistant flywheel status --json``, the admin UI)."""
    data = {
        "id": run.id,
        "status": run.status,
        "stage": run.stage,
        "step": run.step,
        "total_steps": run.total_steps,
        "loss": run.loss,
        "examples": run.examples,
        "eta_s": run.eta_s,
        "requested_by": run.requested_by,
        "cancel_requested": run.cancel_requested,
        "dataset_id": run.dataset_id,
        "parent_release": run.parent_release,
        "candidate_release": run.candidate_release,
        "verdict": run.verdict,
        "activated": run.activated,
        "report": run.report,
        "result": run.result,
        "error": run.error,
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    if with_log:
        data["log"] = run.log
    return data


# --- the lock ----------------------------------------------------------------------------------


def acquire_lock(store: Store, run_id: str, *, stale_after: timedelta) -> None:
    """Hold the cycle lock for ``run_id``, or raise :class:`RunLocked` naming the holder."""
    now = utcnow()
    try:
        with store.session() as session:
            session.add(RunLockRow(name=LOCK_NAME, run_id=run_id, acquired_at=now, heartbeat_at=now))
        return
    except IntegrityError:
        pass
    with store.session() as session:
        held = session.get(RunLockRow, LOCK_NAME)
        if held is None:  # released meanwhile: try once more from the top
            return acquire_lock(store, run_id, stale_after=stale_after)
        if now - held.heartbeat_at < stale_after:
            raise RunLocked(f"run {held.run_id} is in progress (since {held.acquired_at:%Y-%m-%d %H:%M} UTC)")
        taken = session.execute(  # a crashed run's lock: take it over, unless someone else just did
            update(RunLockRow)
            .where(RunLockRow.name == LOCK_NAME, RunLockRow.heartbeat_at == held.heartbeat_at)
            .values(run_id=run_id, acquired_at=now, heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise RunLocked("another run took over the stale lock just now")


def heartbeat(store: Store, run_id: str) -> None:
    with store.session() as session:
        session.execute(
            update(RunLockRow)
            .where(RunLockRow.name == LOCK_NAME, RunLockRow.run_id == run_id)
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def release_lock(store: Store, run_id: str) -> None:
    with store.session() as session:
        session.execute(delete(RunLockRow).where(RunLockRow.name == LOCK_NAME, RunLockRow.run_id == run_id))


def lock_holder(store: Store) -> tuple[str, datetime] | None:
    with store.session() as session:
        held = session.get(RunLockRow, LOCK_NAME)
        return (held.run_id, held.heartbeat_at) if held else None


class PromotionError(ValueError):
    """A candidate that cannot be promoted (unknown, or failed without a reason)."""


def promote(
    store: Store, registry: ReleaseRegistry, release_id: str, *, actor: str, reason: str | None
) -> ReleaseManifest:
    """Activate a cycle's candidate; one the gate failed needs a ``reason``, recorded on its run."""
    with store.session() as session:
        run = session.scalar(select(TrainingRunRow).where(TrainingRunRow.candidate_release == release_id))
        run_id, verdict = (run.id, run.verdict) if run else (None, None)
    reason = (reason or "").strip()
    if verdict == "failed" and not reason:
        raise PromotionError(f"the gate failed release {release_id}: give the reason you promote it anyway")
    with registry.locked():
        manifest = registry.activate(release_id)
    if run_id is not None:
        fields: dict[str, Any] = {"activated": True}
        if verdict == "failed":
            fields["verdict"] = "overridden"
        update_run(store, run_id, **fields)
        log_line(store, run_id, f"promoted by {actor}" + (f": {reason}" if reason else ""))
    return manifest


def gate_report_of(store: Store, registry: ReleaseRegistry, release_id: str) -> dict[str, Any] | None:
    """The gate report of ``release_id``: the one its cycle attached to it, else the one on its run
    (None for releases no cycle made, such as an ingest's)."""
    attached = registry.path(release_id) / GATE_REPORT_FILE
    if attached.is_file():
        return json.loads(attached.read_text(encoding="utf-8"))
    with store.session() as session:
        run = session.scalar(select(TrainingRunRow).where(TrainingRunRow.candidate_release == release_id))
        return run.report if run else None


def run_for_dataset(store: Store, dataset_id: str, release_id: str, *, exclude: str) -> str | None:
    """A finished cycle that trained on ``dataset_id`` from, or into, ``release_id`` (makes reruns no-ops)."""
    query = select(TrainingRunRow.id).where(
        TrainingRunRow.dataset_id == dataset_id,
        TrainingRunRow.status == "succeeded",
        TrainingRunRow.id != exclude,
        (TrainingRunRow.parent_release == release_id) | (TrainingRunRow.candidate_release == release_id),
    )
    with store.session() as session:
        return session.scalars(query.limit(1)).first()


def report_table(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows (metric, current, candidate, change) for printing a gate report."""
    rows = []
    for name, pair in report["metrics"].items():
        cur, cand = pair["current"], pair["candidate"]
        change = f"{cand - cur:+.3f}" if cur is not None and cand is not None else ""
        rows.append(
            (name, "" if cur is None else f"{cur:.3f}", "" if cand is None else f"{cand:.3f}", change)
        )
    return rows
