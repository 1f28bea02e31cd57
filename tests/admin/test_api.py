"""The admin JSON API: 401 without a valid token, 403 for the wrong role, review actions, 409."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute

from assistant.admin.auth import disable_user, revoke_tokens, user_for_token
from assistant.store.models import CuratedAnswerRow


def flag(client, assistant, question: str = "How do I reset my password?") -> dict:
    answer = assistant.ask(question)
    posted = client.post("/v1/feedback", json={"interaction_id": answer.interaction_id, "rating": "down"})
    assert posted.status_code == 201
    return answer


def test_whoami(client, make_token) -> None:
    response = client.get("/admin/api/whoami", headers=make_token("ana", "lead"))
    assert response.status_code == 200
    assert response.json() | {"id": 0} == {"id": 0, "username": "ana", "role": "lead"}


def walk(routes, prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """Every (path, methods) under ``routes``, through included routers (FastAPI may nest them)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from walk(included.routes, prefix + (getattr(context, "prefix", "") or ""))
        elif isinstance(route, APIRoute) or hasattr(route, "methods"):
            yield prefix + route.path, set(route.methods or ())
        elif hasattr(route, "routes"):  # a mount
            yield from walk(route.routes, prefix + getattr(route, "path", ""))


PUBLIC = {"/admin/login"}  # the login form itself


def test_every_admin_route_needs_auth(client) -> None:
    """API routes answer 401; UI pages send the browser to the login page; nothing else answers."""
    routes = {(path, frozenset(methods)) for path, methods in walk(client.app.routes)}
    routes |= {  # the schema too, in case a route hides from the walk
        (path, frozenset(m.upper() for m in ops)) for path, ops in client.app.openapi()["paths"].items()
    }
    admin = sorted((p, m) for p, m in routes if p.startswith("/admin") and p not in PUBLIC)
    expected = {
        "/admin/api/whoami",
        "/admin/api/review",
        "/admin/review",
        "/admin/curated",
        "/admin/dashboard",
    }
    assert {p for p, _ in admin} >= expected
    for route_path, methods in admin:
        path = re.sub(r"\{flag_id\}", "1", route_path)
        path = re.sub(r"\{action\}", "approve", path)
        path = re.sub(r"\{[^}]+\}", "x", path)
        for method in methods - {"HEAD"}:
            forged = ({}, {"Authorization": "Bearer ast_not-a-token"}, {"Cookie": "assistant_admin=forged"})
            for headers in forged:
                response = client.request(method, path, headers=headers, json={}, follow_redirects=False)
                if path.startswith("/admin/api"):
                    assert response.status_code == 401, (method, path, headers, response.text)
                    assert response.headers["www-authenticate"] == "Bearer"
                    assert response.json()["detail"]
                else:
                    assert response.status_code == 303, (method, path, headers, response.text)
                    assert response.headers["location"].startswith("/admin/login?next=")


def test_401_cases(client, assistant, make_token) -> None:
    headers = make_token("ana", "lead")
    token = headers["Authorization"].removeprefix("Bearer ")

    def status(value: str | None) -> int:
        response = client.get("/admin/api/whoami", headers={"Authorization": value} if value else {})
        if response.status_code == 401:
            assert response.json()["detail"] and response.headers["www-authenticate"] == "Bearer"
        return response.status_code

    assert status(None) == 401
    assert status(f"Basic {token}") == 401  # malformed: wrong scheme
    assert status("Bearer") == 401  # malformed: no token
    assert status("Bearer ast_unknown") == 401
    assert status(f"bearer {token}") == 200
    with assistant.store.session() as session:
        revoke_tokens(session, user_for_token(session, token))
    assert status(f"Bearer {token}") == 401  # revoked

    other = make_token("bo", "lead")
    assert client.get("/admin/api/whoami", headers=other).status_code == 200
    with assistant.store.session() as session:
        disable_user(session, "bo")
    assert client.get("/admin/api/whoami", headers=other).status_code == 401  # disabled user


def test_wrong_role_is_403(client, assistant, make_token) -> None:
    flag(client, assistant)
    engineer = make_token("eve", "engineer")
    assert client.get("/admin/api/review", headers=engineer).status_code == 200  # may read the queue
    response = client.post("/admin/api/review/1/approve", headers=engineer, json={})
    assert response.status_code == 403 and "engineer" in response.json()["detail"]


