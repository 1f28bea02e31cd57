"""An API app over a real store (SQLite and PostgreSQL), a real index, and the fake generator."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.config import Settings


@pytest.fixture
def api_settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=db_url, _env_file=None)


@pytest.fixture
def assistant(api_settings: Settings, kb_dir: Path, make_assistant):
    built = make_assistant(api_settings)
    built.ingest([kb_dir])
    built.refresh()  # load the generator too, as a server's release watcher does
    return built


@pytest.fixture
def client(assistant) -> Iterator[TestClient]:
    with TestClient(create_app(assistant, watch_releases=False)) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_url(assistant) -> Iterator[str]:
    """The app served by a real uvicorn on a free loopback port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(assistant), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
