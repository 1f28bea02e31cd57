"""The training package's plugin: it carries out ``assistant flywheel run`` (see :mod:`assistant.plugins`)."""

from __future__ import annotations

from typing import Any

from assistant.plugins import hookimpl


@hookimpl
def run_cycle(settings, store, registry, run_id, activate, force, requested_by) -> Any:
    from training.cycle import run_cycle as cycle  # torch, trl and peft load only for a cycle

    return cycle(
        settings, store, registry, run_id=run_id, activate=activate, force=force, requested_by=requested_by
    )
