"""A support lead in a real browser: log in, open a flagged answer, correct it, and the next
customer asking a paraphrase gets the correction; the queue and dashboard are screenshotted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from assistant.admin.auth import create_user
from assistant.review.flags import flag_interaction
from assistant.store import repository
from assistant.store.models import FlagRow, InteractionRow, utcnow

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing: install the dev extra")
expect = sync_api.expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAIT_MS = 30_000
PASSWORD = "correct horse battery"
CORRECTION = "Click 'Forgot password' on the sign-in page and open the emailed link within 30 minutes."
# (days ago, question, rating, resolution): a week of traffic for the queue and the dashboard
TRAFFIC = [
    (6, "Where is my refund?", "up", "resolved"),
    (6, "Do you deliver on Sundays?", "down", None),
    (5, "How do I get my money back?", "up", None),
    (4, "Can I pay with bitcoin?", None, "escalated"),
    (3, "When will express orders arrive?", "up", "resolved"),
    (2, "What is the weather in Paris?", None, None),
    (1, "How do I track a refund?", "up", "resolved"),
    (1, "My parcel never arrived", "down", "unresolved"),
    (0, "How do I reset my password?", "down", None),
]


def seed(assistant) -> int:
    """Log :data:`TRAFFIC` over the past week; returns the flag of today's password question."""
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    earlier_today = today + (utcnow() - today) / 2  # past, yet today even just after midnight UTC
    for days_ago, question, rating, resolution in TRAFFIC:
        answer = assistant.ask(question, channel="web", user_id=f"customer-{days_ago}")
        with assistant.store.session() as session:
            if rating or resolution:
                repository.record_feedback(
                    session,
                    interaction_id=answer.interaction_id,
                    rating=rating,
                    resolution=resolution,
                    comment="it does not say how" if rating == "down" else None,
                    voter=f"customer-{days_ago}",
                )
            flag_interaction(session, answer.interaction_id, assistant.settings, assistant.embedder)
            session.execute(
                update(InteractionRow)
                .where(InteractionRow.id == answer.interaction_id)
                .values(created_at=earlier_today - timedelta(days=days_ago))
            )
    with assistant.store.session() as session:
        create_user(session, "ana", PASSWORD, "lead")
        query = (
            select(FlagRow.id)
            .join(InteractionRow, InteractionRow.id == FlagRow.interaction_id)
            .where(InteractionRow.question == "How do I reset my password?")
        )
        return session.scalar(query)


@pytest.mark.browser
def test_a_lead_corrects_a_flagged_answer_and_customers_get_it(page, live_url, assistant):
    flag_id = seed(assistant)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{live_url}/admin/")
    expect(page).to_have_url(f"{live_url}/admin/login?next=%2Fadmin%2F")
    page.get_by_test_id("admin-username").fill("ana")
    page.get_by_test_id("admin-password").fill("wrong password!")
    page.get_by_test_id("admin-login").click()
    expect(page.get_by_test_id("admin-error")).to_have_text("Wrong username or password.")
    page.get_by_test_id("admin-username").fill("ana")
    page.get_by_test_id("admin-password").fill(PASSWORD)
    page.get_by_test_id("admin-login").click()

    expect(page).to_have_url(f"{live_url}/admin/review")
    items = page.get_by_test_id("review-item")
    expect(items.first).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("admin-user")).to_have_text("ana (lead)")
    questions = page.get_by_test_id("review-open").all_inner_texts()
    assert "How do I reset my password?" in questions and "What is the weather in Paris?" in questions
    assert "Where is my refund?" not in questions  # 👍 and resolved: nothing to review
    page.screenshot(path=str(ARTIFACTS / "admin-queue.png"), full_page=True)

    page.get_by_test_id("filter-reason").select_option("thumbs_down")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(
        f"{live_url}/admin/review?status=open&reason=thumbs_down&channel=&release=&since=&until="
    )
    expect(items).to_have_count(3)

    page.get_by_role("link", name="How do I reset my password?").click()
    expect(page).to_have_url(f"{live_url}/admin/review/{flag_id}")
    expect(page.get_by_test_id("flag-question")).to_have_text("How do I reset my password?")
    expect(page.locator(".feedback")).to_contain_text("it does not say how")
    expect(page.locator(".sources")).to_contain_text("Resetting your password")
    page.screenshot(path=str(ARTIFACTS / "admin-item.png"), full_page=True)

    page.get_by_test_id("correct-answer").fill(CORRECTION)
    page.get_by_label("Resetting your password").check()
    page.get_by_test_id("action-correct").click()
    expect(page.get_by_test_id("flag-status")).to_have_text("corrected", timeout=WAIT_MS)
    expect(page.get_by_test_id("flag-outcome")).to_contain_text("now served for similar questions")
    expect(page.get_by_test_id("flag-audit")).to_contain_text("correct by ana")

    # the next customer, asking in other words, gets the correction at once
    reply = page.request.post(
        f"{live_url}/v1/chat/completions",
        data={"messages": [{"role": "user", "content": "I forgot my password, how can I reset it?"}]},
    )
    assert reply.ok, reply.text()
    body = reply.json()
    assert body["choices"][0]["message"]["content"] == CORRECTION
    assert body["curated_answer_id"] is not None
    assert body["citations"][0]["doc_id"] == "password.md"

    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_test_id("dashboard-table").locator("tbody tr")).to_have_count(7)
    expect(page.get_by_test_id("chart-rates").locator("svg")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)

    page.get_by_role("link", name="Curated answers").click()
    expect(page.get_by_test_id("curated-row")).to_contain_text(CORRECTION[:40])

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_url}/admin/login")
    page.goto(f"{live_url}/admin/review")
    expect(page).to_have_url(f"{live_url}/admin/login?next=%2Fadmin%2Freview")
    # allowed: the 401 of the wrong password (by design) and the browser's own /favicon.ico 404
    expected = {"401 (Unauthorized)", "404 (Not Found)"}
    assert [e for e in errors if not any(e.endswith(status) for status in expected)] == []
