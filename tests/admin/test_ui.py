"""The admin UI over HTTP: login sessions, CSRF, the queue and conversation view, review forms,
curated answers, knowledge gaps and the dashboard (the browser test drives the same pages)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from assistant.admin.auth import create_user, disable_user
from assistant.api.app import create_app
from assistant.review.flags import flag_interaction
from assistant.store import repository
from assistant.store.models import AdminSessionRow, CuratedAnswerRow, FlagRow, utcnow
from tests.admin.conftest import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web(assistant) -> Iterator[TestClient]:
    """A browser-like client over HTTPS (the session cookie is Secure), following no redirects."""
    app = create_app(assistant, watch_releases=False)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def add_user(assistant, username: str, role: str) -> None:
    with assistant.store.session() as session:
        create_user(session, username, PASSWORD, role)


def log_in(web: TestClient, username: str, password: str = PASSWORD, next_page: str = "/admin/review"):
    form = web.get("/admin/login", params={"next": next_page})
    assert form.status_code == 200
    token = CSRF.search(form.text).group(1)
    return web.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_page},
    )


def csrf_of(web: TestClient, path: str) -> str:
    return form_state(web, path)["csrf_token"]


def form_state(web: TestClient, path: str) -> dict[str, str]:
    """The hidden fields a page's forms post back: the CSRF token and, on a flag, its version."""
    page = web.get(path)
    assert page.status_code == 200, page.text
    state = {"csrf_token": CSRF.search(page.text).group(1), "page": page.text}
    version = re.search(r'name="version" value="(\d+)"', page.text)
    if version:
        state["version"] = version.group(1)
    return state


def flag_down(assistant, question: str = "How do I reset my password?", conversation_id: str | None = None):
    """Ask ``question`` on the web channel and give it a 👎 with a comment; returns the flag id."""
    answer = assistant.ask(question, conversation_id=conversation_id, channel="web")
    with assistant.store.session() as session:
        repository.record_feedback(
            session, interaction_id=answer.interaction_id, rating="down", comment="too slow", voter="cust-1"
        )
        flag_interaction(session, answer.interaction_id, assistant.settings, assistant.embedder)
        return session.scalar(select(FlagRow).where(FlagRow.interaction_id == answer.interaction_id)).id


def test_login_sets_a_secure_session_and_logout_ends_it(web, assistant) -> None:
    add_user(assistant, "ana", "lead")
    done = log_in(web, "ana", next_page="/admin/gaps")
    assert done.status_code == 303 and done.headers["location"] == "/admin/gaps"
    cookie = next(h for h in done.headers.get_list("set-cookie") if h.startswith("assistant_admin="))
    assert {"HttpOnly", "Secure", "SameSite=lax", "Path=/admin"} <= {p.strip() for p in cookie.split(";")}
    assert web.get("/admin/review").status_code == 200
    assert "ana (lead)" in web.get("/admin/review").text

    stolen = web.cookies.get("assistant_admin")
    token = csrf_of(web, "/admin/review")
    assert web.post("/admin/logout", data={"csrf_token": token}).status_code == 303
    assert "assistant_admin" not in web.cookies
    again = web.get("/admin/review", headers={"Cookie": f"assistant_admin={stolen}"})
    assert again.status_code == 303 and again.headers["location"].startswith("/admin/login")


def test_wrong_credentials_and_forged_login_forms(web, assistant) -> None:
    add_user(assistant, "ana", "lead")
    wrong = log_in(web, "ana", "not the password")
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    assert log_in(web, "nobody").status_code == 401
    assert "assistant_admin" not in web.cookies
    web.get("/admin/login")
    forged = web.post("/admin/login", data={"username": "ana", "password": PASSWORD, "csrf_token": "guess"})
    assert forged.status_code == 403 and "expired" in forged.text
    assert "assistant_admin" not in web.cookies


def test_no_open_redirect_after_login(web, assistant) -> None:
    add_user(assistant, "ana", "lead")
    for target in ("https://evil.example/", "//evil.example/admin", "/admin/login", "/\\evil.example"):
        web.cookies.clear()
        done = log_in(web, "ana", next_page=target)
        assert done.headers["location"] == "/admin/review", target