def test_review_through_the_api(client, assistant, make_token) -> None:
    answer = flag(client, assistant)
    lead = make_token("ana", "lead")
    [item] = client.get("/admin/api/review", headers=lead).json()
    assert item["interaction_id"] == answer.interaction_id and item["reasons"] == ["thumbs_down"]
    assert {"id", "question", "answer", "priority", "cluster", "version"} <= set(item)
    done = client.post(
        f"/admin/api/review/{item['id']}/approve", headers=lead, json={"version": item["version"]}
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "approved" and body["version"] == item["version"] + 1
    with assistant.store.session() as session:
        curated = session.get(CuratedAnswerRow, body["curated_answer_id"])
        assert curated.created_by == "ana" and curated.answer == answer.answer
    assert client.get("/admin/api/review", headers=lead).json() == []
    served = assistant.ask("How can I reset my password?")
    assert served.curated_answer_id == body["curated_answer_id"]


def test_stale_version_is_409_and_admin_may_act(client, assistant, make_token) -> None:
    flag(client, assistant)
    lead, admin = make_token("ana", "lead"), make_token("root", "admin")
    [item] = client.get("/admin/api/review", headers=lead).json()
    url = f"/admin/api/review/{item['id']}"
    first = client.post(
        f"{url}/gap", headers=admin, json={"version": item["version"], "note": "no 2FA article"}
    )
    assert first.status_code == 200 and first.json()["status"] == "gap"
    second = client.post(f"{url}/reject", headers=lead, json={"version": item["version"]})
    assert second.status_code == 409 and "changed since you loaded it" in second.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/admin/api/review/999/approve", {}, 404),
        ("/admin/api/review/abc/approve", {}, 422),
        ("/admin/api/review/{id}/promote", {}, 404),
        ("/admin/api/review/{id}/correct", {}, 400),  # a correction needs the answer
        ("/admin/api/review/{id}/correct", {"answer": "x", "doc_ids": ["nope.md"]}, 400),
        ("/admin/api/review/{id}/approve", {"version": "one"}, 400),
        ("/admin/api/review/{id}/approve", {"colour": "red"}, 400),
        ("/admin/api/review/{id}/approve", [1, 2], 400),
    ],
)
def test_bad_requests(client, assistant, make_token, path: str, body, status: int) -> None:
    flag(client, assistant)
    lead = make_token("ana", "lead")
    [item] = client.get("/admin/api/review", headers=lead).json()
    response = client.post(path.format(id=item["id"]), headers=lead, json=body)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert client.get("/admin/api/review", headers=lead).json()[0]["status"] == "open"


def test_bad_query_is_422_naming_the_choices(client, make_token) -> None:
    lead = make_token("ana", "lead")
    for query, expected in [
        ("reason=nope", "reason must be one of thumbs_down"),
        ("status=nope", "status must be one of open"),
        ("channel=fax", "channel must be one of api"),
        ("since=yesterday", "valid date"),
        ("since=2026-02-01&until=2026-01-01", "since must not be after until"),
        ("colour=red", "Extra inputs"),
    ]:
        response = client.get(f"/admin/api/review?{query}", headers=lead)
        assert response.status_code == 422, query
        assert expected in response.text, (query, response.text)
    unauth = client.get("/admin/api/review?reason=nope")
    assert unauth.status_code == 401


def test_erase_customer_is_for_admins_only(client, assistant, make_token) -> None:
    assistant.ask("How do I reset my password?", user_id="slack:U0ALICE")
    for role in ("lead", "engineer"):
        response = client.delete("/admin/api/customers/slack:U0ALICE", headers=make_token(f"{role}-1", role))
        assert response.status_code == 403, response.text
    admin = make_token("root", "admin")
    erased = client.delete("/admin/api/customers/slack:U0ALICE", headers=admin)
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["interactions"] == 1 and body["conversations"] == 1 and body["erased_by"] == "root"
    again = client.delete("/admin/api/customers/slack:U0ALICE", headers=admin).json()
    assert again["removed"] == 0 and again["already_erased"]
    assert client.delete("/admin/api/customers/%20", headers=admin).status_code == 400
