"""Training configs take their defaults from :class:`~assistant.config.Settings`, where each is written once.

A stage's config is a frozen dataclass kept beside what it configures and saved beside the
artefact it made (peft style: ``LoraTrainingConfig`` → ``training_config.json``). Declare each
field that mirrors a setting with :func:`setting`: its default is that setting's default, so the
value lives in ``assistant/config.py`` alone (and in the settings table generated from it).
Subclass :class:`FromSettings` to get :meth:`~FromSettings.from_settings`, the config that a
process's settings (environment, ``.env``) name. Fields declared without :func:`setting` are
not settings (e.g. a fixed weight, pass-through trainer arguments).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field, fields
from typing import Any, TypeVar

from assistant.config import Settings

C = TypeVar("C", bound="FromSettings")


def _same(value: Any) -> Any:
    return value


def comma_list(value: str) -> tuple[str, ...]:
    """A comma-separated setting as a tuple of its non-empty, stripped parts."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def setting(name: str, parse: Callable[[Any], Any] = _same) -> Any:
    """A dataclass field mirroring ``Settings.<name>``; its default is that setting's default.

    ``parse`` turns the setting's value into the field's (e.g. :func:`comma_list` for a
    comma-separated string); it is applied to the default and in :meth:`FromSettings.from_settings`.
    """
    default = Settings.model_fields[name].get_default(call_default_factory=True)
    return field(default=parse(default), metadata={"setting": name, "parse": parse})


class FromSettings:
    """Mixin of a config dataclass whose :func:`setting` fields can be read from a ``Settings``."""

    @classmethod
    def from_settings(cls: type[C], settings: Settings) -> C:
        """The config ``settings`` name: every :func:`setting` field read from it, the rest defaults."""
        values = {
            f.name: f.metadata["parse"](getattr(settings, f.metadata["setting"]))
            for f in fields(cls)  # type: ignore[arg-type]  # subclasses are dataclasses
            if "setting" in f.metadata
        }
        return cls(**values)
