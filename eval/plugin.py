"""The evaluation package's plugin: it adds ``assistant eval …`` (see :mod:`assistant.plugins`)."""

from __future__ import annotations

import typer

from assistant.plugins import hookimpl


@hookimpl
def register_commands(app: typer.Typer) -> None:
    from eval.commands import register

    register(app)
