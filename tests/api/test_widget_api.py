"""The widget's endpoints: CORS allow-list, widget key, rate limits, history, feedback, hand-off."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from assistant.api.app import create_app
from assistant.config import Settings
from assistant.store import ConversationRow, FeedbackRow, InteractionRow, feedback_for
from assistant.store.models import FlagRow
from tests.api.conftest import free_port
from tests.api.receiver import WebhookReceiver

SITE = "https://shop.example.com"
SELF = "http://testserver"  # the TestClient's own origin


def session_id() -> str:
    return secrets.token_hex(16)


@pytest.fixture
def widget_client(assistant) -> Iterator:
    """``widget_client(**settings)``: a client of an app whose settings add the given widget ones."""
    opened: list[TestClient] = []

    def make(**overrides) -> TestClient:
        assistant.settings = assistant.settings.model_copy(update=overrides)
        client = TestClient(create_app(assistant, watch_releases=False))
        opened.append(client.__enter__())
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def headers(session: str, origin: str | None = SITE, **extra: str) -> dict[str, str]:
    found = {"X-Assistant-Session": session, **extra}
    if origin:
        found["Origin"] = origin
    return found


def chunks(text: str) -> list[dict]:
    events = [part.strip()[5:].strip() for part in text.split("\n\n") if part.strip().startswith("data:")]
    assert events[-1] == "[DONE]"
    return [json.loads(event) for event in events[:-1]]


def ask(client: TestClient, session: str, message: str = "How do I reset my password?", **kw) -> dict:
    response = client.post("/widget/v1/chat", json={"message": message}, headers=headers(session, **kw))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = chunks(response.text)
    final = events[-1]
    pieces = [e["choices"][0]["delta"].get("content") for e in events]
    if not final["abstained"]:  # a generated answer streams piece by piece (an abstention is one piece)
        assert len([piece for piece in pieces if piece]) > 1
    final["text"] = "".join(piece or "" for piece in pieces)
    return final


def count(assistant, row) -> int:
    with assistant.store.session() as session:
        return session.scalar(select(func.count()).select_from(row))


# -- the script and the pages --------------------------------------------------------------------


def test_the_script_is_served_as_cacheable_javascript(widget_client) -> None:
    response = widget_client().get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "attachShadow" in response.text and "innerHTML" not in response.text


def test_html_pages_get_a_strict_content_security_policy(widget_client) -> None:
    client = widget_client()
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    for directive in ("script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "default-src 'self'"):
        assert directive in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    # the try page obeys its own policy: no inline script, its script is a served file
    assert "<script>" not in page.text and '<script src="/try.js">' in page.text
    script = client.get("/try.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    # JSON is left alone
    assert "content-security-policy" not in client.get("/healthz").headers


# -- CORS allow-list -----------------------------------------------------------------------------


def test_an_allowed_origin_gets_cors_headers_and_preflights(widget_client) -> None:
    client = widget_client(widget_allowed_origins=f"{SITE}/, https://other.example.org")
    preflight = client.options(
        "/widget/v1/chat",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-assistant-session,x-assistant-widget-key",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SITE
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert {"content-type", "x-assistant-session", "x-assistant-widget-key"} <= {
        h.strip() for h in allowed.split(",")
    }
    assert "POST" in preflight.headers["access-control-allow-methods"]

    history = client.get("/widget/v1/history", headers=headers(session_id()))
    assert history.status_code == 200 and history.json() == {"turns": []}
    assert history.headers["access-control-allow-origin"] == SITE
    assert "Origin" in history.headers["vary"]
    assert "retry-after" in history.headers["access-control-expose-headers"].lower()


def test_another_origin_is_refused_with_403_and_no_cors_headers(widget_client, assistant) -> None:
    client = widget_client(widget_allowed_origins=SITE)
    for response in (
        client.options(
            "/widget/v1/chat",
            headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"},
        ),
        client.post(
            "/widget/v1/chat",
            json={"message": "hi"},
            headers=headers(session_id(), origin="https://evil.example.net"),
        ),
        # a look-alike of an allowed origin is another origin
        client.get("/widget/v1/history", headers=headers(session_id(), origin="http://shop.example.com")),
    ):
        assert response.status_code == 403
        assert not any(name.startswith("access-control-") for name in response.headers)
        assert "ASSISTANT_WIDGET_ALLOWED_ORIGINS" in response.json()["detail"]
    assert count(assistant, InteractionRow) == 0
    # the rest of the API is not the widget's business
    assert client.get("/healthz", headers={"Origin": "https://evil.example.net"}).status_code == 200


def test_by_default_only_pages_of_this_server_may_use_the_widget(widget_client) -> None:
    client = widget_client()
    assert client.get("/widget/v1/history", headers=headers(session_id(), origin=SITE)).status_code == 403
    assert client.get("/widget/v1/history", headers=headers(session_id(), origin=SELF)).status_code == 200
    assert client.get("/widget/v1/history", headers=headers(session_id(), origin=None)).status_code == 200
    anywhere = widget_client(widget_allowed_origins="*")
    response = anywhere.get("/widget/v1/history", headers=headers(session_id(), origin=SITE))
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == SITE


def test_a_malformed_origin_setting_says_what_to_fix(tmp_path) -> None:
    with pytest.raises(ValueError, match="WIDGET_ALLOWED_ORIGINS.*not an origin"):
        Settings(home=tmp_path, widget_allowed_origins="shop.example.com/page", _env_file=None)


# -- widget key ----------------------------------------------------------------------------------


def test_the_widget_key_is_required_when_set(widget_client, assistant) -> None:
    client = widget_client(widget_allowed_origins=SITE, widget_key="pk_live_123")
    session = session_id()
    missing = client.post("/widget/v1/chat", json={"message": "reset password?"}, headers=headers(session))
    assert missing.status_code == 401 and "X-Assistant-Widget-Key" in missing.json()["detail"]
    assert missing.headers["access-control-allow-origin"] == SITE  # the widget can read why
    wrong = client.get("/widget/v1/history", headers=headers(session, **{"X-Assistant-Widget-Key": "nope"}))
    assert wrong.status_code == 403 and "widget key" in wrong.json()["detail"]
    assert count(assistant, InteractionRow) == 0
    final = ask(client, session, **{"X-Assistant-Widget-Key": "pk_live_123"})
    assert final["interaction_id"]
    # the widget key opens nothing else: the admin API still wants an admin credential
    admin = client.get("/admin/api/review", headers={"Authorization": "Bearer pk_live_123"})
    assert admin.status_code == 401


# -- rate limits ---------------------------------------------------------------------------------


def test_a_session_over_its_question_limit_gets_429_with_retry_after(widget_client) -> None:
    client = widget_client(widget_allowed_origins=SITE, widget_rate_limit_session="2/minute")
    chatty, quiet = session_id(), session_id()
    ask(client, chatty)
    ask(client, chatty)
    refused = client.post("/widget/v1/chat", json={"message": "and again?"}, headers=headers(chatty))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "too many questions" in refused.json()["detail"]
    assert refused.headers["access-control-allow-origin"] == SITE
    # history and feedback are not questions; other sessions are not affected
    assert client.get("/widget/v1/history", headers=headers(chatty)).status_code == 200
    ask(client, quiet)


def test_one_client_ip_over_its_limit_gets_429_whatever_the_session(widget_client) -> None:
    client = widget_client(widget_rate_limit_ip="3/minute", widget_rate_limit_session="")
    for _ in range(3):
        assert client.get("/widget/v1/history", headers=headers(session_id(), origin=None)).status_code == 200
    refused = client.get("/widget/v1/history", headers=headers(session_id(), origin=None))
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "your network" in refused.json()["detail"]


def test_a_malformed_rate_limit_fails_at_start_up_with_the_setting_named(widget_client) -> None:
    with pytest.raises(ValueError, match="ASSISTANT_WIDGET_RATE_LIMIT_SESSION"):
        widget_client(widget_rate_limit_session="lots")


# -- chat and history ----------------------------------------------------------------------------


def test_a_session_continues_its_conversation_and_only_it_sees_the_history(widget_client, assistant) -> None:
    client = widget_client(widget_allowed_origins=SITE)
    mine, theirs = session_id(), session_id()
    first = ask(client, mine)
    second = ask(client, mine, "How long does the link last?")
    assert "Forgot password" in first["text"]
    assert first["citations"][0]["doc_id"] == "password.md"
    assert first["conversation_id"] == second["conversation_id"]

    turns = client.get("/widget/v1/history", headers=headers(mine)).json()["turns"]
    assert [t["question"] for t in turns] == ["How do I reset my password?", "How long does the link last?"]
    assert [t["interaction_id"] for t in turns] == [first["interaction_id"], second["interaction_id"]]
    assert turns[0]["answer"] == first["text"]
    assert turns[0]["citations"][0]["doc_id"] == "password.md"
    assert client.get("/widget/v1/history", headers=headers(theirs)).json() == {"turns": []}

    with assistant.store.session() as session:
        rows = session.scalars(select(InteractionRow).order_by(InteractionRow.created_at)).all()
        assert [r.channel for r in rows] == ["web", "web"]
        assert rows[1].history[0] == {"role": "user", "content": "How do I reset my password?"}
        conversation = session.get(ConversationRow, rows[0].conversation_id)
        # the session id is the conversation's secret: only its hash is stored
        assert conversation.external_ref == "widget:" + hashlib.sha256(mine.encode()).hexdigest()
        assert mine not in (conversation.id, conversation.user_id, rows[0].user_id)


@pytest.mark.parametrize(
    ("body", "session", "status", "detail"),
    [
        ({"message": "   "}, "ok", 400, "empty"),
        ({"message": "x" * 4001}, "ok", 400, "longer than 4000"),
        ({"message": "hi", "model": "gpt"}, "ok", 422, None),
        ({}, "ok", 422, None),
        ({"message": "hi"}, "not-a-session", 400, "X-Assistant-Session"),
        ({"message": "hi"}, "", 400, "32 lowercase hex"),
    ],
)
def test_bad_chat_input_gets_a_clear_4xx_and_stores_nothing(
    widget_client, assistant, body, session, status, detail
) -> None:
    client = widget_client(widget_allowed_origins=SITE)
    kept = ask(client, good := session_id())
    response = client.post(
        "/widget/v1/chat", json=body, headers=headers(session_id() if session == "ok" else session)
    )
    assert response.status_code == status
    if detail:
        assert detail in response.json()["detail"]
    assert count(assistant, InteractionRow) == 1
    [turn] = client.get("/widget/v1/history", headers=headers(good)).json()["turns"]
    assert turn["interaction_id"] == kept["interaction_id"]


def test_an_oversized_body_gets_413_that_the_widget_can_read(widget_client) -> None:
    client = widget_client(widget_allowed_origins=SITE, max_body_bytes=1000)
    response = client.post("/widget/v1/chat", json={"message": "x" * 2000}, headers=headers(session_id()))
    assert response.status_code == 413
    assert response.headers["access-control-allow-origin"] == SITE


# -- feedback and hand-off -----------------------------------------------------------------------


def test_feedback_is_recorded_flagged_and_kept_to_the_session(widget_client, assistant) -> None:
    client = widget_client(widget_allowed_origins=SITE)
    mine, theirs = session_id(), session_id()
    answer = ask(client, mine)
    interaction = answer["interaction_id"]

    def vote(session: str, **body):
        return client.post(
            "/widget/v1/feedback", json={"interaction_id": interaction, **body}, headers=headers(session)
        )

    assert vote(mine, rating="up").status_code == 201
    assert vote(mine, rating="up").status_code == 200  # the same click twice is one event
    assert vote(mine, resolution="resolved").status_code == 201
    assert vote(mine, rating="down", comment="The link had expired").status_code == 201
    stranger = vote(theirs, rating="down")
    assert stranger.status_code == 404 and "this conversation" in stranger.json()["detail"]
    unknown = client.post(
        "/widget/v1/feedback", json={"interaction_id": "nope", "rating": "up"}, headers=headers(mine)
    )
    assert unknown.status_code == 404
    assert vote(mine).status_code == 422  # neither a rating nor a resolution
    assert vote(mine, rating="meh").status_code == 422

    with assistant.store.session() as session:
        events = feedback_for(session, interaction)
        assert [(e.rating, e.resolution, e.comment) for e in events] == [
            ("up", None, None),
            (None, "resolved", None),
            ("down", None, "The link had expired"),
        ]
        assert {e.voter for e in events} == {"web:" + hashlib.sha256(mine.encode()).hexdigest()[:16]}
        flag = session.scalars(select(FlagRow).where(FlagRow.interaction_id == interaction)).one()
        assert "thumbs_down" in flag.reasons

    turns = client.get("/widget/v1/history", headers=headers(mine)).json()["turns"]
    assert (turns[0]["rating"], turns[0]["resolution"]) == ("down", "resolved")


def test_talk_to_a_human_posts_the_transcript_to_the_webhook(widget_client, assistant) -> None:
    with WebhookReceiver() as hook:
        client = widget_client(
            widget_allowed_origins=SITE, escalation_webhook_url=hook.url, escalation_webhook_secret="s3cret"
        )
        session = session_id()
        ask(client, session)
        second = ask(client, session, "How long does the link last?")
        response = client.post(
            "/widget/v1/feedback",
            json={"interaction_id": second["interaction_id"], "resolution": "escalated"},
            headers=headers(session),
        )
        assert response.status_code == 201
        [(sent_headers, payload)] = hook.wait(1)

    assert payload["event"] == "escalation"
    assert payload["interaction_id"] == second["interaction_id"]
    assert payload["conversation_id"] == second["conversation_id"]
    assert payload["channel"] == "web"
    assert [t["role"] for t in payload["transcript"]] == ["user", "assistant", "user", "assistant"]
    assert payload["transcript"][0]["content"] == "How do I reset my password?"
    assert payload["transcript"][-1]["content"] == second["text"]
    body = hook.calls[0][1]
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sent_headers["x-assistant-signature"] == f"sha256={expected}"
    with assistant.store.session() as session:
        flag = session.scalars(
            select(FlagRow).where(FlagRow.interaction_id == second["interaction_id"])
        ).one()
        assert "escalated" in flag.reasons


def test_a_webhook_that_is_down_costs_the_customer_nothing(widget_client, assistant, caplog) -> None:
    client = widget_client(
        widget_allowed_origins=SITE, escalation_webhook_url=f"http://127.0.0.1:{free_port()}/down"
    )
    session = session_id()
    answer = ask(client, session)
    with caplog.at_level(logging.ERROR, logger="assistant.escalation"):
        response = client.post(
            "/widget/v1/feedback",
            json={"interaction_id": answer["interaction_id"], "resolution": "escalated"},
            headers=headers(session),
        )
    assert response.status_code == 201
    assert any("did not reach" in record.getMessage() for record in caplog.records)
    with assistant.store.session() as session_:
        assert [e.resolution for e in feedback_for(session_, answer["interaction_id"])] == ["escalated"]
        flag = session_.scalars(
            select(FlagRow).where(FlagRow.interaction_id == answer["interaction_id"])
        ).one()
        assert "escalated" in flag.reasons
    assert count(assistant, FeedbackRow) == 1


def test_an_escalation_through_the_http_api_reaches_the_webhook_too(widget_client) -> None:
    with WebhookReceiver() as hook:
        client = widget_client(escalation_webhook_url=hook.url)
        answer = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "reset password?"}]}
        ).json()
        vote = {"interaction_id": answer["interaction_id"], "resolution": "escalated", "voter": "c-1"}
        assert client.post("/v1/feedback", json=vote).status_code == 201
        assert client.post("/v1/feedback", json=vote).status_code == 200  # a repeat is not re-sent
        [(_, payload)] = hook.wait(1)
    assert payload["channel"] == "api" and payload["question"] == "reset password?"
    assert len(hook.calls) == 1