def test_expired_or_disabled_sessions_stop_working(web, assistant) -> None:
    add_user(assistant, "ana", "lead")
    log_in(web, "ana")
    with assistant.store.session() as session:
        session.execute(update(AdminSessionRow).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert web.get("/admin/review").status_code == 303
    log_in(web, "ana")
    assert web.get("/admin/review").status_code == 200
    with assistant.store.session() as session:
        disable_user(session, "ana")
    assert web.get("/admin/review").status_code == 303


def test_posts_with_the_cookie_need_the_csrf_token(web, assistant) -> None:
    add_user(assistant, "ana", "lead")
    flag_id = flag_down(assistant)
    log_in(web, "ana")
    state = form_state(web, f"/admin/review/{flag_id}")
    version = state["version"]
    for token in (None, "wrong"):
        data = {"version": version, "answer": "Use the reset link."}
        if token:
            data["csrf_token"] = token
        refused = web.post(f"/admin/review/{flag_id}/correct", data=data)
        assert refused.status_code == 403 and "CSRF" in refused.text
    # the JSON API with the cookie: the token goes in a header
    assert web.post(f"/admin/api/review/{flag_id}/reject", json={}).status_code == 403
    with assistant.store.session() as session:
        assert session.get(FlagRow, flag_id).status == "open"
    headers = {"X-CSRF-Token": state["csrf_token"]}
    done = web.post(f"/admin/api/review/{flag_id}/reject", json={}, headers=headers)
    assert done.status_code == 200 and done.json()["status"] == "rejected"


def test_queue_filters_and_the_conversation_view(web, assistant) -> None:
    add_user(assistant, "ana", "lead")
    first = assistant.ask("Where is my refund?", channel="web")
    flag_id = flag_down(assistant, "How long does the refund take?", first.conversation_id)
    log_in(web, "ana")
    queue = web.get("/admin/review")
    assert "How long does the refund take?" in queue.text
    assert "How long does the refund take?" in web.get("/admin/review?reason=thumbs_down&channel=web").text
    assert "How long does the refund take?" not in web.get("/admin/review?channel=slack").text
    assert "How long does the refund take?" not in web.get("/admin/review?reason=escalated").text
    assert "How long does the refund take?" not in web.get("/admin/review?since=2099-01-01").text
    bad = web.get("/admin/review?reason=nope")
    assert bad.status_code == 400 and "reason must be one of" in bad.text

    view = web.get(f"/admin/review/{flag_id}").text
    assert "Where is my refund?" in view  # the earlier turn
    assert "How long does the refund take?" in view
    assert "Getting a refund" in view and re.search(r"0\.\d{3}", view)  # a source with its score
    assert "too slow" in view and "cust-1" in view  # the feedback with its comment and voter
    assert web.get("/admin/review/999999").status_code == 404


def test_correct_in_the_ui_serves_the_correction_at_once(web, assistant) -> None:
    add_user(assistant, "ana", "lead")
    flag_id = flag_down(assistant)
    log_in(web, "ana")
    state = form_state(web, f"/admin/review/{flag_id}")
    token, version = state["csrf_token"], state["version"]
    fixed = "Click 'Forgot password' on the sign-in page; the emailed link works for 30 minutes."
    done = web.post(
        f"/admin/review/{flag_id}/correct",
        data={"csrf_token": token, "version": version, "answer": fixed, "doc_ids": ["password.md"]},
    )
    assert done.status_code == 303 and done.headers["location"] == f"/admin/review/{flag_id}"
    after = web.get(f"/admin/review/{flag_id}").text
    assert "Corrected by ana" in after and "now served for similar questions" in after
    assert "correct</b> by ana" in after  # the audit trail

    served = assistant.ask("I forgot my password, how can I reset it?")
    assert served.answer == fixed and served.curated_answer_id is not None

    stale = web.post(
        f"/admin/review/{flag_id}/reject", data={"csrf_token": token, "version": version, "note": "late"}
    )
    assert stale.status_code == 409 and "changed since you loaded it" in stale.text
    with assistant.store.session() as session:
        assert session.get(FlagRow, flag_id).status == "corrected"


def test_bad_review_input_is_400_and_changes_nothing(web, assistant) -> None:
    add_user(assistant, "ana", "lead")
    flag_id = flag_down(assistant)
    log_in(web, "ana")
    token = csrf_of(web, f"/admin/review/{flag_id}")
    for data in (
        {"version": "1", "answer": "   "},  # a correction needs text
        {"version": "1", "answer": "x", "more_doc_ids": "nope.md"},  # unknown document
        {"answer": "x"},  # no version
    ):
        response = web.post(f"/admin/review/{flag_id}/correct", data={"csrf_token": token, **data})
        assert response.status_code == 400, (data, response.text)
    assert web.post(f"/admin/review/{flag_id}/promote", data={"csrf_token": token}).status_code == 404
    with assistant.store.session() as session:
        assert session.get(FlagRow, flag_id).status == "open"
        assert session.scalars(select(CuratedAnswerRow)).all() == []


def test_cluster_bulk_action(web, assistant) -> None:
    add_user(assistant, "ana", "lead")
    ids = [flag_down(assistant, q) for q in ("How do I reset my password?", "how do i reset my password")]
    log_in(web, "ana")
    web.get("/admin/review")  # reclusters
    state = form_state(web, f"/admin/review/{ids[0]}")
    assert "Also the 1 similar open question" in state.pop("page")
    web.post(f"/admin/review/{ids[0]}/gap", data={**state, "note": "2FA article", "whole_cluster": "yes"})
    with assistant.store.session() as session:
        assert [session.get(FlagRow, i).status for i in ids] == ["gap", "gap"]
    assert "2FA article" in web.get("/admin/gaps").text
    exported = web.get("/admin/gaps.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert row["count"] == "2"


def test_engineers_read_but_do_not_act(web, assistant) -> None:
    add_user(assistant, "eve", "engineer")
    flag_id = flag_down(assistant)
    log_in(web, "eve")
    state = form_state(web, f"/admin/review/{flag_id}")
    assert "leads act on it" in state.pop("page")
    refused = web.post(f"/admin/review/{flag_id}/approve", data={**state, "version": "1"})
    assert refused.status_code == 403 and "engineer" in refused.text


def test_curated_answers_page(web, assistant) -> None:
    add_user(assistant, "ana", "lead")
    log_in(web, "ana")
    token = csrf_of(web, "/admin/curated")
    upload = "id,question,answer,doc_ids,enabled\n,Do you ship abroad?,Yes: to 40 countries.,,true\n"
    done = web.post(
        "/admin/curated/import",
        data={"csrf_token": token},
        files={"file": ("curated.csv", upload.encode(), "text/csv")},
    )
    assert done.status_code == 200 and "1 added" in done.text
    bad = web.post(
        "/admin/curated/import",
        data={"csrf_token": token},
        files={"file": ("curated.csv", b"id,question\n,only a question\n", "text/csv")},
    )
    assert bad.status_code == 400 and "nothing imported" in bad.text
    with assistant.store.session() as session:
        [row] = session.scalars(select(CuratedAnswerRow)).all()
        curated_id = row.id

    edit = web.post(
        f"/admin/curated/{curated_id}",
        data={
            "csrf_token": token,
            "question": "Do you ship abroad?",
            "answer": "Yes, to 41 countries.",
            "doc_ids": "shipping/options.md",
            "enabled": "yes",
        },
    )
    assert edit.status_code == 303
    assert (
        web.post(
            f"/admin/curated/{curated_id}", data={"csrf_token": token, "question": "q", "answer": " "}
        ).status_code
        == 400
    )
    assert web.post(f"/admin/curated/{curated_id}/disable", data={"csrf_token": token}).status_code == 303
    with assistant.store.session() as session:
        row = session.get(CuratedAnswerRow, curated_id)
        assert (row.answer, row.doc_ids, row.enabled) == (
            "Yes, to 41 countries.",
            ["shipping/options.md"],
            False,
        )
    exported = web.get("/admin/curated.csv").text
    assert "Yes, to 41 countries." in exported
    assert web.post(f"/admin/curated/{curated_id}/delete", data={"csrf_token": token}).status_code == 303
    assert web.post(f"/admin/curated/{curated_id}/delete", data={"csrf_token": token}).status_code == 404
    assert "No curated answers yet" in web.get("/admin/curated").text


def test_dashboard_page_and_csv(web, assistant) -> None:
    add_user(assistant, "ana", "lead")
    flag_down(assistant)
    assistant.ask("How do I get a refund?")
    log_in(web, "ana")
    page = web.get("/admin/dashboard")
    assert page.status_code == 200
    assert page.text.count("<svg") == 2 and 'data-testid="dashboard-table"' in page.text
    today = utcnow().date().isoformat()
    assert today in page.text
    by_release = web.get("/admin/dashboard?by=release")
    assert assistant.serving.release_id in by_release.text
    exported = web.get(f"/admin/dashboard.csv?by=day&since={today}&until={today}")
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert row["day"] == today and row["questions"] == "2" and row["thumbs_down_rate"] == "0.5"
    assert web.get("/admin/dashboard?since=2026-02-01&until=2026-01-01").status_code == 400
    assert web.get("/admin/dashboard?by=week").status_code == 400
