"""The embeddable widget in a real browser, on a host page from another origin than the API.

The API app runs in a real uvicorn; the host page (demo/host.html, with the snippet pointed at
that server) is served by a second local HTTP server on another port, so every widget request
is cross-origin and goes through the CORS allow-list, exactly as on a customer's site.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from assistant.api.app import create_app
from assistant.config import Settings
from assistant.review.curated import import_csv
from assistant.store import InteractionRow, feedback_for
from tests.api.conftest import free_port

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing: install the dev extra")
expect = sync_api.expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
HOST_PAGE = ROOT / "demo" / "host.html"
SNIPPET_API = "http://127.0.0.1:8000"
WAIT_MS = 30_000
PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
HOSTILE_DOC = (
    "---\nurl: javascript:window.__xss=1\n---\n"
    "# Gift cards <img src=x onerror=window.__xss=1>\n\n"
    "Gift cards <script>window.__xss=1</script> never expire "
    "[claim yours](javascript:window.__xss=1) <iframe src=javascript:window.__xss=1></iframe>.\n"
)


class HostSite:
    """A company's site on its own port: ``/`` is demo/host.html with the snippet aimed at ``api``."""

    def __init__(self) -> None:
        self.api = ""
        self.extra_attributes = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/":
                    self.send_error(404)
                    return
                page = HOST_PAGE.read_text(encoding="utf-8").replace(SNIPPET_API, site.api)
                page = page.replace('data-language="en"', f'data-language="en"{site.extra_attributes}')
                body = page.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"  # the allowed origin
        self.other_url = f"http://localhost:{self.port}/"  # same page, another origin: refused
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Recorder:
    """ASGI wrapper noting ``(method, path, origin, status)`` of every answer the API gives."""

    def __init__(self, app) -> None:
        self.app = app
        self.seen: list[tuple[str, str, str | None, int]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = dict(scope["headers"]).get(b"origin")

        async def noting(message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append(
                    (scope["method"], scope["path"], origin and origin.decode(), message["status"])
                )
            await send(message)

        await self.app(scope, receive, noting)

    def statuses(self, path: str, origin: str | None = None, method: str | None = None) -> list[int]:
        return [
            s
            for m, p, o, s in self.seen
            if p == path and (origin is None or o == origin) and (method is None or m == method)
        ]


@pytest.fixture
def site() -> Iterator[HostSite]:
    host = HostSite()
    yield host
    host.server.shutdown()
    host.server.server_close()


@pytest.fixture
def widget_limits() -> dict:
    return {}


@pytest.fixture
def api_settings(tmp_path: Path, db_url: str, site: HostSite, widget_limits: dict) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=db_url,
        widget_allowed_origins=site.url,
        allowed_link_hosts="example.com",  # the output guard lets the answers' mailto: links through
        answer_check=False,  # the model's own hostile output must reach the page to test its escaping
        _env_file=None,
        **widget_limits,
    )


@pytest.fixture
def kb_dir(kb_dir: Path) -> Path:
    (kb_dir / "gift-cards.md").write_text(HOSTILE_DOC)
    return kb_dir


@pytest.fixture
def api(assistant, site: HostSite) -> Iterator[Recorder]:
    """The API in a real uvicorn, recording what it answered; the host page points at it."""
    recorder = Recorder(create_app(assistant))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(recorder, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    site.api = f"http://127.0.0.1:{port}"
    yield recorder
    server.should_exit = True
    thread.join(timeout=10)


def problems(page) -> list[str]:
    found: list[str] = []
    page.on("pageerror", lambda error: found.append(str(error)))
    return found


def widget(page):
    """The widget's shadow root, for checks no locator can make (element counts, hrefs)."""
    return page.locator("#support-assistant-widget")


def shadow_count(page, selector: str) -> int:
    return page.evaluate(
        "s => document.querySelector('#support-assistant-widget').shadowRoot.querySelectorAll(s).length",
        selector,
    )


def ask(page, question: str) -> None:
    page.get_by_test_id("assistant-input").fill(question)
    page.get_by_test_id("assistant-send").click()


def last_answer(page):
    return page.get_by_test_id("assistant-message").and_(page.locator("[data-role=assistant]")).last


@pytest.mark.browser
def test_a_customer_asks_votes_resolves_and_finds_the_conversation_after_a_reload(
    page, api: Recorder, site: HostSite, assistant
) -> None:
    errors = problems(page)
    streams: list[str] = []
    page.on(
        "response",
        lambda response: (
            response.url.endswith("/widget/v1/chat") and streams.append(response.headers["content-type"])
        ),
    )
    with assistant.store.session() as session:
        import_csv(
            session,
            "question,answer,doc_ids\nDo gift cards expire?,"
            '"No. Gift cards **never expire**; see [the terms](https://help.example.com/gift-cards).",\n',
            actor="lead@example.com",
        )
    page.goto(site.url)
    expect(page).to_have_title("Acme Outdoor · Help centre")
    launcher = page.get_by_test_id("assistant-launcher")
    expect(launcher).to_have_attribute("aria-label", "Open support chat")
    launcher.click()
    dialog = page.get_by_role("dialog", name="Acme Help")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("assistant-input")).to_be_focused()
    expect(dialog).to_contain_text("I'm Acme's assistant")

    ask(page, "How do I track my refund?")
    user = page.get_by_test_id("assistant-message").and_(page.locator("[data-role=user]"))
    expect(user).to_have_count(1)
    expect(user).to_contain_text("How do I track my refund?")
    answer = last_answer(page)
    # the fake generator answers with the words of source [1], the refunds article
    expect(answer).to_contain_text("refund", timeout=WAIT_MS)
    source = answer.get_by_test_id("assistant-source")
    expect(source.first).to_have_text("Getting a refund", timeout=WAIT_MS)
    expect(source.first).to_have_attribute("href", "https://help.example.com/refunds")
    expect(source.first).to_have_attribute("target", "_blank")
    expect(source.first).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(page.get_by_test_id("assistant-input")).to_have_value("")

    answer.get_by_test_id("assistant-thumbs-up").click()
    expect(answer.get_by_test_id("assistant-thumbs-up")).to_have_attribute("aria-pressed", "true")
    answer.get_by_test_id("assistant-resolved").click()
    expect(answer).to_contain_text("Glad that helped!")
    expect(answer.get_by_test_id("assistant-resolved")).to_have_attribute("aria-pressed", "true")

    # a question a support lead has answered gets the curated answer, labelled as verified
    ask(page, "Do gift cards expire?")
    verified = last_answer(page)
    expect(verified.get_by_test_id("assistant-verified")).to_have_text("✓ Verified answer", timeout=WAIT_MS)
    expect(verified.locator("strong")).to_have_text("never expire")
    expect(verified.get_by_role("link", name="the terms")).to_have_attribute(
        "href", "https://help.example.com/gift-cards"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.get_by_test_id("assistant-input").fill("Can I change my delivery address?")
    page.screenshot(path=str(ARTIFACTS / "widget-answer.png"))
    page.screenshot(path=str(SCREENSHOTS / "widget.png"))

    assert api.statuses("/widget/v1/chat", method="POST") == [200, 200]
    assert streams and all(kind.startswith("text/event-stream") for kind in streams)
    with assistant.store.session() as session:
        rows = session.scalars(select(InteractionRow).order_by(InteractionRow.created_at)).all()
        assert [row.question for row in rows] == ["How do I track my refund?", "Do gift cards expire?"]
        assert [row.channel for row in rows] == ["web", "web"]
        assert rows[0].conversation_id == rows[1].conversation_id
        assert rows[1].curated_answer_id is not None
        events = feedback_for(session, rows[0].id)
        assert [(e.rating, e.resolution) for e in events] == [("up", None), (None, "resolved")]
        stored_answer = rows[0].answer

    # a reload keeps the conversation: the panel reopens with the earlier turns and votes
    page.reload()
    expect(page.get_by_role("dialog", name="Acme Help")).to_be_visible()
    messages = page.get_by_test_id("assistant-message")
    expect(messages).to_have_count(4, timeout=WAIT_MS)
    expect(messages.nth(0)).to_contain_text("How do I track my refund?")
    first = messages.nth(1)
    expect(first.locator(".body")).to_have_text(stored_answer)
    expect(first.get_by_test_id("assistant-source").first).to_have_text("Getting a refund")
    expect(first.get_by_test_id("assistant-thumbs-up")).to_have_attribute("aria-pressed", "true")
    expect(messages.nth(3).get_by_test_id("assistant-verified")).to_be_visible()

    # keyboard: Escape (from inside the widget) closes it and gives the focus back to the launcher
    page.get_by_test_id("assistant-input").focus()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Acme Help")).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    assert errors == []
    assert all(status < 400 for *_, status in api.seen), api.seen


@pytest.mark.browser
def test_talk_to_a_human_and_a_comment_on_thumbs_down(page, api: Recorder, site: HostSite, assistant) -> None:
    page.goto(site.url)
    page.get_by_test_id("assistant-launcher").click()
    ask(page, "How do I reset my password?")
    answer = last_answer(page)
    expect(answer.get_by_test_id("assistant-source")).to_have_text("Resetting your password", timeout=WAIT_MS)
    # a source without a web address is its title, not a link
    assert answer.get_by_test_id("assistant-source").evaluate("e => e.tagName") == "SPAN"
    answer.get_by_test_id("assistant-thumbs-down").click()
    comment = answer.get_by_role("textbox", name="What was missing? (optional)")
    expect(comment).to_be_focused()
    comment.fill("The link had expired")
    answer.get_by_role("button", name="Send feedback").click()
    expect(comment).to_have_count(0)
    answer.get_by_test_id("assistant-unresolved").click()
    answer.get_by_test_id("assistant-human").click()
    expect(answer).to_contain_text("A member of our support team will pick this up.")
    expect(answer.get_by_test_id("assistant-human")).to_be_disabled()
    with assistant.store.session() as session:
        [row] = session.scalars(select(InteractionRow)).all()
        events = [(e.rating, e.resolution, e.comment) for e in feedback_for(session, row.id)]
    assert events == [
        ("down", None, None),
        ("down", None, "The link had expired"),
        (None, "unresolved", None),
        (None, "escalated", None),
    ]


@pytest.mark.browser
def test_the_widget_on_a_phone_fills_the_screen(page, api: Recorder, site: HostSite) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site.url)
    page.get_by_test_id("assistant-launcher").click()
    ask(page, "What delivery options are there?")
    expect(last_answer(page).get_by_test_id("assistant-thumbs-up")).to_be_visible(timeout=WAIT_MS)
    box = page.get_by_role("dialog").bounding_box()
    assert box is not None and (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-mobile.png"))


@pytest.mark.browser
def test_a_page_from_an_origin_not_on_the_list_is_refused(
    page, api: Recorder, site: HostSite, assistant
) -> None:
    warnings: list[str] = []
    page.on("console", lambda message: message.type == "warning" and warnings.append(message.text))
    page.goto(site.other_url)
    page.get_by_test_id("assistant-launcher").click()
    ask(page, "How do I track my refund?")
    expect(page.get_by_role("dialog").get_by_role("status").last).to_have_text(
        "Sorry, the assistant can't be reached from this page right now.", timeout=WAIT_MS
    )
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)  # only the question
    other_origin = site.other_url.rstrip("/")
    refused = api.statuses("/widget/v1/chat", other_origin) + api.statuses("/widget/v1/history", other_origin)
    assert refused and set(refused) == {403}
    assert any("ASSISTANT_WIDGET_ALLOWED_ORIGINS" in w for w in warnings)
    with assistant.store.session() as session:
        assert session.scalars(select(InteractionRow)).all() == []


@pytest.mark.browser
@pytest.mark.parametrize("widget_limits", [{"widget_rate_limit_session": "1/minute"}])
def test_too_many_questions_get_a_friendly_wait_message(page, api: Recorder, site: HostSite) -> None:
    page.goto(site.url)
    page.get_by_test_id("assistant-launcher").click()
    ask(page, "How do I track my refund?")
    expect(last_answer(page).get_by_test_id("assistant-thumbs-up")).to_be_visible(timeout=WAIT_MS)
    ask(page, "And how long does it take?")
    status = page.get_by_role("dialog").locator(".status")
    expect(status).to_contain_text(
        "You're sending messages too quickly. Please try again in", timeout=WAIT_MS
    )
    assert api.statuses("/widget/v1/chat", method="POST") == [200, 429]
    expect(page.get_by_test_id("assistant-message")).to_have_count(3)  # the refused question stays visible


@pytest.mark.browser
def test_hostile_text_from_people_documents_and_the_model_stays_inert(
    page, api: Recorder, site: HostSite, assistant
) -> None:
    page.goto(site.url)
    page.get_by_test_id("assistant-launcher").click()

    # 1. the question; 2. the document (its title, its text and a javascript: source URL);
    # the fake generator answers with source [1]'s words, so the document's text comes back too
    ask(page, f"Do gift cards expire? {PAYLOAD} [x](javascript:window.__xss=1)")
    answer = last_answer(page)
    expect(answer.get_by_test_id("assistant-thumbs-up")).to_be_visible(timeout=WAIT_MS)
    expect(answer.get_by_test_id("assistant-source").first).to_contain_text("Gift cards <img")
    # 3. the model's own output
    assistant.serving.generator.answer = (
        f"Sure! {PAYLOAD} <a href=javascript:window.__xss=1>here</a> [click](javascript:window.__xss=1) "
        "![logo](https://evil.example/track.png) [mail us](mailto:help@example.com) **done**"
    )
    ask(page, "What about store credit?")
    answer = last_answer(page)
    expect(answer.get_by_test_id("assistant-thumbs-up")).to_be_visible(timeout=WAIT_MS)
    expect(answer).to_contain_text('<img src=x onerror="window.__xss=1">')
    expect(answer.get_by_role("link", name="mail us")).to_have_attribute("href", "mailto:help@example.com")
    page.reload()  # and the same text once more, from the history
    expect(page.get_by_test_id("assistant-message")).to_have_count(4, timeout=WAIT_MS)
    expect(page.get_by_test_id("assistant-thumbs-up")).to_have_count(2)

    assert page.evaluate("window.__xss") is None
    assert shadow_count(page, "img, script, iframe, object, embed, style[onload]") == 0
    assert page.evaluate("document.querySelectorAll('img, iframe').length") == 0
    hrefs = page.evaluate(
        "[...document.querySelector('#support-assistant-widget').shadowRoot.querySelectorAll('a')]"
        ".map(a => a.getAttribute('href'))"
    )
    assert hrefs and all(h.startswith(("https://", "http://", "mailto:")) for h in hrefs), hrefs
    assert page.evaluate("window.__xss") is None
