"""``assistant flywheel …``: run the learning cycle, watch it, cancel it, promote a candidate.

Same conventions as every `assistant` command: ``--json`` prints one JSON document; bad input exits
with code 2 and one line. ``flywheel run`` exits 0 when the cycle succeeded or was skipped
(too little data, another cycle running) and 1 when it failed or was cancelled.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from assistant import runs
from assistant.cli.common import (
    DEFAULT_ACTOR,
    ActorOption,
    JsonOption,
    fail,
    id_column,
    load_settings,
    open_store,
    out,
    print_json,
)
from assistant.cli.releases import activate_release
from assistant.plugins import manager as plugins
from assistant.releases import ReleaseRegistry

flywheel_app = typer.Typer(help="The learning cycle: feedback → datasets → training → gate → release.")
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(app: typer.Typer) -> None:
    app.add_typer(flywheel_app, name="flywheel")


def _run_cycle(settings, store, registry, **options):
    """One learning cycle, carried out by the installed training plugin (the ``training`` package)."""
    result = plugins().hook.run_cycle(settings=settings, store=store, registry=registry, **options)
    if result is None:
        fail("no learning cycle is installed: pip install 'support-assistant[train]' (in the checkout)")
    return result


def _watch(store, run_id: str, done: threading.Event) -> None:
    """A progress bar fed from the run record until ``done``."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"))
    with Progress(*columns, TimeRemainingColumn(), console=out, transient=True) as bar:
        task = bar.add_task("starting", total=None, detail="")
        while not done.wait(1.0):
            with store.session() as session:
                run = runs.get_run(session, run_id)
                stage, step, total, loss = run.stage, run.step, run.total_steps, run.loss
            detail = (
                f"step {step}/{total}" + (f" · loss {loss:.3f}" if loss is not None else "") if total else ""
            )
            bar.update(
                task, description=stage or "starting", completed=step, total=total or None, detail=detail
            )


