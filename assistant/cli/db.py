"""``assistant db …``: database maintenance."""

from __future__ import annotations

import typer

from assistant.cli.common import load_settings, open_store, out

db_app = typer.Typer(help="Database maintenance.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""
    settings = load_settings()
    open_store(settings)
    out.print("database is up to date")
