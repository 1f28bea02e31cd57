"""The Slack Web API client: settings' base URL, 429 retries honouring Retry-After, per-channel pacing."""

from __future__ import annotations

import threading
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from assistant.config import Settings

RATE_LIMIT_RETRIES = 3
CHANNEL_INTERVAL_S = 1.0  # Slack allows about one message per second per channel


def build_client(settings: Settings) -> WebClient:
    """A ``WebClient`` for the bot token at ``settings.slack_api_url`` that waits out 429s."""
    base_url = settings.slack_api_url.rstrip("/") + "/"
    client = WebClient(token=settings.slack_bot_token.get_secret_value() or None, base_url=base_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    if not any(isinstance(h, ConnectionErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(ConnectionErrorRetryHandler())
    return client


class Pacer:
    """Spaces calls per channel by at least ``interval_s`` (threads wait their turn)."""

    def __init__(self, interval_s: float | None = None) -> None:
        self.interval_s = CHANNEL_INTERVAL_S if interval_s is None else interval_s
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        if self.interval_s <= 0:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(channel, 0.0))
            self._next[channel] = slot + self.interval_s
        if slot > now:
            time.sleep(slot - now)


class Poster:
    """What the app posts, paced per channel: messages, updates, ephemeral notes."""

    def __init__(self, client: WebClient, pacer: Pacer | None = None) -> None:
        self.client = client
        self.pacer = pacer or Pacer()

    def post(
        self, channel: str, text: str, *, blocks: list | None = None, thread_ts: str | None = None
    ) -> str:
        """Post a message; returns its ``ts``."""
        self.pacer.wait(channel)
        kwargs: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False}
        if blocks is not None:
            kwargs["blocks"] = blocks
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        return self.client.chat_postMessage(**kwargs)["ts"]

    def update(self, channel: str, ts: str, text: str, *, blocks: list | None = None) -> None:
        self.pacer.wait(channel)
        kwargs: dict[str, Any] = {"channel": channel, "ts": ts, "text": text}
        if blocks is not None:
            kwargs["blocks"] = blocks
        self.client.chat_update(**kwargs)

    def ephemeral(self, channel: str, user: str, text: str, *, thread_ts: str | None = None) -> None:
        self.pacer.wait(channel)
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        self.client.chat_postEphemeral(**kwargs)

    def permalink(self, channel: str, ts: str) -> str | None:
        try:
            return self.client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
        except Exception:  # a missing link never stops a hand-off
            return None
