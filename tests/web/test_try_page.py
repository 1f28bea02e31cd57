"""The try-it page at ``/`` in a real browser: ask, read the streamed answer and sources, vote."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from assistant.store import InteractionRow, feedback_for

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing: install the dev extra")
expect = sync_api.expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAIT_MS = 30_000


@pytest.mark.browser
def test_a_person_asks_reads_a_cited_answer_votes_and_follows_up(page, live_url, assistant):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("response", lambda response: response.status >= 400 and errors.append(response.url))
    chat_bodies: list[dict] = []
    page.on(
        "request",
        lambda request: (
            request.url.endswith("/v1/chat/completions") and chat_bodies.append(request.post_data_json)
        ),
    )

    page.goto(live_url + "/")
    expect(page).to_have_title("Support assistant")
    page.fill("#question", "How do I reset my password?")
    page.click("#send")

    first = page.locator("#conversation .turn").nth(0)
    expect(first.locator(".question")).to_have_text("How do I reset my password?")
    # The fake generator answers with the words of source [1], the password article.
    expect(first.locator(".answer")).to_contain_text("Forgot password", timeout=WAIT_MS)
    sources = first.locator(".sources")
    expect(sources).to_contain_text("[1] Resetting your password (password.md)", timeout=WAIT_MS)
    expect(page.locator("#question")).to_have_value("")

    first.get_by_role("button", name="Helpful", exact=True).click()
    expect(first.locator(".meta")).to_have_text("Thanks for the feedback.", timeout=WAIT_MS)

    page.fill("#question", "How long does the reset link last?")
    page.click("#send")
    second = page.locator("#conversation .turn").nth(1)
    expect(second.locator(".sources")).to_contain_text("password.md", timeout=WAIT_MS)
    expect(second.get_by_role("button", name="Helpful", exact=True)).to_be_visible()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "try-page.png"), full_page=True)

    # The browser's own /favicon.ico request 404s (the page has no icon); Playwright does not
    # report it as a response, so its console line is the one failure allowed.
    assert [e for e in errors if "Failed to load resource" not in e] == []
    assert errors.count("Failed to load resource: the server responded with a status of 404 (Not Found)") <= 1
    assert len(chat_bodies) == 2
    assert all(body["stream"] is True and body["channel"] == "web" for body in chat_bodies)
    assert "conversation_id" not in chat_bodies[0]

    with assistant.store.session() as session:
        rows = session.scalars(select(InteractionRow).order_by(InteractionRow.created_at)).all()
        assert [row.question for row in rows] == [
            "How do I reset my password?",
            "How long does the reset link last?",
        ]
        assert all(row.channel == "web" for row in rows)
        assert rows[0].citations[0]["doc_id"] == "password.md"
        assert first.locator(".answer").inner_text() == rows[0].answer
        assert rows[0].conversation_id == rows[1].conversation_id
        assert chat_bodies[1]["conversation_id"] == rows[0].conversation_id
        votes = feedback_for(session, rows[0].id)
        assert [(vote.rating, vote.voter) for vote in votes] == [("up", "try-page")]
        assert feedback_for(session, rows[1].id) == []
