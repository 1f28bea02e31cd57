"""Slack connector: customers ask in threads and DMs, leads review in a channel.

One bolt ``App`` (:func:`build_app`) serves both transports: HTTP mode mounted at
``POST /slack/events`` by :func:`install` (``assistant serve`` with the bot token and the signing
secret), and Socket Mode (``assistant slack`` with the bot token and the app token). The app
manifest to create the Slack app from is ``connectors/slack/manifest.yaml``.
"""

from connectors.slack.app import build_app
from connectors.slack.client import Pacer, Poster, build_client
from connectors.slack.escalation import slack_notifier
from connectors.slack.http import PATH, install
from connectors.slack.review import sweep

__all__ = ["PATH", "Pacer", "Poster", "build_app", "build_client", "install", "slack_notifier", "sweep"]
