"""Plugin hooks: how training, evaluation and connectors plug into the core without it importing them.

The core (everything under ``assistant/``) never imports ``training``, ``eval`` or
``connectors``; those packages register themselves here instead, through the ``assistant``
entry-point group of the distribution (``pyproject.toml``), with pluggy (the plugin library of
pytest and tox). A third-party package adds a connector or a command the same way::

    # myconnector/plugin.py
    from assistant.plugins import hookimpl

    @hookimpl
    def escalation_notifiers(settings):
        return [my_notifier(settings)] if settings.my_setting else []

    # its pyproject.toml
    [project.entry-points.assistant]
    myconnector = "myconnector.plugin"

A plugin module must import quickly and without its optional extras: import heavy or optional
libraries inside the hook bodies. Tests inject plugins by registering an object with hook
methods on a fresh :func:`new_manager`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI

    from assistant.config import Settings
    from assistant.escalation import Notifier
    from assistant.periodic import Periodic
    from assistant.pipeline import Assistant
    from assistant.releases import ReleaseRegistry
    from assistant.store import Store

PROJECT = "assistant"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Hooks:
    """What a plugin can provide; each hook is optional.

    An implementation may return ``None`` to add nothing: pluggy leaves ``None`` out of a hook's
    results (and, for a ``firstresult`` hook, asks the next plugin), hence the ``| None`` below.
    """

    @hookspec
    def register_commands(self, app: typer.Typer) -> None:
        """Add commands or command groups to the ``assistant`` CLI (``eval``, ``slack``)."""

    @hookspec
    def escalation_notifiers(self, settings: Settings) -> Sequence[Notifier] | None:
        """The notifiers this plugin adds for ``settings`` (none when it is not configured)."""

    @hookspec
    def install_channels(self, app: FastAPI, assistant: Assistant) -> Sequence[Periodic] | None:
        """Mount a channel's routes on the HTTP app (e.g. ``/slack/events``) when it is configured;
        return the background chores it needs (started and stopped with the app)."""

    @hookspec(firstresult=True)
    def run_cycle(
        self,
        settings: Settings,
        store: Store,
        registry: ReleaseRegistry,
        run_id: str | None,
        activate: bool | None,
        force: bool,
        requested_by: str | None,
    ) -> Any:
        """Run one learning cycle (the ``training`` package); returns its result, which has
        ``run_id``, ``status``, ``reason`` and ``to_dict()``. The first plugin that answers wins."""


def new_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """A plugin manager with the hooks above and, by default, every installed plugin."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(Hooks)
    if load_entry_points:
        manager.load_setuptools_entrypoints(PROJECT)
    return manager


@lru_cache(maxsize=1)
def manager() -> pluggy.PluginManager:
    """The process's plugin manager (installed plugins, loaded once)."""
    return new_manager()


def escalation_notifiers(settings: Settings, plugins: pluggy.PluginManager | None = None) -> list[Notifier]:
    """Every notifier the installed plugins configure for ``settings``, in registration order."""
    hook = (plugins or manager()).hook
    return [notifier for found in hook.escalation_notifiers(settings=settings) for notifier in found]
