"""Slack connector: customers ask in threads and DMs, leads review in a channel.

One bolt ``App`` (:func:`connectors.slack.app.build_app`) serves both transports: HTTP mode
mounted at ``POST /slack/events`` by :func:`connectors.slack.http.install` (``assistant serve``
with the bot token and the signing secret), and Socket Mode (``assistant slack`` with the bot
token and the app token). :mod:`connectors.slack.plugin` plugs it into the core (commands,
routes, the escalation notifier). The app manifest to create the Slack app from is
``connectors/slack/manifest.yaml``.

Nothing is imported here, so the plugin loads without the ``slack`` extra installed.
"""
