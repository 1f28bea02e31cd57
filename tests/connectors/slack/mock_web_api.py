"""A local mock of Slack's Web API (bolt-python's ``tests/mock_web_api_server`` idea).

An HTTP server on a free loopback port, in a thread. It records every call (method name and
its form or JSON parameters) and answers like Slack. ``rate_limit(n, method)`` makes the next ``n``
calls of ``method`` answer 429 with ``Retry-After: 1``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None = None
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class MockSlack:
    """The server's state: recorded calls, canned group members, the 429 switch."""

    calls: list[Call] = field(default_factory=list)
    group_members: list[str] = field(default_factory=list)
    rate_limited: int = 0
    rate_limited_method: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    url: str = ""

    def rate_limit(self, times: int, method: str) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and ``Retry-After: 1``."""
        with self.lock:
            self.rate_limited, self.rate_limited_method = times, method

    def next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def of(self, method: str, *, limited: bool = False) -> list[Call]:
        """The answered calls of ``method`` (with ``limited``, the ones answered 429 instead)."""
        with self.lock:
            return [c for c in self.calls if c.method == method and (c.status == 429) == limited]

    def wait_for(
        self, method: str, predicate: Callable[[Call], bool] = lambda c: True, *, count: int = 1, timeout=20
    ) -> list[Call]:
        """Poll the recorded calls until ``count`` calls of ``method`` match (or fail after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [call for call in self.of(method) if predicate(call)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} {method} call(s), got {len(found)}; calls: "
                    f"{[(c.method, c.params.get('channel')) for c in self.calls]}"
                )
            time.sleep(0.02)

    # -- answers -------------------------------------------------------------------------------
    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "team_id": TEAM_ID, "user": "bot"}
        if method == "chat.postMessage":
            ts = self.next_ts()
            return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": {"ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.next_ts()}
        if method == "chat.getPermalink":
            ts = str(params.get("message_ts", "")).replace(".", "")
            return {
                "ok": True,
                "permalink": f"https://example.slack.com/archives/{params.get('channel')}/p{ts}",
            }
        if method == "views.open":
            return {"ok": True, "view": {"id": "V0001"}}
        if method == "usergroups.users.list":
            return {"ok": True, "users": list(self.group_members)}
        if method == "apps.connections.open":
            return {"ok": True, "url": "wss://127.0.0.1:9/link"}
        return {"ok": False, "error": "unknown_method"}


def _params(handler: BaseHTTPRequestHandler) -> dict[str, Any]:
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length).decode("utf-8") if length else ""
    if (handler.headers.get("Content-Type") or "").startswith("application/json"):
        params = json.loads(raw or "{}")
    else:
        params = dict(parse_qsl(raw, keep_blank_values=True))
    for key in ("blocks", "view"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


def serve() -> tuple[MockSlack, ThreadingHTTPServer]:
    state = MockSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            method = self.path.rsplit("/", 1)[-1].split("?", 1)[0]
            params = _params(self)
            auth = self.headers.get("Authorization") or ""
            with state.lock:
                limited = state.rate_limited > 0 and method == state.rate_limited_method
                if limited:
                    state.rate_limited -= 1
                token = auth.removeprefix("Bearer ") or None
                state.calls.append(Call(method, params, token, 429 if limited else 200))
                call = state.calls[-1]
            if limited:
                self._send(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
                return
            call.response = state.answer(method, params)
            self._send(200, call.response)

        do_GET = do_POST  # noqa: N815

        def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    return state, server
