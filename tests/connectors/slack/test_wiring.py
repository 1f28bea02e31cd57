"""Wiring: settings, the web's escalations and flags reaching Slack, mounting, the CLI command."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from assistant.api.app import create_app
from assistant.cli import app as cli
from assistant.config import Settings, get_settings
from assistant.escalation import notifiers_from_settings
from connectors.slack.review import sweep
from tests.connectors.slack.conftest import BOT_TOKEN, ESCALATION_CHANNEL, REVIEW_CHANNEL, SECRET, all_text


def test_secrets_never_show_in_repr_or_dumps() -> None:
    secrets = {
        "slack_bot_token": "xoxb-S3CRET1",
        "slack_signing_secret": "S3CRET2",
        "slack_app_token": "xapp-S3CRET3",
    }
    settings = Settings(_env_file=None, **secrets)
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert "S3CRET" not in shown
    assert settings.slack_bot_token.get_secret_value() == "xoxb-S3CRET1"
    assert settings.slack_http_enabled


def test_web_escalations_are_posted_to_the_escalation_channel(slack, slack_assistant) -> None:
    answer = slack_assistant.ask("How long does a refund take?", channel="web", user_id="visitor-1")
    response = slack.client.post(
        "/v1/feedback",
        json={"interaction_id": answer.interaction_id, "resolution": "escalated", "comment": "help"},
    )
    assert response.status_code == 201
    post = slack.mock.wait_for("chat.postMessage", lambda c: c.params["channel"] == ESCALATION_CHANNEL)[0]
    text = all_text(post.params["blocks"])
    assert "How long does a refund take?" in text and "(web)" in text and "help" in text


@pytest.mark.parametrize("slack_overrides", [{"slack_review_all_flags": True}])
def test_all_flags_reach_the_review_channel_when_asked(slack, slack_assistant) -> None:
    answer = slack_assistant.ask("How long does a refund take?", channel="web")
    slack.client.post("/v1/feedback", json={"interaction_id": answer.interaction_id, "rating": "down"})
    bolt = slack.client.app.state.slack_app
    sweep(bolt.support)
    sweep(bolt.support)  # each flag is posted once
    posts = slack.mock.wait_for("chat.postMessage", lambda c: c.params["channel"] == REVIEW_CHANNEL)
    assert len(posts) == 1 and "from web" in posts[0].params["text"]


@pytest.mark.parametrize("slack_overrides", [{"slack_review_all_flags": True}])
def test_the_sweeper_lives_and_dies_with_the_app(slack_assistant) -> None:
    def sweepers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "slack-review-sweeper"]

    with TestClient(create_app(slack_assistant, watch_releases=False)):
        assert len(sweepers()) == 1
    assert sweepers() == []  # nothing left polling a database that may be gone


def test_slack_hands_off_to_the_notifiers_of_the_app(slack_assistant) -> None:
    configured = notifiers_from_settings(slack_assistant.settings)  # the webhook (unset here) and plugins'
    assert [notifier.__qualname__ for notifier in configured] == ["slack_notifier"]
    with TestClient(create_app(slack_assistant, watch_releases=False)) as client:
        default = client.app.state.escalation_notifiers
        assert [n.__qualname__ for n in default] == ["slack_notifier"]
        assert client.app.state.slack_app.support.notifiers == default  # one set for every channel
    injected = [[].append]
    with TestClient(create_app(slack_assistant, watch_releases=False, notifiers=injected)) as client:
        assert client.app.state.slack_app.support.notifiers == injected


def test_web_flags_stay_out_of_slack_by_default(slack, slack_assistant) -> None:
    answer = slack_assistant.ask("How long does a refund take?", channel="web")
    slack.client.post("/v1/feedback", json={"interaction_id": answer.interaction_id, "rating": "down"})
    assert sweep(slack.client.app.state.slack_app.support) == 0


@pytest.mark.parametrize("slack_overrides", [{"slack_signing_secret": ""}])
def test_no_slack_endpoint_without_the_signing_secret(slack_assistant, caplog) -> None:
    with TestClient(create_app(slack_assistant, watch_releases=False)) as client:
        assert client.post("/slack/events", content=b"{}").status_code in (404, 405)
    # half of HTTP mode is set (no app token for Socket Mode either): the log says what is missing
    assert "ASSISTANT_SLACK_SIGNING_SECRET is not" in caplog.text and BOT_TOKEN not in caplog.text


@pytest.mark.parametrize("slack_overrides", [{"slack_signing_secret": "", "slack_app_token": "xapp-1-A"}])
def test_a_bot_token_for_socket_mode_is_no_half_configuration(slack_assistant, caplog) -> None:
    with TestClient(create_app(slack_assistant, watch_releases=False)):
        pass
    assert "/slack/events" not in caplog.text


def test_assistant_slack_needs_both_tokens(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path))
    monkeypatch.setenv("ASSISTANT_SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.delenv("ASSISTANT_SLACK_APP_TOKEN", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["slack"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "ASSISTANT_SLACK_APP_TOKEN" in result.output and BOT_TOKEN not in result.output
    assert SECRET not in result.output
