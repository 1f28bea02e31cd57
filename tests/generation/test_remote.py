"""RemoteGenerator against a real local OpenAI-compatible HTTP server that streams SSE."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.generation.base import GenerationError, GenerationUnavailable
from assistant.generation.remote import RemoteGenerator
from assistant.types import Usage

API_KEY = "sk-test-secret-123"


def sse(payload: dict | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def delta(content: str | None, role: str | None = None) -> dict:
    piece = {k: v for k, v in (("role", role), ("content", content)) if v is not None}
    return {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": piece}]}


class FakeOpenAI(BaseHTTPRequestHandler):
    """Behaves according to the requested model name, and records every request."""

    protocol_version = "HTTP/1.0"  # the stream ends when the connection closes
    requests: list[tuple[dict, dict]] = []

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append((dict(self.headers), body))
        if self.path != "/v1/chat/completions":
            self._plain(404, "not found")
            return
        model = body["model"]
        if model == "boom":
            self._plain(500, f"internal error while using key {self.headers.get('Authorization')}")
            return
        if model == "slow-start":
            time.sleep(1.5)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        events: list[bytes] = {
            "malformed": [sse(delta("ok")), sse("{not json")],
            "no-choices": [sse({"id": "c1"})],
            "error-event": [sse({"error": {"message": "adapter not loaded", "code": 404}})],
            "no-done": [sse(delta("cut"))],
            "trickle": [sse(delta("x"))] * 20,
            "odd-usage": [
                sse(delta("ok")),
                sse({"choices": [], "usage": {"prompt_tokens": "9"}}),
                sse("[DONE]"),
            ],
        }.get(model, [])
        if not events:
            pieces = ["Click", " 'Cancel", " Order'", " [1].", "é"]
            events = [b": keep-alive\n\n", sse(delta(None, role="assistant"))]
            events += [sse(delta(p)) for p in pieces]
            events += [sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})]
            if body.get("stream_options", {}).get("include_usage") and model != "no-usage":
                events += [sse({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 5}})]
            events += [sse("[DONE]")]
        for event in events:
            self.wfile.write(event)
            self.wfile.flush()
            if model == "trickle":
                time.sleep(0.1)

    def _plain(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


MESSAGES = [{"role": "user", "content": "How do I cancel?"}]


def test_streams_deltas_in_order(base_url: str) -> None:
    generator = RemoteGenerator(base_url + "/", "my-adapter", api_key=API_KEY)
    usage = Usage()
    pieces = list(generator.stream(MESSAGES, max_new_tokens=42, usage=usage))
    assert pieces == ["Click", " 'Cancel", " Order'", " [1].", "é"]
    assert usage.to_dict() == {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}
    assert generator.generate(MESSAGES, max_new_tokens=42) == "Click 'Cancel Order' [1].é"
    headers, body = FakeOpenAI.requests[-1]
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert body == {
        "model": "my-adapter",  # vLLM serves a LoRA adapter under its own model name
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},  # the token counts come in a last chunk
        "max_tokens": 42,
        "temperature": 0.0,
    }
    assert generator.model_id == "my-adapter"
    generator.close()


@pytest.mark.parametrize("model", ["no-usage", "odd-usage"])
def test_a_server_that_reports_no_usable_counts_leaves_them_unknown(base_url: str, model: str) -> None:
    usage = Usage()
    assert RemoteGenerator(base_url, model).generate(MESSAGES, max_new_tokens=8) != ""
    list(RemoteGenerator(base_url, model).stream(MESSAGES, max_new_tokens=8, usage=usage))
    assert usage.to_dict() is None


def test_usage_can_be_left_unasked_for_servers_that_refuse_stream_options(base_url: str) -> None:
    usage = Usage()
    generator = RemoteGenerator(base_url, "my-adapter", ask_usage=False)
    assert "".join(generator.stream(MESSAGES, max_new_tokens=8, usage=usage)) == "Click 'Cancel Order' [1].é"
    assert "stream_options" not in FakeOpenAI.requests[-1][1] and usage.to_dict() is None


def test_no_api_key_sends_no_authorization(base_url: str) -> None:
    list(RemoteGenerator(base_url, "m").stream(MESSAGES, max_new_tokens=4))
    assert "Authorization" not in FakeOpenAI.requests[-1][0]


def test_http_error_has_status_and_hides_the_key(base_url: str) -> None:
    with pytest.raises(GenerationError, match="HTTP 500") as error:
        list(RemoteGenerator(base_url, "boom", api_key=API_KEY).stream(MESSAGES, max_new_tokens=4))
    assert API_KEY not in str(error.value)
    assert "internal error" in str(error.value)


def test_wrong_path_is_a_404(base_url: str) -> None:
    with pytest.raises(GenerationError, match="HTTP 404"):
        list(RemoteGenerator(base_url + "/nowhere", "m").stream(MESSAGES, max_new_tokens=4))


def test_read_timeout(base_url: str) -> None:
    with pytest.raises(GenerationUnavailable, match="timed out"):
        list(RemoteGenerator(base_url, "slow-start", timeout_s=0.3).stream(MESSAGES, max_new_tokens=4))


def test_whole_generation_deadline(base_url: str) -> None:
    generator = RemoteGenerator(base_url, "trickle", timeout_s=0.5)  # each read is quick, the whole is not
    with pytest.raises(GenerationUnavailable, match="longer than 0.5 s"):
        list(generator.stream(MESSAGES, max_new_tokens=4))


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("malformed", "malformed event"),
        ("no-choices", "malformed event"),
        ("error-event", "adapter not loaded"),
        ("no-done", "without \\[DONE\\]"),
    ],
)
def test_bad_streams(base_url: str, model: str, message: str) -> None:
    with pytest.raises(GenerationError, match=message) as error:
        list(RemoteGenerator(base_url, model).stream(MESSAGES, max_new_tokens=4))
    assert not isinstance(error.value, GenerationUnavailable)  # the server answered: 502, not 503


def test_unreachable_server() -> None:
    with pytest.raises(GenerationUnavailable, match="unreachable"):
        list(RemoteGenerator("http://127.0.0.1:9/v1", "m", timeout_s=2).stream(MESSAGES, max_new_tokens=4))