@flywheel_app.command("run")
def flywheel_run(
    activate: Annotated[
        bool, typer.Option("--activate/--no-activate", help="Activate a candidate that passes the gate.")
    ] = True,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Carry out this queued run (admin UI).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Train again even when nothing is new since the last cycle.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """One whole cycle; a second one started meanwhile exits cleanly."""
    settings = load_settings()
    store = open_store(settings)
    registry = ReleaseRegistry(settings.releases_dir)
    run_id = run_id or runs.create_run(store, requested_by=DEFAULT_ACTOR)
    done = threading.Event()
    watcher = None
    if not as_json and out.is_terminal:
        watcher = threading.Thread(target=_watch, args=(store, run_id, done), daemon=True)
        watcher.start()
    try:
        result = _run_cycle(
            settings, store, registry, run_id=run_id, activate=activate, force=force, requested_by=None
        )
    finally:
        done.set()
        if watcher:
            watcher.join()
    if as_json:
        print_json(result.to_dict())
    else:
        _print_result(result.to_dict())
    if result.status in ("failed", "cancelled"):
        raise typer.Exit(1)


def _print_result(result: dict) -> None:
    out.print(
        f"run {result['run_id']}: {result['status']}" + (f" ({result['reason']})" if result["reason"] else "")
    )
    if result.get("candidate_release"):
        activated = "activated" if result["activated"] else "not activated"
        out.print(f"candidate {result['candidate_release']}: gate {result['verdict']}, {activated}")
    if result.get("report"):
        _print_report(result["report"])


def _print_report(report: dict) -> None:
    table = Table("metric", "current", "candidate", "change", title=f"gate: {report['verdict']}")
    for row in runs.report_table(report):
        table.add_row(*row)
    out.print(table)
    for reason in report["reasons"]:
        out.print(f"  - {reason}", markup=False)


def run_progress(run: dict) -> str:
    """What a run is doing or did, in words: stage, step, loss and ETA while it runs, then the gate."""
    parts = [run["status"]]
    if run["status"] in ("queued", "running"):
        parts += [run["stage"]] if run["stage"] else []
        parts += [f"step {run['step']}/{run['total_steps']}"] if run["total_steps"] else []
        parts += [f"about {run['eta_s']:.0f} s left"] if run["eta_s"] else []
    parts += [f"loss {run['loss']:.3f}"] if run["loss"] is not None else []
    parts += [f"gate {run['verdict']}"] if run["verdict"] else []
    parts += ["activated"] if run["activated"] else []
    return ", ".join(parts)


@flywheel_app.command("status")
def flywheel_status(
    run_id: Annotated[str | None, typer.Argument(help="One run (default: the latest runs).")] = None,
    show_log: Annotated[bool, typer.Option("--log", help="Print the run's log too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Recent runs, or one run with its stage, progress, gate report and log."""
    store = open_store(load_settings())
    with store.session() as session:
        if run_id is None:
            rows = [runs.run_dict(run) for run in runs.list_runs(session, limit=20)]
        else:
            try:
                rows = [runs.run_dict(runs.get_run(session, run_id), with_log=True)]
            except LookupError as exc:
                fail(str(exc))
    if as_json:
        print_json(rows if run_id is None else rows[0])
        return
    table = Table(id_column("run"), id_column("candidate"), "progress")  # a run id says when
    for row in rows:
        table.add_row(row["id"], row["candidate_release"] or "", run_progress(row))
    out.print(table)
    if run_id is not None:
        if rows[0]["report"]:
            _print_report(rows[0]["report"])
        if show_log:
            out.print(rows[0]["log"], markup=False, highlight=False)


@flywheel_app.command("cancel")
def flywheel_cancel(run_id: str, as_json: JsonOption = False) -> None:
    """Ask a queued or running cycle to stop (it stops at its next step, leaving no release)."""
    store = open_store(load_settings())
    try:
        asked = runs.request_cancel(store, run_id)
    except LookupError as exc:
        fail(str(exc))
    if not asked:
        fail(f"run {run_id} has already finished")
    print_json({"cancel_requested": run_id}) if as_json else out.print(f"asked run {run_id} to stop")


@flywheel_app.command("promote")
def flywheel_promote(
    release_id: str,
    reason: Annotated[str, typer.Option("--reason", help="Why (required when the gate failed it).")] = "",
    actor: ActorOption = DEFAULT_ACTOR,
    as_json: JsonOption = False,
) -> None:
    """Activate a cycle's candidate release; overriding a failed gate needs --reason."""
    activate_release(release_id, reason=reason, actor=actor, as_json=as_json)


def parse_every(value: str) -> float:
    """``24h``, ``30m``, ``90s`` or ``1d`` in seconds."""
    match = DURATION.match(value.strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"--every must look like 24h, 30m, 90s or 1d; got {value!r}")
    return float(match.group(1)) * SECONDS[match.group(2)]


@flywheel_app.command("schedule")
def flywheel_schedule(
    every: Annotated[
        str, typer.Option("--every", help="Time between cycle starts: 24h, 30m, 90s, 1d.")
    ] = "24h",
    cycles: Annotated[
        int, typer.Option("--cycles", help="Stop after this many cycles (0: run forever).")
    ] = 0,
) -> None:
    """Run cycles forever (a long-lived worker); cron or a Kubernetes CronJob can call `run` instead."""
    try:
        interval = parse_every(every)
    except ValueError as exc:
        fail(str(exc))
    settings = load_settings()
    store = open_store(settings)
    registry = ReleaseRegistry(settings.releases_dir)
    count = 0
    while True:
        started = time.monotonic()
        result = _run_cycle(
            settings, store, registry, run_id=None, activate=None, force=False, requested_by="schedule"
        )
        count += 1
        out.print(
            f"cycle {count}: run {result.run_id} {result.status}"
            + (f" ({result.reason})" if result.reason else "")
        )
        if cycles and count >= cycles:
            return
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
