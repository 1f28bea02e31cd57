"""Group commit: small writes from many threads, committed together by one writer thread.

Use it through :meth:`assistant.store.Store.write` for frequent one-row writes that callers
must see committed before they answer (a 👍 is acknowledged only once it is stored).

Why (SQLite): every write transaction of a process queues for its one connection, and each
commit fsyncs the WAL. Under a burst of votes each waiting thread takes the connection in
turn, and one slow commit (an fsync, or the commit's thread waiting for the GIL) holds up
every vote behind it: that queue was the whole tail of ``POST /v1/feedback`` under load. Here
the writes waiting at that moment run one after another on one thread, each in its own
savepoint (a failing write fails alone), and are committed as one transaction.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")

MAX_BATCH = 64  # writes per transaction: bounds how long one commit holds the write lock
LINGER_S = 1.0  # an idle writer thread waits this long for more work, then exits


@dataclass
class _Write(Generic[T]):
    work: Callable[[Session], T]
    result: Future[T] = field(default_factory=Future)


class GroupCommitter:
    """Runs units of write work on one thread, in shared transactions; see the module docstring.

    The thread starts with the first write and exits after ``linger_s`` without work, so an
    idle store holds no thread.
    """

    def __init__(
        self,
        sessions: Callable[[], AbstractContextManager[Session]],
        *,
        max_batch: int = MAX_BATCH,
        linger_s: float = LINGER_S,
    ) -> None:
        """``sessions``: a factory of sessions that commit when their block succeeds (``Store.session``)."""
        self._sessions = sessions
        self.max_batch = max_batch
        self.linger_s = linger_s
        self._reset()
        _COMMITTERS.add(self)

    def _reset(self) -> None:
        self._changed = threading.Condition()
        self._waiting: list[_Write[Any]] = []
        self._writing = False

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in a savepoint of the next transaction; its result once committed.

        What ``work`` raises is raised here, and only its own savepoint is rolled back; when
        the commit fails, every write of the transaction raises that error (none is stored).
        """
        return self.submit(work).result()

    def submit(self, work: Callable[[Session], T]) -> Future[T]:
        """:meth:`run` without waiting: the future resolves once ``work`` is committed (or failed)."""
        write = _Write(work)
        with self._changed:
            self._waiting.append(write)
            if self._writing:
                self._changed.notify()
            else:
                self._writing = True
                threading.Thread(target=self._write_batches, name="store-writer", daemon=True).start()
        return write.result

    def _write_batches(self) -> None:
        while True:
            with self._changed:
                if not self._waiting:
                    self._changed.wait(self.linger_s)
                if not self._waiting:
                    self._writing = False
                    return
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
            self._commit(batch)

    def _commit(self, batch: list[_Write[Any]]) -> None:
        results: list[tuple[_Write[Any], Any]] = []
        try:
            with self._sessions() as session:
                for write in batch:
                    try:
                        with session.begin_nested():
                            results.append((write, write.work(session)))
                    except Exception as error:  # noqa: BLE001 - it belongs to this write's caller alone
                        write.result.set_exception(error)
        except BaseException as error:  # noqa: BLE001 - nothing of the batch was committed: tell every caller
            for write in batch:
                if not write.result.done():
                    write.result.set_exception(error)
            return
        for write, result in results:
            write.result.set_result(result)


_COMMITTERS: weakref.WeakSet[GroupCommitter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The parent's writer thread does not exist in a forked child, and its lock may have
    # been held at the fork: start afresh (a child writes on its own thread when it needs to).
    for committer in list(_COMMITTERS):
        committer._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
