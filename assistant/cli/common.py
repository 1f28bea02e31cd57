"""What every ``assistant`` command shares: output, errors, settings and the store."""

from __future__ import annotations

import json
import os
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from rich.console import Console
from rich.table import Column

from assistant.config import Settings, get_settings
from assistant.store import Store

out = Console()
err = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
ActorOption = Annotated[
    str, typer.Option("--actor", help="Who acts (recorded with the action); $USER when not given.")
]
DEFAULT_ACTOR = os.environ.get("USER") or "cli"  # who a command acts as when --actor is not given


def fail(message: str) -> NoReturn:
    """Exit with code 2 and one line (never wrapped) saying what to fix."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def load_settings() -> Settings:
    """The settings, or exit 2 naming the invalid one."""
    try:
        return get_settings()
    except ValidationError as exc:  # its own str() repeats every input, secrets included
        problems = exc.errors(include_url=False, include_input=False, include_context=False)
        fail("invalid settings: " + "; ".join(_problem(p) for p in problems))


def _problem(error: ErrorDetails) -> str:
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def open_store(settings: Settings) -> Store:
    """The store, migrated to the latest schema (idempotent)."""
    store = Store(settings.resolved_database_url)
    store.upgrade()
    return store


def id_column(header: str) -> Column:
    """A table column of ids people copy into the next command: never cut short, others give way."""
    return Column(header, no_wrap=True)
