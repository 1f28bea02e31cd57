"""Learning-cycle runs in the admin UI and API: engineers start, watch, cancel and promote.

A run started here is carried out by ``assistant flywheel run --run-id ID`` in a child
process (training must not share the server's memory or stall its requests); the pages read
its progress from the run record, so any replica can show it.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from assistant import runs
from assistant.admin.api import Reader
from assistant.admin.api import router as api_router
from assistant.admin.deps import Principal, require_roles
from assistant.admin.pages import render
from assistant.api.deps import assistant_of
from assistant.api.schemas import error_responses
from assistant.config import Settings
from assistant.releases import ReleaseError

router = APIRouter(prefix="/admin", include_in_schema=False)
Engineer = Annotated[Principal, Depends(require_roles("engineer"))]


def spawn_cycle(settings: Settings, run_id: str) -> None:
    """Carry out a queued run in a detached child process with this server's data home and store."""
    log_dir = settings.home / "runs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{run_id}.log").open("ab") as output:
        subprocess.Popen(  # noqa: S603 (our own CLI, fixed arguments)
            [sys.executable, "-m", "assistant.cli", "flywheel", "run", "--run-id", run_id, "--json"],
            env=runs.child_env(settings),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _launcher(request: Request):
    return getattr(request.app.state, "run_launcher", spawn_cycle)


def _run(request: Request, run_id: str) -> dict[str, Any]:
    with assistant_of(request).store.session() as session:
        try:
            return runs.run_dict(runs.get_run(session, run_id), with_log=True)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc


def start(request: Request, principal: Principal) -> str:
    """Queue a run and launch it; 409 while another cycle holds the lock."""
    store = assistant_of(request).store
    holder = runs.lock_holder(store)
    if holder is not None:
        raise HTTPException(409, f"run {holder[0]} is in progress; wait for it or cancel it")
    run_id = runs.create_run(store, requested_by=principal.username)
    _launcher(request)(assistant_of(request).settings, run_id)
    return run_id


def cancel(request: Request, run_id: str) -> None:
    try:
        if not runs.request_cancel(assistant_of(request).store, run_id):
            raise HTTPException(409, f"run {run_id} has already finished")
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc


def promote(request: Request, run_id: str, principal: Principal, reason: str) -> str:
    run = _run(request, run_id)
    if not run["candidate_release"]:
        raise HTTPException(409, f"run {run_id} made no candidate release")
    assistant = assistant_of(request)
    try:
        runs.promote(
            assistant.store,
            assistant.registry,
            run["candidate_release"],
            actor=principal.username,
            reason=reason,
        )
    except (runs.PromotionError, ReleaseError) as exc:
        raise HTTPException(400, str(exc)) from exc
    return run["candidate_release"]


# --- pages -------------------------------------------------------------------------------------


@router.get("/runs")
def runs_page(request: Request, principal: Reader) -> Response:
    with assistant_of(request).store.session() as session:
        rows = [runs.run_dict(run) for run in runs.list_runs(session)]
    return render(
        request, "runs.html", principal, rows=rows, busy=runs.lock_holder(assistant_of(request).store)
    )


@router.post("/runs")
def runs_start(request: Request, principal: Engineer) -> Response:
    return RedirectResponse(f"/admin/runs/{start(request, principal)}", status_code=303)


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str, principal: Reader) -> Response:
    run = _run(request, run_id)
    return render(request, "run.html", principal, run=run, live=run["status"] in ("queued", "running"))


@router.post("/runs/{run_id}/cancel")
def run_cancel(request: Request, run_id: str, principal: Engineer) -> Response:
    cancel(request, run_id)
    return RedirectResponse(f"/admin/runs/{run_id}", status_code=303)


@router.post("/runs/{run_id}/promote")
def run_promote(
    request: Request, run_id: str, principal: Engineer, reason: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    promote(request, run_id, principal, reason)
    return RedirectResponse(f"/admin/runs/{run_id}", status_code=303)


# --- JSON API (same actions, for automation) ----------------------------------------------------


@api_router.get("/runs")
def api_runs(request: Request, _: Reader) -> list[dict[str, Any]]:
    """Recent learning-cycle runs, newest first."""
    with assistant_of(request).store.session() as session:
        return [runs.run_dict(run) for run in runs.list_runs(session)]


@api_router.get("/runs/{run_id}", responses=error_responses(404))
def api_run(request: Request, run_id: str, _: Reader) -> dict[str, Any]:
    """One run: stage, step, loss, ETA, gate report, log."""
    return _run(request, run_id)


@api_router.post("/runs", status_code=202, responses=error_responses(409))
def api_start(request: Request, principal: Engineer) -> dict[str, str]:
    """Start a cycle in the background; poll ``GET /admin/api/runs/{id}``."""
    return {"run_id": start(request, principal)}


@api_router.post("/runs/{run_id}/cancel", status_code=202, responses=error_responses(404, 409))
def api_cancel(request: Request, run_id: str, _: Engineer) -> dict[str, str]:
    cancel(request, run_id)
    return {"cancel_requested": run_id}


@api_router.post("/runs/{run_id}/promote", responses=error_responses(400, 404, 409, 413))
def api_promote(
    request: Request, run_id: str, principal: Engineer, body: dict[str, str] | None = None
) -> dict[str, str]:
    """Activate the run's candidate; a candidate the gate failed needs ``{"reason": "…"}``."""
    return {"active": promote(request, run_id, principal, (body or {}).get("reason", ""))}
