"""Socket Mode: the same bolt app over a WebSocket (no public URL needed), for ``assistant slack``."""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from assistant.config import Settings


def missing_tokens(settings: Settings) -> list[str]:
    """The settings Socket Mode still needs (empty: ready)."""
    needed = {
        "ASSISTANT_SLACK_BOT_TOKEN": settings.slack_bot_token,
        "ASSISTANT_SLACK_APP_TOKEN": settings.slack_app_token,
    }
    return [name for name, value in needed.items() if not value.get_secret_value()]


def handler(app: App, settings: Settings) -> SocketModeHandler:
    """A Socket Mode handler for ``app`` (connect with ``.start()`` or ``.connect()``)."""
    return SocketModeHandler(app, settings.slack_app_token.get_secret_value())
