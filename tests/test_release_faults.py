"""Releases under faults: switching during traffic drops nothing; a killed deploy leaves a whole release.

The kill test runs the deploy in a child process whose file-system calls are wrapped so that it
SIGKILLs itself right after the N-th one, for every N the deploy makes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.config import Settings
from assistant.pipeline import Assistant
from assistant.releases import ReleaseRegistry
from assistant.store import Store
from tests.conftest import KB, write_kb
from tests.fakes import FakeEmbedder, FakeGenerator

ROOT = Path(__file__).resolve().parent.parent
SWITCHES = 20


def test_switching_releases_during_traffic_fails_no_request(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", release_poll_seconds=0.01, _env_file=None)
    store = Store(settings.resolved_database_url)
    store.upgrade()
    registry = ReleaseRegistry(settings.releases_dir)
    assistant = Assistant(
        settings, store, registry, embedder=FakeEmbedder(), generator_factory=lambda _: FakeGenerator()
    )
    kb = write_kb(tmp_path / "kb")
    first = assistant.ingest([kb]).release
    (kb / "refunds.md").write_text(KB["refunds.md"] + "\nRefunds for gift cards go to store credit.\n")
    second = assistant.ingest([kb]).release
    assert first and second and registry.get(second).parent == first

    failures: list[str] = []
    seen: list[str] = []
    stop = threading.Event()
    with TestClient(create_app(assistant)) as client:

        def traffic() -> None:
            while not stop.is_set():
                try:
                    response = client.post(
                        "/v1/chat/completions",
                        json={
                            "model": "support-assistant",
                            "messages": [{"role": "user", "content": "refund?"}],
                        },
                    )
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text[:200]}")
                    else:
                        seen.append(response.json()["release"])
                except Exception as error:  # a dropped request is a failure too
                    failures.append(repr(error))

        sender = threading.Thread(target=traffic)
        sender.start()
        try:
            for number in range(SWITCHES):
                with registry.locked():
                    if number % 2 == 0:
                        registry.rollback()
                    else:
                        registry.activate(second)
                time.sleep(0.1)
        finally:
            stop.set()
            sender.join(timeout=30)
    assert failures == []
    assert len(seen) >= SWITCHES
    assert set(seen) == {first, second}, "traffic never saw one of the releases"
    assert registry.current_id() == second  # rollback, activate, ... ten times each


# The child wraps every call that changes the file system and SIGKILLs itself after the N-th.
CHILD = textwrap.dedent(
    """
    import io, os, signal, sys
    from pathlib import Path
    from assistant.releases import ReleaseRegistry

    root, scenario, kill_after, parent = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    registry = ReleaseRegistry(Path(root))
    staging = None
    if scenario == "deploy":
        staging = registry.staging_dir()
        (staging / "index.bin").write_bytes(b"new index")
        (staging / "sub").mkdir()
        (staging / "sub" / "notes.txt").write_text("kept")
    steps = 0

    def step(function):
        def wrapped(*args, **kwargs):
            global steps
            result = function(*args, **kwargs)
            if function is io.open and not any(c in str(args[1] if len(args) > 1 else kwargs.get("mode", "r"))
                                               for c in "wax+"):
                return result  # reading changes nothing
            steps += 1
            if steps == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return wrapped

    for name in ("replace", "rename", "link", "fsync", "mkdir", "chmod", "unlink", "rmdir"):
        setattr(os, name, step(getattr(os, name)))
    io.open = step(io.open)

    with registry.locked():
        if scenario == "deploy":
            manifest = registry.create(staging, parent=parent, kind="ingest", embedder="e", generator="g",
                                       adapter=None, prompt_version="v1", index={})
            registry.activate(manifest.id)
        else:
            registry.rollback()
    print(steps)
    """
)


def run_child(root: Path, scenario: str, kill_after: int, parent: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(root), scenario, str(kill_after), parent],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )


def two_releases(root: Path) -> tuple[ReleaseRegistry, str, str]:
    """A registry with an old release and its active child."""
    registry = ReleaseRegistry(root)
    ids = []
    for content in (b"old index", b"current index"):
        staging = registry.staging_dir()
        (staging / "index.bin").write_bytes(content)
        (staging / "notes.txt").write_text("same in both")
        manifest = registry.create(
            staging,
            parent=ids[-1] if ids else None,
            kind="ingest",
            embedder="e",
            generator="g",
            adapter=None,
            prompt_version="v1",
            index={},
        )
        registry.activate(manifest.id)
        ids.append(manifest.id)
    return registry, ids[0], ids[1]


@pytest.mark.parametrize("scenario", ["deploy", "rollback"])
def test_a_deploy_killed_at_each_step_leaves_a_whole_release_active(tmp_path: Path, scenario: str) -> None:
    template = tmp_path / "template"
    _, _, current = two_releases(template)
    complete = run_child(template, scenario, 0, current)  # never killed: counts the steps
    assert complete.returncode == 0, complete.stderr
    total = int(complete.stdout.split()[-1])
    assert total >= 3
    for kill_after in range(1, total + 1):
        root = tmp_path / f"{scenario}-{kill_after}"
        registry, old, current = two_releases(root)
        before = set(os.listdir(root))
        killed = run_child(root, scenario, kill_after, current)
        assert killed.returncode == -9, f"step {kill_after}: {killed.stderr}"
        active = registry.current()
        assert active is not None, f"step {kill_after}: no release active"
        assert registry.verify(active.id) == [], f"step {kill_after}: {active.id} is not whole"
        expected = {current, old} if scenario == "rollback" else None
        if expected is not None:
            assert active.id in expected
        elif active.id != current:
            assert active.parent == current and active.id not in before
        # the registry stays usable: every listed release loads and verifies, and a deploy succeeds
        assert all(registry.verify(m.id) == [] for m in registry.list()), f"step {kill_after}"
        assert json.loads((registry.path(active.id) / "manifest.json").read_text())["id"] == active.id
        with registry.locked():
            registry.activate(old)
        assert registry.current_id() == old
