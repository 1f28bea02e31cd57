"""``assistant slack``: answer in Slack over Socket Mode (no public URL needed)."""

from __future__ import annotations

import logging

import typer

from assistant.cli.common import fail, load_settings, open_store, out


def register(app: typer.Typer) -> None:
    app.command("slack")(slack)


def slack() -> None:
    """Connect to Slack with Socket Mode and answer mentions, DMs and thread replies.

    Needs ASSISTANT_SLACK_BOT_TOKEN and ASSISTANT_SLACK_APP_TOKEN (see docs/slack.md, "Connect Slack").
    """
    settings = load_settings()
    try:
        from connectors.slack.app import build_app
        from connectors.slack.socket_mode import handler, missing_tokens
    except ImportError:
        fail("the Slack connector needs its extra: pip install -e '.[slack]' (in the checkout)")
    missing = missing_tokens(settings)
    if missing:
        fail(f"set {' and '.join(missing)} (see docs/slack.md, 'Connect Slack')")
    from assistant.pipeline import Assistant
    from assistant.releases import ReleaseRegistry

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    assistant = Assistant(settings, open_store(settings), ReleaseRegistry(settings.releases_dir))
    from assistant.api.app import release_watcher
    from connectors.slack.review import review_sweeper

    out.print("Loading the models…")
    release_watcher(assistant, settings.release_poll_seconds).start()  # loads now, then hot-swaps
    bolt = build_app(assistant, settings)
    sweeper = review_sweeper(bolt.support)
    if sweeper:
        sweeper.start()
    socket = handler(bolt, settings)
    out.print("Connected to Slack over Socket Mode; press Ctrl+C to stop.")
    socket.start()
