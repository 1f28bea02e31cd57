"""Group commit (``Store.write`` on a SQLite file): shared transactions, failures kept apart, forks."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant import store
from assistant.store.group_commit import GroupCommitter
from assistant.store.models import FeedbackRow, utcnow


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[store.Store]:
    instance = store.Store(f"sqlite:///{tmp_path / 'log.db'}")
    instance.upgrade()
    yield instance
    instance.close()


def _vote(interaction_id: str, key: str) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        row = FeedbackRow(
            idempotency_key=key, interaction_id=interaction_id, rating="up", created_at=utcnow()
        )
        session.add(row)
        session.flush()
        return row.id

    return work


def _keys(db: store.Store) -> list[str]:
    with db.session() as session:
        return sorted(session.scalars(select(FeedbackRow.idempotency_key)))


def _write_all_while_first_waits(
    committer: GroupCommitter, first: Callable[[Session], object], rest: list[Callable[[Session], object]]
) -> list[object]:
    """Run ``first`` and, once it is writing, queue ``rest`` behind it; every result or error."""
    started, release = threading.Event(), threading.Event()
    results: list[object] = [None] * (len(rest) + 1)

    def held(session: Session) -> object:
        started.set()
        assert release.wait(30)
        return first(session)

    def call(index: int, work: Callable[[Session], object]) -> None:
        try:
            results[index] = committer.run(work)
        except Exception as error:  # noqa: BLE001 - the test inspects it
            results[index] = error

    threads = [threading.Thread(target=call, args=(0, held))]
    threads[0].start()
    assert started.wait(30)
    threads += [threading.Thread(target=call, args=(i + 1, work)) for i, work in enumerate(rest)]
    for thread in threads[1:]:
        thread.start()
    while len(committer._waiting) < len(rest):  # all queued behind the held write
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(30)
    return results


def test_writes_waiting_together_share_one_commit(sqlite_store, add_interaction):
    with sqlite_store.session() as session:
        interaction = add_interaction(session)
    commits = []
    event.listen(sqlite_store.engine, "commit", lambda _connection: commits.append(1))
    committer = GroupCommitter(sqlite_store.session)

    results = _write_all_while_first_waits(
        committer, _vote(interaction, "k0"), [_vote(interaction, f"k{i}") for i in range(1, 9)]
    )

    assert len(commits) == 2  # the held write alone, then the eight that queued behind it
    assert all(isinstance(result, int) for result in results)
    assert len(set(results)) == 9
    assert _keys(sqlite_store) == [f"k{i}" for i in range(9)]


def test_a_failing_write_fails_alone_and_its_changes_roll_back(sqlite_store, add_interaction):
    with sqlite_store.session() as session:
        interaction = add_interaction(session)

    def half_then_fail(session: Session) -> None:
        _vote(interaction, "bad")(session)
        raise ValueError("invalid vote")

    results = _write_all_while_first_waits(
        GroupCommitter(sqlite_store.session),
        _vote(interaction, "k0"),
        [_vote(interaction, "k1"), half_then_fail, _vote(interaction, "k2")],
    )

    assert isinstance(results[2], ValueError)
    assert _keys(sqlite_store) == ["k0", "k1", "k2"]


def test_a_failed_commit_fails_every_write_of_its_transaction(sqlite_store, add_interaction):
    with sqlite_store.session() as session:
        interaction = add_interaction(session)

    def dangling(session: Session) -> int:
        # Checked at COMMIT only: the whole transaction fails there, after every write ran.
        session.execute(text("PRAGMA defer_foreign_keys=ON"))
        return _vote("no-such-interaction", "dangling")(session)

    results = _write_all_while_first_waits(
        GroupCommitter(sqlite_store.session),
        _vote(interaction, "k0"),
        [_vote(interaction, "k1"), dangling, _vote(interaction, "k2")],
    )

    assert isinstance(results[0], int)  # committed before the others queued
    assert all(isinstance(result, IntegrityError) for result in results[1:])
    assert _keys(sqlite_store) == ["k0"]
    assert sqlite_store.write(_vote(interaction, "k3"))  # the store goes on writing


def test_the_writer_thread_exits_when_idle_and_restarts_for_new_work(sqlite_store, add_interaction):
    with sqlite_store.session() as session:
        interaction = add_interaction(session)
    committer = GroupCommitter(sqlite_store.session, linger_s=0.01)

    def writers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "store-writer" and t.is_alive()]

    committer.run(_vote(interaction, "k0"))
    for thread in writers():
        thread.join(30)
    assert not committer._writing
    committer.run(_vote(interaction, "k1"))
    assert _keys(sqlite_store) == ["k0", "k1"]


def _count_after_write(db: store.Store, interaction: str, done: multiprocessing.Queue) -> None:
    db.engine.dispose(close=False)  # the parent's pooled connection stays the parent's
    db.write(_vote(interaction, "child"))
    with db.session() as session:
        done.put(session.scalar(select(func.count()).select_from(FeedbackRow)))


def test_a_forked_child_writes_on_its_own_thread(sqlite_store, add_interaction):
    with sqlite_store.session() as session:
        interaction = add_interaction(session)
    sqlite_store._committer.linger_s = 60  # the parent's writer thread is alive at the fork
    sqlite_store.write(_vote(interaction, "parent"))
    context = multiprocessing.get_context("fork")
    done = context.Queue()
    child = context.Process(target=_count_after_write, args=(sqlite_store, interaction, done))
    child.start()
    child.join(60)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive, "the child's write never completed"
    assert done.get(timeout=5) == 2
    sqlite_store._committer.linger_s = 0.01
    sqlite_store.write(_vote(interaction, "parent again"))  # and the parent's writer goes on


def test_write_async_commits_and_fails_as_write_does(db: store.Store, interaction_id: str) -> None:
    async def twice() -> int:
        stored = await db.write_async(_vote(interaction_id, "async-1"))
        with pytest.raises(IntegrityError):
            await db.write_async(_vote(interaction_id, "async-1"))
        return stored

    assert isinstance(asyncio.run(twice()), int)
    assert _keys(db) == ["async-1"]
