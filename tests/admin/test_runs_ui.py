"""Learning-cycle runs in the admin UI and API: engineers start (a real child process), watch,
cancel and promote; leads may only watch; the lock answers 409."""

from __future__ import annotations

import time
from datetime import timedelta

from assistant import runs
from tests.admin.test_ui import add_user, form_state, log_in, web  # noqa: F401 (fixture)
from tests.training.test_cli_flywheel import failed_candidate


def test_an_engineer_starts_a_cycle_and_watches_it_finish(web, assistant) -> None:  # noqa: F811
    add_user(assistant, "eve", "engineer")
    log_in(web, "eve")
    state = form_state(web, "/admin/runs")
    started = web.post("/admin/runs", data={"csrf_token": state["csrf_token"]})
    assert started.status_code == 303
    page_url = started.headers["location"]
    run_id = page_url.rsplit("/", 1)[1]
    deadline = time.monotonic() + 120
    page = web.get(page_url).text
    while 'data-testid="run-status">skipped' not in page:  # too little data: the child process skips
        assert time.monotonic() < deadline, page
        assert 'http-equiv="refresh"' in page  # the page refreshes itself while the run is live
        time.sleep(0.5)
        page = web.get(page_url).text
    assert "too little new data" in page and "stage datasets" in page
    assert 'http-equiv="refresh"' not in page
    with assistant.store.session() as session:
        assert runs.get_run(session, run_id).requested_by == "eve"
    assert run_id in web.get("/admin/runs").text


def test_leads_watch_but_do_not_start(web, assistant) -> None:  # noqa: F811
    add_user(assistant, "ana", "lead")
    log_in(web, "ana")
    state = form_state(web, "/admin/runs")
    assert "Engineers start and cancel cycles" in state["page"]
    assert web.post("/admin/runs", data={"csrf_token": state["csrf_token"]}).status_code == 403


def test_the_api_refuses_a_second_cycle_cancels_and_promotes(client, assistant, make_token) -> None:
    engineer = make_token("eve", "engineer")
    holder = runs.create_run(assistant.store)
    runs.acquire_lock(assistant.store, holder, stale_after=timedelta(minutes=30))
    busy = client.post("/admin/api/runs", headers=engineer)
    assert busy.status_code == 409 and holder in busy.json()["detail"]
    assert client.post(f"/admin/api/runs/{holder}/cancel", headers=engineer).status_code == 202
    assert client.get(f"/admin/api/runs/{holder}", headers=engineer).json()["cancel_requested"] is True
    runs.release_lock(assistant.store, holder)
    assert client.post("/admin/api/runs/run-nope/cancel", headers=engineer).status_code == 404

    candidate = failed_candidate(assistant)
    [run] = [r for r in client.get("/admin/api/runs", headers=engineer).json() if r["candidate_release"]]
    refused = client.post(f"/admin/api/runs/{run['id']}/promote", headers=engineer, json={})
    assert refused.status_code == 400 and "reason" in refused.json()["detail"]
    lead = make_token("ana", "lead")
    assert (
        client.post(f"/admin/api/runs/{run['id']}/promote", headers=lead, json={"reason": "x"}).status_code
        == 403
    )
    done = client.post(f"/admin/api/runs/{run['id']}/promote", headers=engineer, json={"reason": "known dip"})
    assert done.status_code == 200 and done.json() == {"active": candidate}
    assert assistant.registry.current_id() == candidate
