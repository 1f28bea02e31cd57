"""HTTP transport: signatures, duplicates and retries, rate limits, Socket Mode wiring."""

from __future__ import annotations

import json
import threading
import time

import pytest
from pydantic import SecretStr
from slack_sdk.socket_mode.request import SocketModeRequest
from sqlalchemy import select

from assistant.store.models import InteractionRow, SlackEventRow
from connectors.slack import blocks
from connectors.slack.client import Pacer
from connectors.slack.socket_mode import handler, missing_tokens
from tests.connectors.slack.conftest import sign


def _interaction_count(assistant) -> int:
    with assistant.store.session() as session:
        return len(list(session.scalars(select(InteractionRow.id))))


def _mention_event(text: str = "How long does a refund take?", ts: str = "1690000000.000100") -> dict:
    return {
        "type": "app_mention",
        "user": "UCUSTOMER",
        "text": f"<@UBOT> {text}",
        "ts": ts,
        "channel": "CSUPPORT",
    }


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Signature": "v0=" + "0" * 64},  # wrong signature
        {"X-Slack-Request-Timestamp": str(int(time.time()) - 6 * 60)},  # stale (signed with it below)
        {"X-Slack-Request-Timestamp": "not-a-number"},
        {},  # headers removed below
    ],
    ids=["bad-signature", "stale", "garbage-timestamp", "missing-headers"],
)
def test_unverified_requests_get_401(slack, headers) -> None:
    body = slack.event_body(_mention_event())
    signed = {"Content-Type": "application/json", **sign(body)}
    if "X-Slack-Request-Timestamp" in headers and headers["X-Slack-Request-Timestamp"].isdigit():
        signed = {"Content-Type": "application/json", **sign(body, int(headers["X-Slack-Request-Timestamp"]))}
    else:
        signed.update(headers)
    if not headers:
        signed = {"Content-Type": "application/json"}
    response = slack.client.post("/slack/events", content=body, headers=signed)
    assert response.status_code == 401
    assert "detail" in response.json()
    assert not slack.mock.of("chat.postMessage")


def test_garbage_bodies_get_401_never_5xx(slack) -> None:
    for body in (b"\xff\xfe\x00garbage", b"{not json", b""):
        response = slack.client.post(
            "/slack/events", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401
    body = "{definitely not json"  # correctly signed, still unreadable
    response = slack.client.post(
        "/slack/events", content=body, headers={"Content-Type": "application/json", **sign(body)}
    )
    assert response.status_code < 500


def test_url_verification_challenge(slack) -> None:
    body = json.dumps({"token": "legacy", "challenge": "abc123", "type": "url_verification"})
    response = slack.post(body, "application/json")
    assert response.status_code == 200 and "abc123" in response.text


def test_four_deliveries_two_concurrent_get_one_reply(slack, slack_assistant) -> None:
    body = slack.event_body(_mention_event(), event_id="EvDUPLICATE")
    results: list[int] = []

    def deliver(retry: int) -> None:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        results.append(slack.post(body, "application/json", headers).status_code)

    racers = [threading.Thread(target=deliver, args=(n,)) for n in (0, 1)]
    for thread in racers:
        thread.start()
    for thread in racers:
        thread.join()
    deliver(2)
    deliver(3)
    assert results == [200, 200, 200, 200]
    slack.final_answer()
    slack.mention("How do I reset my password?")  # a later event: once it is answered, all work is done
    slack.final_answer(count=2)
    assert len([c for c in slack.mock.of("chat.postMessage") if c.params["text"] == blocks.THINKING]) == 2
    assert _interaction_count(slack_assistant) == 2


def test_a_retry_after_a_failure_before_storing_is_answered_once(slack, slack_assistant, monkeypatch) -> None:
    import connectors.slack.threads as threads

    real = threads.conversation_for
    failed = threading.Event()

    def flaky(*args, **kwargs):
        if not failed.is_set():
            failed.set()
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(threads, "conversation_for", flaky)
    body = slack.event_body(_mention_event(), event_id="EvRETRY")
    assert slack.post(body, "application/json").status_code == 200
    assert failed.wait(timeout=20)
    deadline = time.monotonic() + 20
    while _claimed(slack_assistant, "event:EvRETRY"):  # the failed delivery gives its claim back
        assert time.monotonic() < deadline, "the failed delivery kept its claim"
        time.sleep(0.02)
    assert not slack.mock.of("chat.postMessage")
    assert slack.post(body, "application/json", {"X-Slack-Retry-Num": "1"}).status_code == 200
    slack.final_answer()
    assert slack.post(body, "application/json", {"X-Slack-Retry-Num": "2"}).status_code == 200
    slack.mention("How do I reset my password?")
    slack.final_answer(count=2)
    assert _interaction_count(slack_assistant) == 2


def _claimed(assistant, key: str) -> bool:
    with assistant.store.session() as session:
        return session.get(SlackEventRow, key) is not None


def test_rate_limited_post_waits_for_retry_after_and_posts_once(slack, slack_assistant) -> None:
    slack.mock.rate_limit(1, "chat.postMessage")
    slack.mention("How long does a refund take?")
    final = slack.final_answer()[0]
    limited = slack.mock.of("chat.postMessage", limited=True)
    posted = slack.mock.of("chat.postMessage")
    assert len(limited) == 1 and len(posted) == 1
    assert limited[0].params == posted[0].params
    assert final.params["ts"] == "1700000000.000001"


def test_pacer_spaces_posts_in_one_channel(monkeypatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("connectors.slack.client.time.sleep", waits.append)
    pacer = Pacer(1.0)
    pacer.wait("C1")
    pacer.wait("C2")  # another channel: no wait
    assert waits == []
    pacer.wait("C1")
    assert len(waits) == 1 and 0 < waits[0] <= 1.0


def test_socket_mode_routes_an_event_through_the_same_listeners(
    slack, slack_assistant, slack_settings
) -> None:
    settings = slack_settings.model_copy(update={"slack_app_token": SecretStr("xapp-1")})
    assert missing_tokens(settings) == []
    assert missing_tokens(slack_settings) == ["ASSISTANT_SLACK_APP_TOKEN"]
    bolt = slack.client.app.state.slack_app
    socket = handler(bolt, settings)
    sent = []
    socket.client.send_socket_mode_response = sent.append  # the WebSocket's send side
    envelope = {
        "type": "events_api",
        "envelope_id": "env-1",
        "payload": json.loads(slack.event_body(_mention_event(), event_id="EvSOCKET")),
        "accepts_response_payload": False,
    }
    socket.handle(socket.client, SocketModeRequest.from_dict(envelope))
    assert [r.envelope_id for r in sent] == ["env-1"]  # acknowledged over the socket
    slack.final_answer()
    assert _interaction_count(slack_assistant) == 1
    socket.client.close()
