"""``assistant releases …``: list, inspect, activate and roll back releases.

Activating a candidate the gate failed needs ``--reason`` (recorded on its run);
``assistant flywheel promote`` is the same action.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from assistant.cli.common import (
    DEFAULT_ACTOR,
    JsonOption,
    fail,
    id_column,
    load_settings,
    open_store,
    out,
    print_json,
)
from assistant.releases import ReleaseError, ReleaseRegistry
from assistant.runs import PromotionError, gate_report_of, promote

releases_app = typer.Typer(help="List, inspect, activate and roll back releases.")


def _manifest_row(manifest, current: str | None) -> dict:
    return {**manifest.to_dict(), "active": manifest.id == current}


@releases_app.command("list")
def releases_list(as_json: JsonOption = False) -> None:
    """Every release, oldest first; the active one is marked."""
    registry = ReleaseRegistry(load_settings().releases_dir)
    current = registry.current_id()
    rows = [_manifest_row(m, current) for m in registry.list()]
    if as_json:
        print_json([{k: v for k, v in r.items() if k != "files"} for r in rows])
        return
    table = Table("", id_column("release"), "kind", "created", "parent", "chunks", "adapter")
    for row in rows:
        table.add_row(
            "*" if row["active"] else "",
            row["id"],
            row["kind"],
            row["created_at"][:16].replace("T", " "),
            row["parent"] or "",
            str(row["index"].get("chunks", "")),
            row["adapter"] or "",
        )
    out.print(table)


@releases_app.command("show")
def releases_show(release_id: str, as_json: JsonOption = False) -> None:
    """One release's manifest, with the gate report of the cycle that made it."""
    settings = load_settings()
    registry = ReleaseRegistry(settings.releases_dir)
    try:
        row = _manifest_row(registry.get(release_id), registry.current_id())
    except ReleaseError as exc:
        fail(str(exc))
    row["gate"] = gate_report_of(open_store(settings), registry, release_id)
    print_json(row) if as_json else out.print_json(data=row)


@releases_app.command("activate")
def releases_activate(
    release_id: str,
    reason: Annotated[
        str, typer.Option("--reason", help="Why, when the gate failed this candidate (recorded).")
    ] = "",
    as_json: JsonOption = False,
) -> None:
    """Make a release active; running servers swap to it within seconds."""
    activate_release(release_id, reason=reason, actor=DEFAULT_ACTOR, as_json=as_json)


@releases_app.command("rollback")
def releases_rollback(as_json: JsonOption = False) -> None:
    """Activate the parent of the active release."""
    registry = ReleaseRegistry(load_settings().releases_dir)
    try:
        with registry.locked():
            manifest = registry.rollback()
    except ReleaseError as exc:
        fail(str(exc))
    print_json({"active": manifest.id}) if as_json else out.print(
        f"rolled back: release {manifest.id} is active"
    )


def activate_release(release_id: str, *, reason: str, actor: str, as_json: bool) -> None:
    """Activate ``release_id``; a candidate the gate failed needs ``reason`` (recorded on its run)."""
    settings = load_settings()
    try:
        manifest = promote(
            open_store(settings),
            ReleaseRegistry(settings.releases_dir),
            release_id,
            actor=actor,
            reason=reason,
        )
    except (PromotionError, ReleaseError) as exc:
        fail(str(exc))
    print_json({"active": manifest.id}) if as_json else out.print(f"release {manifest.id} is active")
