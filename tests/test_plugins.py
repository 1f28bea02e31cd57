"""Plugins: the installed packages plug into the core through pluggy; tests inject their own."""

from __future__ import annotations

from pathlib import Path

from assistant.config import Settings
from assistant.escalation import Escalation
from assistant.plugins import escalation_notifiers, hookimpl, manager, new_manager


def test_the_packages_above_the_core_are_installed_as_plugins() -> None:
    names = {name for name, _ in manager().list_name_plugin()}
    assert {"training", "eval", "slack"} <= names


def test_a_plugin_adds_its_notifiers(tmp_path: Path) -> None:
    def notify(escalation: Escalation) -> None: ...

    class Pager:
        @hookimpl
        def escalation_notifiers(self, settings: Settings) -> list:
            return [notify] if settings.escalation_webhook_secret == "page" else []

    plugins = new_manager(load_entry_points=False)
    plugins.register(Pager())
    settings = Settings(home=tmp_path, _env_file=None)
    assert escalation_notifiers(settings, plugins) == []
    assert escalation_notifiers(
        settings.model_copy(update={"escalation_webhook_secret": "page"}), plugins
    ) == [notify]


def test_slack_adds_its_notifier_only_when_it_has_a_channel(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, slack_bot_token="xoxb-test", _env_file=None)
    assert escalation_notifiers(settings) == []
    with_channel = settings.model_copy(update={"slack_escalation_channel": "C123"})
    assert len(escalation_notifiers(with_channel)) == 1
