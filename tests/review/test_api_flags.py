"""Feedback over HTTP flags the interaction; a curated answer comes back in chat completions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.review.actions import review
from assistant.review.flags import list_flags


def test_http_thumbs_down_flags_and_a_correction_is_served(assistant) -> None:
    with TestClient(create_app(assistant, watch_releases=False)) as client:
        answer = assistant.ask("Do you ship to Canada?")
        posted = client.post("/v1/feedback", json={"interaction_id": answer.interaction_id, "rating": "down"})
        assert posted.status_code == 201
        with assistant.store.session() as session:
            [item] = list_flags(session, reason="thumbs_down")
            assert item["interaction_id"] == answer.interaction_id and item["cluster"] == str(item["id"])
            done = review(
                session, item["id"], "correct", expected_version=item["version"], actor="ana", answer="Yes."
            )
        body = client.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "Do you ship orders to Canada?"}]},
        ).json()
        assert body["curated_answer_id"] == done.curated_answer_id
        assert body["choices"][0]["message"]["content"] == "Yes."
