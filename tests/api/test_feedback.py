"""Feedback over HTTP hands new escalations to the app's notifiers, the same ones for every route."""

from __future__ import annotations

from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.escalation import Escalation

SESSION = "0123456789abcdef0123456789abcdef"


def test_escalations_from_the_api_and_the_widget_reach_the_injected_notifiers(assistant) -> None:
    received: list[Escalation] = []
    with TestClient(create_app(assistant, watch_releases=False, notifiers=[received.append])) as client:
        api = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "reset?"}]})
        vote = {"interaction_id": api.json()["interaction_id"], "resolution": "escalated", "comment": "now"}
        assert client.post("/v1/feedback", json=vote).status_code == 201
        assert client.post("/v1/feedback", json=vote).status_code == 200  # a repeat is not re-sent
        down = {"interaction_id": api.json()["interaction_id"], "rating": "down"}
        assert client.post("/v1/feedback", json=down).status_code == 201  # not an escalation
        web = {"X-Assistant-Session": SESSION}
        client.post("/widget/v1/chat", json={"message": "How do I reset my password?"}, headers=web)
        [turn] = client.get("/widget/v1/history", headers=web).json()["turns"]
        escalate = {"interaction_id": turn["interaction_id"], "resolution": "escalated"}
        assert client.post("/widget/v1/feedback", json=escalate, headers=web).status_code == 201
    assert [(e.channel, e.question, e.comment) for e in received] == [
        ("api", "reset?", "now"),
        ("web", "How do I reset my password?", None),
    ]
