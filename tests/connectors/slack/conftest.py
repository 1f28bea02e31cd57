"""Slack scenarios: the real FastAPI app, a real store and index, the mock Web API, signed requests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from assistant.api.app import create_app
from assistant.config import Settings
from tests.connectors.slack import mock_web_api
from tests.connectors.slack.mock_web_api import BOT_USER_ID, TEAM_ID, MockSlack
from tests.fakes import FakeGenerator

SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
REVIEW_CHANNEL = "CREVIEW"
ESCALATION_CHANNEL = "CESCALATE"
LEAD = "ULEAD"


class GatedGenerator(FakeGenerator):
    """The fake generator, held back until ``gate`` is set (to prove nothing waits for it)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()

    def stream(self, messages, *, max_new_tokens: int = 64, usage=None):
        if not self.gate.wait(timeout=30):
            raise RuntimeError("gate never opened")
        yield from super().stream(messages, max_new_tokens=max_new_tokens, usage=usage)


@pytest.fixture
def mock_slack(monkeypatch) -> Iterator[MockSlack]:
    monkeypatch.setattr("connectors.slack.client.CHANNEL_INTERVAL_S", 0.0)  # pacing has its own test
    state, server = mock_web_api.serve()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def slack_overrides() -> dict[str, Any]:
    """Per-test settings on top of :func:`slack_settings` (override the fixture to change them)."""
    return {}


@pytest.fixture
def slack_settings(tmp_path: Path, db_url: str, mock_slack: MockSlack, slack_overrides) -> Settings:
    values: dict[str, Any] = {
        "home": tmp_path / "home",
        "database_url": db_url,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SECRET,
        "slack_api_url": mock_slack.url,
        "slack_review_channel": REVIEW_CHANNEL,
        "slack_escalation_channel": ESCALATION_CHANNEL,
        "slack_lead_users": LEAD,
    }
    values.update(slack_overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def generator() -> GatedGenerator:
    return GatedGenerator()


@pytest.fixture
def slack_assistant(slack_settings: Settings, kb_dir: Path, make_assistant, generator):
    built = make_assistant(slack_settings, generator)
    built.ingest([kb_dir])
    built.refresh()
    return built


@pytest.fixture
def slack(slack_assistant, mock_slack) -> Iterator[SlackDriver]:
    with TestClient(create_app(slack_assistant, watch_releases=False)) as client:
        yield SlackDriver(client, mock_slack)


def sign(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature or ""}


class SlackDriver:
    """Plays Slack: signed event and interaction requests to ``/slack/events``."""

    def __init__(self, client: TestClient, mock: MockSlack) -> None:
        self.client = client
        self.mock = mock
        self._ids = iter(range(1, 10_000))

    def post(self, body: str, content_type: str, headers: dict[str, str] | None = None):
        signed = {"Content-Type": content_type, **sign(body), **(headers or {})}
        return self.client.post("/slack/events", content=body.encode("utf-8"), headers=signed)

    def event_body(self, event: dict[str, Any], event_id: str | None = None) -> str:
        envelope = {
            "token": "legacy",
            "team_id": TEAM_ID,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):06d}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
        return json.dumps(envelope)

    def event(self, event: dict[str, Any], event_id: str | None = None, headers=None):
        return self.post(self.event_body(event, event_id), "application/json", headers)

    def mention(self, text: str, *, channel="CSUPPORT", user="UCUSTOMER", ts=None, thread_ts=None, **kw):
        ts = ts or f"1690000000.{next(self._ids):06d}"
        event = {
            "type": "app_mention",
            "user": user,
            "text": f"<@{BOT_USER_ID}> {text}",
            "ts": ts,
            "channel": channel,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event, **kw), ts

    def message(self, text: str, *, channel="CSUPPORT", user="UCUSTOMER", channel_type="channel", **extra):
        ts = extra.pop("ts", None) or f"1690000000.{next(self._ids):06d}"
        event = {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel}
        event["channel_type"] = channel_type
        event.update(extra)
        return self.event(event), ts

    def interaction(self, payload: dict[str, Any]):
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def click(self, action_id: str, value: str, *, user: str, message: dict[str, Any], channel: str):
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": user},
            "api_app_id": "A0001",
            "token": "legacy",
            "trigger_id": f"trigger-{next(self._ids)}",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel},
            "channel": {"id": channel},
            "message": message,
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "type": "button",
                    "action_ts": "1.2",
                }
            ],
        }
        return self.interaction(payload)

    def submit(self, view: dict[str, Any], values: dict[str, Any], *, user: str):
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID},
            "user": {"id": user},
            "api_app_id": "A0001",
            "token": "legacy",
            "trigger_id": "trigger-submit",
            "view": {**view, "id": "V0001", "state": {"values": values}},
        }
        return self.interaction(payload)

    # -- reading what the app posted ------------------------------------------------------------
    def final_answer(self, channel: str = "CSUPPORT", count: int = 1):
        """The finished answers (chat.update carrying the feedback buttons)."""
        return self.mock.wait_for(
            "chat.update", lambda c: c.params.get("channel") == channel and _has_buttons(c), count=count
        )


def _has_buttons(call) -> bool:
    return any(block.get("type") == "actions" for block in call.params.get("blocks") or [])


def action_value(blocks: list[dict[str, Any]], action_id: str) -> str:
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return element["value"]
    raise AssertionError(f"no {action_id} button in {blocks}")


def all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)
